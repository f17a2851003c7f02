//! The SSH harness itself (`support::sshd`): a real sshd runs remote commands in a home of
//! their own, and forwards a Unix socket into it with `ssh -R` as users forward
//! `latchkey agent`'s, with the socket mode, stale-socket and missing-directory behaviour the
//! agent relies on and documents.

use crate::support::sshd::{Sshd, runtime_dir, shell_quote};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::thread::JoinHandle;

/// Connects to the socket named by its argument, sends `ping`, prints the line it gets back.
const CLIENT: &str = "import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'ping\\n')
print(s.makefile().readline().strip())";

fn temp(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The laptop's side: a listener at `path` that answers `n` connections, one line each, and
/// returns the lines it was sent.
fn answer(path: &Path, n: usize) -> JoinHandle<Vec<String>> {
    let listener = UnixListener::bind(path).expect("bind the local socket");
    std::thread::spawn(move || {
        (0..n)
            .map(|_| {
                let (mut stream, _) = listener.accept().expect("accept");
                let mut line = String::new();
                BufReader::new(&stream).read_line(&mut line).unwrap();
                let line = line.trim().to_owned();
                writeln!(stream, "pong {line}").unwrap();
                line
            })
            .collect()
    })
}

#[test]
fn a_remote_command_runs_in_the_remote_home() {
    let sshd = Sshd::start();
    let remote = temp("latchkey-remote-");
    let home = remote.path().join("home");
    let command = r#"echo hello; echo "$HOME"; echo "$XDG_RUNTIME_DIR"; command -v latchkey"#;
    let out = sshd.run_remote(None, &home, command);
    assert!(out.status.success(), "{}", sshd.explain(command, &out));
    let expected = format!(
        "hello\n{}\n{}\n{}\n",
        home.display(),
        runtime_dir(&home).display(),
        env!("CARGO_BIN_EXE_latchkey")
    );
    assert_eq!(
        text(&out.stdout),
        expected,
        "{}",
        sshd.explain(command, &out)
    );
}

#[test]
fn a_forwarded_socket_reaches_the_local_listener_each_session() {
    let sshd = Sshd::start();
    let laptop = temp("latchkey-laptop-");
    let local = laptop.path().join("agent.sock");
    let remote = temp("latchkey-remote-");
    let home = remote.path().join("home");
    let remote_socket = runtime_dir(&home).join("agent.sock");
    sshd.make_runtime_dir(&home);
    let mode = std::fs::metadata(runtime_dir(&home)).unwrap().permissions();
    assert_eq!(mode.mode() & 0o777, 0o700);

    let answers = answer(&local, 2);
    let command = format!(
        r#"python3 -c {} "$XDG_RUNTIME_DIR/agent.sock" && stat -c %a "$XDG_RUNTIME_DIR/agent.sock""#,
        shell_quote(CLIENT)
    );
    // Twice: the first session leaves its socket file behind, which the second replaces
    // (StreamLocalBindUnlink) instead of failing to bind.
    for session in 1..=2 {
        let out = sshd.run_remote(Some((&remote_socket, &local)), &home, &command);
        assert!(out.status.success(), "{}", sshd.explain(&command, &out));
        assert_eq!(text(&out.stdout), "pong ping\n600\n", "session {session}");
        let left = std::fs::symlink_metadata(&remote_socket).expect("the socket is left behind");
        assert!(left.file_type().is_socket());
    }
    assert_eq!(answers.join().unwrap(), ["ping", "ping"]);
}

#[test]
fn a_forward_into_a_missing_directory_fails_the_run() {
    let sshd = Sshd::start();
    let laptop = temp("latchkey-laptop-");
    let local = laptop.path().join("agent.sock");
    let _listener = UnixListener::bind(&local).unwrap();
    let remote = temp("latchkey-remote-");
    let home = remote.path().join("home");
    let remote_socket = runtime_dir(&home).join("agent.sock");
    // Too late: sshd binds the socket before the command runs.
    let command = r#"mkdir -p -m 700 "$XDG_RUNTIME_DIR"; echo ran"#;
    let out = sshd.run_remote(Some((&remote_socket, &local)), &home, command);
    assert_eq!(
        out.status.code(),
        Some(255),
        "{}",
        sshd.explain(command, &out)
    );
    assert!(out.stdout.is_empty(), "{}", sshd.explain(command, &out));
    assert!(
        text(&out.stderr).contains("remote port forwarding failed"),
        "{}",
        sshd.explain(command, &out)
    );
    assert!(sshd.log().contains("No such file or directory"));
}
