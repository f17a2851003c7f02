//! The terminal's line discipline (termios): echo off for a passphrase, keystroke-at-a-time
//! input for the paste prompt, and putting back exactly what was there before.

/// A descriptor's terminal settings as they were before latchkey changed them.
#[derive(Clone, Copy)]
pub struct Saved {
    fd: i32,
    #[cfg(unix)]
    original: libc::termios,
}

/// How latchkey wants the terminal while it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Whole lines, nothing echoed (the newline is, so the next output starts on its own line).
    Secret,
    /// Every keystroke as it comes, nothing echoed: latchkey echoes what is typed itself, so it
    /// can draw it again after a resize or `fg`. Ctrl-C and Ctrl-Z still send their signals.
    Keystrokes,
}

impl Saved {
    /// The current settings of `fd`; `None` when it is not a terminal.
    #[cfg(unix)]
    pub fn take(fd: i32) -> Option<Saved> {
        // SAFETY: termios is plain data, filled by tcgetattr for a valid descriptor.
        let mut original: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr only writes into `original`; a bad descriptor is an error return.
        (unsafe { libc::tcgetattr(fd, &mut original) } == 0).then_some(Saved { fd, original })
    }

    #[cfg(not(unix))]
    pub fn take(_fd: i32) -> Option<Saved> {
        None
    }

    pub fn fd(&self) -> i32 {
        self.fd
    }

    /// Switches to `input`, from the saved settings (so calling it again is harmless).
    #[cfg(unix)]
    pub fn apply(&self, input: Input) {
        let mut wanted = self.original;
        match input {
            Input::Secret => {
                wanted.c_lflag &= !libc::ECHO;
                wanted.c_lflag |= libc::ECHONL | libc::ICANON;
            }
            Input::Keystrokes => {
                wanted.c_lflag &= !(libc::ECHO | libc::ICANON | libc::IEXTEN);
                wanted.c_lflag |= libc::ISIG;
                wanted.c_cc[libc::VMIN] = 1;
                wanted.c_cc[libc::VTIME] = 0;
            }
        }
        // SAFETY: a valid termios for the descriptor it came from.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &wanted) };
    }

    #[cfg(not(unix))]
    pub fn apply(&self, _input: Input) {}

    /// Puts the settings back as they were.
    #[cfg(unix)]
    pub fn restore(&self) {
        // SAFETY: restores what tcgetattr returned for this descriptor.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.original) };
    }

    #[cfg(not(unix))]
    pub fn restore(&self) {}

    /// Drops typed input nobody has read yet, so a half-pasted redirect URL cannot reach the
    /// shell (which would run it as commands split at `&` and keep the code in its history).
    #[cfg(unix)]
    pub fn discard_pending_input(&self) {
        // SAFETY: tcflush on a descriptor that is a terminal.
        unsafe { libc::tcflush(self.fd, libc::TCIFLUSH) };
    }

    #[cfg(not(unix))]
    pub fn discard_pending_input(&self) {}
}

/// Whether this process is in the terminal's foreground (after `bg`, it is not, and changing
/// the terminal's settings would stop it again).
#[cfg(unix)]
pub fn in_foreground(fd: i32) -> bool {
    // SAFETY: plain queries on a descriptor and this process.
    unsafe {
        let group = libc::tcgetpgrp(fd);
        group >= 0 && group == libc::getpgrp()
    }
}

#[cfg(not(unix))]
pub fn in_foreground(_fd: i32) -> bool {
    true
}

/// Rows and columns of the terminal on stderr, when it has a usable size.
pub fn size() -> Option<(u16, u16)> {
    let (rows, columns) = console::Term::stderr().size_checked()?;
    (rows > 0 && columns > 0).then_some((rows, columns))
}

/// Waits up to `timeout` for `fd` to have input (or its end) a read would return at once:
/// `Ok(true)` then, `Ok(false)` when the time ran out. For macOS, whose poll(2) "does not
/// support devices" (its man page) and reports `POLLNVAL` for `/dev/tty`: select(2) does.
#[cfg(target_os = "macos")]
pub fn select_readable(fd: i32, timeout: std::time::Duration) -> std::io::Result<bool> {
    if !usize::try_from(fd).is_ok_and(|fd| fd < libc::FD_SETSIZE) {
        return Err(std::io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: fd_set is plain data, and all zeroes is the empty set.
    let mut readable: libc::fd_set = unsafe { std::mem::zeroed() };
    // SAFETY: FD_SET writes only into the set, for an fd checked above to be in its range.
    unsafe { libc::FD_SET(fd, &mut readable) };
    let mut wait = libc::timeval {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::try_from(timeout.subsec_micros()).unwrap_or(0),
    };
    // SAFETY: one fd_set and one timeval on the stack, and no other set.
    let n = unsafe {
        libc::select(
            fd + 1,
            &mut readable,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut wait,
        )
    };
    match n {
        0 => Ok(false),
        n if n > 0 => Ok(true),
        _ => Err(std::io::Error::last_os_error()),
    }
}
