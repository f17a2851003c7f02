//! Layer 5, the token store: one age-encrypted file per profile under the data directory,
//! encrypted to an X25519 identity generated on first use (or a passphrase, or the user's key);
//! files 0600, directories 0700, atomic writes; the per-profile lock; and keeping the stored
//! token fresh (`refresh`). May use `base`, `terminal`, `net`, `config` and `oauth`.

pub mod binding;
pub mod lock;
pub mod passphrase;
pub mod refresh;
pub mod report;

use crate::base::clock::unix_now;
use crate::base::error::{Error, Result};
use crate::base::files::{
    FileStamp, check_private, is_symlink_refusal, make_private_dir, permission_or_io,
    read_private_file, read_private_file_stamped, symlink_error, sync_dir, temp_path, write_atomic,
    write_private_file,
};
use crate::base::secret::{AccessToken, IdToken, Passphrase, RefreshToken};
use crate::config::{KeySource, parse_endpoint};
use crate::net::url::Url;
use age::secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use zeroize::Zeroizing;

const FORMAT_VERSION: u32 = 1;

/// What one login leaves behind, as stored (JSON inside the age file).
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// The token endpoint these tokens came from: refreshes go here and nowhere else, whatever
    /// the profile says now. Absent in files written before it was recorded (then the profile's
    /// endpoint is used once, and recorded).
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// The provider's revocation endpoint at login; `logout` revokes here and nowhere else.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// Set when the provider refused the refresh token (`invalid_grant`): the token is dead, so
    /// it is dropped from the file and nothing is sent again; `status` and `token` say a login
    /// is needed. The access token stays while it lasts: it may still work until it expires. A
    /// login writes new tokens without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_refused: Option<RefreshRefused>,
    /// The Auth0 organization this login asked for: every later ID token is checked against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Access tokens for other APIs, got with this login's refresh token (`token --audience`),
    /// one per audience. A login starts with none. (A list, not a map: there are a few, and a
    /// map type of its own would cost the binary more than the search saves.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apis: Vec<ApiToken>,
    /// What the profile's `ca_file` added to the trusted roots when these tokens were obtained
    /// (SHA-256 of each certificate; empty: nothing). Refreshes and revocations go only over
    /// TLS that trusts nothing beyond it (`binding`). Absent in files written before it was
    /// recorded: then nothing beyond the system's and Mozilla's roots is trusted for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_roots: Option<Vec<String>>,
    /// The profile whose tokens these are: a file copied over another profile's is refused
    /// (`binding`). Written by every save; absent in files from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The git servers and registries (`hosts`) the profile named at this login: the credential
    /// helpers hand these tokens only to a host that both the profile and its login name, so a
    /// profiles file or `LATCHKEY_HOSTS` changed since cannot send them elsewhere. Absent in
    /// files from before it was recorded: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
}

/// An access token for another API than the login's, from the same refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiToken {
    /// The API (audience) it is for.
    pub audience: String,
    pub access_token: AccessToken,
    /// Unix seconds, when the provider said.
    pub expires_at: Option<u64>,
    /// The scope the provider granted, when it said.
    pub scope: Option<String>,
    pub token_type: String,
    pub obtained_at: u64,
    /// The scopes `--scope` asked for (sorted; empty: the API's default): a request for other
    /// scopes gets a token of its own.
    #[serde(default)]
    pub requested_scopes: Vec<String>,
}

/// When and why the provider refused a profile's refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRefused {
    /// Unix seconds.
    pub at: u64,
    /// What the provider said: `invalid_grant: error_description`, escaped and bounded when it
    /// was received (and escaped again wherever it is shown, as the file is input too).
    pub said: String,
}

/// Where a token response came from: recorded with the tokens, so that they are only ever sent
/// back there.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub audience: Option<&'a str>,
    pub token_endpoint: &'a str,
    pub revocation_endpoint: Option<&'a str>,
    pub organization: Option<&'a str>,
    /// What `ca_file` added to the trusted roots of the request that got them.
    pub added_roots: &'a [String],
}

