//! `TERM=dumb` (and an unset TERM) on a real terminal: latchkey prints text and nothing else —
//! not a colour, not a cursor movement, not a reserved line — byte for byte what it prints to a
//! pipe. `script` gives latchkey a real pseudo-terminal and records every byte it writes.

use crate::support::{Idp, World, shell_status};

/// Runs `latchkey ARGS` on a pseudo-terminal with `TERM` as given (`None`: unset): its exit
/// status and every byte it wrote, `\r\n` as the terminal's output processing makes it.
fn on_a_terminal(world: &World, term: Option<&str>, args: &str) -> (i32, Vec<u8>) {
    let mut command = world.command("script");
    command.args([
        "-qec",
        &format!("{} {args}", env!("CARGO_BIN_EXE_latchkey")),
        "/dev/null",
    ]);
    match term {
        Some(term) => command.env("TERM", term),
        None => command.env_remove("TERM"),
    };
    // stdin stays open (a pipe nobody writes to): at its end, `script` would type Ctrl-D.
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let stdin = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    (shell_status(out.status), out.stdout)
}

/// The same command with stderr to a pipe: the plain text to compare with.
fn to_a_pipe(world: &World, args: &[&str]) -> (i32, Vec<u8>) {
    let out = world.cmd(args).output().unwrap();
    (shell_status(out.status), out.stderr)
}

#[test]
fn errors_on_a_dumb_terminal_are_byte_for_byte_the_plain_text() {
    let world = World::for_idp(Idp::shared(), "");
    let (code, piped) = to_a_pipe(&world, &["token", "-p", "nope"]);
    assert_eq!(code, 3);
    for term in [Some("dumb"), None] {
        let (code, bytes) = on_a_terminal(&world, term, "token -p nope");
        assert_eq!(code, 3);
        let crlf = String::from_utf8_lossy(&piped).replace('\n', "\r\n");
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            crlf,
            "TERM={term:?} differs from the plain text"
        );
    }
    // The control: a terminal that draws gets colour.
    let (_, bytes) = on_a_terminal(&world, Some("xterm-256color"), "token -p nope");
    assert!(bytes.contains(&0x1b), "{}", String::from_utf8_lossy(&bytes));
}

#[test]
fn a_login_on_a_dumb_terminal_draws_no_spinner_and_moves_no_cursor() {
    // Ctrl-D at its plain prompt ends the login, on a line of its own.
    let world = World::for_idp(Idp::shared(), "");
    let mut command = world.command("script");
    command.args([
        "-qec",
        &format!(
            "{} login --no-loopback --no-browser",
            env!("CARGO_BIN_EXE_latchkey")
        ),
        "/dev/null",
    ]);
    let out = command.env("TERM", "dumb").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(shell_status(out.status), 8, "{text}");
    assert!(
        text.contains("here: \r\nerror: the login was cancelled with Ctrl-D"),
        "{text:?}"
    );

    let world = World::for_idp(Idp::shared(), "");
    let (code, bytes) = on_a_terminal(
        &world,
        Some("dumb"),
        "login --no-loopback --no-browser --timeout 2",
    );
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(code, 8, "{text}");
    assert!(!bytes.contains(&0x1b), "an escape sequence:\n{text:?}");
    assert!(
        text.contains("\r\nWaiting for a pasted code or redirect URL — ")
            && text.contains("s left.\r\n"),
        "the wait is said in plain text:\n{text}"
    );
    assert!(
        text.contains("\r\nerror: the login timed out after 2s\r\n"),
        "the error on its own line:\n{text:?}"
    );
}
