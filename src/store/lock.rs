//! The per-profile locks, exclusive `flock`s holding their holder's pid and command:
//! `tokens/PROFILE.lock` makes refreshes single-flight and is waited on for a bounded time, so a
//! stopped or hung holder cannot hang every `latchkey token` (and kubectl behind it) forever;
//! `tokens/PROFILE.login.lock` is held for a whole login and turns a second one away at once.

use crate::base::duration::format_remaining;
use crate::base::error::{Error, Result};
use crate::base::files::{is_symlink_refusal, private_problem, symlink_error};
use crate::terminal::style::stderr_is_terminal;
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a caller waits for the lock by default. A refresh that is merely slow finishes
/// well within it (a request is bounded by `http_timeout`, 30 s by default, and retried at
/// most twice); a holder stopped with Ctrl-Z or hung is given up on.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// The longest `LATCHKEY_LOCK_TIMEOUT` may ask for.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// After this long, a waiter on a terminal says who it is waiting for.
const SAY_AFTER: Duration = Duration::from_secs(1);

/// How often a waiter tries again.
const POLL: Duration = Duration::from_millis(25);

/// The wait bound: `LATCHKEY_LOCK_TIMEOUT` (a duration such as `10s`, `2m`) or [`DEFAULT_WAIT`].
pub fn wait_limit() -> Result<Duration> {
    let Some(text) = std::env::var("LATCHKEY_LOCK_TIMEOUT")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return Ok(DEFAULT_WAIT);
    };
    let bad = || {
        Error::config(format!(
            "LATCHKEY_LOCK_TIMEOUT={text:?} is not a duration from 0s to 1h"
        ))
        .hint("write it like 30, 30s or 2m, or unset it for the default of 60s")
    };
    let wait = crate::base::duration::parse_duration(&text).map_err(|_| bad())?;
    if wait > MAX_WAIT {
        return Err(bad());
    }
    Ok(wait)
}

/// Opens (creating if needed, never through a symlink) and locks `path`, waiting at most
/// `limit` for another holder; then records this process as the holder.
pub fn acquire(path: &Path, profile: &str, limit: Duration) -> Result<std::fs::File> {
    let mut file = open(path)?;
    let started = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::store(format!("cannot lock {}: {e}", path.display())));
            }
        }
        let waited = started.elapsed();
        if waited >= limit {
            return Err(timed_out(path, profile, &holder(&mut file), waited));
        }
        if !said && waited >= SAY_AFTER && stderr_is_terminal() {
            eprintln!(
                "waiting for {} to finish with profile `{profile}`…",
                holder(&mut file)
            );
            said = true;
        }
        std::thread::sleep(POLL.min(limit - waited));
    }
    record_holder(&mut file);
    Ok(file)
}

/// What [`try_acquire`] found.
#[derive(Debug)]
pub enum Attempt {
    /// The lock is ours until the file is dropped.
    Held(std::fs::File),
    /// Another process holds it.
    Busy(Holder),
}

/// Locks `path` if no one holds it, without waiting (for a login, which holds it for minutes:
/// a second one is better told at once than left waiting on a browser it cannot see). A lock
/// whose holder died is free: the kernel releases a `flock` when its process ends.
pub fn try_acquire(path: &Path) -> Result<Attempt> {
    let mut file = open(path)?;
    match file.try_lock() {
        Ok(()) => {
            record_holder(&mut file);
            Ok(Attempt::Held(file))
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(Attempt::Busy(read_holder(&mut file))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::store(format!("cannot lock {}: {e}", path.display())))
        }
    }
}

/// The lock file, created 0600 if missing; an existing one must be a regular file of ours.
fn open(path: &Path) -> Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path).map_err(|e| {
        if is_symlink_refusal(&e) {
            symlink_error(path)
        } else {
            Error::store(format!("cannot open the lock file {}: {e}", path.display()))
        }
    })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::store(format!("cannot inspect {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(Error::store(format!(
            "{} is not a regular file; latchkey refuses to use it as a lock",
            path.display()
        ))
        .hint(format!("remove it (`rm -r {}`)", path.display())));
    }
    // The mode above is filtered by the umask: under 0277 the file would be 0400, and the
    // next latchkey could not open it for writing. Only a file of ours is put right.
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if meta.uid() == crate::base::files::current_uid() {
            let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        }
    }
    let meta = file
        .metadata()
        .map_err(|e| Error::store(format!("cannot inspect {}: {e}", path.display())))?;
    if let Some(problem) = private_problem(&meta) {
        return Err(problem.error(path, false));
    }
    Ok(file)
}

