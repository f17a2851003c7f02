//! `latchkey agent`: serves this host's profiles over a Unix socket (`agent::protocol`), so
//! that hosts the socket is forwarded to get tokens without storing any. Refresh tokens never
//! leave it; decrypted token files are kept in memory while unchanged (`OpenedCache`), so a
//! token costs no decryption. A login through it runs `latchkey login` here, where the browser
//! is, and streams what it says to the client.

use super::Globals;
use crate::agent::protocol::{
    self, Answer, Body, HelloAnswer, LoggedIn, Request, StatusAnswer, Stopped, TokenAnswer,
};
use crate::agent::socket;
use crate::base::error::{Error, Result};
use crate::base::secret::ServedToken;
use crate::base::text::{quoted, shown_whole};
use crate::cli::AgentArgs;
use crate::config::{Profile, ProfilesFile};
use crate::oauth::token_endpoint::ApiRequest;
use crate::store::TokenStore;
use crate::store::refresh::{self, Need, OpenedCache};
use crate::store::report::StatusReport;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a client may take to send its whole request once it has connected: one deadline
/// for the request, not per read, so a client trickling a byte at a time is cut off too.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once (a forwarded socket is open to whoever controls the remote host,
/// and each connection has a worker thread). Further clients wait in the socket's listen queue
/// and are served in turn: a busy worker is free within [`REQUEST_TIMEOUT`], unless it serves a
/// login.
const MAX_CONNECTIONS: usize = 32;

/// What every connection shares.
struct Agent {
    config: Option<PathBuf>,
    /// Where the profiles file is, and the token store: found once, as the agent's environment
    /// does not change.
    config_path: PathBuf,
    store: TokenStore,
    /// `--profile`: the only profiles served (empty: all).
    allowed: Vec<String>,
    no_login: bool,
    /// `--confirm`: the terminal every request is confirmed on, one at a time.
    confirm: Option<Mutex<std::fs::File>>,
    cache: Mutex<OpenedCache>,
    /// The profiles file as last read, and what its metadata was then: read again only when
    /// it changed (a parse costs more than the rest of a token request).
    profiles: Mutex<Option<(FileStamp, Arc<Loaded>)>>,
    workers: Workers,
}

/// What tells a changed file from the one read before.
type FileStamp = (u64, u64, std::time::SystemTime);

/// One version of the profiles file, and the profiles resolved from it: each is layered and
/// validated once (the agent's environment does not change), which is otherwise most of what
/// a token request costs.
struct Loaded {
    file: ProfilesFile,
    resolved: Mutex<Vec<Arc<Profile>>>,
}

impl Loaded {
    fn new(file: ProfilesFile) -> Loaded {
        Loaded {
            file,
            resolved: Mutex::new(Vec::new()),
        }
    }

    /// Profile `name`, resolved from this file once.
    fn profile(&self, name: &str) -> Result<Arc<Profile>> {
        let mut resolved = self.resolved.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(profile) = resolved.iter().find(|p| p.name == name) {
            return Ok(Arc::clone(profile));
        }
        let profile = Arc::new(self.file.resolve_profile(name, &Default::default())?);
        resolved.push(Arc::clone(&profile));
        Ok(profile)
    }
}

/// The threads that accept and serve connections, one connection at a time each: at most
/// [`MAX_CONNECTIONS`], made as they are needed and kept (a thread made for every request cost
/// more than serving the token). A worker accepts its connection itself, so that a request wakes
/// one thread only.
#[derive(Default)]
struct Workers {
    started: AtomicUsize,
    /// Workers waiting in `accept`.
    idle: AtomicUsize,
}

