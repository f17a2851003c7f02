//! The token store: one age-encrypted file per profile under the data directory, encrypted to
//! an X25519 identity generated on first use; files 0600, directories 0700, atomic writes.

use crate::config::KeySource;
use crate::error::{Error, Result};
use crate::secret::{AccessToken, IdToken, Passphrase, RefreshToken};
use age::secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

const FORMAT_VERSION: u32 = 1;

/// What one login leaves behind, as stored (JSON inside the age file).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredTokens {
    pub version: u32,
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    pub id_token: Option<IdToken>,
    /// Unix seconds when the access token expires, when the provider said.
    pub expires_at: Option<u64>,
    pub scope: Option<String>,
    pub token_type: String,
    pub issuer: String,
    pub client_id: String,
    pub audience: Option<String>,
    /// Unix seconds when these tokens were obtained.
    pub obtained_at: u64,
}

impl StoredTokens {
    pub fn new(
        response: crate::token_endpoint::TokenResponse,
        issuer: &str,
        client_id: &str,
        audience: Option<&str>,
    ) -> StoredTokens {
        let now = unix_now();
        StoredTokens {
            version: FORMAT_VERSION,
            expires_at: response.expires_in.map(|s| now.saturating_add(s)),
            access_token: response.access_token,
            refresh_token: response.refresh_token,
            id_token: response.id_token,
            scope: response.scope,
            token_type: response.token_type,
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            audience: audience.map(str::to_owned),
            obtained_at: now,
        }
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The key material a token file is encrypted with, resolved from the profile's key source.
pub enum Key {
    /// An X25519 identity (latchkey's own or the user's file).
    Identity {
        identity: age::x25519::Identity,
        path: PathBuf,
    },
    /// A passphrase, through age's scrypt recipient.
    Passphrase {
        passphrase: Passphrase,
        work_factor: u8,
    },
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Identity { path, .. } => write!(f, "Key::Identity({})", path.display()),
            Key::Passphrase { work_factor, .. } => {
                write!(f, "Key::Passphrase(log_n={work_factor})")
            }
        }
    }
}

impl Key {
    fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let result = match self {
            Key::Identity { identity, .. } => age::encrypt(&identity.to_public(), plaintext),
            Key::Passphrase {
                passphrase,
                work_factor,
            } => {
                let mut recipient =
                    age::scrypt::Recipient::new(passphrase.secret().to_owned().into());
                recipient.set_work_factor(*work_factor);
                age::encrypt(&recipient, plaintext)
            }
        };
        result.map_err(|e| Error::store(format!("cannot encrypt the tokens: {e}")))
    }

    fn decrypt(&self, ciphertext: &[u8]) -> std::result::Result<Vec<u8>, age::DecryptError> {
        match self {
            Key::Identity { identity, .. } => age::decrypt(identity, ciphertext),
            Key::Passphrase { passphrase, .. } => {
                let mut identity =
                    age::scrypt::Identity::new(passphrase.secret().to_owned().into());
                // Accept any work factor latchkey may have written (up to 22), not just the current one.
                identity.set_max_work_factor(22);
                age::decrypt(&identity, ciphertext)
            }
        }
    }

    /// How the file is protected, for `status`.
    pub fn describe(&self) -> String {
        match self {
            Key::Identity { path, .. } => format!("age X25519, key {}", path.display()),
            Key::Passphrase { work_factor, .. } => {
                format!("age passphrase (scrypt, log2 N = {work_factor})")
            }
        }
    }
}

/// How a key source protects files, without unlocking it (no passphrase prompt).
pub fn describe_source(store: &TokenStore, source: &KeySource) -> String {
    match source {
        KeySource::Generated => format!("age X25519, key {}", store.identity_path().display()),
        KeySource::IdentityFile(path) => format!("age X25519, your key {}", path.display()),
        KeySource::Passphrase { work_factor } => {
            format!("age passphrase (scrypt, log2 N = {work_factor})")
        }
    }
}

/// The store's directory layout and its key.
#[derive(Debug, Clone)]
pub struct TokenStore {
    dir: PathBuf,
}

/// An exclusive per-profile lock, held while tokens are read, refreshed and written; released
/// on drop (and by the OS if the process dies).
#[derive(Debug)]
pub struct ProfileLock {
    _file: std::fs::File,
}

