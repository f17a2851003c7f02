//! The provider's metadata: endpoints from an Auth0 domain's fixed paths or the issuer's
//! discovery document (OpenID Connect Discovery 1.0) with the profile's overrides on top, and
//! its signing keys (JWKS) — both cached per profile beside the tokens for a day, so `token`
//! can refresh without a discovery round trip.

use crate::base::clock::unix_now;
use crate::base::error::{Error, Result};
use crate::base::files::{
    NotPrivate, is_symlink_refusal, private_problem, read_private_file, symlink_error,
};
use crate::base::text::{quoted, shown, shown_whole};
use crate::config::{Profile, ProviderKind, parse_endpoint};
use crate::net::http::Http;
use crate::net::url::Url;
use crate::oauth::jwt::Jwks;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};

/// Cached metadata older than this is fetched again.
const CACHE_MAX_AGE_SECS: u64 = 24 * 3600;

/// Where to send each request for one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorize: Url,
    pub token: Url,
    pub revocation: Option<Url>,
    pub device_authorization: Option<Url>,
    /// The provider's signing keys (JWKS).
    pub jwks: Option<Url>,
    /// RFC 9207: the provider puts `iss` in every authorization response.
    pub iss_parameter_supported: bool,
    /// Whether these came from the cache (and so may be stale if a call fails).
    pub from_cache: bool,
}

/// The part of the discovery document latchkey uses.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DiscoveryDocument {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// What is cached per profile (`tokens/PROFILE.provider.json`).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
struct MetadataCache {
    issuer: String,
    discovery: Option<DiscoveryDocument>,
    #[serde(default)]
    discovery_fetched_at: u64,
    jwks: Option<Jwks>,
    #[serde(default)]
    jwks_fetched_at: u64,
}

/// One profile's provider metadata, fetched when needed and cached when possible.
pub struct Provider<'a> {
    profile: &'a Profile,
    http: &'a Http,
    cache_path: Option<PathBuf>,
    cache: RefCell<MetadataCache>,
    /// Why the cache file was refused (not ours, open to others, a symlink): every use of the
    /// provider then fails with exit 7 naming it, as for the token file beside it.
    refused: Option<CacheRefusal>,
    /// Whether fetched metadata waits in memory for [`Provider::write_cache`].
    deferred: bool,
    /// Fetched metadata not yet written, when deferred.
    unwritten: Cell<bool>,
}

/// A cache file that latchkey will not trust.
#[derive(Debug, Clone, Copy)]
enum CacheRefusal {
    NotPrivate(NotPrivate, bool),
    Symlink,
}

