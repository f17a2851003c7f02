//! JSON Web Tokens as latchkey meets them: decoding the compact form (RFC 7515), reading claims
//! for display, and verifying a signature against the provider's key set (RFC 7517) with ring.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The ID token claims latchkey shows, stores or checks.
#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct IdClaims {
    pub sub: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    pub iss: Option<String>,
    #[serde(default)]
    pub aud: Audience,
    pub azp: Option<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub nonce: Option<String>,
    /// Auth0 organizations: the ID and name of the organization logged in to.
    pub org_id: Option<String>,
    pub org_name: Option<String>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn values(&self) -> Vec<&str> {
        match self {
            Audience::None => Vec::new(),
            Audience::One(a) => vec![a.as_str()],
            Audience::Many(list) => list.iter().map(String::as_str).collect(),
        }
    }
}

impl IdClaims {
    /// Who logged in, as a person would recognise them (see [`Person`]).
    pub fn person(&self) -> Person<'_> {
        Person {
            name: self.name.as_deref(),
            preferred_username: self.preferred_username.as_deref(),
            email: self.email.as_deref(),
            sub: self.sub.as_deref(),
        }
    }

    /// Who logged in, as a person would recognise it: email, else name, else subject.
    pub fn who(&self) -> Option<&str> {
        self.email
            .as_deref()
            .or(self.name.as_deref())
            .or(self.sub.as_deref())
    }
}

/// The claims that name a person, from an ID token or a UserInfo answer (OpenID Connect
/// Core §5.1), provider-supplied text to be shown escaped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Person<'a> {
    pub name: Option<&'a str>,
    pub preferred_username: Option<&'a str>,
    pub email: Option<&'a str>,
    pub sub: Option<&'a str>,
}

impl<'a> Person<'a> {
    /// Whether anything but the subject names the person (a bare `sub` such as `1` does not).
    pub fn named(&self) -> bool {
        [self.name, self.preferred_username, self.email]
            .iter()
            .any(|claim| claim.is_some_and(|c| !c.trim().is_empty()))
    }

    /// How to say who this is: the name, else the username, else the email, with the email
    /// (or username) beside a name when it differs; else `SUB at ISSUER`; `None` with nothing.
    /// Provider text, raw: escape it where it is printed.
    pub fn describe(&self, issuer: &str) -> Option<String> {
        let given = |claim: Option<&'a str>| claim.filter(|c| !c.trim().is_empty());
        let primary = given(self.name)
            .or(given(self.preferred_username))
            .or(given(self.email));
        match primary {
            Some(primary) => {
                let beside = [given(self.email), given(self.preferred_username)]
                    .into_iter()
                    .flatten()
                    .find(|other| *other != primary);
                Some(match beside {
                    Some(other) => format!("{primary} ({other})"),
                    None => primary.to_owned(),
                })
            }
            None => given(self.sub).map(|sub| format!("{sub} at {issuer}")),
        }
    }
}

/// The JOSE header fields that matter for verification.
#[derive(Debug, Deserialize, PartialEq)]
pub struct Header {
    pub alg: String,
    pub kid: Option<String>,
}

/// A compact JWS split and decoded, not yet verified.
#[derive(Debug)]
pub struct Jws {
    pub header: Header,
    payload: Vec<u8>,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jws {
    /// Splits `header.payload.signature` and decodes each part.
    pub fn parse(compact: &str) -> Result<Jws, String> {
        let mut parts = compact.split('.');
        let (Some(header_part), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("it is not a JWT (three dot-separated parts)".into());
        };
        let decode = |part: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(part.trim_end_matches('='))
                .map_err(|_| format!("its {what} is not base64url"))
        };
        let header_bytes = decode(header_part, "header")?;
        let header: Header = serde_json::from_slice(&header_bytes).map_err(|e| {
            format!(
                "its header is not a JOSE header: {}",
                crate::base::text::shown(&e.to_string())
            )
        })?;
        Ok(Jws {
            header,
            payload: decode(payload, "payload")?,
            signing_input: format!("{header_part}.{payload}"),
            signature: decode(signature, "signature")?,
        })
    }

