//! `latchkey agent`: a laptop's login served to another "host" (a world with its own HOME and
//! no profiles file) through the agent's socket: tokens, status and login through it, nothing
//! stored on the client's side, and the refusals — an unknown or withheld profile, logins
//! turned off, another user, malformed and oversized requests, an agent that goes away.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{Idp, Run, World, logged_in, stored};

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

#[test]
fn a_login_through_the_agent_happens_on_the_laptop() {
    let idp = Idp::shared();
    let laptop = World::for_idp(idp, "");
    // The laptop's browser: it finishes the login at the agent's loopback listener.
    let browser = laptop.browser_script("browser.sh", "");
    laptop.set_env("BROWSER", browser.to_str().unwrap());
    let agent = Agent::start(&laptop, &[]);
    let remote = remote(&agent);
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(&socket).is_err() {
        if Instant::now() > deadline {
            let _ = agent.kill();
            let out = agent.wait_with_output().unwrap();
            panic!(
                "no agent at {}: {}",
                socket.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
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

/// `--confirm`: each request is asked about in the agent's terminal, naming the profile and
/// who asks; `y` answers it, anything else (or nothing) refuses it, exit 8 at the client.
#[test]
fn with_confirm_the_agents_terminal_allows_or_refuses_each_request() {
    let idp = Idp::shared();
    let laptop = logged_in(idp, "");
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("s").join("agent.sock");
    let socket_text = socket.to_str().unwrap();
    let tmux = support::tmux::Tmux::new("agent-confirm");
    tmux.start_latchkey(
        &laptop,
        &format!("agent --confirm --socket {socket_text}"),
        "",
    );
    tmux.wait_for("the agent", |s| s.contains("serving local"));
    let remote = World::new();
    remote.set_env("LATCHKEY_AGENT_SOCK", socket_text);

    let asking = remote
        .cmd(&["token"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tmux.wait_for("the question", |s| {
        s.contains("latchkey agent: allow token for profile `(default)` to latchkey (pid ")
    });
    tmux.send_literal("y\n");
    let allowed = Run::from(asking.wait_with_output().unwrap()).expect(0);
    assert_eq!(
        allowed.stdout.trim(),
        stored(&laptop).unwrap().access_token.secret()
    );
    tmux.wait_for("allowed", |s| s.contains("allowed"));

    let asking = remote
        .cmd(&["status"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tmux.wait_for("the second question", |s| {
        s.contains("allow status for profile")
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