impl StoredTokens {
    pub fn new(
        response: crate::oauth::token_endpoint::TokenResponse,
        origin: Origin<'_>,
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
            issuer: origin.issuer.to_owned(),
            client_id: origin.client_id.to_owned(),
            audience: origin.audience.map(str::to_owned),
            obtained_at: now,
            token_endpoint: Some(origin.token_endpoint.to_owned()),
            revocation_endpoint: origin.revocation_endpoint.map(str::to_owned),
            refresh_refused: None,
            organization: origin.organization.map(str::to_owned),
            apis: Vec::new(),
            added_roots: Some(origin.added_roots.to_vec()),
            profile: None,
            hosts: None,
        }
    }

    /// Where these tokens may be revoked: the revocation endpoint recorded with them at login,
    /// and only there (`None` when the provider had none). Files from before it was recorded
    /// (no token endpoint either) use `current`, the endpoint the profile's provider names now.
    pub fn revocation_url(
        &self,
        current: impl FnOnce() -> Result<Option<Url>>,
    ) -> Result<Option<Url>> {
        if self.token_endpoint.is_none() {
            return current();
        }
        self.revocation_endpoint
            .as_deref()
            .map(|url| {
                parse_endpoint(url).map_err(|why| {
                    Error::store(format!(
                        "the stored revocation endpoint is not usable: {why}"
                    ))
                })
            })
            .transpose()
    }
}

/// The key material a token file is encrypted with, resolved from the profile's key source.
pub enum Key {
    /// An X25519 identity (latchkey's own or the user's file).
    Identity {
        identity: age::x25519::Identity,
        path: PathBuf,
    },
    /// latchkey's own identity, generated for a first login and not yet on disk: a login that
    /// does not succeed leaves no key behind. [`TokenStore::save`] writes it to `path` first.
    NewIdentity {
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
            Key::NewIdentity { path, .. } => write!(f, "Key::NewIdentity({})", path.display()),
            Key::Passphrase { work_factor, .. } => {
                write!(f, "Key::Passphrase(log_n={work_factor})")
            }
        }
    }
}

impl Key {
    fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let result = match self {
            Key::Identity { identity, .. } | Key::NewIdentity { identity, .. } => {
                age::encrypt(&identity.to_public(), plaintext)
            }
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
            Key::Identity { identity, .. } | Key::NewIdentity { identity, .. } => {
                age::decrypt(identity, ciphertext)
            }
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
            Key::Identity { path, .. } | Key::NewIdentity { path, .. } => {
                format!("age X25519, key {}", path.display())
            }
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
            dir: crate::config::paths::data_dir()?,
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

    /// The lock held for a whole login (profile names have no `.`, so it is no profile's
    /// `lock_path`).
    pub fn login_lock_path(&self, profile: &str) -> PathBuf {
        self.dir
            .join("tokens")
            .join(format!("{profile}.login.lock"))
    }

    pub fn identity_path(&self) -> PathBuf {
        self.dir.join("identity.txt")
    }

    /// Resolves the key to write with. latchkey's own identity, when there is none yet, is
    /// generated in memory only: the first [`save`](Self::save) writes it.
    pub fn key_for_writing(&self, source: &KeySource, profile: &str) -> Result<Key> {
        match source {
            KeySource::Generated => {
                let path = self.identity_path();
                // Anything at the path (a planted symlink too) is read now, so that a problem
                // with it is reported before the login rather than after it.
                match std::fs::symlink_metadata(&path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Key::NewIdentity {
                        identity: age::x25519::Identity::generate(),
                        path,
                    }),
                    _ => Ok(Key::Identity {
                        identity: load_identity_file(&path)?,
                        path,
                    }),
                }
            }
            KeySource::IdentityFile(path) => Ok(Key::Identity {
                identity: load_identity_file(path)?,
                path: path.clone(),
            }),
            KeySource::Passphrase { work_factor } => Ok(Key::Passphrase {
                passphrase: passphrase::for_writing(profile)?,
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
                passphrase: passphrase::for_reading_once(profile)?,
                work_factor: *work_factor,
            }),
        }
    }

    /// Takes the profile's lock, waiting a bounded time for another latchkey that holds it
    /// (see [`lock::acquire`]).
    pub fn lock(&self, profile: &str) -> Result<ProfileLock> {
        let path = self.lock_path(profile);
        make_private_dir(&self.dir)?;
        make_private_dir(path.parent().unwrap_or(&self.dir))?;
        let file = lock::acquire(&path, profile, lock::wait_limit()?)?;
        Ok(ProfileLock { _file: file })
    }

