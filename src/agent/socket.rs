//! Where the agent's socket is, and who may use it: the directory is 0700 and the socket 0600,
//! both owned by the agent's user, and every connection's peer must be that user (the kernel's
//! word: `SO_PEERCRED` on Linux, `getpeereid` on macOS and the BSDs; a peer it cannot name is
//! refused), so that a permission mistake on the path still lets no one else in.

use crate::base::error::{Error, Result};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// The variable that names the socket, as `SSH_AUTH_SOCK` does for ssh-agent.
pub const SOCKET_VAR: &str = "LATCHKEY_AGENT_SOCK";

/// The variable that makes the commands ignore any agent (`--no-agent`).
pub const NO_AGENT_VAR: &str = "LATCHKEY_NO_AGENT";

/// `$XDG_RUNTIME_DIR/latchkey-agent.sock`, or without a runtime directory
/// `/tmp/latchkey-UID/agent.sock` (a directory of the user's own, 0700). Directly in the
/// runtime directory, not in a folder of its own: an SSH `RemoteForward` can only bind in a
/// directory that exists, and the runtime directory is there in every session (0700, the
/// user's) where a subdirectory would have to be made first.
pub fn default_path() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("latchkey-agent.sock"),
        None => std::env::temp_dir()
            .join(format!("latchkey-{}", current_uid()))
            .join("agent.sock"),
    }
}

/// The socket named by `LATCHKEY_AGENT_SOCK`, if set and not empty.
pub fn path_from_env() -> Option<PathBuf> {
    std::env::var_os(SOCKET_VAR)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

pub fn current_uid() -> u32 {
    // SAFETY: getuid cannot fail and has no memory effects.
    unsafe { libc::getuid() }
}

/// The kernel's word on who is at the other end of `stream` (Linux: `SO_PEERCRED`).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn credentials(stream: &UnixStream) -> std::io::Result<libc::ucred> {
    let empty = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    socket_option(stream, libc::SOL_SOCKET, libc::SO_PEERCRED, empty)
}

/// One fixed-size socket option of `stream` (`getsockopt(2)`), read into a copy of `value`:
/// the one unsafe call behind the peer's credentials on Linux and its pid on macOS.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
fn socket_option<T: Copy>(
    stream: &UnixStream,
    level: libc::c_int,
    name: libc::c_int,
    mut value: T,
) -> std::io::Result<T> {
    use std::os::fd::AsRawFd;
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: the buffer is a T of the length passed, the descriptor is open, and callers name
    // options whose value is plain data of that type (ucred, pid_t).
    let result = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            level,
            name,
            (&raw mut value).cast(),
            &raw mut len,
        )
    };
    if result != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(value)
}

/// The user ID of the process at the other end of `stream`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    credentials(stream).map(|c| c.uid)
}

/// The user ID of the process at the other end of `stream` (BSDs and macOS).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    use std::os::fd::AsRawFd;
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: both out-pointers are valid, and the descriptor is open.
    if unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(uid)
}

/// Who is at the other end, for a person deciding whether to answer: `ssh (pid 4242)` for a
/// forwarded socket, the program's name from `/proc` on Linux or `proc_name` on macOS, else the
/// pid alone. The name is the peer's own (any program can call itself `ssh`); the pid is the
/// kernel's.
pub fn peer_name(stream: &UnixStream) -> String {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Ok(credentials) = credentials(stream) {
        let pid = credentials.pid;
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        return match name.trim() {
            "" => format!("pid {pid}"),
            name => format!("{name} (pid {pid})"),
        };
    }
    #[cfg(target_os = "macos")]
    if let Ok(pid) = macos::peer_pid(stream) {
        return match macos::process_name(pid) {
            Some(name) => format!("{name} (pid {pid})"),
            None => format!("pid {pid}"),
        };
    }
    let _ = stream;
    "a process".to_owned()
}

/// The peer's pid and a process's name, for [`peer_name`] on macOS.
#[cfg(target_os = "macos")]
mod macos {
    use std::os::unix::net::UnixStream;

    /// The pid of the process that connected (`LOCAL_PEERPID`, recorded at `connect`).
    pub fn peer_pid(stream: &UnixStream) -> std::io::Result<libc::pid_t> {
        super::socket_option(stream, libc::SOL_LOCAL, libc::LOCAL_PEERPID, 0)
    }

    /// The process's name (`proc_name`, at most 32 bytes), if it is still there to ask.
    pub fn process_name(pid: libc::pid_t) -> Option<String> {
        let mut buffer = [0u8; 64];
        // SAFETY: proc_name writes at most the length passed, NUL included, into the buffer.
        let n = unsafe { libc::proc_name(pid, buffer.as_mut_ptr().cast(), buffer.len() as u32) };
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n > 0 && n < buffer.len())?;
        let name = String::from_utf8_lossy(&buffer[..n]);
        let name = name.trim();
        (!name.is_empty()).then(|| name.to_owned())
    }
}

