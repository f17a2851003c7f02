//! The token endpoint (RFC 6749 §4.1.3, §5): the code exchange with the PKCE verifier, and
//! reading its answer — tokens, or an OAuth error shown as `error: error_description`.

use crate::base::error::{Error, OAuthCode, OAuthRefusal, Result};
use crate::base::secret::{AccessToken, AuthorizationCode, IdToken, PkceVerifier, RefreshToken};
use crate::config::{Dialect, Profile, ProviderKind, entra_scope};
use crate::net::http::{Http, Response};
use crate::net::url::Url;
use crate::oauth::client_auth::{AuthMethod, Client};
use crate::oauth::hints;
use serde::Deserialize;

/// The longest access-token lifetime taken from a provider's `expires_in`: ten years. Longer
/// values (up to `u64::MAX`, or numbers beyond it) are capped to this, so the expiry time
/// computed from it is a real date and no arithmetic on it can overflow; a provider that
/// means "forever" still gets a refresh attempt within a decade.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

/// A successful token response, typed.
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    /// Seconds, at most [`MAX_TOKEN_LIFETIME_SECS`].
    pub expires_in: Option<u64>,
    pub refresh_token: Option<RefreshToken>,
    pub id_token: Option<IdToken>,
    pub scope: Option<String>,
    pub token_type: String,
    /// The response's `Date` header, for clock-skew checks.
    pub date: Option<String>,
}

/// Exchanges an authorization code (grant_type=authorization_code) with the code_verifier and
/// the same redirect_uri that the authorization request carried. `auth`: how a client secret,
/// if the profile has one, is sent ([`Provider::auth_methods`]).
///
/// [`Provider::auth_methods`]: crate::oauth::endpoints::Provider::auth_methods
pub fn exchange_code(
    http: &Http,
    token_url: &Url,
    profile: &Profile,
    auth: AuthMethod,
    code: &AuthorizationCode,
    verifier: &PkceVerifier,
    redirect_uri: &str,
) -> Result<TokenResponse> {
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.secret()),
        ("code_verifier", verifier.secret()),
        ("redirect_uri", redirect_uri),
    ];
    let response = Client::of(profile, auth).post(
        http,
        token_url,
        profile.token_request_format,
        &pairs,
        "token request",
    )?;
    parse_token_response(&response).map_err(|e| hints::profile_mismatch(profile, e))
}

/// Uses a refresh token (RFC 6749 §6). Without `api` the grant's own scope and audience carry
/// over, so none are sent; with it, the token is for that API ([`ApiRequest::parameters`]).
/// `invalid_grant` means the refresh token is dead: that is "log in again" (exit 4). `auth` as
/// for [`exchange_code`].
pub fn refresh(
    http: &Http,
    token_url: &Url,
    profile: &Profile,
    auth: AuthMethod,
    refresh_token: &RefreshToken,
    api: Option<&ApiRequest>,
) -> Result<TokenResponse> {
    refresh_request(http, token_url, profile, auth, refresh_token, api)
        .map_err(|e| hints::profile_mismatch(profile, e))
}

/// An access token for another API than the login's, or for other scopes of the login's own,
/// asked for with the login's refresh token (`latchkey token --audience A --scope S`, or
/// `--scope S` alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// Empty for a scope-only request: the login's own API, the scopes in `scopes` (RFC 6749
    /// §6; Google's, Okta's and Entra's `api://X/.default`).
    pub audience: String,
    /// Sorted and without repeats; empty asks for the API's default scopes.
    pub scopes: Vec<String>,
}

impl ApiRequest {
    pub fn new(audience: &str, scopes: &[String]) -> ApiRequest {
        let mut scopes: Vec<String> = scopes
            .iter()
            .flat_map(|s| s.split_whitespace())
            .map(str::to_owned)
            .collect();
        scopes.sort();
        scopes.dedup();
        ApiRequest {
            audience: audience.trim().to_owned(),
            scopes,
        }
    }

    /// Whether only scopes are asked for, no other API.
    pub fn is_scope_only(&self) -> bool {
        self.audience.is_empty()
    }

    /// The request in words: the API, or the scopes of a scope-only one.
    pub fn shown(&self) -> String {
        if self.is_scope_only() {
            format!(
                "scope {}",
                crate::base::text::quoted(&self.scopes.join(" "))
            )
        } else {
            crate::base::text::quoted(&self.audience)
        }
    }

