//! A valid access token for a profile: the stored one while it has time left, otherwise one
//! refresh that is single-flight across processes (a per-profile lock, and a re-read under it).

use crate::base::clock::unix_now;
use crate::base::error::{Error, ExitCode, Result};
use crate::config::Profile;
use crate::config::parse_endpoint;
use crate::net::http::Http;
use crate::net::retry::Resend;
use crate::net::url::Url;
use crate::oauth::endpoints::Provider;
use crate::oauth::id_token;
use crate::oauth::token_endpoint;
use crate::store::{Key, Origin, RefreshRefused, StoredTokens, TokenStore};
use std::time::Duration;

/// A token obtained this recently is as fresh as a refresh would make it, even when the
/// provider's lifetime is shorter than `--min-valid`: refreshing again would only burn a
/// rotating refresh token for nothing.
const JUST_ISSUED_SECS: u64 = 5;

/// Whether these tokens were obtained moments ago (by this or another process) and are unexpired.
fn just_issued(tokens: &StoredTokens, now: u64) -> bool {
    now.saturating_sub(tokens.obtained_at) <= JUST_ISSUED_SECS
        && tokens.expires_at.is_none_or(|at| at > now)
}

/// Which token the caller needs to be fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    AccessToken,
    IdToken,
}

/// Whether `tokens` has more than `min_valid` left for what is needed. A token whose expiry
/// the provider did not state is taken as valid: there is nothing better to go on.
pub fn is_fresh(tokens: &StoredTokens, need: Need, min_valid: Duration, now: u64) -> bool {
    let expires_at = match need {
        Need::AccessToken => tokens.expires_at,
        Need::IdToken => tokens
            .id_token
            .as_ref()
            .and_then(|t| crate::oauth::jwt::unverified_claims(t.secret()).ok())
            .and_then(|c| c.exp)
            .and_then(|exp| u64::try_from(exp).ok()),
    };
    match expires_at {
        Some(at) => at > now.saturating_add(min_valid.as_secs()),
        None => true,
    }
}

/// The not-logged-in error, the same everywhere.
pub fn not_logged_in(profile: &str) -> Error {
    Error::login_required(format!("profile `{profile}` is not logged in"))
        .hint(format!("run `latchkey login -p {profile}`"))
}

/// Returns tokens good for `min_valid` more, refreshing when needed. Never prompts for a login
/// and never opens a browser: without a usable refresh token it is exit 4.
pub fn valid_tokens(
    profile: &Profile,
    store: &TokenStore,
    need: Need,
    min_valid: Duration,
) -> Result<StoredTokens> {
    let Some(first) = store.read_sealed(&profile.name)? else {
        return Err(not_logged_in(&profile.name));
    };
    let (tokens, key) = first.open_with(store, &profile.key_source)?;
    tokens.check_bound_to(profile)?;
    crate::debug!(
        "stored tokens of `{}`: {}; key: {}",
        profile.name,
        tokens.expires_at.map_or_else(
            || "no stated expiry".to_owned(),
            |at| crate::base::duration::relative(at, unix_now())
        ),
        key.describe()
    );
    if is_fresh(&tokens, need, min_valid, unix_now()) || just_issued(&tokens, unix_now()) {
        return Ok(tokens);
    }

    crate::debug!(
        "less than {}s left: taking the profile lock to refresh",
        min_valid.as_secs()
    );
    let _lock = store.lock(&profile.name)?;
    // Another process may have refreshed while we waited for the lock: with rotating refresh
    // tokens, refreshing again with the old one would be a replay that revokes the grant.
    let Some(second) = store.read_sealed(&profile.name)? else {
        return Err(not_logged_in(&profile.name));
    };
    let current = second.open(&key)?;
    current.check_bound_to(profile)?;
    // (Unless what it wrote is the provider's refusal of the refresh token: then this one fails
    // as that one did, below, without a request.)
    if !second.same_as(&first)
        && current.refresh_refused.is_none()
        && current.expires_at.is_none_or(|at| at > unix_now())
    {
        crate::debug!("another process refreshed while this one waited: using its tokens");
        return Ok(current);
    }
    if is_fresh(&current, need, min_valid, unix_now()) || just_issued(&current, unix_now()) {
        return Ok(current);
    }
    refresh_locked(profile, store, &key, current)
}

