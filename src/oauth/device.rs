//! The device authorization grant (RFC 8628): ask for a user code, show where to enter it,
//! and poll the token endpoint at the pace the provider sets until the user has decided.

use crate::base::duration::provider_seconds;
use crate::base::error::{Error, ExitCode, OAuthCode, Result};
use crate::base::secret::{DeviceCode, PkceVerifier};
use crate::config::Profile;
use crate::net::http::{Http, Response};
use crate::net::url::Url;
use crate::oauth::client_auth::{AuthMethod, Client};
use crate::oauth::hints;
use crate::oauth::pkce::{challenge_s256, new_verifier};
use crate::oauth::token_endpoint::{self, TokenResponse};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// RFC 8628 §3.2: the polling interval when the provider names none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// §3.5: `slow_down` adds five seconds to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Transient failures in a row tolerated while polling before giving up.
const MAX_TRANSIENT_FAILURES: u32 = 3;
/// The longest pause between polls, whatever `interval` and `slow_down`s ask for: a minute.
/// Providers ask for 5 s; waiting longer only delays the login after it is approved, and a
/// provider that wants more says `slow_down` again, which costs nothing.
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// The longest a device code is waited for, whatever its `expires_in`: an hour. Providers give
/// 10 to 30 minutes (Okta and Keycloak 600 s, Auth0 and GitHub 900 s, Google 1800 s).
pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// The device authorization response (§3.2). `expires_in` and `interval` are read as any
/// non-negative number of seconds (or a string of one) and capped at [`MAX_LIFETIME`] and
/// [`MAX_INTERVAL`], so no provider number can overflow a deadline.
#[derive(Debug, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: DeviceCode,
    pub user_code: String,
    /// Some providers (Google) call it `verification_url`.
    #[serde(alias = "verification_url")]
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    /// Seconds, at most [`MAX_LIFETIME`].
    #[serde(deserialize_with = "lifetime_seconds")]
    pub expires_in: u64,
    /// Seconds, at most [`MAX_INTERVAL`].
    #[serde(default, deserialize_with = "interval_seconds")]
    pub interval: Option<u64>,
    /// Ours, not the provider's: the PKCE verifier whose S256 challenge the request sent, if
    /// it sent one; every poll carries it, since a provider that checks it (Keycloak) may do
    /// so on any poll.
    #[serde(skip)]
    pub code_verifier: Option<PkceVerifier>,
}

fn lifetime_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    provider_seconds(&value, MAX_LIFETIME.as_secs())
        .ok_or_else(|| serde::de::Error::custom("expires_in is not a number of seconds"))
}

fn interval_seconds<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<u64>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    if value.is_null() {
        return Ok(None);
    }
    provider_seconds(&value, MAX_INTERVAL.as_secs())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("interval is not a number of seconds"))
}

impl DeviceAuthorization {
    /// The pause between polls: the provider's `interval` (5 s when it names none), at least a
    /// second and at most [`MAX_INTERVAL`].
    pub fn interval(&self) -> Duration {
        self.interval
            .map_or(DEFAULT_INTERVAL, Duration::from_secs)
            .clamp(Duration::from_secs(1), MAX_INTERVAL)
    }

    /// How long the device code lives: its `expires_in`, at most [`MAX_LIFETIME`].
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.expires_in).min(MAX_LIFETIME)
    }
}

/// What is wrong with a 2xx answer that is no device authorization response, in words that
/// quote none of it (it may hold a device code).
fn success_problem(body: &str) -> String {
    let object = match crate::oauth::token_endpoint::json_object(body) {
        Ok(object) => object,
        Err(problem) => return problem,
    };
    let present = |field: &str| object.get(field).filter(|v| !v.is_null());
    let uri_field =
        if present("verification_uri").is_none() && present("verification_url").is_some() {
            "verification_url"
        } else {
            "verification_uri"
        };
    for field in ["device_code", "user_code", uri_field] {
        match present(field) {
            None => return format!("it has no {field}"),
            Some(v) if !v.is_string() => return format!("its {field} is not a string"),
            Some(_) => {}
        }
    }
    if present("verification_uri_complete").is_some_and(|v| !v.is_string()) {
        return "its verification_uri_complete is not a string".to_owned();
    }
    match present("expires_in") {
        None => return "it has no expires_in".to_owned(),
        Some(v) if provider_seconds(v, u64::MAX).is_none() => {
            return "its expires_in is not a number of seconds".to_owned();
        }
        Some(_) => {}
    }
    if present("interval").is_some_and(|v| provider_seconds(v, u64::MAX).is_none()) {
        return "its interval is not a number of seconds".to_owned();
    }
    "it is not a device authorization response".to_owned()
}

