//! The login as a person sees it in a real terminal: tmux runs latchkey, `send-keys` pastes,
//! `capture-pane` reads the screen. The spinner must not garble what is being pasted.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Idp, World, browser};

/// A tmux server of its own (its own socket), killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        let available = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            available,
            "tmux is required for the terminal tests: apt-get install tmux (.ci/run installs it)"
        );
        Tmux {
            socket: format!("latchkey-{name}-{}", std::process::id()),
        }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `command` in a 100x30 window; the shell stays to show the exit status.
    fn start(&self, command: &str) {
        self.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "100",
            "-y",
            "30",
            command,
        ]);
    }

    /// The screen, wrapped lines joined.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "t"])
    }

    /// The screen as rows, exactly as displayed.
    fn rows(&self) -> Vec<String> {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn send_literal(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    fn send_key(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "t", key]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The command line tmux runs: latchkey in the test's isolated world, then its exit status.
fn login_command(world: &World, args: &str, extra_env: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_latchkey");
    let home = |p: &Path| shell_quote(&p.display().to_string());
    format!(
        "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={} XDG_CONFIG_HOME={} XDG_DATA_HOME={} {extra_env} {} {args}; echo EXIT=$?; sleep 60",
        home(&world.home()),
        home(&world.config_home()),
        home(&world.data_home()),
        shell_quote(bin)
    )
}

fn authorize_url(screen: &str, idp: &Idp) -> String {
    let prefix = format!("{}/auth?", idp.issuer);
    screen
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no authorize URL on screen:\n{screen}"))
        .to_owned()
}

#[test]
fn pasting_under_the_spinner_is_not_garbled() {
    let idp = Idp::shared();
    let world = World::new();
    world.write_profiles(&idp.profile_toml(""));
    let tmux = Tmux::new("paste");
    tmux.start(&login_command(
        &world,
        "login --no-loopback --no-browser",
        "NO_COLOR=1",
    ));
    let screen = tmux.wait_for("the prompt and the spinner", |s| {
        s.contains("Paste the redirect URL or code here:") && s.contains("left")
    });
    let url = authorize_url(&screen, idp);
    let out = browser(&["login", &url, "--print"], None);
    assert!(out.status.success());
    let redirect = String::from_utf8(out.stdout).unwrap().trim().to_owned();
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
    let screen = tmux.wait_for("the exit status", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.contains("Logged in as alice@example.com"),
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
    let world = World::new();
    world.write_profiles(&idp.profile_toml(""));
    let tmux = Tmux::new("junk");
    tmux.start(&login_command(
        &world,
        "login --no-loopback --no-browser",
        "",
    ));
    let screen = tmux.wait_for("the prompt", |s| {
        s.contains("Paste the redirect URL or code here:")
    });
    let url = authorize_url(&screen, idp);
    tmux.send_literal("this is not a code");
    tmux.send_key("Enter");
    tmux.wait_for("the rejection", |s| {
        s.contains("not accepted") && s.matches("Paste the redirect URL or code here:").count() == 2
    });
    let out = browser(&["login", &url, "--print"], None);
    let redirect = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    tmux.send_literal(&redirect);
    tmux.send_key("Enter");
    let screen = tmux.wait_for("the exit status", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
}

#[test]
fn ctrl_c_exits_130_restores_the_terminal_and_stores_nothing() {
    let idp = Idp::shared();
    let world = World::new();
    world.write_profiles(&idp.profile_toml(""));
    let tmux = Tmux::new("ctrlc");
    tmux.start(&login_command(&world, "login --no-browser", ""));
    tmux.wait_for("the spinner", |s| s.contains("left"));
    tmux.send_key("C-c");
    let screen = tmux.wait_for("the exit status", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=130"), "{screen}");
    assert!(
        screen.contains("interrupted; nothing was stored"),
        "{screen}"
    );
    assert!(!world.data_home().join("latchkey/tokens/local.age").exists());
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
    let idp = Idp::shared();
    let world = World::new();
    world.write_profiles(&idp.profile_toml(""));
    let tmux = Tmux::new("qr");
    tmux.start(&login_command(&world, "login --device --timeout 20", ""));
    let screen = tmux.wait_for("the QR code", |s| {
        s.contains("Check that the page shows the code") && s.contains("████")
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

    let plain = Tmux::new("noqr");
    plain.start(&login_command(
        &world,
        "login --device --no-qr --timeout 20",
        "",
    ));
    let screen = plain.wait_for("the code", |s| {
        s.contains("Check that the page shows the code")
    });
    assert!(!screen.contains('█'), "--no-qr draws none:\n{screen}");
}
