//! ID tokens that must be refused. A real provider never issues these, so a small provider of
//! our own (in-process, on 127.0.0.1) issues them: wrong signature, unknown key, `alg: none`,
//! HS256, wrong audience, wrong issuer, expired, wrong nonce — and a discovery document whose
//! issuer does not match. Each is refused with its own message, exit 5, and nothing is stored.

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{Session, World, query_param};

const CLIENT_ID: &str = "fake-client";

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
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let script = Arc::new(Mutex::new(Script::default()));
        let (shared, base) = (script.clone(), issuer.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (shared, base, key) = (shared.clone(), base.clone(), published_key.clone());
                std::thread::spawn(move || serve(stream, &shared, &base, &key));
            }
        });
        FakeProvider { issuer, script }
    }

    fn next_id_token(&self, token: String) {
        self.script.lock().unwrap().id_token = Some(token);
    }
}

fn serve(mut stream: TcpStream, script: &Mutex<Script>, issuer: &str, key: &Value) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Head, then as much body as Content-Length says.
    let head_end = loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let script = script.lock().unwrap();
    let body = match path.as_str() {
        "/.well-known/openid-configuration" => json!({
            "issuer": script.discovery_issuer.clone().unwrap_or_else(|| issuer.to_owned()),
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
        }),
        "/jwks" => json!({ "keys": [key] }),
        "/token" => json!({
            "access_token": "fake-access-token",
            "token_type": "Bearer",
            "expires_in": 3600,
            "id_token": script.id_token.clone(),
        }),
        _ => json!({"error": "not_found"}),
    }
    .to_string();
    let status = if path == "/token" || path == "/jwks" || path.starts_with("/.well-known") {
        "200 OK"
    } else {
        "404 Not Found"
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
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
    world.write_profiles(&format!(
        "[profiles.local]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nredirect_port = 0\n",
        fake.issuer
    ));
    let mut session = Session::start(&world, &["login", "--no-loopback", "--no-browser"], &[]);
    let prefix = format!("{}/authorize?", fake.issuer);
    let url = session.wait_line("authorize URL", |l| l.starts_with(&prefix));
    fake.next_id_token(make(&query_param(&url, "nonce")));
    session.paste(&format!(
        "code=fake-code&state={}",
        query_param(&url, "state")
    ));
    (session.finish(), world)
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
    assert!(
        !world.data_home().join("latchkey/tokens/local.age").exists(),
        "nothing may be stored"
    );
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
    assert!(world.data_home().join("latchkey/tokens/local.age").exists());
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
    world.write_profiles(&format!(
        "[profiles.local]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n",
        fake.issuer
    ));
    let run = world
        .run(&["login", "--no-browser", "--timeout", "5"])
        .expect(3);
    run.stderr_has("\"https://someone-else.example\"")
        .stderr_has("must match exactly");
}