impl TokenStore {
    /// The store under `$XDG_DATA_HOME/latchkey` (or the platform's data directory).
    pub fn open() -> Result<TokenStore> {
        Ok(TokenStore {
            dir: crate::paths::data_dir()?,
        })
    }

    pub fn at(dir: impl Into<PathBuf>) -> TokenStore {
        TokenStore { dir: dir.into() }
    }

    pub fn token_path(&self, profile: &str) -> PathBuf {
        self.dir.join("tokens").join(format!("{profile}.age"))
    }

    /// The provider metadata cache (discovery document and signing keys) of a profile.
    pub fn metadata_path(&self, profile: &str) -> PathBuf {
        self.dir
            .join("tokens")
            .join(format!("{profile}.provider.json"))
    }

    fn lock_path(&self, profile: &str) -> PathBuf {
        self.dir.join("tokens").join(format!("{profile}.lock"))
    }

    pub fn identity_path(&self) -> PathBuf {
        self.dir.join("identity.txt")
    }

    /// Resolves the key to write with; latchkey's own identity is created on first use.
    pub fn key_for_writing(&self, source: &KeySource, profile: &str) -> Result<Key> {
        match source {
            KeySource::Generated => Ok(Key::Identity {
                identity: self.load_or_create_identity()?,
                path: self.identity_path(),
            }),
            KeySource::IdentityFile(path) => Ok(Key::Identity {
                identity: load_identity_file(path)?,
                path: path.clone(),
            }),
            KeySource::Passphrase { work_factor } => Ok(Key::Passphrase {
                passphrase: crate::passphrase::obtain(profile, true)?,
                work_factor: *work_factor,
            }),
        }
    }

    /// Resolves the key to read with; nothing is created.
    pub fn key_for_reading(&self, source: &KeySource, profile: &str) -> Result<Key> {
        match source {
            KeySource::Generated => Ok(Key::Identity {
                identity: load_identity_file(&self.identity_path())?,
                path: self.identity_path(),
            }),
            KeySource::IdentityFile(path) => Ok(Key::Identity {
                identity: load_identity_file(path)?,
                path: path.clone(),
            }),
            KeySource::Passphrase { work_factor } => Ok(Key::Passphrase {
                passphrase: crate::passphrase::obtain(profile, false)?,
                work_factor: *work_factor,
            }),
        }
    }

    /// Takes the profile's lock, waiting for another latchkey that holds it.
    pub fn lock(&self, profile: &str) -> Result<ProfileLock> {
        let path = self.lock_path(profile);
        make_private_dir(&self.dir)?;
        make_private_dir(path.parent().unwrap_or(&self.dir))?;
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(|e| {
            Error::store(format!("cannot open the lock file {}: {e}", path.display()))
        })?;
        // The mode above is filtered by the umask: under 0277 the file would be 0400, and the
        // next latchkey could not open it for writing. Best effort: the file holds nothing.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        }
        file.lock()
            .map_err(|e| Error::store(format!("cannot lock {}: {e}", path.display())))?;
        Ok(ProfileLock { _file: file })
    }

    /// Encrypts and writes a profile's tokens, replacing the old file only once the new one is
    /// complete on disk.
    pub fn save(&self, profile: &str, tokens: &StoredTokens, key: &Key) -> Result<PathBuf> {
        let plaintext = Zeroizing::new(
            serde_json::to_vec(tokens)
                .map_err(|e| Error::store(format!("cannot serialise tokens: {e}")))?,
        );
        let ciphertext = key.encrypt(&plaintext)?;
        let path = self.token_path(profile);
        make_private_dir(&self.dir)?;
        make_private_dir(path.parent().unwrap_or(&self.dir))?;
        write_atomic(&path, &ciphertext)?;
        Ok(path)
    }

    /// Whether the profile has a token file (without reading or decrypting it).
    pub fn exists(&self, profile: &str) -> bool {
        self.token_path(profile).is_file()
    }

    /// Reads a profile's token file without decrypting it; `None` when there is none.
    pub fn read_sealed(&self, profile: &str) -> Result<Option<Sealed>> {
        let path = self.token_path(profile);
        let bytes = match read_private_file(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(permission_or_io(&path, e)),
        };
        if let Some(dir) = path.parent() {
            check_private(dir, true)?;
        }
        check_private(&self.dir, true)?;
        Ok(Some(Sealed {
            bytes,
            path,
            profile: profile.to_owned(),
        }))
    }

