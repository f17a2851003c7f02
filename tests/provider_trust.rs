//! What a broken or hostile provider sends cannot leak a token, crash latchkey, or get an
//! unchecked login through (issue 14, items 3, 4, 6 and 8). A provider of the test's own on
//! 127.0.0.1 sends what the real one in `tests/idp` never does: token answers that hold tokens
//! but fail to parse, numbers up to and beyond `u64::MAX`, no ID token where one is due, and an
//! ID token that a refresh does not renew.

use crate::support;

use crate::support::fake::{self, CLIENT_ID, http_response, json_response};
use crate::support::{Run, World, query_param};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Secret-shaped values the fake hands out: none may appear in anything latchkey prints.
const ACCESS: &str = "at-S3cr3t-Zq8xW2pL9mK4vB7n";
const REFRESH: &str = "rt-S3cr3t-Hc5tY1uJ6oP3aS0d";
const DEVICE_CODE: &str = "dc-S3cr3t-Lk2jH4gF6dS8aQ0w";
/// What every secret above has in common, to look for in the output.
const MARK: &str = "S3cr3t";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The fake's answer to one request: its path and how many requests that path had before.
type Answer = dyn Fn(&str, &str, usize) -> Vec<u8> + Send + Sync;

/// A provider of the test's own: discovery (with a device endpoint) and the key set are always
/// served; every other path is answered by the test's function.
struct Fake {
    issuer: String,
    calls: Arc<Mutex<HashMap<String, usize>>>,
}

impl Fake {
    fn start(
        jwk: Option<Value>,
        answer: impl Fn(&str, &str, usize) -> Vec<u8> + Send + Sync + 'static,
    ) -> Fake {
        let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let counted = calls.clone();
        let answer: Arc<Answer> = Arc::new(answer);
        let issuer = fake::serve(move |issuer, path| {
            let route = path.split('?').next().unwrap_or(path).to_owned();
            let nth = {
                let mut calls = counted.lock().unwrap_or_else(|p| p.into_inner());
                let n = calls.entry(route.clone()).or_default();
                *n += 1;
                *n - 1
            };
            match route.as_str() {
                "/.well-known/openid-configuration" => {
                    let mut doc = fake::discovery(issuer, issuer);
                    doc["device_authorization_endpoint"] = json!(format!("{issuer}/device"));
                    json_response(&doc.to_string())
                }
                "/jwks" => {
                    json_response(&json!({ "keys": jwk.iter().collect::<Vec<_>>() }).to_string())
                }
                _ => answer(issuer, &route, nth),
            }
        });
        Fake { issuer, calls }
    }

    fn calls(&self, path: &str) -> usize {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// A world with one profile `local` for this fake (and `extra` lines).
    fn world(&self, extra: &str) -> World {
        let world = World::new();
        world.write_profiles(&fake::profile(
            &self.issuer,
            &format!("redirect_port = 0\nhttp_timeout = 3\n{extra}"),
        ));
        world
    }
}

/// A raw HTTP response with extra header lines.
fn response_with(status: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Plain OAuth scopes: no ID token is due.
const NO_OPENID: &str = "scopes = \"api offline_access\"\n";

fn assert_no_secret(what: &str, run: &Run) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains(MARK) && !text.contains("eyJ"),
            "{what}: a token reached {stream}:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Item 3: no token ever reaches the terminal.

/// A 200 answer that holds tokens but fails to parse was quoted whole. Now it is described, and
/// a non-2xx body that holds tokens is quoted only redacted.
#[test]
fn a_token_answer_that_fails_to_parse_is_described_not_quoted() {
    let jwt = format!(
        "{}.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"sub":"alice","exp":9999999999}"#)
    );
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            // A list of strings is read (joined with spaces); one with a number in it is not.
            "scope as an array with a number",
            json_response(&format!(
                r#"{{"access_token":"{ACCESS}","refresh_token":"{REFRESH}","id_token":"{jwt}","token_type":"Bearer","scope":["api",5]}}"#
            )),
            &[
                "the token endpoint answered HTTP 200 with something that is not a token response: its scope is neither a string nor a list of strings (content type application/json;",
                "body is not shown",
            ],
        ),
        (
            "no access_token",
            json_response(&format!(
                r#"{{"token":"{ACCESS}","refresh_token":"{REFRESH}"}}"#
            )),
            &["it has no access_token (content type application/json;"],
        ),
        (
            "form-encoded",
            http_response(
                "200 OK",
                "application/x-www-form-urlencoded",
                &format!("access_token={ACCESS}&refresh_token={REFRESH}&token_type=bearer"),
            ),
            &["it is not JSON (content type application/x-www-form-urlencoded;"],
        ),
        (
            "a 502 that holds tokens",
            http_response(
                "502 Bad Gateway",
                "text/plain",
                &format!(
                    "upstream said: access_token={ACCESS} id_token={jwt} {{\"refresh_token\": \"{REFRESH}\"}}"
                ),
            ),
            &[
                "error: the token endpoint failed with HTTP 502: upstream said: access_token=[redacted] id_token=[redacted]",
            ],
        ),
    ];
    for (name, raw, needles) in cases {
        let fake = Fake::start(None, move |_, path, _| match path {
            "/token" => raw.clone(),
            _ => fake::not_found(),
        });
        let world = fake.world(NO_OPENID);
        let run = fake::paste_login(&world, &fake.issuer, |_| {});
        assert_eq!(run.code, 6, "{name}: {run:?}");
        assert_no_secret(name, &run);
        for needle in needles {
            assert!(
                run.stderr.contains(needle),
                "{name}: no {needle:?} in\n{}",
                run.stderr
            );
        }
        assert!(
            !world.token_file().exists(),
            "{name}: nothing may be stored"
        );
    }
}

