//! `latchkey login`: the Authorization Code flow with PKCE, taking the response from the
//! loopback listener or a paste (whichever comes first), then the exchange and the store.

use super::Globals;
use crate::base::clock::unix_now;
use crate::base::duration::{format_remaining, relative, rfc3339};
use crate::base::error::{Error, OAuthCode, Result};
use crate::base::secret::AuthorizationCode;
use crate::base::text::{shown, shown_whole};
use crate::cli::LoginArgs;
use crate::config::{FlagOverrides, Flow, Profile};
use crate::login::callback::LoopbackListener;
use crate::login::race::{self, Race, Via};
use crate::net::http::Http;
use crate::oauth::auth_response::AuthResponse;
use crate::oauth::authorize::{Invitation, LoginRequest, authorize_url};
use crate::oauth::endpoints::{Endpoints, Provider, missing_endpoint};
use crate::oauth::pkce::LoginSecrets;
use crate::oauth::revocation::revoke;
use crate::oauth::{device, id_token, jwt, token_endpoint, userinfo};
use crate::store::{Key, Origin, StoredTokens, TokenStore};
use crate::terminal::browser::{self, Decision, Preference};
use crate::terminal::spinner::{Mode, Spinner};
use crate::terminal::{qr, signals, style as term};
use std::time::{Duration, Instant};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// What Ctrl-C says during a login: true, since a login writes only when it succeeds.
const INTERRUPTED: &str = "interrupted; nothing was stored";

/// What Ctrl-C says once the tokens are stored (while the replaced refresh token is revoked).
const STORED_THEN_INTERRUPTED: &str = "interrupted; the new tokens were stored";

pub fn run(globals: &Globals, args: LoginArgs) -> Result<()> {
    check_flags(&args)?;
    #[cfg(unix)]
    if let Some(agent) = crate::agent::client::find(args.no_agent)? {
        return through_agent(agent, globals, &args);
    }
    let invitation = args
        .invitation
        .as_deref()
        .map(|link| {
            Invitation::from_link(link).map_err(|why| {
                Error::usage(format!(
                    "--invitation: the link is not an Auth0 invitation: {why}"
                ))
                .hint("pass the whole link from the invitation email, in quotes")
            })
        })
        .transpose()?;
    let profile = profile_for_login(globals, &args, invitation.as_ref())?;
    let device = args.device || profile.flow == Flow::Device;
    if device && (args.fresh || invitation.is_some()) {
        return Err(Error::usage(
            "--fresh and --invitation are for the browser login; the device grant has no way to send them",
        )
        .hint("drop --device (or set `flow = \"code\"` for this login)"));
    }
    let store = TokenStore::open()?;
    // Held until the login ends, before anything is shown or asked: a second login of this
    // profile is turned away at once instead of both storing tokens.
    let _login = store.login_lock(&profile.name)?;
    // The key first: a passphrase prompt must come before stdin is read for pastes. A key
    // latchkey generates stays in memory until the tokens are stored.
    let key = store.key_for_writing(&profile.key_source, &profile.name)?;
    // The code exchange is resent only when it never left this host: a code is single-use.
    let http = Http::new(profile.http_settings(crate::net::retry::Resend::OnlyUnsent));
    // What is fetched is cached only once the login has succeeded.
    let provider =
        Provider::new(&profile, &http, Some(store.metadata_path(&profile.name))).deferring_writes();
    // A login is the moment to look again: discovery is fetched anew, not taken from the cache.
    let endpoints = provider.endpoints_fresh()?;
    // What `ca_file` adds to the trusted roots, recorded with the tokens: read now, so that a
    // bad file is said before the browser opens, not after the login.
    let added_roots = http.added_roots()?.fingerprints;
    let login = Login {
        retry: format!(
            "latchkey{} login -p {}",
            globals
                .config
                .as_ref()
                .map(|path| format!(
                    " --config {}",
                    crate::base::text::shown_whole(&path.display().to_string())
                ))
                .unwrap_or_default(),
            profile.name
        ),
        profile: &profile,
        args: &args,
        http: &http,
        provider: &provider,
        endpoints: &endpoints,
        store: &store,
        key: &key,
        invitation: invitation.as_ref(),
        added_roots: &added_roots,
    };
    if device { login.device() } else { login.code() }
}

/// A login run by the agent where it is (its browser, its loopback listener), with what it
/// says shown here as it happens; Ctrl-C here cancels it there.
#[cfg(unix)]
fn through_agent(
    mut agent: crate::agent::client::Agent,
    globals: &Globals,
    args: &LoginArgs,
) -> Result<()> {
    let local_only = [
        (args.no_loopback, "--no-loopback"),
        (args.no_paste, "--no-paste"),
        (args.browser, "--browser"),
        (args.no_browser, "--no-browser"),
        (args.no_qr, "--no-qr"),
    ];
    if let Some((_, flag)) = local_only.iter().find(|(set, _)| *set) {
        return Err(Error::usage(format!(
            "{flag} is about this host's browser and terminal, and a login through the agent happens where the agent runs"
        ))
        .hint("drop it, or log in on this host with --no-agent"));
    }
    // What would let this host choose whose login the agent's host holds: a device code is
    // approved wherever it is shown, an invitation is a link of this host's choosing.
    let refused = [
        (args.device, "--device"),
        (args.invitation.is_some(), "--invitation"),
        (args.same_user, "--same-user"),
    ];
    if let Some((_, flag)) = refused.iter().find(|(set, _)| *set) {
        return Err(refused_through_agent(flag));
    }
    let mut forwarded = Vec::new();
    if args.fresh {
        forwarded.push("--fresh".to_owned());
    }
    let options = [
        ("--organization", args.organization.clone()),
        (
            "--timeout",
            args.timeout.map(|t| format!("{}s", t.as_secs())),
        ),
        ("--audience", args.audience.clone()),
    ];
    for (option, value) in options {
        if let Some(value) = value {
            forwarded.extend([option.to_owned(), value]);
        }
    }
    for scope in &args.scope {
        forwarded.extend(["--scope".to_owned(), scope.clone()]);
    }
    let request = crate::agent::protocol::Request::Login {
        profile: globals.agent_profile(args.profile.as_deref()),
        args: forwarded,
    };
    agent
        .ask_streaming(&request, None, &mut |line| {
            eprintln!("{}", crate::base::text::escape_controls(line));
        })
        .map(|crate::agent::protocol::LoggedIn {}| ())
}

