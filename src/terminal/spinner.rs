//! The "waiting" indicator: an indicatif spinner with the time left, only when stderr is a
//! terminal. While the user may be typing a paste, it lives on a reserved bottom status line
//! (a scroll region, as apt draws its progress), so redraws never touch what is being typed.

use crate::terminal::screen::{self, Geometry};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// How the spinner is drawn.
pub enum Mode {
    /// stderr is not a terminal: nothing is drawn.
    Hidden,
    /// A normal spinner on the current stderr line (nobody is typing).
    Inline,
    /// A spinner on the terminal's last line, below a scroll region the user types in (none
    /// on a terminal under three rows).
    StatusLine,
}

impl Mode {
    /// The mode for a wait on stderr: nothing unless it is a terminal that can move its cursor
    /// (not `TERM=dumb`); on the status line when someone may be `typing` meanwhile.
    pub fn for_wait(typing: bool) -> Mode {
        if !crate::terminal::style::stderr_can_draw() {
            Mode::Hidden
        } else if typing {
            Mode::StatusLine
        } else {
            Mode::Inline
        }
    }
}

pub struct Spinner {
    bar: ProgressBar,
    /// For a delayed spinner: set once it is finished, so a late start never draws it.
    finished: Option<Arc<std::sync::Mutex<bool>>>,
}

impl Spinner {
    pub fn start(mode: Mode, message: String) -> Spinner {
        // `wide_msg` is cut to the terminal's width: a line wider than the terminal would wrap,
        // and indicatif then draws nothing at all on a one-line target.
        let style = ProgressStyle::with_template("{spinner} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ");
        let bar = match mode {
            Mode::Hidden => ProgressBar::hidden(),
            Mode::Inline => {
                let bar = ProgressBar::with_draw_target(None, screen::inline_target());
                screen::hold_inline(&bar);
                bar
            }
            Mode::StatusLine => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
                // Too small a terminal for a status line: no spinner, rather than one drawn
                // over the prompt.
                if let Some(geometry) = screen::hold_status_line(&bar) {
                    bar.set_draw_target(ProgressDrawTarget::term_like_with_hz(
                        Box::new(BottomLine::new(geometry)),
                        10,
                    ));
                }
                bar
            }
        };
        bar.set_style(style);
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner {
            bar,
            finished: None,
        }
    }

    /// An inline spinner that appears only if it is still needed after `delay`, so a wait that
    /// is usually short draws nothing at all.
    pub fn start_delayed(mode: Mode, message: String, delay: Duration) -> Spinner {
        if !matches!(mode, Mode::Inline) {
            return Spinner::start(mode, message);
        }
        let mut spinner = Spinner::start(Mode::Hidden, message);
        let finished = Arc::new(std::sync::Mutex::new(false));
        spinner.finished = Some(finished.clone());
        let bar = spinner.bar.downgrade();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let finished = finished.lock().unwrap_or_else(|p| p.into_inner());
            if let (false, Some(bar)) = (*finished, bar.upgrade()) {
                bar.set_draw_target(screen::inline_target());
                screen::hold_inline(&bar);
            }
        });
        spinner
    }

    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Prints a line on stderr without the spinner drawing through it.
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Removes the spinner and gives the terminal back as it was.
    pub fn finish(self) {
        let finished = self
            .finished
            .as_ref()
            .map(|f| f.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(mut finished) = finished {
            *finished = true;
        }
        self.bar.finish_and_clear();
        screen::release_spinner();
    }
}

/// An indicatif draw target that paints one line at the bottom row and puts the cursor back
/// where the user left it.
/// Its size follows resizes, and it draws nothing while the terminal is given back (Ctrl-Z).
#[derive(Debug)]
struct BottomLine {
    geometry: Arc<Geometry>,
    line: std::sync::Mutex<String>,
}

impl BottomLine {
    fn new(geometry: Arc<Geometry>) -> BottomLine {
        BottomLine {
            geometry,
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
        // One column spare: the cursor never waits to wrap on the last row.
        self.geometry.columns().saturating_sub(1).max(1)
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
        // Checked under stderr's lock: Ctrl-Z hides the line before it writes the sequence that
        // clears it, so a draw lands either before that sequence or not at all.
        if self.geometry.hidden() {
            return Ok(());
        }
        // Between a resize and its redraw, a line drawn for the old size could wrap on the
        // last row and scroll the screen under the prompt: draw nothing until they agree, and
        // draw with auto-wrap off, since a resize may still land while the bytes are in flight.
        let (rows, columns) = (self.geometry.rows(), self.geometry.columns());
        if crate::terminal::tty::size() != Some((rows, columns)) {
            return Ok(());
        }
        write!(err, "\x1b7\x1b[?7l\x1b[{rows};1H\x1b[2K{text}\x1b[?7h\x1b8")?;
        err.flush()
    }
}
