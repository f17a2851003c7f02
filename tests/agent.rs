//! `latchkey agent`: a laptop's login served to another "host" (a world with its own HOME and
//! no profiles file) through the agent's socket: tokens, status and login through it, nothing
//! stored on the client's side, and the refusals — an unknown or withheld profile, logins
//! turned off, another user, malformed and oversized requests, an agent that goes away.

use crate::support;

use crate::support::{Idp, Run, World, logged_in, paste_login, spawn_piped, stored};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `latchkey agent` of a laptop world; stopped when dropped.
struct Agent {
    child: Option<Child>,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start(laptop: &World, extra: &[&str]) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run").join("agent.sock");
        let mut args = vec!["agent", "--socket", socket.to_str().unwrap()];
        args.extend(extra);
        let child = laptop
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "the agent did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Agent {
            child: Some(child),
            socket,
            _dir: dir,
        }
    }

    /// Stops the agent (SIGTERM, as `systemctl stop` would) and returns what it said.
    fn stop(mut self) -> String {
        let child = self.child.take().unwrap();
        // SAFETY: kill has no memory effects; the pid is our own child's, not yet reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn socket(&self) -> &str {
        self.socket.to_str().unwrap()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// One raw exchange with the agent, as any program on the socket could make it.
    fn exchange(&self, bytes: &[u8]) -> String {
        let mut stream = UnixStream::connect(&self.socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.write_all(bytes).unwrap();
        let mut answer = String::new();
        BufReader::new(&stream).read_line(&mut answer).unwrap();
        answer
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Another host: its own HOME, no profiles file, the agent's socket in its environment.
fn remote(agent: &Agent) -> World {
    let world = World::new();
    world.set_env("LATCHKEY_AGENT_SOCK", agent.socket());
    world
}

fn nothing_stored_on(world: &World) {
    assert!(
        !world.data_home().join("latchkey").exists(),
        "the client side has a latchkey data directory"
    );
}

#[test]
fn token_and_status_come_from_the_laptop_and_nothing_is_stored_on_the_remote() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let agent = Agent::start(&laptop, &[]);
    let remote = remote(&agent);
    let run = remote.run(&["token"]).expect(0);
    let laptop_token = stored(&laptop).unwrap().access_token.secret().to_owned();
    assert_eq!(run.stdout.trim(), laptop_token);
    let json = remote.run(&["token", "--format", "json"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["access_token"], laptop_token.as_str());
    assert!(doc["expires_at"].is_string(), "{doc}");
    assert!(!json.stdout.contains("refresh"), "{}", json.stdout);

    let status = remote.run(&["status"]).expect(0);
    status
        .stdout_has("local: logged in as alice@example.com")
        .stdout_has(&format!("  agent       {} (pid ", agent.socket()));
    nothing_stored_on(&remote);

    // The agent's profiles only: an unknown one is named, with the ones it serves.
    remote
        .run(&["token", "-p", "nope"])
        .expect(3)
        .stderr_has("agent: the agent does not serve profile `nope`; it serves: local");
    // --no-agent (and LATCHKEY_NO_AGENT=1) is this host's own store: here, nothing.
    remote.run(&["token", "--no-agent"]).expect(3);
    remote
        .run_env(&["token"], &[("LATCHKEY_NO_AGENT", "1")])
        .expect(3);
}

#[test]
fn the_agent_refreshes_and_keeps_the_refresh_token() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let refresh_before = support::stored_refresh_token(&laptop);
    support::age_tokens(&laptop, 60);
    let agent = Agent::start(&laptop, &[]);
    let remote = remote(&agent);
    let run = remote.run(&["token", "--min-valid", "2h"]).expect(0);
    let after = stored(&laptop).unwrap();
    assert_eq!(run.stdout.trim(), after.access_token.secret());
    assert_ne!(support::stored_refresh_token(&laptop), refresh_before);
    assert!(!run.stdout.contains(&support::stored_refresh_token(&laptop)));
}

#[test]
fn served_profiles_and_logins_are_the_agents_to_restrict() {
    let idp = Idp::shared();
    let laptop = World::for_idp(idp, "");
    let mut text = std::fs::read_to_string(laptop.profiles_path()).unwrap();
    text.push_str(&format!(
        "[profiles.other]\nissuer = \"{}\"\nclient_id = \"latchkey-test\"\n",
        idp.issuer
    ));
    laptop.write_profiles(&text);
    support::paste_login(&laptop, idp).expect(0);
    let agent = Agent::start(&laptop, &["--profile", "local", "--no-login"]);
    let remote = remote(&agent);
    remote.run(&["token"]).expect(0);
    remote
        .run(&["token", "-p", "other"])
        .expect(3)
        .stderr_has("does not serve profile `other`; it serves: local");
    remote
        .run(&["login"])
        .expect(3)
        .stderr_has("this agent does not take logins (it runs with --no-login)");
    remote
        .run(&["login", "--no-loopback"])
        .expect(2)
        .stderr_has("--no-loopback is about this host's browser");
}

/// A laptop whose browser finishes logins at the agent's loopback listener, its agent, and a
/// remote host using that agent: where the tests of logins through the agent start.
fn laptop_agent_and_remote() -> (World, Agent, World) {
    let laptop = World::for_idp(Idp::shared(), "");
    let browser = laptop.browser_script("browser.sh", "");
    laptop.set_env("BROWSER", browser.to_str().unwrap());
    let agent = Agent::start(&laptop, &[]);
    let remote = remote(&agent);
    (laptop, agent, remote)
}

#[test]
fn a_login_through_the_agent_happens_on_the_laptop() {
    let (laptop, _agent, remote) = laptop_agent_and_remote();
    let run = remote.run(&["login"]).expect(0);
    run.stderr_has("through the agent on ")
        .stderr_has("finish the login in the browser there")
        .stderr_has("Logged in as Alice Liddell (alice@example.com) with profile `local`");
    assert!(laptop.token_file().is_file());
    nothing_stored_on(&remote);
    let token = remote.run(&["token"]).expect(0);
    assert_eq!(
        token.stdout.trim(),
        stored(&laptop).unwrap().access_token.secret()
    );
}

#[test]
fn token_login_if_needed_through_the_agent_logs_in_on_the_laptop() {
    let (laptop, _agent, remote) = laptop_agent_and_remote();
    // No terminal on the remote: without the flag, exit 4 at once.
    remote
        .run(&["token"])
        .expect(4)
        .stderr_has("latchkey login");
    // With it, the agent runs the login on the laptop, and the token comes after it.
    let run = remote.run(&["token", "--login-if-needed"]).expect(0);
    run.stderr_has("logging in first")
        .stderr_has("Logged in as Alice Liddell");
    assert_eq!(
        run.stdout.trim(),
        stored(&laptop).unwrap().access_token.secret()
    );
    nothing_stored_on(&remote);
}

#[test]
fn malformed_oversized_and_newer_requests_are_refused_in_words() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let agent = Agent::start(&laptop, &[]);
    let answer = agent.exchange(b"hello\n");
    assert!(
        answer.contains("\"ok\":false") && answer.contains("not a latchkey agent request"),
        "{answer}"
    );
    let answer = agent.exchange(b"{\"v\":9,\"op\":\"token\",\"future\":true}\n");
    assert!(
        answer.contains("protocol version 1, the client 9"),
        "{answer}"
    );
    let mut huge = vec![b'{'; 70 * 1024];
    huge.push(b'\n');
    let answer = agent.exchange(&huge);
    assert!(answer.contains("longer than 65536 bytes"), "{answer}");
    let answer = agent.exchange(b"{\"v\":1,\"op\":\"launch\"}\n");
    assert!(answer.contains("unknown operation"), "{answer}");
    // Still serving.
    remote(&agent).run(&["token"]).expect(0);
}

#[test]
fn an_agent_that_goes_away_mid_request_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            // Reads the request, then closes without a word, as a dying agent would.
            let mut stream = stream.unwrap();
            let mut byte = [0u8; 1];
            let _ = stream.read(&mut byte);
        }
    });
    let world = World::new();
    world.set_env("LATCHKEY_AGENT_SOCK", socket.to_str().unwrap());
    let started = Instant::now();
    world
        .run(&["token"])
        .expect(6)
        .stderr_has("closed the connection without answering");
    assert!(started.elapsed() < Duration::from_secs(10));
    // A socket named but not there: said so, with what to do.
    world.set_env("LATCHKEY_AGENT_SOCK", "/nonexistent/agent.sock");
    world
        .run(&["status"])
        .expect(6)
        .stderr_has("does not answer")
        .stderr_has("--no-agent");
}