/// Asks the device authorization endpoint for a device code and user code. A client secret,
/// when the profile has one, is sent as to the token endpoint (`auth`; RFC 8628 §3.1).
/// `pkce_s256` (the provider's metadata lists S256): the request carries a PKCE challenge
/// (RFC 7636) and the answer the verifier its polls send. RFC 8628 has no PKCE, and most
/// providers ignore it there, but Keycloak refuses a device request without it from a client
/// that must use PKCE; a provider that does not list S256 gets neither parameter.
pub fn request(
    http: &Http,
    url: &Url,
    profile: &Profile,
    auth: AuthMethod,
    pkce_s256: bool,
) -> Result<DeviceAuthorization> {
    let verifier = pkce_s256.then(new_verifier);
    let challenge = verifier.as_ref().map(challenge_s256);
    let scope = profile.login_scope();
    let pairs = authorization_pairs(profile, &scope, challenge.as_deref());
    let response = Client::of(profile, auth).post(
        http,
        url,
        profile.token_request_format,
        &pairs,
        "device authorization",
    )?;
    let mut authorization =
        parse_device_authorization(&response).map_err(|e| hints::profile_mismatch(profile, e))?;
    authorization.code_verifier = verifier;
    Ok(authorization)
}

/// The device authorization request's parameters (before the client's identification).
fn authorization_pairs<'a>(
    profile: &'a Profile,
    scope: &'a str,
    challenge: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    let mut pairs = vec![("scope", scope)];
    if let Some(audience) = profile.login_audience() {
        pairs.push(("audience", audience));
    }
    if let Some(organization) = &profile.organization {
        pairs.push(("organization", organization));
    }
    if let Some(challenge) = challenge {
        pairs.push(("code_challenge", challenge));
        pairs.push(("code_challenge_method", "S256"));
    }
    pairs
}

/// One poll's parameters (before the client's identification): the device code, and the PKCE
/// verifier when the request sent a challenge.
fn poll_pairs(authorization: &DeviceAuthorization) -> Vec<(&'static str, &str)> {
    let mut pairs = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", authorization.device_code.secret()),
    ];
    if let Some(verifier) = &authorization.code_verifier {
        pairs.push(("code_verifier", verifier.secret()));
    }
    pairs
}

/// Reads the device authorization endpoint's answer: an OAuth error is exit 5 with the
/// provider's words, another failure exit 6 with a redacted excerpt, and a 2xx answer that is
/// no device authorization response is described, never quoted (it may hold a device code).
pub fn parse_device_authorization(response: &Response) -> Result<DeviceAuthorization> {
    if !response.is_success() {
        if let Some(answer) = token_endpoint::error_answer(response) {
            return Err(answer.into_error());
        }
        return Err(Error::network(format!(
            "device authorization: the provider answered HTTP {}: {}",
            response.status,
            response.excerpt()
        ))
        .hint("the provider or a proxy in between failed; try again, and check the device authorization endpoint"));
    }
    // A successful answer holds a device code: it is described, never quoted.
    let authorization: DeviceAuthorization =
        serde_json::from_str(&response.body).map_err(|_| {
            // An OAuth error with a 2xx status is still the provider's refusal.
            if let Some(answer) = token_endpoint::error_answer(response) {
                return answer.into_error();
            }
            Error::network(format!(
                "device authorization: the provider's HTTP {} answer is not a device authorization response: {} ({}; its body is not shown, as it may hold a device code)",
                response.status,
                success_problem(&response.body),
                response.content_type_shown()
            ))
            .hint("the provider or a proxy in between failed; try again, and check the device authorization endpoint")
        })?;
    for uri in std::iter::once(&authorization.verification_uri)
        .chain(authorization.verification_uri_complete.as_ref())
    {
        crate::config::parse_endpoint(uri).map_err(|m| {
            Error::provider(format!(
                "device authorization: the verification URI is unusable: {m}"
            ))
        })?;
    }
    Ok(authorization)
}

/// What one poll found.
enum Poll {
    Done(TokenResponse),
    Pending,
    SlowDown,
}

