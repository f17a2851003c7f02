//! The signals that touch the terminal while latchkey waits on a person: Ctrl-C and SIGTERM end
//! the command (exit 130) with the terminal restored, Ctrl-Z gives the terminal back and `fg`
//! takes it again, a resize redraws. The handlers only write the signal's number to a pipe; a
//! thread of its own does the work, outside signal context.

#[cfg(unix)]
use crate::base::error::ExitCode;
use std::sync::Mutex;
use std::sync::OnceLock;
#[cfg(unix)]
use std::sync::atomic::{AtomicI32, Ordering};

/// The write end of the pipe the handlers note signals on.
#[cfg(unix)]
static NOTES: AtomicI32 = AtomicI32::new(-1);

static INSTALLED: OnceLock<()> = OnceLock::new();

/// What Ctrl-C says before exiting; the command sets it (a login: "nothing was stored").
static LAST_WORDS: Mutex<&'static str> = Mutex::new("interrupted");

/// Handles Ctrl-C, SIGTERM, Ctrl-Z, `fg` and resizes from now on (the first call starts the
/// thread). Call before waiting on the user.
pub fn install() {
    INSTALLED.get_or_init(start);
}

/// What Ctrl-C says after `error:` from now on (by default, "interrupted").
pub fn on_interrupt_say(words: &'static str) {
    *LAST_WORDS.lock().unwrap_or_else(|p| p.into_inner()) = words;
}

#[cfg(unix)]
fn start() {
    let mut fds = [0; 2];
    // SAFETY: pipe fills two descriptors; both are marked close-on-exec at once so a browser
    // started later does not inherit them.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return;
        }
        for fd in fds {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
        // A full pipe must not block a handler: dropping a note is harmless.
        let flags = libc::fcntl(fds[1], libc::F_GETFL);
        libc::fcntl(fds[1], libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    NOTES.store(fds[1], Ordering::SeqCst);
    let reader = fds[0];
    if std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || watch(reader))
        .is_err()
    {
        return;
    }
    for signal in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGTSTP,
        libc::SIGCONT,
        libc::SIGWINCH,
    ] {
        set_handler(
            signal,
            note as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

/// Windows: Ctrl-C and Ctrl-Break run a handler on a thread of the system's; it says the last
/// words and exits 130, as on Unix. Nothing is half-written by that: every file is written to a
/// temporary file and renamed into place, and the console's input mode was never changed.
#[cfg(windows)]
fn start() {
    use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;
    // SAFETY: registers a handler with the signature the console expects.
    unsafe {
        SetConsoleCtrlHandler(Some(on_ctrl), 1);
    }
}

#[cfg(windows)]
unsafe extern "system" fn on_ctrl(event: u32) -> windows_sys::core::BOOL {
    use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT};
    if event != CTRL_C_EVENT && event != CTRL_BREAK_EVENT {
        // Closing the window, logoff, shutdown: the default action (the process ends).
        return 0;
    }
    let words = *LAST_WORDS.lock().unwrap_or_else(|p| p.into_inner());
    let style = crate::terminal::style::Style::for_stderr();
    eprintln!("{} {words}", style.error("error:"));
    std::process::exit(crate::base::error::ExitCode::Interrupted as i32);
}

#[cfg(not(any(unix, windows)))]
fn start() {}

#[cfg(unix)]
fn set_handler(signal: libc::c_int, handler: libc::sighandler_t) {
    // SAFETY: sigaction with a zeroed, then filled, struct; the handler is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        // Restart interrupted reads (the passphrase prompt's, the paste reader's).
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

/// The handler: one byte naming the signal, written to the pipe (write is async-signal-safe),
/// with errno kept as the interrupted code left it.
#[cfg(unix)]
extern "C" fn note(signal: libc::c_int) {
    let fd = NOTES.load(Ordering::SeqCst);
    if fd < 0 {
        return;
    }
    let byte = signal as u8;
    // SAFETY: errno is thread-local; write only reads one byte of the stack.
    unsafe {
        let errno = errno_location();
        let saved = *errno;
        libc::write(fd, (&raw const byte).cast(), 1);
        *errno = saved;
    }
}

#[cfg(unix)]
unsafe fn errno_location() -> *mut libc::c_int {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: returns this thread's errno.
    unsafe {
        libc::__errno_location()
    }
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    // SAFETY: returns this thread's errno.
    unsafe {
        libc::__error()
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )))]
    {
        static mut SCRATCH: libc::c_int = 0;
        &raw mut SCRATCH
    }
}

/// The signal thread: reacts to each noted signal in turn.
#[cfg(unix)]
fn watch(reader: i32) {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads one byte into a local.
        let n = unsafe { libc::read(reader, (&raw mut byte).cast(), 1) };
        if n != 1 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        match i32::from(byte) {
            signal @ (libc::SIGINT | libc::SIGTERM) => end(signal),
            libc::SIGTSTP => stop(),
            libc::SIGCONT => crate::terminal::screen::retake_after_continue(),
            libc::SIGWINCH => crate::terminal::screen::resized(),
            _ => {}
        }
    }
}

/// Ctrl-C (or SIGTERM): the terminal as it was, one error line, then the same signal again
/// with its default action, so the shell sees a process ended by it (`$?` is 130 for Ctrl-C)
/// and stops a script or loop that ran latchkey, as it would for any other command.
#[cfg(unix)]
fn end(signal: libc::c_int) {
    crate::terminal::screen::release_for_exit();
    let words = *LAST_WORDS.lock().unwrap_or_else(|p| p.into_inner());
    let style = crate::terminal::style::Style::for_stderr();
    let message = format!("{} {words}\n", style.error("error:"));
    // SAFETY: write, kill and _exit are plain system calls; nothing is left to unwind or flush
    // (nothing was stored, and stdout carries nothing yet).
    unsafe {
        libc::write(2, message.as_ptr().cast(), message.len());
        set_handler(signal, libc::SIG_DFL);
        libc::kill(libc::getpid(), signal);
        libc::_exit(ExitCode::Interrupted as i32);
    }
}

/// Ctrl-Z: give the terminal back, then stop as the default action would; after `fg`, the
/// SIGCONT that follows takes it again.
#[cfg(unix)]
fn stop() {
    crate::terminal::screen::release_for_stop();
    set_handler(libc::SIGTSTP, libc::SIG_DFL);
    // SAFETY: stops this process with the signal the shell expects; returns once continued.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGTSTP);
    }
    set_handler(
        libc::SIGTSTP,
        note as extern "C" fn(libc::c_int) as libc::sighandler_t,
    );
}