    /// How the provider is asked: Auth0's Multi-Resource Refresh Token takes `audience` (and
    /// `scope`) on the refresh; Entra names the API in the scope (`API/.default`) and refuses
    /// `resource`; other providers take RFC 8707's `resource`. A scope-only request sends
    /// `scope` alone.
    pub fn parameters(&self, kind: &ProviderKind, dialect: Dialect) -> Vec<(&'static str, String)> {
        let scope = self.scopes.join(" ");
        if self.is_scope_only() {
            return vec![("scope", scope)];
        }
        match (kind, dialect) {
            (ProviderKind::Auth0 { .. }, _) => {
                vec![("audience", self.audience.clone()), ("scope", scope)]
            }
            (ProviderKind::Discovery, Dialect::Entra) => {
                let scopes: Vec<String> = if self.scopes.is_empty() {
                    vec![entra_scope(&self.audience, None)]
                } else {
                    self.scopes
                        .iter()
                        .map(|s| entra_scope(&self.audience, Some(s)))
                        .collect()
                };
                vec![("scope", scopes.join(" "))]
            }
            (ProviderKind::Discovery, Dialect::Standard) => {
                vec![("resource", self.audience.clone()), ("scope", scope)]
            }
        }
    }
}

fn refresh_request(
    http: &Http,
    token_url: &Url,
    profile: &Profile,
    auth: AuthMethod,
    refresh_token: &RefreshToken,
    api: Option<&ApiRequest>,
) -> Result<TokenResponse> {
    let api_parameters = api.map(|api| api.parameters(&profile.kind, profile.dialect));
    let mut pairs = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.secret()),
    ];
    for (name, value) in api_parameters.iter().flatten() {
        if !value.is_empty() {
            pairs.push((*name, value.as_str()));
        }
    }
    let response = Client::of(profile, auth).post(
        http,
        token_url,
        profile.token_request_format,
        &pairs,
        "token refresh",
    )?;
    parse_token_response(&response).map_err(|e| match e.oauth() {
        // `invalid_grant` in a 4xx (RFC 6749 §5.2; a 5xx or 429 carries no code here) is the one
        // answer that says the refresh token is dead. The refusal goes with the error: the
        // store records it, so that the dead token is never sent again and `status` can say
        // why.
        Some(refusal)
            if refusal.code == OAuthCode::InvalidGrant && (400..500).contains(&response.status) =>
        {
            Error::login_required(format!(
                "the refresh token was refused ({}); profile `{}` must log in again",
                refusal.said, profile.name
            ))
            .hint(format!("run `latchkey login -p {}`", profile.name))
            .with_oauth(refusal.clone())
        }
        // Any other OAuth error comes without a hint of its own; every error has one.
        _ => match e.hint_text() {
            Some(_) => e,
            None => e.hint(format!(
                "the stored tokens are unchanged; if this persists, run `latchkey login -p {}`",
                profile.name
            )),
        },
    })
}

/// An OAuth error answer (RFC 6749 §5.2): its `error`, parsed, and its `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorAnswer {
    pub code: OAuthCode,
    pub description: Option<String>,
}

impl ErrorAnswer {
    /// The refusal as an error (see [`oauth_error`]).
    pub fn into_error(self) -> Error {
        oauth_error(self.code, self.description.as_deref())
    }
}