impl<'a> Provider<'a> {
    /// `cache_path` is where the metadata is kept; `None` fetches every time.
    pub fn new(profile: &'a Profile, http: &'a Http, cache_path: Option<PathBuf>) -> Provider<'a> {
        let issuer = profile.issuer.to_string();
        let (bytes, refused) = match &cache_path {
            Some(path) => read_cache(path),
            None => (None, None),
        };
        // A cache that cannot be read, or was written for another issuer, is simply not used;
        // one that someone else could have written is refused.
        let cache = bytes
            .and_then(|bytes| serde_json::from_slice::<MetadataCache>(&bytes).ok())
            .filter(|c| c.issuer == issuer)
            .unwrap_or(MetadataCache {
                issuer,
                ..MetadataCache::default()
            });
        Provider {
            profile,
            http,
            cache_path,
            cache: RefCell::new(cache),
            refused,
            deferred: false,
            unwritten: Cell::new(false),
        }
    }

    /// Keeps what is fetched in memory until [`Provider::write_cache`]: a login writes the
    /// cache only once it has succeeded, so an interrupted one leaves no file behind.
    pub fn deferring_writes(mut self) -> Provider<'a> {
        self.deferred = true;
        self
    }

    /// Writes the metadata fetched while writes were deferred; nothing when none was.
    pub fn write_cache(&self) {
        if self.unwritten.replace(false) {
            self.write();
        }
    }

    /// The refusal of an untrustworthy cache file, as an error to return. A refresh checks it
    /// before it sends anything: failing after a rotating refresh token was used would lose it.
    pub fn check_cache(&self) -> Result<()> {
        match (self.refused, &self.cache_path) {
            (Some(CacheRefusal::NotPrivate(problem, is_dir)), Some(path)) => {
                let at = if is_dir {
                    path.parent().unwrap_or(path)
                } else {
                    path
                };
                Err(problem.error(at, is_dir))
            }
            (Some(CacheRefusal::Symlink), Some(path)) => Err(symlink_error(path)),
            _ => Ok(()),
        }
    }

    /// The endpoints, from the domain, the overrides, the cache or discovery.
    pub fn endpoints(&self) -> Result<Endpoints> {
        self.endpoints_with(false)
    }

    /// The endpoints with discovery fetched anew (after an endpoint failed as if it moved).
    pub fn endpoints_fresh(&self) -> Result<Endpoints> {
        self.endpoints_with(true)
    }

    fn endpoints_with(&self, refetch: bool) -> Result<Endpoints> {
        self.check_cache()?;
        let profile = self.profile;
        let overrides = &profile.endpoints;
        let base = match &profile.kind {
            ProviderKind::Auth0 { .. } => auth0_endpoints(profile),
            ProviderKind::Discovery => {
                let cached = self.cache.borrow().discovery.clone().filter(|_| {
                    !refetch
                        && unix_now().saturating_sub(self.cache.borrow().discovery_fetched_at)
                            < CACHE_MAX_AGE_SECS
                });
                let (document, from_cache) = match cached {
                    Some(document) => {
                        crate::debug!("discovery: the cached document of `{}`", profile.name);
                        (document, true)
                    }
                    None => {
                        let document = fetch_discovery(profile, self.http)?;
                        {
                            let mut cache = self.cache.borrow_mut();
                            cache.discovery = Some(document.clone());
                            cache.discovery_fetched_at = unix_now();
                        }
                        self.save();
                        (document, false)
                    }
                };
                let mut endpoints = endpoints_from(&document)?;
                endpoints.from_cache = from_cache;
                endpoints
            }
        };
        Ok(Endpoints {
            authorize: overrides.authorize.clone().unwrap_or(base.authorize),
            token: overrides.token.clone().unwrap_or(base.token),
            revocation: overrides.revocation.clone().or(base.revocation),
            device_authorization: overrides
                .device_authorization
                .clone()
                .or(base.device_authorization),
            ..base
        })
    }

    /// The provider's signing keys; `force` fetches them anew (a token named an unknown key).
    pub fn jwks(&self, force: bool) -> Result<Jwks> {
        self.check_cache()?;
        if !force {
            let cache = self.cache.borrow();
            if let Some(jwks) = &cache.jwks
                && unix_now().saturating_sub(cache.jwks_fetched_at) < CACHE_MAX_AGE_SECS
            {
                return Ok(jwks.clone());
            }
        }
        let url = self.endpoints()?.jwks.ok_or_else(|| {
            Error::provider("the provider publishes no signing keys (no jwks_uri), so its ID tokens cannot be checked")
        })?;
        let response = self.http.get(&url, "signing keys")?;
        if !response.is_success() {
            return Err(Error::network(format!(
                "signing keys: {} answered HTTP {}: {}",
                shown_whole(&url.to_string()),
                response.status,
                response.excerpt()
            )));
        }
        let jwks: Jwks = serde_json::from_str(&response.body).map_err(|e| {
            Error::network(format!(
                "signing keys: {} did not return a JSON Web Key Set: {}",
                shown_whole(&url.to_string()),
                shown(&e.to_string())
            ))
        })?;
        {
            let mut cache = self.cache.borrow_mut();
            cache.jwks = Some(jwks.clone());
            cache.jwks_fetched_at = unix_now();
        }
        self.save();
        Ok(jwks)
    }

    /// Writes the cache, or notes that it is to be written when writes are deferred.
    fn save(&self) {
        if self.deferred {
            self.unwritten.set(true);
        } else {
            self.write();
        }
    }

    /// Writes the cache; a cache that cannot be written costs a fetch next time, nothing more.
    fn write(&self) {
        let Some(path) = &self.cache_path else { return };
        let Ok(bytes) = serde_json::to_vec(&*self.cache.borrow()) else {
            return;
        };
        if let Some(dir) = path.parent()
            && crate::base::files::make_private_dir(dir).is_ok()
        {
            let _ = crate::base::files::write_atomic(path, &bytes);
        }
    }
}

/// The cache file's bytes, read with the checks of a secret file (ours, private, no symlink, in
/// a private directory); a missing or unreadable file is no cache, a refused one says why.
fn read_cache(path: &Path) -> (Option<Vec<u8>>, Option<CacheRefusal>) {
    if let Some(dir) = path.parent()
        && let Ok(meta) = std::fs::metadata(dir)
        && let Some(problem) = private_problem(&meta)
    {
        return (None, Some(CacheRefusal::NotPrivate(problem, true)));
    }
    match read_private_file(path) {
        Ok(bytes) => (Some(bytes), None),
        Err(e) if is_symlink_refusal(&e) => (None, Some(CacheRefusal::Symlink)),
        Err(e) => {
            let problem = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<NotPrivate>())
                .copied();
            (None, problem.map(|p| CacheRefusal::NotPrivate(p, false)))
        }
    }
}

fn auth0_endpoints(profile: &Profile) -> Endpoints {
    let at = |path: &str| profile.issuer.with_path(path);
    Endpoints {
        authorize: at("/authorize"),
        token: at("/oauth/token"),
        revocation: Some(at("/oauth/revoke")),
        device_authorization: Some(at("/oauth/device/code")),
        jwks: Some(at("/.well-known/jwks.json")),
        iss_parameter_supported: false,
        from_cache: false,
    }
}

