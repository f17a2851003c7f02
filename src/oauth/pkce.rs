//! The per-login secrets: PKCE verifier and S256 challenge (RFC 7636), `state` and `nonce`.

use crate::base::secret::{Nonce, PkceVerifier, State};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 bytes from the OS RNG, base64url without padding: 43 characters, 256 bits.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Everything one authorization request needs that must not be guessable.
#[derive(Debug)]
pub struct LoginSecrets {
    pub verifier: PkceVerifier,
    pub state: State,
    pub nonce: Nonce,
}

/// A fresh PKCE code verifier: for the device grant, which needs no state or nonce.
pub fn new_verifier() -> PkceVerifier {
    PkceVerifier::new(random_token())
}

impl LoginSecrets {
    pub fn generate() -> LoginSecrets {
        LoginSecrets {
            verifier: new_verifier(),
            state: State::new(random_token()),
            nonce: Nonce::new(random_token()),
        }
    }

    /// The `code_challenge` for `code_challenge_method=S256`.
    pub fn challenge(&self) -> String {
        challenge_s256(&self.verifier)
    }
}

/// BASE64URL(SHA256(ASCII(code_verifier))), RFC 7636 §4.2.
pub fn challenge_s256(verifier: &PkceVerifier) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.secret().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            challenge_s256(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_is_43_unreserved_chars_and_values_differ() {
        let a = LoginSecrets::generate();
        let b = LoginSecrets::generate();
        for value in [a.verifier.secret(), a.state.secret(), a.nonce.secret()] {
            assert_eq!(value.len(), 43);
            assert!(
                value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
        }
        assert_ne!(a.verifier, b.verifier);
        assert_ne!(a.state, b.state);
        assert_ne!(a.state.secret(), a.nonce.secret());
    }
}
