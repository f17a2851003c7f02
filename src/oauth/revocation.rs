//! Token revocation (RFC 7009): telling the provider to forget a refresh or access token.

use crate::base::error::{Error, Result};
use crate::config::Profile;
use crate::net::http::{Body, Http};
use crate::net::url::Url;
use crate::oauth::token_endpoint::oauth_error;

/// Revokes one token. RFC 7009 §2.2: the provider answers 200 even for tokens it does not know.
pub fn revoke(http: &Http, url: &Url, profile: &Profile, token: &str, hint: &str) -> Result<()> {
    let pairs = [
        ("token", token),
        ("token_type_hint", hint),
        ("client_id", profile.client_id.as_str()),
    ];
    let response = http.post(url, Body::Form(&pairs), "revocation")?;
    if response.is_success() {
        return Ok(());
    }
    #[derive(serde::Deserialize)]
    struct OAuthError {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_str::<OAuthError>(&response.body) {
        Ok(e) if response.status < 500 => {
            Err(oauth_error(&e.error, e.error_description.as_deref()))
        }
        _ => Err(Error::network(format!(
            "revocation: the provider answered HTTP {}: {}",
            response.status,
            response.excerpt()
        ))),
    }
}
