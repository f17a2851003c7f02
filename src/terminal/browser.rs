//! Whether to open a browser or print the URL for another device, and why: $BROWSER, the
//! platform's opener, WSL, or nothing in an SSH session without a forwarded display.

use crate::base::text::shown;
use std::process::{Command, Stdio};

/// What the user asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// Decide from the environment.
    Auto,
    /// `--browser`: open one even where latchkey would not.
    Force,
    /// `--no-browser`: only print the URL.
    Never,
}

/// The facts the decision depends on, read once so the decision itself is a pure function.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub browser_var: Option<String>,
    pub ssh: bool,
    pub display: bool,
    pub wsl: bool,
    pub os: &'static str,
    /// Launchers found on PATH (`xdg-open`, `wslview`, ...).
    pub on_path: Vec<&'static str>,
}

impl Environment {
    pub fn detect() -> Environment {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let wsl = set("WSL_DISTRO_NAME")
            || std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .is_ok_and(|r| r.to_ascii_lowercase().contains("microsoft"));
        let on_path = ["xdg-open", "wslview", "explorer.exe", "open"]
            .into_iter()
            .filter(|tool| find_on_path(tool))
            .collect();
        Environment {
            browser_var: std::env::var("BROWSER")
                .ok()
                .filter(|b| !b.trim().is_empty()),
            ssh: set("SSH_CONNECTION") || set("SSH_CLIENT") || set("SSH_TTY"),
            display: set("DISPLAY") || set("WAYLAND_DISPLAY"),
            wsl,
            os: std::env::consts::OS,
            on_path,
        }
    }
}

fn find_on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// How to start a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launcher {
    /// `$BROWSER`: a command, possibly with arguments; `%s` is replaced by the URL, else the
    /// URL is appended.
    BrowserVar(String),
    /// A platform opener given the URL as its one argument.
    Program(&'static str),
    /// Windows `start` through cmd.
    WindowsStart,
}

/// The decision, with the sentence that explains it to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Open { launcher: Launcher, why: String },
    Print { why: String },
}

/// Decides whether to open a browser. Over SSH without a forwarded display a browser would
/// open (if at all) on the remote host where nobody sees it, so the URL is only printed.
pub fn decide(env: &Environment, preference: Preference) -> Decision {
    let launcher = pick_launcher(env);
    match preference {
        Preference::Never => {
            return Decision::Print {
                why: "--no-browser: open this URL on any device, or paste the result below".into(),
            };
        }
        Preference::Force => {
            return match launcher {
                Some((launcher, name)) => Decision::Open {
                    launcher,
                    why: format!("--browser: opening it with {name}"),
                },
                None => Decision::Print {
                    why: "--browser, but no way to start a browser was found (set BROWSER): open this URL yourself".into(),
                },
            };
        }
        Preference::Auto => {}
    }
    if let Some(command) = &env.browser_var {
        return Decision::Open {
            launcher: Launcher::BrowserVar(command.clone()),
            why: format!("opening your browser ($BROWSER={})", shown(command)),
        };
    }
    if env.ssh && !env.display {
        return Decision::Print {
            why: "SSH session detected: open this URL on any device, or paste the result below"
                .into(),
        };
    }
    match launcher {
        Some((launcher, name)) => Decision::Open {
            launcher,
            why: format!("opening your browser ({name})"),
        },
        None if matches!(env.os, "linux" | "freebsd" | "openbsd" | "netbsd" | "dragonfly") && !env.display => {
            Decision::Print {
                why: "no graphical display (DISPLAY and WAYLAND_DISPLAY are unset): open this URL on any device, or paste the result below"
                    .into(),
            }
        }
        None => Decision::Print {
            why: "no browser launcher found (xdg-open; or set BROWSER): open this URL on any device, or paste the result below".into(),
        },
    }
}

fn pick_launcher(env: &Environment) -> Option<(Launcher, String)> {
    if let Some(command) = &env.browser_var {
        return Some((
            Launcher::BrowserVar(command.clone()),
            format!("$BROWSER={}", shown(command)),
        ));
    }
    let has = |tool: &str| env.on_path.contains(&tool);
    match env.os {
        "macos" => Some((Launcher::Program("open"), "open".into())),
        "windows" => Some((Launcher::WindowsStart, "start".into())),
        _ if env.wsl && has("wslview") => Some((Launcher::Program("wslview"), "wslview".into())),
        _ if env.wsl && has("explorer.exe") => {
            Some((Launcher::Program("explorer.exe"), "explorer.exe".into()))
        }
        _ if env.display && has("xdg-open") => {
            Some((Launcher::Program("xdg-open"), "xdg-open".into()))
        }
        _ => None,
    }
}

