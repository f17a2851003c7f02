//! The keys people press while latchkey waits on them, in a real terminal (tmux) and, for job
//! control, a real interactive bash: Ctrl-Z and `fg`, Ctrl-C, Ctrl-D, resizing the pane, and
//! mistyped passphrases. Each test checks what the pane shows and `stty -a` afterwards.

use crate::support;

use crate::support::tmux::{Tmux, authorize_url, terminal_is_sane};
use crate::support::{Idp, World, approve, deliver_redirect};
use std::time::Duration;

const PROMPT: &str = "Paste the redirect URL or code here:";
const PASSPHRASE: &str = "correct horse battery";

fn passphrase_world() -> World {
    World::for_idp(
        Idp::shared(),
        "use_passphrase = true\nscrypt_work_factor = 10",
    )
}

/// The rows of the screen holding `needle`.
fn rows_with(tmux: &Tmux, needle: &str) -> Vec<(usize, String)> {
    tmux.rows()
        .into_iter()
        .enumerate()
        .filter(|(_, row)| row.contains(needle))
        .collect()
}

#[test]
fn ctrl_z_and_fg_at_the_paste_prompt_give_the_terminal_back_and_take_it_again() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let tmux = Tmux::new("keys-fg");
    tmux.start_shell(&world, "", 100, 30);
    // Alone on its line: bash goes on with a list when a job in it stops.
    tmux.type_command(&tmux.latchkey_in_shell("login --no-loopback --no-browser"));
    let screen = tmux.wait_for("the prompt and spinner", |s| {
        s.contains(PROMPT) && s.contains("left")
    });
    let url = authorize_url(&screen, idp);
    tmux.send_literal("half-typed");
    tmux.wait_for("the echo", |s| s.contains(&format!("{PROMPT} half-typed")));

    tmux.send_key("C-z");
    tmux.wait_for("the shell's job report", |s| s.contains("Stopped"));
    std::thread::sleep(Duration::from_millis(400));
    let rows = tmux.rows();
    assert!(
        !rows.iter().any(|r| r.contains("left")),
        "a frozen spinner was left in the shell:\n{rows:#?}"
    );
    let stty = tmux.stty(&world);
    assert!(
        terminal_is_sane(&stty),
        "while stopped, the shell has its terminal back:\n{stty}"
    );

    tmux.send_literal("fg");
    tmux.send_key("Enter");
    tmux.wait_for("the prompt drawn again with what was typed", |s| {
        s.matches(&format!("{PROMPT} half-typed")).count() == 2
    });
    tmux.wait_for("the spinner on the last row", |_| {
        tmux.rows().last().is_some_and(|r| r.contains("left"))
    });
    // Erase what was typed, then paste the real response.
    for _ in 0.."half-typed".len() {
        tmux.send_key("BSpace");
    }
    let redirect = approve(&url, idp, &[]);
    tmux.send_literal(&redirect);
    tmux.send_key("Enter");
    tmux.wait_for("the login", |s| s.contains("Logged in as"));
    tmux.type_command("echo EXIT=$?");
    tmux.wait_for("the exit status", |s| s.contains("EXIT=0"));
    let stty = tmux.stty(&world);
    assert!(terminal_is_sane(&stty), "{stty}");
}

/// After a resize: the status line alone on the last row, cut to the width, and the prompt
/// with what was typed shown once.
fn check_layout(tmux: &Tmux, columns: u16, rows: u16) -> Result<(), String> {
    let screen = tmux.rows();
    if screen.len() != usize::from(rows) {
        return Err(format!("{} rows:\n{screen:#?}", screen.len()));
    }
    let status = screen.last().map(String::as_str).unwrap_or_default();
    if !status.contains("Waiting for a pasted code") {
        return Err(format!(
            "the status line is not on the last row:\n{screen:#?}"
        ));
    }
    if status.chars().count() > usize::from(columns) {
        return Err(format!("the status line is too wide: {status:?}"));
    }
    if rows_with(tmux, "Waiting for a pasted code").len() != 1 {
        return Err(format!("a stale copy of the status line:\n{screen:#?}"));
    }
    let joined = tmux.screen();
    if joined
        .matches(&format!("{PROMPT} typed-before-resizing"))
        .count()
        != 1
    {
        return Err(format!(
            "the prompt and what was typed, not once:\n{joined}"
        ));
    }
    Ok(())
}

