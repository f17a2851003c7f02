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

/// Makes the socket's directory (0700, the user's own, as the token directory) and removes a
/// socket file left by an agent that is gone. An agent that still answers there is an error:
/// two agents must not take turns on one path.
pub fn prepare(path: &std::path::Path) -> Result<()> {
    let dir = path.parent().ok_or_else(|| {
        Error::config(format!(
            "the agent socket {} has no directory",
            path.display()
        ))
    })?;
    crate::base::files::make_private_dir(dir)?;
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