    /// Reads and decrypts a profile's tokens; `None` when the profile has no token file. The
    /// key is resolved only when there is a file to decrypt (no passphrase prompt otherwise).
    pub fn load(
        &self,
        profile: &str,
        key: impl FnOnce() -> Result<Key>,
    ) -> Result<Option<StoredTokens>> {
        match self.read_sealed(profile)? {
            Some(sealed) => sealed.open(&key()?).map(Some),
            None => Ok(None),
        }
    }

    /// Removes a profile's token file; `false` when there was none.
    pub fn delete(&self, profile: &str) -> Result<bool> {
        let path = self.token_path(profile);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                if let Some(dir) = path.parent() {
                    sync_dir(dir);
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::store(format!(
                "cannot delete {}: {e}",
                path.display()
            ))),
        }
    }

    /// The key, generated on first use. Two first logins racing both end up with the one key
    /// that reached the disk first.
    fn load_or_create_identity(&self) -> Result<age::x25519::Identity> {
        let path = self.identity_path();
        if path.exists() {
            return load_identity_file(&path);
        }
        make_private_dir(&self.dir)?;
        let identity = age::x25519::Identity::generate();
        let text = Zeroizing::new(format!(
            "# latchkey token store key: whoever has this file can read the stored tokens\n# public key: {}\n{}\n",
            identity.to_public(),
            identity.to_string().expose_secret()
        ));
        let temp = temp_path(&path);
        write_private_file(&temp, text.as_bytes())?;
        // hard_link fails when the name exists: the first identity to land wins.
        let linked = std::fs::hard_link(&temp, &path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                sync_dir(&self.dir);
                Ok(identity)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_identity_file(&path),
            Err(e) => Err(Error::store(format!(
                "cannot create {}: {e}",
                path.display()
            ))),
        }
    }
}

/// A token file's bytes, read but not yet decrypted.
pub struct Sealed {
    bytes: Vec<u8>,
    path: PathBuf,
    profile: String,
}

impl Sealed {
    /// Decrypts and parses; any failure is exit 7, and the file is left as it is.
    pub fn open(&self, key: &Key) -> Result<StoredTokens> {
        let cannot_decrypt = |why: String| {
            Error::store(format!("cannot decrypt {}: {why}", self.path.display())).hint(format!(
                "the file is damaged, or was written with another key or passphrase; run `latchkey login -p {}`",
                self.profile
            ))
        };
        let plaintext = Zeroizing::new(
            key.decrypt(&self.bytes)
                .map_err(|e| cannot_decrypt(decrypt_reason(&e)))?,
        );
        serde_json::from_slice(&plaintext)
            .map_err(|e| cannot_decrypt(format!("unexpected contents ({e})")))
    }

    /// Whether two reads saw the same file contents.
    pub fn same_as(&self, other: &Sealed) -> bool {
        self.bytes == other.bytes
    }
}

/// age's decrypt errors in words a user can act on.
fn decrypt_reason(error: &age::DecryptError) -> String {
    match error {
        age::DecryptError::NoMatchingKeys => "it was not encrypted to this key".into(),
        age::DecryptError::KeyDecryptionFailed | age::DecryptError::DecryptionFailed => {
            "wrong passphrase or key, or the file was altered".into()
        }
        age::DecryptError::InvalidMac => "the file was altered (its MAC does not match)".into(),
        age::DecryptError::InvalidHeader | age::DecryptError::UnknownFormat => {
            "it is not a complete age file (truncated or replaced?)".into()
        }
        age::DecryptError::ExcessiveWork { required, .. } => {
            format!("its scrypt work factor ({required}) is higher than latchkey accepts")
        }
        // age reports a damaged payload, and a header cut short, as I/O errors ("decryption
        // error", "Incomplete header") that tell the user nothing.
        age::DecryptError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "it is not a complete age file (truncated or replaced?)".into()
        }
        age::DecryptError::Io(_) => {
            "the file was altered or truncated (it does not decrypt)".into()
        }
        other => other.to_string(),
    }
}

