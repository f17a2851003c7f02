//! Getting the token store's passphrase: `LATCHKEY_PASSPHRASE`, or a prompt on the terminal
//! (`/dev/tty`, not stdin, which may carry a pasted code) with echo off — kept off across
//! Ctrl-Z and `fg`, restored on Ctrl-C — that forgives a typo: three tries.

use crate::base::error::{Error, Result};
use crate::base::secret::Passphrase;
use crate::store::{Key, Opened, Sealed, StoredTokens};

/// How many times a person is asked before latchkey gives up.
const TRIES: usize = 3;

/// The longest passphrase line read; more is refused rather than kept in memory.
#[cfg(unix)]
const MAX_LINE: usize = 4096;

/// Set when the caller must never be prompted (a credential plugin run non-interactively).
static PROMPT_FORBIDDEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on, a passphrase that is not in `LATCHKEY_PASSPHRASE` is an error (exit 4), never a
/// prompt: kubectl says when it cannot pass a prompt on, and every call would otherwise ask.
pub fn forbid_prompt() {
    PROMPT_FORBIDDEN.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn from_environment() -> Option<Passphrase> {
    std::env::var("LATCHKEY_PASSPHRASE")
        .ok()
        .filter(|v| !v.is_empty())
        .map(Passphrase::new)
}

fn forbidden(profile: &str) -> Error {
    Error::login_required(format!(
        "profile `{profile}` keeps its tokens under a passphrase, and latchkey was run non-interactively (kubectl's exec plugin with interactive: false), so it does not ask"
    ))
    .hint("set LATCHKEY_PASSPHRASE in the plugin's env (kubeconfig `users[].user.exec.env`), or use a profile without use_passphrase")
}

#[cfg(unix)]
fn no_terminal(profile: &str) -> Error {
    Error::store(format!(
        "profile `{profile}` keeps its tokens under a passphrase, and none can be asked for here"
    ))
    .hint("set LATCHKEY_PASSPHRASE, or run latchkey in a terminal")
}

/// The prompt reads the controlling terminal (`/dev/tty`) with echo off, which Windows has not.
#[cfg(not(unix))]
fn no_terminal(profile: &str) -> Error {
    Error::store(format!(
        "profile `{profile}` keeps its tokens under a passphrase, and the passphrase prompt is not available on Windows"
    ))
    .hint("set LATCHKEY_PASSPHRASE")
}

/// The passphrase to store a profile's tokens under: the environment's, or typed twice.
pub fn for_writing(profile: &str) -> Result<Passphrase> {
    if let Some(passphrase) = from_environment() {
        return Ok(passphrase);
    }
    if PROMPT_FORBIDDEN.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(forbidden(profile));
    }
    for attempt in 1..=TRIES {
        let last = attempt == TRIES;
        let first = match ask(
            profile,
            &format!("New passphrase for profile `{profile}`'s tokens: "),
        )? {
            Answer::Line(first) if first.secret().is_empty() => {
                if last {
                    return Err(Error::store("an empty passphrase protects nothing; nothing was stored")
                        .hint("type a passphrase, or drop use_passphrase from the profile to use latchkey's key file"));
                }
                say("An empty passphrase protects nothing. Try again.");
                continue;
            }
            Answer::Line(first) => first,
            Answer::NotUtf8 => {
                if last {
                    return Err(not_utf8());
                }
                say("That was not valid UTF-8. Try again.");
                continue;
            }
        };
        match ask(profile, "Repeat the passphrase: ")? {
            Answer::Line(again) if again == first => return Ok(first),
            _ if last => {
                return Err(Error::store(
                    "the passphrases did not match in three tries; nothing was stored",
                )
                .hint("run the login again and type the same passphrase twice"));
            }
            _ => say("The passphrases do not match. Try again."),
        }
    }
    Err(no_terminal(profile))
}

/// A passphrase to read with, asked once and not checked (see [`open`] for the checked way).
pub fn for_reading_once(profile: &str) -> Result<Passphrase> {
    if let Some(passphrase) = from_environment() {
        return Ok(passphrase);
    }
    if PROMPT_FORBIDDEN.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(forbidden(profile));
    }
    match ask(
        profile,
        &format!("Passphrase for profile `{profile}`'s tokens: "),
    )? {
        Answer::Line(passphrase) => Ok(passphrase),
        Answer::NotUtf8 => Err(not_utf8()),
    }
}