/// The refusal of a login flag that a host holding an agent's socket may not use: a device
/// code or an invitation link would let it choose whose login the agent's host holds.
#[cfg(unix)]
pub fn refused_through_agent(flag: &str) -> Error {
    let why = match flag {
        "--device" => {
            "a device code is approved by whoever sees it, and through the agent that would be this host: the agent's host could end up holding someone else's login"
        }
        "--invitation" => {
            "an invitation link would be this host's choice, opened in the browser of the agent's host"
        }
        _ => "the agent adds it to every login it runs for a client",
    };
    Error::usage(format!(
        "a login through the agent cannot take {flag}: {why}"
    ))
    .hint("log in where the agent runs (there, any flag works), or on this host with --no-agent")
}

/// Flags that cannot go together.
fn check_flags(args: &LoginArgs) -> Result<()> {
    if args.no_loopback && args.no_paste {
        return Err(Error::usage(
            "--no-loopback and --no-paste together leave no way to receive the login",
        )
        .hint("drop one of them"));
    }
    if args.browser && args.no_browser {
        return Err(
            Error::usage("--browser and --no-browser contradict each other")
                .hint("keep one of them"),
        );
    }
    if args.invitation.is_some() && args.organization.is_some() {
        return Err(Error::usage(
            "--invitation names its organization; --organization cannot choose another",
        )
        .hint("drop --organization"));
    }
    Ok(())
}

/// The selected profile with `--audience`, `--scope` and `--organization` (or the
/// invitation's) laid over it.
fn profile_for_login(
    globals: &Globals,
    args: &LoginArgs,
    invitation: Option<&Invitation>,
) -> Result<Profile> {
    let file = globals.load_profiles()?;
    let (name, _) = file.select(globals.profile_name(args.profile.as_deref()))?;
    let flags = FlagOverrides {
        audience: args.audience.clone(),
        organization: invitation
            .map(|i| i.organization.clone())
            .or_else(|| args.organization.clone()),
        scopes: (!args.scope.is_empty()).then(|| {
            args.scope
                .iter()
                .flat_map(|s| s.split_whitespace())
                .map(str::to_owned)
                .collect()
        }),
    };
    file.resolve_profile(&name, &flags)
}

/// Everything one login works with, resolved before it asks the user anything.
struct Login<'a> {
    profile: &'a Profile,
    /// The command that runs this login again (`latchkey --config F login -p NAME`), for hints.
    retry: String,
    args: &'a LoginArgs,
    http: &'a Http,
    provider: &'a Provider<'a>,
    endpoints: &'a Endpoints,
    store: &'a TokenStore,
    key: &'a Key,
    invitation: Option<&'a Invitation>,
    /// What `ca_file` added to the trusted roots of this login (see `store::binding`).
    added_roots: &'a [String],
}