/// Writes "PID COMMAND" into the held lock file, for waiters' messages. Best effort: the lock
/// itself is the `flock`, not the contents.
fn record_holder(file: &mut std::fs::File) {
    // The first word that is neither a flag nor the value of one (`-p prod token` is `token`).
    let mut args = std::env::args().skip(1);
    let mut command = String::new();
    while let Some(arg) = args.next() {
        if matches!(arg.as_str(), "-p" | "--profile" | "--config") {
            args.next();
        } else if !arg.starts_with('-') {
            command = arg;
            break;
        }
    }
    let command: String = command
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect();
    let line = format!("{} {command}\n", std::process::id());
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(line.as_bytes()))
        .and_then(|()| file.flush());
}

/// Who holds a lock, as its file says: the pid and the command, each when readable.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    /// The latchkey command (`token`, `login`): ASCII letters, digits and `-` only.
    pub command: Option<String>,
}

impl Holder {
    /// "pid 123, `latchkey token`", or as much of it as is known; `None` when nothing is.
    pub fn details(&self) -> Option<String> {
        match (self.pid, &self.command) {
            (Some(pid), Some(command)) => Some(format!("pid {pid}, `latchkey {command}`")),
            (Some(pid), None) => Some(format!("pid {pid}")),
            _ => None,
        }
    }
}

/// The holder line of a lock file. The contents are ours, but are checked like any input.
fn read_holder(file: &mut std::fs::File) -> Holder {
    let mut text = String::new();
    let _ = file
        .rewind()
        .and_then(|()| file.take(128).read_to_string(&mut text));
    let mut words = text.split_whitespace();
    let Some(pid) = words.next().and_then(|p| p.parse::<u32>().ok()) else {
        return Holder::default();
    };
    let command = words
        .next()
        .filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-'))
        .map(str::to_owned);
    Holder {
        pid: Some(pid),
        command,
    }
}

/// "latchkey (pid 123, `latchkey token`)" from the lock file, or a plain description when the
/// holder wrote nothing readable.
fn holder(file: &mut std::fs::File) -> String {
    match read_holder(file).details() {
        Some(details) => format!("latchkey ({details})"),
        None => "another latchkey".to_owned(),
    }
}

fn timed_out(path: &Path, profile: &str, holder: &str, waited: Duration) -> Error {
    Error::store(format!(
        "profile `{profile}` is locked by {holder}, which did not let go within {} ({})",
        format_remaining(waited),
        path.display()
    ))
    .hint(
        "if that process is stopped (Ctrl-Z), resume it with `fg` or `kill -CONT PID`; if it hangs, end it with `kill PID`; then try again (LATCHKEY_LOCK_TIMEOUT sets how long to wait)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_waited_on_for_the_limit_and_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.lock");
        let held = acquire(&path, "dev", Duration::ZERO).unwrap();
        let started = Instant::now();
        let err = acquire(&path, "dev", Duration::from_millis(200)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(err.exit_code(), crate::base::error::ExitCode::TokenStore);
        let pid = std::process::id();
        assert!(
            err.message()
                .contains(&format!("locked by latchkey (pid {pid}")),
            "{}",
            err.message()
        );
        drop(held);
        acquire(&path, "dev", Duration::ZERO).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_refused_and_its_target_left_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, b"precious").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = dir.path().join("dev.lock");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = acquire(&path, "dev", Duration::ZERO).unwrap_err();
        assert!(err.message().contains("symbolic link"), "{}", err.message());
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "the link's target was chmodded");
    }

    #[test]
    fn a_held_lock_is_not_waited_on_by_try_acquire_and_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.login.lock");
        let Attempt::Held(held) = try_acquire(&path).unwrap() else {
            panic!("a free lock is taken")
        };
        let started = Instant::now();
        let Attempt::Busy(holder) = try_acquire(&path).unwrap() else {
            panic!("a held lock is not taken twice")
        };
        assert!(started.elapsed() < SAY_AFTER, "try_acquire does not wait");
        assert_eq!(holder.pid, Some(std::process::id()));
        drop(held);
        assert!(matches!(try_acquire(&path).unwrap(), Attempt::Held(_)));
    }

    #[test]
    fn the_holder_line_is_read_strictly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        for (contents, expected) in [
            ("42 token\n", "latchkey (pid 42, `latchkey token`)"),
            ("42\n", "latchkey (pid 42)"),
            ("42 \u{1b}[2J\n", "latchkey (pid 42)"),
            ("garbage", "another latchkey"),
        ] {
            std::fs::write(&path, contents).unwrap();
            let mut file = std::fs::File::open(&path).unwrap();
            assert_eq!(holder(&mut file), expected);
        }
    }
}