    pub fn claims(&self) -> Result<IdClaims, String> {
        serde_json::from_slice(&self.payload).map_err(|e| {
            format!(
                "its payload is not a JSON object of claims: {}",
                crate::base::text::shown(&e.to_string())
            )
        })
    }

    /// Verifies the signature with the key set; the key is chosen by `kid`, or the only key
    /// that fits the algorithm when there is no `kid`.
    pub fn verify(&self, keys: &Jwks) -> Result<(), VerifyError> {
        let alg = self.header.alg.as_str();
        let algorithm = Algorithm::from_name(alg)?;
        let candidates: Vec<&Jwk> = keys
            .keys
            .iter()
            .filter(|k| match &self.header.kid {
                Some(kid) => k.kid.as_deref() == Some(kid.as_str()),
                None => true,
            })
            .filter(|k| k.fits(algorithm))
            .collect();
        let key = match (candidates.as_slice(), &self.header.kid) {
            ([], Some(kid)) => return Err(VerifyError::UnknownKid(kid.clone())),
            ([], None) => return Err(VerifyError::NoKeyFor(alg.to_owned())),
            ([one], _) => *one,
            (_, None) => return Err(VerifyError::AmbiguousKey),
            ([first, ..], Some(_)) => *first,
        };
        if key.verify(algorithm, self.signing_input.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// `none` or an HMAC algorithm: a public client has no shared secret, so these prove nothing.
    Refused(String),
    Unsupported(String),
    UnknownKid(String),
    NoKeyFor(String),
    AmbiguousKey,
    BadSignature,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::Refused(alg) => write!(
                f,
                "it is signed with `{}`, which a public client must refuse",
                shown(alg)
            ),
            VerifyError::Unsupported(alg) => {
                write!(f, "its algorithm `{}` is not supported", shown(alg))
            }
            VerifyError::UnknownKid(kid) => write!(
                f,
                "it names key `{}`, which the provider's key set does not have",
                shown(kid)
            ),
            VerifyError::NoKeyFor(alg) => {
                write!(f, "the provider's key set has no key for `{}`", shown(alg))
            }
            VerifyError::AmbiguousKey => {
                f.write_str("it names no key and the provider's key set has several")
            }
            VerifyError::BadSignature => f.write_str("its signature does not verify"),
        }
    }
}

/// Longest header value (`alg`, `kid`) shown in a message.
const MAX_SHOWN_HEADER_LEN: usize = 100;

/// A header value for a message: it comes from the token before anything vouches for it, so
/// control characters are escaped (no escape sequences reach the terminal) and it is cut short.
fn shown(value: &str) -> String {
    crate::base::text::shown_within(value, MAX_SHOWN_HEADER_LEN)
}