#[test]
fn another_user_is_refused_even_when_the_socket_lets_them_in() {
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test runs another user's process: run it as root (CI does)");
    }
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let agent = Agent::start(&laptop, &[]);
    // A mistake on the path (a world-writable socket in an open directory) must not let
    // another user in: the agent asks the kernel who connected.
    use std::os::unix::fs::PermissionsExt;
    let dir = agent.socket.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(
        dir.parent().unwrap(),
        std::fs::Permissions::from_mode(0o711),
    )
    .unwrap();
    std::fs::set_permissions(&agent.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    // A client of its own as nobody (latchkey itself would not use an agent of another user).
    let client = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"v":1,"op":"token"}\n')
print(s.makefile().readline().strip())
"#;
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .args(["/usr/bin/python3", "-c", client])
        .arg(&agent.socket)
        .env_clear()
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        answer.contains(
            "refused: the connection comes from uid 65534, not from the agent's user (0)"
        ) && answer.contains("\"ok\":false")
            && !answer.contains("token\":"),
        "{answer}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn daemon_prints_what_to_eval_and_stop_ends_it() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("d").join("agent.sock");
    let socket_text = socket.to_str().unwrap();
    for (shell, line) in [
        (
            "sh",
            format!("LATCHKEY_AGENT_SOCK='{socket_text}'; export LATCHKEY_AGENT_SOCK;"),
        ),
        (
            "fish",
            format!("set -gx LATCHKEY_AGENT_SOCK '{socket_text}';"),
        ),
        (
            "csh",
            format!("setenv LATCHKEY_AGENT_SOCK '{socket_text}';"),
        ),
    ] {
        let run = laptop
            .run(&[
                "agent",
                "--daemon",
                "--shell",
                shell,
                "--socket",
                socket_text,
            ])
            .expect(0);
        assert!(run.stdout.starts_with(&line), "{shell}: {}", run.stdout);
        let remote = World::new();
        remote.set_env("LATCHKEY_AGENT_SOCK", socket_text);
        remote.run(&["token"]).expect(0);
        laptop
            .run(&["agent", "--stop", "--socket", socket_text])
            .expect(0)
            .stderr_has("Stopped the agent (pid ");
        wait_gone(&socket);
    }
}