    /// Takes the profile's login lock, held for a whole login, or says at once that another
    /// login of the profile holds it (exit 8): two would both store tokens, and the first's
    /// would be overwritten while its refresh token stayed live at the provider.
    pub fn login_lock(&self, profile: &str) -> Result<ProfileLock> {
        let path = self.login_lock_path(profile);
        make_private_dir(&self.dir)?;
        make_private_dir(path.parent().unwrap_or(&self.dir))?;
        match lock::try_acquire(&path)? {
            lock::Attempt::Held(file) => Ok(ProfileLock { _file: file }),
            lock::Attempt::Busy(holder) => {
                let running = match holder.details() {
                    Some(details) => format!("is running ({details})"),
                    None => "is running".to_owned(),
                };
                let end = match holder.pid {
                    Some(pid) => format!("Ctrl-C where it runs, or `kill {pid}`"),
                    None => "Ctrl-C where it runs".to_owned(),
                };
                Err(Error::aborted(format!(
                    "another login for profile `{profile}` {running}; finish or cancel it first"
                ))
                .hint(format!(
                    "finish that login, or cancel it ({end}), then log in again"
                )))
            }
        }
    }

    /// Encrypts and writes a profile's tokens, replacing the old file only once the new one is
    /// complete on disk. A [`Key::NewIdentity`] is written first; when another latchkey wrote
    /// its own identity meanwhile, the tokens are encrypted to that one, the one on disk.
    /// The file records the profile it belongs to, whatever `tokens` say.
    pub fn save(&self, profile: &str, tokens: &StoredTokens, key: &Key) -> Result<PathBuf> {
        let named;
        let tokens = if tokens.profile.as_deref() == Some(profile) {
            tokens
        } else {
            named = StoredTokens {
                profile: Some(profile.to_owned()),
                ..tokens.clone()
            };
            &named
        };
        let plaintext = Zeroizing::new(
            serde_json::to_vec(tokens)
                .map_err(|e| Error::store(format!("cannot serialise tokens: {e}")))?,
        );
        let landed;
        let key = match key {
            Key::NewIdentity { identity, path } => {
                landed = Key::Identity {
                    identity: self.persist_identity(identity)?,
                    path: path.clone(),
                };
                &landed
            }
            other => other,
        };
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
        let (bytes, stamp) = match read_private_file_stamped(&path) {
            Ok(read) => read,
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
            stamp,
        }))
    }

    /// Reads and decrypts a profile's tokens; `None` when the profile has no token file. The
    /// key is resolved only when there is a file to decrypt (no passphrase prompt otherwise).
    pub fn load(&self, profile: &str, source: &KeySource) -> Result<Option<StoredTokens>> {
        match self.read_sealed(profile)? {
            Some(sealed) => sealed
                .open_with(self, source)
                .map(|(tokens, _)| Some(tokens)),
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

    /// Writes a generated identity as latchkey's key, unless one is there already: two first
    /// logins racing both end up with the one key that reached the disk first, which is
    /// returned.
    fn persist_identity(&self, identity: &age::x25519::Identity) -> Result<age::x25519::Identity> {
        let path = self.identity_path();
        make_private_dir(&self.dir)?;
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
                Ok(identity.clone())
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
    /// The stamp of the file these bytes were read from (see [`FileStamp`]).
    stamp: Option<FileStamp>,
}

/// What decrypting with a passphrase found.
pub enum Opened {
    Tokens(Box<StoredTokens>),
    /// The passphrase is not the one the file was written with (or the file was altered in a
    /// way that cannot be told apart): probably a typo, worth asking again.
    WrongKey,
}

impl Sealed {
    /// Decrypts and parses; any failure is exit 7, and the file is left as it is. Tokens of
    /// another profile are refused (see [`StoredTokens::check_file_of`]).
    pub fn open(&self, key: &Key) -> Result<StoredTokens> {
        let plaintext = Zeroizing::new(
            key.decrypt(&self.bytes)
                .map_err(|e| self.cannot_decrypt(decrypt_reason(&e)))?,
        );
        self.parse(&plaintext)
    }

    fn parse(&self, plaintext: &[u8]) -> Result<StoredTokens> {
        let tokens: StoredTokens = serde_json::from_slice(plaintext)
            .map_err(|e| self.cannot_decrypt(format!("unexpected contents ({e})")))?;
        tokens.check_file_of(&self.profile, &self.path)?;
        Ok(tokens)
    }

    /// Like [`Sealed::open`], but a key that does not fit is [`Opened::WrongKey`], not an error.
    pub fn try_open(&self, key: &Key) -> Result<Opened> {
        match key.decrypt(&self.bytes) {
            Err(
                age::DecryptError::DecryptionFailed
                | age::DecryptError::KeyDecryptionFailed
                | age::DecryptError::NoMatchingKeys,
            ) => Ok(Opened::WrongKey),
            Err(e) => Err(self.cannot_decrypt(decrypt_reason(&e))),
            Ok(plaintext) => {
                let plaintext = Zeroizing::new(plaintext);
                self.parse(&plaintext)
                    .map(|tokens| Opened::Tokens(Box::new(tokens)))
            }
        }
    }

    /// Opens with the profile's key, returning the key too (a refresh writes with it); a
    /// passphrase typed wrong is asked for again.
    pub fn open_with(&self, store: &TokenStore, source: &KeySource) -> Result<(StoredTokens, Key)> {
        if let KeySource::Passphrase { work_factor } = source {
            return passphrase::open(self, *work_factor);
        }
        let key = store.key_for_reading(source, &self.profile)?;
        self.open(&key).map(|tokens| (tokens, key))
    }

    fn cannot_decrypt(&self, why: String) -> Error {
        Error::store(format!("cannot decrypt {}: {why}", self.path.display())).hint(format!(
            "the file is damaged, or was written with another key or passphrase; run `latchkey login -p {}`",
            self.profile
        ))
    }

    /// The profile whose tokens these are.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The token file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether two reads saw the same file contents.
    pub fn same_as(&self, other: &Sealed) -> bool {
        self.bytes == other.bytes
    }

    /// Whether the file at its path is still the one these bytes were read from, by its stamp
    /// alone (one `lstat`, no read): never when either stamp is unknown.
    pub fn unchanged_on_disk(&self) -> bool {
        self.stamp
            .is_some_and(|stamp| FileStamp::at(&self.path) == Some(stamp))
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
            _ if is_symlink_refusal(&e) => symlink_error(path),
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
            token_endpoint: Some("https://id.example.com/token".into()),
            revocation_endpoint: None,
            refresh_refused: None,
            organization: None,
            apis: Vec::new(),
            added_roots: Some(Vec::new()),
            profile: None,
            hosts: None,
        }
    }

    fn generated(store: &TokenStore) -> Key {
        store.key_for_writing(&KeySource::Generated, "dev").unwrap()
    }

    fn load(store: &TokenStore) -> Result<Option<StoredTokens>> {
        store.load("dev", &KeySource::Generated)
    }

    #[test]
    fn a_generated_key_is_written_with_the_first_tokens_and_the_first_to_land_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        // Two first logins at once: each has a key of its own, and neither is on disk yet.
        let first = generated(&store);
        let second = generated(&store);
        assert!(matches!(first, Key::NewIdentity { .. }), "{first:?}");
        assert!(!dir.path().join("latchkey").exists(), "nothing is written");
        store.save("dev", &tokens("first"), &first).unwrap();
        assert!(store.identity_path().is_file());
        // The second saves with the key that landed, so its file is readable too.
        store.save("other", &tokens("second"), &second).unwrap();
        let other = store.load("other", &KeySource::Generated).unwrap().unwrap();
        assert_eq!(other.access_token.secret(), "second");
        assert!(matches!(generated(&store), Key::Identity { .. }));
    }

    #[test]
    fn the_login_lock_turns_a_second_holder_away_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        let held = store.login_lock("dev").unwrap();
        let err = store.login_lock("dev").unwrap_err();
        assert_eq!(err.exit_code(), crate::base::error::ExitCode::LoginAborted);
        // The command recorded is the test binary's first argument, whatever it is.
        let message = err.message();
        assert!(
            message.starts_with(&format!(
                "another login for profile `dev` is running (pid {}",
                std::process::id()
            )) && message.ends_with("); finish or cancel it first"),
            "{message}"
        );
        // Another profile's login, and the refresh lock, are not in the way.
        store.login_lock("prod").unwrap();
        store.lock("dev").unwrap();
        drop(held);
        store.login_lock("dev").unwrap();
    }

    #[test]
    fn round_trip_through_age() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        assert!(load(&store).unwrap().is_none());
        let key = generated(&store);
        let path = store.save("dev", &tokens("access-1"), &key).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
        assert!(!String::from_utf8_lossy(&bytes).contains("access-1"));
        let back = load(&store).unwrap().unwrap();
        assert_eq!(back.access_token.secret(), "access-1");
        // A second save replaces the file; the key stays the same.
        store
            .save("dev", &tokens("access-2"), &generated(&store))
            .unwrap();
        assert_eq!(
            load(&store).unwrap().unwrap().access_token.secret(),
            "access-2"
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(
            leftovers.len(),
            1,
            "temporary files left behind: {leftovers:?}"
        );
    }

    #[test]
    fn a_refused_refresh_token_is_kept_in_the_file_and_older_files_have_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        let key = generated(&store);
        let mut refused = tokens("a");
        refused.refresh_token = None;
        refused.refresh_refused = Some(RefreshRefused {
            at: 1_700_000_000,
            said: "invalid_grant: grant revoked".into(),
        });
        store.save("dev", &refused, &key).unwrap();
        assert_eq!(
            load(&store).unwrap().unwrap().refresh_refused,
            refused.refresh_refused
        );
        // A file written before the field existed (or by a login) reads as not refused; and
        // tokens that were never refused write no field at all.
        let plain = serde_json::to_value(tokens("a")).unwrap();
        assert!(plain.get("refresh_refused").is_none(), "{plain}");
        let back: StoredTokens = serde_json::from_value(plain).unwrap();
        assert_eq!(back.refresh_refused, None);
    }

    #[test]
    fn a_file_copied_over_another_profiles_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::at(dir.path().join("latchkey"));
        let key = generated(&store);
        let path = store.save("dev", &tokens("dev-access"), &key).unwrap();
        std::fs::copy(&path, store.token_path("prod")).unwrap();
        let err = store.load("prod", &KeySource::Generated).unwrap_err();
        assert_eq!(err.exit_code(), crate::base::error::ExitCode::TokenStore);
        assert!(
            err.message()
                .ends_with("holds the tokens of profile `dev`, not of `prod` (copied or renamed from another profile's file?); they are not used"),
            "{}",
            err.message()
        );
        assert!(err.hint_text().unwrap().contains("logout --local -p prod"));
        // The original is fine, and says whose it is.
        let dev = store.load("dev", &KeySource::Generated).unwrap().unwrap();
        assert_eq!(dev.profile.as_deref(), Some("dev"));
        // A file from before the name was recorded is taken, and named by its next save.
        let unnamed = serde_json::to_vec(&tokens("old")).unwrap();
        std::fs::write(store.token_path("prod"), key.encrypt(&unnamed).unwrap()).unwrap();
        let old = store.load("prod", &KeySource::Generated).unwrap().unwrap();
        assert_eq!(old.profile, None);
        store.save("prod", &old, &key).unwrap();
        let named = store.load("prod", &KeySource::Generated).unwrap().unwrap();
        assert_eq!(named.profile.as_deref(), Some("prod"));
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
        let err = load(&store).unwrap_err();
        assert_eq!(err.exit_code(), crate::base::error::ExitCode::TokenStore);
        assert!(
            err.message().starts_with("cannot decrypt"),
            "{}",
            err.message()
        );
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(
            load(&store)
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
        let sealed = store.read_sealed("dev").unwrap().unwrap();
        let Opened::Tokens(back) = sealed.try_open(&key("correct horse")).unwrap() else {
            panic!("the right passphrase opens the file")
        };
        assert_eq!(back.access_token.secret(), "p-1");
        assert!(matches!(
            sealed.try_open(&key("wrong")).unwrap(),
            Opened::WrongKey
        ));
        let err = sealed.open(&key("wrong")).unwrap_err();
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
        let back = store.load("dev", &source).unwrap().unwrap();
        assert_eq!(back.access_token.secret(), "u-1");
        // latchkey's own key cannot open it.
        let own = store.key_for_writing(&KeySource::Generated, "dev").unwrap();
        let err = store
            .read_sealed("dev")
            .unwrap()
            .unwrap()
            .open(&own)
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
            let err = load(&store).unwrap_err();
            assert_eq!(err.exit_code(), crate::base::error::ExitCode::TokenStore);
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
        assert!(load(&store).unwrap().is_some());
    }
}
