//! `token --login-if-needed` and the profile's `login_if_needed`: a login first when there is no
//! usable refresh token and someone can answer (a terminal, kubectl passing its own on), the
//! token on stdout only after it, and exit 4 at once when nobody can.

use crate::support::tmux::{Tmux, authorize_url};
use crate::support::{Idp, World, approve};
use std::time::{Duration, Instant};

/// A login in tmux started by `token ARGS`, answered by paste; what reached stdout (a file).
fn token_with_a_login(name: &str, world: &World, args: &str, extra_env: &str) -> String {
    let idp = Idp::shared();
    let out = world.dir.path().join("stdout.txt");
    let tmux = Tmux::new(name);
    tmux.start_latchkey(
        world,
        &format!("token {args} > {}", out.display()),
        extra_env,
    );
    let screen = tmux.wait_for("the login's prompt", |s| {
        s.contains("Paste the redirect URL or code here:")
    });
    assert!(screen.contains("logging in first"), "{screen}");
    // Nothing on stdout while the login runs: a script reading it sees only the token.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "");
    let redirect = approve(&authorize_url(&screen, idp), idp, &[]);
    tmux.send_literal(&redirect);
    tmux.send_key("Enter");
    tmux.wait_for_exit(0);
    std::fs::read_to_string(&out).unwrap()
}

#[test]
fn a_terminal_logs_in_first_and_then_gets_the_token() {
    let world = World::for_idp(Idp::shared(), "");
    let printed = token_with_a_login("relogin-flag", &world, "--login-if-needed", "NO_COLOR=1");
    let stored = world.run(&["token"]).expect(0).stdout;
    assert_eq!(printed, stored);
    assert_eq!(Idp::shared().userinfo_status(printed.trim()), 200);
}

#[test]
fn the_profile_key_asks_for_it_too() {
    let world = World::for_idp(Idp::shared(), "login_if_needed = true\n");
    let printed = token_with_a_login("relogin-key", &world, "--format header", "NO_COLOR=1");
    assert!(printed.starts_with("Authorization: Bearer "), "{printed}");
}

#[test]
fn kubectl_saying_interactive_gets_a_login() {
    let world = World::for_idp(Idp::shared(), "");
    let info = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":true}}"#;
    let printed = token_with_a_login(
        "relogin-kubectl",
        &world,
        "--format exec-credential --login-if-needed",
        &format!("KUBERNETES_EXEC_INFO='{info}'"),
    );
    let credential: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(credential["kind"], "ExecCredential");
    assert!(credential["status"]["token"].as_str().is_some());
}

#[test]
fn without_anyone_to_answer_it_exits_4_at_once() {
    let world = World::for_idp(Idp::shared(), "login_if_needed = true\n");
    // No terminal: stdin is /dev/null, stderr a pipe.
    let started = Instant::now();
    let run = world.run(&["token", "--login-if-needed"]).expect(4);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(run.stdout, "");
    run.stderr_has("latchkey login");
    // kubectl saying it cannot pass a prompt on, even in a terminal.
    let tmux = Tmux::new("login-if-needed-kubectl");
    let info = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#;
    tmux.start_latchkey(
        &world,
        "token --format exec-credential --login-if-needed",
        &format!("KUBERNETES_EXEC_INFO='{info}'"),
    );
    let screen = tmux.wait_for_exit(4);
    assert!(!screen.contains("logging in first"), "{screen}");
}