/// Waits until the agent `child` listens at `socket`; fails with what it said if it ends or
/// takes more than 10 s.
fn wait_listening(child: &mut Child, socket: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(socket).is_err() {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let mut said = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut said);
            }
            panic!("no agent at {}: {said}", socket.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_gone(socket: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while socket.exists() {
        assert!(Instant::now() < deadline, "the socket outlived the agent");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_default_socket_is_found_in_the_runtime_directory() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let runtime = tempfile::tempdir().unwrap();
    // As systemd makes it: the user's own, 0700 (latchkey refuses anything more open).
    std::fs::set_permissions(
        runtime.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    laptop.set_env("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap());
    let mut agent = laptop
        .cmd(&["agent"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let socket = runtime.path().join("latchkey-agent.sock");
    wait_listening(&mut agent, &socket);
    let mode = std::fs::metadata(&socket).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    let remote = World::new();
    remote.set_env("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap());
    remote
        .run(&["status"])
        .expect(0)
        .stdout_has("  agent       ");
    // SIGTERM: the agent goes, and takes its socket with it.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    let _ = agent.wait();
    wait_gone(&socket);
    // Without an agent there, the local store as before.
    remote.run(&["status"]).expect(3);
}

/// The whole point, with real OpenSSH: the laptop's agent forwarded with `ssh -R` into a session
/// with a home of its own and no profiles file. There, `latchkey token` finds the socket where
/// latchkey looks by default, `status` says it is using the agent, `login` completes through
/// the laptop's browser, and no token is ever written on the remote side.
#[test]
fn over_real_ssh_the_remote_uses_the_laptops_agent_and_stores_nothing() {
    use support::sshd::{Sshd, runtime_dir};
    let idp = Idp::shared();
    let laptop = World::for_idp(idp, "");
    let browser = laptop.browser_script("browser.sh", "");
    laptop.set_env("BROWSER", browser.to_str().unwrap());
    let agent = Agent::start(&laptop, &[]);
    let sshd = Sshd::start();
    let remote_home = tempfile::tempdir().unwrap();
    sshd.make_runtime_dir(remote_home.path());
    // Where latchkey looks by default on the remote: $XDG_RUNTIME_DIR/latchkey-agent.sock.
    let remote_socket = runtime_dir(remote_home.path()).join("latchkey-agent.sock");
    let forward = Some((remote_socket.as_path(), agent.socket.as_path()));
    let run = |command: &str| {
        let out = sshd.run_remote(forward, remote_home.path(), command);
        (Run::from(out.clone()), sshd.explain(command, &out))
    };

    // Not logged in yet: the agent says so, for its profile.
    let (status, told) = run("latchkey status");
    assert_eq!(status.code, 4, "{told}");
    assert!(status.stdout.contains("  agent       "), "{told}");

    let (login, told) = run("latchkey login");
    assert_eq!(login.code, 0, "{told}");
    assert!(
        login
            .stderr
            .contains("finish the login in the browser there"),
        "{told}"
    );
    assert!(
        login.stderr.contains("Logged in as Alice Liddell"),
        "{told}"
    );

    let (token, told) = run("latchkey token");
    assert_eq!(token.code, 0, "{told}");
    assert_eq!(
        token.stdout.trim(),
        stored(&laptop).unwrap().access_token.secret(),
        "{told}"
    );
    let (status, told) = run("latchkey status");
    assert_eq!(status.code, 0, "{told}");
    assert!(
        status
            .stdout
            .contains("local: logged in as alice@example.com"),
        "{told}"
    );

    let (found, told) =
        run("find \"$HOME\" -name '*.age' -o -name 'identity.txt' -o -name profiles.toml");
    assert_eq!(found.code, 0, "{told}");
    assert_eq!(
        found.stdout.trim(),
        "",
        "token files on the remote side: {told}"
    );
    assert!(!remote_home.path().join(".local/share/latchkey").exists());
}

/// A passphrase profile: the agent opens the file once and serves later tokens from memory (no
/// scrypt per token), and `--lifetime` makes it forget the tokens and the key.
#[test]
fn a_passphrase_file_is_opened_once_and_forgotten_after_the_lifetime() {
    let idp = Idp::shared();
    let laptop = World::for_idp(idp, "use_passphrase = true\nscrypt_work_factor = 12\n");
    laptop.set_env("LATCHKEY_PASSPHRASE", "correct horse battery");
    support::paste_login(&laptop, idp).expect(0);
    laptop.set_env("LATCHKEY_LOG", "debug");
    let agent = Agent::start(&laptop, &["--lifetime", "2s"]);
    let remote = remote(&agent);
    let first = remote.run(&["token"]).expect(0);
    let second = remote.run(&["token"]).expect(0);
    assert_eq!(first.stdout, second.stdout);
    std::thread::sleep(Duration::from_millis(3500));
    remote.run(&["token"]).expect(0);
    let said = agent.stop();
    assert_eq!(
        said.matches("the tokens of `local`: from memory").count(),
        1,
        "{said}"
    );
    assert!(
        said.contains("forgot the tokens and key of `local` (--lifetime 2s)"),
        "{said}"
    );
    assert!(!said.contains("correct horse"), "{said}");
}

/// Ctrl-C on the remote ends the login on the laptop: the agent's login process goes, with its
/// lock, so the next login is not turned away.
#[test]
fn ctrl_c_on_the_client_cancels_the_login_at_the_agent() {
    let idp = Idp::shared();
    let laptop = World::for_idp(idp, "");
    // A browser that opens nothing: the login waits.
    let browser = laptop.write_file("idle.sh", "#!/bin/sh\nexit 0\n");
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    laptop.set_env("BROWSER", browser.to_str().unwrap());
    let agent = Agent::start(&laptop, &[]);
    let remote = remote(&agent);
    let mut session = support::Session::start(&remote, &["login"]);
    session.wait_line("the agent's login URL", |l| l.contains("/auth?"));
    let run = session.finish_by_signal(libc::SIGINT);
    assert_eq!(run.code, 130, "{}", run.stderr);
    // The laptop's login lock is free again at once.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lock = laptop.tokens_dir().join("local.login.lock");
        let again = Command::new("flock")
            .args(["-n", lock.to_str().unwrap(), "true"])
            .status()
            .unwrap();
        if again.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent's login is still running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!laptop.token_file().exists());
}

/// The unit `--systemd-unit` prints runs: its ExecStart= line, with `%t` as systemd expands
/// it (the runtime directory), starts an agent that serves the profile it names.
#[test]
fn the_systemd_unit_starts_an_agent() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let unit = laptop
        .run(&[
            "agent",
            "--systemd-unit",
            "--profile",
            "local",
            "--no-login",
        ])
        .expect(0)
        .stdout;
    assert!(
        unit.contains("[Service]\n") && unit.contains("WantedBy=default.target\n"),
        "{unit}"
    );
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart= line");
    let runtime = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        runtime.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let exec = exec.replace("%t", runtime.path().to_str().unwrap());
    let mut words = exec.split(' ');
    assert_eq!(words.next(), Some(env!("CARGO_BIN_EXE_latchkey")));
    let args: Vec<&str> = words.collect();
    assert!(
        args.ends_with(&["--profile", "local", "--no-login"]),
        "{args:?}"
    );
    let mut child = laptop.cmd(&args).stderr(Stdio::null()).spawn().unwrap();
    let socket = runtime.path().join("latchkey-agent.sock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "the unit's agent did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let remote = World::new();
    remote.set_env("LATCHKEY_AGENT_SOCK", socket.to_str().unwrap());
    remote.run(&["token"]).expect(0);
    let _ = child.kill();
    let _ = child.wait();
}

/// `latchkey agent --confirm` in a tmux terminal of its own, where a test answers its questions.
struct ConfirmingAgent {
    tmux: support::tmux::Tmux,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl ConfirmingAgent {
    fn start(laptop: &World, name: &str) -> ConfirmingAgent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s").join("agent.sock");
        let tmux = support::tmux::Tmux::new(name);
        tmux.start_latchkey(
            laptop,
            &format!("agent --confirm --socket {}", socket.display()),
            "",
        );
        tmux.wait_for("the agent", |s| s.contains("serving local"));
        ConfirmingAgent {
            tmux,
            socket,
            _dir: dir,
        }
    }

    /// Another host using this agent.
    fn remote(&self) -> World {
        let world = World::new();
        world.set_env("LATCHKEY_AGENT_SOCK", self.socket.to_str().unwrap());
        world
    }
}

/// `--confirm`: each request is asked about in the agent's terminal, naming the profile and
/// who asks; `y` answers it, anything else (or nothing) refuses it, exit 8 at the client.
#[test]
fn with_confirm_the_agents_terminal_allows_or_refuses_each_request() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let agent = ConfirmingAgent::start(&laptop, "agent-confirm");
    let (tmux, remote) = (&agent.tmux, agent.remote());

    let asking = spawn_piped(&remote, &["token"]);
    tmux.wait_for("the question", |s| {
        s.contains("latchkey agent: latchkey (pid ")
            && s.contains(") asks for the access token of the default profile. Allow? [y/N]")
    });
    tmux.send_literal("y\n");
    let allowed = Run::from(asking.wait_with_output().unwrap()).expect(0);
    assert_eq!(
        allowed.stdout.trim(),
        stored(&laptop).unwrap().access_token.secret()
    );
    tmux.wait_for("allowed", |s| s.contains("allowed"));

    let asking = spawn_piped(&remote, &["status"]);
    tmux.wait_for("the second question", |s| {
        s.contains("asks for the status of the default profile. Allow? [y/N]")
    });
    tmux.send_literal("n\n");
    let refused = Run::from(asking.wait_with_output().unwrap());
    refused
        .expect(8)
        .stderr_has("refused at the agent: its user did not allow this request (--confirm)");
    // --daemon has no terminal to ask on.
    laptop
        .run(&[
            "agent",
            "--daemon",
            "--confirm",
            "--socket",
            "/tmp/unused.sock",
        ])
        .expect(2)
        .stderr_has("--confirm asks in the agent's terminal");
}

/// A passphrase profile with an agent in a terminal: the first request makes the agent ask
/// there, once; the client gets its token, and the next request is answered without asking.
#[test]
fn the_agent_asks_for_a_passphrase_once_in_its_own_terminal() {
    let idp = Idp::shared();
    let laptop = World::for_idp(idp, "use_passphrase = true\nscrypt_work_factor = 12\n");
    laptop.set_env("LATCHKEY_PASSPHRASE", "open sesame");
    support::paste_login(&laptop, idp).expect(0);
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("s").join("agent.sock");
    let socket_text = socket.to_str().unwrap();
    let tmux = support::tmux::Tmux::new("agent-passphrase");
    // No LATCHKEY_PASSPHRASE in the agent's terminal: it has to ask.
    tmux.start_latchkey(&laptop, &format!("agent --socket {socket_text}"), "");
    tmux.wait_for("the agent", |s| s.contains("serving local"));
    let remote = World::new();
    remote.set_env("LATCHKEY_AGENT_SOCK", socket_text);
    let asking = remote
        .cmd(&["token"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tmux.wait_for("the passphrase prompt", |s| {
        s.contains("Passphrase for profile `local`'s tokens:")
    });
    tmux.send_literal("open sesame\n");
    let first = Run::from(asking.wait_with_output().unwrap()).expect(0);
    assert!(
        !tmux.screen().contains("open sesame"),
        "the passphrase echoed"
    );
    let second = remote.run(&["token"]).expect(0);
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(
        tmux.screen().matches("Passphrase for profile").count(),
        1,
        "asked again:\n{}",
        tmux.screen()
    );
}

/// An agent socket another user made (a planted `/tmp/latchkey-UID/agent.sock`, say) is not
/// used: the kernel says who listens, and its tokens would be that user's choice.
#[test]
fn an_agent_of_another_user_is_not_trusted() {
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test runs another user's process: run it as root (CI does)");
    }
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
    let socket = dir.path().join("agent.sock");
    // A fake agent, as nobody, that would answer any request with a token of its choice.
    let script = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(4)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b'{"v":1,"ok":true,"token":"planted"}\n')
    c.close()
"#;
    let mut fake = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            script,
        ])
        .arg(&socket)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(fake.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    let world = World::new();
    world.set_env("LATCHKEY_AGENT_SOCK", socket.to_str().unwrap());
    let run = world.run(&["token"]);
    let _ = fake.kill();
    let _ = fake.wait();
    assert!(!run.stdout.contains("planted"), "{}", run.stdout);
    run.expect(7)
        .stderr_has("runs as uid 65534, not as you (uid 0): it is not used");
}

/// Tokens for other APIs come from memory too: once fetched and stored, the next request for
/// the same API opens nothing (no scrypt with a passphrase).
#[test]
fn api_tokens_through_the_agent_are_served_from_memory() {
    let idp = Idp::shared();
    let laptop = World::for_idp(idp, "use_passphrase = true\nscrypt_work_factor = 12\n");
    laptop.set_env("LATCHKEY_PASSPHRASE", "correct horse battery");
    support::paste_login(&laptop, idp).expect(0);
    laptop.set_env("LATCHKEY_LOG", "debug");
    let agent = Agent::start(&laptop, &[]);
    let remote = remote(&agent);
    let billing = "https://billing.example.com/";
    let first = remote.run(&["token", "--audience", billing]).expect(0);
    let second = remote.run(&["token", "--audience", billing]).expect(0);
    let third = remote.run(&["token", "--audience", billing]).expect(0);
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(second.stdout, third.stdout);
    let said = agent.stop();
    // The first fetched and stored it (the file changed); the second opened the new file
    // once; the third was answered from memory.
    assert_eq!(
        said.matches("the tokens of `local`: from memory").count(),
        1,
        "{said}"
    );
    assert_eq!(said.matches("taking the profile lock").count(), 1, "{said}");
}

/// Reads answer lines from a raw connection until the final one (a line without `line`), and
/// returns it.
fn final_answer(stream: &UnixStream) -> serde_json::Value {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the agent closed without a final answer");
        let answer: serde_json::Value = serde_json::from_str(&line).unwrap();
        if answer.get("line").is_none() {
            return answer;
        }
    }
}

/// A raw login request, as any program on the socket could send it.
fn login_request(args: &[&str]) -> Vec<u8> {
    let mut line = serde_json::json!({ "v": 1, "op": "login", "args": args }).to_string();
    line.push('\n');
    line.into_bytes()
}

/// The review's MEDIUM finding: from the remote, `login --device` was run at the agent and its
/// user code relayed back; approved there as another account, the laptop then held that
/// account's login. A device login, an invitation link and `--same-user` are refused through
/// the agent, from latchkey and from a client of the attacker's own, and a laptop profile that
/// logs in with the device grant is not logged in for a client at all. (Failed before: the
/// device flow started, and the remote was shown the code.)
#[test]
fn device_codes_and_invitations_from_a_remote_are_refused() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let before = std::fs::read(laptop.token_file()).unwrap();
    let agent = Agent::start(&laptop, &[]);
    let remote = remote(&agent);
    for (args, flag) in [
        (&["login", "--device", "--timeout", "5s"][..], "--device"),
        (
            &[
                "login",
                "--invitation",
                "https://app.example/login?invitation=x&organization=org_1",
            ],
            "--invitation",
        ),
        (&["login", "--same-user"], "--same-user"),
    ] {
        remote
            .run(args)
            .expect(2)
            .stderr_has(&format!("a login through the agent cannot take {flag}"));
    }
    for args in [
        &["--device"][..],
        &["--invitation", "https://x"],
        &["--same-user"],
    ] {
        let answer: serde_json::Value =
            serde_json::from_str(&agent.exchange(&login_request(args))).unwrap();
        assert_eq!(answer["exit"], 2, "{answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!(
                "a login through the agent cannot take {}",
                args[0]
            )),
            "{answer}"
        );
    }
    drop(agent);
    // A laptop profile of the device grant: the agent does not run it for a client.
    let device = World::new();
    device.write_profiles(&idp.profile_toml("flow = \"device\"\n"));
    let agent = Agent::start(&device, &[]);
    World::new()
        .run_env(&["login"], &[("LATCHKEY_AGENT_SOCK", agent.socket())])
        .expect(3)
        .stderr_has(
            "logs in with the device grant, and the agent does not run a device login for a client",
        );
    assert_eq!(std::fs::read(laptop.token_file()).unwrap(), before);
    assert!(!device.token_file().exists());
}

/// A login through the agent can replace the laptop's tokens with the same user's only: one
/// finished as another account (a browser session that is not the laptop user's, say) is
/// refused, nothing is stored, the laptop's refresh token is not revoked, and the agent's own
/// terminal says what was asked and how it ended. (Failed before: the laptop then held the
/// other account's tokens, and had revoked its user's.)
#[test]
fn a_login_through_the_agent_cannot_switch_the_laptop_to_another_user() {
    let idp = Idp::start(&[]);
    let laptop = World::for_idp(&idp, "");
    paste_login(&laptop, &idp).expect(0);
    let before = std::fs::read(laptop.token_file()).unwrap();
    let browser = laptop.browser_script("browser.sh", "");
    laptop.set_env("BROWSER", browser.to_str().unwrap());
    let agent = Agent::start(&laptop, &[]);
    let remote = remote(&agent);

    idp.log_in_as("mallory");
    remote
        .run(&["login"])
        .expect(8)
        .stderr_has(
            "this login is of user \"mallory\", but profile `local` holds the tokens of user \"",
        )
        .stderr_has("may not replace them with another user's (--same-user); nothing was stored");
    assert_eq!(std::fs::read(laptop.token_file()).unwrap(), before);
    // The laptop's own login is alive: it refreshes with it.
    support::age_tokens(&laptop, 60);
    laptop.run(&["token", "--min-valid", "2h"]).expect(0);
    laptop
        .run(&["status"])
        .expect(0)
        .stdout_has("logged in as alice@example.com");

    // The same user again: the login goes through.
    idp.log_in_as(support::USER);
    remote
        .run(&["login"])
        .expect(0)
        .stderr_has("Logged in as Alice Liddell (alice@example.com)");
    let said = agent.stop();
    assert!(
        said.contains("latchkey (pid ") && said.contains(") started a login of profile `local`"),
        "{said}"
    );
    assert!(said.contains("did not succeed (exit 8)"), "{said}");
    assert!(said.contains("succeeded"), "{said}");
}

/// The review's slow clients: 32 connections each sending a byte every 8 s kept every other
/// request failing while they lasted, as each read had 10 s but the request none. Now a
/// request has 10 s in all, and a client that finds every slot taken waits its turn instead
/// of being turned away. (Failed before: no slow connection was cut off, and `token` was
/// exit 6.)
#[test]
fn slow_clients_cannot_keep_others_from_their_tokens() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let agent = Agent::start(&laptop, &[]);
    let remote = remote(&agent);
    let started = Instant::now();
    let slow: Vec<_> = (0..32)
        .map(|_| {
            let stream = UnixStream::connect(&agent.socket).unwrap();
            std::thread::spawn(move || {
                let connected = Instant::now();
                let mut stream = stream;
                stream
                    .set_read_timeout(Some(Duration::from_secs(8)))
                    .unwrap();
                // A byte every 8 s until the agent answers or closes, for at most 30 s.
                while connected.elapsed() < Duration::from_secs(30) {
                    if stream.write_all(b" ").is_err() {
                        return Some(connected.elapsed());
                    }
                    let mut byte = [0u8; 1];
                    match stream.read(&mut byte) {
                        Ok(_) => return Some(connected.elapsed()),
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(_) => return Some(connected.elapsed()),
                    }
                }
                None
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    let run = remote.run(&["token"]);
    let waited = asked.elapsed();
    run.expect(0);
    assert!(waited < Duration::from_secs(15), "token took {waited:?}");
    for handle in slow {
        let cut_off = handle.join().unwrap();
        assert!(
            cut_off.is_some_and(|after| after < Duration::from_secs(13)),
            "a slow client was served for {cut_off:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// The agent's threads and descriptors, from /proc.
fn threads_and_descriptors(pid: u32) -> (usize, usize) {
    let count = |what: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{what}"))
            .unwrap_or_else(|e| panic!("/proc/{pid}/{what}: {e}"))
            .count()
    };
    (count("task"), count("fd"))
}

/// Logins whose clients stay connected after their answer held a thread and a descriptor each,
/// past the connection limit (60 held logins: 61 threads, 66 descriptors). A login is watched
/// in its connection's own worker now, and nothing of it outlives the answer: the workers (at
/// most one per connection the limit allows, kept for the next requests) are all there is.
/// (Failed before: 60 threads more, each blocked on its client.)
#[test]
fn logins_leave_no_thread_or_descriptor_behind() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let agent = Agent::start(&laptop, &[]);
    let (_, descriptors) = threads_and_descriptors(agent.pid());
    // Sixty, as in the review, in three waves of twenty at once: in each, one waits a second
    // for a browser that never comes, the others are turned away at once as another login of
    // the profile runs. Every client stays connected.
    let mut held: Vec<UnixStream> = Vec::new();
    let mut threads_after_each_wave = Vec::new();
    for _ in 0..3 {
        let wave: Vec<UnixStream> = (0..20)
            .map(|_| {
                let mut stream = UnixStream::connect(&agent.socket).unwrap();
                stream
                    .write_all(&login_request(&["--timeout", "1s"]))
                    .unwrap();
                stream
            })
            .collect();
        for stream in &wave {
            assert_eq!(final_answer(stream)["exit"], 8);
        }
        held.extend(wave);
        // A connection's worker is free just after its answer: a moment for the last ones.
        let deadline = Instant::now() + Duration::from_secs(5);
        let after = loop {
            let now = threads_and_descriptors(agent.pid());
            if now.1 <= descriptors || Instant::now() > deadline {
                break now;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            after.1 <= descriptors,
            "descriptors {descriptors} -> {}, with {} clients still connected",
            after.1,
            held.len()
        );
        threads_after_each_wave.push(after.0);
    }
    // The main thread and the workers, one for each connection served at once, kept for the
    // next: never past the agent's limit of 32 connections, however many logins were held.
    assert!(
        threads_after_each_wave.iter().all(|&n| n <= 1 + 32),
        "threads after each wave: {threads_after_each_wave:?}"
    );
}

/// The pids of the processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        if ppid == Some(parent) {
            children.push(pid);
        }
    }
    children
}

/// A `sleep` of the test's own under pid `pid`, by asking the kernel to hand out that pid next
/// (`ns_last_pid`, root only); `None` when other processes kept taking it.
fn process_with_pid(pid: u32) -> Option<Child> {
    for _ in 0..200 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", format!("{}", pid - 1)).unwrap();
        let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
        if sleeper.id() == pid {
            return Some(sleeper);
        }
        let _ = sleeper.kill();
        let _ = sleeper.wait();
    }
    None
}

/// A login's client that goes away after the login has ended must not make the agent signal
/// anything: the login's pid has been reaped and may be another process's. Here the kernel is
/// made to give that pid to a process of the test's own at once. (Failed before: the watch
/// thread sent that process SIGTERM.)
#[test]
fn a_login_that_ended_is_never_signalled_again() {
    if unsafe { libc::geteuid() } != 0 {
        panic!(
            "this test hands a reaped pid to a process of its own (ns_last_pid): run it as root (CI does)"
        );
    }
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let agent = Agent::start(&laptop, &[]);
    let mut client = UnixStream::connect(&agent.socket).unwrap();
    client
        .write_all(&login_request(&["--timeout", "2s"]))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let login = loop {
        if let Some(&pid) = children_of(agent.pid()).first() {
            break pid;
        }
        assert!(Instant::now() < deadline, "the agent started no login");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(final_answer(&client)["exit"], 8, "the login timed out");
    let mut victim = process_with_pid(login)
        .unwrap_or_else(|| panic!("could not get pid {login} again for the test's process"));
    drop(client);
    std::thread::sleep(Duration::from_millis(500));
    let ended = victim.try_wait().unwrap();
    let _ = victim.kill();
    let _ = victim.wait();
    assert!(
        ended.is_none(),
        "the process that took the login's pid was signalled: {ended:?}"
    );
}

/// `--confirm` says all it allows, and only a key pressed after the question answers it:
/// `agent --stop` is asked about; an ID token, a token for another API with its scopes and a
/// login with its flags are named; a `y` typed before any request answers nothing. (Failed
/// before: the early `y` answered the first request, and `--stop` was never asked about.)
#[test]
fn confirm_names_what_it_allows_and_only_an_answer_to_the_question_counts() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let agent = ConfirmingAgent::start(&laptop, "agent-confirm-names");
    let (tmux, remote, socket) = (&agent.tmux, agent.remote(), &agent.socket);
    let socket_text = socket.to_str().unwrap();
    // Typed ahead, before any question.
    tmux.send_literal("y\n");
    std::thread::sleep(Duration::from_millis(300));
    let ask = |args: &[&str], question: &str, answer: &str| -> Run {
        let mut asking = spawn_piped(&remote, args);
        tmux.wait_for(question, |s| s.contains(question));
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            asking.try_wait().unwrap().is_none(),
            "answered before the question was:\n{}",
            tmux.screen()
        );
        tmux.send_literal(answer);
        Run::from(asking.wait_with_output().unwrap())
    };
    ask(
        &["token", "--id-token"],
        "asks for the ID token of the default profile. Allow? [y/N]",
        "n\n",
    )
    .expect(8);
    ask(
        &["token", "--audience", "https://billing.example.com/", "--scope", "read:invoices"],
        "asks for an access token for API \"https://billing.example.com/\" with scopes \"read:invoices\", from the default profile. Allow?",
        "n\n",
    )
    .expect(8);
    ask(
        &["login", "--scope", "admin:everything", "-p", "local"],
        "asks for a login of profile \"local\" in this host's browser, with \"--scope\" \"admin:everything\". Allow?",
        "n\n",
    )
    .expect(8);
    // Stopping the agent is asked about too; refused, it keeps serving.
    let stop = ["agent", "--stop", "--socket", socket_text];
    let refused = {
        let asking = spawn_piped(&laptop, &stop);
        tmux.wait_for("the stop question", |s| {
            s.contains("asks to stop the agent. Allow? [y/N]")
        });
        tmux.send_literal("n\n");
        Run::from(asking.wait_with_output().unwrap())
    };
    refused.expect(8);
    assert!(UnixStream::connect(socket).is_ok(), "the agent stopped");
    let asking = spawn_piped(&laptop, &stop);
    tmux.wait_for("the second stop question", |s| {
        s.matches("asks to stop the agent").count() == 2
    });
    tmux.send_literal("y\n");
    Run::from(asking.wait_with_output().unwrap())
        .expect(0)
        .stderr_has("Stopped the agent");
    wait_gone(socket);
}

/// Runs the agent as a test expects it to refuse to start: its run, or a failure if it is
/// still running after 10 s (it started).
fn agent_refusing(world: &World, args: &[&str]) -> Run {
    let mut child = world
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the agent started: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Run::from(child.wait_with_output().unwrap())
}

/// Without a runtime directory the socket goes in `$TMPDIR/latchkey-UID/`, a name anyone can
/// guess: a symbolic link planted there is refused, never followed to where it points. (Failed
/// before: the agent made its socket in the link's target, a directory of the user's.)
#[test]
fn a_link_planted_where_the_socket_directory_belongs_is_refused() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let tmp = laptop.dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    laptop.set_env("TMPDIR", tmp.to_str().unwrap());
    // A private directory of the user's, where the planter wants the socket (or a chmod).
    let target = laptop.home().join("private");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let uid = unsafe { libc::geteuid() };
    std::os::unix::fs::symlink(&target, tmp.join(format!("latchkey-{uid}"))).unwrap();
    agent_refusing(&laptop, &["agent"])
        .expect(7)
        .stderr_has(&format!(
            "latchkey-{uid} is a symbolic link; latchkey does not follow it"
        ));
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
}

