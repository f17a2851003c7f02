//! Getting the token store's passphrase: `LATCHKEY_PASSPHRASE`, or a prompt on the terminal
//! (`/dev/tty`, not stdin, which may carry a pasted code) with echo turned off.

use crate::base::error::{Error, Result};
use crate::base::secret::Passphrase;

/// The passphrase for a profile; `confirm` asks twice (when writing).
/// Set when the caller must never be prompted (a credential plugin run non-interactively).
static PROMPT_FORBIDDEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on, a passphrase that is not in `LATCHKEY_PASSPHRASE` is an error (exit 4), never a
/// prompt: kubectl says when it cannot pass a prompt on, and every call would otherwise ask.
pub fn forbid_prompt() {
    PROMPT_FORBIDDEN.store(true, std::sync::atomic::Ordering::Relaxed);
}

pub fn obtain(profile: &str, confirm: bool) -> Result<Passphrase> {
    if let Some(value) = std::env::var("LATCHKEY_PASSPHRASE")
        .ok()
        .filter(|v| !v.is_empty())
    {
        return Ok(Passphrase::new(value));
    }
    if PROMPT_FORBIDDEN.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::login_required(format!(
            "profile `{profile}` keeps its tokens under a passphrase, and latchkey was run non-interactively (kubectl's exec plugin with interactive: false), so it does not ask"
        ))
        .hint("set LATCHKEY_PASSPHRASE in the plugin's env (kubeconfig `users[].user.exec.env`), or use a profile without use_passphrase"));
    }
    let unavailable = || {
        Error::store(format!("profile `{profile}` keeps its tokens under a passphrase, and none can be asked for here"))
            .hint("set LATCHKEY_PASSPHRASE, or run latchkey in a terminal")
    };
    let first = prompt(&format!("Passphrase for profile `{profile}`'s tokens: "))
        .ok_or_else(unavailable)?;
    if first.secret().is_empty() {
        return Err(Error::store("an empty passphrase protects nothing")
            .hint("type a passphrase, or use the default key"));
    }
    if confirm {
        let again = prompt("Repeat the passphrase: ").ok_or_else(unavailable)?;
        if again != first {
            return Err(Error::store(
                "the passphrases do not match; nothing was stored",
            ));
        }
    }
    Ok(first)
}

/// Reads one line from the controlling terminal without echo; `None` without a terminal.
#[cfg(unix)]
fn prompt(text: &str) -> Option<Passphrase> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr fills it for a valid descriptor.
    let mut original: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open for the lifetime of `tty`.
    if unsafe { libc::tcgetattr(fd, &mut original) } != 0 {
        return None;
    }
    let mut silent = original;
    silent.c_lflag &= !libc::ECHO;
    silent.c_lflag |= libc::ECHONL;
    let mut writer = &tty;
    let _ = writer.write_all(text.as_bytes());
    let _ = writer.flush();
    // SAFETY: as above; the original settings are restored below on every path.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &silent) };
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    // SAFETY: restores what tcgetattr returned.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &original) };
    read.ok()?;
    let value = Passphrase::new(line.trim_end_matches(['\r', '\n']));
    zeroize::Zeroize::zeroize(&mut line);
    Some(value)
}

#[cfg(not(unix))]
fn prompt(_text: &str) -> Option<Passphrase> {
    None
}
