//! Newtypes for secret values (tokens, codes, PKCE verifier, state, nonce, passphrases, a
//! client secret).
//!
//! Each one's `Debug` prints only its type name, so a secret can sit inside any struct that is
//! logged or debug-printed; the value is reached only through the explicit `.secret()` accessor,
//! and the memory is wiped on drop.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use zeroize::Zeroize;

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            /// The secret value itself: call sites that need it say so explicitly.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(redacted)"))
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map($name)
            }
        }
    };
}

secret_string!(
    /// An OAuth access token (RFC 6749 §1.4).
    AccessToken
);
secret_string!(
    /// An OAuth refresh token (RFC 6749 §1.5).
    RefreshToken
);
secret_string!(
    /// An OpenID Connect ID token (a JWT).
    IdToken
);
secret_string!(
    /// An authorization code from the authorization response (RFC 6749 §4.1.2).
    AuthorizationCode
);
secret_string!(
    /// A device code (RFC 8628 §3.2): whoever holds it can collect the tokens.
    DeviceCode
);
secret_string!(
    /// The PKCE code verifier (RFC 7636 §4.1).
    PkceVerifier
);
secret_string!(
    /// The CSRF `state` sent with the authorization request.
    State
);
secret_string!(
    /// The OpenID Connect `nonce` bound into the ID token.
    Nonce
);
secret_string!(
    /// A passphrase that protects the token store.
    Passphrase
);
secret_string!(
    /// An OAuth client secret (RFC 6749 §2.3.1), for the installed-app clients whose provider
    /// demands one even with PKCE. Not confidential on a user's machine, but never shown.
    ClientSecret
);
secret_string!(
    /// A token `latchkey agent` hands to a client: an access token or an ID token, never a
    /// refresh token. Its own type so that a logged or debug-printed answer shows no token.
    ServedToken
);

/// Compares two byte strings in time that depends only on their lengths, so comparing a
/// received `state` with ours leaks nothing about how much of it matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Bytes that may hold secrets (a response carrying tokens, an agent's answer), in memory
/// that is wiped when dropped.
pub type Wiped = zeroize::Zeroizing<Vec<u8>>;

/// Makes room in `buffer` for `additional` more bytes, growing it by hand: a `Vec` that grows by
/// itself frees its old allocation unwiped, leaving a copy of what it held behind. Here the
/// outgrown buffer is wiped as it is dropped.
pub fn reserve_wiped(buffer: &mut Wiped, additional: usize) {
    let needed = buffer.len().saturating_add(additional);
    if needed > buffer.capacity() {
        let mut grown = Wiped::new(Vec::with_capacity(needed.max(buffer.capacity() * 2)));
        grown.extend_from_slice(buffer);
        *buffer = grown;
    }
}

/// Appends `bytes` to `buffer` (see [`reserve_wiped`]).
pub fn extend_wiped(buffer: &mut Wiped, bytes: &[u8]) {
    reserve_wiped(buffer, bytes.len());
    buffer.extend_from_slice(bytes);
}

/// A writer into wiped memory (see [`reserve_wiped`]): for serializing what holds secrets.
pub struct WipedWriter(pub Wiped);

impl std::io::Write for WipedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        extend_wiped(&mut self.0, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads `reader` to its end, at most `limit` bytes (more is an `InvalidData` error), into
/// memory that is wiped when dropped, growth included (see [`extend_wiped`]).
pub fn read_wiped(reader: &mut impl std::io::Read, limit: usize) -> std::io::Result<Wiped> {
    let mut buffer = Wiped::new(Vec::with_capacity(limit.min(16 * 1024)));
    let mut chunk = zeroize::Zeroizing::new([0u8; 4096]);
    loop {
        let read = match reader.read(&mut chunk[..]) {
            Ok(0) => return Ok(buffer),
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buffer.len() + read > limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("more than {limit} bytes"),
            ));
        }
        extend_wiped(&mut buffer, &chunk[..read]);
    }
}

/// Wiped bytes as text, in the same wiped allocation; `None` (and wiped) when not UTF-8.
pub fn wiped_text(mut bytes: Wiped) -> Option<zeroize::Zeroizing<String>> {
    let owned = std::mem::take(&mut *bytes);
    match String::from_utf8(owned) {
        Ok(text) => Some(zeroize::Zeroizing::new(text)),
        Err(e) => {
            drop(Wiped::new(e.into_bytes()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiped_reads_are_bounded_and_keep_every_byte() {
        let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let read = read_wiped(&mut &body[..], 50_000).unwrap();
        assert_eq!(&read[..], &body[..]);
        let e = read_wiped(&mut &body[..], 49_999).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(
            wiped_text(Wiped::new(b"caf\xc3\xa9".to_vec()))
                .as_deref()
                .map(String::as_str),
            Some("caf\u{e9}")
        );
        assert!(wiped_text(Wiped::new(vec![0xff, 0xfe])).is_none());
    }

    #[test]
    fn debug_never_shows_the_value() {
        let token = AccessToken::new("eyJ-super-secret");
        let shown = format!("{token:?} {:?}", Some(State::new("st4te")));
        assert!(
            !shown.contains("super-secret") && !shown.contains("st4te"),
            "{shown}"
        );
        assert_eq!(shown, "AccessToken(redacted) Some(State(redacted))");
        assert_eq!(token.secret(), "eyJ-super-secret");
    }

    #[test]
    fn every_secret_type_is_redacted_in_debug() {
        let value = "s3cr3t-value";
        let shown = [
            format!("{:?}", AccessToken::new(value)),
            format!("{:?}", RefreshToken::new(value)),
            format!("{:?}", IdToken::new(value)),
            format!("{:?}", AuthorizationCode::new(value)),
            format!("{:?}", DeviceCode::new(value)),
            format!("{:?}", PkceVerifier::new(value)),
            format!("{:?}", State::new(value)),
            format!("{:?}", Nonce::new(value)),
            format!("{:?}", Passphrase::new(value)),
            format!("{:?}", ClientSecret::new(value)),
        ];
        for text in &shown {
            assert!(
                !text.contains(value) && text.ends_with("(redacted)"),
                "{text}"
            );
        }
    }

    #[test]
    fn serializes_as_the_plain_string() {
        let json = serde_json::to_string(&RefreshToken::new("r1")).unwrap();
        assert_eq!(json, "\"r1\"");
        let back: RefreshToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back.secret(), "r1");
    }

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
