//! `latchkey logout`: revoke at the provider (RFC 7009), then delete the local tokens — the
//! local file goes even when revocation fails, and the user is told what is still live.

use super::Globals;
use crate::base::clock::unix_now;
use crate::base::duration::until_clock;
use crate::base::error::{Error, ExitCode, Result};
use crate::base::secret::IdToken;
use crate::base::text::shown_whole;
use crate::cli::LogoutArgs;
use crate::config::{Profile, ProviderKind};
use crate::net::http::Http;
use crate::net::url::Url;
use crate::oauth::endpoints::{Provider, missing_endpoint};
use crate::oauth::revocation::{Failure, revoke};
use crate::store::{StoredTokens, TokenStore};
use crate::terminal::browser::{self, Decision};
use crate::terminal::style::Style;

pub fn run(globals: &Globals, args: LogoutArgs) -> Result<()> {
    let file = globals.load_profiles()?;
    let profiles = globals.profiles(&file, args.profile.as_deref(), args.all)?;
    let store = TokenStore::open()?;
    let mut first_error = None;
    let several = profiles.len() > 1;
    for profile in &profiles {
        let mut id_token = None;
        let mut outcome = logout(profile, &store, args.local, &mut id_token);
        if args.browser {
            let ended = end_browser_session(profile, id_token.as_ref());
            outcome = outcome.and(ended);
        }
        if let Err(e) = outcome {
            if several {
                eprintln!("error: {}", crate::base::text::escape_controls(e.message()));
            }
            if first_error.is_none() {
                first_error = Some(e);
            }
        }
    }
    match first_error {
        Some(e) if !several => Err(e),
        Some(e) => Err(Error::new(
            e.exit_code(),
            "logging out of some profiles failed (see above)",
        )),
        None => Ok(()),
    }
}

/// Revokes and deletes one profile's tokens. The ID token of the deleted tokens, when they
/// could be read, is left in `id_token` for `--browser`'s `id_token_hint`.
fn logout(
    profile: &Profile,
    store: &TokenStore,
    local: bool,
    id_token: &mut Option<IdToken>,
) -> Result<()> {
    let _lock = store.lock(&profile.name)?;
    if !store.exists(&profile.name) {
        eprintln!("profile `{}` is not logged in; nothing to do", profile.name);
        return Ok(());
    }
    if local {
        store.delete(&profile.name)?;
        eprintln!(
            "Logged out of profile `{}` locally: tokens deleted here, not revoked (--local).",
            profile.name
        );
        return Ok(());
    }
    // A file that cannot be decrypted still gets deleted: that is what logging out means.
    let loaded = store.load(&profile.name, &profile.key_source);
    let tokens = match loaded {
        Ok(Some(tokens)) => tokens,
        Ok(None) => {
            store.delete(&profile.name)?;
            eprintln!(
                "Logged out of profile `{}` locally: tokens deleted here.",
                profile.name
            );
            return Ok(());
        }
        Err(e) => {
            store.delete(&profile.name)?;
            return Err(Error::new(
                e.exit_code(),
                format!(
                    "profile `{}`: the local tokens were deleted, but they could not be read, so nothing was revoked: {} — any refresh token in them is still live at the provider",
                    profile.name,
                    e.message()
                ),
            )
            .hint(DASHBOARD_HINT));
        }
    };
    // Tokens from another provider or client than the profile names now are neither sent there
    // nor deleted: the user decides (put the profile back, or `logout --local`).
    tokens.check_bound_to(profile)?;
    // Revoking twice is harmless (RFC 7009 §2.2), so revocation is resent after timeouts too.
    let http = Http::new(profile.http_settings(crate::net::retry::Resend::Transient));
    // Read from its cache; fetched only for tokens from before endpoints were recorded.
    let provider = Provider::new(profile, &http, Some(store.metadata_path(&profile.name)));
    let url = revocation_url(&provider, &tokens);
    // Nor over a network path their login did not trust: then nothing is sent, and nothing
    // deleted, as for another provider above.
    if let Ok(Some(url)) = &url {
        tokens.check_path(&profile.name, &http, url)?;
    }
    id_token.clone_from(&tokens.id_token);
    let revocation = revoke_all(profile, (&http, &provider), url, &tokens);
    store.delete(&profile.name)?;
    said(profile, &tokens, &revocation)
}

