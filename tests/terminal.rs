//! The login as a person sees it in a real terminal: tmux runs latchkey, `send-keys` pastes,
//! `capture-pane` reads the screen. The spinner must not garble what is being pasted.

use crate::support::tmux::{Tmux, authorize_url};
use crate::support::{Idp, World, approve};
use std::time::Duration;

/// `latchkey ARGS` in a world with a profile for the shared provider, running in a tmux of its
/// own (`name` tells the servers apart): where every terminal test starts. Keep the world alive
/// as long as the terminal.
fn in_tmux(name: &str, args: &str, extra_env: &str) -> (World, Tmux) {
    let world = World::for_idp(Idp::shared(), "");
    let tmux = Tmux::new(name);
    tmux.start_latchkey(&world, args, extra_env);
    (world, tmux)
}

#[test]
fn pasting_under_the_spinner_is_not_garbled() {
    let idp = Idp::shared();
    let (_world, tmux) = in_tmux("paste", "login --no-loopback --no-browser", "NO_COLOR=1");
    let screen = tmux.wait_for("the prompt and the spinner", |s| {
        s.contains("Paste the redirect URL or code here:") && s.contains("left")
    });
    let url = authorize_url(&screen, idp);
    let redirect = approve(&url, idp, &[]);
    assert!(
        redirect.len() > 100,
        "the redirect URL wraps at 100 columns: {redirect}"
    );

    tmux.send_literal(&redirect);
    // Let the spinner redraw several times over the pasted, wrapped text.
    std::thread::sleep(Duration::from_millis(1500));
    let screen = tmux.screen();
    assert!(
        screen.contains(&format!("Paste the redirect URL or code here: {redirect}")),
        "the pasted URL is not intact on screen:\n{screen}"
    );
    let rows = tmux.rows();
    let status = rows.last().unwrap();
    assert!(
        status.contains("Waiting for a pasted code or redirect URL") && status.contains("left"),
        "spinner row: {status:?}\n{rows:#?}"
    );

    tmux.send_key("Enter");
    let screen = tmux.wait_for_exit(0);
    assert!(
        screen.contains("Logged in as Alice Liddell (alice@example.com)"),
        "{screen}"
    );
    assert!(
        !screen.contains("Waiting for a pasted"),
        "the spinner was not cleared:\n{screen}"
    );
}

#[test]
fn a_bad_paste_is_refused_and_the_prompt_comes_back() {
    let idp = Idp::shared();
    let (_world, tmux) = in_tmux("junk", "login --no-loopback --no-browser", "");
    let screen = tmux.wait_for("the prompt", |s| {
        s.contains("Paste the redirect URL or code here:")
    });
    let url = authorize_url(&screen, idp);
    tmux.send_literal("this is not a code");
    tmux.send_key("Enter");
    tmux.wait_for("the rejection", |s| {
        s.contains("not accepted") && s.matches("Paste the redirect URL or code here:").count() == 2
    });
    let redirect = approve(&url, idp, &[]);
    tmux.send_literal(&redirect);
    tmux.send_key("Enter");
    tmux.wait_for_exit(0);
}

#[test]
fn ctrl_c_exits_130_restores_the_terminal_and_stores_nothing() {
    let (world, tmux) = in_tmux("ctrlc", "login --no-browser", "");
    tmux.wait_for("the spinner", |s| s.contains("left"));
    tmux.send_key("C-c");
    let screen = tmux.wait_for_exit(130);
    assert!(
        screen.contains("interrupted; nothing was stored"),
        "{screen}"
    );
    assert!(!world.token_file().exists());
    // The scroll region is gone: output reaches the last row again.
    tmux.send_literal("");
    let rows = tmux.rows();
    assert!(
        !rows.last().unwrap().contains("left"),
        "stale spinner row: {rows:#?}"
    );
}

#[test]
fn device_login_draws_a_qr_code_that_fits_80_columns() {
    let (_world, tmux) = in_tmux("qr", "login --device --timeout 20", "");
    let screen = tmux.wait_for("the QR code", |s| {
        // With colour, every cell is an upper half block painted black or white.
        s.contains("Check that the page shows the code") && s.contains("▀▀▀▀")
    });
    let qr_rows: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains('█') || l.contains('▀') || l.contains('▄'))
        .collect();
    assert!(qr_rows.len() >= 10, "{screen}");
    assert!(qr_rows.iter().all(|r| r.chars().count() <= 80), "{screen}");
    tmux.wait_for("the spinner", |s| {
        s.contains("Waiting for the code to be confirmed")
    });

    // A world of its own: a second login of the same profile would be refused while the
    // first one runs.
    let (_world, plain) = in_tmux("noqr", "login --device --no-qr --timeout 20", "");
    let screen = plain.wait_for("the code", |s| {
        s.contains("Check that the page shows the code")
    });
    assert!(
        !screen.contains('█') && !screen.contains('▀'),
        "--no-qr draws none:\n{screen}"
    );
}