/// Reads from a socket under one deadline for everything read through it: each read waits only
/// for the time left, so a peer sending a byte now and then cannot stretch a bounded wait.
pub struct ReadBy<'a> {
    stream: &'a UnixStream,
    deadline: std::time::Instant,
}

impl<'a> ReadBy<'a> {
    pub fn new(stream: &'a UnixStream, deadline: std::time::Instant) -> ReadBy<'a> {
        ReadBy { stream, deadline }
    }
}

impl std::io::Read for ReadBy<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let ran_out =
            || std::io::Error::new(std::io::ErrorKind::TimedOut, "the time for it ran out");
        let left = self
            .deadline
            .checked_duration_since(std::time::Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(ran_out)?;
        self.stream.set_read_timeout(Some(left))?;
        // The socket's timeout is the deadline's: its EAGAIN says the same as the check above.
        (&mut &*self.stream)
            .read(buffer)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ran_out(),
                _ => e,
            })
    }
}

/// Throws away what was typed on `tty` before a question is asked: a `y` typed ahead must not
/// answer a question its typist never saw.
pub fn discard_typed_ahead(tty: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: tcflush only acts on the descriptor, which is open for the call.
    unsafe { libc::tcflush(tty.as_raw_fd(), libc::TCIFLUSH) };
}

/// A line typed on `tty` within `timeout`; `None` when nothing came.
pub fn read_answer(tty: &std::fs::File, timeout: std::time::Duration) -> Option<String> {
    use std::io::Read;
    if !answered_within(tty, timeout) {
        return None;
    }
    let mut buffer = [0u8; 64];
    let n = (&mut &*tty).read(&mut buffer).ok()?;
    Some(String::from_utf8_lossy(&buffer[..n]).into_owned())
}

/// Whether `tty` has input within `timeout`.
#[cfg(not(target_os = "macos"))]
fn answered_within(tty: &std::fs::File, timeout: std::time::Duration) -> bool {
    use std::os::fd::AsRawFd;
    let mut fds = libc::pollfd {
        fd: tty.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd, for the length passed.
    unsafe { libc::poll(&raw mut fds, 1, millis) > 0 }
}

/// Whether `tty` has input within `timeout`. macOS's poll(2) reports `POLLNVAL` at once for
/// `/dev/tty`, so the read after it would wait without the timeout: select(2) instead.
#[cfg(target_os = "macos")]
fn answered_within(tty: &std::fs::File, timeout: std::time::Duration) -> bool {
    use std::os::fd::AsRawFd;
    matches!(
        crate::terminal::tty::select_readable(tty.as_raw_fd(), timeout),
        Ok(true)
    )
}

/// Makes the socket's directory, or takes the one there, and removes a socket file left by an
/// agent that is gone. An agent that still answers there is an error: two agents must not take
/// turns on one path.
pub fn prepare(path: &std::path::Path) -> Result<()> {
    let dir = path.parent().ok_or_else(|| {
        Error::config(format!(
            "the agent socket {} has no directory",
            path.display()
        ))
    })?;
    socket_dir(dir)?;
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    if UnixStream::connect(path).is_ok() {
        return Err(Error::config(format!(
            "an agent is already running at {}",
            crate::base::text::shown_whole(&path.display().to_string())
        ))
        .hint("use it (it serves the same profiles), stop it with `latchkey agent --stop`, or pass --socket PATH"));
    }
    std::fs::remove_file(path).map_err(|e| {
        Error::store(format!(
            "cannot remove the stale agent socket {}: {e}",
            path.display()
        ))
    })
}

/// The socket's directory, made 0700 when it is missing (its parents as well), else taken as it
/// is when only its owner, this user, can write in it: no one else can then replace the socket,
/// and the socket itself is 0600 with every peer checked, so a 0755 home serves as OpenSSH's
/// StrictModes would accept it. It is opened without following a symbolic link (`O_NOFOLLOW`)
/// and checked and, when made here, `chmod`ed through that one descriptor: a link planted at
/// the path (`/tmp/latchkey-UID` is guessable) is refused, never followed to where it points.
fn socket_dir(dir: &std::path::Path) -> Result<()> {
    let made = made_if_missing(dir)?;
    let (handle, meta) = open_without_following(dir)?;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let shown = || crate::base::text::shown_whole(&dir.display().to_string());
    let uid = current_uid();
    if meta.uid() != uid {
        return Err(Error::store(format!(
            "the agent's directory {} belongs to uid {}, not to you (uid {uid}); the socket is not made there",
            shown(),
            meta.uid()
        ))
        .hint("find out who made it, or pass --socket PATH in a directory of your own"));
    }
    if made {
        handle
            .set_permissions(std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::store(format!("cannot make {} private: {e}", shown())))?;
    } else if meta.mode() & 0o022 != 0 {
        return Err(Error::store(format!(
            "the agent's directory {} can be written by others (mode {:04o}): they could replace the socket",
            shown(),
            meta.mode() & 0o7777
        ))
        .hint(format!("chmod go-w {}, or pass --socket PATH", shown())));
    }
    Ok(())
}

/// Makes `dir` (0700, its parents as needed) when nothing is at the path; whether it did.
fn made_if_missing(dir: &std::path::Path) -> Result<bool> {
    use std::os::unix::fs::DirBuilderExt;
    if std::fs::symlink_metadata(dir).is_ok() {
        return Ok(false);
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| {
                Error::store(format!("cannot create directory {}: {e}", parent.display()))
            })?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(true),
        // Made meanwhile (another agent starting): checked like any other.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::store(format!(
            "cannot create the agent's directory {}: {e}",
            crate::base::text::shown_whole(&dir.display().to_string())
        ))),
    }
}