#[test]
fn resizing_moves_the_status_line_and_redraws_the_prompt() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let tmux = Tmux::new("keys-resize");
    tmux.start_latchkey_sized(
        &world,
        "login --no-loopback --no-browser",
        "NO_COLOR=1",
        100,
        30,
    );
    tmux.wait_for("the prompt and spinner", |s| {
        s.contains(PROMPT) && s.contains("left")
    });
    tmux.send_literal("typed-before-resizing");
    tmux.wait_for("the echo", |s| s.contains("typed-before-resizing"));

    for (columns, rows) in [(70, 30), (60, 20), (120, 40), (100, 30), (40, 12)] {
        tmux.resize(columns, rows);
        // latchkey redraws asynchronously: wait until the screen is right, or report how it
        // is wrong.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while let Err(problem) = check_layout(&tmux, columns, rows) {
            assert!(
                std::time::Instant::now() < deadline,
                "{columns}x{rows}: {problem}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    tmux.send_key("C-c");
    tmux.wait_for_exit(130);
}

#[test]
fn ctrl_d_at_the_paste_prompt_cancels_the_login_and_nothing_reaches_the_shell() {
    let world = World::for_idp(Idp::shared(), "");
    let tmux = Tmux::new("keys-ctrl-d");
    tmux.start_shell(&world, "", 100, 30);
    tmux.run_latchkey("login --no-browser");
    tmux.wait_for("the prompt", |s| s.contains(PROMPT));
    tmux.send_key("C-d");
    let screen = tmux.wait_for("the exit status", |s| {
        s.lines().any(|l| l.starts_with("EXIT="))
    });
    assert!(screen.contains("EXIT=8"), "{screen}");
    let error = screen
        .lines()
        .find(|l| l.contains("cancelled with Ctrl-D"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(
        error.starts_with("error:"),
        "the error starts its own line: {error:?}"
    );
    assert!(!world.token_file().exists());
    assert!(terminal_is_sane(&tmux.stty(&world)));
}

#[test]
fn what_was_typed_when_the_browser_finished_is_dropped_not_left_for_the_shell() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let tmux = Tmux::new("keys-strand");
    tmux.start_shell(&world, "", 100, 30);
    tmux.run_latchkey("login --no-browser");
    let screen = tmux.wait_for("the prompt", |s| s.contains(PROMPT));
    let url = authorize_url(&screen, idp);
    // Half a paste, then the loopback finishes the login.
    tmux.send_literal("echo STRANDED-CODE");
    tmux.wait_for("the echo", |s| s.contains("STRANDED-CODE"));
    let redirect = approve(&url, idp, &[]);
    deliver_redirect(idp, &redirect);
    tmux.wait_for("the exit status", |s| s.contains("EXIT=0"));
    tmux.send_key("Enter");
    std::thread::sleep(Duration::from_millis(500));
    let screen = tmux.screen();
    let after = &screen[screen.find("EXIT=0").unwrap()..];
    assert!(
        !after.contains("STRANDED-CODE"),
        "typed text reached the shell:\n{screen}"
    );
}

#[test]
fn an_error_after_a_timeout_starts_on_its_own_line_in_colour() {
    let world = World::for_idp(Idp::shared(), "");
    let tmux = Tmux::new("keys-timeout");
    tmux.start_latchkey(&world, "login --no-loopback --no-browser --timeout 2", "");
    tmux.wait_for("the prompt", |s| s.contains(PROMPT));
    tmux.send_literal("abc");
    let screen = tmux.wait_for_exit(8);
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("the login timed out"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(
        lines[at].starts_with("error: the login timed out"),
        "{screen}"
    );
    assert!(lines[at - 1].contains(&format!("{PROMPT} abc")), "{screen}");
    let coloured = tmux.rows_with_colours();
    assert!(
        coloured
            .iter()
            .any(|r| r.contains("31merror:") && r.contains("timed out")),
        "{coloured:#?}"
    );
}

#[test]
fn ctrl_c_during_a_device_login_clears_the_spinner_and_is_coloured() {
    let world = World::for_idp(Idp::shared(), "");
    let tmux = Tmux::new("keys-device-c");
    tmux.start_latchkey(&world, "login --device --no-qr --timeout 30", "");
    tmux.wait_for("the spinner", |s| {
        s.contains("Waiting for the code to be confirmed")
    });
    tmux.send_key("C-c");
    let screen = tmux.wait_for_exit(130);
    assert!(
        !screen.contains("Waiting for the code to be confirmed"),
        "{screen}"
    );
    let coloured = tmux.rows_with_colours();
    assert!(
        coloured
            .iter()
            .any(|r| r.contains("31merror:") && r.contains("interrupted")),
        "{coloured:#?}"
    );
}

#[test]
fn a_passphrase_stays_hidden_across_ctrl_z_and_fg() {
    let world = passphrase_world();
    let tmux = Tmux::new("keys-pass-fg");
    tmux.start_shell(&world, "", 100, 30);
    tmux.type_command(&tmux.latchkey_in_shell("login --no-browser"));
    tmux.wait_for("the passphrase prompt", |s| s.contains("New passphrase"));
    tmux.send_literal("before-stop");
    tmux.send_key("C-z");
    tmux.wait_for("the shell's job report", |s| s.contains("Stopped"));
    assert!(terminal_is_sane(&tmux.stty(&world)));
    tmux.send_literal("fg");
    tmux.send_key("Enter");
    tmux.wait_for("the prompt asked again", |s| {
        s.matches("New passphrase").count() == 2
    });
    let stty = tmux.stty_of_running(&world);
    assert!(
        stty.split_whitespace().any(|w| w == "-echo"),
        "echo is off again after fg:\n{stty}"
    );
    tmux.send_literal("after-fg-secret");
    tmux.send_key("Enter");
    tmux.wait_for("the second prompt", |s| s.contains("Repeat the passphrase"));
    tmux.send_literal("after-fg-secret");
    tmux.send_key("Enter");
    tmux.wait_for("the login prompt", |s| s.contains(PROMPT));
    let screen = tmux.screen();
    assert!(
        !screen.contains("after-fg-secret") && !screen.contains("before-stop"),
        "the passphrase showed:\n{screen}"
    );
    tmux.send_key("C-c");
    // Ended by Ctrl-C, the command list stops there, as for any command in bash.
    tmux.wait_for("the interruption", |s| s.contains("error: interrupted"));
}

#[test]
fn ctrl_c_at_a_passphrase_prompt_exits_130_with_echo_back_on_even_under_dash() {
    let world = passphrase_world();
    let tmux = Tmux::new("keys-pass-c");
    let stty = world.home().join("stty-after.txt");
    // dash repairs nothing: what latchkey leaves is what the next command gets.
    let script = world.write_file(
        "run.sh",
        &format!(
            "trap : INT\n{}\necho EXIT=$?\nstty -a > '{}'\nsleep 60\n",
            tmux.latchkey_command_line(&world, "login --no-browser", ""),
            stty.display()
        ),
    );
    tmux.start(&format!("dash '{}'", script.display()));
    tmux.wait_for("the passphrase prompt", |s| s.contains("New passphrase"));
    tmux.send_literal("half");
    tmux.send_key("C-c");
    let screen = tmux.wait_for_exit(130);
    assert!(screen.contains("error: interrupted"), "{screen}");
    assert!(!screen.contains("half"), "{screen}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        if let Ok(text) = std::fs::read_to_string(&stty)
            && text.contains("speed")
        {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "no stty output");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(terminal_is_sane(&text), "{text}");
    assert!(!world.store_dir().join("identity.txt").exists());
}

#[test]
fn passphrase_typos_are_asked_again_three_times() {
    let idp = Idp::shared();
    let world = passphrase_world();
    world.set_env("LATCHKEY_PASSPHRASE", PASSPHRASE);
    support::paste_login(&world, idp).expect(0);

    let tmux = Tmux::new("keys-pass-typo");
    tmux.start_latchkey(&world, "token", "NO_COLOR=1");
    tmux.wait_for("the prompt", |s| {
        s.contains("Passphrase for profile `local`")
    });
    tmux.send_literal("mistyped");
    tmux.send_key("Enter");
    tmux.wait_for("the retry", |s| {
        s.contains("That passphrase does not open the tokens. Try again.")
    });
    tmux.send_key("Enter");
    tmux.wait_for("the empty retry", |s| s.contains("Nothing was typed"));
    tmux.send_literal(PASSPHRASE);
    tmux.send_key("Enter");
    let screen = tmux.wait_for_exit(0);
    assert!(!screen.contains("mistyped"), "{screen}");

    let tmux = Tmux::new("keys-pass-three");
    tmux.start_latchkey(&world, "token", "NO_COLOR=1");
    for _ in 0..3 {
        tmux.wait_for("a prompt", |s| s.contains("Passphrase for profile"));
        tmux.send_literal("wrong");
        tmux.send_key("Enter");
    }
    let screen = tmux.wait_for_exit(7);
    assert!(
        screen.contains("wrong passphrase for profile `local`'s tokens (3 tries)"),
        "{screen}"
    );
    assert!(screen.contains("probably mistyped"), "{screen}");
    assert!(!screen.contains("damaged"), "{screen}");
}

#[test]
fn invalid_utf8_and_mismatches_at_the_passphrase_prompts_are_asked_again() {
    let world = passphrase_world();
    let tmux = Tmux::new("keys-pass-utf8");
    tmux.start_latchkey(&world, "login --no-browser", "NO_COLOR=1");
    tmux.wait_for("the prompt", |s| s.contains("New passphrase"));
    tmux.send_bytes(&[0xff, 0xfe, b'\r']);
    tmux.wait_for("the retry", |s| s.contains("not valid UTF-8. Try again."));
    tmux.send_literal("one passphrase");
    tmux.send_key("Enter");
    tmux.wait_for("the repeat", |s| s.contains("Repeat the passphrase"));
    tmux.send_literal("another passphrase");
    tmux.send_key("Enter");
    tmux.wait_for("the mismatch", |s| {
        s.contains("The passphrases do not match. Try again.")
    });
    tmux.send_literal(PASSPHRASE);
    tmux.send_key("Enter");
    tmux.wait_for("the repeat", |s| {
        s.matches("Repeat the passphrase").count() == 2
    });
    tmux.send_literal(PASSPHRASE);
    tmux.send_key("Enter");
    tmux.wait_for("the login prompt", |s| s.contains(PROMPT));
    tmux.send_key("C-c");
    tmux.wait_for_exit(130);
}

#[test]
fn a_device_login_fits_80x24_with_its_text_still_on_screen() {
    let world = World::for_idp(Idp::shared(), "");
    let tmux = Tmux::new("keys-device-24");
    tmux.start_latchkey_sized(&world, "login --device --timeout 30", "", 80, 24);
    let screen = tmux.wait_for("the spinner", |s| {
        s.contains("Waiting for the code to be confirmed")
    });
    let rows = tmux.rows();
    assert!(
        rows[0].starts_with("Log in to profile `local`"),
        "the header scrolled away:\n{screen}"
    );
    assert!(
        screen.contains("Check that the page shows the code"),
        "{screen}"
    );
    let qr_rows = rows.iter().filter(|r| r.contains('▀')).count();
    assert!(qr_rows >= 10, "no QR code drawn:\n{screen}");
    tmux.send_key("C-c");
    tmux.wait_for_exit(130);
}

#[test]
fn a_slow_code_exchange_shows_a_spinner() {
    let idp = Idp::start(&[]);
    let world = World::for_idp(&idp, "");
    let tmux = Tmux::new("keys-exchange");
    tmux.start_latchkey(&world, "login --no-loopback --no-browser", "NO_COLOR=1");
    let screen = tmux.wait_for("the prompt", |s| s.contains(PROMPT));
    let url = authorize_url(&screen, &idp);
    let redirect = approve(&url, &idp, &[]);
    let answer = idp.post_json(
        "/__test/fault",
        serde_json::json!({ "endpoint": "token", "kind": "delay", "count": 1, "delay_ms": 3000 }),
    );
    assert_eq!(answer["ok"], true, "{answer}");
    tmux.send_literal(&redirect);
    tmux.send_key("Enter");
    tmux.wait_for("the exchange spinner", |s| {
        s.contains("Exchanging the code for tokens…")
    });
    let screen = tmux.wait_for_exit(0);
    assert!(
        !screen.contains("Exchanging the code"),
        "not cleared:\n{screen}"
    );
}

#[test]
fn a_refused_browser_response_is_said_above_the_prompt_which_keeps_what_was_typed() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let tmux = Tmux::new("keys-refused");
    tmux.start_latchkey(&world, "login --no-browser", "NO_COLOR=1");
    let screen = tmux.wait_for("the prompt", |s| s.contains(PROMPT));
    let url = authorize_url(&screen, idp);
    tmux.send_literal("half");
    tmux.wait_for("the echo", |s| s.contains(&format!("{PROMPT} half")));
    let redirect = approve(&url, idp, &[]);
    let forged = redirect.replace("state=", "state=x");
    let (status, _) = support::loopback_get(idp, &forged);
    assert_eq!(status, 400);
    let screen = tmux.wait_for("the refusal", |s| {
        s.contains("The browser brought back a response latchkey refused")
    });
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("latchkey refused"))
        .unwrap();
    assert!(
        lines[at + 1..]
            .iter()
            .any(|l| l.contains(&format!("{PROMPT} half"))),
        "the prompt is drawn again below the line:\n{screen}"
    );
    assert_eq!(screen.matches(PROMPT).count(), 1, "{screen}");
    deliver_redirect(idp, &redirect);
    tmux.wait_for_exit(0);
}