pub fn run(globals: &Globals, args: AgentArgs) -> Result<()> {
    let path = args
        .socket
        .clone()
        .or_else(socket::path_from_env)
        .unwrap_or_else(socket::default_path);
    if args.stop {
        return stop(&path);
    }
    if args.systemd_unit {
        return super::print_stdout(&systemd_unit(&args)?);
    }
    let (allowed, served) = profiles_to_serve(globals, &args)?;
    if args.daemon {
        if args.confirm {
            return Err(Error::usage(
                "--confirm asks in the agent's terminal, and --daemon leaves it without one",
            )
            .hint("run `latchkey agent --confirm` in a terminal or tmux pane"));
        }
        return daemonize(&path, &args);
    }
    let confirm = args.confirm.then(confirm_terminal).transpose()?;
    let listener = listen(&path)?;
    let shown_path = shown_whole(&path.display().to_string());
    eprintln!(
        "latchkey agent (pid {}) serving {served} at {shown_path}\nOn this host: export {}={shown_path}",
        std::process::id(),
        socket::SOCKET_VAR,
    );
    let agent = Arc::new(Agent {
        config: globals.config.clone(),
        config_path: crate::config::paths::config_file(globals.config.as_deref())?.0,
        store: TokenStore::open()?,
        allowed,
        no_login: args.no_login,
        confirm: confirm.map(Mutex::new),
        cache: Mutex::new(OpenedCache::new(args.lifetime)),
        profiles: Mutex::new(None),
        workers: Workers::default(),
    });
    if args.lifetime.is_some() {
        forget_after_lifetime(Arc::clone(&agent));
    }
    // This thread is the first worker.
    agent.workers.started.store(1, Ordering::SeqCst);
    work(&agent, &Arc::new(listener));
    Ok(())
}

/// The profiles `--profile` names (all when none), each checked to exist, and how they are
/// named in the agent's first line. The file is read again for every request (edits apply at
/// once), but a broken one or an unknown --profile is better said now than to a client.
fn profiles_to_serve(globals: &Globals, args: &AgentArgs) -> Result<(Vec<String>, String)> {
    let mut allowed = args.profile.clone();
    allowed.extend(globals.profile.clone());
    let file = globals.load_profiles()?;
    for name in &allowed {
        file.select(Some(name))?;
    }
    let served = if allowed.is_empty() {
        file.profile_names().collect::<Vec<_>>().join(", ")
    } else {
        allowed.join(", ")
    };
    Ok((allowed, served))
}

/// `--confirm`'s terminal: the agent's own, where its user answers.
fn confirm_terminal() -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| {
            Error::usage(format!(
                "--confirm needs a terminal to ask on, and this agent has none ({e})"
            ))
            .hint("run it in a terminal or tmux pane, or without --confirm")
        })
}

/// The socket, bound in a directory only its user can write, 0600, and removed when the agent
/// is ended by a signal.
fn listen(path: &Path) -> Result<UnixListener> {
    socket::prepare(path)?;
    let listener = UnixListener::bind(path)
        .map_err(|e| Error::store(format!("cannot listen on {}: {e}", path.display())))?;
    set_mode(path, 0o600)?;
    remove_on_exit(path);
    Ok(listener)
}

/// `--lifetime`: once a second, forgets what was opened longer ago than that.
fn forget_after_lifetime(agent: Arc<Agent>) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            if let Ok(mut cache) = agent.cache.lock() {
                cache.forget_expired();
            }
        }
    });
}

/// A worker: accepts a connection and serves it, again and again. The last idle worker to
/// take a connection starts another, while there is room, so that one is always accepting;
/// once [`MAX_CONNECTIONS`] are busy, new clients wait in the socket's listen queue and are
/// served in turn, rather than turned away.
fn work(agent: &Arc<Agent>, listener: &Arc<UnixListener>) {
    loop {
        agent.workers.idle.fetch_add(1, Ordering::SeqCst);
        let accepted = listener.accept();
        let still_idle = agent.workers.idle.fetch_sub(1, Ordering::SeqCst) - 1;
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                crate::debug!("agent: accept failed: {e}");
                // Out of descriptors, say: a moment for connections to end.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if still_idle == 0 {
            start_worker(agent, listener);
        }
        serve(agent, stream);
    }
}