/// The OAuth error a response's body carries, if it carries one.
pub fn error_answer(response: &Response) -> Option<ErrorAnswer> {
    match serde_json::from_str::<RawTokenResponse>(&response.body) {
        Ok(RawTokenResponse {
            error: Some(error),
            error_description,
            ..
        }) => Some(ErrorAnswer {
            code: OAuthCode::parse(&error),
            description: error_description,
        }),
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
    if let Some(warning) = clock_skew_warning(theirs, ours) {
        WARNED.call_once(|| eprintln!("{warning}"));
    }
}

/// The warning for a provider clock at `theirs` and ours at `now` (Unix seconds), when they
/// differ by more than a minute. Any two times work: a skew beyond a year (a host without a
/// real-time clock that booted in 1970, or a nonsense `Date`) is said as "more than a year".
fn clock_skew_warning(theirs: u64, ours: u64) -> Option<String> {
    let skew = theirs.abs_diff(ours);
    if skew <= 60 {
        return None;
    }
    let direction = if theirs > ours { "behind" } else { "ahead of" };
    let amount = if skew > crate::base::duration::LONGEST.as_secs() {
        "more than a year".to_owned()
    } else {
        crate::base::duration::format_remaining(std::time::Duration::from_secs(skew))
    };
    Some(format!(
        "warning: this host's clock is {amount} {direction} the identity provider's; token expiry times will be off (check NTP)"
    ))
}

#[derive(Deserialize)]
struct RawTokenResponse {
    // Secrets in their newtypes from the start: wiped however the answer is used or dropped.
    access_token: Option<AccessToken>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<RefreshToken>,
    id_token: Option<IdToken>,
    #[serde(default, deserialize_with = "scope_string_or_list")]
    scope: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `scope` as RFC 6749 §5.1 has it, one space-separated string, or as some providers send it:
/// a JSON list of strings, joined with spaces (an empty list is no scope). Anything else fails
/// the parse, and [`success_problem`] says so.
fn scope_string_or_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scope {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Scope>::deserialize(deserializer)? {
        None => None,
        Some(Scope::One(scope)) => Some(scope),
        Some(Scope::Many(scopes)) => Some(scopes.join(" ")).filter(|s| !s.trim().is_empty()),
    })
}

/// Reads a token endpoint response: an OAuth error is exit 5 with the provider's words, and so
/// is any other 4xx but 429 (a refusal without an OAuth error: a bare 400, a 403 page), with a
/// redacted excerpt; a body that is not an OAuth response at all (a proxy's page, a 502) is exit
/// 6 with a redacted excerpt — except a 2xx body, which may hold tokens however broken it is:
/// that is described ("it has no access_token", "it is not JSON") with its content type, never
/// quoted.
pub fn parse_token_response(response: &Response) -> Result<TokenResponse> {
    parse_token_response_at(response, crate::base::clock::unix_now())
}

/// [`parse_token_response`] with the time now (Unix seconds), which a JWT access token's `exp`
/// is measured from when there is no `expires_in`.
fn parse_token_response_at(response: &Response, now: u64) -> Result<TokenResponse> {
    let raw: Option<RawTokenResponse> = serde_json::from_str(&response.body).ok();
    // 5xx and 429 are the provider failing, not refusing: worth a retry, and never a reason to
    // think a grant is dead, whatever error code the body carries.
    if response.status >= 500 || response.status == 429 {
        let said = match &raw {
            Some(RawTokenResponse {
                error: Some(error),
                error_description,
                ..
            }) => provider_said(&OAuthCode::parse(error), error_description.as_deref()),
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
        return Err(oauth_error(
            OAuthCode::parse(error),
            error_description.as_deref(),
        ));
    }
    if (400..500).contains(&response.status) {
        return Err(refused_without_oauth_error(response));
    }
    let not_oauth = || not_a_token_response(response);
    let Some(raw) = raw.filter(|_| response.is_success()) else {
        return Err(not_oauth());
    };
    let Some(access_token) = raw.access_token.filter(|t| !t.secret().is_empty()) else {
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
        // Part of a successful answer: shortened and redacted like any excerpt.
        let shown: String = token_type.chars().take(40).collect();
        return Err(Error::provider(format!(
            "the token endpoint issued a token of type {}; latchkey only handles Bearer tokens",
            crate::base::text::quoted(&crate::net::http::redact_secrets(&shown))
        )));
    }
    // Some providers send expires_in as a string; both are seconds from now. Anything over
    // ten years is capped; a value that is no number of seconds is as good as none. Without
    // one, a JWT access token's own `exp` says when it expires; otherwise nothing does.
    let expires_in = raw
        .expires_in
        .as_ref()
        .and_then(|v| crate::base::duration::provider_seconds(v, MAX_TOKEN_LIFETIME_SECS))
        .or_else(|| jwt_lifetime(access_token.secret(), now));
    Ok(TokenResponse {
        access_token,
        expires_in,
        refresh_token: raw.refresh_token.filter(|t| !t.secret().is_empty()),
        id_token: raw.id_token.filter(|t| !t.secret().is_empty()),
        scope: raw.scope,
        token_type: "Bearer".to_owned(),
        date: response.date.clone(),
    })
}

/// Seconds from `now` to a JWT access token's `exp` (RFC 9068 §2.2; read, not verified: it only
/// decides when to refresh, and the token came over TLS from the token endpoint), at most
/// [`MAX_TOKEN_LIFETIME_SECS`]; 0 when that moment has passed. `None` for an opaque token, or a
/// JWT without a usable `exp`.
fn jwt_lifetime(access_token: &str, now: u64) -> Option<u64> {
    let exp = crate::oauth::jwt::unverified_claims(access_token)
        .ok()?
        .exp?;
    let exp = u64::try_from(exp).ok()?;
    Some(exp.saturating_sub(now).min(MAX_TOKEN_LIFETIME_SECS))
}

/// A 4xx other than 429 without an OAuth error: an empty 400, a gateway's 403 page. The
/// provider (or something in front of it) refused the request — it did not fail, and sending it
/// again gets the same answer — so it is exit 5, like an OAuth error, with the status and a
/// redacted excerpt, never exit 6's "try again". Servers answer a dead refresh token this way
/// too, but nothing here says so for sure: the token is kept, and the refresh's hint says a
/// login fixes it if it persists.
fn refused_without_oauth_error(response: &Response) -> Error {
    let what = if response.body.trim().is_empty() {
        "(empty body)".to_owned()
    } else {
        response.excerpt()
    };
    Error::provider(format!(
        "the identity provider refused with HTTP {} but no OAuth error: {what}",
        response.status
    ))
}

/// The answer is no OAuth response at all (a proxy's page, a 502, a broken 2xx): exit 6, with a
/// redacted excerpt — except for a 2xx body, which may hold tokens however broken it is, so it
/// is described and never quoted.
fn not_a_token_response(response: &Response) -> Error {
    let what = if response.is_success() {
        format!(
            "{} ({}; a successful answer's body is not shown, as it may hold tokens)",
            success_problem(&response.body),
            response.content_type_shown()
        )
    } else if response.body.trim().is_empty() {
        "(empty body)".to_owned()
    } else {
        response.excerpt()
    };
    Error::network(format!(
        "the token endpoint answered HTTP {} with something that is not a token response: {what}",
        response.status,
    ))
    .hint("the provider or a proxy in between failed; try again, and check the token endpoint URL")
}

/// A 2xx body as a JSON object, or what it is instead ("it is empty", "it is not JSON", …) in
/// words that quote none of it: the start of describing any answer that may hold secrets.
pub fn json_object(body: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    if body.trim().is_empty() {
        return Err("it is empty".to_owned());
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(_) => Err("it is not a JSON object".to_owned()),
        Err(_) => Err("it is not JSON".to_owned()),
    }
}

/// What is wrong with a 2xx body that is no token response, in words that quote none of it.
fn success_problem(body: &str) -> String {
    let object = match json_object(body) {
        Ok(object) => object,
        Err(problem) => return problem,
    };
    let strings = [
        "access_token",
        "token_type",
        "refresh_token",
        "id_token",
        "error",
        "error_description",
    ];
    for field in strings {
        if object
            .get(field)
            .is_some_and(|v| !v.is_null() && !v.is_string())
        {
            return format!("its {field} is not a string");
        }
    }
    let scope_ok = |v: &serde_json::Value| {
        v.is_null()
            || v.is_string()
            || v.as_array()
                .is_some_and(|list| list.iter().all(serde_json::Value::is_string))
    };
    if object.get("scope").is_some_and(|v| !scope_ok(v)) {
        return "its scope is neither a string nor a list of strings".to_owned();
    }
    match object.get("access_token").and_then(|v| v.as_str()) {
        None | Some("") => "it has no access_token".to_owned(),
        Some(_) => "it is not a token response".to_owned(),
    }
}

/// A provider's OAuth refusal as an error: exit 5, `the identity provider refused: error:
/// error_description`, the provider's strings shown as all outside text is (escaped and cut
/// short, `base::text`), and the refusal itself for callers that act on its code.
pub fn oauth_error(code: OAuthCode, description: Option<&str>) -> Error {
    let said = provider_said(&code, description);
    Error::provider(format!("the identity provider refused: {said}"))
        .with_oauth(OAuthRefusal { code, said })
}

/// `error: error_description` (or `error` alone), each escaped and cut short: what the provider
/// said, safe to show and to keep.
fn provider_said(code: &OAuthCode, description: Option<&str>) -> String {
    let clean = |s: &str| crate::base::text::shown_within(s, 300);
    match description.filter(|d| !d.is_empty()) {
        Some(d) => format!("{}: {}", clean(code.as_str()), clean(d)),
        None => clean(code.as_str()),
    }
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
            body: body.to_owned().into(),
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
            r"the identity provider refused: invalid_grant: code expired\u{1b}[2J"
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

    const AT: &str = "at-S3cr3t-9f8e7d6c5b4a";
    const RT: &str = "rt-S3cr3t-0a1b2c3d4e5f";

    #[test]
    fn a_successful_answer_is_never_quoted() {
        // Parses as JSON but is no token response, in each way it can fail; every one of them
        // holds tokens that must not reach the terminal.
        for (body, content_type, problem) in [
            (
                format!(r#"{{"access_token":5,"refresh_token":"{RT}","token_type":"Bearer"}}"#),
                Some("application/json"),
                "its access_token is not a string",
            ),
            (
                format!(
                    r#"{{"access_token":"{AT}","refresh_token":"{RT}","token_type":"Bearer","expires_in":[1]}},"#
                ),
                Some("application/json"),
                "it is not JSON",
            ),
            (
                format!(r#"{{"access_token":"{AT}","refresh_token":{{"x":"{RT}"}}}}"#),
                Some("application/json; charset=utf-8"),
                "its refresh_token is not a string",
            ),
            (
                format!(r#"{{"token":"{AT}","refresh_token":"{RT}"}}"#),
                None,
                "it has no access_token",
            ),
            (
                format!(r#"["{AT}","{RT}"]"#),
                Some("text/plain"),
                "it is not a JSON object",
            ),
            (
                format!("access_token={AT}&refresh_token={RT}&token_type=bearer"),
                Some("application/x-www-form-urlencoded"),
                "it is not JSON",
            ),
            ("   ".to_owned(), Some("application/json"), "it is empty"),
        ] {
            let mut answer = response(200, &body);
            answer.content_type = content_type.map(str::to_owned);
            let err = parse_token_response(&answer).unwrap_err();
            let shown = format!("{} {}", err.message(), err.hint_text().unwrap_or_default());
            assert_eq!(err.exit_code(), ExitCode::Network, "{shown}");
            assert!(!shown.contains("S3cr3t"), "{shown}");
            assert!(shown.contains(problem), "{problem:?} not in {shown}");
            assert!(
                shown.contains(&content_type.map_or("no content type".to_owned(), |ct| {
                    format!("content type {}", ct.split(';').next().unwrap_or_default())
                })),
                "{shown}"
            );
        }
    }

    #[test]
    fn error_excerpts_are_redacted() {
        for status in [302, 400, 500, 502] {
            let body = format!(
                r#"{{"access_token":"{AT}","refresh_token":"{RT}","id_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"}}"#
            );
            let err = parse_token_response(&response(status, &body)).unwrap_err();
            assert!(!err.message().contains("S3cr3t"), "{}", err.message());
            assert!(!err.message().contains("eyJ"), "{}", err.message());
            assert!(err.message().contains("[redacted]"), "{}", err.message());
        }
    }

    #[test]
    fn a_token_type_is_shown_short_and_redacted() {
        let err = parse_token_response(&response(
            200,
            &format!(r#"{{"access_token":"a","token_type":"{AT}{RT}"}}"#),
        ))
        .unwrap_err();
        assert!(!err.message().contains("S3cr3t"), "{}", err.message());
    }

    #[test]
    fn expires_in_is_capped_at_ten_years() {
        for value in [
            "18446744073709551615",
            "9223372036854775808",
            "1e300",
            "\"18446744073709551616\"",
            "315360001",
        ] {
            let t = parse_token_response(&response(
                200,
                &format!(r#"{{"access_token":"a","token_type":"Bearer","expires_in":{value}}}"#),
            ))
            .unwrap();
            assert_eq!(t.expires_in, Some(MAX_TOKEN_LIFETIME_SECS), "{value}");
        }
        for (value, expected) in [("3600.5", Some(3600)), ("-1", None), ("\"x\"", None)] {
            let t = parse_token_response(&response(
                200,
                &format!(r#"{{"access_token":"a","token_type":"Bearer","expires_in":{value}}}"#),
            ))
            .unwrap();
            assert_eq!(t.expires_in, expected, "{value}");
        }
    }

    #[test]
    fn clock_skew_of_any_size_is_said_without_overflow() {
        assert_eq!(clock_skew_warning(1_000, 1_030), None);
        let behind = clock_skew_warning(1_000_000, 1_000_000 - 3_700).unwrap();
        assert!(behind.contains("1h 01m behind"), "{behind}");
        // Year 9999 against 1970, and the reverse.
        let far = clock_skew_warning(253_402_300_799, 0).unwrap();
        assert!(far.contains("more than a year behind"), "{far}");
        let far = clock_skew_warning(0, u64::MAX).unwrap();
        assert!(far.contains("more than a year ahead of"), "{far}");
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

    #[test]
    fn a_4xx_without_an_oauth_error_is_a_refusal_not_a_network_failure() {
        for (status, body, shown) in [
            (400, "", "(empty body)"),
            (400, "  \n", "(empty body)"),
            (401, "", "(empty body)"),
            (
                403,
                "<html><h1>Forbidden</h1></html>",
                "<html><h1>Forbidden</h1></html>",
            ),
            (
                404,
                r#"{"message":"no such route"}"#,
                r#"{"message":"no such route"}"#,
            ),
            (400, r#"{"error":5}"#, r#"{"error":5}"#),
        ] {
            let err = parse_token_response(&response(status, body)).unwrap_err();
            assert_eq!(
                err.exit_code(),
                ExitCode::ProviderRefused,
                "{status} {body}"
            );
            assert_eq!(
                err.message(),
                format!(
                    "the identity provider refused with HTTP {status} but no OAuth error: {shown}"
                )
            );
            assert_eq!(err.oauth_code(), None, "no OAuth code to act on");
        }
        // A redirect is no refusal, and 429 and 5xx are the provider failing: still exit 6.
        for status in [302, 429, 500, 502] {
            let err = parse_token_response(&response(status, "")).unwrap_err();
            assert_eq!(err.exit_code(), ExitCode::Network, "{status}");
        }
    }

    #[test]
    fn oauth_errors_carry_the_code_and_the_providers_words() {
        let err = parse_token_response(&response(
            400,
            r#"{"error":"invalid_scope","error_description":"no\u001b[2J"}"#,
        ))
        .unwrap_err();
        assert_eq!(err.oauth_code(), Some(&OAuthCode::InvalidScope));
        assert_eq!(
            err.oauth().map(|refusal| refusal.said.as_str()),
            Some(r"invalid_scope: no\u{1b}[2J")
        );
    }

    fn tokens(body: &str, now: u64) -> TokenResponse {
        parse_token_response_at(&response(200, body), now).unwrap()
    }

    #[test]
    fn scope_may_be_a_list_of_strings() {
        let t = tokens(
            r#"{"access_token":"a","token_type":"Bearer","scope":["openid","email","offline_access"]}"#,
            0,
        );
        assert_eq!(t.scope.as_deref(), Some("openid email offline_access"));
        let t = tokens(
            r#"{"access_token":"a","token_type":"Bearer","scope":[]}"#,
            0,
        );
        assert_eq!(t.scope, None, "an empty list is no scope");
        let t = tokens(
            r#"{"access_token":"a","token_type":"Bearer","scope":null}"#,
            0,
        );
        assert_eq!(t.scope, None);
        // A list of anything else is described, like any broken success answer.
        for scope in [r#"["openid",5]"#, "5", r#"{"openid":true}"#] {
            let body =
                format!(r#"{{"access_token":"{AT}","token_type":"Bearer","scope":{scope}}}"#);
            let err = parse_token_response(&response(200, &body)).unwrap_err();
            assert_eq!(err.exit_code(), ExitCode::Network, "{scope}");
            assert!(
                err.message()
                    .contains("its scope is neither a string nor a list of strings"),
                "{}",
                err.message()
            );
            assert!(!err.message().contains("S3cr3t"), "{}", err.message());
        }
    }

    #[test]
    fn token_type_bearer_in_any_case() {
        for token_type in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let t = tokens(
                &format!(r#"{{"access_token":"a","token_type":"{token_type}"}}"#),
                0,
            );
            assert_eq!(t.token_type, "Bearer", "{token_type}");
        }
    }

    #[test]
    fn expires_in_as_a_number_or_a_numeric_string() {
        for value in ["3600", "\"3600\"", "\" 3600 \"", "3600.9", "\"3600.9\""] {
            let t = tokens(
                &format!(r#"{{"access_token":"a","token_type":"Bearer","expires_in":{value}}}"#),
                0,
            );
            assert_eq!(t.expires_in, Some(3600), "{value}");
        }
        for value in ["-5", "\"-5\"", "\"\"", "\"1h\"", "true", "[3600]", "null"] {
            let t = tokens(
                &format!(r#"{{"access_token":"a","token_type":"Bearer","expires_in":{value}}}"#),
                0,
            );
            assert_eq!(t.expires_in, None, "{value}");
        }
    }

    /// An unsigned JWT with these claims: only its `exp` is read.
    fn jwt(claims: &str) -> String {
        use base64::Engine;
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.c2ln",
            enc(r#"{"alg":"RS256","typ":"at+jwt"}"#),
            enc(claims)
        )
    }

    #[test]
    fn without_expires_in_a_jwt_access_tokens_exp_is_used() {
        let now = 1_700_000_000;
        let body = |token: &str, extra: &str| {
            format!(r#"{{"access_token":"{token}","token_type":"Bearer"{extra}}}"#)
        };
        let at = jwt(&format!(r#"{{"sub":"a","exp":{}}}"#, now + 900));
        assert_eq!(tokens(&body(&at, ""), now).expires_in, Some(900));
        // expires_in, when usable, is what the provider says about this response: it wins.
        assert_eq!(
            tokens(&body(&at, r#","expires_in":60"#), now).expires_in,
            Some(60)
        );
        // One that is no number of seconds is as good as none: the JWT's exp then.
        assert_eq!(
            tokens(&body(&at, r#","expires_in":"soon""#), now).expires_in,
            Some(900)
        );
        for (claims, expected) in [
            // Already past: expired now, not never.
            (format!(r#"{{"exp":{}}}"#, now - 10), Some(0)),
            // Absurdly far, or beyond any integer: capped like expires_in.
            (
                r#"{"exp":9223372036854775807}"#.to_owned(),
                Some(MAX_TOKEN_LIFETIME_SECS),
            ),
            (r#"{"exp":-1}"#.to_owned(), None),
            (r#"{"exp":1e300}"#.to_owned(), None),
            (r#"{"exp":"1700000900"}"#.to_owned(), None),
            (r#"{"sub":"no exp"}"#.to_owned(), None),
        ] {
            assert_eq!(
                tokens(&body(&jwt(&claims), ""), now).expires_in,
                expected,
                "{claims}"
            );
        }
        // An opaque token, or something only shaped like a JWT: the expiry is unknown.
        for token in ["opaque-token", "a.b.c", "e30.e30"] {
            assert_eq!(tokens(&body(token, ""), now).expires_in, None, "{token}");
        }
    }

    #[test]
    fn another_api_is_asked_for_by_audience_at_auth0_and_by_resource_elsewhere() {
        let api = ApiRequest::new(
            "https://billing/",
            &["write:x read:x".into(), "read:x".into()],
        );
        assert_eq!(api.scopes, ["read:x", "write:x"]);
        let auth0 = ProviderKind::Auth0 {
            domain: "t.auth0.com".into(),
        };
        assert_eq!(
            api.parameters(&auth0, Dialect::Standard),
            [
                ("audience", "https://billing/".to_owned()),
                ("scope", "read:x write:x".to_owned())
            ]
        );
        assert_eq!(
            api.parameters(&ProviderKind::Discovery, Dialect::Standard)[0],
            ("resource", "https://billing/".to_owned())
        );
    }

    #[test]
    fn entra_names_the_api_in_the_scope_and_never_sends_resource() {
        let entra = |audience: &str, scopes: &[&str]| {
            let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
            ApiRequest::new(audience, &scopes).parameters(&ProviderKind::Discovery, Dialect::Entra)
        };
        assert_eq!(
            entra("api://billing", &[]),
            [("scope", "api://billing/.default".to_owned())]
        );
        assert_eq!(
            entra("https://billing.example.com/", &["read", "offline_access"]),
            [(
                "scope",
                "offline_access https://billing.example.com/read".to_owned()
            )]
        );
        assert_eq!(
            entra("api://billing", &["api://billing/write"]),
            [("scope", "api://billing/write".to_owned())]
        );
        // Scopes alone, for any provider: the login's API, those scopes, nothing else.
        let only = ApiRequest::new("", &["api://x/.default".into()]);
        assert!(only.is_scope_only());
        for kind in [
            ProviderKind::Discovery,
            ProviderKind::Auth0 { domain: "t".into() },
        ] {
            for dialect in [Dialect::Standard, Dialect::Entra] {
                assert_eq!(
                    only.parameters(&kind, dialect),
                    [("scope", "api://x/.default".to_owned())]
                );
            }
        }
    }
}
