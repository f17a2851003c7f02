//! ID tokens that must be refused. A real provider never issues these, so a small provider of
//! our own (in-process, on 127.0.0.1) issues them: wrong signature, unknown key, `alg: none`,
//! HS256, wrong audience, wrong issuer, expired, wrong nonce — and a discovery document whose
//! issuer does not match. Each is refused with its own message, exit 5, and nothing is stored.

use crate::support;

use crate::support::fake::{self, CLIENT_ID, json_response};
use crate::support::{World, query_param};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// A signing key of the fake provider.
struct Signer {
    pair: EcdsaKeyPair,
    kid: &'static str,
}

impl Signer {
    fn new(kid: &'static str) -> Signer {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Signer { pair, kid }
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
               "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

/// What the fake provider answers next.
#[derive(Default)]
struct Script {
    id_token: Option<String>,
    discovery_issuer: Option<String>,
}

/// A provider of our own that issues whatever ID token the test scripts.
struct FakeProvider {
    issuer: String,
    script: Arc<Mutex<Script>>,
}

impl FakeProvider {
    fn start(published_key: Value) -> FakeProvider {
        let script = Arc::new(Mutex::new(Script::default()));
        let shared = script.clone();
        let issuer = fake::serve(move |issuer, path| {
            let script = shared.lock().unwrap();
            match path {
                "/.well-known/openid-configuration" => json_response(
                    &fake::discovery(issuer, script.discovery_issuer.as_deref().unwrap_or(issuer))
                        .to_string(),
                ),
                "/jwks" => json_response(&json!({ "keys": [published_key] }).to_string()),
                "/token" => json_response(
                    &json!({
                        "access_token": "fake-access-token",
                        "token_type": "Bearer",
                        "expires_in": 3600,
                        "id_token": script.id_token.clone(),
                    })
                    .to_string(),
                ),
                _ => fake::not_found(),
            }
        });
        FakeProvider { issuer, script }
    }

    fn next_id_token(&self, token: String) {
        self.script.lock().unwrap().id_token = Some(token);
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Runs a paste login against the fake provider, issuing the token `make(nonce)` builds.
fn login_with(fake: &FakeProvider, make: impl FnOnce(&str) -> String) -> (support::Run, World) {
    let world = World::new();
    world.write_profiles(&fake::profile(&fake.issuer, "redirect_port = 0\n"));
    let run = fake::paste_login(&world, &fake.issuer, |url| {
        fake.next_id_token(make(&query_param(url, "nonce")));
    });
    (run, world)
}

fn claims(issuer: &str, nonce: &str) -> Value {
    json!({"iss": issuer, "sub": "mallory", "aud": CLIENT_ID, "exp": now() + 600, "iat": now(), "nonce": nonce})
}

fn header(kid: &str) -> Value {
    json!({"alg": "ES256", "kid": kid, "typ": "JWT"})
}

fn assert_refused(run: support::Run, world: &World, needle: &str) {
    let run = run.expect(5);
    run.stderr_has("the ID token failed validation")
        .stderr_has(needle);
    assert!(!world.token_file().exists(), "nothing may be stored");
}

#[test]
fn a_well_signed_token_is_accepted() {
    let key = Signer::new("good");
    let fake = FakeProvider::start(key.jwk());
    let issuer = fake.issuer.clone();
    let (run, world) = login_with(&fake, |nonce| {
        key.sign(&header("good"), &claims(&issuer, nonce))
    });
    run.expect(0).stderr_has("Logged in as mallory");
    assert!(world.token_file().exists());
}

#[test]
fn bad_id_tokens_are_refused_each_with_its_own_message() {
    let key = Signer::new("good");
    let impostor = Signer::new("good");
    let fake = FakeProvider::start(key.jwk());
    let issuer = fake.issuer.clone();
    type Make<'a> = Box<dyn FnOnce(&str) -> String + 'a>;
    let with = |field: &'static str, value: Value| -> Make<'_> {
        let issuer = issuer.clone();
        let key = &key;
        Box::new(move |nonce: &str| {
            let mut c = claims(&issuer, nonce);
            c[field] = value;
            key.sign(&header("good"), &c)
        })
    };
    let unsigned = |alg: &'static str| -> Make<'_> {
        let issuer = issuer.clone();
        Box::new(move |nonce: &str| {
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(json!({"alg": alg}).to_string()),
                URL_SAFE_NO_PAD.encode(claims(&issuer, nonce).to_string())
            )
        })
    };
    let cases: Vec<(&str, Make<'_>, &str)> = vec![
        (
            "wrong signature",
            Box::new(|nonce: &str| impostor.sign(&header("good"), &claims(&issuer, nonce))),
            "signature: its signature does not verify",
        ),
        (
            "unknown key",
            Box::new(|nonce: &str| key.sign(&header("rotated-away"), &claims(&issuer, nonce))),
            "does not have",
        ),
        (
            "alg none",
            unsigned("none"),
            "`none`, which a public client must refuse",
        ),
        (
            "HS256",
            unsigned("HS256"),
            "`HS256`, which a public client must refuse",
        ),
        (
            "wrong audience",
            with("aud", json!("another-client")),
            "audience",
        ),
        (
            "wrong issuer",
            with("iss", json!("https://evil.example/")),
            "issuer",
        ),
        ("expired", with("exp", json!(now() - 3600)), "expiry"),
        (
            "wrong nonce",
            with("nonce", json!("not-the-one-sent")),
            "nonce",
        ),
    ];
    for (name, make, needle) in cases {
        let (run, world) = login_with(&fake, make);
        assert!(
            run.stderr.contains(needle),
            "{name}: expected {needle:?} in:\n{}",
            run.stderr
        );
        assert_refused(run, &world, needle);
    }
}

#[test]
fn a_discovery_document_for_another_issuer_is_refused() {
    let key = Signer::new("good");
    let fake = FakeProvider::start(key.jwk());
    fake.script.lock().unwrap().discovery_issuer = Some("https://someone-else.example".into());
    let world = World::new();
    world.write_profiles(&fake::profile(&fake.issuer, ""));
    let run = world
        .run(&["login", "--no-browser", "--timeout", "5"])
        .expect(3);
    run.stderr_has("\"https://someone-else.example\"")
        .stderr_has("must match exactly");
}