/// Reads an age identity file holding X25519 keys (`AGE-SECRET-KEY-1…`), as age-keygen writes.
fn load_identity_file(path: &Path) -> Result<age::x25519::Identity> {
    let bytes =
        Zeroizing::new(read_private_file(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => permission_or_io(path, e),
            _ => Error::store(format!("cannot read the key {}: {e}", path.display())).hint(
                "log in again to create latchkey's key, or fix `identity_file` in the profile",
            ),
        })?);
    let text = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
    if text.contains("AGE-PLUGIN-") {
        return Err(Error::store(format!(
            "{} holds an age plugin identity; this build of latchkey supports X25519 identities only",
            path.display()
        ))
        .hint("make one with age-keygen, or use the default key or a passphrase"));
    }
    parse_identity(&text).ok_or_else(|| {
        Error::store(format!(
            "{} does not hold an age X25519 identity (AGE-SECRET-KEY-1…)",
            path.display()
        ))
        .hint("restore the file, or point `identity_file` at a key made by age-keygen")
    })
}

fn parse_identity(text: &str) -> Option<age::x25519::Identity> {
    text.lines()
        .map(str::trim)
        .find(|line| line.starts_with("AGE-SECRET-KEY-"))
        .and_then(|line| age::x25519::Identity::from_str(line).ok())
}

fn temp_path(path: &Path) -> PathBuf {
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

/// A temporary file of `write_atomic` this old was left by a writer that died mid-write
/// (killed, or the machine went down): a write takes milliseconds.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Removes what writers of `path` that died between creating their temporary file and renaming
/// it left behind, so a latchkey killed again and again cannot fill the directory. A live
/// writer's file is young, and is left alone.
fn remove_stale_temps(path: &Path) {
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
fn write_private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |e: std::io::Error| Error::store(format!("cannot write {}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
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

/// An error carrying the mode problem found by `read_private_file`, or the I/O error as it is.
fn permission_or_io(path: &Path, error: std::io::Error) -> Error {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<LooseMode>())
    {
        Some(loose) => loose_mode_error(path, loose.0, false),
        None => Error::store(format!("cannot read {}: {error}", path.display())).hint(
            "make it a readable file (0600) again, or move it away and log in to write a new one",
        ),
    }
}

/// The mode bits a secret file was found with, when others could read or write it.
#[derive(Debug)]
struct LooseMode(u32);

impl std::fmt::Display for LooseMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mode {:04o} lets others in", self.0)
    }
}

impl std::error::Error for LooseMode {}

/// Reads a secret file, refusing it (as OpenSSH refuses private keys) when its mode lets the
/// group or others read or write it. The mode comes from the open handle: no race, one fstat.
fn read_private_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                LooseMode(mode),
            ));
        }
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn loose_mode_error(path: &Path, mode: u32, is_dir: bool) -> Error {
    let (what, fix) = if is_dir {
        ("directory", "700")
    } else {
        ("file", "600")
    };
    Error::store(format!(
        "{} is a {what} of secrets that the group or others can access (mode {mode:04o}); latchkey refuses to use it",
        path.display()
    ))
    .hint(format!("chmod {fix} {}", path.display()))
}

/// Refuses a directory of secrets that the group or others can read or write into.
fn check_private(dir: &Path, is_dir: bool) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir) {
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(loose_mode_error(dir, mode, is_dir));
            }
        }
    }
    let _ = (dir, is_dir);
    Ok(())
}

/// Creates a directory (and parents) readable by the owner only; an existing one must already
/// be private.
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
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| Error::store(format!("cannot create directory {}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::store(format!("cannot make {} private: {e}", dir.display())))?;
    }
    Ok(())
}

