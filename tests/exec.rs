//! `latchkey exec`: the token in one environment variable of the command, latchkey's own secrets
//! out of it, and the command's exit status, signals and Ctrl-C its own (latchkey becomes it).

use crate::support::tmux::Tmux;
use crate::support::{Idp, World, logged_in};

#[test]
fn the_command_gets_the_token_in_its_environment_and_nothing_secret_besides() {
    let idp = Idp::shared();
    let world = logged_in(idp, "");
    let token = world.run(&["token"]).expect(0).stdout;
    let run = world
        .run_env(
            &[
                "exec",
                "--",
                "sh",
                "-c",
                "printf '%s\\n' \"$LATCHKEY_TOKEN\"; env | cut -d= -f1 | sort; cat /proc/$$/cmdline | tr '\\0' ' '",
            ],
            &[
                ("LATCHKEY_PASSPHRASE", "unused-but-secret"),
                ("LATCHKEY_CLIENT_SECRET", "also-secret"),
            ],
        )
        .expect(0);
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some(token.trim()));
    let rest: Vec<&str> = lines.collect();
    assert!(rest.contains(&"LATCHKEY_TOKEN"), "{rest:?}");
    assert!(
        !rest.contains(&"LATCHKEY_PASSPHRASE") && !rest.contains(&"LATCHKEY_CLIENT_SECRET"),
        "{rest:?}"
    );
    let cmdline = rest.last().unwrap();
    assert!(!cmdline.contains(token.trim()), "the token is in argv");
    assert!(!run.stderr.contains(token.trim()));
    assert_eq!(idp.userinfo_status(token.trim()), 200);

    let named = world
        .run(&[
            "exec",
            "--env",
            "API_TOKEN",
            "--",
            "sh",
            "-c",
            "printf %s \"$API_TOKEN\"; test -z \"$LATCHKEY_TOKEN\"",
        ])
        .expect(0);
    assert_eq!(named.stdout, token.trim());
}

#[test]
fn exit_status_and_signals_are_the_commands() {
    let world = logged_in(Idp::shared(), "");
    world.run(&["exec", "--", "sh", "-c", "exit 7"]).expect(7);
    // Killed by SIGTERM: the shell's 128+15, because the process that died is the command.
    world
        .run(&["exec", "--", "sh", "-c", "kill -TERM $$"])
        .expect(143);
    world
        .run(&["exec", "--", "no-such-command-anywhere"])
        .expect(127)
        .stderr_has("command not found");
    world.write_file("not-executable", "#!/bin/sh\n");
    let path = world.dir.path().join("not-executable");
    world
        .run(&["exec", "--", path.to_str().unwrap()])
        .expect(126);
    world.run(&["exec"]).expect(2).stderr_has("needs a command");
    world
        .run(&["exec", "--env", "2BAD", "--", "true"])
        .expect(2);
}

#[test]
fn the_command_gets_the_core_file_limit_latchkey_found() {
    let world = logged_in(Idp::shared(), "");
    let mut cmd = world.command("sh");
    cmd.args([
        "-c",
        "ulimit -c 2048 && exec \"$0\" exec -- sh -c 'ulimit -c'",
        env!("CARGO_BIN_EXE_latchkey"),
    ]);
    let run = crate::support::Run::from(cmd.output().unwrap()).expect(0);
    assert_eq!(run.stdout.trim(), "2048");
}

#[test]
fn without_a_login_the_command_is_not_run() {
    let world = World::for_idp(Idp::shared(), "");
    let marker = world.dir.path().join("ran");
    world
        .run(&["exec", "--", "touch", marker.to_str().unwrap()])
        .expect(4)
        .stderr_has("latchkey login");
    assert!(!marker.exists());
}

#[test]
fn ctrl_c_reaches_the_command() {
    let world = logged_in(Idp::shared(), "");
    let tmux = Tmux::new("exec-ctrl-c");
    tmux.start_latchkey(
        &world,
        "exec -- sh -c 'trap \"echo the command got SIGINT; exit 3\" INT; echo READY; while :; do sleep 1; done'",
        "",
    );
    tmux.wait_for("the command", |s| s.contains("READY"));
    tmux.send_key("C-c");
    let screen = tmux.wait_for_exit(3);
    assert!(screen.contains("the command got SIGINT"), "{screen}");
}
