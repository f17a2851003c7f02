//! A real terminal for the tests of what a person sees: tmux runs latchkey in a test's world,
//! `send-keys` types and pastes, `capture-pane` reads the screen.

use super::{Idp, World};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own (its own socket), killed when the test ends.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A server named after the test and this process, so parallel tests never share one;
    /// tmux is required, never skipped.
    pub fn new(name: &str) -> Tmux {
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

    /// Runs a tmux command on this server, which must succeed: its stdout.
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
    pub fn start(&self, command: &str) {
        self.start_sized(command, 100, 30);
    }

    /// Starts `command` in a window of `columns` x `rows`.
    pub fn start_sized(&self, command: &str, columns: u16, rows: u16) {
        self.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &columns.to_string(),
            "-y",
            &rows.to_string(),
            command,
        ]);
    }

    /// Starts `latchkey ARGS` in `world` (with `extra_env`, `NAME=value` words), then shows its
    /// exit status as `EXIT=N`: the one way the terminal tests run latchkey.
    pub fn start_latchkey(&self, world: &World, args: &str, extra_env: &str) {
        self.start(&latchkey_command(world, args, extra_env));
    }

    /// Like [`Tmux::start_latchkey`], in a window of `columns` x `rows`.
    pub fn start_latchkey_sized(
        &self,
        world: &World,
        args: &str,
        extra_env: &str,
        columns: u16,
        rows: u16,
    ) {
        self.start_sized(&latchkey_command(world, args, extra_env), columns, rows);
    }

    /// The screen, wrapped lines joined.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "t"])
    }

    /// The screen as rows with their colours: SGR escape sequences as tmux keeps them.
    pub fn rows_with_colours(&self) -> Vec<String> {
        self.tmux(&["capture-pane", "-p", "-e", "-t", "t"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Resizes the window, as a person dragging a split or the terminal's edge would.
    pub fn resize(&self, columns: u16, rows: u16) {
        self.tmux(&[
            "resize-window",
            "-t",
            "t",
            "-x",
            &columns.to_string(),
            "-y",
            &rows.to_string(),
        ]);
    }

    /// The screen as rows, exactly as displayed.
    pub fn rows(&self) -> Vec<String> {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Polls the screen until `pred` holds (20 s at most): latchkey draws asynchronously.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
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

    /// Waits for latchkey to end and checks that it exited with `code`: the screen then.
    pub fn wait_for_exit(&self, code: i32) -> String {
        let screen = self.wait_for("the exit status", |s| s.contains("EXIT="));
        assert!(screen.contains(&format!("EXIT={code}")), "{screen}");
        screen
    }

    /// Types `text` as it is, as a paste would.
    pub fn send_literal(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Presses a key by tmux's name for it (`Enter`, `C-c`).
    pub fn send_key(&self, key: &str) {
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

/// `s` as one word for `sh`, whatever it holds.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The command line tmux runs: latchkey in the test's isolated world, then its exit status.
fn latchkey_command(world: &World, args: &str, extra_env: &str) -> String {
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

/// The authorize URL for `idp` on the screen (it stands on a line of its own).
pub fn authorize_url(screen: &str, idp: &Idp) -> String {
    let prefix = format!("{}/auth?", idp.issuer);
    screen
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no authorize URL on screen:\n{screen}"))
        .to_owned()
}