/// Starts the browser with the URL as its only input. The child gets no latchkey variables
/// (a passphrase in LATCHKEY_PASSPHRASE must not reach it) and no terminal input or output.
pub fn launch(launcher: &Launcher, url: &str) -> std::io::Result<()> {
    let mut command = match launcher {
        Launcher::BrowserVar(spec) => {
            let mut words = spec.split_whitespace();
            let program = words.next().unwrap_or(spec.as_str());
            let mut args: Vec<String> = words.map(str::to_owned).collect();
            if args.iter().any(|a| a.contains("%s")) {
                for arg in &mut args {
                    *arg = arg.replace("%s", url);
                }
            } else {
                args.push(url.to_owned());
            }
            let mut c = Command::new(program);
            c.args(args);
            c
        }
        Launcher::Program(program) => {
            let mut c = Command::new(program);
            c.arg(url);
            c
        }
        Launcher::WindowsStart => {
            // cmd treats & ^ | < > as syntax; escaping them keeps the URL one argument.
            let escaped: String = url
                .chars()
                .flat_map(|c| match c {
                    '&' | '^' | '|' | '<' | '>' => vec!['^', c],
                    other => vec![other],
                })
                .collect();
            let mut c = Command::new("cmd");
            c.args(["/C", "start", "\"\""]).arg(escaped);
            c
        }
    };
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("LATCHKEY_")) {
            command.env_remove(key);
        }
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_child| ())
}

/// This host's name, for the `ssh -L` tunnel hint (shown as outside text: it comes from a file
/// or the environment).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| shown(&h))
        .unwrap_or_else(|| "THIS_HOST".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux() -> Environment {
        Environment {
            os: "linux",
            on_path: vec!["xdg-open"],
            ..Environment::default()
        }
    }

    fn opens(d: &Decision) -> bool {
        matches!(d, Decision::Open { .. })
    }

    #[test]
    fn ssh_without_display_prints_and_says_why() {
        let env = Environment {
            ssh: true,
            ..linux()
        };
        let Decision::Print { why } = decide(&env, Preference::Auto) else {
            panic!("should print")
        };
        assert!(why.starts_with("SSH session detected"), "{why}");
    }

    #[test]
    fn ssh_with_forwarded_display_opens() {
        let env = Environment {
            ssh: true,
            display: true,
            ..linux()
        };
        assert!(opens(&decide(&env, Preference::Auto)));
    }

    #[test]
    fn linux_needs_a_display_for_xdg_open() {
        assert!(!opens(&decide(&linux(), Preference::Auto)));
        let env = Environment {
            display: true,
            ..linux()
        };
        assert_eq!(
            decide(&env, Preference::Auto),
            Decision::Open {
                launcher: Launcher::Program("xdg-open"),
                why: "opening your browser (xdg-open)".into()
            }
        );
    }

    #[test]
    fn browser_variable_wins_and_flags_override() {
        let env = Environment {
            ssh: true,
            browser_var: Some("w3m".into()),
            ..linux()
        };
        assert!(opens(&decide(&env, Preference::Auto)));
        assert!(!opens(&decide(&env, Preference::Never)));
        let headless = Environment {
            ssh: true,
            display: true,
            ..linux()
        };
        assert!(opens(&decide(&headless, Preference::Force)));
    }

    #[test]
    fn a_browser_variable_is_shown_escaped() {
        let env = Environment {
            browser_var: Some("evil\u{1b}]0;TITLE\u{7}\u{202e}".into()),
            ..linux()
        };
        for preference in [Preference::Auto, Preference::Force] {
            let Decision::Open { launcher, why } = decide(&env, preference) else {
                panic!("$BROWSER opens");
            };
            assert!(
                why.contains(r"$BROWSER=evil\u{1b}]0;TITLE\u{7}\u{202e}"),
                "{why}"
            );
            assert!(!why.chars().any(crate::base::text::is_unsafe), "{why}");
            // What is run is the variable as it was set; only what is shown is escaped.
            assert_eq!(
                launcher,
                Launcher::BrowserVar("evil\u{1b}]0;TITLE\u{7}\u{202e}".into())
            );
        }
    }

    #[test]
    fn platforms_and_wsl() {
        let mac = Environment {
            os: "macos",
            ..Environment::default()
        };
        assert!(matches!(
            decide(&mac, Preference::Auto),
            Decision::Open {
                launcher: Launcher::Program("open"),
                ..
            }
        ));
        let win = Environment {
            os: "windows",
            ..Environment::default()
        };
        assert!(matches!(
            decide(&win, Preference::Auto),
            Decision::Open {
                launcher: Launcher::WindowsStart,
                ..
            }
        ));
        let wsl = Environment {
            wsl: true,
            on_path: vec!["wslview"],
            ..linux()
        };
        assert!(matches!(
            decide(&wsl, Preference::Auto),
            Decision::Open {
                launcher: Launcher::Program("wslview"),
                ..
            }
        ));
        let wsl_plain = Environment {
            wsl: true,
            on_path: vec!["explorer.exe"],
            ..linux()
        };
        assert!(matches!(
            decide(&wsl_plain, Preference::Auto),
            Decision::Open {
                launcher: Launcher::Program("explorer.exe"),
                ..
            }
        ));
    }
}
