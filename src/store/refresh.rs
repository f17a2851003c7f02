//! A valid access token for a profile: the stored one while it has time left, otherwise one
//! refresh that is single-flight across processes (a per-profile lock, and a re-read under it).

use crate::base::clock::unix_now;
use crate::base::error::{Error, ExitCode, OAuthCode, Result};
use crate::config::Profile;
use crate::config::parse_endpoint;
use crate::net::http::Http;
use crate::net::retry::Resend;
use crate::net::url::Url;
use crate::oauth::endpoints::Provider;
use crate::oauth::id_token;
use crate::oauth::token_endpoint::{self, ApiRequest};
use crate::store::{ApiToken, Key, Origin, RefreshRefused, StoredTokens, TokenStore};
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
    valid_tokens_cached(profile, store, need, min_valid, &mut OpenedCache::new(None))
}

/// The profile's sealed token file, opened (from `cache` when it has not changed since it was
/// last opened) and checked to belong to the provider and client the profile names now.
fn open_bound(
    profile: &Profile,
    store: &TokenStore,
    cache: &mut OpenedCache,
) -> Result<(crate::store::Sealed, StoredTokens, Key)> {
    // A file whose stamp is what it was when it was read and opened needs reading no more.
    if let Some((sealed, tokens, key)) = cache.take_unchanged(&profile.name) {
        tokens.check_bound_to(profile)?;
        return Ok((sealed, tokens, key));
    }
    let Some(sealed) = store.read_sealed(&profile.name)? else {
        return Err(not_logged_in(&profile.name));
    };
    let (tokens, key) = match cache.take(&sealed) {
        Some(opened) => opened,
        None => sealed.open_with(store, &profile.key_source)?,
    };
    tokens.check_bound_to(profile)?;
    Ok((sealed, tokens, key))
}