impl Login<'_> {
    /// The Authorization Code flow: show or open the URL, race the loopback against a paste,
    /// exchange the code.
    fn code(&self) -> Result<()> {
        let (profile, args) = (self.profile, self.args);
        let secrets = LoginSecrets::generate();
        let listener = if args.no_loopback {
            None
        } else {
            Some(LoopbackListener::bind(profile.redirect_port)?)
        };
        let port = listener.as_ref().map(LoopbackListener::port);
        let redirect_uri = redirect_uri(profile, port)?;
        crate::debug!(
            "redirect_uri {redirect_uri}; loopback listener {}; paste {}",
            port.map_or_else(|| "off".to_owned(), |p| format!("on 127.0.0.1:{p}")),
            if args.no_paste { "off" } else { "on" }
        );
        let request = LoginRequest {
            fresh: args.fresh,
            invitation: self.invitation,
        };
        let url = authorize_url(
            &self.endpoints.authorize,
            profile,
            &redirect_uri,
            &secrets,
            &request,
        );
        signals::install();
        signals::on_interrupt_say(INTERRUPTED);
        let paste = race::PasteInput::detect(!args.no_paste);
        self.announce(&url.to_string(), port, &redirect_uri, paste);

        let issuer = profile.issuer.to_string();
        let timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let race = Race {
            state: &secrets.state,
            issuer: &issuer,
            iss_required: self.endpoints.iss_parameter_supported,
            timeout,
            deadline: Instant::now()
                .checked_add(timeout)
                .unwrap_or_else(Instant::now),
            paste,
            paste_only: args.no_loopback,
        };
        let mut inbox = race::start(
            listener,
            profile.callback_path.clone(),
            secrets.state.clone(),
            issuer.clone(),
            race.iss_required,
            paste,
        );
        self.exchange_first_accepted(&race, &mut inbox, &secrets, &redirect_uri)
    }

    /// Takes responses from the race until one is exchanged for tokens, and stores them. A
    /// bare pasted code the provider refuses (`invalid_grant`) brings the prompt back instead
    /// of ending the login: the loopback and the paste path stay open until the deadline.
    fn exchange_first_accepted(
        &self,
        race: &Race<'_>,
        inbox: &mut race::Inbox,
        secrets: &LoginSecrets,
        redirect_uri: &str,
    ) -> Result<()> {
        // A pasted code the provider refused: the reason the login fails if no other response
        // can come any more (stdin closed, no loopback).
        let mut last_refusal: Option<Error> = None;
        loop {
            let (code, via) = self.next_code(race, inbox, &mut last_refusal)?;
            let mut timing = Timing::start();
            match self.exchange(&code, secrets, redirect_uri, &mut timing) {
                // A bare code carries nothing to check before it is sent: a stray or mistyped
                // paste is for the provider to refuse, and then the login goes on.
                Err(e)
                    if via == Via::PastedCode
                        && e.oauth_code() == Some(&OAuthCode::InvalidGrant) =>
                {
                    eprintln!(
                        "The provider refused that code ({}): it may be mistyped, incomplete or used already. Paste it again (or the whole redirect URL), or finish in the browser.",
                        e.oauth()
                            .map_or(e.message(), |refusal| refusal.said.as_str())
                    );
                    last_refusal = Some(e);
                }
                Err(e) => return Err(self.with_retry_hint(e)),
                Ok(tokens) => {
                    // The terminal back as it was before anything else is said or asked.
                    inbox.close();
                    return self.finish(tokens, Some(secrets.nonce.secret()), timing);
                }
            }
        }
    }

    /// The next code the race delivers, and how it came; a provider's refusal (or the race
    /// ending) is the login's error. When the race ends early after a pasted code was
    /// refused, that refusal is the better reason.
    fn next_code(
        &self,
        race: &Race<'_>,
        inbox: &mut race::Inbox,
        last_refusal: &mut Option<Error>,
    ) -> Result<(AuthorizationCode, Via)> {
        let (response, via) = race.wait(inbox).map_err(|e| {
            let ended_early = Instant::now() < race.deadline
                && e.exit_code() == crate::base::error::ExitCode::LoginAborted;
            match last_refusal.take() {
                Some(refusal) if ended_early => refusal.hint(format!(
                    "nothing was stored; run `{}` to try again",
                    self.retry
                )),
                _ => e,
            }
        })?;
        match response {
            AuthResponse::Code { code, .. } => Ok((code, via)),
            AuthResponse::Refused {
                error,
                description,
                iss_missing,
            } => {
                let refused = token_endpoint::oauth_error(error, description.as_deref());
                let refused = if iss_missing {
                    // Taken anyway (it carries no code), but the provider broke its word.
                    let message = format!(
                        "{}, but its response lacks `iss`, which the provider's metadata promises (RFC 9207)",
                        refused.message()
                    );
                    refused.with_message(message)
                } else {
                    refused
                };
                Err(refused.hint(format!(
                    "the login was not completed; run `{}` to try again",
                    self.retry
                )))
            }
        }
    }

    /// The code exchange, with a spinner shown only when the provider is slow to answer (a
    /// quick exchange draws nothing).
    fn exchange(
        &self,
        code: &AuthorizationCode,
        secrets: &LoginSecrets,
        redirect_uri: &str,
        timing: &mut Timing,
    ) -> Result<token_endpoint::TokenResponse> {
        let spinner = Spinner::start_delayed(
            Mode::for_wait(false),
            "Exchanging the code for tokens…".to_owned(),
            Duration::from_millis(300),
        );
        let exchanged = timing.provider(|| {
            token_endpoint::exchange_code(
                self.http,
                &self.endpoints.token,
                self.profile,
                self.provider.auth_methods().token,
                code,
                &secrets.verifier,
                redirect_uri,
            )
        });
        spinner.finish();
        exchanged
    }

    /// A refused exchange (an OAuth error) comes without a hint of its own; every error has one.
    fn with_retry_hint(&self, e: Error) -> Error {
        match e.hint_text() {
            Some(_) => e,
            None => e.hint(format!(
                "nothing was stored; run `{}` to try again",
                self.retry
            )),
        }
    }

    /// Shows the URL, opens the browser or says why not, and says how the response can arrive.
    fn announce(
        &self,
        url: &str,
        listening_port: Option<u16>,
        redirect_uri: &str,
        paste: race::PasteInput,
    ) {
        let profile = self.profile;
        let style = term::Style::for_stderr();
        let env = browser::Environment::detect();
        if let Some(invitation) = self.invitation {
            eprintln!(
                "Accepting the invitation to organization {}.",
                invitation_name(invitation)
            );
        }
        eprint!("{}", login_banner(profile, url));
        match browser::decide(&env, browser_preference(self.args)) {
            Decision::Open { launcher, why } => match browser::launch(&launcher, url) {
                Ok(()) => eprintln!("{}", style.dim(&why)),
                Err(e) => eprintln!("could not start the browser ({e}): open the URL yourself"),
            },
            // Pasting is promised only where someone can paste.
            Decision::Print { why } if paste.at_terminal() => {
                eprintln!("{why}, or paste the result below")
            }
            Decision::Print { why } => eprintln!("{why}"),
        }
        if let Some(port) = listening_port {
            if env.ssh {
                eprintln!(
                    "To finish in your laptop's browser, forward this host's loopback port first:\n    ssh -L {port}:127.0.0.1:{port} {}",
                    browser::host_name()
                );
            }
        } else if profile.paste_redirect_uri.is_none() {
            eprintln!(
                "After you log in, the browser will fail to load {}: copy the whole URL from its address bar and paste it here.",
                shown_whole(redirect_uri)
            );
        }
    }

    /// What every login ends with: the ID token checked, the tokens stored, one line saying so.
    fn finish(
        &self,
        tokens: token_endpoint::TokenResponse,
        nonce: Option<&str>,
        mut timing: Timing,
    ) -> Result<()> {
        let profile = self.profile;
        token_endpoint::warn_on_clock_skew(tokens.date.as_deref());
        let issuer = profile.issuer.to_string();
        // The code flow must bring an ID token (it carries the nonce sent with this login).
        // The device grant (RFC 8628) is not part of OpenID Connect Core, and providers such as
        // Django OAuth Toolkit answer it without one: then UserInfo names the person.
        if nonce.is_some() {
            require_id_token(profile, tokens.id_token.is_some())?;
        }
        if let Some(id_token) = &tokens.id_token {
            let expected = id_token::Expected {
                issuer: &issuer,
                client_id: &profile.client_id,
                nonce,
                organization: profile.organization.as_deref(),
                now: unix_now(),
            };
            id_token::validate(id_token, &expected, &mut |force| {
                timing.provider(|| self.provider.jwks(force))
            })?;
        }
        let revocation = self.endpoints.revocation.as_ref().map(|u| u.to_string());
        let mut stored = StoredTokens::new(
            tokens,
            Origin {
                issuer: &issuer,
                client_id: &profile.client_id,
                audience: profile.audience.as_deref(),
                token_endpoint: &self.endpoints.token.to_string(),
                revocation_endpoint: revocation.as_deref(),
                organization: profile.organization.as_deref(),
                added_roots: self.added_roots,
            },
        );
        // The hosts the credential helpers may hand these tokens to, as the login saw them.
        stored.hosts = Some(profile.hosts.iter().map(|h| h.to_string()).collect());
        // Under the profile's lock, so a refresh running at the same moment cannot overwrite it,
        // and the tokens read before the save are the ones it replaces.
        let lock = self.store.lock(&profile.name)?;
        if self.args.same_user {
            self.check_same_user(&stored)?;
        }
        let replaced = self.replaced_tokens();
        self.store.save(&profile.name, &stored, self.key)?;
        drop(lock);
        signals::on_interrupt_say(STORED_THEN_INTERRUPTED);
        self.provider.write_cache();
        timing.report();
        if let Some(replaced) = replaced {
            self.revoke_replaced(&replaced, &stored);
        }
        let who = self.who(&stored);
        eprintln!("{}", outcome(profile, &stored, who.as_deref()));
        Ok(())
    }

    /// Who logged in, for the last line: from the ID token, or when it names nobody (only a
    /// `sub`, or no ID token at all, as after some device logins) from UserInfo, asked once.
    fn who(&self, stored: &StoredTokens) -> Option<String> {
        let issuer = self.profile.issuer.to_string();
        let claims = stored
            .id_token
            .as_ref()
            .and_then(|t| jwt::unverified_claims(t.secret()).ok());
        let from_id_token = claims
            .as_ref()
            .map(jwt::IdClaims::person)
            .unwrap_or_default();
        if !from_id_token.named()
            && let Some(url) = &self.endpoints.userinfo
            && let Some(answer) =
                userinfo::fetch(self.http, url, &stored.access_token, from_id_token.sub)
            && answer.person().named()
        {
            return answer.person().describe(&issuer);
        }
        from_id_token.describe(&issuer)
    }

    /// `--same-user` (every login an agent runs for a client): the new tokens replace stored
    /// ones only when their ID tokens name the same user of the same provider. Whoever holds
    /// an agent's socket can start a login on the agent's host, but cannot make it hold, or
    /// switch to, another account's tokens; nothing is stored, and the replaced refresh token
    /// is not revoked. Where either side has no ID token there is no telling, and the login
    /// is refused too; with nothing stored, there is nothing to keep.
    fn check_same_user(&self, new: &StoredTokens) -> Result<()> {
        let profile = &self.profile.name;
        let Some(sealed) = self.store.read_sealed(profile)? else {
            return Ok(());
        };
        let old = sealed.open(self.key).map_err(|e| {
            Error::aborted(format!(
                "this login would replace tokens of profile `{profile}` that cannot be read here ({}), so there is no telling whose they are (--same-user); nothing was stored",
                e.message()
            ))
            .hint("log in where the agent runs to replace them")
        })?;
        let who = |tokens: &StoredTokens| subject(tokens).map(|sub| (tokens.issuer.clone(), sub));
        match (who(&old), who(new)) {
            (Some(old), Some(new)) if old == new => Ok(()),
            (old, new) => {
                let name = |who: &Option<(String, String)>| match who {
                    Some((_, sub)) => format!("user {}", crate::base::text::quoted(sub)),
                    None => "a user no ID token names".to_owned(),
                };
                Err(Error::aborted(format!(
                    "this login is of {}, but profile `{profile}` holds the tokens of {}, and a login through the agent may not replace them with another user's (--same-user); nothing was stored",
                    name(&new),
                    name(&old)
                ))
                .hint(format!(
                    "log in as the same user; to switch users, run `latchkey logout -p {profile}` where the agent runs, then log in"
                )))
            }
        }
    }

    /// The stored tokens this login is about to replace, when the login's key opens them (a
    /// file written with another key or passphrase is replaced unread).
    fn replaced_tokens(&self) -> Option<StoredTokens> {
        let opened = self
            .store
            .read_sealed(&self.profile.name)
            .and_then(|sealed| sealed.map(|s| s.open(self.key)).transpose());
        match opened {
            Ok(tokens) => tokens,
            Err(e) => {
                crate::debug!(
                    "the tokens this login replaces cannot be read, so they are not revoked: {}",
                    e.message()
                );
                None
            }
        }
    }

    /// Revokes the refresh token of the tokens this login replaced, so that it is not left live
    /// at the provider. Best effort: the login has succeeded, and one line says when the token
    /// was not revoked. Only another user's token is revoked (see [`issued_to_another_user`]).
    fn revoke_replaced(&self, replaced: &StoredTokens, stored: &StoredTokens) {
        let profile = self.profile;
        let Some(refresh_token) = &replaced.refresh_token else {
            return;
        };
        if stored
            .refresh_token
            .as_ref()
            .is_some_and(|new| new.secret() == refresh_token.secret())
        {
            return;
        }
        let not_revoked = |why: &str| {
            eprintln!(
                "could not revoke the replaced refresh token: {}",
                crate::base::text::escape_controls(why)
            );
        };
        // Tokens of another provider or client (the profile was changed since) are sent nowhere
        // under this profile's client ID, as for `token` and `logout`.
        if replaced.check_bound_to(profile).is_err() {
            not_revoked(&format!(
                "it came from {} (client {}), which profile `{}` no longer names",
                shown_whole(&replaced.issuer),
                shown(&replaced.client_id),
                profile.name
            ));
            return;
        }
        if !issued_to_another_user(replaced, stored) {
            crate::debug!(
                "the replaced refresh token is not revoked: it was issued to the same user (or an ID token is missing to tell), and the provider may revoke this login's tokens with it"
            );
            return;
        }
        // Revoking twice is harmless (RFC 7009 §2.2), so revocation is resent after timeouts.
        let http = Http::new(profile.http_settings(crate::net::retry::Resend::Transient));
        let url = match replaced
            .revocation_url(|| Ok(self.provider.issuers_endpoints()?.revocation))
        {
            Ok(Some(url)) => url,
            Ok(None) => {
                return not_revoked("the provider had no revocation endpoint when it was issued");
            }
            Err(e) => return not_revoked(e.message()),
        };
        // Only over a path the replaced tokens' own login trusted.
        if let Err(e) = replaced.check_path(&profile.name, &http, &url) {
            return not_revoked(e.message());
        }
        match revoke(
            &http,
            &url,
            profile,
            self.provider.auth_methods().revocation,
            refresh_token.secret(),
            "refresh_token",
        ) {
            Ok(()) => crate::debug!("revoked the replaced refresh token at {url}"),
            Err(failure) => not_revoked(&failure.describe()),
        }
    }

    /// The device authorization grant: a code to confirm on any device, polled until decided.
    fn device(&self) -> Result<()> {
        let profile = self.profile;
        let url = self
            .endpoints
            .device_authorization
            .as_ref()
            .ok_or_else(|| {
                let e = missing_endpoint(
                    profile,
                    "device authorization",
                    "device_authorization_endpoint",
                    self.provider.rfc8414_problem().as_deref(),
                );
                let hint = format!(
                    "{}, or log in without --device",
                    e.hint_text().unwrap_or_default()
                );
                e.hint(hint)
            })?;
        let auth = self.provider.auth_methods().token;
        let authorization =
            device::request(self.http, url, profile, auth, self.provider.lists_s256())?;
        signals::install();
        signals::on_interrupt_say(INTERRUPTED);
        self.show_device_code(&authorization);

        // The provider says how long the code lives (capped at an hour); --timeout may
        // shorten the wait.
        let lifetime = authorization.lifetime();
        let wait = self.args.timeout.map_or(lifetime, |t| t.min(lifetime));
        let deadline = Instant::now().checked_add(wait).ok_or_else(|| {
            Error::aborted("the device code's lifetime is out of range")
                .hint("run `latchkey login --device` again")
        })?;
        let mode = Mode::for_wait(false);
        let message = |left: Duration| {
            format!(
                "Waiting for the code to be confirmed — {} left",
                format_remaining(left)
            )
        };
        let spinner = Spinner::start(mode, message(wait));
        let polled = device::poll(
            self.http,
            &self.endpoints.token,
            profile,
            auth,
            &authorization,
            deadline,
            &mut |left| spinner.set_message(message(left)),
        );
        spinner.finish();
        let tokens = match polled {
            // The wait ended at --timeout, before the code itself expired: say which limit it was.
            Err(e)
                if e.exit_code() == crate::base::error::ExitCode::LoginAborted
                    && wait < lifetime
                    && Instant::now() >= deadline =>
            {
                return Err(Error::aborted(format!(
                    "the login timed out after {}",
                    format_remaining(wait)
                ))
                .hint(
                    "run it again, with a longer --timeout if you need more time; nothing was stored",
                ));
            }
            other => other?,
        };
        self.finish(tokens, None, Timing::start())
    }

    /// Where to go and which code to confirm, a QR code of it on a terminal, and the browser
    /// when one can be opened here.
    fn show_device_code(&self, authorization: &device::DeviceAuthorization) {
        let profile = self.profile;
        let style = term::Style::for_stderr();
        let open = authorization
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&authorization.verification_uri);
        let decision = browser::decide(
            &browser::Environment::detect(),
            browser_preference(self.args),
        );
        let mut prompt = device_prompt(profile, authorization, style, false);
        let (rows, columns) = console::Term::stderr().size();
        // The code goes below the text, which must stay on screen: what is left once the
        // text, the blank line before the code, the browser's line and the spinner are in.
        let reserved = 2 + usize::from(matches!(decision, Decision::Open { .. }));
        let rows_left = |text: &str| {
            let text_rows: usize = text
                .lines()
                .map(|line| {
                    console::measure_text_width(line)
                        .div_ceil(usize::from(columns.max(1)))
                        .max(1)
                })
                .sum();
            usize::from(rows).saturating_sub(text_rows + reserved)
        };
        let draw_qr = term::stderr_can_draw() && !self.args.no_qr;
        let short = |text: &str| {
            matches!(
                qr::render(open, usize::from(columns), rows_left(text), style.colour()),
                Err(qr::NotDrawn::TooShort { .. })
            )
        };
        if draw_qr && short(&prompt) {
            // A short terminal (80x24): the same text without its blank lines.
            prompt = device_prompt(profile, authorization, style, true);
        }
        eprint!("{prompt}");
        if draw_qr {
            let left = rows_left(&prompt);
            match qr::render(open, usize::from(columns), left, style.colour()) {
                Ok(code) => eprint!("\n{code}"),
                Err(qr::NotDrawn::TooNarrow { needed }) => eprintln!(
                    "(The QR code of this URL needs {needed} columns; the terminal has {columns}.)"
                ),
                Err(qr::NotDrawn::TooShort { needed }) => eprintln!(
                    "(The QR code of this URL needs {needed} rows below this text; the terminal has {left} left. A taller terminal shows it.)"
                ),
                Err(qr::NotDrawn::TooLong) => {
                    eprintln!("(This URL is too long for a QR code.)")
                }
            }
        }
        if let Decision::Open { launcher, why } = decision {
            match browser::launch(&launcher, open) {
                Ok(()) => eprintln!("{}", style.dim(&why)),
                Err(e) => eprintln!("could not start the browser ({e}): open the URL yourself"),
            }
        }
    }
}