/// The signature algorithms latchkey verifies (asymmetric only).
#[derive(Debug, Clone, Copy)]
enum Algorithm {
    Rsa(&'static ring::signature::RsaParameters),
    Ecdsa(
        &'static ring::signature::EcdsaVerificationAlgorithm,
        &'static str,
    ),
    EdDsa,
}

impl Algorithm {
    fn from_name(alg: &str) -> Result<Algorithm, VerifyError> {
        use ring::signature as s;
        Ok(match alg {
            "RS256" => Algorithm::Rsa(&s::RSA_PKCS1_2048_8192_SHA256),
            "RS384" => Algorithm::Rsa(&s::RSA_PKCS1_2048_8192_SHA384),
            "RS512" => Algorithm::Rsa(&s::RSA_PKCS1_2048_8192_SHA512),
            "PS256" => Algorithm::Rsa(&s::RSA_PSS_2048_8192_SHA256),
            "PS384" => Algorithm::Rsa(&s::RSA_PSS_2048_8192_SHA384),
            "PS512" => Algorithm::Rsa(&s::RSA_PSS_2048_8192_SHA512),
            "ES256" => Algorithm::Ecdsa(&s::ECDSA_P256_SHA256_FIXED, "P-256"),
            "ES384" => Algorithm::Ecdsa(&s::ECDSA_P384_SHA384_FIXED, "P-384"),
            "EdDSA" => Algorithm::EdDsa,
            none if none.eq_ignore_ascii_case("none") => {
                return Err(VerifyError::Refused(none.to_owned()));
            }
            hmac if hmac.starts_with("HS") => return Err(VerifyError::Refused(hmac.to_owned())),
            other => return Err(VerifyError::Unsupported(other.to_owned())),
        })
    }
}

/// A JSON Web Key Set.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One public key; fields for RSA (`n`, `e`), EC (`crv`, `x`, `y`) and OKP (`crv`, `x`).
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct Jwk {
    pub kty: String,
    pub kid: Option<String>,
    #[serde(rename = "use")]
    pub use_: Option<String>,
    pub alg: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

impl Jwk {
    fn fits(&self, algorithm: Algorithm) -> bool {
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return false;
        }
        match algorithm {
            Algorithm::Rsa(_) => self.kty == "RSA",
            Algorithm::Ecdsa(_, curve) => self.kty == "EC" && self.crv.as_deref() == Some(curve),
            Algorithm::EdDsa => self.kty == "OKP" && self.crv.as_deref() == Some("Ed25519"),
        }
    }

    fn verify(&self, algorithm: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        let field = |v: &Option<String>| {
            v.as_deref()
                .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
        };
        match algorithm {
            Algorithm::Rsa(params) => {
                let (Some(n), Some(e)) = (field(&self.n), field(&self.e)) else {
                    return false;
                };
                ring::signature::RsaPublicKeyComponents { n, e }
                    .verify(params, message, signature)
                    .is_ok()
            }
            Algorithm::Ecdsa(algorithm, _) => {
                let (Some(x), Some(y)) = (field(&self.x), field(&self.y)) else {
                    return false;
                };
                // SEC 1 uncompressed point: 0x04 || X || Y.
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                ring::signature::UnparsedPublicKey::new(algorithm, point)
                    .verify(message, signature)
                    .is_ok()
            }
            Algorithm::EdDsa => field(&self.x).is_some_and(|x| {
                ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, x)
                    .verify(message, signature)
                    .is_ok()
            }),
        }
    }
}

/// Decodes the claims of a JWT without verifying it: for showing who is logged in from a token
/// that was verified when it was stored.
pub fn unverified_claims(jwt: &str) -> Result<IdClaims, String> {
    Jws::parse(jwt)?.claims()
}

#[cfg(test)]
pub mod test_keys {
    //! An ES256 key pair and a signer, for tests that need real signatures.
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

    pub struct TestKey {
        pair: EcdsaKeyPair,
        pub kid: String,
    }

    impl TestKey {
        pub fn generate(kid: &str) -> TestKey {
            let rng = ring::rand::SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap();
            TestKey {
                pair,
                kid: kid.into(),
            }
        }

        pub fn jwk(&self) -> Jwk {
            let point = self.pair.public_key().as_ref();
            Jwk {
                kty: "EC".into(),
                kid: Some(self.kid.clone()),
                use_: Some("sig".into()),
                alg: Some("ES256".into()),
                n: None,
                e: None,
                crv: Some("P-256".into()),
                x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
                y: Some(URL_SAFE_NO_PAD.encode(&point[33..65])),
            }
        }

