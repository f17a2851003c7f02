//! A real OpenSSH server on 127.0.0.1 for the tests of `latchkey agent`, whose socket users
//! forward with `ssh -R REMOTE_SOCKET:LOCAL_SOCKET` as they do ssh-agent's: only the real `sshd`
//! and `ssh` show what a forwarded socket looks like on the far side (its path, its mode, what
//! is left of it after the session). The server is private to one test: its host key, the
//! client's key, its configuration and its log all live in a temp dir, and it logs in the user
//! the tests run as (root in CI, or the developer), since a non-root sshd can log in no other.
//!
//! The "remote" side is this same machine under the same account, so what makes it remote is
//! the environment: `run_remote` gives the session a HOME and XDG directories of its own.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Absolute, as sshd demands (it re-executes itself for every connection).
pub const SSHD: &str = "/usr/sbin/sshd";
/// How long sshd may take to listen before the test fails with what it said.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one remote command may run, forwarding included, before it is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Where root's sshd insists on its privilege separation directory (a non-root one skips it).
const PRIVSEP_DIR: &str = "/run/sshd";

/// OpenSSH (server and client) is required like Node: the suite fails, never skips, without it.
pub fn require_sshd() {
    let sshd = Path::new(SSHD)
        .metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    let ssh = Command::new("ssh")
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success());
    // ssh-keygen has no harmless option that succeeds: that it runs at all is enough.
    let keygen = Command::new("ssh-keygen")
        .arg("-?")
        .stdin(Stdio::null())
        .output()
        .is_ok();
    assert!(
        sshd && ssh && keygen,
        "OpenSSH is required by the agent tests ({SSHD}, ssh, ssh-keygen): \
         apt-get install openssh-server openssh-client (tests/run installs them)"
    );
}

