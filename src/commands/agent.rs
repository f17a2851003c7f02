//! `latchkey agent`: serves this host's profiles over a Unix socket (`agent::protocol`), so
//! that hosts the socket is forwarded to get tokens without storing any. Refresh tokens never
//! leave it; decrypted token files are kept in memory while unchanged (`OpenedCache`), so a
//! token costs no decryption. A login through it runs `latchkey login` here, where the browser
//! is, and streams what it says to the client.

use super::Globals;
use crate::agent::protocol::{self, Request, Response};
use crate::agent::socket;
use crate::base::error::{Error, Result};
use crate::base::secret::ServedToken;
use crate::base::text::shown_whole;
use crate::cli::AgentArgs;
use crate::config::ProfilesFile;
use crate::oauth::token_endpoint::ApiRequest;
use crate::store::TokenStore;
use crate::store::refresh::{self, Need, OpenedCache};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest wait for a client's request once it has connected.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once; more are turned away (a forwarded socket is open to whoever
/// controls the remote host, and each connection is a thread).
const MAX_CONNECTIONS: usize = 32;

/// What every connection shares.
struct Agent {
    config: Option<PathBuf>,
    /// `--profile`: the only profiles served (empty: all).
    allowed: Vec<String>,
    no_login: bool,
    /// `--confirm`: the terminal every request is confirmed on, one at a time.
    confirm: Option<Mutex<std::fs::File>>,
    cache: Mutex<OpenedCache>,
    /// The profiles file as last read, and what its metadata was then: read again only when
    /// it changed (a parse costs more than the rest of a token request).
    profiles: Mutex<Option<(FileStamp, Arc<ProfilesFile>)>>,
    connections: AtomicUsize,
}