/// The first thing a code-flow login says: which profile, at which provider, and the URL to open.
/// The issuer comes from the profiles file or the environment and the URL is built on the
/// provider's authorization endpoint, so both are shown as outside text.
/// The invited organization for people: its name (from the link) with its ID, escaped.
fn invitation_name(invitation: &Invitation) -> String {
    match &invitation.organization_name {
        Some(name) => format!("{} ({})", shown(name), shown(&invitation.organization)),
        None => shown(&invitation.organization),
    }
}

fn login_banner(profile: &Profile, url: &str) -> String {
    format!(
        "Log in to profile `{}` ({}) by opening this URL:\n\n{}\n\n",
        profile.name,
        shown_whole(&profile.issuer.to_string()),
        shown_whole(url)
    )
}

/// Where to go and which code to confirm in a device login. The URLs and the code are the
/// provider's words, so all are shown as outside text; a URL stays whole, to be copied.
fn device_prompt(
    profile: &Profile,
    authorization: &device::DeviceAuthorization,
    style: term::Style,
    compact: bool,
) -> String {
    let open = authorization
        .verification_uri_complete
        .as_deref()
        .unwrap_or(&authorization.verification_uri);
    let code = style.bold(&shown(&authorization.user_code));
    let gap = if compact { "\n" } else { "\n\n" };
    let mut text = format!(
        "Log in to profile `{}` ({}) on any device by opening this URL:{gap}{}{gap}",
        profile.name,
        shown_whole(&profile.issuer.to_string()),
        shown_whole(open)
    );
    if authorization.verification_uri_complete.is_some() {
        text.push_str(&format!(
            "Check that the page shows the code {code} (or open {} and type it in).\n",
            shown_whole(&authorization.verification_uri)
        ));
    } else {
        text.push_str(&format!("Enter the code {code} there.\n"));
    }
    text
}

