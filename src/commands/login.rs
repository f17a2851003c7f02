//! `latchkey login`: the Authorization Code flow with PKCE, taking the response from the
//! loopback listener or a paste (whichever comes first), then the exchange and the store.

use super::Globals;
use crate::auth_response::{self, AuthResponse};
use crate::authorize::authorize_url;
use crate::browser::{self, Decision, Preference};
use crate::callback::LoopbackListener;
use crate::cli::LoginArgs;
use crate::config::{FlagOverrides, Profile};
use crate::duration::{format_remaining, relative, rfc3339};
use crate::endpoints;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::pkce::LoginSecrets;
use crate::spinner::{Mode, Spinner};
use crate::store::{StoredTokens, TokenStore, unix_now};
use crate::{interrupt, jwt, term, token_endpoint};
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
        return Err(Error::usage(
            "--browser and --no-browser contradict each other",
        ));
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
    let (profile, _) = file.resolve(&name, &flags)?;
    let store = TokenStore::open()?;
    // The key first: a passphrase prompt must come before stdin is read for pastes.
    let key = store.key_for_writing(&profile.key_source, &profile.name)?;
    let http = Http::new(profile.http_timeout);
    let endpoints = endpoints::resolve(&profile, &http)?;
    let secrets = LoginSecrets::generate();

    let listener = if args.no_loopback {
        None
    } else {
        Some(LoopbackListener::bind(profile.redirect_port)?)
    };
    let redirect_uri = redirect_uri(&profile, listener.as_ref().map(LoopbackListener::port))?;
    let url = authorize_url(&endpoints.authorize, &profile, &redirect_uri, &secrets);
    interrupt::install();

    let style = term::Style::for_stderr();
    let paste = !args.no_paste;
    let env = browser::Environment::detect();
    eprintln!(
        "Log in to profile `{}` ({}) by opening this URL:\n\n{url}\n",
        profile.name, profile.issuer
    );
    let preference = if args.no_browser {
        Preference::Never
    } else if args.browser {
        Preference::Force
    } else {
        Preference::Auto
    };
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
        listener.serve(
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

    let tokens = token_endpoint::exchange_code(
        &http,
        &endpoints.token,
        &profile,
        &code,
        &secrets.verifier,
        &redirect_uri,
    )?;
    token_endpoint::warn_on_clock_skew(tokens.date.as_deref());
    let stored = StoredTokens::new(
        tokens,
        &profile.issuer.to_string(),
        &profile.client_id,
        profile.audience.as_deref(),
    );
    // Under the profile's lock, so a refresh running at the same moment cannot overwrite it.
    let _lock = store.lock(&profile.name)?;
    store.save(&profile.name, &stored, &key)?;
    eprintln!("{}", outcome(&profile, &stored));
    Ok(())
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
                match auth_response::from_pasted(&line, &secrets.state, &issuer) {
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