/// Polls until the user approves (tokens), denies (exit 5) or the code expires (exit 8).
/// `tick` is called while waiting with the time left, for the spinner.
pub fn poll(
    http: &Http,
    token_url: &Url,
    profile: &Profile,
    auth: AuthMethod,
    authorization: &DeviceAuthorization,
    deadline: Instant,
    tick: &mut dyn FnMut(Duration),
) -> Result<TokenResponse> {
    let mut interval = authorization.interval();
    let mut transient_failures = 0;
    loop {
        // `interval` is at most a minute, but a deadline is never computed unchecked.
        let Some(next) = Instant::now().checked_add(interval) else {
            return Err(expired());
        };
        while Instant::now() < next {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(expired());
            }
            tick(left);
            std::thread::sleep(
                next.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(200)),
            );
        }
        match poll_once(http, token_url, profile, auth, authorization) {
            Ok(Poll::Done(tokens)) => return Ok(tokens),
            Ok(Poll::Pending) => transient_failures = 0,
            Ok(Poll::SlowDown) => {
                transient_failures = 0;
                interval = interval.saturating_add(SLOW_DOWN_STEP).min(MAX_INTERVAL);
            }
            Err(e)
                if e.exit_code() == ExitCode::Network
                    && transient_failures < MAX_TRANSIENT_FAILURES =>
            {
                transient_failures += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn expired() -> Error {
    Error::aborted("the device code expired before the login was approved")
        .hint("run `latchkey login --device` again and confirm the code sooner")
}

fn poll_once(
    http: &Http,
    token_url: &Url,
    profile: &Profile,
    auth: AuthMethod,
    authorization: &DeviceAuthorization,
) -> Result<Poll> {
    let pairs = poll_pairs(authorization);
    let response = Client::of(profile, auth).post(
        http,
        token_url,
        profile.token_request_format,
        &pairs,
        "device token request",
    )?;
    // Read once: a 4xx OAuth error (RFC 8628 §3.5) says how the wait goes on, or why it ends.
    match token_endpoint::parse_token_response(&response) {
        Ok(tokens) => Ok(Poll::Done(tokens)),
        Err(e) if (400..500).contains(&response.status) => match e.oauth_code() {
            Some(OAuthCode::AuthorizationPending) => Ok(Poll::Pending),
            Some(OAuthCode::SlowDown) => Ok(Poll::SlowDown),
            Some(OAuthCode::AccessDenied) => Err(Error::provider(
                "the login was denied on the device page (access_denied)",
            )
            .hint("run `latchkey login --device` again and approve it, if that was a mistake")),
            Some(OAuthCode::ExpiredToken) => Err(expired()),
            Some(_) => Err(hints::profile_mismatch(profile, e)),
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_device_authorization_response() {
        let a: DeviceAuthorization = serde_json::from_str(
            r#"{"device_code":"d","user_code":"ABCD-EFGH","verification_url":"https://x/device","expires_in":600}"#,
        )
        .unwrap();
        assert_eq!(a.verification_uri, "https://x/device");
        assert_eq!(a.interval(), DEFAULT_INTERVAL);
        assert_eq!(format!("{:?}", a.device_code), "DeviceCode(redacted)");
        let b: DeviceAuthorization = serde_json::from_str(
            r#"{"device_code":"d","user_code":"u","verification_uri":"https://x/","expires_in":60,"interval":0}"#,
        )
        .unwrap();
        assert_eq!(b.interval(), Duration::from_secs(1), "never a busy loop");
    }

    fn parse(json: &str) -> DeviceAuthorization {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn extreme_numbers_are_capped_not_overflowed() {
        for (interval, expires_in) in [
            ("9223372036854775808", "600"),
            ("18446744073709551615", "18446744073709551615"),
            ("1e300", "184467440737095516160000"),
            ("\"99999999999999999999999\"", "\"18446744073709551616\""),
        ] {
            let a = parse(&format!(
                r#"{{"device_code":"d","user_code":"u","verification_uri":"https://x/","expires_in":{expires_in},"interval":{interval}}}"#
            ));
            assert_eq!(a.interval(), MAX_INTERVAL, "{interval}");
            assert!(a.lifetime() <= MAX_LIFETIME, "{expires_in}");
            // What the login and the poll loop compute from them.
            let now = Instant::now();
            assert!(now.checked_add(a.interval()).is_some());
            assert!(now.checked_add(a.lifetime()).is_some());
        }
        let a = parse(
            r#"{"device_code":"d","user_code":"u","verification_uri":"https://x/","expires_in":"900","interval":null}"#,
        );
        assert_eq!(a.lifetime(), Duration::from_secs(900));
        assert_eq!(a.interval(), DEFAULT_INTERVAL);
    }

    #[test]
    fn numbers_that_are_no_seconds_are_refused() {
        for (field, value) in [
            ("expires_in", "-1"),
            ("expires_in", "\"soon\""),
            ("expires_in", "null"),
            ("interval", "-5"),
            ("interval", "[5]"),
        ] {
            let mut doc = serde_json::json!({"device_code":"d","user_code":"u","verification_uri":"https://x/","expires_in":600});
            doc[field] = serde_json::from_str(value).unwrap();
            let body = doc.to_string();
            assert!(
                serde_json::from_str::<DeviceAuthorization>(&body).is_err(),
                "{body}"
            );
            let problem = success_problem(&body);
            assert!(problem.contains(field), "{body}: {problem}");
        }
    }

    #[test]
    fn a_broken_answer_is_described_without_quoting_it() {
        for (body, expected) in [
            ("", "it is empty"),
            ("<html>device_code=dc-s3cret-value</html>", "it is not JSON"),
            ("[1]", "it is not a JSON object"),
            (
                r#"{"device_code":"dc-s3cret-value","user_code":"u","verification_uri":"https://x/"}"#,
                "it has no expires_in",
            ),
            (
                r#"{"device_code":5,"user_code":"u","verification_uri":"https://x/","expires_in":5}"#,
                "its device_code is not a string",
            ),
            (
                r#"{"device_code":"dc-s3cret-value","user_code":"u","expires_in":5}"#,
                "it has no verification_uri",
            ),
        ] {
            let problem = success_problem(body);
            assert_eq!(problem, expected, "{body}");
            assert!(!problem.contains("s3cret"));
        }
    }

    fn profile_with(extra: &str) -> Profile {
        let file = crate::config::ProfilesFile::parse(
            std::path::Path::new("/cfg/profiles.toml"),
            crate::config::paths::ConfigOrigin::Flag,
            format!("[profiles.p]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n{extra}\n"),
        )
        .unwrap();
        file.resolve_profile("p", &crate::config::FlagOverrides::default())
            .unwrap()
    }

    #[test]
    fn the_request_carries_a_challenge_only_when_there_is_one() {
        let profile = profile_with("audience = \"https://api/\"");
        assert_eq!(
            authorization_pairs(&profile, "openid email", None),
            [("scope", "openid email"), ("audience", "https://api/")]
        );
        let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let challenge = challenge_s256(&verifier);
        let pairs = authorization_pairs(&profile, "openid", Some(&challenge));
        assert_eq!(
            pairs,
            [
                ("scope", "openid"),
                ("audience", "https://api/"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
                ),
                ("code_challenge_method", "S256"),
            ]
        );
        // The challenge, never the verifier, goes to the device authorization endpoint.
        assert!(pairs.iter().all(|(_, v)| !v.contains(verifier.secret())));
    }

    #[test]
    fn every_poll_carries_the_verifier_of_the_challenge_sent() {
        let mut a = parse(
            r#"{"device_code":"dc","user_code":"u","verification_uri":"https://x/","expires_in":600}"#,
        );
        let grant = ("grant_type", "urn:ietf:params:oauth:grant-type:device_code");
        assert_eq!(poll_pairs(&a), [grant, ("device_code", "dc")]);
        a.code_verifier = Some(PkceVerifier::new("v".repeat(43)));
        let verifier = "v".repeat(43);
        assert_eq!(
            poll_pairs(&a),
            [
                grant,
                ("device_code", "dc"),
                ("code_verifier", verifier.as_str())
            ]
        );
        // Kept out of a debug print, as the device code is.
        assert!(!format!("{a:?}").contains(&verifier));
    }

    #[test]
    fn a_provider_answer_cannot_supply_the_verifier() {
        let a = parse(
            r#"{"device_code":"dc","user_code":"u","verification_uri":"https://x/","expires_in":600,"code_verifier":"theirs"}"#,
        );
        assert!(a.code_verifier.is_none());
    }

    #[test]
    fn slow_down_never_pushes_the_interval_past_the_cap() {
        let mut interval = MAX_INTERVAL;
        for _ in 0..5 {
            interval = interval.saturating_add(SLOW_DOWN_STEP).min(MAX_INTERVAL);
        }
        assert_eq!(interval, MAX_INTERVAL);
    }
}