/// Opens a token file stored under a passphrase: the environment's is tried once (and named
/// when it is wrong); a typed one is asked again when it does not open the file.
pub fn open(sealed: &Sealed, work_factor: u8) -> Result<(StoredTokens, Key)> {
    let profile = sealed.profile();
    let key = |passphrase| Key::Passphrase {
        passphrase,
        work_factor,
    };
    if let Some(passphrase) = from_environment() {
        let key = key(passphrase);
        return match sealed.try_open(&key)? {
            Opened::Tokens(tokens) => Ok((*tokens, key)),
            Opened::WrongKey => Err(Error::store(format!(
                "LATCHKEY_PASSPHRASE does not open {}: it is not the passphrase the tokens were stored under, or the file was altered",
                sealed.path().display()
            ))
            .hint(format!(
                "correct LATCHKEY_PASSPHRASE, or unset it to be asked; if the passphrase is lost, run `latchkey login -p {profile}`"
            ))),
        };
    }
    if PROMPT_FORBIDDEN.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(forbidden(profile));
    }
    for attempt in 1..=TRIES {
        let last = attempt == TRIES;
        let typed = match ask(
            profile,
            &format!("Passphrase for profile `{profile}`'s tokens: "),
        )? {
            Answer::Line(typed) if typed.secret().is_empty() => {
                if last {
                    return Err(Error::store(format!(
                        "no passphrase was typed, so profile `{profile}`'s tokens stay locked"
                    ))
                    .hint("run it again and type the passphrase you chose at login (or set LATCHKEY_PASSPHRASE)"));
                }
                say("Nothing was typed. Type the passphrase you chose when you logged in.");
                continue;
            }
            Answer::Line(typed) => typed,
            Answer::NotUtf8 if last => return Err(not_utf8()),
            Answer::NotUtf8 => {
                say("That was not valid UTF-8. Try again.");
                continue;
            }
        };
        let key = key(typed);
        match sealed.try_open(&key)? {
            Opened::Tokens(tokens) => return Ok((*tokens, key)),
            Opened::WrongKey if last => {
                return Err(Error::store(format!(
                    "wrong passphrase for profile `{profile}`'s tokens ({TRIES} tries)"
                ))
                .hint(format!(
                    "it was probably mistyped: run the command again. If the passphrase is lost, run `latchkey login -p {profile}` to store new tokens under a new one"
                )));
            }
            Opened::WrongKey => say("That passphrase does not open the tokens. Try again."),
        }
    }
    Err(no_terminal(profile))
}

fn not_utf8() -> Error {
    Error::store("the passphrase typed was not valid UTF-8 in three tries")
        .hint("check the terminal's character set (LANG, LC_ALL), or set LATCHKEY_PASSPHRASE")
}

/// What was typed at the prompt.
enum Answer {
    Line(Passphrase),
    NotUtf8,
}

/// Asks once on the terminal: `Err` when there is none, or the person pressed Ctrl-D.
fn ask(profile: &str, text: &str) -> Result<Answer> {
    match prompt(text) {
        Some(Prompted::Line(line)) => Ok(Answer::Line(line)),
        Some(Prompted::NotUtf8) => Ok(Answer::NotUtf8),
        Some(Prompted::Ended) => Err(Error::aborted(format!(
            "no passphrase for profile `{profile}`: the prompt was closed (Ctrl-D)"
        ))
        .hint("run the command again and type the passphrase, or set LATCHKEY_PASSPHRASE")),
        None => Err(no_terminal(profile)),
    }
}

/// A line on the terminal, before the prompt is asked again.
fn say(line: &str) {
    #[cfg(unix)]
    if let Ok(tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        use std::io::Write;
        let _ = writeln!(&tty, "{line}");
    }
    #[cfg(not(unix))]
    eprintln!("{line}");
}

// Only the Unix prompt reads a line; elsewhere there is no prompt (see `no_terminal`).
#[cfg_attr(not(unix), allow(dead_code))]
enum Prompted {
    Line(Passphrase),
    NotUtf8,
    /// Ctrl-D on an empty line.
    Ended,
}

/// Reads one line from the controlling terminal with echo off; `None` without a terminal.
/// Ctrl-Z and `fg` keep the echo off and ask again; Ctrl-C restores the terminal and exits 130.
#[cfg(unix)]
fn prompt(text: &str) -> Option<Prompted> {
    use crate::terminal::{screen, signals, tty};
    use std::io::{BufRead, Read, Write};
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let saved = tty::Saved::take(tty.as_raw_fd())?;
    signals::install();
    screen::begin_prompt(
        screen::Prompt {
            saved,
            input: tty::Input::Secret,
            out: tty.as_raw_fd(),
            text: text.to_owned(),
            editor: None,
        },
        true,
    );
    let mut line = Vec::new();
    let read = std::io::BufReader::new(&tty)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line);
    screen::end_prompt(false);
    let ended_line = line.last() == Some(&b'\n');
    if !ended_line {
        // Ctrl-D: the terminal echoed no newline, so end the prompt's line here.
        let _ = (&tty).write_all(b"\n");
    }
    let result = match read {
        Err(_) => None,
        Ok(0) => Some(Prompted::Ended),
        Ok(_) => {
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            match std::str::from_utf8(text) {
                Ok(text) => Some(Prompted::Line(Passphrase::new(text))),
                Err(_) => Some(Prompted::NotUtf8),
            }
        }
    };
    zeroize::Zeroize::zeroize(&mut line);
    result
}

#[cfg(not(unix))]
fn prompt(_text: &str) -> Option<Prompted> {
    None
}