/// `ISSUER/.well-known/openid-configuration` (a trailing `/` of the issuer is not doubled).
pub fn discovery_url(issuer: &Url) -> Url {
    let path = format!(
        "{}/.well-known/openid-configuration",
        issuer.path().trim_end_matches('/')
    );
    issuer.with_path(&path)
}

fn fetch_discovery(profile: &Profile, http: &Http) -> Result<DiscoveryDocument> {
    let url = discovery_url(&profile.issuer);
    let response = http.get(&url, "discovery")?;
    let hint = format!("check `issuer` in profile `{}`", profile.name);
    if !response.is_success() {
        return Err(Error::network(format!(
            "discovery: {} answered HTTP {}: {}",
            shown_whole(&url.to_string()),
            response.status,
            response.excerpt()
        ))
        .hint(hint));
    }
    parse_discovery(&response.body, &profile.issuer.to_string()).map_err(|e| e.hint(hint))
}

/// Checks a discovery document against the configured issuer.
pub fn parse_discovery(body: &str, issuer: &str) -> Result<DiscoveryDocument> {
    let doc: DiscoveryDocument = serde_json::from_str(body).map_err(|e| {
        Error::network(format!(
            "discovery: the document for {} is not valid: {}",
            shown_whole(issuer),
            shown(&e.to_string())
        ))
    })?;
    // OpenID Connect Discovery §4.3: the issuer must be identical, or the document is not
    // this provider's and its endpoints must not be trusted.
    if doc.issuer != issuer {
        return Err(Error::config(format!(
            "discovery: the provider calls itself {}, but the profile's issuer is {}; they must match exactly",
            quoted(&doc.issuer),
            quoted(issuer)
        )));
    }
    endpoints_from(&doc)?;
    Ok(doc)
}

/// The endpoints a (checked) discovery document names, each an https (or loopback) URL.
fn endpoints_from(doc: &DiscoveryDocument) -> Result<Endpoints> {
    let endpoint = |name: &str, value: &str| {
        parse_endpoint(value).map_err(|m| Error::network(format!("discovery: `{name}`: {m}")))
    };
    let optional = |name: &str, value: &Option<String>| {
        value.as_deref().map(|v| endpoint(name, v)).transpose()
    };
    Ok(Endpoints {
        authorize: endpoint("authorization_endpoint", &doc.authorization_endpoint)?,
        token: endpoint("token_endpoint", &doc.token_endpoint)?,
        revocation: optional("revocation_endpoint", &doc.revocation_endpoint)?,
        device_authorization: optional(
            "device_authorization_endpoint",
            &doc.device_authorization_endpoint,
        )?,
        jwks: optional("jwks_uri", &doc.jwks_uri)?,
        iss_parameter_supported: doc.authorization_response_iss_parameter_supported,
        from_cache: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_does_not_double_the_slash() {
        let with = Url::parse("https://tenant.auth0.com/").unwrap();
        let without = Url::parse("http://127.0.0.1:3000").unwrap();
        let path = Url::parse("https://idp.example/realms/x").unwrap();
        assert_eq!(
            discovery_url(&with).to_string(),
            "https://tenant.auth0.com/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url(&without).to_string(),
            "http://127.0.0.1:3000/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url(&path).to_string(),
            "https://idp.example/realms/x/.well-known/openid-configuration"
        );
    }

    const DOC: &str = r#"{"issuer":"https://idp.example","authorization_endpoint":"https://idp.example/auth",
        "token_endpoint":"https://idp.example/token","revocation_endpoint":"https://idp.example/revoke",
        "authorization_response_iss_parameter_supported":true}"#;

    #[test]
    fn reads_the_endpoints() {
        let e = endpoints_from(&parse_discovery(DOC, "https://idp.example").unwrap()).unwrap();
        assert_eq!(e.token.to_string(), "https://idp.example/token");
        assert_eq!(
            e.revocation.unwrap().to_string(),
            "https://idp.example/revoke"
        );
        assert!(e.device_authorization.is_none());
        assert!(e.iss_parameter_supported);
    }

    #[test]
    fn issuer_must_match_exactly() {
        let err = parse_discovery(DOC, "https://idp.example/").unwrap_err();
        assert_eq!(err.exit_code(), crate::base::error::ExitCode::Config);
        assert!(
            err.message().contains("must match exactly"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn refuses_bad_documents() {
        assert!(parse_discovery("<html>", "x").is_err());
        let http = DOC.replace("https://idp.example/token", "http://idp.example/token");
        assert!(
            parse_discovery(&http, "https://idp.example")
                .unwrap_err()
                .message()
                .contains("plain http")
        );
    }
}
