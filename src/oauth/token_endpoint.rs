//! The token endpoint (RFC 6749 §4.1.3, §5): the code exchange with the PKCE verifier, and
//! reading its answer — tokens, or an OAuth error shown as `error: error_description`.

use crate::base::error::{Error, Result};
use crate::base::secret::{AccessToken, AuthorizationCode, IdToken, PkceVerifier, RefreshToken};
use crate::config::Profile;
use crate::net::http::{Http, Response};
use crate::net::url::Url;
use serde::Deserialize;

/// A successful token response, typed.
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<RefreshToken>,
    pub id_token: Option<IdToken>,
    pub scope: Option<String>,
    pub token_type: String,
    /// The response's `Date` header, for clock-skew checks.
    pub date: Option<String>,
}

/// Exchanges an authorization code (grant_type=authorization_code) with the code_verifier and
/// the same redirect_uri that the authorization request carried.
pub fn exchange_code(
    http: &Http,
    token_url: &Url,
    profile: &Profile,
    code: &AuthorizationCode,
    verifier: &PkceVerifier,
    redirect_uri: &str,
) -> Result<TokenResponse> {
    let pairs = [
        ("grant_type", "authorization_code"),
        ("client_id", profile.client_id.as_str()),
        ("code", code.secret()),
        ("code_verifier", verifier.secret()),
        ("redirect_uri", redirect_uri),
    ];
    let body = profile.token_request_format.body(&pairs);
    let response = http.post(token_url, body, "token request")?;
    parse_token_response(&response)
}

/// Uses a refresh token (RFC 6749 §6). The grant's own scope and audience carry over, so none
/// are sent. `invalid_grant` means the refresh token is dead: that is "log in again" (exit 4).
pub fn refresh(
    http: &Http,
    token_url: &Url,
    profile: &Profile,
    refresh_token: &RefreshToken,
) -> Result<TokenResponse> {
    let pairs = [
        ("grant_type", "refresh_token"),
        ("client_id", profile.client_id.as_str()),
        ("refresh_token", refresh_token.secret()),
    ];
    let body = profile.token_request_format.body(&pairs);
    let response = http.post(token_url, body, "token refresh")?;
    if (400..500).contains(&response.status)
        && response.status != 429
        && let Ok(RawTokenResponse {
            error: Some(error),
            error_description,
            ..
        }) = serde_json::from_str::<RawTokenResponse>(&response.body)
        && error == "invalid_grant"
    {
        let detail = oauth_error(&error, error_description.as_deref());
        return Err(Error::login_required(format!(
            "the refresh token was refused ({}); profile `{}` must log in again",
            detail
                .message()
                .replace("the identity provider refused: ", ""),
            profile.name
        ))
        .hint(format!("run `latchkey login -p {}`", profile.name)));
    }
    // Any other OAuth error comes without a hint of its own; every error has one.
    parse_token_response(&response).map_err(|e| match e.hint_text() {
        Some(_) => e,
        None => e.hint(format!(
            "the stored tokens are unchanged; if this persists, run `latchkey login -p {}`",
            profile.name
        )),
    })
}

/// The OAuth `error` and `error_description` of a response, when its body carries them.
pub fn oauth_error_of(response: &Response) -> Option<(String, Option<String>)> {
    match serde_json::from_str::<RawTokenResponse>(&response.body) {
        Ok(RawTokenResponse {
            error: Some(error),
            error_description,
            ..
        }) => Some((error, error_description)),
        _ => None,
    }
}

/// Warns once per process when the provider's clock and ours disagree by more than a minute:
/// expiry times would then make tokens look valid or expired wrongly.
pub fn warn_on_clock_skew(date_header: Option<&str>) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let Some(theirs) = date_header.and_then(crate::base::duration::parse_http_date) else {
        return;
    };
    let ours = crate::base::clock::unix_now();
    let skew = theirs.abs_diff(ours);
    if skew > 60 {
        WARNED.call_once(|| {
            let direction = if theirs > ours { "behind" } else { "ahead of" };
            eprintln!(
                "warning: this host's clock is {} {direction} the identity provider's; token expiry times will be off (check NTP)",
                crate::base::duration::format_remaining(std::time::Duration::from_secs(skew))
            );
        });
    }
}