/// Opt-in (`LATCHKEY_TIMING=1`) measure of latchkey's own work in a login: from the response's
/// arrival to the token file renamed into place, less the time spent waiting on the provider.
struct Timing {
    received: Instant,
    waiting_on_provider: Duration,
}

impl Timing {
    fn start() -> Timing {
        Timing {
            received: Instant::now(),
            waiting_on_provider: Duration::ZERO,
        }
    }

    /// Runs a request to the provider, counting its time as the provider's.
    fn provider<T>(&mut self, request: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = request();
        self.waiting_on_provider += started.elapsed();
        result
    }

    fn report(&self) {
        if std::env::var_os("LATCHKEY_TIMING").is_some_and(|v| !v.is_empty()) {
            let total = self.received.elapsed();
            let own = total.saturating_sub(self.waiting_on_provider);
            eprintln!(
                "timing: {:.2} ms from the response to the stored file: {:.2} ms waiting on the provider, {:.2} ms latchkey's own work",
                total.as_secs_f64() * 1e3,
                self.waiting_on_provider.as_secs_f64() * 1e3,
                own.as_secs_f64() * 1e3
            );
        }
    }
}

/// OpenID Connect Core §3.1.3.3: a token response to a request with the `openid` scope must
/// carry an ID token. One without it is refused (exit 5), before anything is stored: otherwise
/// the login would skip the nonce and every other check on who logged in. (A refresh may leave
/// it out, §12.2; the stored one is kept then, see `store::refresh`.)
fn require_id_token(profile: &Profile, has_id_token: bool) -> Result<()> {
    if has_id_token || !profile.scopes.iter().any(|s| s == "openid") {
        return Ok(());
    }
    Err(Error::provider(
        "the provider returned no ID token, although the login asked for one (scope `openid`); nothing can say who logged in",
    )
    .hint(format!(
        "nothing was stored; check that the provider supports OpenID Connect for this client, or remove `openid` from the scopes of profile `{}`",
        profile.name
    )))
}

