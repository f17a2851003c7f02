//! Private files: created 0600 in 0700 directories whatever the umask, written atomically (temp
//! file, fsync, rename, fsync the directory), and refused when the group or others can get in.

use crate::base::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn temp_path(path: &Path) -> PathBuf {
    use rand::Rng;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let suffix: u64 = rand::thread_rng().r#gen();
    path.with_file_name(format!(".{name}.{}.{suffix:016x}.tmp", std::process::id()))
}

/// Writes a file so that readers see either the old complete file or the new complete file:
/// a temporary file in the same directory, fsync, rename over, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = temp_path(path);
    let result = write_private_file(&temp, bytes).and_then(|()| {
        std::fs::rename(&temp, path).map_err(|e| {
            Error::store(format!(
                "cannot move the new file into place at {}: {e}",
                path.display()
            ))
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    } else if let Some(dir) = path.parent() {
        sync_dir(dir);
        remove_stale_temps(path);
    }
    result
}

/// Replaces a file the user also edits by hand (the profiles file, a kubeconfig) so that readers
/// see the old or the new complete file, keeping what the user chose for it: a symbolic link
/// (into a dotfiles repository, say) is written through, its target getting the new text, and
/// the file keeps its mode. A new file gets `new_mode`, or with `None` the umask's default. The
/// temporary file is created 0600 and only then given the kept mode, so text that may hold
/// secrets (a kubeconfig's keys) is never readable by others on the way. The directory must exist.
pub fn replace_keeping_mode(
    path: &Path,
    bytes: &[u8],
    new_mode: Option<u32>,
) -> std::io::Result<()> {
    let resolved = std::fs::canonicalize(path).ok();
    let path = resolved.as_deref().unwrap_or(path);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let kept = std::fs::metadata(path).ok().map(|m| m.permissions());
    let temp = temp_path(path);
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if kept.is_some() || new_mode.is_some() {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temp)?;
        match (kept, new_mode) {
            (Some(kept), _) => file.set_permissions(kept)?,
            #[cfg(unix)]
            (None, Some(mode)) => {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
            _ => {}
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        sync_dir(&dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// A temporary file of `write_atomic` this old was left by a writer that died mid-write
/// (killed, or the machine went down): a write takes milliseconds.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Removes what writers of `path` that died between creating their temporary file and renaming
/// it left behind, so a latchkey killed again and again cannot fill the directory. A live
/// writer's file is young, and is left alone.
pub fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let is_ours = file_name
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".tmp"));
        let stale = || {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok())
                .is_some_and(|age| age > STALE_TEMP_AGE)
        };
        if is_ours && stale() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Creates a new file readable by the owner only (0600 whatever the umask), writes and fsyncs it.
/// `create_new` (O_EXCL) never follows a planted symlink; O_NOFOLLOW says so twice.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |e: std::io::Error| Error::store(format!("cannot write {}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = options.open(path).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
    }
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)
}

/// An error carrying the problem found by `read_private_file`, or the I/O error as it is.
pub fn permission_or_io(path: &Path, error: std::io::Error) -> Error {
    if let Some(problem) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<NotPrivate>())
    {
        return problem.error(path, false);
    }
    if is_symlink_refusal(&error) {
        return symlink_error(path);
    }
    Error::store(format!("cannot read {}: {error}", path.display()))
        .hint("make it a readable file (0600) again, or move it away and log in to write a new one")
}

/// Why a file or directory of secrets is refused, as OpenSSH refuses a private key or `~/.ssh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPrivate {
    /// The mode bits let the group or others in.
    Mode(u32),
    /// Another user owns it (uid), so they could replace what it holds.
    Owner(u32),
}

impl NotPrivate {
    /// The refusal, naming the path and the command that fixes it.
    pub fn error(self, path: &Path, is_dir: bool) -> Error {
        let what = if is_dir { "directory" } else { "file" };
        match self {
            NotPrivate::Mode(mode) => {
                let fix = if is_dir { "700" } else { "600" };
                Error::store(format!(
                    "{} is a {what} of secrets that the group or others can access (mode {mode:04o}); latchkey refuses to use it",
                    path.display()
                ))
                .hint(format!("chmod {fix} {}", path.display()))
            }
            NotPrivate::Owner(uid) => Error::store(format!(
                "{} is a {what} of secrets owned by uid {uid}, not by you (uid {}); latchkey refuses to use it",
                path.display(),
                current_uid()
            ))
            .hint(format!(
                "if it is yours, `chown {} {}` (as root); otherwise move it away and log in again",
                current_uid(),
                path.display()
            )),
        }
    }
}

impl std::fmt::Display for NotPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotPrivate::Mode(mode) => write!(f, "mode {mode:04o} lets others in"),
            NotPrivate::Owner(uid) => write!(f, "owned by uid {uid}"),
        }
    }
}

impl std::error::Error for NotPrivate {}

/// The effective uid latchkey runs as; what every secret file must be owned by.
pub fn current_uid() -> u32 {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// Whether metadata describes something private to this user: owned by us, and no access for
/// the group or others (`mask` 0o077). Non-Unix systems have no such bits to check.
#[cfg_attr(not(unix), allow(unused_variables))]
pub fn private_problem(meta: &std::fs::Metadata) -> Option<NotPrivate> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != current_uid() {
            return Some(NotPrivate::Owner(meta.uid()));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Some(NotPrivate::Mode(mode));
        }
    }
    None
}

