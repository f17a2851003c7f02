//! Terminal output: whether stderr is a terminal, and colour only when it is one that draws
//! (not `TERM=dumb`) and NO_COLOR is unset.

use std::io::IsTerminal;

/// Styling decided once per stream.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Colour on stderr only for a terminal that draws, and never with NO_COLOR set
    /// (https://no-color.org).
    pub fn for_stderr() -> Style {
        Style {
            color: stderr_can_draw() && !no_color(),
        }
    }

    /// Colour on stdout only for a terminal that draws, and never with NO_COLOR set.
    pub fn for_stdout() -> Style {
        Style {
            color: std::io::stdout().is_terminal()
                && !dumb_terminal()
                && escapes_work(Stream::Stdout)
                && !no_color(),
        }
    }

    /// Whether this stream gets colour (and other SGR attributes) at all.
    pub fn colour(&self) -> bool {
        self.color
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn error(&self, text: &str) -> String {
        self.paint("1;31", text)
    }

    pub fn ok(&self, text: &str) -> String {
        self.paint("1;32", text)
    }

    pub fn hint(&self, text: &str) -> String {
        self.paint("1;33", text)
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
}

pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// stderr is a terminal that understands escape sequences (cursor movement, colour): the
/// condition for a spinner, a status line and a prompt latchkey redraws itself.
pub fn stderr_can_draw() -> bool {
    stderr_is_terminal() && !dumb_terminal() && escapes_work(Stream::Stderr)
}

/// The terminal streams latchkey draws on.
#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Whether escape sequences on a terminal stream act rather than print. A Windows console acts
/// on them only with virtual terminal processing on, which latchkey turns on (Windows 10 and
/// later can); where the console refuses, latchkey writes plain text: no colour, no spinner, no
/// redrawn prompt. Unix terminals act on them whenever TERM is not `dumb`.
#[cfg(not(windows))]
fn escapes_work(_stream: Stream) -> bool {
    true
}

#[cfg(windows)]
fn escapes_work(stream: Stream) -> bool {
    use std::sync::OnceLock;
    use windows_sys::Win32::System::Console::{STD_ERROR_HANDLE, STD_OUTPUT_HANDLE};
    static STDOUT: OnceLock<bool> = OnceLock::new();
    static STDERR: OnceLock<bool> = OnceLock::new();
    let (cell, handle) = match stream {
        Stream::Stdout => (&STDOUT, STD_OUTPUT_HANDLE),
        Stream::Stderr => (&STDERR, STD_ERROR_HANDLE),
    };
    *cell.get_or_init(|| {
        windows_draws(
            win_console::enable_escapes(handle),
            std::env::var_os("TERM").as_deref(),
        )
    })
}

/// A console draws when its escape processing is (or could be turned) on. A terminal that is
/// no console (mintty's pipes, which MSYS2 and Git for Windows use) draws when it says so by
/// setting TERM, as on Unix; `dumb` was ruled out before.
#[cfg(windows)]
fn windows_draws(console: Option<bool>, term: Option<&std::ffi::OsStr>) -> bool {
    match console {
        Some(escapes_on) => escapes_on,
        None => term.is_some_and(|t| !t.is_empty()),
    }
}

#[cfg(windows)]
mod win_console {
    use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
    use windows_sys::Win32::System::Console::{
        ENABLE_VIRTUAL_TERMINAL_PROCESSING, GetConsoleMode, GetStdHandle, STD_HANDLE,
        SetConsoleMode,
    };

    /// `None` when the handle is no console; else whether escape processing is on now (turned
    /// on if it was off). It stays on after latchkey exits, as other programs leave it: the
    /// shells of Windows 10 and later turn it on themselves.
    pub fn enable_escapes(which: STD_HANDLE) -> Option<bool> {
        // SAFETY: GetStdHandle takes a constant; the console calls get a handle it returned
        // (checked) and a local to write the mode into.
        unsafe {
            let handle = GetStdHandle(which);
            if handle.is_null() || handle == INVALID_HANDLE_VALUE {
                return None;
            }
            let mut mode = 0;
            if GetConsoleMode(handle, &mut mode) == 0 {
                return None;
            }
            if mode & ENABLE_VIRTUAL_TERMINAL_PROCESSING != 0 {
                return Some(true);
            }
            Some(SetConsoleMode(handle, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING) != 0)
        }
    }
}

/// `TERM=dumb` (Emacs' shell buffers, some CI logs): a terminal that prints text and nothing
/// else. On Unix an unset or empty TERM counts too (nothing said the terminal draws); Windows
/// consoles set no TERM at all.
pub fn dumb_terminal() -> bool {
    match std::env::var_os("TERM") {
        Some(term) => term == "dumb" || (term.is_empty() && cfg!(unix)),
        None => cfg!(unix),
    }
}

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// NO_COLOR set to any non-empty value turns colour off.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(all(test, windows))]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn a_windows_console_draws_only_with_escape_processing_on() {
        assert!(windows_draws(Some(true), None));
        assert!(!windows_draws(
            Some(false),
            Some(OsStr::new("xterm-256color"))
        ));
        // mintty: no console, a TERM that says what it is.
        assert!(windows_draws(None, Some(OsStr::new("xterm"))));
        assert!(!windows_draws(None, None));
        assert!(!windows_draws(None, Some(OsStr::new(""))));
    }
}
