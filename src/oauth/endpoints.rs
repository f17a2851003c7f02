//! The provider's metadata: endpoints from an Auth0 domain's fixed paths or the issuer's
//! discovery document (OpenID Connect Discovery 1.0), completed from its authorization server
//! metadata (RFC 8414) when discovery lacks something latchkey uses, with the profile's
//! overrides on top, and its signing keys (JWKS) — both cached per profile beside the tokens for
//! a day, so `token` can refresh without a discovery round trip.

use crate::base::clock::unix_now;
use crate::base::error::{Error, Result};
use crate::base::files::{
    NotPrivate, is_symlink_refusal, private_problem, read_private_file, symlink_error,
};
use crate::base::text::{quoted, shown, shown_whole};
use crate::config::{EndpointOverrides, Profile, ProviderKind, parse_endpoint};
use crate::net::http::Http;
use crate::net::url::Url;
use crate::oauth::client_auth::AuthMethod;
use crate::oauth::jwt::Jwks;
use serde::{Deserialize, Deserializer, Serialize};
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
    /// OpenID Connect UserInfo: asked once at login for a name to show, when the ID token has
    /// none.
    pub userinfo: Option<Url>,
    /// Where the provider's browser session is ended: OpenID Connect RP-Initiated Logout's
    /// `end_session_endpoint`, or Auth0's `/v2/logout`.
    pub end_session: Option<Url>,
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
    pub userinfo_endpoint: Option<String>,
    /// OpenID Connect RP-Initiated Logout: where `logout --browser` ends the browser session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// How the token endpoint authenticates clients: how a `client_secret` is sent.
    #[serde(
        default,
        deserialize_with = "string_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// The same for the revocation endpoint (RFC 8414 §2); the token endpoint's when absent.
    #[serde(
        default,
        deserialize_with = "string_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub revocation_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// RFC 8414 §2's PKCE methods: `S256` here is what makes a device login send PKCE.
    #[serde(
        default,
        deserialize_with = "string_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

/// How a `client_secret` is sent to each endpoint, from the provider's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthMethods {
    /// The token endpoint's, also used for device authorization requests (RFC 8628 §3.1).
    pub token: AuthMethod,
    pub revocation: AuthMethod,
}