/// Starts one more worker, unless [`MAX_CONNECTIONS`] are running.
fn start_worker(agent: &Arc<Agent>, listener: &Arc<UnixListener>) {
    let room = agent
        .workers
        .started
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < MAX_CONNECTIONS).then_some(n + 1)
        });
    if room.is_err() {
        return;
    }
    let spawned = std::thread::Builder::new().spawn({
        let (agent, listener) = (Arc::clone(agent), Arc::clone(listener));
        move || work(&agent, &listener)
    });
    if let Err(e) = spawned {
        crate::debug!("agent: cannot start a worker: {e}");
        agent.workers.started.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One connection: the peer checked, one request read (bounded in size, and in time by one
/// deadline), confirmed when `--confirm` says so, answered.
fn serve(agent: &Agent, stream: UnixStream) {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    // A client that stops reading cannot hold its worker either: an answer line that cannot be
    // written within the time a request has is given up (a login then ends, as when the
    // client goes away).
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    let writer = &stream;
    if !from_this_user(&stream) {
        return;
    }
    let Some(request) = read_request(&stream, deadline) else {
        return;
    };
    if request != (Request::Hello {})
        && let Err(refused) = confirmed(agent, &request, &stream)
    {
        reply::<LoggedIn>(writer, Err(refused));
        return;
    }
    let answered = match &request {
        Request::Hello {} => reply(writer, hello(agent)),
        Request::Token {
            profile,
            id_token,
            min_valid,
            audience,
            scopes,
        } => {
            let asked = TokenAsked {
                id_token: *id_token,
                min_valid: Duration::from_secs(min_valid.unwrap_or(60)),
                // Scopes without an audience: other scopes of the login's own API.
                api: match audience.as_deref() {
                    Some(audience) => Some(ApiRequest::new(audience, scopes)),
                    None if !scopes.is_empty() => Some(ApiRequest::new("", scopes)),
                    None => None,
                },
            };
            reply(writer, token(agent, profile.as_deref(), &asked))
        }
        Request::Status { profile, all } => reply(writer, status(agent, profile.as_deref(), *all)),
        Request::Login { profile, args } => {
            return login(agent, profile.as_deref(), args, &stream);
        }
        Request::Stop {} => {
            crate::debug!("agent: stopped by a client");
            reply(
                writer,
                Ok(Stopped {
                    pid: std::process::id(),
                }),
            );
            exit_now();
        }
    };
    crate::debug!(
        "agent: {} for profile {}: {}",
        request.op(),
        request.profile().unwrap_or("(default)"),
        if answered { "answered" } else { "refused" }
    );
}

/// Whether the kernel says the peer is the agent's own user. Another user is told so (its
/// request read, bounded, and dropped, so that the answer reaches it rather than a reset
/// connection); a peer the kernel cannot name is dropped.
fn from_this_user(stream: &UnixStream) -> bool {
    let uid = socket::current_uid();
    match socket::peer_uid(stream) {
        Ok(peer) if peer == uid => true,
        Ok(peer) => {
            crate::debug!("agent: refused a connection from uid {peer}");
            let within_a_second = Instant::now() + Duration::from_secs(1);
            let _ =
                protocol::LineReader::new(socket::ReadBy::new(stream, within_a_second)).read_line();
            reply::<LoggedIn>(
                stream,
                Err(Error::config(format!(
                    "refused: the connection comes from uid {peer}, not from the agent's user ({uid})"
                ))),
            );
            false
        }
        Err(e) => {
            crate::debug!("agent: cannot tell who connected ({e}): refused");
            false
        }
    }
}

/// The client's request, read by `deadline`; a request that cannot be read or is not one is
/// answered with why, and `None`.
fn read_request(stream: &UnixStream, deadline: Instant) -> Option<Request> {
    let mut reader = protocol::LineReader::new(socket::ReadBy::new(stream, deadline));
    let request = match reader.read_line() {
        Ok(Some(line)) => protocol::parse_request(&line).map_err(Error::other),
        Ok(None) => return None,
        Err(e) => Err(Error::other(format!("the request could not be read: {e}"))),
    };
    request
        .inspect_err(|e| {
            crate::debug!("agent: refused a request: {}", e.message());
        })
        .map_err(|e| reply::<LoggedIn>(stream, Err(e)))
        .ok()
}

/// Sends the request's answer, or its failure; whether it was an answer.
fn reply<T: Body>(mut writer: &UnixStream, result: Result<T>) -> bool {
    let (answer, answered) = match result {
        Ok(answer) => (Answer::Done(answer), true),
        Err(e) => (Answer::failed(&e), false),
    };
    let _ = writer.write_all(&protocol::answer_line(answer));
    answered
}

/// How long a `--confirm` question waits for its answer.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest question `--confirm` asks: what is asked for is shown whole up to this.
const QUESTION_MAX_CHARS: usize = 800;

/// `--confirm`: asks in the agent's terminal whether to answer `request`, saying all it
/// would allow (the operation, profile, API, scopes, ID token, login flags) and the process
/// that connected. One question at a time; input typed before the question does not answer
/// it; no answer within [`CONFIRM_TIMEOUT`] is a no.
fn confirmed(agent: &Agent, request: &Request, stream: &UnixStream) -> Result<()> {
    let Some(tty) = &agent.confirm else {
        return Ok(());
    };
    let mut tty = tty.lock().unwrap_or_else(|p| p.into_inner());
    let question = crate::base::text::shown_within(
        &question(request, &socket::peer_name(stream)),
        QUESTION_MAX_CHARS,
    );
    socket::discard_typed_ahead(&tty);
    let _ = tty.write_all(format!("{question} [y/N] ").as_bytes());
    let answer = socket::read_answer(&tty, CONFIRM_TIMEOUT);
    let allowed = matches!(answer.as_deref().map(str::trim), Some("y" | "Y" | "yes"));
    let _ = writeln!(tty, "{}", if allowed { "allowed" } else { "refused" });
    crate::debug!(
        "agent: {} for profile {}: {}",
        request.op(),
        request.profile().unwrap_or("(default)"),
        if allowed { "allowed" } else { "refused" }
    );
    if allowed {
        Ok(())
    } else {
        Err(
            Error::aborted("refused at the agent: its user did not allow this request (--confirm)")
                .hint("ask again and allow it in the agent's terminal"),
        )
    }
}

/// The `--confirm` question for `request` from `peer`, naming everything the answer allows.
/// Each value from the client is quoted (escaped, and bounded).
fn question(request: &Request, peer: &str) -> String {
    let profile = match request.profile() {
        Some(name) => format!("profile {}", quoted(name)),
        None => "the default profile".to_owned(),
    };
    let asks = match request {
        Request::Stop {} => "to stop the agent".to_owned(),
        Request::Hello {} => "who this agent is".to_owned(),
        Request::Token {
            audience: Some(audience),
            scopes,
            ..
        } => {
            let scopes = if scopes.is_empty() {
                "its default scopes".to_owned()
            } else {
                format!("scopes {}", quoted(&scopes.join(" ")))
            };
            format!(
                "for an access token for API {} with {scopes}, from {profile}",
                quoted(audience)
            )
        }
        Request::Token { id_token: true, .. } => format!("for the ID token of {profile}"),
        Request::Token { .. } => format!("for the access token of {profile}"),
        Request::Status { all: true, .. } => {
            "for the status of every profile this agent serves".to_owned()
        }
        Request::Status { .. } => format!("for the status of {profile}"),
        Request::Login { args, .. } if args.is_empty() => {
            format!("for a login of {profile} in this host's browser")
        }
        Request::Login { args, .. } => format!(
            "for a login of {profile} in this host's browser, with {}",
            args.iter()
                .map(|word| quoted(word))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    };
    format!("latchkey agent: {peer} asks {asks}. Allow?")
}

fn hello(agent: &Agent) -> Result<HelloAnswer> {
    let file = load(agent)?;
    Ok(HelloAnswer {
        pid: std::process::id(),
        profiles: served(agent, &file.file),
    })
}

/// The profiles file, read again when its metadata changed since the last request: edits
/// apply at once, and an unchanged file costs no parse.
fn load(agent: &Agent) -> Result<Arc<Loaded>> {
    use std::os::unix::fs::MetadataExt;
    let path = &agent.config_path;
    let stamp = std::fs::metadata(path).ok().map(|m| {
        (
            m.ino(),
            m.len(),
            m.modified().unwrap_or(std::time::UNIX_EPOCH),
        )
    });
    let mut cached = agent.profiles.lock().unwrap_or_else(|p| p.into_inner());
    if let (Some(stamp), Some((seen, file))) = (stamp, cached.as_ref())
        && stamp == *seen
    {
        return Ok(Arc::clone(file));
    }
    let loaded = Arc::new(Loaded::new(
        Globals {
            profile: None,
            config: agent.config.clone(),
        }
        .load_profiles()?,
    ));
    *cached = stamp.map(|stamp| (stamp, Arc::clone(&loaded)));
    Ok(loaded)
}

/// The profiles this agent serves, in the file's order.
fn served(agent: &Agent, file: &ProfilesFile) -> Vec<String> {
    file.profile_names()
        .filter(|name| agent.allowed.is_empty() || agent.allowed.iter().any(|a| a == name))
        .map(str::to_owned)
        .collect()
}

/// The profile a request names (or the agent's default), which the agent must serve.
fn profile_for(agent: &Agent, loaded: &Loaded, name: Option<&str>) -> Result<Arc<Profile>> {
    let file = &loaded.file;
    let served = served(agent, file);
    let name = match name {
        Some(name) => name.to_owned(),
        // Without -p: the file's default, or the only profile served.
        None if agent.allowed.len() == 1 => agent.allowed[0].clone(),
        None => file.select(None)?.0,
    };
    if !served.contains(&name) {
        return Err(Error::config(format!(
            "the agent does not serve profile `{}`; it serves: {}",
            crate::base::text::escape_controls(&name),
            served.join(", ")
        ))
        .hint("name one of those with -p, or use this host's own profiles with --no-agent"));
    }
    loaded.profile(&name)
}

/// What a token request asks for.
struct TokenAsked {
    id_token: bool,
    min_valid: Duration,
    /// Another API's token (`--audience`, with its scopes).
    api: Option<ApiRequest>,
}

fn token(agent: &Agent, profile: Option<&str>, asked: &TokenAsked) -> Result<TokenAnswer> {
    let file = load(agent)?;
    let profile = profile_for(agent, &file, profile)?;
    let store = &agent.store;
    if let Some(api) = &asked.api {
        let token = {
            let mut cache = agent.cache.lock().unwrap_or_else(|p| p.into_inner());
            refresh::valid_api_token_cached(&profile, store, api, asked.min_valid, &mut cache)?
        };
        return Ok(TokenAnswer {
            token: ServedToken::new(token.access_token.secret()),
            expires_at: token.expires_at,
            token_type: token.token_type,
            scope: token.scope,
        });
    }
    let need = if asked.id_token {
        Need::IdToken
    } else {
        Need::AccessToken
    };
    let tokens = {
        let mut cache = agent.cache.lock().unwrap_or_else(|p| p.into_inner());
        refresh::valid_tokens_cached(&profile, store, need, asked.min_valid, &mut cache)?
    };
    let token_type = tokens.token_type.clone();
    if asked.id_token {
        let (token, exp) = super::token::id_token_to_print(
            &tokens,
            &profile.name,
            crate::base::clock::unix_now(),
        )?;
        return Ok(TokenAnswer {
            token: ServedToken::new(token),
            expires_at: exp,
            token_type,
            scope: None,
        });
    }
    Ok(TokenAnswer {
        token: ServedToken::new(tokens.access_token.secret()),
        expires_at: tokens.expires_at,
        token_type,
        scope: tokens.scope.clone(),
    })
}

fn status(agent: &Agent, profile: Option<&str>, all: bool) -> Result<StatusAnswer> {
    let file = load(agent)?;
    let profiles = if all {
        served(agent, &file.file)
            .iter()
            .map(|name| file.profile(name))
            .collect::<Result<Vec<_>>>()?
    } else {
        vec![profile_for(agent, &file, profile)?]
    };
    let store = &agent.store;
    let mut cache = agent.cache.lock().unwrap_or_else(|p| p.into_inner());
    let status = profiles
        .iter()
        .map(|profile| {
            let loaded = cache.load(store, profile).and_then(|tokens| match tokens {
                Some(tokens) => tokens.check_bound_to(profile).map(|()| Some(tokens)),
                None => Ok(None),
            });
            match loaded {
                Ok(tokens) => StatusReport::of(profile, store, tokens.as_ref(), None),
                Err(e) => StatusReport::of(profile, store, None, Some(e.message())),
            }
        })
        .collect();
    Ok(StatusAnswer {
        pid: std::process::id(),
        status,
    })
}

/// The flags a login through the agent may carry: those that choose what to log in to, never
/// what the agent's host would read (a paste), where the browser is, or whose login it holds.
const LOGIN_FLAGS: &[&str] = &["--fresh"];
const LOGIN_OPTIONS: &[&str] = &["--organization", "--timeout", "--audience", "--scope"];
/// Refused in words (see `login::refused_through_agent`): a device code or an invitation from
/// the client would let its host choose whose login this host holds.
const REFUSED_LOGIN_FLAGS: &[&str] = &["--device", "--invitation", "--same-user"];

/// The longest line of a login's output relayed to the client; a longer one is cut there.
const MAX_RELAYED_LINE: usize = 16 * 1024;

/// Runs `latchkey login` here (the browser and loopback listener of this host), streaming what
/// it says to the client, which may cancel it by going away. The agent's own terminal says
/// that a client asked for it, and how it ended.
fn login(agent: &Agent, profile: Option<&str>, args: &[String], stream: &UnixStream) {
    let mut writer = stream;
    let mut send =
        |answer: Answer<LoggedIn>| writer.write_all(&protocol::answer_line(answer)).is_ok();
    let started = (|| {
        if agent.no_login {
            return Err(
                Error::config("this agent does not take logins (it runs with --no-login)")
                    .hint("log in where the agent runs, or restart it without --no-login"),
            );
        }
        let file = load(agent)?;
        let profile = profile_for(agent, &file, profile)?;
        if profile.flow == crate::config::Flow::Device {
            return Err(Error::config(format!(
                "profile `{}` logs in with the device grant, and the agent does not run a device login for a client: whoever sees the code approves it, and through the agent that is the client's host",
                profile.name
            ))
            .hint("log in where the agent runs"));
        }
        let args = login_args(args)?;
        Ok((profile.name.clone(), args))
    })();
    let (name, args) = match started {
        Ok(started) => started,
        Err(e) => {
            send(Answer::failed(&e));
            return;
        }
    };
    let peer = socket::peer_name(stream);
    eprintln!(
        "latchkey agent: {peer} started a login of profile `{name}`{}",
        if args.is_empty() {
            String::new()
        } else {
            format!(" with {}", crate::base::text::shown(&args.join(" ")))
        }
    );
    let host = crate::terminal::browser::host_name();
    send(Answer::Progress(format!(
        "Logging in with profile `{name}` through the agent on {host}: finish the login in the browser there."
    )));
    let exit = match run_login(agent, &name, &args, stream, &mut send) {
        Ok(code) => code,
        Err(e) => {
            send(Answer::failed(&e));
            return;
        }
    };
    eprintln!(
        "latchkey agent: the login of profile `{name}` for {peer} {}",
        if exit == 0 {
            "succeeded".to_owned()
        } else {
            format!("did not succeed (exit {exit})")
        }
    );
    if exit == 0 {
        send(Answer::Done(LoggedIn {}));
    } else {
        let code = crate::base::error::ExitCode::from_code(exit);
        send(Answer::failed(&Error::new(
            code,
            format!("the login on {host} did not succeed (exit {exit})"),
        )));
    }
}

/// The client's login flags, checked one by one against what a login through the agent may do.
fn login_args(args: &[String]) -> Result<Vec<String>> {
    let mut checked = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if LOGIN_FLAGS.contains(&word.as_str()) {
            checked.push(word.clone());
        } else if LOGIN_OPTIONS.contains(&word.as_str()) {
            let value = words
                .next()
                .ok_or_else(|| Error::usage(format!("{word} needs a value")))?;
            checked.extend([word.clone(), value.clone()]);
        } else if REFUSED_LOGIN_FLAGS.contains(&word.as_str()) {
            return Err(super::login::refused_through_agent(word));
        } else {
            return Err(Error::usage(format!(
                "a login through the agent cannot take {}",
                crate::base::text::quoted(word)
            ))
            .hint("the agent's host opens the browser and listens for the response; run the login there for other flags, or use --no-agent"));
        }
    }
    Ok(checked)
}

/// `latchkey login -p NAME --no-paste --same-user ARGS` as a child: its tokens may replace
/// only the same user's (whoever holds the socket cannot make this host hold another
/// account's login). Its stderr is sent to the client line by line; it is ended if the client
/// goes away. Returns its exit status.
fn run_login(
    agent: &Agent,
    name: &str,
    args: &[String],
    client: &UnixStream,
    send: &mut dyn FnMut(Answer<LoggedIn>) -> bool,
) -> Result<i32> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::other(format!("cannot find latchkey's own program: {e}")))?;
    let mut command = std::process::Command::new(exe);
    if let Some(config) = &agent.config {
        command.arg("--config").arg(config);
    }
    command
        .args([
            "login",
            "-p",
            name,
            "--no-paste",
            "--no-agent",
            "--same-user",
        ])
        .args(args)
        .env(socket::NO_AGENT_VAR, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| Error::other(format!("cannot start the login: {e}")))?;
    if let Some(stderr) = child.stderr.take() {
        relay(stderr, child.id(), client, send);
    }
    let status = child
        .wait()
        .map_err(|e| Error::other(format!("the login could not be waited for: {e}")))?;
    use std::os::unix::process::ExitStatusExt;
    // As a shell reports it: the code, or 128 + the signal that ended it (130 for Ctrl-C).
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// Relays the login's stderr to the client line by line until the login closes it (it ends),
/// watching the client in the same `poll(2)`: when the client goes away (Ctrl-C on the
/// remote), the login is sent SIGTERM, which it answers as a Ctrl-C. No thread outlives this,
/// and the child is signalled only here, before anyone waits for it: its pid cannot have been
/// reaped and reused yet.
fn relay(
    mut stderr: std::process::ChildStderr,
    pid: u32,
    client: &UnixStream,
    send: &mut dyn FnMut(Answer<LoggedIn>) -> bool,
) {
    use std::os::fd::AsRawFd;
    let mut pending: Vec<u8> = Vec::new();
    let mut client_here = true;
    let end_login = |client_here: &mut bool| {
        if std::mem::replace(client_here, false) {
            crate::debug!("agent: the client went away: ending its login (pid {pid})");
            // SAFETY: kill has no memory effects; the child is not reaped yet (see above).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
    };
    let mut buffer = [0u8; 4096];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: stderr.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: client.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let watched: libc::nfds_t = if client_here { 2 } else { 1 };
        // SAFETY: `fds` holds `watched` valid pollfds for the length passed.
        if unsafe { libc::poll(fds.as_mut_ptr(), watched, -1) } < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            end_login(&mut client_here);
            break;
        }
        if client_here && fds[1].revents != 0 {
            // A client sends nothing after its request: this is its end of the socket closing
            // (or bytes that mean nothing, read and dropped).
            match (&*client).read(&mut buffer) {
                Ok(0) | Err(_) => end_login(&mut client_here),
                Ok(_) => {}
            }
        }
        if fds[0].revents == 0 {
            continue;
        }
        let read = match stderr.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buffer[..read]);
        while let Some(line) = next_line(&mut pending) {
            if client_here && !send(Answer::Progress(line)) {
                end_login(&mut client_here);
            }
        }
    }
    if !pending.is_empty() && client_here {
        send(Answer::Progress(
            String::from_utf8_lossy(&pending).into_owned(),
        ));
    }
}