/// What tells a changed file from the one read before.
type FileStamp = (u64, u64, std::time::SystemTime);

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
    let mut allowed = args.profile.clone();
    allowed.extend(globals.profile.clone());
    // The profiles file is read for every request (edits apply at once), but a broken one or
    // an unknown --profile is better said now than to the first client.
    let file = globals.load_profiles()?;
    for name in &allowed {
        file.select(Some(name))?;
    }
    if args.daemon {
        if args.confirm {
            return Err(Error::usage(
                "--confirm asks in the agent's terminal, and --daemon leaves it without one",
            )
            .hint("run `latchkey agent --confirm` in a terminal or tmux pane"));
        }
        return daemonize(&path, &args);
    }
    let confirm = if args.confirm {
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .map_err(|e| {
                Error::usage(format!(
                    "--confirm needs a terminal to ask on, and this agent has none ({e})"
                ))
                .hint("run it in a terminal or tmux pane, or without --confirm")
            })?;
        Some(Mutex::new(tty))
    } else {
        None
    };
    socket::prepare(&path)?;
    let listener = UnixListener::bind(&path)
        .map_err(|e| Error::store(format!("cannot listen on {}: {e}", path.display())))?;
    set_mode(&path, 0o600)?;
    remove_on_exit(&path);
    let served = if allowed.is_empty() {
        file.profile_names().collect::<Vec<_>>().join(", ")
    } else {
        allowed.join(", ")
    };
    let shown_path = shown_whole(&path.display().to_string());
    eprintln!(
        "latchkey agent (pid {}) serving {served} at {shown_path}\nOn this host: export {}={shown_path}",
        std::process::id(),
        socket::SOCKET_VAR,
    );
    let agent = Arc::new(Agent {
        config: globals.config.clone(),
        allowed,
        no_login: args.no_login,
        confirm,
        cache: Mutex::new(OpenedCache::new(args.lifetime)),
        profiles: Mutex::new(None),
        connections: AtomicUsize::new(0),
    });
    if args.lifetime.is_some() {
        let agent = Arc::clone(&agent);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                if let Ok(mut cache) = agent.cache.lock() {
                    cache.forget_expired();
                }
            }
        });
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if agent.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            agent.connections.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let agent = Arc::clone(&agent);
        std::thread::spawn(move || {
            serve(&agent, stream);
            agent.connections.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

/// One connection: the peer checked, one request read (bounded in size and time), answered.
fn serve(agent: &Agent, stream: UnixStream) {
    let mut writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(_) => return,
    };
    let mut answer = |response: &Response| {
        writer
            .write_all(protocol::to_line(response).as_bytes())
            .is_ok()
    };
    let uid = socket::current_uid();
    match socket::peer_uid(&stream) {
        Ok(peer) if peer == uid => {}
        Ok(peer) => {
            crate::debug!("agent: refused a connection from uid {peer}");
            // The request is read (bounded) and dropped, so that the answer reaches the
            // client rather than a reset connection.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = protocol::read_line(&mut BufReader::new(&stream));
            answer(&Response::failed(&Error::config(format!(
                "refused: the connection comes from uid {peer}, not from the agent's user ({uid})"
            ))));
            return;
        }
        Err(e) => {
            crate::debug!("agent: cannot tell who connected ({e}): refused");
            return;
        }
    }
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let mut reader = BufReader::new(&stream);
    let request = match protocol::read_line(&mut reader) {
        Ok(Some(line)) => protocol::parse_request(&line).map_err(Error::other),
        Ok(None) => return,
        Err(e) => Err(Error::other(format!("the request could not be read: {e}"))),
    };
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            crate::debug!("agent: refused a request: {}", e.message());
            answer(&Response::failed(&e));
            return;
        }
    };
    if request.op != "hello"
        && request.op != "stop"
        && let Err(refused) = confirmed(agent, &request, &stream)
    {
        answer(&Response::failed(&refused));
        return;
    }
    let result = match request.op.as_str() {
        "hello" => hello(agent),
        "token" => token(agent, &request),
        "status" => status(agent, &request),
        "login" => return login(agent, &request, &stream),
        "stop" => {
            crate::debug!("agent: stopped by a client");
            let mut ok = Response::ok();
            ok.pid = Some(std::process::id());
            answer(&ok);
            exit_now();
        }
        other => Err(Error::other(format!(
            "unknown operation {}",
            crate::base::text::quoted(other)
        ))),
    };
    let response = match result {
        Ok(response) => response,
        Err(e) => Response::failed(&e),
    };
    crate::debug!(
        "agent: {} for profile {}: {}",
        request.op,
        request.profile.as_deref().unwrap_or("(default)"),
        if response.ok { "answered" } else { "refused" }
    );
    answer(&response);
}

/// How long a `--confirm` question waits for its answer.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