/// A list of method names, read leniently: it only picks how a secret is sent, so anything
/// but a list (or entries that are not strings) counts as not stated, and never costs the
/// document.
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Array(items) => Some(
            items
                .into_iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    })
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
    /// Why the provider's RFC 8414 document was not used, when it was unusable: said when an
    /// endpoint that only it could have named is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rfc8414_problem: Option<String>,
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
        self.endpoints_with(false, &self.profile.endpoints)
    }

    /// The endpoints with discovery fetched anew (after an endpoint failed as if it moved).
    pub fn endpoints_fresh(&self) -> Result<Endpoints> {
        self.endpoints_with(true, &self.profile.endpoints)
    }

    /// The issuer's own endpoints, from the domain, the cache or discovery, without the
    /// profile's endpoint overrides: for tokens stored before their endpoints were recorded,
    /// whose issuer is all that binds them (an override set since must not receive them).
    pub fn issuers_endpoints(&self) -> Result<Endpoints> {
        self.endpoints_with(false, &EndpointOverrides::default())
    }

    /// [`Provider::issuers_endpoints`] with discovery fetched anew.
    pub fn issuers_endpoints_fresh(&self) -> Result<Endpoints> {
        self.endpoints_with(true, &EndpointOverrides::default())
    }

    fn endpoints_with(&self, refetch: bool, overrides: &EndpointOverrides) -> Result<Endpoints> {
        self.check_cache()?;
        let profile = self.profile;
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
                        let (document, problem) =
                            complete_from_rfc8414(profile, self.http, document);
                        {
                            let mut cache = self.cache.borrow_mut();
                            cache.discovery = Some(document.clone());
                            cache.discovery_fetched_at = unix_now();
                            cache.rfc8414_problem = problem;
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

    /// How a `client_secret` is sent, from the metadata at hand (fetched or cached, of any
    /// age): nothing is fetched for it, so a refresh costs no discovery round trip. Without
    /// metadata (Auth0's fixed paths, no cache), HTTP Basic, RFC 8414's default.
    pub fn auth_methods(&self) -> AuthMethods {
        let cache = self.cache.borrow();
        let Some(document) = &cache.discovery else {
            return AuthMethods::default();
        };
        let token =
            AuthMethod::from_supported(document.token_endpoint_auth_methods_supported.as_deref());
        let revocation = match &document.revocation_endpoint_auth_methods_supported {
            Some(listed) => AuthMethod::from_supported(Some(listed)),
            None => token,
        };
        AuthMethods { token, revocation }
    }

    /// Whether the provider's metadata (fetched or cached) lists PKCE's `S256` method. The device
    /// grant sends PKCE only then (RFC 8628 does not ask for it, but a provider such as Keycloak
    /// may require it of a client that must use PKCE); without metadata (Auth0's fixed paths),
    /// no.
    pub fn lists_s256(&self) -> bool {
        self.cache.borrow().discovery.as_ref().is_some_and(|d| {
            d.code_challenge_methods_supported
                .as_deref()
                .is_some_and(|methods| methods.iter().any(|m| m == "S256"))
        })
    }

    /// Why the provider's RFC 8414 metadata could not be used, if it could not: for the
    /// message about an endpoint that is missing (`revocation_endpoint`, say).
    pub fn rfc8414_problem(&self) -> Option<String> {
        self.cache.borrow().rfc8414_problem.clone()
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

/// The error (exit 3, configuration) for an endpoint that the provider's metadata does not name
/// and the profile does not set: it names `key`, the profile key that supplies it, and why the
/// provider's RFC 8414 metadata, which might have named it, was not used, if it was not.
pub fn missing_endpoint(
    profile: &Profile,
    what: &str,
    key: &str,
    rfc8414_problem: Option<&str>,
) -> Error {
    let name = &profile.name;
    let mut message = format!(
        "the provider of profile `{name}` names no {what} endpoint in its metadata, and the profile sets no `{key}`"
    );
    if let Some(problem) = rfc8414_problem {
        message.push_str(&format!(
            " (its RFC 8414 metadata could not be used: {problem})"
        ));
    }
    Error::config(message).hint(format!(
        "set `{key}` in profile `{name}` if the provider has one (its documentation names it)"
    ))
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
        userinfo: Some(at("/userinfo")),
        end_session: Some(at("/v2/logout")),
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

/// Where RFC 8414 authorization server metadata may be, in the order tried: §3.1's form, the
/// well-known suffix between the host and the issuer's path
/// (`https://h/.well-known/oauth-authorization-server/path`), then the suffix appended to the
/// path, as OpenID discovery does it and some providers serve it. One URL for an issuer
/// without a path, where both forms are the same.
pub fn rfc8414_urls(issuer: &Url) -> Vec<Url> {
    const SUFFIX: &str = "/.well-known/oauth-authorization-server";
    // §3.1: a terminating `/` is removed before the suffix goes in.
    let path = issuer.path().trim_end_matches('/');
    let inserted = issuer.with_path(&format!("{SUFFIX}{path}"));
    if path.is_empty() {
        return vec![inserted];
    }
    vec![inserted, issuer.with_path(&format!("{path}{SUFFIX}"))]
}

/// The fields latchkey uses that an OpenID discovery document may lack and RFC 8414 metadata
/// may carry (Django OAuth Toolkit, for one, lists its revocation and device endpoints only
/// there). `code_challenge_methods_supported` is taken from there when it is fetched anyway, but
/// its absence alone fetches nothing: providers that require PKCE list it in discovery
/// (Keycloak does), and a round trip on every login for the others would buy nothing.
fn lacks_something(document: &DiscoveryDocument) -> bool {
    document.revocation_endpoint.is_none()
        || document.device_authorization_endpoint.is_none()
        || document.jwks_uri.is_none()
        || document.userinfo_endpoint.is_none()
        || document.token_endpoint_auth_methods_supported.is_none()
}

/// The OpenID discovery document completed from the provider's RFC 8414 metadata: each field
/// discovery lacks is taken from there (discovery wins where both say something), after the
/// same exact issuer check. Only asked for when discovery lacks something. A missing document
/// (404) is normal and silent; an unusable one is logged for `LATCHKEY_LOG=debug`, never fatal,
/// and returned as the problem to mention if an endpoint turns out to be missing.
fn complete_from_rfc8414(
    profile: &Profile,
    http: &Http,
    document: DiscoveryDocument,
) -> (DiscoveryDocument, Option<String>) {
    if !lacks_something(&document) {
        return (document, None);
    }
    let issuer = profile.issuer.to_string();
    let mut problem = None;
    for url in rfc8414_urls(&profile.issuer) {
        let shown_url = shown_whole(&url.to_string());
        let found = match http.get(&url, "authorization server metadata") {
            Ok(response) if response.status == 404 => continue,
            Ok(response) if !response.is_success() => Err(format!(
                "{shown_url} answered HTTP {}: {}",
                response.status,
                response.excerpt()
            )),
            Ok(response) => {
                parse_rfc8414(&response.body, &issuer).map_err(|why| format!("{shown_url}: {why}"))
            }
            Err(e) => Err(e.message().to_owned()),
        };
        match found.and_then(|metadata| {
            let merged = merged(&document, metadata);
            // Endpoints are checked as discovery's are; a bad one costs this document only.
            endpoints_from(&merged)
                .map(|_| merged)
                .map_err(|e| format!("{shown_url}: {}", e.message()))
        }) {
            Ok(merged) => {
                crate::debug!("RFC 8414 metadata: completed discovery from {shown_url}");
                return (merged, None);
            }
            Err(why) => {
                crate::debug!("RFC 8414 metadata not used: {why}");
                problem = Some(why);
            }
        }
    }
    if problem.is_none() {
        crate::debug!("RFC 8414 metadata: the provider publishes none");
    }
    (document, problem)
}

/// RFC 8414 authorization server metadata: the fields of [`DiscoveryDocument`] it may complete,
/// every one optional (the authorization and token endpoints are discovery's own).
#[derive(Deserialize)]
struct AuthorizationServerMetadata {
    issuer: String,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    jwks_uri: Option<String>,
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    #[serde(default, deserialize_with = "string_list")]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default, deserialize_with = "string_list")]
    revocation_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default, deserialize_with = "string_list")]
    code_challenge_methods_supported: Option<Vec<String>>,
}

/// Reads RFC 8414 metadata and checks its issuer as discovery's is (RFC 8414 §3.3: identical,
/// or the document must not be used); the error says why, in words for a debug line.
fn parse_rfc8414(body: &str, issuer: &str) -> Result<AuthorizationServerMetadata, String> {
    let metadata: AuthorizationServerMetadata = serde_json::from_str(body)
        .map_err(|e| format!("not valid metadata: {}", shown(&e.to_string())))?;
    if metadata.issuer != issuer {
        return Err(format!(
            "it names the issuer {}, not {}; they must match exactly",
            quoted(&metadata.issuer),
            quoted(issuer)
        ));
    }
    Ok(metadata)
}

/// Discovery's document with what it lacks taken from RFC 8414 metadata.
fn merged(
    discovery: &DiscoveryDocument,
    metadata: AuthorizationServerMetadata,
) -> DiscoveryDocument {
    let d = discovery.clone();
    DiscoveryDocument {
        issuer: d.issuer,
        // Required in discovery, so always its own.
        authorization_endpoint: d.authorization_endpoint,
        token_endpoint: d.token_endpoint,
        revocation_endpoint: d.revocation_endpoint.or(metadata.revocation_endpoint),
        device_authorization_endpoint: d
            .device_authorization_endpoint
            .or(metadata.device_authorization_endpoint),
        jwks_uri: d.jwks_uri.or(metadata.jwks_uri),
        userinfo_endpoint: d.userinfo_endpoint.or(metadata.userinfo_endpoint),
        // An OpenID Connect endpoint: RFC 8414 does not define it.
        end_session_endpoint: d.end_session_endpoint,
        // A promise made in either document is kept by the one server behind both.
        authorization_response_iss_parameter_supported: d
            .authorization_response_iss_parameter_supported
            || metadata.authorization_response_iss_parameter_supported,
        token_endpoint_auth_methods_supported: d
            .token_endpoint_auth_methods_supported
            .or(metadata.token_endpoint_auth_methods_supported),
        revocation_endpoint_auth_methods_supported: d
            .revocation_endpoint_auth_methods_supported
            .or(metadata.revocation_endpoint_auth_methods_supported),
        code_challenge_methods_supported: d
            .code_challenge_methods_supported
            .or(metadata.code_challenge_methods_supported),
    }
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
        // Only for a name to show: a bad URL there costs the name, not the login.
        userinfo: optional("userinfo_endpoint", &doc.userinfo_endpoint)
            .ok()
            .flatten(),
        end_session: optional("end_session_endpoint", &doc.end_session_endpoint)?,
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
    fn rfc8414_urls_insert_the_suffix_before_the_path_then_append_it() {
        let urls = |issuer: &str| -> Vec<String> {
            rfc8414_urls(&Url::parse(issuer).unwrap())
                .iter()
                .map(Url::to_string)
                .collect()
        };
        assert_eq!(
            urls("https://idp.example"),
            ["https://idp.example/.well-known/oauth-authorization-server"]
        );
        assert_eq!(
            urls("https://idp.example/"),
            ["https://idp.example/.well-known/oauth-authorization-server"]
        );
        // RFC 8414 §3.1's example, then the form OpenID discovery uses; a terminating `/` goes.
        for issuer in [
            "https://idp.example/issuer1",
            "https://idp.example/issuer1/",
        ] {
            assert_eq!(
                urls(issuer),
                [
                    "https://idp.example/.well-known/oauth-authorization-server/issuer1",
                    "https://idp.example/issuer1/.well-known/oauth-authorization-server",
                ]
            );
        }
    }

    const RFC8414: &str = r#"{"issuer":"https://idp.example","authorization_endpoint":"https://other.example/auth",
        "revocation_endpoint":"https://idp.example/o/revoke","device_authorization_endpoint":"https://idp.example/o/device",
        "token_endpoint_auth_methods_supported":["client_secret_post"],"authorization_response_iss_parameter_supported":true}"#;

    #[test]
    fn rfc8414_metadata_fills_only_what_discovery_lacks() {
        let discovery = parse_discovery(DOC, "https://idp.example").unwrap();
        assert!(lacks_something(&discovery));
        let metadata = parse_rfc8414(RFC8414, "https://idp.example").unwrap();
        let merged = merged(&discovery, metadata);
        // Discovery's own endpoints stay; what it lacks comes from RFC 8414.
        assert_eq!(merged.authorization_endpoint, "https://idp.example/auth");
        assert_eq!(
            merged.revocation_endpoint.as_deref(),
            Some("https://idp.example/revoke")
        );
        assert_eq!(
            merged.device_authorization_endpoint.as_deref(),
            Some("https://idp.example/o/device")
        );
        assert_eq!(
            merged.token_endpoint_auth_methods_supported.as_deref(),
            Some(&["client_secret_post".to_owned()][..])
        );
        assert!(merged.authorization_response_iss_parameter_supported);
        assert!(endpoints_from(&merged).is_ok());
    }

    #[test]
    fn rfc8414_metadata_of_another_issuer_is_not_used() {
        let why = parse_rfc8414(RFC8414, "https://idp.example/tenant")
            .err()
            .unwrap();
        assert!(why.contains("must match exactly"), "{why}");
        assert!(parse_rfc8414("<html>", "https://idp.example").is_err());
    }

    #[test]
    fn auth_method_lists_are_read_leniently() {
        let with = |methods: &str| {
            let doc = DOC.replace(
                "\"authorization_response_iss_parameter_supported\":true",
                &format!("\"token_endpoint_auth_methods_supported\":{methods}"),
            );
            parse_discovery(&doc, "https://idp.example")
                .unwrap()
                .token_endpoint_auth_methods_supported
        };
        assert_eq!(
            with(r#"["client_secret_post", 5, "none"]"#),
            Some(vec!["client_secret_post".to_owned(), "none".to_owned()])
        );
        assert_eq!(with(r#""client_secret_post""#), None);
        assert_eq!(with("null"), None);
    }

    #[test]
    fn pkce_methods_are_read_and_completed_from_rfc8414() {
        let with = |methods: &str| {
            DOC.replace(
                "\"authorization_response_iss_parameter_supported\":true",
                &format!("\"code_challenge_methods_supported\":{methods}"),
            )
        };
        let listed = |doc: &DiscoveryDocument| doc.code_challenge_methods_supported.clone();
        let doc = parse_discovery(&with(r#"["plain","S256"]"#), "https://idp.example").unwrap();
        assert_eq!(
            listed(&doc),
            Some(vec!["plain".to_owned(), "S256".to_owned()])
        );
        let doc = parse_discovery(&with("\"S256\""), "https://idp.example").unwrap();
        assert_eq!(listed(&doc), None, "not a list: not stated");
        // Discovery without it takes RFC 8414's, when that is fetched for something else.
        let discovery = parse_discovery(DOC, "https://idp.example").unwrap();
        let metadata = parse_rfc8414(
            &RFC8414.replace(
                "\"authorization_response_iss_parameter_supported\":true",
                "\"code_challenge_methods_supported\":[\"S256\"]",
            ),
            "https://idp.example",
        )
        .unwrap();
        assert_eq!(
            listed(&merged(&discovery, metadata)),
            Some(vec!["S256".to_owned()])
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