/// What logout says once the tokens are deleted here: the line, and an error with a hint when
/// revocation did not do all it should.
fn said(profile: &Profile, tokens: &StoredTokens, revocation: &Revocation) -> Result<()> {
    let (line, exit) = report(
        &profile.name,
        tokens.refresh_token.is_some(),
        tokens.expires_at,
        revocation,
        unix_now(),
    );
    match exit {
        None => {
            eprintln!("{}", crate::base::text::escape_controls(&line));
            Ok(())
        }
        Some(code) => {
            // The tokens are gone from here, so only a fix for the configuration or the
            // provider's console can still help; "try again" would have nothing to send.
            let hint = match revocation {
                Revocation::Failed(Failure::Other(e)) if e.exit_code() == ExitCode::Config => {
                    e.hint_text().map(str::to_owned)
                }
                Revocation::Failed(why) => why.hint(&profile.name),
                _ => None,
            };
            Err(Error::new(code, line).hint(hint.unwrap_or_else(|| DASHBOARD_HINT.to_owned())))
        }
    }
}

/// Ends the provider's browser session: without it, the next login opens the browser into the
/// same session and logs the same person in again. The URL is opened here, or printed for the
/// browser where the login happened (over SSH, say), as for a login.
fn end_browser_session(profile: &Profile, id_token: Option<&IdToken>) -> Result<()> {
    let http = Http::new(profile.http_settings(crate::net::retry::Resend::Transient));
    // Looked up anew and not cached: the profile's cache went with its tokens.
    let provider = Provider::new(profile, &http, None);
    let endpoints = provider.endpoints()?;
    let end_session = endpoints.end_session.ok_or_else(|| {
        Error::config(format!(
            "profile `{}`: the provider's discovery document names no end_session_endpoint, so its browser session cannot be ended from here",
            profile.name
        ))
        .hint("log out in the browser on the provider's own pages, or log in with --fresh to be asked who you are")
    })?;
    let mut pairs = Vec::new();
    // Auth0's /v2/logout takes the client alone; RP-initiated logout wants the ID token as the
    // hint of whose session to end (OpenID Connect RP-Initiated Logout 1.0 §2).
    if let (ProviderKind::Discovery, Some(id_token)) = (&profile.kind, id_token) {
        pairs.push(("id_token_hint", id_token.secret()));
    }
    pairs.push(("client_id", profile.client_id.as_str()));
    let url = end_session.with_query_pairs(pairs).to_string();
    eprint!(
        "End the browser session of profile `{}` ({}) by opening this URL:\n\n{}\n\n",
        profile.name,
        shown_whole(&profile.issuer.to_string()),
        shown_whole(&url)
    );
    let env = browser::Environment::detect();
    match browser::decide(&env, browser::Preference::Auto) {
        Decision::Open { launcher, why } => match browser::launch(&launcher, &url) {
            Ok(()) => eprintln!("{}", Style::for_stderr().dim(&why)),
            Err(e) => eprintln!("could not start the browser ({e}): open the URL yourself"),
        },
        Decision::Print { why } => eprintln!("{why}"),
    }
    Ok(())
}

const DASHBOARD_HINT: &str = "it stays live until it expires; to end it now, revoke the session or grant in the provider's dashboard";

/// Where the tokens are revoked: the revocation endpoint recorded with them at login, and only
/// there. Files from before it was recorded (no token endpoint either) use their issuer's,
/// never a profile's `revocation_endpoint` override set since.
fn revocation_url(provider: &Provider<'_>, tokens: &StoredTokens) -> Result<Option<Url>> {
    tokens.revocation_url(|| Ok(provider.issuers_endpoints()?.revocation))
}

/// Why there is nowhere to revoke: configuration (exit 3), naming `revocation_endpoint`, the
/// key that supplies the endpoint when the provider's metadata names none.
fn no_revocation_endpoint(profile: &Profile, provider: &Provider<'_>, bound: bool) -> Error {
    if !bound {
        let e = missing_endpoint(
            profile,
            "revocation",
            "revocation_endpoint",
            provider.rfc8414_problem().as_deref(),
        );
        let hint = format!(
            "{}; to end this session now, revoke it in the provider's dashboard",
            e.hint_text().unwrap_or_default()
        );
        return e.hint(hint);
    }
    // Tokens bound at login are revoked only where they came from: a profile setting added
    // later is not used for them, but is for every login after it.
    let mut message = "the provider named no revocation endpoint when these tokens were obtained, and the profile set no `revocation_endpoint`, so they cannot be revoked here".to_owned();
    if let Some(problem) = provider.rfc8414_problem() {
        message.push_str(&format!(
            " (its RFC 8414 metadata could not be used: {problem})"
        ));
    }
    Error::config(message)
    .hint(format!(
        "set `revocation_endpoint` in profile `{}` if the provider has one, so that later logins can be revoked; to end this session now, revoke it in the provider's dashboard",
        profile.name
    ))
}