/// The first complete line in `pending` (taken out of it), or its first
/// [`MAX_RELAYED_LINE`] bytes when a line runs on that long.
fn next_line(pending: &mut Vec<u8>) -> Option<String> {
    let end = match pending.iter().position(|&b| b == b'\n') {
        Some(newline) => newline + 1,
        None if pending.len() >= MAX_RELAYED_LINE => MAX_RELAYED_LINE,
        None => return None,
    };
    let line: Vec<u8> = pending.drain(..end).collect();
    let text = String::from_utf8_lossy(&line);
    Some(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// `--systemd-unit`: a `systemd --user` service running this program as the agent, with this
/// command's --profile, --no-login and --lifetime, at the default socket
/// (`%t/latchkey-agent.sock`: `%t` is the user's runtime directory).
fn systemd_unit(args: &AgentArgs) -> Result<String> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::other(format!("cannot find latchkey's own program: {e}")))?;
    let exe = exe.display().to_string();
    if exe
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '%')
    {
        return Err(Error::other(format!(
            "latchkey's path {} would need quoting in a unit file",
            crate::base::text::quoted(&exe)
        ))
        .hint("install latchkey where the path has no spaces, or write ExecStart= yourself"));
    }
    let mut command = format!("{exe} agent --socket %t/latchkey-agent.sock");
    for profile in &args.profile {
        command.push_str(&format!(" --profile {profile}"));
    }
    if args.no_login {
        command.push_str(" --no-login");
    }
    if let Some(lifetime) = args.lifetime {
        command.push_str(&format!(" --lifetime {}s", lifetime.as_secs()));
    }
    Ok(format!(
        "# latchkey agent --systemd-unit: save as ~/.config/systemd/user/latchkey-agent.service, then\n\
         #   systemctl --user daemon-reload && systemctl --user enable --now latchkey-agent\n\
         # Clients find the socket at $XDG_RUNTIME_DIR/latchkey-agent.sock without any variable.\n\
         # A profile with use_passphrase cannot be asked for here (no terminal): run the agent in\n\
         # a terminal or tmux pane for those.\n\
         [Unit]\n\
         Description=latchkey agent: OAuth tokens for this host and the hosts you SSH into\n\
         Documentation=man:latchkey(1)\n\
         \n\
         [Service]\n\
         ExecStart={command}\n\
         Restart=on-failure\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n"
    ))
}

