//! Support for `tests/hardening.rs`: the binary under another umask, a login session that can be
//! killed at a chosen moment, a child waited for with a bound, and raw looks at the token store.

use super::{Run, Session, World};
use latchkey::config::KeySource;
use latchkey::store::{StoredTokens, TokenStore};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

impl World {
    /// `latchkey ARGS` in this world's environment, started by `sh` after `umask MASK`, so the
    /// binary inherits that umask as it would from a user's shell.
    pub fn cmd_under_umask(&self, umask: &str, args: &[&str]) -> Command {
        let latchkey = self.cmd(args);
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
            .arg(latchkey.get_program())
            .args(latchkey.get_args())
            .env_clear()
            .stdin(Stdio::null());
        for (key, value) in latchkey.get_envs() {
            if let Some(value) = value {
                cmd.env(key, value);
            }
        }
        cmd
    }
}

impl Session {
    /// The process id, to recognise what a killed latchkey left behind.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (neither exited nor crashed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `bound` for the exit, polling finely enough to time a login.
    pub fn wait_exit(&mut self, bound: Duration) -> Option<ExitStatus> {
        wait_bounded(&mut self.child, bound)
    }

    /// SIGKILLs the process (unless it already exited) and reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        self.child.wait().expect("reap latchkey")
    }
}

/// Waits for a child for at most `bound`; `None` if it is still running then.
pub fn wait_bounded(child: &mut Child, bound: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().expect("wait for latchkey") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs a command to its end, killing it (and failing the test) if it takes longer than
/// `bound`: a latchkey stuck on a lock a killed process left held must not hang the suite.
pub fn run_bounded(mut cmd: Command, bound: Duration, what: &str) -> Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start latchkey");
    let stdout = super::drain(child.stdout.take().expect("stdout"));
    let stderr = super::drain(child.stderr.take().expect("stderr"));
    let status = wait_bounded(&mut child, bound);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let run = Run {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    assert!(
        status.is_some(),
        "{what} did not finish within {bound:?} (a lock left held?)\n--- stderr\n{}",
        run.stderr
    );
    run
}

/// The store of this world, as latchkey itself opens it.
pub fn store_of(world: &World) -> TokenStore {
    TokenStore::at(world.store_dir())
}

/// Reads and decrypts profile `local`'s token file with latchkey's own key: `Err` says why it
/// is missing or unreadable.
pub fn open_token_file(world: &World) -> Result<StoredTokens, String> {
    let store = store_of(world);
    let key = store
        .key_for_reading(&KeySource::Generated, "local")
        .map_err(|e| format!("the key: {}", e.message()))?;
    let sealed = store
        .read_sealed("local")
        .map_err(|e| format!("reading: {}", e.message()))?
        .ok_or_else(|| "there is no token file".to_owned())?;
    sealed
        .open(&key)
        .map_err(|e| format!("decrypting: {}", e.message()))
}

/// Whether another process could take profile `local`'s lock right now (it is not held).
pub fn lock_is_free(world: &World) -> Result<(), String> {
    let path = world.tokens_dir().join("local.lock");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    file.try_lock()
        .map_err(|e| format!("{} is still locked: {e}", path.display()))
}

/// A temporary file of an atomic write, as `base::files::write_atomic` names it:
/// `.NAME.PID.RANDOM.tmp`.
#[derive(Debug)]
pub struct TempFile {
    pub path: PathBuf,
    pub pid: u32,
    pub mode: u32,
}

/// The temporary files in `dir` (not recursive).
pub fn temp_files(dir: &Path) -> Vec<TempFile> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
            // NAME may hold dots; PID and RANDOM are the last two parts.
            let mut parts = inner.rsplit('.');
            let _random = parts.next()?;
            let pid = parts.next()?.parse().ok()?;
            let mode = entry.metadata().ok()?.permissions().mode() & 0o7777;
            Some(TempFile {
                path: entry.path(),
                pid,
                mode,
            })
        })
        .collect()
}

/// The mode bits of a file or directory.
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}
