//! The "waiting" indicator: an indicatif spinner with the time left, only when stderr is a
//! terminal. While the user may be typing a paste, it lives on a reserved bottom status line
//! (a scroll region, as apt draws its progress), so redraws never touch what is being typed.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use std::io::Write;
use std::time::Duration;

/// How the spinner is drawn.
pub enum Mode {
    /// stderr is not a terminal: nothing is drawn.
    Hidden,
    /// A normal spinner on the current stderr line (nobody is typing).
    Inline,
    /// A spinner on the terminal's last line, below a scroll region the user types in.
    StatusLine,
}

pub struct Spinner {
    bar: ProgressBar,
    status_line: Option<u16>,
}

impl Spinner {
    pub fn start(mode: Mode, message: String) -> Spinner {
        // `wide_msg` is cut to the terminal's width: a line wider than the terminal would wrap,
        // and indicatif then draws nothing at all on a one-line target.
        let style = ProgressStyle::with_template("{spinner} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ");
        let (bar, status_line) = match mode {
            Mode::Hidden => (ProgressBar::hidden(), None),
            Mode::Inline => (
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                None,
            ),
            Mode::StatusLine => {
                let (rows, cols) = console::Term::stderr().size();
                if rows < 3 {
                    (
                        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                        None,
                    )
                } else {
                    reserve_bottom_line(rows);
                    let target = ProgressDrawTarget::term_like_with_hz(
                        Box::new(BottomLine::new(rows, cols)),
                        10,
                    );
                    (ProgressBar::with_draw_target(None, target), Some(rows))
                }
            }
        };
        bar.set_style(style);
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner { bar, status_line }
    }

    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Removes the spinner and gives the terminal back as it was.
    pub fn finish(self) {
        self.bar.finish_and_clear();
        if let Some(rows) = self.status_line {
            release_bottom_line(rows);
        }
    }
}

/// The escape sequences that undo the status line, also used by the Ctrl-C handler.
pub fn release_sequence(rows: u16) -> String {
    // Save cursor, reset the scroll region (which homes the cursor), clear the status line,
    // restore the cursor.
    format!("\x1b7\x1b[r\x1b[{rows};1H\x1b[2K\x1b8")
}

fn reserve_bottom_line(rows: u16) {
    let mut err = std::io::stderr().lock();
    // A newline then up again guarantees the cursor is not on the last line, which is about
    // to leave the scroll region; then set the region (this homes the cursor, hence save and
    // restore around it).
    let _ = write!(err, "\n\x1b[1A\x1b7\x1b[1;{}r\x1b8", rows - 1);
    let _ = err.flush();
    crate::terminal::interrupt::set_terminal_cleanup(Some(release_sequence(rows)));
}

fn release_bottom_line(rows: u16) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(release_sequence(rows).as_bytes());
    let _ = err.flush();
    crate::terminal::interrupt::set_terminal_cleanup(None);
}

/// An indicatif draw target that paints one line at the bottom row and puts the cursor back
/// where the user left it.
#[derive(Debug)]
struct BottomLine {
    rows: u16,
    cols: u16,
    line: std::sync::Mutex<String>,
}

impl BottomLine {
    fn new(rows: u16, cols: u16) -> BottomLine {
        BottomLine {
            rows,
            cols,
            line: std::sync::Mutex::new(String::new()),
        }
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, String> {
        self.line
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl TermLike for BottomLine {
    fn width(&self) -> u16 {
        self.cols
    }

    fn height(&self) -> u16 {
        1
    }

    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.buffer()
            .extend(s.chars().filter(|c| *c != '\r' && *c != '\n'));
        Ok(())
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.buffer().clear();
        Ok(())
    }

    fn flush(&self) -> std::io::Result<()> {
        let text = std::mem::take(&mut *self.buffer());
        let mut err = std::io::stderr().lock();
        write!(err, "\x1b7\x1b[{};1H\x1b[2K{text}\x1b8", self.rows)?;
        err.flush()
    }
}