/// `--confirm`: asks in the agent's terminal whether to answer `request`, naming the profile,
/// the operation and the process that connected. One question at a time; no answer within
/// [`CONFIRM_TIMEOUT`] is a no.
fn confirmed(agent: &Agent, request: &Request, stream: &UnixStream) -> Result<()> {
    let Some(tty) = &agent.confirm else {
        return Ok(());
    };
    let mut tty = tty.lock().unwrap_or_else(|p| p.into_inner());
    let profile = request.profile.as_deref().unwrap_or("(default)");
    let what = match request.audience.as_deref() {
        Some(audience) => format!("a token for {audience}"),
        None => request.op.clone(),
    };
    let question = crate::base::text::escape_controls(&format!(
        "latchkey agent: allow {what} for profile `{profile}` to {}? [y/N] ",
        socket::peer_name(stream)
    ));
    let _ = tty.write_all(question.as_bytes());
    let answer = socket::read_answer(&tty, CONFIRM_TIMEOUT);
    let allowed = matches!(answer.as_deref().map(str::trim), Some("y" | "Y" | "yes"));
    let _ = writeln!(tty, "{}", if allowed { "allowed" } else { "refused" });
    crate::debug!(
        "agent: {} for profile {profile}: {}",
        request.op,
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

fn hello(agent: &Agent) -> Result<Response> {
    let file = load(agent)?;
    let mut ok = Response::ok();
    ok.pid = Some(std::process::id());
    ok.profiles = served(agent, &file);
    Ok(ok)
}

/// The profiles file, read again when its metadata changed since the last request: edits
/// apply at once, and an unchanged file costs no parse.
fn load(agent: &Agent) -> Result<Arc<ProfilesFile>> {
    use std::os::unix::fs::MetadataExt;
    let (path, _) = crate::config::paths::config_file(agent.config.as_deref())?;
    let stamp = std::fs::metadata(&path).ok().map(|m| {
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
    let file = Arc::new(
        Globals {
            profile: None,
            config: agent.config.clone(),
        }
        .load_profiles()?,
    );
    *cached = stamp.map(|stamp| (stamp, Arc::clone(&file)));
    Ok(file)
}

/// The profiles this agent serves, in the file's order.
fn served(agent: &Agent, file: &ProfilesFile) -> Vec<String> {
    file.profile_names()
        .filter(|name| agent.allowed.is_empty() || agent.allowed.iter().any(|a| a == name))
        .map(str::to_owned)
        .collect()
}

/// The profile a request names (or the agent's default), which the agent must serve.
fn profile_for(
    agent: &Agent,
    file: &ProfilesFile,
    name: Option<&str>,
) -> Result<crate::config::Profile> {
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
    file.resolve_profile(&name, &Default::default())
}

fn token(agent: &Agent, request: &Request) -> Result<Response> {
    let file = load(agent)?;
    let profile = profile_for(agent, &file, request.profile.as_deref())?;
    let store = TokenStore::open()?;
    let min_valid = Duration::from_secs(request.min_valid.unwrap_or(60));
    let mut ok = Response::ok();
    if let Some(audience) = &request.audience {
        let api = ApiRequest::new(audience, &request.scopes);
        let token = {
            let mut cache = agent.cache.lock().unwrap_or_else(|p| p.into_inner());
            refresh::valid_api_token_cached(&profile, &store, &api, min_valid, &mut cache)?
        };
        ok.token = Some(ServedToken::new(token.access_token.secret()));
        ok.expires_at = token.expires_at;
        ok.token_type = Some(token.token_type);
        ok.scope = token.scope;
        return Ok(ok);
    }
    let need = if request.id_token {
        Need::IdToken
    } else {
        Need::AccessToken
    };
    let tokens = {
        let mut cache = agent.cache.lock().unwrap_or_else(|p| p.into_inner());
        refresh::valid_tokens_cached(&profile, &store, need, min_valid, &mut cache)?
    };
    if request.id_token {
        let (token, exp) = super::token::id_token_to_print(
            &tokens,
            &profile.name,
            crate::base::clock::unix_now(),
        )?;
        ok.token = Some(ServedToken::new(token));
        ok.expires_at = exp;
    } else {
        ok.token = Some(ServedToken::new(tokens.access_token.secret()));
        ok.expires_at = tokens.expires_at;
        ok.scope = tokens.scope.clone();
    }
    ok.token_type = Some(tokens.token_type.clone());
    Ok(ok)
}

fn status(agent: &Agent, request: &Request) -> Result<Response> {
    let file = load(agent)?;
    let profiles = if request.all {
        served(agent, &file)
            .iter()
            .map(|name| file.resolve_profile(name, &Default::default()))
            .collect::<Result<Vec<_>>>()?
    } else {
        vec![profile_for(agent, &file, request.profile.as_deref())?]
    };
    let store = TokenStore::open()?;
    let mut cache = agent.cache.lock().unwrap_or_else(|p| p.into_inner());
    let reports = profiles
        .iter()
        .map(|profile| {
            let loaded = cache.load(&store, profile).and_then(|tokens| match tokens {
                Some(tokens) => tokens.check_bound_to(profile).map(|()| Some(tokens)),
                None => Ok(None),
            });
            match loaded {
                Ok(tokens) => super::status::report(profile, &store, tokens.as_ref(), None),
                Err(e) => super::status::report(profile, &store, None, Some(e.message())),
            }
        })
        .collect();
    let mut ok = Response::ok();
    ok.pid = Some(std::process::id());
    ok.status = Some(serde_json::Value::Array(reports));
    Ok(ok)
}

/// The flags a login through the agent may carry: those that choose what to log in to, never
/// what the agent's host would read (a paste) or where the browser is.
const LOGIN_FLAGS: &[&str] = &["--fresh", "--device", "--no-qr"];
const LOGIN_OPTIONS: &[&str] = &[
    "--organization",
    "--invitation",
    "--timeout",
    "--audience",
    "--scope",
];

/// Runs `latchkey login` here (the browser and loopback listener of this host), streaming what
/// it says to the client, which may cancel it by going away.
fn login(agent: &Agent, request: &Request, stream: &UnixStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut send = |response: &Response| {
        writer
            .write_all(protocol::to_line(response).as_bytes())
            .is_ok()
    };
    let started = (|| {
        if agent.no_login {
            return Err(
                Error::config("this agent does not take logins (it runs with --no-login)")
                    .hint("log in where the agent runs, or restart it without --no-login"),
            );
        }
        let file = load(agent)?;
        let profile = profile_for(agent, &file, request.profile.as_deref())?;
        let args = login_args(&request.args)?;
        Ok((profile.name, args))
    })();
    let (name, args) = match started {
        Ok(started) => started,
        Err(e) => {
            send(&Response::failed(&e));
            return;
        }
    };
    let host = crate::terminal::browser::host_name();
    send(&Response::progress(format!(
        "Logging in with profile `{name}` through the agent on {host}: finish the login in the browser there."
    )));
    let exit = match run_login(agent, &name, &args, stream, &mut send) {
        Ok(code) => code,
        Err(e) => {
            send(&Response::failed(&e));
            return;
        }
    };
    crate::debug!("agent: login for profile {name}: exit {exit}");
    if exit == 0 {
        send(&Response::ok());
    } else {
        let code = crate::base::error::ExitCode::from_code(exit);
        send(&Response::failed(&Error::new(
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

/// `latchkey login -p NAME --no-paste ARGS` as a child, its stderr sent to the client line by
/// line; killed if the client goes away. Returns its exit status.
fn run_login(
    agent: &Agent,
    name: &str,
    args: &[String],
    client: &UnixStream,
    send: &mut dyn FnMut(&Response) -> bool,
) -> Result<i32> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::other(format!("cannot find latchkey's own program: {e}")))?;
    let mut command = std::process::Command::new(exe);
    if let Some(config) = &agent.config {
        command.arg("--config").arg(config);
    }
    command
        .args(["login", "-p", name, "--no-paste", "--no-agent"])
        .args(args)
        .env(socket::NO_AGENT_VAR, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| Error::other(format!("cannot start the login: {e}")))?;
    let pid = child.id();
    // The client going away (Ctrl-C on the remote) cancels the login: its end of the socket
    // closes, and the child is sent SIGTERM, which it answers as a Ctrl-C.
    if let Ok(watch) = client.try_clone() {
        std::thread::spawn(move || {
            let _ = watch.set_read_timeout(None);
            let mut byte = [0u8; 1];
            if matches!(std::io::Read::read(&mut &watch, &mut byte), Ok(0) | Err(_)) {
                // SAFETY: kill has no memory effects; a pid that already exited is harmless
                // here, as the child is reaped only after this thread's parent waits.
                unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            }
        });
    }
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !send(&Response::progress(line)) {
                break;
            }
        }
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
    let answer = agent.ask(Request {
        op: "stop".into(),
        ..Request::default()
    })?;
    eprintln!(
        "Stopped the agent (pid {}) at {}.",
        answer.pid.unwrap_or_default(),
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
