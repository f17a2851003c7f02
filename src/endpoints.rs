//! The provider's endpoints: fixed paths for an Auth0 domain, or the issuer's discovery
//! document (OpenID Connect Discovery 1.0), with the profile's per-endpoint overrides on top.

use crate::config::{Profile, ProviderKind, parse_endpoint};
use crate::error::{Error, Result};
use crate::http::Http;
use crate::url::Url;
use serde::Deserialize;

/// Where to send each request for one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorize: Url,
    pub token: Url,
    pub revocation: Option<Url>,
    pub device_authorization: Option<Url>,
    /// RFC 9207: the provider puts `iss` in every authorization response.
    pub iss_parameter_supported: bool,
}

/// The part of the discovery document latchkey uses.
#[derive(Debug, Deserialize)]
pub struct DiscoveryDocument {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Resolves the endpoints; only a discovery profile without authorize and token overrides
/// touches the network.
pub fn resolve(profile: &Profile, http: &Http) -> Result<Endpoints> {
    let overrides = &profile.endpoints;
    let base = match &profile.kind {
        ProviderKind::Auth0 { .. } => {
            let at = |path: &str| profile.issuer.with_path(path);
            Endpoints {
                authorize: at("/authorize"),
                token: at("/oauth/token"),
                revocation: Some(at("/oauth/revoke")),
                device_authorization: Some(at("/oauth/device/code")),
                iss_parameter_supported: false,
            }
        }
        ProviderKind::Discovery => match (&overrides.authorize, &overrides.token) {
            (Some(authorize), Some(token)) => Endpoints {
                authorize: authorize.clone(),
                token: token.clone(),
                revocation: None,
                device_authorization: None,
                iss_parameter_supported: false,
            },
            _ => discover(profile, http)?,
        },
    };
    Ok(Endpoints {
        authorize: overrides.authorize.clone().unwrap_or(base.authorize),
        token: overrides.token.clone().unwrap_or(base.token),
        revocation: overrides.revocation.clone().or(base.revocation),
        device_authorization: overrides
            .device_authorization
            .clone()
            .or(base.device_authorization),
        iss_parameter_supported: base.iss_parameter_supported,
    })
}

/// `ISSUER/.well-known/openid-configuration` (a trailing `/` of the issuer is not doubled).
pub fn discovery_url(issuer: &Url) -> Url {
    let path = format!(
        "{}/.well-known/openid-configuration",
        issuer.path().trim_end_matches('/')
    );
    issuer.with_path(&path)
}

fn discover(profile: &Profile, http: &Http) -> Result<Endpoints> {
    let url = discovery_url(&profile.issuer);
    let response = http.get(&url, "discovery")?;
    if !response.is_success() {
        return Err(Error::network(format!(
            "discovery: {url} answered HTTP {}: {}",
            response.status,
            response.excerpt()
        ))
        .hint(format!("check `issuer` in profile `{}`", profile.name)));
    }
    parse_discovery(&response.body, &profile.issuer.to_string())
        .map_err(|e| e.hint(format!("check `issuer` in profile `{}`", profile.name)))
}

/// Checks a discovery document against the configured issuer and extracts the endpoints.
pub fn parse_discovery(body: &str, issuer: &str) -> Result<Endpoints> {
    let doc: DiscoveryDocument = serde_json::from_str(body).map_err(|e| {
        Error::network(format!(
            "discovery: the document for {issuer} is not valid: {e}"
        ))
    })?;
    // OpenID Connect Discovery §4.3: the issuer must be identical, or the document is not
    // this provider's and its endpoints must not be trusted.
    if doc.issuer != issuer {
        return Err(Error::config(format!(
            "discovery: the provider calls itself {:?}, but the profile's issuer is {issuer:?}; they must match exactly",
            doc.issuer
        )));
    }
    let endpoint = |name: &str, value: &str| {
        parse_endpoint(value).map_err(|m| Error::network(format!("discovery: `{name}`: {m}")))
    };
    Ok(Endpoints {
        authorize: endpoint("authorization_endpoint", &doc.authorization_endpoint)?,
        token: endpoint("token_endpoint", &doc.token_endpoint)?,
        revocation: doc
            .revocation_endpoint
            .as_deref()
            .map(|v| endpoint("revocation_endpoint", v))
            .transpose()?,
        device_authorization: doc
            .device_authorization_endpoint
            .as_deref()
            .map(|v| endpoint("device_authorization_endpoint", v))
            .transpose()?,
        iss_parameter_supported: doc.authorization_response_iss_parameter_supported,
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
        let e = parse_discovery(DOC, "https://idp.example").unwrap();
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
        assert_eq!(err.exit_code(), crate::error::ExitCode::Config);
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