/// Refreshes while the caller holds the profile's lock, and stores the result.
fn refresh_locked(
    profile: &Profile,
    store: &TokenStore,
    key: &Key,
    current: StoredTokens,
) -> Result<StoredTokens> {
    if let Some(refused) = &current.refresh_refused {
        return Err(refused_before(&profile.name, refused));
    }
    let Some(refresh_token) = current.refresh_token.as_ref() else {
        return Err(Error::login_required(format!(
            "the access token of profile `{}` has expired and no refresh token is stored",
            profile.name
        ))
        .hint(format!(
            "run `latchkey login -p {}` (add offline_access to the profile's scopes to get a refresh token)",
            profile.name
        )));
    };
    // A refresh is resent after timeouts and 5xx too: without it there is no token at all, and
    // a provider's rotation reuse interval (Auth0's) lets a repeat through.
    let http = Http::new(profile.http_settings(Resend::Transient));
    let provider = Provider::new(profile, &http, Some(store.metadata_path(&profile.name)));
    provider.check_cache()?;
    let sent = match bound_endpoints(&current)? {
        // Bound at login: the refresh token goes back where it came from, and only there.
        Some((token_url, revocation_url)) => {
            refresh_with_retries(&http, &token_url, profile, &provider, refresh_token)
                .map(|response| (token_url, revocation_url, response))
        }
        None => legacy_refresh(&http, &provider, profile, refresh_token),
    };
    let (token_url, revocation_url, response) = match sent {
        Ok(sent) => sent,
        Err(e) if is_dead_refresh_token(&e) => {
            return Err(record_refusal(profile, store, key, current, e));
        }
        Err(e) => return Err(e),
    };
    token_endpoint::warn_on_clock_skew(response.date.as_deref());
    if let Some(id_token) = &response.id_token {
        let expected = id_token::Expected {
            issuer: &current.issuer,
            client_id: &profile.client_id,
            nonce: None,
            now: unix_now(),
        };
        id_token::validate(id_token, &expected, &mut |force| provider.jwks(force))?;
    }
    let mut fresh = StoredTokens::new(
        response,
        Origin {
            issuer: &current.issuer,
            client_id: &current.client_id,
            audience: current.audience.as_deref(),
            token_endpoint: &token_url.to_string(),
            revocation_endpoint: revocation_url.map(|u| u.to_string()).as_deref(),
        },
    );
    // A provider that does not rotate sends no new refresh token: the old one stays good.
    if fresh.refresh_token.is_none() {
        fresh.refresh_token = current.refresh_token.clone();
    }
    if fresh.id_token.is_none() {
        fresh.id_token = current.id_token.clone();
    }
    if fresh.scope.is_none() {
        fresh.scope = current.scope.clone();
    }
    store.save(&profile.name, &fresh, key)?;
    Ok(fresh)
}

/// Whether a refresh failed because the provider refused the refresh token itself
/// (`invalid_grant` in a 4xx, RFC 6749 §5.2): the one answer that says it is dead. A 5xx, a 429
/// or a 4xx without an OAuth error may be passing, and say nothing about the token.
fn is_dead_refresh_token(e: &Error) -> bool {
    e.exit_code() == ExitCode::LoginRequired && e.oauth_code() == Some("invalid_grant")
}

/// Records in the token file, under the profile's lock the caller holds, that the provider
/// refused the refresh token: the token is dropped, so no later `token` sends it again (with
/// reuse detection, each resend would look like a replay), and `status` says a login is
/// needed and why. The access token is kept while it lasts. Returns the refusal, to report.
fn record_refusal(
    profile: &Profile,
    store: &TokenStore,
    key: &Key,
    mut current: StoredTokens,
    refusal: Error,
) -> Error {
    current.refresh_token = None;
    current.refresh_refused = Some(RefreshRefused {
        at: unix_now(),
        said: refusal
            .provider_said()
            .unwrap_or("invalid_grant")
            .to_owned(),
    });
    // The refusal is what the user must hear about; a file that cannot be written only means
    // the next `token` asks the provider again (and hears the same).
    if let Err(e) = store.save(&profile.name, &current, key) {
        eprintln!(
            "warning: could not record that the refresh token was refused: {}",
            e.message()
        );
    }
    refusal
}

/// The error for a profile whose refresh token the provider refused earlier: nothing is sent.
fn refused_before(profile: &str, refused: &RefreshRefused) -> Error {
    Error::login_required(format!(
        "profile `{profile}` must log in again: the provider refused its refresh token at {} ({}); it is not sent again",
        crate::base::duration::rfc3339(refused.at),
        crate::base::text::shown(&refused.said)
    ))
    .hint(format!("run `latchkey login -p {profile}`"))
}