/// [`valid_tokens`] for a long-running process: a token file that has not changed since it was
/// last opened is served from `cache`, without decrypting (or asking for a passphrase) again.
pub fn valid_tokens_cached(
    profile: &Profile,
    store: &TokenStore,
    need: Need,
    min_valid: Duration,
    cache: &mut OpenedCache,
) -> Result<StoredTokens> {
    let (first, tokens, key) = open_bound(profile, store, cache)?;
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
        cache.keep(first, &tokens, key);
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

/// Token files a long-running process (the agent) has decrypted, by profile: while a file's
/// bytes are unchanged its tokens come from memory, so serving a token costs no decryption and
/// a passphrase no scrypt. After a refresh the file is opened again once. With a `lifetime`,
/// an entry older than that is forgotten, tokens and key (`latchkey agent --lifetime`).
pub struct OpenedCache {
    /// A list, not a map: a handful of profiles, and no hashing on the `token` hot path.
    entries: Vec<CachedOpen>,
    lifetime: Option<Duration>,
}

struct CachedOpen {
    sealed: crate::store::Sealed,
    tokens: StoredTokens,
    key: Key,
    opened_at: std::time::Instant,
}

impl OpenedCache {
    pub fn new(lifetime: Option<Duration>) -> OpenedCache {
        OpenedCache {
            entries: Vec::new(),
            lifetime,
        }
    }

    /// The tokens and key of `sealed`, when its profile's file was opened before and has not
    /// changed since (nor outlived the lifetime). The entry leaves the cache: [`Self::keep`]
    /// puts it back.
    fn take(&mut self, sealed: &crate::store::Sealed) -> Option<(StoredTokens, Key)> {
        self.forget_expired();
        let at = self
            .entries
            .iter()
            .position(|e| e.sealed.profile() == sealed.profile())?;
        let entry = self.entries.swap_remove(at);
        let same = entry.sealed.same_as(sealed);
        crate::debug!(
            "the tokens of `{}`: {}",
            sealed.profile(),
            if same {
                "from memory"
            } else {
                "the file changed: opening it again"
            }
        );
        same.then_some((entry.tokens, entry.key))
    }

    /// The entry of `profile` when its file on disk is still the one it was opened from (its
    /// stamp, one `lstat`: see `base::files::FileStamp`), without reading the file; it leaves
    /// the cache, as in [`Self::take`].
    fn take_unchanged(
        &mut self,
        profile: &str,
    ) -> Option<(crate::store::Sealed, StoredTokens, Key)> {
        self.forget_expired();
        let at = self
            .entries
            .iter()
            .position(|e| e.sealed.profile() == profile && e.sealed.unchanged_on_disk())?;
        crate::debug!("the tokens of `{profile}`: from memory (the file is unchanged)");
        let entry = self.entries.swap_remove(at);
        Some((entry.sealed, entry.tokens, entry.key))
    }

    fn keep(&mut self, sealed: crate::store::Sealed, tokens: &StoredTokens, key: Key) {
        self.entries
            .retain(|e| e.sealed.profile() != sealed.profile());
        self.entries.push(CachedOpen {
            sealed,
            tokens: tokens.clone(),
            key,
            opened_at: std::time::Instant::now(),
        });
    }

    /// Drops every entry older than the lifetime: its tokens and key are zeroized on drop.
    pub fn forget_expired(&mut self) {
        if let Some(lifetime) = self.lifetime {
            self.entries.retain(|e| {
                let keep = e.opened_at.elapsed() < lifetime;
                if !keep {
                    crate::debug!(
                        "forgot the tokens and key of `{}` (--lifetime {}s)",
                        e.sealed.profile(),
                        lifetime.as_secs()
                    );
                }
                keep
            });
        }
    }

    /// The stored tokens of `profile` (for `status`), from the cache while the file is
    /// unchanged; `None` when there is no token file.
    pub fn load(&mut self, store: &TokenStore, profile: &Profile) -> Result<Option<StoredTokens>> {
        let Some(sealed) = store.read_sealed(&profile.name)? else {
            return Ok(None);
        };
        let (tokens, key) = match self.take(&sealed) {
            Some(opened) => opened,
            None => sealed.open_with(store, &profile.key_source)?,
        };
        self.keep(sealed, &tokens, key);
        Ok(Some(tokens))
    }
}

/// An access token for another API (`token --audience`), from the cache in the token file while
/// it has `min_valid` left, otherwise got with the login's refresh token under the same lock as
/// every other refresh: a rotating refresh token is used once, whichever API asked.
pub fn valid_api_token(
    profile: &Profile,
    store: &TokenStore,
    api: &ApiRequest,
    min_valid: Duration,
) -> Result<ApiToken> {
    valid_api_token_cached(profile, store, api, min_valid, &mut OpenedCache::new(None))
}

/// [`valid_api_token`] for a long-running process, as [`valid_tokens_cached`].
pub fn valid_api_token_cached(
    profile: &Profile,
    store: &TokenStore,
    api: &ApiRequest,
    min_valid: Duration,
    cache: &mut OpenedCache,
) -> Result<ApiToken> {
    let (first, tokens, key) = open_bound(profile, store, cache)?;
    if let Some(cached) = cached_api_token(&tokens, api, min_valid) {
        cache.keep(first, &tokens, key);
        return Ok(cached);
    }
    crate::debug!(
        "no token for {} with {}s left: taking the profile lock to get one",
        api.shown(),
        min_valid.as_secs()
    );
    let _lock = store.lock(&profile.name)?;
    let Some(second) = store.read_sealed(&profile.name)? else {
        return Err(not_logged_in(&profile.name));
    };
    let mut current = second.open(&key)?;
    current.check_bound_to(profile)?;
    if let Some(cached) = cached_api_token(&current, api, min_valid) {
        return Ok(cached);
    }
    let http = refresh_http(profile);
    let provider = Provider::new(profile, &http, Some(store.metadata_path(&profile.name)));
    let (_, _, mut response) = send_refresh(
        (&http, &provider),
        profile,
        (store, &key),
        &mut current,
        Some(api),
    )?;
    // The refresh token may have rotated: the new one replaces the one just used up, whatever
    // becomes of the rest of the answer, or the next refresh would be a replay.
    let rotated = keep_rotated(&mut current, &mut response);
    let checked = validate_refreshed_id_token(&response, &current, profile, &provider)
        .and_then(|()| check_api_audience(&response.access_token, api, profile));
    if let Err(refusal) = checked {
        if rotated {
            store.save(&profile.name, &current, &key)?;
        }
        return Err(refusal);
    }
    if let Some(id_token) = response.id_token {
        current.id_token = Some(id_token);
    }
    let now = unix_now();
    let token = ApiToken {
        audience: api.audience.clone(),
        access_token: response.access_token,
        expires_at: response.expires_in.map(|s| now.saturating_add(s)),
        scope: response.scope,
        token_type: response.token_type,
        obtained_at: now,
        requested_scopes: api.scopes.clone(),
    };
    current.apis.retain(|t| !same_api(t, api));
    current.apis.push(token.clone());
    store.save(&profile.name, &current, &key)?;
    Ok(token)
}

/// The cached token for `api`, if it was asked for with the same scopes and is fresh enough.
fn cached_api_token(
    tokens: &StoredTokens,
    api: &ApiRequest,
    min_valid: Duration,
) -> Option<ApiToken> {
    let cached = tokens.apis.iter().find(|t| same_api(t, api))?;
    let now = unix_now();
    let fresh = match cached.expires_at {
        Some(at) => {
            at > now.saturating_add(min_valid.as_secs())
                || (now.saturating_sub(cached.obtained_at) <= JUST_ISSUED_SECS && at > now)
        }
        None => true,
    };
    (fresh && cached.requested_scopes == api.scopes).then(|| cached.clone())
}

/// Whether a cached token answers `api`: one per API, and for scope-only requests (which all
/// share the login's API) one per set of scopes.
fn same_api(cached: &ApiToken, api: &ApiRequest) -> bool {
    cached.audience == api.audience
        && (!api.is_scope_only() || cached.requested_scopes == api.scopes)
}

/// Refuses an access token that is a JWT for another API than the one asked for: Auth0 answers
/// an audience outside the application's refresh-token policies with a token for the default
/// audience, silently. An opaque token says nothing about its audience and is taken.
fn check_api_audience(
    access_token: &crate::base::secret::AccessToken,
    api: &ApiRequest,
    profile: &Profile,
) -> Result<()> {
    // A scope-only request is for the login's own API; Entra's `aud` is the API's application
    // ID, not the URI the API was asked by, and its `/.default` scope names the API exactly.
    if api.is_scope_only() || profile.dialect == crate::config::Dialect::Entra {
        return Ok(());
    }
    let Ok(claims) = crate::oauth::jwt::unverified_claims(access_token.secret()) else {
        return Ok(());
    };
    let audiences = claims.aud.values();
    if audiences.is_empty() || audiences.contains(&api.audience.as_str()) {
        return Ok(());
    }
    let listed: Vec<String> = audiences
        .iter()
        .map(|a| crate::base::text::quoted(a))
        .collect();
    let hint = match profile.kind {
        crate::config::ProviderKind::Auth0 { .. } => {
            "Auth0 ignores an audience that the application's refresh-token policies do not allow and returns a token for the default audience instead. In the Auth0 Dashboard, add the API (and its scopes) to the application's Multi-Resource Refresh Token policies (Applications > your app > Settings > Refresh Token Policies), then try again"
        }
        crate::config::ProviderKind::Discovery => {
            "the provider did not honour the RFC 8707 `resource` request: check that the client may get tokens for this API at the provider"
        }
    };
    Err(Error::provider(format!(
        "the provider answered with an access token for {}, not for {}; it was not stored",
        crate::base::text::shown_within(&listed.join(", "), 300),
        crate::base::text::quoted(&api.audience)
    ))
    .hint(hint))
}

/// Refreshes while the caller holds the profile's lock, and stores the result.
fn refresh_locked(
    profile: &Profile,
    store: &TokenStore,
    key: &Key,
    mut current: StoredTokens,
) -> Result<StoredTokens> {
    let http = refresh_http(profile);
    let provider = Provider::new(profile, &http, Some(store.metadata_path(&profile.name)));
    let (token_url, revocation_url, mut response) = send_refresh(
        (&http, &provider),
        profile,
        (store, key),
        &mut current,
        None,
    )?;
    if let Err(bad) = validate_refreshed_id_token(&response, &current, profile, &provider) {
        // Neither the ID token nor what came with it is stored or served; the rotated refresh
        // token is, as it came from the endpoint the tokens are bound to: without it the next
        // refresh would be a replay of the one just used up.
        if keep_rotated(&mut current, &mut response) {
            store.save(&profile.name, &current, key)?;
        }
        return Err(bad);
    }
    // What the login trusted stays the record (a file from before it was recorded, having
    // passed the check, trusted nothing more).
    let added_roots = current.added_roots.clone().unwrap_or_default();
    let mut fresh = StoredTokens::new(
        response,
        Origin {
            issuer: &current.issuer,
            client_id: &current.client_id,
            audience: current.audience.as_deref(),
            token_endpoint: &token_url.to_string(),
            revocation_endpoint: revocation_url.map(|u| u.to_string()).as_deref(),
            organization: current.organization.as_deref(),
            added_roots: &added_roots,
        },
    );
    fresh.apis = std::mem::take(&mut current.apis);
    fresh.hosts = current.hosts.take();
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

/// Moves a rotated refresh token from `response` into `current`; whether there was one.
fn keep_rotated(current: &mut StoredTokens, response: &mut token_endpoint::TokenResponse) -> bool {
    match response.refresh_token.take() {
        Some(rotated) => {
            current.refresh_token = Some(rotated);
            true
        }
        None => false,
    }
}

/// Sends the stored refresh token (for `api`, or for the login's own tokens), while the caller
/// holds the profile's lock. Returns where it went and the answer. A refusal of the refresh
/// token itself is recorded in the file before it is returned.
fn send_refresh(
    (http, provider): (&Http, &Provider<'_>),
    profile: &Profile,
    (store, key): (&TokenStore, &Key),
    current: &mut StoredTokens,
    api: Option<&ApiRequest>,
) -> Result<(Url, Option<Url>, token_endpoint::TokenResponse)> {
    if let Some(refused) = &current.refresh_refused {
        return Err(refused_before(&profile.name, refused));
    }
    let Some(refresh_token) = current.refresh_token.clone() else {
        let what = match api {
            Some(api) => format!(
                "a token for {} needs a refresh token, and profile `{}` has none stored",
                api.shown(),
                profile.name
            ),
            None => format!(
                "the access token of profile `{}` has expired and no refresh token is stored",
                profile.name
            ),
        };
        return Err(Error::login_required(what).hint(format!(
            "run `latchkey login -p {}` (add offline_access to the profile's scopes to get a refresh token)",
            profile.name
        )));
    };
    provider.check_cache()?;
    let sent = match bound_endpoints(current)? {
        // Bound at login: the refresh token goes back where it came from, and only there,
        // over a path the login trusted.
        Some((token_url, revocation_url)) => {
            current.check_path(&profile.name, http, &token_url)?;
            refresh_with_retries(http, &token_url, profile, provider, &refresh_token, api)
                .map(|response| (token_url, revocation_url, response))
        }
        None => legacy_refresh(http, provider, profile, current, &refresh_token, api),
    };
    match sent {
        Ok(sent) => {
            token_endpoint::warn_on_clock_skew(sent.2.date.as_deref());
            Ok(sent)
        }
        // Only the login's own refresh says the refresh token is dead: a provider may answer
        // `invalid_grant` to a request for another API (a resource or scope this client may
        // not have) while the refresh token itself is fine.
        Err(e) if is_dead_refresh_token(&e) => Err(match api {
            None => record_refusal(profile, store, key, current, e),
            Some(api) => api_refused(profile, api, &e),
        }),
        Err(e) => Err(e),
    }
}

/// A provider's `invalid_grant` to a request for another API: refused for that API (exit 5),
/// and the login is left as it is. Were the refresh token itself dead, the next refresh of the
/// login's own tokens would hear so and record it.
fn api_refused(profile: &Profile, api: &ApiRequest, refusal: &Error) -> Error {
    let refused = Error::provider(format!(
        "the provider refused a token for {} ({}); the login of profile `{}` is kept as it is",
        api.shown(),
        refusal
            .oauth()
            .map_or(OAuthCode::InvalidGrant.as_str(), |r| r.said.as_str()),
        profile.name
    ))
    .hint("check that this client may get tokens for that API (and those scopes) at the provider; if the login itself has ended, `latchkey token` says so");
    match refusal.oauth() {
        Some(oauth) => refused.with_oauth(oauth.clone()),
        None => refused,
    }
}

/// The HTTP client of a refresh. It is resent after timeouts and 5xx too: without it there is
/// no token at all, and a provider's rotation reuse interval (Auth0's) lets a repeat through.
fn refresh_http(profile: &Profile) -> Http {
    Http::new(profile.http_settings(Resend::Transient))
}

/// An ID token that came with a refresh, checked as at login (without a nonce): the issuer
/// and client of the stored tokens, and the organization the login asked for.
fn validate_refreshed_id_token(
    response: &token_endpoint::TokenResponse,
    current: &StoredTokens,
    profile: &Profile,
    provider: &Provider<'_>,
) -> Result<()> {
    let Some(id_token) = &response.id_token else {
        return Ok(());
    };
    let expected = id_token::Expected {
        issuer: &current.issuer,
        client_id: &profile.client_id,
        nonce: None,
        organization: current.organization.as_deref(),
        now: unix_now(),
    };
    id_token::validate(id_token, &expected, &mut |force| provider.jwks(force)).map(|_| ())
}

/// Whether a refresh failed because the provider refused the refresh token itself
/// (`invalid_grant` in a 4xx, RFC 6749 §5.2): the one answer that says it is dead. A 5xx, a 429
/// or a 4xx without an OAuth error may be passing, and say nothing about the token.
fn is_dead_refresh_token(e: &Error) -> bool {
    e.exit_code() == ExitCode::LoginRequired && e.oauth_code() == Some(&OAuthCode::InvalidGrant)
}

/// Records in the token file, under the profile's lock the caller holds, that the provider
/// refused the refresh token: the token is dropped, so no later `token` sends it again (with
/// reuse detection, each resend would look like a replay), and `status` says a login is
/// needed and why. The access token is kept while it lasts. Returns the refusal, to report.
fn record_refusal(
    profile: &Profile,
    store: &TokenStore,
    key: &Key,
    current: &mut StoredTokens,
    refusal: Error,
) -> Error {
    current.refresh_token = None;
    current.refresh_refused = Some(RefreshRefused {
        at: unix_now(),
        said: refusal
            .oauth()
            .map_or(OAuthCode::InvalidGrant.as_str(), |r| r.said.as_str())
            .to_owned(),
    });
    // The refusal is what the user must hear about; a file that cannot be written only means
    // the next `token` asks the provider again (and hears the same).
    if let Err(e) = store.save(&profile.name, current, key) {
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

/// A refresh for tokens stored before their endpoints were recorded: the endpoints of the issuer
/// they came from (checked against the file's), by discovery or Auth0's fixed paths, never a
/// profile's or `LATCHKEY_*` endpoint override; recorded from now on.
fn legacy_refresh(
    http: &Http,
    provider: &Provider<'_>,
    profile: &Profile,
    current: &StoredTokens,
    refresh_token: &crate::base::secret::RefreshToken,
    api: Option<&ApiRequest>,
) -> Result<(Url, Option<Url>, token_endpoint::TokenResponse)> {
    let endpoints = provider.issuers_endpoints()?;
    current.check_path(&profile.name, http, &endpoints.token)?;
    match refresh_with_retries(
        http,
        &endpoints.token,
        profile,
        provider,
        refresh_token,
        api,
    ) {
        // A token endpoint from a cached discovery document that keeps failing may have moved:
        // look again, and try once more if it did.
        Err(e) if endpoints.from_cache && e.exit_code() == ExitCode::Network => {
            let fresh = provider.issuers_endpoints_fresh()?;
            if fresh.token == endpoints.token {
                return Err(e);
            }
            current.check_path(&profile.name, http, &fresh.token)?;
            let response =
                refresh_with_retries(http, &fresh.token, profile, provider, refresh_token, api)?;
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
    api: Option<&ApiRequest>,
) -> Result<token_endpoint::TokenResponse> {
    let auth = provider.auth_methods().token;
    token_endpoint::refresh(http, token_url, profile, auth, refresh_token, api).map_err(|e| {
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
    use crate::base::error::ExitCode;
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
            organization: None,
            apis: Default::default(),
            added_roots: Some(Vec::new()),
            profile: None,
            hosts: None,
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

    fn jwt_for(aud: serde_json::Value) -> AccessToken {
        use base64::Engine;
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let claims = serde_json::json!({ "aud": aud, "sub": "alice" }).to_string();
        AccessToken::new(format!(
            "{}.{}.c2ln",
            enc(r#"{"alg":"RS256"}"#),
            enc(&claims)
        ))
    }

    fn profile(kind: &str) -> Profile {
        let file = crate::config::ProfilesFile::parse(
            std::path::Path::new("p.toml"),
            crate::config::paths::ConfigOrigin::Flag,
            format!("[profiles.p]\n{kind}\nclient_id = \"c\"\n"),
        )
        .unwrap();
        file.resolve_profile("p", &crate::config::FlagOverrides::default())
            .unwrap()
    }

    #[test]
    fn a_token_for_the_default_audience_is_refused_with_auth0s_policies_named() {
        let auth0 = profile("domain = \"t.auth0.com\"");
        let billing = ApiRequest::new("https://billing/", &[]);
        let substituted = jwt_for(serde_json::json!("https://api/"));
        let e = check_api_audience(&substituted, &billing, &auth0).unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::ProviderRefused);
        assert!(
            e.message()
                .contains("for \"https://api/\", not for \"https://billing/\""),
            "{}",
            e.message()
        );
        assert!(e.hint_text().unwrap().contains("Refresh Token Policies"));
        let other = profile("issuer = \"https://id.example\"");
        let e = check_api_audience(&substituted, &billing, &other).unwrap_err();
        assert!(e.hint_text().unwrap().contains("RFC 8707"));
        // The API among several audiences, an opaque token, a JWT without `aud`: taken.
        let both = jwt_for(serde_json::json!([
            "https://billing/",
            "https://t/userinfo"
        ]));
        assert!(check_api_audience(&both, &billing, &auth0).is_ok());
        assert!(check_api_audience(&AccessToken::new("opaque"), &billing, &auth0).is_ok());
        assert!(check_api_audience(&jwt_for(serde_json::Value::Null), &billing, &auth0).is_ok());
    }

    #[test]
    fn a_cached_api_token_serves_only_the_same_scopes_while_fresh() {
        let now = unix_now();
        let mut stored = tokens(Some(now + 3600));
        let cached = |expires_at: Option<u64>, obtained_at: u64, scopes: &[&str]| ApiToken {
            audience: "https://billing/".into(),
            access_token: AccessToken::new("api"),
            expires_at,
            scope: None,
            token_type: "Bearer".into(),
            obtained_at,
            requested_scopes: scopes.iter().map(|s| s.to_string()).collect(),
        };
        let min = Duration::from_secs(60);
        let read = ApiRequest::new("https://billing/", &["read".into()]);
        stored.apis = vec![cached(Some(now + 600), now - 100, &["read"])];
        assert!(cached_api_token(&stored, &read, min).is_some());
        let write = ApiRequest::new("https://billing/", &["write".into()]);
        assert!(cached_api_token(&stored, &write, min).is_none());
        let other = ApiRequest::new("https://reports/", &["read".into()]);
        assert!(cached_api_token(&stored, &other, min).is_none());
        // Too close to expiry, unless just obtained (a provider's lifetime under --min-valid).
        stored.apis = vec![cached(Some(now + 30), now - 100, &["read"])];
        assert!(cached_api_token(&stored, &read, min).is_none());
        stored.apis = vec![cached(Some(now + 30), now, &["read"])];
        assert!(cached_api_token(&stored, &read, min).is_some());
    }
}
