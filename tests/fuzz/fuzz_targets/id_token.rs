//! ID tokens: the compact JWS (jwt::Jws::parse), its claims, its signature against a small fixed
//! key set, and the whole of id_token::validate.
//!
//! The first byte picks what the rest is:
//! - 0: a compact token, verified against the fixed key set;
//! - 1: a JOSE header and a claims object (JSON, one line each), which the target signs with the
//!   set's Ed25519 key, so that fuzzing reaches the claim checks behind the signature;
//! - 2: a key set (JSON, one line) and a compact token verified against it, as a hostile
//!   provider's `jwks_uri` could serve.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey::base::secret::IdToken;
use latchkey::oauth::id_token::{Expected, validate};
use latchkey::oauth::jwt::{Jwks, Jws, unverified_claims};
use latchkey_fuzz::{assert_error_printable, assert_printable};
use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair};
use std::sync::OnceLock;

const ISSUER: &str = "https://idp.example/";
const CLIENT_ID: &str = "cli-123";
const NONCE: &str = "n0nce-8Hq2";
const NOW: u64 = 1_800_000_000;
/// validate's allowance for clock drift (id_token.rs's LEEWAY_SECS).
const LEEWAY_SECS: i128 = 120;

/// A signature refusal names at most a shortened `alg` or `kid`.
const MAX_VERIFY_MESSAGE_CHARS: usize = 200;

/// The Ed25519 key the target signs with (its public half is `ed-1` in the key set).
const ED25519_SEED: [u8; 32] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
    27, 28, 29, 30, 31, 32,
];

/// Public keys only (the private halves of the RSA and EC keys signed the seed corpus and are
/// not kept): one per algorithm family, an encryption key that must never verify, and a second
/// EC key under the same kid.
const KEY_SET: &str = r#"{"keys":[
 {"kty":"RSA","kid":"rsa-1","use":"sig","alg":"RS256","n":"nrSCbVlJ_G2TYUtaPriqZQrvERQMDi93RVKA_BtO_WpaVE6ZqpnvVS5RUx-t1iqH_G94bRO43g6VhbcsTcpckSnWZhnXQb6rUT7YAuEdoegFyPv8zUu5Q2dPyluv9zN0L5TuIE9SqqD7DbtgwlXY95yQ2AVK2q-QfdTAg0Q3vpC36OpjTN1Vuj_YcmwDpDtfCnfi9jlzltp_dPQGRWLiNjhK3AiTOe5NSxmuoNhPkrOSgHNW3Q6b7tmy8oQ2S0BGCpXvaYPTwGu_4GhVQY48l4PdQmnWmEYy8Nuz0yYc121Q10Mq0EMGzmWma9OL6WxS55mveySRkEjqETPN1vjw6Q","e":"AQAB"},
 {"kty":"EC","kid":"ec-1","use":"sig","alg":"ES256","crv":"P-256","x":"gLKv_9qIHVtwJGTaqFO_hRmS4UxI9Hb_s73udZk4AYY","y":"334qW5mNYxf9spe5rjW8JQdr75pupIawKVT3_oCFGAM"},
 {"kty":"EC","kid":"ec-1","use":"enc","crv":"P-256","x":"gLKv_9qIHVtwJGTaqFO_hRmS4UxI9Hb_s73udZk4AYY","y":"334qW5mNYxf9spe5rjW8JQdr75pupIawKVT3_oCFGAM"},
 {"kty":"OKP","kid":"ed-1","crv":"Ed25519","x":"ED25519_X"}
]}"#;

struct Keys {
    signer: Ed25519KeyPair,
    set: Jwks,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let signer = Ed25519KeyPair::from_seed_unchecked(&ED25519_SEED).expect("a valid seed");
        let x = URL_SAFE_NO_PAD.encode(signer.public_key().as_ref());
        let set = serde_json::from_str(&KEY_SET.replace("ED25519_X", &x)).expect("the key set");
        Keys { signer, set }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let keys = keys();
    let nonce = (selector / 3 % 2 == 0).then_some(NONCE);
    match selector % 3 {
        0 => check_token(&text, &keys.set, nonce),
        1 => {
            let (header, claims) = text.split_once('\n').unwrap_or((&text, "{}"));
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(claims)
            );
            let signature = keys.signer.sign(input.as_bytes());
            let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
            check_token(&token, &keys.set, nonce);
        }
        _ => {
            let (set, token) = text.split_once('\n').unwrap_or((&text, ""));
            if let Ok(set) = serde_json::from_str::<Jwks>(set) {
                check_token(token, &set, nonce);
            }
        }
    }
});

fn check_token(token: &str, set: &Jwks, nonce: Option<&str>) {
    let parsed = Jws::parse(token);
    if let Ok(jws) = &parsed {
        assert_eq!(token.matches('.').count(), 2);
        let _ = jws.claims();
        if let Err(refusal) = jws.verify(set) {
            let shown = refusal.to_string();
            assert_printable("verification error", &shown);
            assert!(shown.chars().count() <= MAX_VERIFY_MESSAGE_CHARS, "{shown}");
        }
    }
    let _ = unverified_claims(token);
    let expected = Expected {
        issuer: ISSUER,
        client_id: CLIENT_ID,
        nonce,
        organization: None,
        now: NOW,
    };
    let mut fetches = 0;
    let result = validate(&IdToken::new(token), &expected, &mut |_| {
        fetches += 1;
        Ok(set.clone())
    });
    // The key set is fetched anew at most once, for a token naming an unknown key.
    assert!(fetches <= 2, "{fetches} fetches");
    let claims = match result {
        Ok(claims) => claims,
        Err(error) => {
            assert_error_printable(&error);
            return;
        }
    };
    let jws = parsed.expect("a validated token parses");
    assert_eq!(jws.verify(set), Ok(()));
    assert!(!["none", "HS256", "HS384", "HS512"].contains(&jws.header.alg.as_str()));
    assert_eq!(claims.iss.as_deref(), Some(ISSUER));
    let audiences = claims.aud.values();
    assert!(audiences.contains(&CLIENT_ID));
    if audiences.len() > 1 || claims.azp.is_some() {
        assert_eq!(claims.azp.as_deref(), Some(CLIENT_ID));
    }
    let exp = claims.exp.expect("an accepted token has exp");
    assert!(i128::from(exp) + LEEWAY_SECS > i128::from(NOW), "exp {exp}");
    if let Some(iat) = claims.iat {
        assert!(
            i128::from(iat) <= i128::from(NOW) + LEEWAY_SECS,
            "iat {iat}"
        );
    }
    if let Some(nonce) = nonce {
        assert_eq!(claims.nonce.as_deref(), Some(nonce));
    }
}