/// Whether two logins' tokens were issued to different users, as their ID tokens say: only then
/// can revoking the older refresh token not end the newer login too. RFC 7009 §2.1 lets a
/// provider revoke the whole grant with a refresh token, and many do: Keycloak the session's
/// client session, Google the user's grant, Auth0 the user's grant with "Refresh Token Revocation
/// Deletes Grant", oidc-provider the grant a browser session reuses. A second login of the same
/// user (often in the same browser session) shares it, and revoking the replaced token would
/// leave the new one dead.
fn issued_to_another_user(replaced: &StoredTokens, stored: &StoredTokens) -> bool {
    matches!((subject(replaced), subject(stored)), (Some(old), Some(new)) if old != new)
}

/// The user the tokens' ID token names (`sub`), when they have one. Read without verifying:
/// every ID token stored was verified when it arrived.
fn subject(tokens: &StoredTokens) -> Option<String> {
    tokens
        .id_token
        .as_ref()
        .and_then(|t| jwt::unverified_claims(t.secret()).ok())
        .and_then(|claims| claims.sub)
}

/// What --browser / --no-browser ask for.
fn browser_preference(args: &LoginArgs) -> Preference {
    if args.no_browser {
        Preference::Never
    } else if args.browser {
        Preference::Force
    } else {
        Preference::Auto
    }
}