/// One private sshd, killed when dropped, or when the thread that started it ends: keep it in
/// the test that started it (a server shared through a static would die with its first test).
pub struct Sshd {
    dir: tempfile::TempDir,
    pub port: u16,
    user: String,
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Sshd {
    /// Generates the keys, writes the configuration and starts sshd on a free port, returning
    /// once it listens. The port is found by binding port 0 and letting it go, so another
    /// process may take it in between: sshd is then started again on another one.
    pub fn start() -> Sshd {
        Self::start_with("")
    }

    /// [`Sshd::start`] with `extra` lines of sshd_config: `LogLevel DEBUG` for a test that
    /// reads in the log what sshd was asked to do (each forwarded connection's target).
    pub fn start_with(extra: &str) -> Sshd {
        require_sshd();
        make_privsep_dir();
        let dir = tempfile::Builder::new()
            .prefix("latchkey-sshd-")
            .tempdir()
            .expect("temp dir");
        keygen(&dir.path().join("host_key"));
        keygen(&dir.path().join("client_key"));
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("authorized_keys");
        let config = dir.path().join("sshd_config");
        for attempt in 1..=3 {
            let port = free_port();
            let text = format!("{}{extra}", config_text(dir.path(), port));
            std::fs::write(&config, text).expect("sshd_config");
            let (mut child, log, listening) = spawn_sshd(&config);
            if listening.recv_timeout(START_TIMEOUT).is_ok() {
                let user = current_user();
                return Sshd {
                    dir,
                    port,
                    user,
                    child,
                    log,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            let said = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if !(attempt < 3 && said.contains("Address already in use")) {
                panic!("sshd exited, or did not listen within {START_TIMEOUT:?}; it said:\n{said}");
            }
        }
        unreachable!("the last attempt panics")
    }

    /// Everything sshd has logged so far, its sessions' lines included (authentication and
    /// forwarding errors are told there, not to the client): what a failing test shows.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `ssh` to this server as the current user, with nothing of the developer's own ssh
    /// setup (no config, agent keys, known hosts or prompts). The destination is already on
    /// the command line; OpenSSH still takes options after it, so a test adds `-R ...` and then
    /// the remote command.
    pub fn ssh(&self) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-F")
            .arg("/dev/null")
            .arg("-i")
            .arg(self.dir.path().join("client_key"));
        for option in [
            "IdentitiesOnly=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "BatchMode=yes",
            "LogLevel=ERROR",
        ] {
            cmd.arg("-o").arg(option);
        }
        cmd.arg("-p")
            .arg(self.port.to_string())
            .arg(format!("{}@127.0.0.1", self.user))
            .stdin(Stdio::null());
        cmd
    }

    /// `ssh -N -D 127.0.0.1:PORT` to this server, as a user makes a SOCKS proxy of an SSH
    /// login: returns once the forward listens.
    pub fn dynamic_forward(&self) -> DynamicForward {
        let port = free_port();
        let mut child = self
            .ssh()
            .arg("-N")
            .arg("-o")
            .arg("ExitOnForwardFailure=yes")
            .arg("-D")
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ssh -D");
        let stderr = super::drain(child.stderr.take().expect("ssh stderr"));
        let deadline = Instant::now() + START_TIMEOUT;
        // ssh binds the forward once logged in; a connection that sends nothing is dropped.
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().expect("wait for ssh") {
                panic!(
                    "ssh -D exited ({status}): {}\n--- sshd\n{}",
                    stderr.join().unwrap(),
                    self.log()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ssh -D did not listen within {START_TIMEOUT:?}: {}\n--- sshd\n{}",
                    stderr.join().unwrap(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        DynamicForward { port, child }
    }

    /// Runs `command` (a `sh` command line) on the remote side in `remote_home` (see
    /// `remote_env`), with `forward` = (remote socket, local socket) forwarded as `ssh -R` does
    /// it. A forward that cannot be set up fails the run (exit 255, "remote port forwarding
    /// failed") instead of running the command without it; the run is killed after
    /// `RUN_TIMEOUT`. The remote socket's directory must exist before: sshd binds the socket
    /// before the command runs, and creates no directory (see `make_runtime_dir`).
    pub fn run_remote(
        &self,
        forward: Option<(&Path, &Path)>,
        remote_home: &Path,
        command: &str,
    ) -> Output {
        let mut cmd = self.ssh();
        if let Some((remote, local)) = forward {
            cmd.arg("-o")
                .arg("ExitOnForwardFailure=yes")
                .arg("-R")
                .arg(format!("{}:{}", remote.display(), local.display()));
        }
        // sshd passes none of our environment: the remote shell sets it, then `sh` runs the
        // command in it (a bare `env VAR=... command` would expand `$VAR` too early).
        let mut line = String::from("env");
        for (key, value) in remote_env(remote_home) {
            line.push_str(&format!(" {key}={}", shell_quote(&value)));
        }
        line.push_str(&format!(" sh -c {}", shell_quote(command)));
        cmd.arg(line);
        self.bounded(cmd, command)
    }

    /// Creates `$XDG_RUNTIME_DIR` of `remote_home` (mode 700) over ssh, as a first session
    /// does: a socket forwarded into it can only be bound once it exists.
    pub fn make_runtime_dir(&self, remote_home: &Path) {
        let out = self.run_remote(None, remote_home, r#"mkdir -p -m 700 "$XDG_RUNTIME_DIR""#);
        assert!(out.status.success(), "{}", self.explain("mkdir", &out));
    }

    /// `cmd` run to its end, or killed after `RUN_TIMEOUT` with everything it printed.
    fn bounded(&self, mut cmd: Command, what: &str) -> Output {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ssh");
        let stdout = super::drain(child.stdout.take().expect("ssh stdout"));
        let stderr = super::drain(child.stderr.take().expect("ssh stderr"));
        let deadline = Instant::now() + RUN_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for ssh") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let status = child.wait().expect("wait for ssh");
                let out = Output {
                    status,
                    stdout: stdout.join().unwrap().into_bytes(),
                    stderr: stderr.join().unwrap().into_bytes(),
                };
                panic!(
                    "timed out after {RUN_TIMEOUT:?}\n{}",
                    self.explain(what, &out)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: stdout.join().unwrap().into_bytes(),
            stderr: stderr.join().unwrap().into_bytes(),
        }
    }

    /// A remote run told in full for an assertion message: the command, its exit, both
    /// streams and sshd's log.
    pub fn explain(&self, command: &str, out: &Output) -> String {
        format!(
            "remote command: {command}\nexit: {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- sshd\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        )
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running `ssh -D`: a SOCKS proxy (SOCKS4 and 5) on 127.0.0.1 whose connections sshd
/// opens. Killed when dropped, or by [`DynamicForward::stop`], as a dropped SSH session ends it.
pub struct DynamicForward {
    pub port: u16,
    child: Child,
}

impl DynamicForward {
    /// `scheme://127.0.0.1:PORT` (`socks5` or `socks5h`).
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Ends the ssh, and so the forward: its port then refuses connections.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DynamicForward {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The environment of a remote session in `remote_home`: laid out like `World`'s
/// (`.config`, `.local/share`), with `$XDG_RUNTIME_DIR` at `run` (created by nobody; see
/// `make_runtime_dir`), and a PATH that finds the `latchkey` under test first, then what ours
/// finds (the remote side is this machine).
pub fn remote_env(remote_home: &Path) -> Vec<(&'static str, String)> {
    let bin = Path::new(env!("CARGO_BIN_EXE_latchkey"))
        .parent()
        .expect("the binary's directory");
    let path = match std::env::var("PATH") {
        Ok(ours) if !ours.is_empty() => format!("{}:{ours}", bin.display()),
        _ => format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
    };
    let under = |rel: &str| remote_home.join(rel).display().to_string();
    vec![
        ("HOME", remote_home.display().to_string()),
        ("XDG_CONFIG_HOME", under(".config")),
        ("XDG_DATA_HOME", under(".local/share")),
        (
            "XDG_RUNTIME_DIR",
            runtime_dir(remote_home).display().to_string(),
        ),
        ("PATH", path),
    ]
}

/// `$XDG_RUNTIME_DIR` of a remote session in `remote_home`: where the forwarded socket goes.
pub fn runtime_dir(remote_home: &Path) -> PathBuf {
    remote_home.join("run")
}

/// `text` as one word for `sh` (and bash, zsh: the login shell that reads the line sshd
/// hands it).
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The configuration of a server that lets exactly the test's key in and forwards Unix
/// sockets as a user's server would, with the settings `latchkey agent` documents: a stale
/// socket from an earlier session is replaced (`StreamLocalBindUnlink`), and the socket is the
/// user's alone (`StreamLocalBindMask 0177`, mode 0600).
fn config_text(dir: &Path, port: u16) -> String {
    let dir = dir.display();
    format!(
        "ListenAddress 127.0.0.1\n\
         Port {port}\n\
         HostKey {dir}/host_key\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         PidFile {dir}/sshd.pid\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         StrictModes no\n\
         PermitRootLogin prohibit-password\n\
         PermitUserRC no\n\
         PrintMotd no\n\
         X11Forwarding no\n\
         AllowStreamLocalForwarding yes\n\
         StreamLocalBindUnlink yes\n\
         StreamLocalBindMask 0177\n"
    )
}

/// sshd in the foreground, logging to a pipe read on a thread: the log, and a channel that
/// says when sshd listens (and is dropped if sshd exits first). sshd is asked to die with the
/// test thread that started it, so a killed test binary leaves no server behind.
fn spawn_sshd(config: &Path) -> (Child, Arc<Mutex<String>>, mpsc::Receiver<()>) {
    let mut cmd = Command::new(SSHD);
    cmd.args(["-D", "-e", "-f"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: prctl is async-signal-safe and touches no memory of ours. (Linux only: elsewhere,
    // as on macOS, where this file is only compiled, sshd outlives a killed test binary.)
    #[cfg(any(target_os = "linux", target_os = "android"))]
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {SSHD}: {e}"));
    let stderr = child.stderr.take().expect("sshd stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, listening) = mpsc::channel();
    let written = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("Server listening on") {
                let _ = tx.send(());
            }
            let mut log = written.lock().unwrap_or_else(|p| p.into_inner());
            log.push_str(&line);
            log.push('\n');
        }
    });
    (child, log, listening)
}

/// Root's sshd will not start without its privilege separation directory, which only the
/// service's start-up makes (a container never runs it).
fn make_privsep_dir() {
    // SAFETY: geteuid has no memory effects.
    if unsafe { libc::geteuid() } != 0 || Path::new(PRIVSEP_DIR).is_dir() {
        return;
    }
    std::fs::create_dir_all(PRIVSEP_DIR).unwrap_or_else(|e| panic!("{PRIVSEP_DIR}: {e}"));
    std::fs::set_permissions(PRIVSEP_DIR, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{PRIVSEP_DIR}: {e}"));
}

/// An ed25519 key pair without a passphrase at `path` and `path.pub`.
fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "latchkey-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The account the tests run as, which is the only one a non-root sshd can log in.
fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    assert!(out.status.success(), "id -un failed");
    String::from_utf8(out.stdout)
        .expect("a UTF-8 user name")
        .trim()
        .to_owned()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}