/// The same for the device endpoint: its 200 answer holds a device code.
#[test]
fn a_device_answer_that_fails_to_parse_is_described_not_quoted() {
    let fake = Fake::start(None, |_, path, _| match path {
        "/device" => json_response(&format!(
            r#"{{"device_code":"{DEVICE_CODE}","user_code":"ABCD-EFGH","verification_uri":"https://x.example/d","expires_in":"soon"}}"#
        )),
        _ => fake::not_found(),
    });
    let world = fake.world(NO_OPENID);
    let run = world.run(&["login", "--device", "--no-browser"]).expect(6);
    assert_no_secret("device", &run);
    run.stderr_has("is not a device authorization response: its expires_in is not a number of seconds (content type application/json;");
}

// ---------------------------------------------------------------------------------------------
// Item 4: provider numbers cannot crash latchkey.

/// `"interval": 9223372036854775808` panicked ("overflow when adding duration to instant").
/// Now the interval is capped at a minute: the login waits until --timeout, exit 8.
#[test]
fn a_huge_device_interval_is_capped() {
    let fake = Fake::start(None, |_, path, _| match path {
        "/device" => json_response(&format!(
            r#"{{"device_code":"{DEVICE_CODE}","user_code":"ABCD-EFGH","verification_uri":"https://x.example/d","expires_in":600,"interval":9223372036854775808}}"#
        )),
        "/token" => http_response(
            "400 Bad Request",
            "application/json",
            r#"{"error":"authorization_pending"}"#,
        ),
        _ => fake::not_found(),
    });
    let world = fake.world(NO_OPENID);
    let started = Instant::now();
    let run = world
        .run(&["login", "--device", "--no-browser", "--timeout", "2"])
        .expect(8);
    run.stderr_has("the login timed out after 2s");
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// `"expires_in": 18446744073709551615` of a device code panicked too, and so would a token
/// lifetime that large, or a `Date` in year 9999 if anything added to it. All are capped: the
/// login works, the tokens expire within ten years, the clock warning says "more than a year".
#[test]
fn huge_lifetimes_and_dates_are_capped() {
    let fake = Fake::start(None, |_, path, _| match path {
        "/device" => json_response(&format!(
            r#"{{"device_code":"{DEVICE_CODE}","user_code":"ABCD-EFGH","verification_uri":"https://x.example/d","expires_in":18446744073709551615,"interval":1}}"#
        )),
        // The device grant's tokens: a lifetime past u64, a clock in year 9999.
        "/token" => response_with(
            "200 OK",
            "date: Fri, 31 Dec 9999 23:59:59 GMT\r\n",
            &format!(
                r#"{{"access_token":"{ACCESS}","refresh_token":"{REFRESH}","token_type":"Bearer","expires_in":184467440737095516150000}}"#
            ),
        ),
        _ => fake::not_found(),
    });
    let world = fake.world(NO_OPENID);
    let run = world.run(&["login", "--device", "--no-browser"]).expect(0);
    run.stderr_has("warning: this host's clock is more than a year behind the identity provider's");
    assert_no_secret("device login", &run);
    let tokens = support::stored(&world).expect("stored tokens");
    let expires_at = tokens.expires_at.expect("an expiry");
    let ten_years = 10 * 365 * 24 * 3600;
    assert!(
        expires_at <= now() + ten_years && expires_at + 60 >= now() + ten_years,
        "expires_at {expires_at}"
    );
    world.run(&["status", "--json"]).expect(0);
    assert_eq!(world.run(&["token"]).expect(0).stdout.trim(), ACCESS);
}

/// A 503 asking to come back in more seconds than u64 holds was read as no `Retry-After` at all
/// and retried at once. It is a very long wait, capped, and so not waited for: one attempt.
#[test]
fn a_huge_retry_after_is_not_waited_for() {
    let fake = Fake::start(None, |_, path, nth| match (path, nth) {
        ("/token", 0) => json_response(&format!(
            r#"{{"access_token":"{ACCESS}","refresh_token":"{REFRESH}","token_type":"Bearer","expires_in":60}}"#
        )),
        ("/token", _) => response_with(
            "503 Service Unavailable",
            "retry-after: 99999999999999999999999999\r\n",
            r#"{"error":"temporarily_unavailable"}"#,
        ),
        _ => fake::not_found(),
    });
    let world = fake.world(NO_OPENID);
    fake::paste_login(&world, &fake.issuer, |_| {}).expect(0);
    support::age_tokens(&world, 10);
    let run = world.run(&["token", "--min-valid", "2h"]).expect(6);
    assert_eq!(
        fake.calls("/token"),
        2,
        "one login, one refresh attempt: {run:?}"
    );
    run.stderr_has("HTTP 503");
    assert!(!run.stderr.contains("attempts"), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------------
// Items 6 and 8: ID tokens.

/// The fake's signing key.
struct Signer(EcdsaKeyPair);

impl Signer {
    fn new() -> Signer {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Signer(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        )
    }

    fn jwk(&self) -> Value {
        let point = self.0.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
               "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
    }

    fn id_token(&self, issuer: &str, nonce: &str, exp: u64) -> String {
        let header = json!({"alg": "ES256", "kid": "k1", "typ": "JWT"});
        let claims = json!({"iss": issuer, "sub": "alice", "aud": CLIENT_ID, "exp": exp,
                            "iat": now(), "nonce": nonce});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .0
            .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

/// A fake that issues, at login, the ID token the test sets, and at every refresh new access
/// and refresh tokens but no ID token (as OpenID Connect Core §12.2 allows).
fn provider_that_does_not_renew_id_tokens(signer: &Signer) -> (Fake, Arc<Mutex<Option<String>>>) {
    let login_id_token: Arc<Mutex<Option<String>>> = Arc::default();
    let issued = login_id_token.clone();
    let fake = Fake::start(Some(signer.jwk()), move |_, path, nth| {
        match (path, nth) {
        ("/token", 0) => json_response(
            &json!({
                "access_token": "login-access", "refresh_token": "login-refresh",
                "token_type": "Bearer", "expires_in": 3600,
                "id_token": issued.lock().unwrap().clone(),
            })
            .to_string(),
        ),
        ("/token", n) => json_response(
            &json!({
                "access_token": format!("refreshed-access-{n}"), "refresh_token": format!("refreshed-refresh-{n}"),
                "token_type": "Bearer", "expires_in": 3600,
            })
            .to_string(),
        ),
        _ => fake::not_found(),
    }
    });
    (fake, login_id_token)
}

/// Logs in to `fake`, which issues an ID token expiring at `exp`; returns it.
fn login_with_id_token(
    fake: &Fake,
    signer: &Signer,
    slot: &Mutex<Option<String>>,
    world: &World,
    exp: u64,
) -> String {
    fake::paste_login(world, &fake.issuer, |url| {
        let token = signer.id_token(&fake.issuer, &query_param(url, "nonce"), exp);
        *slot.lock().unwrap() = Some(token);
    })
    .expect(0);
    slot.lock()
        .unwrap()
        .clone()
        .expect("an ID token was issued")
}

/// A refresh that brings no ID token keeps the stored one (§12.2), and `token --id-token`
/// prints it while it is valid.
#[test]
fn a_refresh_without_an_id_token_keeps_the_stored_one() {
    let signer = Signer::new();
    let (fake, slot) = provider_that_does_not_renew_id_tokens(&signer);
    let world = fake.world("");
    let id_token = login_with_id_token(&fake, &signer, &slot, &world, now() + 600);
    support::age_tokens(&world, 10);
    // Asking for more than the access token has left forces a refresh.
    let run = world.run(&["token", "--min-valid", "2h"]).expect(0);
    assert_eq!(run.stdout.trim(), "refreshed-access-1");
    let stored = support::stored(&world).expect("stored tokens");
    assert_eq!(stored.access_token.secret(), "refreshed-access-1");
    assert_eq!(
        stored.id_token.as_ref().map(|t| t.secret().to_owned()),
        Some(id_token.clone()),
        "the ID token from the login is kept"
    );
    let run = world.run(&["token", "--id-token"]).expect(0);
    assert_eq!(run.stdout.trim(), id_token);
}

/// The stored ID token has expired and the refresh brought no new one: `token --id-token` (and
/// the ExecCredential kubectl reads) is exit 4 with a hint, never the expired token with exit 0.
#[test]
fn an_expired_id_token_that_a_refresh_did_not_renew_is_never_printed() {
    let signer = Signer::new();
    let (fake, slot) = provider_that_does_not_renew_id_tokens(&signer);
    let world = fake.world("");
    // Expired 30 s ago: still inside the two minutes' leeway the login allows for clock drift.
    let id_token = login_with_id_token(&fake, &signer, &slot, &world, now() - 30);
    support::age_tokens(&world, 10);
    for format in ["raw", "json", "exec-credential"] {
        let run = world
            .run(&["token", "--id-token", "--format", format])
            .expect(4);
        assert!(run.stdout.is_empty(), "{format}: printed {}", run.stdout);
        run.stderr_has("error: the ID token of profile `local` expired at ")
            .stderr_has("and the provider sent no new one with the latest tokens")
            .stderr_has("hint: run `latchkey login -p local` for a new ID token");
        assert!(!run.stderr.contains(&id_token));
    }
    assert!(fake.calls("/token") >= 2, "a refresh was tried first");
    // The access token is fine, and still printed.
    world.run(&["token"]).expect(0);
}

/// `openid` was asked for and the code exchange brought no ID token: the login is refused
/// (exit 5) and nothing is stored. The device grant is not part of OpenID Connect Core: there
/// a missing ID token is accepted, and the person is named otherwise.
#[test]
fn a_login_without_the_id_token_openid_asks_for_is_refused() {
    let fake = Fake::start(None, |_, path, _| match path {
        "/token" => json_response(&format!(
            r#"{{"access_token":"{ACCESS}","refresh_token":"{REFRESH}","token_type":"Bearer","expires_in":3600}}"#
        )),
        "/device" => json_response(&format!(
            r#"{{"device_code":"{DEVICE_CODE}","user_code":"ABCD-EFGH","verification_uri":"https://x.example/d","expires_in":60,"interval":1}}"#
        )),
        _ => fake::not_found(),
    });
    let world = fake.world("scopes = \"openid email\"\n");
    let code = fake::paste_login(&world, &fake.issuer, |_| {});
    let device = world.run(&["login", "--device", "--no-browser"]);
    device
        .expect(0)
        .stderr_has("Logged in as (the provider did not say who)");
    std::fs::remove_file(world.token_file()).unwrap();
    {
        let (name, run) = ("code", code);
        let run = run.expect(5);
        run.stderr_has("error: the provider returned no ID token, although the login asked for one (scope `openid`)")
            .stderr_has("hint: nothing was stored");
        assert!(
            !run.stderr.contains("Logged in as"),
            "{name}: {}",
            run.stderr
        );
        assert_no_secret(name, &run);
        assert!(
            !world.token_file().exists(),
            "{name}: nothing may be stored"
        );
    }
    // Without `openid` the same answer is a good OAuth login.
    let world = fake.world(NO_OPENID);
    fake::paste_login(&world, &fake.issuer, |_| {})
        .expect(0)
        .stderr_has("Logged in as (the provider did not say who)");
}