/// The loopback URI when listening; otherwise the profile's code-showing page, or a loopback
/// URI nobody listens on, whose failed page still shows the code in the address bar.
fn redirect_uri(profile: &Profile, listening_port: Option<u16>) -> Result<String> {
    if let Some(port) = listening_port {
        return Ok(format!("http://127.0.0.1:{port}{}", profile.callback_path));
    }
    if let Some(uri) = &profile.paste_redirect_uri {
        return Ok(uri.to_string());
    }
    let port = match profile.redirect_port {
        0 => LoopbackListener::bind(0)?.port(),
        port => port,
    };
    Ok(format!("http://127.0.0.1:{port}{}", profile.callback_path))
}

/// One line: who is logged in, with which profile, until when. Never a token value.
fn outcome(profile: &Profile, tokens: &StoredTokens, who: Option<&str>) -> String {
    let who = who.map(|who| match organization_shown(tokens) {
        Some(organization) => format!("{who} to organization {organization}"),
        None => who.to_owned(),
    });
    outcome_line(
        &profile.name,
        who.as_deref(),
        tokens.expires_at,
        tokens.refresh_token.is_some(),
        unix_now(),
    )
}

/// The organization logged in to, as the ID token names it (`acme (org_…)`), escaped; as the
/// login asked for it when the token does not say.
fn organization_shown(tokens: &StoredTokens) -> Option<String> {
    let asked = tokens.organization.as_deref()?;
    let claims = tokens
        .id_token
        .as_ref()
        .and_then(|t| jwt::unverified_claims(t.secret()).ok())
        .unwrap_or_default();
    Some(match (claims.org_name, claims.org_id) {
        (Some(name), Some(id)) => format!("{} ({})", shown(&name), shown(&id)),
        (name, id) => shown(name.or(id).as_deref().unwrap_or(asked)),
    })
}

