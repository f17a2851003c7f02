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

    /// Starts an interactive bash (job control on, no rc files) in `world`, `columns` x
    /// `rows`, where [`Tmux::run_latchkey`] types commands as a person would: for Ctrl-Z and
    /// `fg`, and for what reaches the shell after latchkey ends.
    pub fn start_shell(&self, world: &World, extra_env: &str, columns: u16, rows: u16) {
        let home = |p: &Path| shell_quote(&p.display().to_string());
        let command = format!(
            "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={} XDG_CONFIG_HOME={} XDG_DATA_HOME={} PS1='$ ' {extra_env} bash --norc --noprofile -i",
            home(&world.home()),
            home(&world.config_home()),
            home(&world.data_home()),
        );
        self.start_sized(&command, columns, rows);
        self.wait_for("the shell prompt", |s| s.contains("$ "));
    }

    /// Types `latchkey ARGS` at the shell started by [`Tmux::start_shell`], then its exit
    /// status as `EXIT=N` once it ends.
    pub fn run_latchkey(&self, args: &str) {
        self.type_command(&format!("{}; echo EXIT=$?", self.latchkey_in_shell(args)));
    }

    /// The command line for `latchkey ARGS` at the shell (its environment is the shell's).
    pub fn latchkey_in_shell(&self, args: &str) -> String {
        format!("{} {args}", shell_quote(env!("CARGO_BIN_EXE_latchkey")))
    }

    /// Types a command line and Enter.
    pub fn type_command(&self, line: &str) {
        self.send_literal(line);
        self.send_key("Enter");
    }

    /// The terminal's settings now, as `stty -a` prints them, read by a command typed at the
    /// shell (into `world`'s home, so the screen is left as it was).
    pub fn stty(&self, world: &World) -> String {
        let file = world.home().join("stty.txt");
        let _ = std::fs::remove_file(&file);
        self.send_literal(&format!(
            "stty -a > {} 2>&1",
            shell_quote(&file.display().to_string())
        ));
        self.send_key("Enter");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(&file)
                && text.contains("speed")
            {
                return text;
            }
            assert!(Instant::now() < deadline, "stty -a wrote nothing");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pane's terminal settings as `stty -a` prints them, read from outside: what the
    /// program in the foreground has set.
    pub fn stty_of_running(&self, _world: &World) -> String {
        let tty = self.tmux(&["display-message", "-p", "-t", "t", "#{pane_tty}"]);
        let out = Command::new("stty")
            .args(["-a", "-F", tty.trim()])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The command line that runs `latchkey ARGS` in `world`, for a test that wraps it.
    pub fn latchkey_command_line(&self, world: &World, args: &str, extra_env: &str) -> String {
        let full = latchkey_command(world, args, extra_env);
        let command = full.split("; echo EXIT").next().unwrap_or(&full);
        command.trim_start_matches("trap : INT; ").to_owned()
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

    /// Sends raw bytes, as a terminal would pass them on (e.g. invalid UTF-8).
    pub fn send_bytes(&self, bytes: &[u8]) {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut args = vec!["send-keys", "-t", "t", "-H"];
        args.extend(hex.iter().map(String::as_str));
        self.tmux(&args);
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

/// Whether `stty -a` output shows the settings a shell expects back: echo and line editing on.
pub fn terminal_is_sane(stty: &str) -> bool {
    let words: Vec<&str> = stty
        .split(|c: char| c.is_whitespace() || c == ';')
        .collect();
    ["echo", "icanon", "isig"]
        .iter()
        .all(|flag| words.contains(flag))
}

/// `s` as one word for `sh`, whatever it holds.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The command line tmux runs: latchkey in the test's isolated world, then its exit status.
/// The shell traps Ctrl-C so it goes on to print the status when latchkey ends by it (a shell
/// without the trap stops its script there, as it should).
fn latchkey_command(world: &World, args: &str, extra_env: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_latchkey");
    let home = |p: &Path| shell_quote(&p.display().to_string());
    format!(
        "trap : INT; env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={} XDG_CONFIG_HOME={} XDG_DATA_HOME={} {extra_env} {} {args}; echo EXIT=$?; sleep 60",
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
