//! A valid access token for a profile: the stored one while it has time left, otherwise one
//! refresh that is single-flight across processes (a per-profile lock, and a re-read under it).

use crate::config::Profile;
use crate::endpoints;
use crate::error::{Error, ExitCode, Result};
use crate::http::Http;
use crate::store::{Key, StoredTokens, TokenStore, unix_now};
use crate::token_endpoint;
use std::time::Duration;

/// Transient failures (network, timeouts, 5xx, 429) are retried after these pauses.
const RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(300), Duration::from_millis(900)];

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
            .and_then(|t| crate::jwt::unverified_claims(t.secret()).ok())
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
    let key = store.key_for_reading(&profile.key_source, &profile.name)?;
    let tokens = first.open(&key)?;
    if is_fresh(&tokens, need, min_valid, unix_now()) {
        return Ok(tokens);
    }

    let _lock = store.lock(&profile.name)?;
    // Another process may have refreshed while we waited for the lock: with rotating refresh
    // tokens, refreshing again with the old one would be a replay that revokes the grant.
    let Some(second) = store.read_sealed(&profile.name)? else {
        return Err(not_logged_in(&profile.name));
    };
    let current = second.open(&key)?;
    if !second.same_as(&first) && current.expires_at.is_none_or(|at| at > unix_now()) {
        return Ok(current);
    }
    if is_fresh(&current, need, min_valid, unix_now()) {
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
    let http = Http::new(profile.http_timeout);
    let endpoints = endpoints::resolve(profile, &http)?;
    let mut pauses = RETRY_PAUSES.iter();
    let response = loop {
        match token_endpoint::refresh(&http, &endpoints.token, profile, refresh_token) {
            Err(e) if e.exit_code() == ExitCode::Network => {
                match pauses.next() {
                    Some(pause) => std::thread::sleep(*pause),
                    None => {
                        return Err(Error::network(format!("{} (after {} attempts)", e.message(), RETRY_PAUSES.len() + 1))
                        .hint("the stored tokens are unchanged; try again when the provider is reachable"));
                    }
                }
            }
            other => break other?,
        }
    };
    token_endpoint::warn_on_clock_skew(response.date.as_deref());
    let mut fresh = StoredTokens::new(
        response,
        &current.issuer,
        &current.client_id,
        current.audience.as_deref(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{AccessToken, IdToken};

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
            "{}.{}.s",
            enc("{}"),
            enc(r#"{"exp":1000}"#)
        )));
        assert!(is_fresh(&t, Need::IdToken, Duration::from_secs(60), 900));
        assert!(!is_fresh(&t, Need::IdToken, Duration::from_secs(60), 960));
    }
}
