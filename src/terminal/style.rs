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
            color: std::io::stdout().is_terminal() && !dumb_terminal() && !no_color(),
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
    stderr_is_terminal() && !dumb_terminal()
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
