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
    /// Windows' handler for URLs, `rundll32 url.dll,FileProtocolHandler URL`: the URL is one
    /// argument that no shell reads (`cmd /c start` would split it at `&`), and the default
    /// browser opens it.
    WindowsUrlHandler,
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
                why: "--no-browser: open this URL on any device".into(),
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
            why: "SSH session detected: open this URL on any device".into(),
        };
    }
    match launcher {
        Some((launcher, name)) => Decision::Open {
            launcher,
            why: format!("opening your browser ({name})"),
        },
        None if matches!(env.os, "linux" | "freebsd" | "openbsd" | "netbsd" | "dragonfly") && !env.display => {
            Decision::Print {
                why: "no graphical display (DISPLAY and WAYLAND_DISPLAY are unset): open this URL on any device"
                    .into(),
            }
        }
        None => Decision::Print {
            why: "no browser launcher found (xdg-open; or set BROWSER): open this URL on any device".into(),
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
        "windows" => Some((
            Launcher::WindowsUrlHandler,
            "rundll32 url.dll,FileProtocolHandler".into(),
        )),
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

/// How long a started browser command may take to fail before it counts as started: an
/// opener such as `xdg-open` that finds nothing to open exits at once with an error.
const START_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

/// Starts the browser with the URL as its only input. The child gets no latchkey variables
/// (a passphrase in LATCHKEY_PASSPHRASE must not reach it) and no terminal input or output.
/// `$BROWSER` may list several commands (`:`-separated, `;` on Windows, as Debian's
/// sensible-browser and Python's webbrowser read it): each is tried until one starts. An
/// error names every program tried and why it did not start.
pub fn launch(launcher: &Launcher, url: &str) -> std::io::Result<()> {
    let mut failures = Vec::new();
    for (program, mut command) in commands(launcher, url) {
        match start(&mut command) {
            Ok(()) => return Ok(()),
            Err(e) => failures.push(format!("`{}`: {e}", shown(&program))),
        }
    }
    Err(std::io::Error::other(if failures.is_empty() {
        "$BROWSER names no command".to_owned()
    } else {
        failures.join("; ")
    }))
}

/// The commands that open `url` with `launcher`, in the order they are tried, each named for
/// messages. The URL is always one argument of its own, as it is: no shell sees it.
fn commands(launcher: &Launcher, url: &str) -> Vec<(String, Command)> {
    match launcher {
        Launcher::BrowserVar(spec) => browser_var_commands(spec, url),
        Launcher::Program(program) => {
            let mut c = Command::new(program);
            c.arg(url);
            vec![((*program).to_owned(), c)]
        }
        Launcher::WindowsUrlHandler => {
            // rundll32 hands the rest of its command line to FileProtocolHandler as it is; a
            // URL has no space or quote that Windows' argument quoting would wrap it for.
            let mut c = Command::new(windows_system_program("rundll32.exe"));
            c.args(["url.dll,FileProtocolHandler", url]);
            vec![("rundll32".to_owned(), c)]
        }
    }
}

/// A program of Windows itself by its full path (`%SystemRoot%\System32\…`), so that a file of
/// that name in the current or latchkey's own directory is not run instead.
fn windows_system_program(name: &str) -> std::path::PathBuf {
    match std::env::var_os("SystemRoot").filter(|root| !root.is_empty()) {
        Some(root) => std::path::Path::new(&root).join("System32").join(name),
        None => std::path::PathBuf::from(name),
    }
}

/// Spawns one command, detached from latchkey's terminal and variables, and gives it
/// [`START_GRACE`] to fail.
fn start(command: &mut Command) -> std::io::Result<()> {
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("LATCHKEY_")) {
            command.env_remove(key);
        }
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = std::time::Instant::now() + START_GRACE;
    while std::time::Instant::now() < deadline {
        match child.try_wait()? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => return Err(std::io::Error::other(format!("it exited with {status}"))),
            None => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    Ok(())
}

/// The commands `$BROWSER` names, in order, each with the URL: `%s` in an argument is replaced
/// by it, else it is appended. An entry that is an existing file is one program, spaces and
/// all; otherwise it is split into words, with `"…"` or `'…'` keeping spaces inside one.
fn browser_var_commands(spec: &str, url: &str) -> Vec<(String, Command)> {
    let separator = if cfg!(windows) { ';' } else { ':' };
    spec.split(separator)
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| {
            let mut words = if std::path::Path::new(entry).is_file() {
                vec![entry.to_owned()]
            } else {
                split_words(entry)
            };
            if words.is_empty() {
                return None;
            }
            let program = words.remove(0);
            if words.iter().any(|w| w.contains("%s")) {
                for word in &mut words {
                    *word = word.replace("%s", url);
                }
            } else {
                words.push(url.to_owned());
            }
            let mut command = Command::new(&program);
            command.args(&words);
            Some((program, command))
        })
        .collect()
}

/// Words separated by white space; a quoted stretch (`"…"` or `'…'`) may hold spaces.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
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
                launcher: Launcher::WindowsUrlHandler,
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

    fn programs_and_args(spec: &str) -> Vec<(String, Vec<String>)> {
        launcher_args(&Launcher::BrowserVar(spec.into()), "https://x/?a=1&b=2")
    }

    fn launcher_args(launcher: &Launcher, url: &str) -> Vec<(String, Vec<String>)> {
        commands(launcher, url)
            .into_iter()
            .map(|(program, command)| {
                let args = command
                    .get_args()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                (program, args)
            })
            .collect()
    }

    #[test]
    fn windows_gets_the_url_as_one_argument_untouched() {
        // Characters cmd.exe would treat as syntax, and the ones its escaping would add.
        let url =
            "https://id.example.com/authorize?a=1&b=%20^x|y<z>&redirect_uri=http%3A%2F%2F127.0.0.1";
        let commands = commands(&Launcher::WindowsUrlHandler, url);
        assert_eq!(commands.len(), 1);
        let (name, command) = &commands[0];
        assert_eq!(name, "rundll32");
        let program = std::path::PathBuf::from(command.get_program());
        assert_eq!(
            program.file_name().and_then(|n| n.to_str()),
            Some("rundll32.exe")
        );
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(
            args,
            [
                std::ffi::OsStr::new("url.dll,FileProtocolHandler"),
                std::ffi::OsStr::new(url)
            ]
        );
        assert_eq!(
            launcher_args(&Launcher::Program("open"), url),
            [("open".to_owned(), vec![url.to_owned()])]
        );
    }

    #[test]
    fn browser_lists_paths_with_spaces_and_placeholders() {
        let url = "https://x/?a=1&b=2";
        // Windows separates with `;`: its paths hold `:` (`C:\...`).
        let separator = if cfg!(windows) { ';' } else { ':' };
        assert_eq!(
            programs_and_args(&format!("firefox{separator}chromium --new-window")),
            [
                ("firefox".to_owned(), vec![url.to_owned()]),
                (
                    "chromium".to_owned(),
                    vec!["--new-window".to_owned(), url.to_owned()]
                ),
            ]
        );
        assert_eq!(
            programs_and_args("'/opt/My Browser/run' --url=%s"),
            [(
                "/opt/My Browser/run".to_owned(),
                vec![format!("--url={url}")]
            )]
        );
        let dir = tempfile::tempdir().unwrap();
        let spaced = dir.path().join("a browser");
        std::fs::write(&spaced, "").unwrap();
        let spec = spaced.display().to_string();
        assert_eq!(
            programs_and_args(&spec),
            [(spec.clone(), vec![url.to_owned()])]
        );
        assert!(programs_and_args(&format!(" {separator} ")).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn each_browser_is_tried_until_one_starts_and_failures_are_named() {
        let err = launch(
            &Launcher::BrowserVar("/nonexistent/one:false".into()),
            "https://x/",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`/nonexistent/one`: "), "{err}");
        assert!(err.contains("`false`: it exited with"), "{err}");
        launch(
            &Launcher::BrowserVar("/nonexistent/one:true".into()),
            "https://x/",
        )
        .unwrap();
    }
}
