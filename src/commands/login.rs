//! `latchkey login`: the Authorization Code flow with PKCE, taking the response from the
//! loopback listener or a paste (whichever comes first), then the exchange and the store.

use super::Globals;
use crate::base::clock::unix_now;
use crate::base::duration::{format_remaining, relative, rfc3339};
use crate::base::error::{Error, Result};
use crate::cli::LoginArgs;
use crate::config::{FlagOverrides, Flow, Profile};
use crate::login::callback::LoopbackListener;
use crate::net::http::Http;
use crate::oauth::auth_response::{self, AuthResponse};
use crate::oauth::authorize::authorize_url;
use crate::oauth::endpoints::{Endpoints, Provider};
use crate::oauth::pkce::LoginSecrets;
use crate::oauth::{device, id_token, jwt, token_endpoint};
use crate::store::{Key, StoredTokens, TokenStore};
use crate::terminal::browser::{self, Decision, Preference};
use crate::terminal::spinner::{Mode, Spinner};
use crate::terminal::{interrupt, qr, style as term};
use std::io::BufRead;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// A pasted line longer than this is not a redirect URL.
const MAX_PASTE: usize = 16 * 1024;

/// What the waiting loop hears about.
enum Event {
    /// The loopback listener accepted a response whose state matched.
    Loopback(AuthResponse),
    /// A line arrived on stdin.
    Pasted(String),
    /// stdin reached its end: nothing more can be pasted.
    PasteClosed,
}