/// `--stop`: asks the agent at `path` to end.
fn stop(path: &Path) -> Result<()> {
    let stream = UnixStream::connect(path).map_err(|e| {
        Error::config(format!(
            "no agent answers at {}: {e}",
            shown_whole(&path.display().to_string())
        ))
    })?;
    let mut agent = crate::agent::client::Agent::over(path.to_owned(), stream);
    let stopped: Stopped = agent.ask(&Request::Stop {})?;
    eprintln!(
        "Stopped the agent (pid {}) at {}.",
        stopped.pid,
        shown_whole(&path.display().to_string())
    );
    Ok(())
}

/// `--daemon`: the agent again, in the background in a session of its own, then the lines that
/// point `LATCHKEY_AGENT_SOCK` at it, once it answers.
fn daemonize(path: &Path, args: &AgentArgs) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()
        .map_err(|e| Error::other(format!("cannot find latchkey's own program: {e}")))?;
    let mut command = std::process::Command::new(exe);
    command.arg("agent").arg("--socket").arg(path);
    for profile in &args.profile {
        command.args(["--profile", profile]);
    }
    if args.no_login {
        command.arg("--no-login");
    }
    if let Some(lifetime) = args.lifetime {
        command
            .arg("--lifetime")
            .arg(format!("{}s", lifetime.as_secs()));
    }
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches no memory of this process.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| Error::other(format!("cannot start the agent: {e}")))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(path).is_err() {
        if std::time::Instant::now() > deadline {
            return Err(
                Error::other("the agent did not start listening within 10 s")
                    .hint("run `latchkey agent` in the foreground to see why"),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let shell = args
        .shell
        .clone()
        .or_else(|| std::env::var("SHELL").ok())
        .unwrap_or_default();
    let value = path.display().to_string();
    let quoted = format!("'{}'", value.replace('\'', r"'\''"));
    let var = socket::SOCKET_VAR;
    let lines = if shell.ends_with("csh") {
        format!("setenv {var} {quoted};\necho Agent pid {};\n", child.id())
    } else if shell.ends_with("fish") {
        format!("set -gx {var} {quoted};\necho Agent pid {};\n", child.id())
    } else {
        format!(
            "{var}={quoted}; export {var};\necho Agent pid {};\n",
            child.id()
        )
    };
    super::print_stdout(&lines)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::store(format!("cannot set the mode of {}: {e}", path.display())))
}

/// The socket's path, for the signal handler to remove.
static SOCKET_PATH: std::sync::OnceLock<std::ffi::CString> = std::sync::OnceLock::new();

/// Removes the socket when the agent is ended by SIGINT, SIGTERM or SIGHUP, so that no dead
/// socket is left for clients to try.
fn remove_on_exit(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return;
    };
    let _ = SOCKET_PATH.set(c_path);
    extern "C" fn on_signal(_: libc::c_int) {
        exit_now();
    }
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only calls unlink and _exit, both async-signal-safe.
        unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) };
    }
}

/// Removes the socket and ends the process at once (from a signal handler too).
fn exit_now() -> ! {
    if let Some(path) = SOCKET_PATH.get() {
        // SAFETY: the path is a valid C string that lives for the whole process.
        unsafe { libc::unlink(path.as_ptr()) };
    }
    // SAFETY: _exit ends the process without running anything else.
    unsafe { libc::_exit(0) }
}