fn outcome_line(
    profile: &str,
    who: Option<&str>,
    expires_at: Option<u64>,
    refresh_token: bool,
    now: u64,
) -> String {
    let who = who.map_or_else(|| "(the provider did not say who)".to_owned(), shown);
    let expiry = match expires_at {
        Some(at) => format!(
            "access token expires {} ({})",
            rfc3339(at),
            relative(at, now)
        ),
        None => "access token expiry unknown (the provider did not say)".to_owned(),
    };
    let refresh = if refresh_token {
        "refresh token kept"
    } else {
        "no refresh token"
    };
    format!("Logged in as {who} with profile `{profile}`; {expiry}, {refresh}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::text::is_unsafe;
    use crate::config::paths::ConfigOrigin;
    use crate::config::{FlagOverrides, ProfilesFile};
    use std::path::Path;

    /// The user code the issue reported: a window title, a bell and a screen clear.
    const USER_CODE: &str = "AB\u{1b}]0;TITLE\u{7}\u{1b}[2J";

    /// A profile whose issuer (from the file) hides a right-to-left override.
    fn profile() -> Profile {
        let file = ProfilesFile::parse(
            Path::new("p.toml"),
            ConfigOrigin::Flag,
            "[profiles.dev]\nissuer = \"https://idp.example/\\u202Eevil\"\nclient_id = \"abc\"\n"
                .to_owned(),
        )
        .unwrap();
        file.resolve_profile("dev", &FlagOverrides::default())
            .unwrap()
    }

    /// The text as it reads without the (terminal-only) bold, which is latchkey's own escape.
    fn unstyled(text: &str) -> String {
        text.replace("\u{1b}[1m", "").replace("\u{1b}[0m", "")
    }

    fn assert_inert(text: &str) {
        assert!(
            !text.chars().any(|c| is_unsafe(c) && c != '\n'),
            "outside text reached the terminal raw: {text:?}"
        );
    }

    fn authorization(json: serde_json::Value) -> device::DeviceAuthorization {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_device_prompt_shows_the_providers_words_escaped() {
        let complete = authorization(serde_json::json!({
            "device_code": "d",
            "user_code": USER_CODE,
            "verification_uri": "https://idp.example/device\u{202e}",
            "verification_uri_complete": "https://idp.example/device?user_code=AB%1B",
            "expires_in": 600,
        }));
        let text = unstyled(&device_prompt(
            &profile(),
            &complete,
            term::Style::for_stderr(),
            false,
        ));
        assert_inert(&text);
        assert_eq!(
            text,
            "Log in to profile `dev` (https://idp.example/\\u{202e}evil) on any device by opening this URL:\n\n\
             https://idp.example/device?user_code=AB%1B\n\n\
             Check that the page shows the code AB\\u{1b}]0;TITLE\\u{7}\\u{1b}[2J (or open https://idp.example/device\\u{202e} and type it in).\n"
        );

        let plain = authorization(serde_json::json!({
            "device_code": "d",
            "user_code": USER_CODE,
            "verification_uri": "https://idp.example/device",
            "expires_in": 600,
        }));
        let text = unstyled(&device_prompt(
            &profile(),
            &plain,
            term::Style::for_stderr(),
            false,
        ));
        assert_inert(&text);
        assert!(
            text.ends_with(
                "https://idp.example/device\n\nEnter the code AB\\u{1b}]0;TITLE\\u{7}\\u{1b}[2J there.\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_login_banner_shows_the_issuer_and_url_escaped_and_whole() {
        let url = format!(
            "https://idp.example/auth?client_id=abc&state={}",
            "s".repeat(600)
        );
        let text = login_banner(&profile(), &url);
        assert_inert(&text);
        assert_eq!(
            text,
            format!(
                "Log in to profile `dev` (https://idp.example/\\u{{202e}}evil) by opening this URL:\n\n{url}\n\n"
            ),
            "a long URL is shown whole, to be copied"
        );
    }

    #[test]
    fn the_outcome_shows_the_claim_escaped() {
        let line = outcome_line(
            "dev",
            Some("\u{1b}[31mMallory\u{202e}"),
            Some(160),
            true,
            100,
        );
        assert_inert(&line);
        assert_eq!(
            line,
            "Logged in as \\u{1b}[31mMallory\\u{202e} with profile `dev`; access token expires 1970-01-01T00:02:40Z (in 1m 00s), refresh token kept."
        );
        let long = outcome_line("dev", Some(&"m".repeat(10_000)), None, false, 0);
        assert!(long.chars().count() < 330, "a claim is cut short: {long}");
        assert_eq!(
            outcome_line("dev", None, None, false, 0),
            "Logged in as (the provider did not say who) with profile `dev`; access token expiry unknown (the provider did not say), no refresh token."
        );
    }

    #[test]
    fn an_id_token_is_required_when_openid_was_asked_for() {
        let mut profile = profile();
        assert!(profile.scopes.iter().any(|s| s == "openid"));
        let err = require_id_token(&profile, false).unwrap_err();
        assert_eq!(
            err.exit_code(),
            crate::base::error::ExitCode::ProviderRefused
        );
        assert!(err.message().contains("no ID token"), "{}", err.message());
        assert!(
            err.hint_text()
                .is_some_and(|h| h.contains("nothing was stored")),
            "{:?}",
            err.hint_text()
        );
        assert!(require_id_token(&profile, true).is_ok());
        // Plain OAuth (no `openid`): there is no ID token to require.
        profile.scopes = vec!["api".into(), "offline_access".into()];
        assert!(require_id_token(&profile, false).is_ok());
    }

    /// Tokens whose ID token names `sub` (or that have none).
    fn tokens_of(sub: Option<&str>) -> StoredTokens {
        let key = jwt::test_keys::TestKey::generate("k");
        let id_token = sub.map(|sub| {
            crate::base::secret::IdToken::new(key.sign(
                &serde_json::json!({ "alg": "ES256", "kid": "k" }),
                &serde_json::json!({ "sub": sub, "iss": "https://idp.example/" }),
            ))
        });
        StoredTokens::new(
            token_endpoint::TokenResponse {
                access_token: crate::base::secret::AccessToken::new("a"),
                expires_in: None,
                refresh_token: Some(crate::base::secret::RefreshToken::new("r")),
                id_token,
                scope: None,
                token_type: "Bearer".into(),
                date: None,
            },
            Origin {
                issuer: "https://idp.example/",
                client_id: "abc",
                audience: None,
                token_endpoint: "https://idp.example/token",
                revocation_endpoint: None,
                organization: None,
                added_roots: &[],
            },
        )
    }

    #[test]
    fn only_another_users_tokens_are_revoked_when_replaced() {
        let alice = tokens_of(Some("alice"));
        assert!(issued_to_another_user(&alice, &tokens_of(Some("bob"))));
        // The same user's grant or session may be the new login's: revoking would end it.
        assert!(!issued_to_another_user(&alice, &tokens_of(Some("alice"))));
        // Without an ID token on either side, nobody can tell.
        assert!(!issued_to_another_user(&alice, &tokens_of(None)));
        assert!(!issued_to_another_user(&tokens_of(None), &alice));
    }
}