/// What revocation at the provider achieved.
#[derive(Debug)]
enum Revocation {
    /// Every token revoked.
    Done,
    /// The refresh token revoked (or there was none), the access token not: it stays valid
    /// until it expires. Logging out has done what it must.
    AccessTokenKept(Failure),
    /// Nothing revoked: the refresh token (if any) is still live at the provider.
    Failed(Failure),
}

/// The refresh token first: it is the long-lived one, and revoking it is what logging out
/// needs. An access token the provider will not revoke (Auth0's JWTs cannot be) only expires.
fn revoke_all(
    profile: &Profile,
    (http, provider): (&Http, &Provider<'_>),
    url: Result<Option<Url>>,
    tokens: &StoredTokens,
) -> Revocation {
    let url = match url {
        Ok(url) => url,
        Err(e) => return Revocation::Failed(Failure::Other(e)),
    };
    let Some(url) = url else {
        let bound = tokens.token_endpoint.is_some();
        return Revocation::Failed(Failure::Other(no_revocation_endpoint(
            profile, provider, bound,
        )));
    };
    // How a client secret, if the profile has one, is sent: as the cached metadata says.
    let auth = provider.auth_methods().revocation;
    if let Some(refresh_token) = &tokens.refresh_token
        && let Err(failure) = revoke(
            http,
            &url,
            profile,
            auth,
            refresh_token.secret(),
            "refresh_token",
        )
    {
        return Revocation::Failed(failure);
    }
    match revoke(
        http,
        &url,
        profile,
        auth,
        tokens.access_token.secret(),
        "access_token",
    ) {
        Ok(()) => Revocation::Done,
        Err(failure) => Revocation::AccessTokenKept(failure),
    }
}

/// The line logout ends with, and the exit status when it is an error: true about what is
/// still live at the provider, and nothing more alarming than that.
fn report(
    profile: &str,
    refresh: bool,
    expires_at: Option<u64>,
    revocation: &Revocation,
    now: u64,
) -> (String, Option<ExitCode>) {
    match revocation {
        Revocation::Done => (
            format!(
                "Logged out of profile `{profile}`: tokens revoked at the provider and deleted here."
            ),
            None,
        ),
        Revocation::AccessTokenKept(why) => {
            let done = if refresh {
                "the refresh token was revoked at the provider and the tokens deleted here"
            } else {
                "tokens deleted here (there was no refresh token to revoke)"
            };
            (
                format!(
                    "Logged out of profile `{profile}`: {done}; {}: {}.",
                    access_token_left(expires_at, now),
                    why.describe()
                ),
                None,
            )
        }
        Revocation::Failed(why) if refresh => (
            format!(
                "profile `{profile}`: the local tokens were deleted, but the refresh token was not revoked: {} — the provider still holds a live refresh token",
                why.describe()
            ),
            Some(why.exit_code()),
        ),
        Revocation::Failed(why) => (
            format!(
                "profile `{profile}`: the local tokens were deleted, but the access token was not revoked: {} — {} (there was no refresh token)",
                why.describe(),
                access_token_left(expires_at, now)
            ),
            Some(why.exit_code()),
        ),
    }
}

/// How long an access token that was not revoked stays usable.
fn access_token_left(expires_at: Option<u64>, now: u64) -> String {
    match expires_at {
        Some(at) if at > now => format!(
            "the access token stays valid until {}",
            until_clock(at, now)
        ),
        Some(_) => "the access token was not revoked, but has already expired".to_owned(),
        None => "the access token stays valid until it expires (the provider did not say when)"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_935_909; // 2026-11-29T07:05:09Z
    const IN_AN_HOUR: Option<u64> = Some(NOW + 3540);

    fn refused(kind: &str) -> Failure {
        match kind {
            "unsupported" => Failure::UnsupportedTokenType,
            "client" => Failure::ClientAuthentication {
                said: "HTTP 401".into(),
                secret_sent: false,
            },
            "down" => Failure::Other(Error::network(
                "cannot connect to idp.example:443 (after 3 attempts)",
            )),
            _ => Failure::Other(Error::provider(
                "the identity provider refused: invalid_request",
            )),
        }
    }

    #[test]
    fn all_revoked() {
        let (line, exit) = report("p", true, IN_AN_HOUR, &Revocation::Done, NOW);
        assert_eq!(exit, None);
        assert_eq!(
            line,
            "Logged out of profile `p`: tokens revoked at the provider and deleted here."
        );
    }

    /// The Auth0 case of the issue: the refresh token revoked, the JWT access token refused.
    #[test]
    fn an_access_token_the_provider_will_not_revoke_is_exit_0_with_its_expiry() {
        let kept = Revocation::AccessTokenKept(refused("unsupported"));
        let (line, exit) = report("p", true, IN_AN_HOUR, &kept, NOW);
        assert_eq!(exit, None);
        assert_eq!(
            line,
            "Logged out of profile `p`: the refresh token was revoked at the provider and the tokens deleted here; \
             the access token stays valid until 08:04 UTC (59 min): \
             the provider does not revoke this type of token (unsupported_token_type)."
        );
        assert!(!line.contains("live refresh token"), "{line}");
        // Any refusal of the access token, after the refresh token went, is the same case.
        for kind in ["client", "down", "other"] {
            let kept = Revocation::AccessTokenKept(refused(kind));
            let (line, exit) = report("p", true, IN_AN_HOUR, &kept, NOW);
            assert_eq!(exit, None, "{kind}");
            assert!(
                line.contains("stays valid until 08:04 UTC (59 min)"),
                "{line}"
            );
        }
        let (client, _) = report(
            "p",
            true,
            IN_AN_HOUR,
            &Revocation::AccessTokenKept(refused("client")),
            NOW,
        );
        assert!(
            client
                .contains("the provider requires client authentication for revocation (HTTP 401)"),
            "{client}"
        );
        let (no_refresh, _) = report(
            "p",
            false,
            None,
            &Revocation::AccessTokenKept(refused("unsupported")),
            NOW,
        );
        assert!(
            no_refresh.contains("there was no refresh token to revoke")
                && no_refresh
                    .contains("stays valid until it expires (the provider did not say when)"),
            "{no_refresh}"
        );
        let (expired, _) = report(
            "p",
            true,
            Some(NOW - 5),
            &Revocation::AccessTokenKept(refused("unsupported")),
            NOW,
        );
        assert!(expired.contains("has already expired"), "{expired}");
    }

    /// Nowhere to revoke is configuration (exit 3), not a refusal: nothing was refused.
    #[test]
    fn no_revocation_endpoint_is_exit_3_and_still_says_what_is_live() {
        let missing = Failure::Other(Error::config(
            "the provider of profile `p` names no revocation endpoint in its metadata, and the profile sets no `revocation_endpoint`",
        ));
        let (line, exit) = report("p", true, IN_AN_HOUR, &Revocation::Failed(missing), NOW);
        assert_eq!(exit, Some(ExitCode::Config));
        assert!(line.contains("`revocation_endpoint`"), "{line}");
        assert!(
            line.ends_with("the provider still holds a live refresh token"),
            "{line}"
        );
    }

    #[test]
    fn only_a_failed_refresh_token_revocation_says_it_is_live() {
        let (line, exit) = report(
            "p",
            true,
            IN_AN_HOUR,
            &Revocation::Failed(refused("client")),
            NOW,
        );
        assert_eq!(exit, Some(ExitCode::ProviderRefused));
        assert_eq!(
            line,
            "profile `p`: the local tokens were deleted, but the refresh token was not revoked: \
             the provider requires client authentication for revocation (HTTP 401) \
             — the provider still holds a live refresh token"
        );
        let (down, exit) = report(
            "p",
            true,
            IN_AN_HOUR,
            &Revocation::Failed(refused("down")),
            NOW,
        );
        assert_eq!(exit, Some(ExitCode::Network));
        assert!(
            down.ends_with("the provider still holds a live refresh token"),
            "{down}"
        );
        // Without a refresh token there is none to call live.
        let (line, exit) = report(
            "p",
            false,
            IN_AN_HOUR,
            &Revocation::Failed(refused("down")),
            NOW,
        );
        assert_eq!(exit, Some(ExitCode::Network));
        assert!(!line.contains("refresh token was not revoked"), "{line}");
        assert!(!line.contains("live refresh token"), "{line}");
        assert!(
            line.contains("stays valid until 08:04 UTC (59 min)"),
            "{line}"
        );
    }
}