/// Opens an existing secret file without following a symlink, and refuses it unless it is a
/// regular file that is ours and private. The checks use the open handle: no race, one fstat.
pub fn open_private_file(path: &Path, write: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(write);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        #[cfg(unix)]
        return Err(std::io::Error::from_raw_os_error(libc::EISDIR));
    }
    if let Some(problem) = private_problem(&meta) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            problem,
        ));
    }
    Ok(file)
}

/// Reads a secret file through [`open_private_file`].
pub fn read_private_file(path: &Path) -> std::io::Result<Vec<u8>> {
    read_private_file_stamped(path).map(|(bytes, _)| bytes)
}

/// What tells a file apart from any other version of it without reading it: the device and
/// inode, size, and the modification and change times to the nanosecond. A file written by
/// rename is a new inode; one changed in place has a new change time, which no user can set
/// back; a `chmod` or `chown` changes it too. (Unix only: elsewhere nothing is compared.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp([i64; 7]);

impl FileStamp {
    /// The stamp of what `meta` describes.
    pub fn of(meta: &std::fs::Metadata) -> Option<FileStamp> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let wide = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            Some(FileStamp([
                wide(meta.dev()),
                wide(meta.ino()),
                wide(meta.size()),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ctime(),
                meta.ctime_nsec(),
            ]))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }

    /// The stamp of what is at `path` now (a link itself, not what it points at).
    pub fn at(path: &Path) -> Option<FileStamp> {
        std::fs::symlink_metadata(path)
            .ok()
            .and_then(|meta| FileStamp::of(&meta))
    }
}

/// [`read_private_file`], with the stamp of the very file read (from the open handle).
pub fn read_private_file_stamped(path: &Path) -> std::io::Result<(Vec<u8>, Option<FileStamp>)> {
    use std::io::Read;
    let mut file = open_private_file(path, false)?;
    let stamp = file.metadata().ok().and_then(|meta| FileStamp::of(&meta));
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok((bytes, stamp))
}

/// O_NOFOLLOW on a symlink fails with ELOOP.
pub fn is_symlink_refusal(error: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        error.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

/// The refusal of a symlink where a secret file belongs: whoever planted it chose its target.
pub fn symlink_error(path: &Path) -> Error {
    Error::store(format!(
        "{} is a symbolic link; latchkey does not follow links for its secret files",
        path.display()
    ))
    .hint(format!(
        "remove the link (`rm {}`) and run the command again",
        path.display()
    ))
}

/// Refuses a directory of secrets that is not ours or that the group or others can get into.
pub fn check_private(dir: &Path, is_dir: bool) -> Result<()> {
    if let Ok(meta) = std::fs::metadata(dir)
        && let Some(problem) = private_problem(&meta)
    {
        return Err(problem.error(dir, is_dir));
    }
    Ok(())
}

/// Creates a directory (and parents) readable by the owner only; an existing one must already
/// be private.
///
/// Windows has no modes to set or check: a new directory takes the ACL it inherits, and under
/// `%LOCALAPPDATA%` (the data directory's default, see `config::paths::data_dir`) that is the
/// user profile's, which lets in only the user, SYSTEM and Administrators.
pub fn make_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return check_private(dir, true);
    }
    // Missing parents are made the same way: DirBuilder's mode is filtered by the umask, and
    // under a umask such as 0277 a parent it made (0500) could not take the next directory.
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
        && !parent.is_dir()
    {
        make_private_dir(parent)?;
    }
    let builder = {
        #[cfg_attr(not(unix), allow(unused_mut))]
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
    };
    match builder.create(dir) {
        Ok(()) => {}
        // Made meanwhile by another latchkey: it must be private like any existing one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return check_private(dir, true);
        }
        Err(e) => {
            return Err(Error::store(format!(
                "cannot create directory {}: {e}",
                dir.display()
            )));
        }
    }
    // The mode is set through a descriptor opened without following a link: what is at the
    // path now is the directory just made, or (swapped in since) it is refused, never chmoded.
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let private =
            |e: std::io::Error| Error::store(format!("cannot make {} private: {e}", dir.display()));
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
            .open(dir)
            .and_then(|handle| handle.set_permissions(std::fs::Permissions::from_mode(0o700)))
            .map_err(private)?;
    }
    Ok(())
}

/// Makes a rename durable; failure to sync a directory is not worth failing a login over.
pub fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn a_write_removes_stale_temporary_files_of_the_same_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.age");
        let leftover = |name: &str, age_secs: u64| {
            let temp = dir.path().join(name);
            let file = std::fs::File::create(&temp).unwrap();
            file.set_modified(SystemTime::now() - std::time::Duration::from_secs(age_secs))
                .unwrap();
            temp
        };
        let stale = leftover(".dev.age.4242.00000000deadbeef.tmp", 600);
        let young = leftover(".dev.age.4243.00000000cafef00d.tmp", 0);
        let other = leftover(".dev.provider.json.4242.0000000000000001.tmp", 600);
        write_atomic(&path, b"x").unwrap();
        assert!(!stale.exists(), "a dead writer's file stays");
        assert!(young.exists(), "a live writer's file was removed");
        assert!(other.exists(), "another file's temporary was removed");
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic(&path, b"x").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