/// The endpoints recorded with the tokens, or `None` for a file written before they were.
fn bound_endpoints(current: &StoredTokens) -> Result<Option<(Url, Option<Url>)>> {
    let Some(token) = &current.token_endpoint else {
        return Ok(None);
    };
    // The file is ours and authenticated by age, but is parsed as strictly as any input.
    let parse = |url: &str| {
        parse_endpoint(url).map_err(|why| {
            Error::store(format!("the stored token endpoint is not usable: {why}"))
                .hint("log in again to record it anew")
        })
    };
    // The revocation endpoint is only carried over for `logout`, which checks it again there: a
    // damaged one must not stop a refresh, and is dropped rather than kept.
    let revocation = current
        .revocation_endpoint
        .as_deref()
        .and_then(|url| parse_endpoint(url).ok());
    Ok(Some((parse(token)?, revocation)))
}

/// A refresh for tokens stored before their endpoints were recorded: the profile's endpoints
/// (its issuer and client were checked against the file's), recorded from now on.
fn legacy_refresh(
    http: &Http,
    provider: &Provider<'_>,
    profile: &Profile,
    refresh_token: &crate::base::secret::RefreshToken,
) -> Result<(Url, Option<Url>, token_endpoint::TokenResponse)> {
    let endpoints = provider.endpoints()?;
    match refresh_with_retries(http, &endpoints.token, profile, provider, refresh_token) {
        // A token endpoint from a cached discovery document that keeps failing may have moved:
        // look again, and try once more if it did.
        Err(e) if endpoints.from_cache && e.exit_code() == ExitCode::Network => {
            let fresh = provider.endpoints_fresh()?;
            if fresh.token == endpoints.token {
                return Err(e);
            }
            let response =
                refresh_with_retries(http, &fresh.token, profile, provider, refresh_token)?;
            Ok((fresh.token, fresh.revocation, response))
        }
        other => Ok((endpoints.token, endpoints.revocation, other?)),
    }
}

/// The refresh request; `http` retries transient failures (network, timeouts, 5xx, 429, see
/// [`crate::net::retry`]), and a failure says how many attempts were made. A client secret, if
/// the profile has one, is sent as the provider's (cached) metadata says.
fn refresh_with_retries(
    http: &Http,
    token_url: &crate::net::url::Url,
    profile: &Profile,
    provider: &Provider<'_>,
    refresh_token: &crate::base::secret::RefreshToken,
) -> Result<token_endpoint::TokenResponse> {
    let auth = provider.auth_methods().token;
    token_endpoint::refresh(http, token_url, profile, auth, refresh_token).map_err(|e| {
        let attempts = http.last_attempts();
        if e.exit_code() != ExitCode::Network || attempts < 2 {
            return e;
        }
        let hint = match e.hint_text() {
            Some(hint) => format!("{hint}; the stored tokens are unchanged"),
            None => "the stored tokens are unchanged; try again when the provider is reachable"
                .to_owned(),
        };
        Error::network(format!("{} (after {attempts} attempts)", e.message())).hint(hint)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::secret::{AccessToken, IdToken};

    fn tokens(expires_at: Option<u64>) -> StoredTokens {
        StoredTokens {
            version: 1,
            access_token: AccessToken::new("a"),
            refresh_token: None,
            id_token: None,
            expires_at,
            scope: None,
            token_type: "Bearer".into(),
            issuer: "i".into(),
            client_id: "c".into(),
            audience: None,
            obtained_at: 0,
            token_endpoint: None,
            revocation_endpoint: None,
            refresh_refused: None,
        }
    }

    #[test]
    fn freshness_keeps_a_margin() {
        let min = Duration::from_secs(60);
        assert!(is_fresh(&tokens(Some(1_000)), Need::AccessToken, min, 900));
        assert!(!is_fresh(&tokens(Some(1_000)), Need::AccessToken, min, 940));
        assert!(!is_fresh(
            &tokens(Some(1_000)),
            Need::AccessToken,
            min,
            2_000
        ));
        assert!(is_fresh(&tokens(None), Need::AccessToken, min, 2_000));
    }

    #[test]
    fn id_token_freshness_reads_its_exp() {
        use base64::Engine;
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let mut t = tokens(Some(10_000));
        t.id_token = Some(IdToken::new(format!(
            "{}.{}.c2ln",
            enc(r#"{"alg":"RS256"}"#),
            enc(r#"{"exp":1000}"#)
        )));
        assert!(is_fresh(&t, Need::IdToken, Duration::from_secs(60), 900));
        assert!(!is_fresh(&t, Need::IdToken, Duration::from_secs(60), 960));
    }
}