/// A socket in a directory only its owner can write — a home of mode 0755 or 0750, as most
/// systems make them and OpenSSH's StrictModes accepts — is served (the socket is 0600 and
/// its peers checked), and the directory's mode is left alone; a directory others can write
/// is refused. (Failed before: `LATCHKEY_AGENT_SOCK=~/agent.sock` was refused for mode 0755.)
#[test]
fn a_socket_in_a_home_only_its_owner_can_write_is_served() {
    use std::os::unix::fs::PermissionsExt;
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    for mode in [0o755, 0o750] {
        std::fs::set_permissions(laptop.home(), std::fs::Permissions::from_mode(mode)).unwrap();
        let socket = laptop.home().join("agent.sock");
        let socket_text = socket.to_str().unwrap().to_owned();
        let mut agent = laptop
            .cmd(&["agent"])
            .env("LATCHKEY_AGENT_SOCK", &socket_text)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_listening(&mut agent, &socket);
        let remote = World::new();
        remote.set_env("LATCHKEY_AGENT_SOCK", &socket_text);
        remote.run(&["token"]).expect(0);
        let home_mode = std::fs::metadata(laptop.home())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(home_mode, mode);
        unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
        let _ = agent.wait();
        wait_gone(&socket);
    }
    let shared = laptop.dir.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o775)).unwrap();
    let socket = shared.join("agent.sock");
    agent_refusing(&laptop, &["agent", "--socket", socket.to_str().unwrap()])
        .expect(7)
        .stderr_has("can be written by others (mode 0775): they could replace the socket");
}