#[derive(Deserialize)]
struct RawTokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    scope: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Reads a token endpoint response: an OAuth error is exit 5 with the provider's words; a body
/// that is not an OAuth response at all (a proxy's page, a 502) is exit 6 with an excerpt.
pub fn parse_token_response(response: &Response) -> Result<TokenResponse> {
    let raw: Option<RawTokenResponse> = serde_json::from_str(&response.body).ok();
    // 5xx and 429 are the provider failing, not refusing: worth a retry, and never a reason to
    // think a grant is dead, whatever error code the body carries.
    if response.status >= 500 || response.status == 429 {
        let said = match &raw {
            Some(RawTokenResponse {
                error: Some(error),
                error_description,
                ..
            }) => oauth_error(error, error_description.as_deref())
                .message()
                .replace("the identity provider refused: ", ""),
            _ => response.excerpt(),
        };
        return Err(Error::network(format!(
            "the token endpoint failed with HTTP {}: {said}",
            response.status
        ))
        .hint("the provider is having trouble; try again shortly"));
    }
    if let Some(RawTokenResponse {
        error: Some(error),
        error_description,
        ..
    }) = &raw
    {
        return Err(oauth_error(error, error_description.as_deref()));
    }
    let not_oauth = || {
        Error::network(format!(
            "the token endpoint answered HTTP {} with something that is not a token response: {}",
            response.status,
            if response.body.trim().is_empty() {
                "(empty body)".to_owned()
            } else {
                response.excerpt()
            }
        ))
        .hint("the provider or a proxy in between failed; try again, and check the token endpoint URL")
    };
    let Some(raw) = raw.filter(|_| response.is_success()) else {
        return Err(not_oauth());
    };
    let Some(access_token) = raw.access_token.filter(|t| !t.is_empty()) else {
        return Err(not_oauth());
    };
    let token_type = raw.token_type.unwrap_or_default();
    if token_type.is_empty() {
        // RFC 6749 §5.1 requires it; `of type ""` would read like a bug in latchkey.
        return Err(Error::provider(
            "the token endpoint's answer has no token_type; latchkey only handles Bearer tokens",
        ));
    }
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(Error::provider(format!(
            "the token endpoint issued a token of type {token_type:?}; latchkey only handles Bearer tokens"
        )));
    }
    // Some providers send expires_in as a string; both are seconds from now.
    let expires_in = match raw.expires_in {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        Some(_) => None,
    };
    Ok(TokenResponse {
        access_token: AccessToken::new(access_token),
        expires_in,
        refresh_token: raw
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(RefreshToken::new),
        id_token: raw.id_token.filter(|t| !t.is_empty()).map(IdToken::new),
        scope: raw.scope,
        token_type: "Bearer".to_owned(),
        date: response.date.clone(),
    })
}

/// `error: error_description`, with the provider's strings cleaned of control characters.
pub fn oauth_error(error: &str, description: Option<&str>) -> Error {
    let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).take(300).collect() };
    let text = match description.filter(|d| !d.is_empty()) {
        Some(d) => format!("{}: {}", clean(error), clean(d)),
        None => clean(error),
    };
    Error::provider(format!("the identity provider refused: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::ExitCode;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: Some("application/json".into()),
            date: None,
            body: body.into(),
        }
    }

    #[test]
    fn reads_a_token_response() {
        let t = parse_token_response(&response(
            200,
            r#"{"access_token":"at","token_type":"bearer","expires_in":"3600","refresh_token":"rt","id_token":"x.y.z","scope":"openid"}"#,
        ))
        .unwrap();
        assert_eq!(t.access_token.secret(), "at");
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.refresh_token.unwrap().secret(), "rt");
        assert_eq!(t.token_type, "Bearer");
    }

    #[test]
    fn oauth_errors_are_exit_5_with_the_providers_words() {
        let err = parse_token_response(&response(
            400,
            r#"{"error":"invalid_grant","error_description":"code expired\u001b[2J"}"#,
        ))
        .unwrap_err();
        assert_eq!(err.exit_code(), ExitCode::ProviderRefused);
        assert_eq!(
            err.message(),
            "the identity provider refused: invalid_grant: code expired[2J"
        );
    }

    #[test]
    fn non_oauth_bodies_are_exit_6_with_an_excerpt() {
        for (status, body) in [
            (200, "<html>oops</html>"),
            (500, "{\"x\":1}"),
            (502, ""),
            (200, "{\"token_type\":\"Bearer\"}"),
            (503, "{\"error\":\"server_error\"}"),
            (429, "{\"error\":\"too_many_requests\"}"),
        ] {
            let err = parse_token_response(&response(status, body)).unwrap_err();
            assert_eq!(err.exit_code(), ExitCode::Network, "{status} {body}");
            assert!(
                err.message().contains(&format!("HTTP {status}")),
                "{}",
                err.message()
            );
        }
    }

    #[test]
    fn only_bearer_tokens() {
        let err = parse_token_response(&response(
            200,
            r#"{"access_token":"a","token_type":"DPoP"}"#,
        ))
        .unwrap_err();
        assert!(err.message().contains("DPoP"));
    }
}
