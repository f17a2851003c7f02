//! Terminal output: whether stderr is a terminal, and colour only when it is and NO_COLOR is unset.

use std::io::IsTerminal;

/// Styling decided once per stream.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Colour on stderr only for a terminal, and never with NO_COLOR set (https://no-color.org).
    pub fn for_stderr() -> Style {
        Style {
            color: stderr_is_terminal() && !no_color(),
        }
    }

    /// Colour on stdout only for a terminal, and never with NO_COLOR set.
    pub fn for_stdout() -> Style {
        use std::io::IsTerminal;
        Style {
            color: std::io::stdout().is_terminal() && !no_color(),
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

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// NO_COLOR set to any non-empty value turns colour off.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}