/// `dir` opened as a directory without following a symbolic link, with what `fstat` says of
/// that very directory.
fn open_without_following(dir: &std::path::Path) -> Result<(std::fs::File, std::fs::Metadata)> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = || crate::base::text::shown_whole(&dir.display().to_string());
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
        .open(dir)
        .map_err(|e| {
            // O_NOFOLLOW with O_DIRECTORY says ENOTDIR for a link on Linux, ELOOP elsewhere.
            let is_link = std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink());
            match e.raw_os_error() {
                _ if is_link => Error::store(format!(
                    "the agent's directory {} is a symbolic link; latchkey does not follow it",
                    shown()
                ))
                .hint(format!(
                    "remove the link (`rm {}`) and find out who made it, or pass --socket PATH",
                    shown()
                )),
                Some(libc::ENOTDIR) => Error::store(format!(
                    "the agent's directory {} is not a directory",
                    shown()
                ))
                .hint("pass --socket PATH"),
                _ => Error::store(format!(
                    "cannot open the agent's directory {}: {e}",
                    shown()
                )),
            }
        })?;
    let meta = handle.metadata().map_err(|e| {
        Error::store(format!(
            "cannot read the agent's directory {}: {e}",
            shown()
        ))
    })?;
    Ok((handle, meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_missing_directory_is_made_private_and_a_readable_own_one_is_taken_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let made = dir.path().join("a/b");
        socket_dir(&made).unwrap();
        assert_eq!(mode(&made), 0o700);
        // A home as most systems make it: readable by others, writable by its owner alone.
        for kept in [0o755, 0o750, 0o700, 0o711] {
            let home = dir.path().join(format!("home-{kept:o}"));
            std::fs::create_dir(&home).unwrap();
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(kept)).unwrap();
            socket_dir(&home).unwrap();
            assert_eq!(mode(&home), kept, "its mode was changed");
        }
        for open in [0o775, 0o757, 0o777] {
            let shared = dir.path().join(format!("shared-{open:o}"));
            std::fs::create_dir(&shared).unwrap();
            std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(open)).unwrap();
            let e = socket_dir(&shared).unwrap_err();
            assert!(
                e.message().contains("can be written by others"),
                "{}",
                e.message()
            );
            assert_eq!(mode(&shared), open);
        }
    }

    #[test]
    fn a_planted_link_is_refused_and_its_target_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("someone-elses");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = dir.path().join("latchkey-1000");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = socket_dir(&link).unwrap_err();
        assert!(
            e.message().contains("is a symbolic link"),
            "{}",
            e.message()
        );
        assert_eq!(mode(&target), 0o755, "the link was followed");
        // The socket path through it is refused the same way.
        let e = prepare(&link.join("agent.sock")).unwrap_err();
        assert!(
            e.message().contains("is a symbolic link"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn a_request_read_by_a_deadline_ends_however_slowly_bytes_come() {
        let (mut client, server) = UnixStream::pair().unwrap();
        let started = std::time::Instant::now();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            // A byte every 100 ms, each well within a per-read timeout.
            for _ in 0..30 {
                if client.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        let deadline = started + std::time::Duration::from_millis(500);
        let mut reader = crate::agent::protocol::LineReader::new(ReadBy::new(&server, deadline));
        let e = reader.read_line().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
        assert!(started.elapsed() < std::time::Duration::from_millis(900));
        drop(reader);
        drop(server);
        writer.join().unwrap();
    }
}
