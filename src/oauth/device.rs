//! The device authorization grant (RFC 8628): ask for a user code, show where to enter it,
//! and poll the token endpoint at the pace the provider sets until the user has decided.

use crate::base::error::{Error, ExitCode, Result};
use crate::base::secret::DeviceCode;
use crate::config::Profile;
use crate::net::http::Http;
use crate::net::url::Url;
use crate::oauth::token_endpoint::{self, TokenResponse};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// RFC 8628 §3.2: the polling interval when the provider names none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// §3.5: `slow_down` adds five seconds to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Transient failures in a row tolerated while polling before giving up.
const MAX_TRANSIENT_FAILURES: u32 = 3;

/// The device authorization response (§3.2).
#[derive(Debug, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: DeviceCode,
    pub user_code: String,
    /// Some providers (Google) call it `verification_url`.
    #[serde(alias = "verification_url")]
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    pub interval: Option<u64>,
}

impl DeviceAuthorization {
    pub fn interval(&self) -> Duration {
        self.interval
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_INTERVAL)
            .max(Duration::from_secs(1))
    }
}

/// Asks the device authorization endpoint for a device code and user code.
pub fn request(http: &Http, url: &Url, profile: &Profile) -> Result<DeviceAuthorization> {
    let scope = profile.scopes.join(" ");
    let mut pairs = vec![
        ("client_id", profile.client_id.as_str()),
        ("scope", scope.as_str()),
    ];
    if let Some(audience) = &profile.audience {
        pairs.push(("audience", audience));
    }
    let body = profile.token_request_format.body(&pairs);
    let response = http.post(url, body, "device authorization")?;
    if !response.is_success() {
        if let Some((error, description)) = token_endpoint::oauth_error_of(&response) {
            return Err(token_endpoint::oauth_error(&error, description.as_deref()));
        }
        return Err(Error::network(format!(
            "device authorization: the provider answered HTTP {}: {}",
            response.status,
            response.excerpt()
        )));
    }
    let authorization: DeviceAuthorization = serde_json::from_str(&response.body).map_err(|e| {
        Error::network(format!(
            "device authorization: the answer is not a device authorization response ({e}): {}",
            response.excerpt()
        ))
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
    authorization: &DeviceAuthorization,
    deadline: Instant,
    tick: &mut dyn FnMut(Duration),
) -> Result<TokenResponse> {
    let mut interval = authorization.interval();
    let mut transient_failures = 0;
    loop {
        let next = Instant::now() + interval;
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
        match poll_once(http, token_url, profile, &authorization.device_code) {
            Ok(Poll::Done(tokens)) => return Ok(tokens),
            Ok(Poll::Pending) => transient_failures = 0,
            Ok(Poll::SlowDown) => {
                transient_failures = 0;
                interval += SLOW_DOWN_STEP;
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
    device_code: &DeviceCode,
) -> Result<Poll> {
    let pairs = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code.secret()),
        ("client_id", profile.client_id.as_str()),
    ];
    let body = profile.token_request_format.body(&pairs);
    let response = http.post(token_url, body, "device token request")?;
    if (400..500).contains(&response.status)
        && response.status != 429
        && let Some((error, description)) = token_endpoint::oauth_error_of(&response)
    {
        return match error.as_str() {
            "authorization_pending" => Ok(Poll::Pending),
            "slow_down" => Ok(Poll::SlowDown),
            "access_denied" => Err(Error::provider(
                "the login was denied on the device page (access_denied)",
            )
            .hint("run `latchkey login --device` again and approve it, if that was a mistake")),
            "expired_token" => Err(expired()),
            _ => Err(token_endpoint::oauth_error(&error, description.as_deref())),
        };
    }
    token_endpoint::parse_token_response(&response).map(Poll::Done)
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
}