pub fn run(globals: &Globals, args: LoginArgs) -> Result<()> {
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
    let file = globals.load_profiles()?;
    let (name, _) = file.select(globals.profile_name(args.profile.as_deref()))?;
    let flags = FlagOverrides {
        audience: args.audience.clone(),
        scopes: (!args.scope.is_empty()).then(|| {
            args.scope
                .iter()
                .flat_map(|s| s.split_whitespace())
                .map(str::to_owned)
                .collect()
        }),
    };
    let profile = file.resolve_profile(&name, &flags)?;
    let store = TokenStore::open()?;
    // The key first: a passphrase prompt must come before stdin is read for pastes.
    let key = store.key_for_writing(&profile.key_source, &profile.name)?;
    // The code exchange is resent only when it never left this host: a code is single-use.
    let http = Http::new(profile.http_settings(crate::net::retry::Resend::OnlyUnsent));
    let provider = Provider::new(&profile, &http, Some(store.metadata_path(&profile.name)));
    // A login is the moment to look again: discovery is fetched anew, not taken from the cache.
    let endpoints = provider.endpoints_fresh()?;
    if args.device || profile.flow == Flow::Device {
        return device_login(&profile, &args, &http, &provider, &endpoints, &store, &key);
    }
    let secrets = LoginSecrets::generate();

    let listener = if args.no_loopback {
        None
    } else {
        Some(LoopbackListener::bind(profile.redirect_port)?)
    };
    let redirect_uri = redirect_uri(&profile, listener.as_ref().map(LoopbackListener::port))?;
    crate::debug!(
        "redirect_uri {redirect_uri}; loopback listener {}; paste {}",
        listener.as_ref().map_or_else(
            || "off".to_owned(),
            |l| format!("on 127.0.0.1:{}", l.port())
        ),
        if args.no_paste { "off" } else { "on" }
    );
    let url = authorize_url(&endpoints.authorize, &profile, &redirect_uri, &secrets);
    interrupt::install();

    let style = term::Style::for_stderr();
    let paste = !args.no_paste;
    let env = browser::Environment::detect();
    eprintln!(
        "Log in to profile `{}` ({}) by opening this URL:\n\n{url}\n",
        profile.name, profile.issuer
    );
    let preference = browser_preference(&args);
    match browser::decide(&env, preference) {
        Decision::Open { launcher, why } => match browser::launch(&launcher, &url.to_string()) {
            Ok(()) => eprintln!("{}", style.dim(&why)),
            Err(e) => eprintln!("could not start the browser ({e}): open the URL yourself"),
        },
        Decision::Print { why } => eprintln!("{why}"),
    }
    if let Some(port) = listener.as_ref().map(LoopbackListener::port) {
        if env.ssh {
            eprintln!(
                "To finish in your laptop's browser, forward this host's loopback port first:\n    ssh -L {port}:127.0.0.1:{port} {}",
                browser::host_name()
            );
        }
    } else if profile.paste_redirect_uri.is_none() {
        eprintln!(
            "After you log in, the browser will fail to load {redirect_uri}: copy the whole URL from its address bar and paste it here."
        );
    }

    let (events, inbox) = mpsc::channel();
    if let Some(listener) = listener {
        let (callbacks, received) = mpsc::channel();
        listener
            .require_iss(endpoints.iss_parameter_supported)
            .serve(
                profile.callback_path.clone(),
                secrets.state.clone(),
                profile.issuer.to_string(),
                callbacks,
            );
        let forward = events.clone();
        std::thread::spawn(move || {
            for callback in received {
                if forward.send(Event::Loopback(callback.response)).is_err() {
                    break;
                }
            }
        });
    }
    let interactive = paste && term::stdin_is_terminal();
    if paste {
        spawn_stdin_reader(events);
    } else {
        drop(events);
    }

    let timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let response = wait_for_response(
        &profile,
        &secrets,
        endpoints.iss_parameter_supported,
        inbox,
        timeout,
        interactive,
        args.no_loopback,
    )?;
    let code = match response {
        AuthResponse::Code { code, .. } => code,
        AuthResponse::Refused { error, description } => {
            return Err(
                token_endpoint::oauth_error(&error, description.as_deref()).hint(format!(
                    "the login was not completed; run `latchkey login -p {}` to try again",
                    profile.name
                )),
            );
        }
    };

    let mut timing = Timing::start();
    let tokens = timing
        .provider(|| {
            token_endpoint::exchange_code(
                &http,
                &endpoints.token,
                &profile,
                &code,
                &secrets.verifier,
                &redirect_uri,
            )
        })
        // A refused exchange (an OAuth error) comes without a hint of its own; every error has one.
        .map_err(|e| match e.hint_text() {
            Some(_) => e,
            None => e.hint(format!(
                "nothing was stored; run `latchkey login -p {}` to try again",
                profile.name
            )),
        })?;
    finish(
        &profile,
        &provider,
        &store,
        &key,
        tokens,
        Some(secrets.nonce.secret()),
        timing,
    )
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

/// What every login ends with: the ID token checked, the tokens stored, one line saying so.
fn finish(
    profile: &Profile,
    provider: &Provider<'_>,
    store: &TokenStore,
    key: &Key,
    tokens: token_endpoint::TokenResponse,
    nonce: Option<&str>,
    mut timing: Timing,
) -> Result<()> {
    token_endpoint::warn_on_clock_skew(tokens.date.as_deref());
    let issuer = profile.issuer.to_string();
    if let Some(id_token) = &tokens.id_token {
        let expected = id_token::Expected {
            issuer: &issuer,
            client_id: &profile.client_id,
            nonce,
            now: unix_now(),
        };
        id_token::validate(id_token, &expected, &mut |force| {
            timing.provider(|| provider.jwks(force))
        })?;
    }
    let stored = StoredTokens::new(
        tokens,
        &issuer,
        &profile.client_id,
        profile.audience.as_deref(),
    );
    // Under the profile's lock, so a refresh running at the same moment cannot overwrite it.
    let _lock = store.lock(&profile.name)?;
    store.save(&profile.name, &stored, key)?;
    timing.report();
    eprintln!("{}", outcome(profile, &stored));
    Ok(())
}

/// The device authorization grant: a code to confirm on any device, polled until decided.
fn device_login(
    profile: &Profile,
    args: &LoginArgs,
    http: &Http,
    provider: &Provider<'_>,
    endpoints: &Endpoints,
    store: &TokenStore,
    key: &Key,
) -> Result<()> {
    let url = endpoints.device_authorization.as_ref().ok_or_else(|| {
        Error::config(format!(
            "the provider of profile `{}` has no device authorization endpoint",
            profile.name
        ))
        .hint("set device_authorization_endpoint in the profile if it has one, or log in without --device")
    })?;
    let authorization = device::request(http, url, profile)?;
    interrupt::install();
    let style = term::Style::for_stderr();
    let shown = authorization
        .verification_uri_complete
        .as_deref()
        .unwrap_or(&authorization.verification_uri);
    eprintln!(
        "Log in to profile `{}` ({}) on any device by opening this URL:\n\n{shown}\n",
        profile.name, profile.issuer
    );
    if authorization.verification_uri_complete.is_some() {
        eprintln!(
            "Check that the page shows the code {}  (or open {} and type it in).",
            style.bold(&authorization.user_code),
            authorization.verification_uri
        );
    } else {
        eprintln!(
            "Enter the code {} there.",
            style.bold(&authorization.user_code)
        );
    }
    if term::stderr_is_terminal() && !args.no_qr {
        let (_, columns) = console::Term::stderr().size();
        if let Some(code) = qr::render(shown, usize::from(columns).min(80)) {
            eprint!("\n{code}");
        }
    }
    let preference = browser_preference(args);
    if let Decision::Open { launcher, why } =
        browser::decide(&browser::Environment::detect(), preference)
    {
        match browser::launch(&launcher, shown) {
            Ok(()) => eprintln!("{}", style.dim(&why)),
            Err(e) => eprintln!("could not start the browser ({e}): open the URL yourself"),
        }
    }

    // The provider says how long the code lives; --timeout may shorten the wait.
    let lifetime = Duration::from_secs(authorization.expires_in);
    let wait = args.timeout.map_or(lifetime, |t| t.min(lifetime));
    let deadline = Instant::now() + wait;
    let mode = if term::stderr_is_terminal() {
        Mode::Inline
    } else {
        Mode::Hidden
    };
    let message = |left: Duration| {
        format!(
            "Waiting for the code to be confirmed — {} left",
            format_remaining(left)
        )
    };
    let spinner = Spinner::start(mode, message(wait));
    let polled = device::poll(
        http,
        &endpoints.token,
        profile,
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
    finish(profile, provider, store, key, tokens, None, Timing::start())
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

/// Reads pasted lines on a thread of its own, so the loopback path is never blocked by it.
fn spawn_stdin_reader(events: mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => {
                    let _ = events.send(Event::PasteClosed);
                    return;
                }
                Ok(_) => {
                    let text = if line.len() > MAX_PASTE {
                        "(a line too long to be a redirect URL)".to_owned()
                    } else {
                        String::from_utf8_lossy(&line).into_owned()
                    };
                    if events.send(Event::Pasted(text)).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// Waits for the first valid response from either path, showing the time left.
fn wait_for_response(
    profile: &Profile,
    secrets: &LoginSecrets,
    iss_required: bool,
    inbox: mpsc::Receiver<Event>,
    timeout: Duration,
    interactive: bool,
    paste_only: bool,
) -> Result<AuthResponse> {
    let deadline = Instant::now() + timeout;
    let mode = if !term::stderr_is_terminal() {
        Mode::Hidden
    } else if interactive {
        Mode::StatusLine
    } else {
        Mode::Inline
    };
    let waiting_for = if paste_only {
        "Waiting for a pasted code or redirect URL"
    } else if interactive {
        "Waiting for the browser, or a pasted code or redirect URL"
    } else {
        "Waiting for the browser"
    };
    let message = |left: Duration| format!("{waiting_for} — {} left", format_remaining(left));
    let prompt = || {
        if interactive {
            eprint!("Paste the redirect URL or code here: ");
        }
    };
    // The spinner first: reserving its status line must happen at the start of a line, before
    // the prompt puts the cursor where the user types.
    let spinner = Spinner::start(mode, message(timeout));
    prompt();
    let issuer = profile.issuer.to_string();
    let mut paste_open = true;
    let result = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(Error::aborted(format!(
                "the login timed out after {}",
                format_remaining(timeout)
            ))
            .hint(
                "run it again, with a longer --timeout if you need more time; nothing was stored",
            ));
        }
        spinner.set_message(message(left));
        match inbox.recv_timeout(left.min(Duration::from_millis(500))) {
            Ok(Event::Loopback(response)) => {
                if interactive {
                    // End the half-typed prompt line so what follows starts cleanly.
                    eprintln!();
                }
                break Ok(response);
            }
            Ok(Event::Pasted(line)) => {
                if line.trim().is_empty() {
                    prompt();
                    continue;
                }
                match auth_response::from_pasted(
                    &line,
                    &secrets.state,
                    auth_response::Issuer {
                        value: &issuer,
                        required: iss_required,
                    },
                ) {
                    Ok(response) => break Ok(response),
                    Err(rejection) => {
                        eprintln!("That was not accepted: {rejection}. Try again.");
                        prompt();
                    }
                }
            }
            Ok(Event::PasteClosed) => {
                paste_open = false;
                if paste_only {
                    break Err(Error::aborted("stdin closed before a code or redirect URL was pasted")
                        .hint("paste the redirect URL on stdin, or drop --no-loopback to use the loopback listener"));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(Error::aborted(if paste_open {
                    "the login could not receive a response"
                } else {
                    "stdin closed and no loopback listener is running"
                }));
            }
        }
    };
    spinner.finish();
    result
}

/// One line: who is logged in, with which profile, until when. Never a token value.
fn outcome(profile: &Profile, tokens: &StoredTokens) -> String {
    let who = tokens
        .id_token
        .as_ref()
        .and_then(|t| jwt::unverified_claims(t.secret()).ok())
        .and_then(|claims| claims.who().map(str::to_owned))
        .unwrap_or_else(|| "(no ID token)".to_owned());
    let expiry = match tokens.expires_at {
        Some(at) => format!(
            "access token expires {} ({})",
            rfc3339(at),
            relative(at, unix_now())
        ),
        None => "access token expiry not stated".to_owned(),
    };
    let refresh = if tokens.refresh_token.is_some() {
        "refresh token kept"
    } else {
        "no refresh token"
    };
    format!(
        "Logged in as {who} with profile `{}`; {expiry}, {refresh}.",
        profile.name
    )
}
