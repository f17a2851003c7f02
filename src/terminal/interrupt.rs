//! Ctrl-C during a login: give the terminal back (the spinner's status line), say so, and exit
//! 130 at once — nothing has been written, so there is nothing to undo.

use std::sync::atomic::{AtomicPtr, Ordering};

/// Bytes the handler writes before exiting (escape sequences restoring the terminal, then the
/// message). Kept as a leaked buffer so the handler only reads memory, which is signal-safe.
static CLEANUP: AtomicPtr<Vec<u8>> = AtomicPtr::new(std::ptr::null_mut());

const MESSAGE: &str = "\nerror: interrupted; nothing was stored\n";

/// Installs the SIGINT/SIGTERM handler; call once before waiting on the user.
pub fn install() {
    set_terminal_cleanup(None);
    #[cfg(unix)]
    // SAFETY: the handler only calls async-signal-safe functions (write, _exit) and reads a
    // buffer that is never freed while it may run.
    unsafe {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// Sets the escape sequences that restore the terminal, or none.
pub fn set_terminal_cleanup(sequence: Option<String>) {
    let mut bytes = sequence.unwrap_or_default().into_bytes();
    bytes.extend_from_slice(MESSAGE.as_bytes());
    // The previous buffer is leaked on purpose: a handler running right now may still read it.
    CLEANUP.store(Box::into_raw(Box::new(bytes)), Ordering::SeqCst);
}

#[cfg(unix)]
extern "C" fn on_signal(_signal: libc::c_int) {
    let buffer = CLEANUP.load(Ordering::SeqCst);
    // SAFETY: the pointer is null or a leaked, never-freed Vec; write and _exit are
    // async-signal-safe.
    unsafe {
        if let Some(bytes) = buffer.as_ref() {
            libc::write(2, bytes.as_ptr().cast(), bytes.len());
        }
        libc::_exit(crate::base::error::ExitCode::Interrupted as i32);
    }
}
