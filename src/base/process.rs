//! This process's protections for the secrets it holds (no core file, not dumpable), and giving
//! a program latchkey runs in its place (`latchkey exec`) the limits it would have had.

#[cfg(unix)]
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// RLIMIT_CORE's soft limit as latchkey found it, once [`CORE_LIMIT_LOWERED`] says it was.
#[cfg(unix)]
static FOUND_CORE_LIMIT: AtomicU64 = AtomicU64::new(0);
#[cfg(unix)]
static CORE_LIMIT_LOWERED: AtomicBool = AtomicBool::new(false);

/// Keeps secrets in memory out of reach of core files and of other processes of the same user:
/// no core file is written (RLIMIT_CORE 0, soft and hard, so that no other process of the user
/// can raise it again), and on Linux the process is not dumpable, so neither a crash nor
/// `ptrace`/`/proc/PID/mem` by an unprivileged process can copy tokens out. With
/// `for_exec` (`latchkey exec`, which becomes another program moments later) only the soft
/// limit is lowered, so that [`restore_for_exec`] can give that program its own limit back.
/// Best effort: a failure leaves the process as it was.
pub fn harden(for_exec: bool) {
    #[cfg(not(unix))]
    let _ = for_exec;
    #[cfg(unix)]
    {
        let mut found = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct we pass; setrlimit reads it. Lowering the soft
        // limit needs no privilege.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_CORE, &mut found) == 0 {
                FOUND_CORE_LIMIT.store(found.rlim_cur, Ordering::Relaxed);
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: if for_exec { found.rlim_max } else { 0 },
                };
                if libc::setrlimit(libc::RLIMIT_CORE, &none) == 0 {
                    CORE_LIMIT_LOWERED.store(true, Ordering::Relaxed);
                }
            }
        }
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: PR_SET_DUMPABLE takes one integer argument and changes only this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Gives back the core-file limit [`harden`] lowered, just before `exec` replaces latchkey with
/// another program: the limit is inherited, and that program's core files are its user's
/// business. (Dumpability is reset by `execve` itself.)
#[cfg(unix)]
pub fn restore_for_exec() {
    if !CORE_LIMIT_LOWERED.load(Ordering::Relaxed) {
        return;
    }
    let found = FOUND_CORE_LIMIT.load(Ordering::Relaxed);
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: as in `harden`; raising the soft limit up to the hard one needs no privilege.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_CORE, &mut current) == 0 {
            let restored = libc::rlimit {
                rlim_cur: found.min(current.rlim_max),
                rlim_max: current.rlim_max,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &restored);
        }
    }
}