        /// A compact JWS over `claims` with the given header.
        pub fn sign(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let signature = self
                .pair
                .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
                .unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_keys::TestKey;
    use super::*;
    use serde_json::json;

    fn unsigned(payload: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn reads_the_claims() {
        let claims = unverified_claims(&unsigned(
            r#"{"sub":"alice","email":"a@example.com","exp":5,"aud":["x","y"]}"#,
        ))
        .unwrap();
        assert_eq!(claims.sub.as_deref(), Some("alice"));
        assert_eq!(claims.who(), Some("a@example.com"));
        assert_eq!(claims.exp, Some(5));
        assert_eq!(claims.aud.values(), ["x", "y"]);
    }

    #[test]
    fn a_person_is_named_by_name_username_email_then_subject_at_issuer() {
        let person = |name, preferred_username, email, sub| Person {
            name,
            preferred_username,
            email,
            sub,
        };
        let issuer = "https://idp.example";
        let all = person(
            Some("Alice"),
            Some("alice"),
            Some("a@example.com"),
            Some("1"),
        );
        assert_eq!(
            all.describe(issuer).as_deref(),
            Some("Alice (a@example.com)")
        );
        let user = person(None, Some("alice"), None, Some("1"));
        assert_eq!(user.describe(issuer).as_deref(), Some("alice"));
        let same = person(Some("a@example.com"), None, Some("a@example.com"), None);
        assert_eq!(same.describe(issuer).as_deref(), Some("a@example.com"));
        let bare = person(None, None, Some(" "), Some("1"));
        assert!(!bare.named());
        assert_eq!(
            bare.describe(issuer).as_deref(),
            Some("1 at https://idp.example")
        );
        assert_eq!(person(None, None, None, None).describe(issuer), None);
    }

    #[test]
    fn refuses_what_is_not_a_jwt() {
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "a.!!!.c",
            &unsigned("[1,2]"),
            &unsigned("not json"),
        ] {
            assert!(unverified_claims(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn verifies_es256_by_kid() {
        let key = TestKey::generate("k1");
        let other = TestKey::generate("k2");
        let jwks = Jwks {
            keys: vec![other.jwk(), key.jwk()],
        };
        let token = key.sign(&json!({"alg": "ES256", "kid": "k1"}), &json!({"sub": "a"}));
        assert_eq!(Jws::parse(&token).unwrap().verify(&jwks), Ok(()));
        // Signed by another key than the kid says.
        let forged = other.sign(&json!({"alg": "ES256", "kid": "k1"}), &json!({"sub": "a"}));
        assert_eq!(
            Jws::parse(&forged).unwrap().verify(&jwks),
            Err(VerifyError::BadSignature)
        );
        let unknown = key.sign(&json!({"alg": "ES256", "kid": "k9"}), &json!({}));
        assert_eq!(
            Jws::parse(&unknown).unwrap().verify(&jwks),
            Err(VerifyError::UnknownKid("k9".into()))
        );
        // A tampered payload breaks the signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(r#"{"sub":"mallory"}"#);
        parts[1] = &evil;
        assert_eq!(
            Jws::parse(&parts.join(".")).unwrap().verify(&jwks),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn header_values_in_messages_are_escaped_and_short() {
        let shown = VerifyError::Unsupported(format!("E\u{1b}[2J{}", "S".repeat(500))).to_string();
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert!(shown.contains(r"E\u{1b}[2JSSS"), "{shown}");
        assert!(shown.len() < 200, "{}", shown.len());
        assert_eq!(
            VerifyError::UnknownKid("k1".into()).to_string(),
            "it names key `k1`, which the provider's key set does not have"
        );
    }

    #[test]
    fn refuses_none_and_hmac() {
        let jwks = Jwks {
            keys: vec![TestKey::generate("k").jwk()],
        };
        for alg in ["none", "None", "HS256", "HS512"] {
            let token = format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(json!({"alg": alg}).to_string()),
                URL_SAFE_NO_PAD.encode("{}")
            );
            assert!(
                matches!(
                    Jws::parse(&token).unwrap().verify(&jwks),
                    Err(VerifyError::Refused(_))
                ),
                "{alg}"
            );
        }
    }
}