/// Makes a rename durable; failure to sync a directory is not worth failing a login over.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(access: &str) -> StoredTokens {
        StoredTokens {
            version: FORMAT_VERSION,
            access_token: AccessToken::new(access),
            refresh_token: Some(RefreshToken::new("refresh-1")),
            id_token: None,
            expires_at: Some(100),
            scope: Some("openid".into()),
            token_type: "Bearer".into(),
            issuer: "https://idp/".into(),
            client_id: "c".into(),
            audience: None,
            obtained_at: 1,
        }
    }

    fn generated(store: &TokenStore) -> Key {
        store.key_for_writing(&KeySource::Generated, "dev").unwrap()
    }

    fn load(store: &TokenStore, key: &TokenStore) -> Result<Option<StoredTokens>> {
        store.load("dev", || key.key_for_reading(&KeySource::Generated, "dev"))
    }

    #[test]
    fn round_trip_through_age() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        assert!(load(&store, &store).unwrap().is_none());
        let key = generated(&store);
        let path = store.save("dev", &tokens("access-1"), &key).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
        assert!(!String::from_utf8_lossy(&bytes).contains("access-1"));
        let back = load(&store, &store).unwrap().unwrap();
        assert_eq!(back.access_token.secret(), "access-1");
        // A second save replaces the file; the key stays the same.
        store
            .save("dev", &tokens("access-2"), &generated(&store))
            .unwrap();
        assert_eq!(
            load(&store, &store).unwrap().unwrap().access_token.secret(),
            "access-2"
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(
            leftovers.len(),
            1,
            "temporary files left behind: {leftovers:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn files_0600_directories_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        let path = store.save("dev", &tokens("a"), &generated(&store)).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&store.identity_path()), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(mode(&dir.path().join("latchkey")), 0o700);
    }

    #[test]
    fn tampered_or_truncated_files_are_store_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        let path = store.save("dev", &tokens("a"), &generated(&store)).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = load(&store, &store).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::ExitCode::TokenStore);
        assert!(
            err.message().starts_with("cannot decrypt"),
            "{}",
            err.message()
        );
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(
            load(&store, &store)
                .unwrap_err()
                .message()
                .starts_with("cannot decrypt")
        );
        assert!(path.exists(), "a bad file is reported, never deleted");
    }

    #[test]
    fn passphrase_round_trip_and_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        let key = |p: &str| Key::Passphrase {
            passphrase: Passphrase::new(p),
            work_factor: 10,
        };
        let path = store
            .save("dev", &tokens("p-1"), &key("correct horse"))
            .unwrap();
        assert!(String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains("scrypt"));
        let back = store
            .load("dev", || Ok(key("correct horse")))
            .unwrap()
            .unwrap();
        assert_eq!(back.access_token.secret(), "p-1");
        let err = store.load("dev", || Ok(key("wrong"))).unwrap_err();
        assert!(
            err.message().contains("wrong passphrase"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn user_identity_file_and_wrong_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        let mine = age::x25519::Identity::generate();
        let file = dir.path().join("me.key");
        write_atomic(
            &file,
            format!(
                "# created by age-keygen\n{}\n",
                mine.to_string().expose_secret()
            )
            .as_bytes(),
        )
        .unwrap();
        let source = KeySource::IdentityFile(file.clone());
        let key = store.key_for_writing(&source, "dev").unwrap();
        store.save("dev", &tokens("u-1"), &key).unwrap();
        let back = store
            .load("dev", || store.key_for_reading(&source, "dev"))
            .unwrap()
            .unwrap();
        assert_eq!(back.access_token.secret(), "u-1");
        // latchkey's own key cannot open it.
        let err = store
            .load("dev", || {
                store.key_for_writing(&KeySource::Generated, "dev")
            })
            .unwrap_err();
        assert!(
            err.message().contains("not encrypted to this key"),
            "{}",
            err.message()
        );
        std::fs::remove_file(&file).unwrap();
        write_atomic(&file, b"AGE-PLUGIN-YUBIKEY-1XYZ\n").unwrap();
        let err = store.key_for_reading(&source, "dev").unwrap_err();
        assert!(err.message().contains("plugin"), "{}", err.message());
    }

    #[test]
    fn the_lock_is_exclusive_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        let held = store.lock("dev").unwrap();
        let other = std::fs::OpenOptions::new()
            .write(true)
            .open(store.lock_path("dev"))
            .unwrap();
        assert!(other.try_lock().is_err(), "a second holder must wait");
        drop(held);
        assert!(other.try_lock().is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn loose_permissions_are_refused_with_the_chmod_that_fixes_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        let path = store.save("dev", &tokens("a"), &generated(&store)).unwrap();
        let set = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        for (target, mode, fix) in [
            (path.clone(), 0o644, "chmod 600"),
            (path.clone(), 0o620, "chmod 600"),
            (store.identity_path(), 0o640, "chmod 600"),
            (path.parent().unwrap().to_path_buf(), 0o755, "chmod 700"),
            (dir.path().join("latchkey"), 0o770, "chmod 700"),
        ] {
            let before = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
            set(&target, mode);
            let err = load(&store, &store).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::ExitCode::TokenStore);
            assert!(
                err.message().contains(&format!("mode {mode:04o}")),
                "{}",
                err.message()
            );
            assert_eq!(
                err.hint_text(),
                Some(format!("{fix} {}", target.display()).as_str())
            );
            set(&target, before);
        }
        assert!(load(&store, &store).unwrap().is_some());
    }

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
