//! The shells `latchkey completions` writes a script for, and their names on the command line.

/// The shells `latchkey completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Nushell,
    PowerShell,
    Elvish,
}

impl Shell {
    pub const ALL: [Shell; 6] = [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Nushell,
        Shell::PowerShell,
        Shell::Elvish,
    ];

    /// The name on the command line: `latchkey completions NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
            Shell::Nushell => "nushell",
            Shell::PowerShell => "powershell",
            Shell::Elvish => "elvish",
        }
    }

    pub fn from_name(name: &str) -> Option<Shell> {
        Shell::ALL.into_iter().find(|shell| shell.name() == name)
    }

    /// The committed file under `completions/`, named as each shell looks for it.
    pub fn file_name(self) -> &'static str {
        match self {
            Shell::Bash => "latchkey.bash",
            Shell::Zsh => "_latchkey",
            Shell::Fish => "latchkey.fish",
            Shell::Nushell => "latchkey.nu",
            Shell::PowerShell => "_latchkey.ps1",
            Shell::Elvish => "latchkey.elv",
        }
    }
}

/// "bash, zsh, fish, nushell, powershell or elvish", for usage messages.
pub fn shell_names() -> String {
    let names: Vec<&str> = Shell::ALL.iter().map(|shell| shell.name()).collect();
    match names.split_last() {
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells_are_named_as_on_the_command_line() {
        for shell in Shell::ALL {
            assert_eq!(Shell::from_name(shell.name()), Some(shell));
        }
        assert_eq!(Shell::from_name("tcsh"), None);
        assert_eq!(
            shell_names(),
            "bash, zsh, fish, nushell, powershell or elvish"
        );
    }
}
