//! Bad input, table by table: every kind of input latchkey takes — command-line arguments,
//! profiles files, environment values, token files, pasted text, requests to the loopback
//! listener and provider responses — given wrong, and each case answered with a message that
//! names the problem, the documented exit status, no panic, and stored tokens left as they were.
//!
//! The cases that need no server are snapshot cases in `tests/cmd/*.toml` (run by trycmd from
//! `snapshot_cases`), so a reviewer reads the exact text a user gets; `TRYCMD=overwrite cargo
//! test --test tests bad_input::` rewrites them after a deliberate change of wording. The cases that
//! need a provider are the tables below, with the full expected message lines.

use crate::support;

use crate::support::fake::{self, http_response, json_response};
use crate::support::{
    Idp, PASTE_LOGIN, Run, Session, World, loopback_login, loopback_port, paste_login, query_param,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd/fixtures")
}

/// The homes of the token-file cases: `homes/CASE/.local/share/latchkey/...`.
fn fixture_homes() -> PathBuf {
    fixtures().join("homes")
}

/// Modes that git cannot carry (it keeps only the executable bit): the token-file fixtures are
/// private like a real store, apart from the cases that are about modes that are too open.
const LOOSE_MODES: &[(&str, u32)] = &[
    (
        "world-readable-file/.local/share/latchkey/tokens/local.age",
        0o644,
    ),
    ("open-tokens-directory/.local/share/latchkey/tokens", 0o755),
    (
        "world-readable-identity/.local/share/latchkey/identity.txt",
        0o640,
    ),
];

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Files 0600 and directories 0700 under the fixture homes, then the loose modes above.
fn prepare_fixture_modes() {
    fn walk(dir: &Path) {
        set_mode(dir, 0o700);
        for entry in std::fs::read_dir(dir).expect("read fixture dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path);
            } else {
                set_mode(&path, 0o600);
            }
        }
    }
    walk(&fixture_homes());
    for (relative, mode) in LOOSE_MODES {
        set_mode(&fixture_homes().join(relative), *mode);
    }
}

/// Every fixture file and its bytes, to prove that no case wrote, deleted or created a file.
fn fixture_contents() -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, into: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read fixture dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                into.insert(path.clone(), Vec::new());
                walk(&path, into);
            } else {
                into.insert(path.clone(), std::fs::read(&path).expect("read fixture"));
            }
        }
    }
    let mut all = BTreeMap::new();
    walk(&fixtures(), &mut all);
    all
}

/// The snapshot cases: CLI arguments, profiles files, environment values and token files.
#[test]
fn snapshot_cases() {
    prepare_fixture_modes();
    let before = fixture_contents();
    trycmd::TestCases::new()
        .register_bin("latchkey", Path::new(env!("CARGO_BIN_EXE_latchkey")))
        .default_bin_name("latchkey")
        .case("tests/cmd/*.toml")
        .run();
    assert!(
        fixture_contents() == before,
        "a snapshot case changed the files under tests/cmd/fixtures"
    );
}

/// Writes the token-file fixtures again (they are committed; run this only to change them):
/// `cargo test --test tests bad_input:: -- --ignored regenerate_token_fixtures`.
#[test]
#[ignore]
fn regenerate_token_fixtures() {
    use latchkey::base::secret::{AccessToken, IdToken, Passphrase, RefreshToken};
    use latchkey::config::KeySource;
    use latchkey::store::{Key, StoredTokens, TokenStore};

    let tokens = || StoredTokens {
        version: 1,
        access_token: AccessToken::new("fixture-access-token"),
        refresh_token: Some(RefreshToken::new("fixture-refresh-token")),
        id_token: None::<IdToken>,
        // 2100-01-01: valid for as long as these fixtures matter.
        expires_at: Some(4_102_444_800),
        scope: Some("openid offline_access".into()),
        token_type: "Bearer".into(),
        issuer: "http://127.0.0.1:9".into(),
        client_id: "fixture-client".into(),
        audience: None,
        obtained_at: 1_764_000_000,
        token_endpoint: Some("http://127.0.0.1:9/token".into()),
        revocation_endpoint: None,
        refresh_refused: None,
        organization: None,
        apis: Default::default(),
        added_roots: Some(Vec::new()),
        profile: None,
        hosts: None,
    };
    let homes = fixture_homes();
    let _ = std::fs::remove_dir_all(&homes);
    let store_of = |case: &str| TokenStore::at(homes.join(case).join(".local/share/latchkey"));
    let token_path = |case: &str| store_of(case).token_path("local");
    // A good store: its key and its file are where the other cases start from.
    let good = store_of("good");
    let key = good
        .key_for_writing(&KeySource::Generated, "local")
        .expect("key");
    good.save("local", &tokens(), &key).expect("save");
    let good_bytes = std::fs::read(token_path("good")).expect("good file");
    let identity = std::fs::read(good.identity_path()).expect("identity");

    let with_file = |case: &str, bytes: &[u8]| {
        let store = store_of(case);
        std::fs::create_dir_all(store.token_path("local").parent().expect("tokens dir"))
            .expect("mkdir");
        std::fs::write(store.identity_path(), &identity).expect("identity");
        std::fs::write(store.token_path("local"), bytes).expect("token file");
    };
    with_file("truncated", &good_bytes[..good_bytes.len() / 2]);
    let mut tampered = good_bytes.clone();
    let near_end = tampered.len() - 20;
    tampered[near_end] ^= 0x40;
    with_file("tampered", &tampered);
    with_file("world-readable-file", &good_bytes);
    with_file("open-tokens-directory", &good_bytes);
    with_file("world-readable-identity", &good_bytes);
    with_file(
        "not-age",
        br#"{"access_token":"pasted-by-hand","token_type":"Bearer"}"#,
    );
    with_file("empty", b"");
    // Another store's key: a well-formed file this key cannot open.
    let stranger = store_of("wrong-key");
    let stranger_key = stranger
        .key_for_writing(&KeySource::Generated, "local")
        .expect("key");
    stranger
        .save("local", &tokens(), &stranger_key)
        .expect("save");
    std::fs::write(stranger.identity_path(), &identity).expect("identity");
    // The directory case: a directory where the token file belongs.
    let directory = store_of("directory");
    std::fs::create_dir_all(directory.token_path("local")).expect("mkdir");
    std::fs::write(directory.token_path("local").join(".keep"), b"").expect(".keep");
    std::fs::write(directory.identity_path(), &identity).expect("identity");
    with_file("identity-garbage", &good_bytes);
    std::fs::write(
        store_of("identity-garbage").identity_path(),
        b"# not a key at all\nhello\n",
    )
    .expect("identity");
    with_file("identity-missing", &good_bytes);
    std::fs::remove_file(store_of("identity-missing").identity_path()).expect("rm identity");
    // A passphrase-protected file (profile `locked`, scrypt log2 N = 10 so the case is quick).
    let locked = store_of("passphrase");
    let passphrase_key = Key::Passphrase {
        passphrase: Passphrase::new("correct horse battery staple"),
        work_factor: 10,
    };
    locked
        .save("locked", &tokens(), &passphrase_key)
        .expect("save");
}

// ---------------------------------------------------------------------------------------------
// The cases that need a provider: the real one in tests/idp, or a fake one of our own.

/// What every case asserts at the end: the exit status, the message lines in full (each line of
/// `expected` is a whole line of stderr), no panic, and the stored tokens as they were.
fn assert_case(
    name: &str,
    run: Run,
    code: i32,
    expected: &[impl AsRef<str>],
    token_file: &Path,
    before: &[u8],
) {
    assert!(
        !run.stderr.contains("panicked"),
        "{name}: panic\n{}",
        run.stderr
    );
    assert_eq!(
        run.code, code,
        "{name}: expected exit {code}, got {}\n--- stderr\n{}",
        run.code, run.stderr
    );
    for line in expected {
        let line = line.as_ref();
        assert!(
            run.stderr.lines().any(|l| l == line),
            "{name}: stderr lacks the line\n  {line}\n--- stderr\n{}",
            run.stderr
        );
    }
    assert!(run.stdout.is_empty(), "{name}: stdout: {}", run.stdout);
    assert_eq!(
        std::fs::read(token_file).ok().as_deref(),
        Some(before),
        "{name}: the stored tokens changed"
    );
}

/// A world logged in to `idp`, and its token file's bytes: what every case must leave as it was.
fn logged_in(idp: &Idp, extra: &str) -> (World, Vec<u8>) {
    let world = support::logged_in(idp, extra);
    let bytes = std::fs::read(world.token_file()).expect("a token file");
    (world, bytes)
}

const STDIN_CLOSED: &str = "error: stdin closed before a code or redirect URL was pasted";

/// Pasted text that is not a usable response: refused with a reason, the prompt comes back, and
/// when stdin ends nothing was exchanged or stored.
#[test]
fn pasted_text() {
    let idp = Idp::shared();
    let (world, before) = logged_in(idp, "");
    let evil_iss = "iss=https%3A%2F%2Fevil.example";
    let own_iss = format!("iss={}", latchkey::net::url::form_encode(&idp.issuer));
    type Paste = fn(&str, &str, &str) -> String;
    const NOT_A_RESPONSE: &str = "That was not accepted: that is not a redirect URL, query string or code; paste the whole address the browser was sent to after the login, or just the code. Try again.";
    // (name, what to paste from (state, own iss, evil iss), the refusal; `{issuer}` stands for
    // the provider's issuer)
    let cases: &[(&str, Paste, &str)] = &[
        ("junk", |_, _, _| "hello world".into(), NOT_A_RESPONSE),
        (
            "wrong state",
            |_, iss, _| format!("http://127.0.0.1:8484/callback?code=abc&state=forged&{iss}"),
            "That was not accepted: the response's `state` does not match this login (it belongs to another login attempt, or was forged). Try again.",
        ),
        (
            "no state",
            |_, iss, _| format!("http://127.0.0.1:8484/callback?code=abc&{iss}"),
            "That was not accepted: the response has no `state`, so it cannot be matched to this login. Try again.",
        ),
        (
            "no code",
            |state, iss, _| format!("?state={state}&{iss}"),
            "That was not accepted: the response carries neither a `code` nor an `error`. Try again.",
        ),
        (
            "another issuer",
            |state, _, evil| format!("?code=abc&state={state}&{evil}"),
            "That was not accepted: the response names issuer \"https://evil.example\", but this login is with \"{issuer}\". Try again.",
        ),
        (
            "no issuer from a provider that always sends one",
            |state, _, _| format!("?code=abc&state={state}"),
            "That was not accepted: the response has no `iss`, though this provider always sends one (RFC 9207): it may come from another provider. Try again.",
        ),
        (
            "broken percent-encoding",
            |state, iss, _| format!("?code=%zz&state={state}&{iss}"),
            "That was not accepted: the response's query string is malformed (a bad %-escape, or not UTF-8). Try again.",
        ),
        (
            "two codes",
            |state, iss, _| format!("?code=a&code=b&state={state}&{iss}"),
            "That was not accepted: the response repeats the `code` parameter, so it is not trustworthy. Try again.",
        ),
        (
            "a line too long to be a redirect URL",
            |_, _, _| "a".repeat(20_000),
            NOT_A_RESPONSE,
        ),
        (
            "terminal escapes",
            |_, _, _| "?code=\u{1b}[2J&state=\u{1b}]0;owned\u{7}".into(),
            NOT_A_RESPONSE,
        ),
    ];
    for (name, paste, refusal) in cases {
        let (mut session, url) = Session::login(&world, idp, PASTE_LOGIN);
        let state = query_param(&url, "state");
        session.paste(&paste(&state, &own_iss, evil_iss));
        let refusal = refusal.replace("{issuer}", &idp.issuer);
        let run = session.finish();
        assert!(
            !run.stderr.contains('\u{1b}'),
            "{name}: an escape reached the terminal"
        );
        assert_case(
            name,
            run,
            8,
            &[refusal.as_str(), STDIN_CLOSED],
            &world.token_file(),
            &before,
        );
    }
}

/// Sends raw bytes to the loopback listener and returns everything it answers.
fn raw_request(port: u16, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the listener");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    // The listener may answer and close before it has read all of an oversized request.
    let _ = stream.write_all(request);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Requests to the loopback listener of a running login that are not the provider's redirect:
/// each gets an HTTP error and a page saying why, and the login goes on waiting; a provider's
/// `error` then ends it (exit 5) with nothing stored.
#[test]
fn callback_requests() {
    let idp = Idp::shared();
    let (world, before) = logged_in(idp, "");
    let (session, url, redirect_uri) = loopback_login(&world, idp);
    let state = query_param(&url, "state");
    let iss = format!("iss={}", latchkey::net::url::form_encode(&idp.issuer));
    let port = loopback_port(&redirect_uri);
    let get =
        |target: String| format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes();
    const NOT_ACCEPTED: &str = "<body><h1>Response not accepted</h1>";
    const STILL_WAITING: &str = "<p>latchkey is still waiting for the right response: finish the login in the tab latchkey opened, or press Ctrl-C in the terminal to give up.</p>";
    const BAD_REQUEST: &str = "<p>latchkey could not read this request.</p>";
    let refused = |why: &str| format!("<p>latchkey could not use this response: {why}.</p>");
    // (name, request, status line, lines the page must have); an empty status line: no answer.
    let cases: Vec<(&str, Vec<u8>, &str, Vec<String>)> = vec![
        (
            "another path",
            get("/favicon.ico".into()),
            "HTTP/1.1 404 Not Found",
            vec!["<p>latchkey listens only for the login redirect on this port.</p>".into()],
        ),
        (
            "wrong state",
            get(format!("/callback?code=abc&state=forged&{iss}")),
            "HTTP/1.1 400 Bad Request",
            vec![NOT_ACCEPTED.into(), refused("the response&#39;s <code>state</code> does not match this login (it belongs to another login attempt, or was forged)"), STILL_WAITING.into()],
        ),
        (
            "no state",
            get(format!("/callback?code=abc&{iss}")),
            "HTTP/1.1 400 Bad Request",
            vec![NOT_ACCEPTED.into(), refused("the response has no <code>state</code>, so it cannot be matched to this login"), STILL_WAITING.into()],
        ),
        (
            "no code",
            get(format!("/callback?state={state}&{iss}")),
            "HTTP/1.1 400 Bad Request",
            vec![NOT_ACCEPTED.into(), refused("the response carries neither a <code>code</code> nor an <code>error</code>"), STILL_WAITING.into()],
        ),
        (
            "another issuer",
            get(format!("/callback?code=abc&state={state}&iss=https%3A%2F%2Fevil.example")),
            "HTTP/1.1 400 Bad Request",
            vec![
                NOT_ACCEPTED.into(),
                refused(&format!("the response names issuer &quot;https://evil.example&quot;, but this login is with &quot;{}&quot;", idp.issuer)),
                STILL_WAITING.into(),
            ],
        ),
        (
            "no issuer",
            get(format!("/callback?code=abc&state={state}")),
            "HTTP/1.1 400 Bad Request",
            vec![NOT_ACCEPTED.into(), refused("the response has no <code>iss</code>, though this provider always sends one (RFC 9207): it may come from another provider"), STILL_WAITING.into()],
        ),
        (
            "broken percent-encoding",
            get(format!("/callback?code=%zz&state={state}&{iss}")),
            "HTTP/1.1 400 Bad Request",
            vec![NOT_ACCEPTED.into(), refused("the response&#39;s query string is malformed (a bad %-escape, or not UTF-8)"), STILL_WAITING.into()],
        ),
        (
            "two codes",
            get(format!("/callback?code=a&code=b&state={state}&{iss}")),
            "HTTP/1.1 400 Bad Request",
            vec![NOT_ACCEPTED.into(), refused("the response repeats the <code>code</code> parameter, so it is not trustworthy"), STILL_WAITING.into()],
        ),
        (
            "POST",
            format!("POST /callback?code=abc&state={state}&{iss} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").into_bytes(),
            "HTTP/1.1 405 Method Not Allowed",
            vec!["<p>The login redirect is a GET request.</p>".into()],
        ),
        (
            "not HTTP",
            b"HELLO THERE\r\n\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request",
            vec![BAD_REQUEST.into()],
        ),
        (
            "binary garbage",
            vec![0, 255, 1, 2, b'\r', b'\n', b'\r', b'\n'],
            "HTTP/1.1 400 Bad Request",
            vec![BAD_REQUEST.into()],
        ),
        (
            "an oversized head",
            format!("GET /callback HTTP/1.1\r\nX-Padding: {}\r\n\r\n", "a".repeat(100_000)).into_bytes(),
            "HTTP/1.1 431 Request Header Fields Too Large",
            vec!["<p>The request&#39;s headers are larger than latchkey accepts.</p>".into()],
        ),
        ("a connection that says nothing", Vec::new(), "", vec![]),
    ];
    for (name, request, status_line, page) in &cases {
        let answer = raw_request(port, request);
        assert_eq!(
            answer.lines().next().unwrap_or(""),
            *status_line,
            "{name}: {answer}"
        );
        for line in page {
            assert!(
                answer.lines().any(|l| l == line),
                "{name}: the page lacks\n  {line}\n--- answer\n{answer}"
            );
        }
    }
    // Still waiting after all that: the provider's refusal, with a terminal escape in its
    // description, ends the login; the escape never reaches the terminal.
    let refusal = get(format!(
        "/callback?error=access_denied&error_description=no%1b%5b2J&state={state}&{iss}"
    ));
    let answer = raw_request(port, &refusal);
    assert!(answer.contains("<h1>Login refused</h1>"), "{answer}");
    let run = session.finish();
    assert!(
        !run.stderr.contains('\u{1b}'),
        "an escape reached the terminal"
    );
    assert_case(
        "the provider's refusal at the loopback",
        run,
        5,
        &[
            "error: the identity provider refused: access_denied: no\\u{1b}[2J",
            "hint: the login was not completed; run `latchkey login -p local` to try again",
        ],
        &world.token_file(),
        &before,
    );
}

/// The token endpoint failing or refusing, through the provider's fault switch: during the
/// code exchange of a login, and during a refresh by `latchkey token`.
#[test]
fn provider_responses() {
    let idp = Idp::start(&[]);
    let (world, before) = logged_in(&idp, "http_timeout = 2");
    let file = world.token_file();
    const TRY_AGAIN: &str = "hint: the provider is having trouble; try again shortly";
    const NOT_OAUTH: &str = "error: the token endpoint answered HTTP 200 with something that is not a token response: it is not JSON (content type text/html; a successful answer's body is not shown, as it may hold tokens)";
    const NOT_OAUTH_HINT: &str = "hint: the provider or a proxy in between failed; try again, and check the token endpoint URL";
    const LOGIN_AGAIN: &str =
        "hint: nothing was stored; run `latchkey login -p local` to try again";
    const DROPPED_HINT: &str = "hint: the network or the provider dropped it; try again";
    // `{host}` stands for the provider's host and port.
    let host = idp.issuer.trim_start_matches("http://").to_owned();
    // (name, fault kind, how many, exit status, stderr lines)
    type Case<'a> = (&'a str, &'a str, u32, i32, &'a [&'a str]);
    // Every case: its fault queued, then `attempt`, checked against `before`.
    let check = |cases: &[Case], attempt: &dyn Fn() -> Run, before: &[u8]| {
        for (name, kind, count, code, lines) in cases {
            idp.reset();
            idp.fault("token", kind, *count);
            let run = attempt();
            let lines: Vec<String> = lines.iter().map(|l| l.replace("{host}", &host)).collect();
            assert_case(name, run, *code, &lines, &file, before);
        }
    };
    let exchanges: &[Case] = &[
        (
            "exchange: 500",
            "status_500",
            1,
            6,
            &[
                "error: the token endpoint failed with HTTP 500: server_error: injected",
                TRY_AGAIN,
            ],
        ),
        (
            "exchange: not JSON",
            "non_json",
            1,
            6,
            &[NOT_OAUTH, NOT_OAUTH_HINT],
        ),
        (
            "exchange: invalid_grant",
            "invalid_grant",
            1,
            5,
            &[
                "error: the identity provider refused: invalid_grant: injected",
                LOGIN_AGAIN,
            ],
        ),
        (
            "exchange: access_denied",
            "access_denied",
            1,
            5,
            &[
                "error: the identity provider refused: access_denied: injected",
                LOGIN_AGAIN,
            ],
        ),
        (
            "exchange: connection dropped",
            "drop",
            1,
            6,
            &[
                "error: token request: the connection to {host} broke: Peer disconnected",
                DROPPED_HINT,
            ],
        ),
    ];
    check(exchanges, &|| paste_login(&world, &idp), &before);
    // A refresh: asking for more validity than the token has left, once the tokens are past
    // the window in which they count as just issued.
    support::age_tokens(&world, 10);
    let before = std::fs::read(&file).expect("token file");
    let refreshes: &[Case] = &[
        (
            "refresh: 500 three times",
            "status_500",
            3,
            6,
            &[
                "error: the token endpoint failed with HTTP 500: server_error: injected (after 3 attempts)",
                "hint: the provider is having trouble; try again shortly; the stored tokens are unchanged",
            ],
        ),
        (
            "refresh: not JSON",
            "non_json",
            1,
            6,
            &[NOT_OAUTH, NOT_OAUTH_HINT],
        ),
        (
            "refresh: dropped three times",
            "drop",
            3,
            6,
            &[
                "error: token refresh: the connection to {host} broke: Peer disconnected (after 3 attempts)",
                "hint: the network or the provider dropped it; try again; the stored tokens are unchanged",
            ],
        ),
        (
            "refresh: access_denied",
            "access_denied",
            1,
            5,
            &[
                "error: the identity provider refused: access_denied: injected",
                "hint: the stored tokens are unchanged; if this persists, run `latchkey login -p local`",
            ],
        ),
    ];
    check(
        refreshes,
        &|| world.run(&["token", "--min-valid", "2h"]),
        &before,
    );
    // Last, as it ends the refresh token: `invalid_grant` is recorded in the file, which keeps
    // the access token and drops the dead refresh token (tests/provider_answers.rs).
    idp.reset();
    idp.fault("token", "invalid_grant", 1);
    let run = world.run(&["token", "--min-valid", "2h"]);
    for line in [
        "error: the refresh token was refused (invalid_grant: injected); profile `local` must log in again",
        "hint: run `latchkey login -p local`",
    ] {
        assert!(
            run.stderr.lines().any(|l| l == line),
            "{line}\n{}",
            run.stderr
        );
    }
    let run = run.expect(4);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(support::stored(&world).unwrap().refresh_refused.is_some());
    let before = std::fs::read(&file).expect("token file");
    // A code the provider never issued, pasted bare: the provider refuses the exchange.
    idp.reset();
    let (mut session, _) = Session::login(&world, &idp, PASTE_LOGIN);
    session.paste("not-a-code-the-provider-issued");
    assert_case(
        "a bare code the provider never issued",
        session.finish(),
        5,
        &[
            "error: the identity provider refused: invalid_grant: grant request is invalid",
            LOGIN_AGAIN,
        ],
        &file,
        &before,
    );
}

/// A provider of our own on 127.0.0.1 that answers discovery and the token endpoint with
/// whatever raw HTTP response the test scripts, for what a real provider never sends.
struct FakeProvider {
    issuer: String,
    /// Raw responses by path; a path not scripted gets a valid answer.
    script: std::sync::Arc<std::sync::Mutex<BTreeMap<String, Vec<u8>>>>,
}

impl FakeProvider {
    fn start() -> FakeProvider {
        let script = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::new()));
        let shared = script.clone();
        let issuer = fake::serve(move |issuer, path| {
            let scripted = shared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(path)
                .cloned();
            scripted.unwrap_or_else(|| match path {
                "/.well-known/openid-configuration" => {
                    json_response(&fake::discovery(issuer, issuer).to_string())
                }
                "/token" => json_response(
                    r#"{"access_token":"fake-access-token","token_type":"Bearer","expires_in":3600}"#,
                ),
                _ => fake::not_found(),
            })
        });
        FakeProvider { issuer, script }
    }

    fn answer(&self, path: &str, response: Vec<u8>) {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_owned(), response);
    }

    fn profile(&self) -> String {
        fake::profile(
            &self.issuer,
            "scopes = \"api\"\nredirect_port = 0\nhttp_timeout = 3\n",
        )
    }
}

/// Logs in to the fake provider by pasting a made-up code with the right state.
fn fake_login(world: &World, fake: &FakeProvider) -> Run {
    fake::paste_login(world, &fake.issuer, |_| {})
}

/// Token and discovery responses no real provider sends: each is refused with a message that
/// says what was wrong, and the tokens of the earlier good login stay as they were.
#[test]
fn answers_no_real_provider_sends() {
    let fake = FakeProvider::start();
    let world = World::new();
    world.write_profiles(&fake.profile());
    fake_login(&world, &fake).expect(0);
    let file = world.token_file();
    let before = std::fs::read(&file).expect("token file");
    let escape_description = format!("{}{}", "\u{1b}[31mred\u{7}", "x".repeat(5000));
    // The provider's description, control characters escaped and cut at 300 characters.
    let shown_description = format!("\\u{{1b}}[31mred\\u{{7}}{}…", "x".repeat(281));
    let refused_escaped =
        format!("error: the identity provider refused: invalid_grant: {shown_description}");
    let discovery = "/.well-known/openid-configuration";
    const NOT_OAUTH_HINT: &str = "hint: the provider or a proxy in between failed; try again, and check the token endpoint URL";
    const LOGIN_AGAIN: &str =
        "hint: nothing was stored; run `latchkey login -p local` to try again";
    const CHECK_ISSUER: &str = "hint: check `issuer` in profile `local`";
    let not_oauth = |status: u16, shown: &str| {
        format!(
            "error: the token endpoint answered HTTP {status} with something that is not a token response: {shown}"
        )
    };
    // (name, path, the raw response, exit status, stderr lines; `{host}` is the fake's host)
    type Case<'a> = (&'a str, &'a str, Vec<u8>, i32, Vec<String>);
    let cases: Vec<Case> = vec![
        (
            "no access_token",
            "/token",
            json_response(r#"{"token_type":"Bearer","expires_in":3600}"#),
            6,
            vec![not_oauth(200, "it has no access_token (content type application/json; a successful answer's body is not shown, as it may hold tokens)"), NOT_OAUTH_HINT.into()],
        ),
        (
            "access_token a number",
            "/token",
            json_response(r#"{"access_token":5,"token_type":"Bearer"}"#),
            6,
            vec![not_oauth(200, "its access_token is not a string (content type application/json; a successful answer's body is not shown, as it may hold tokens)"), NOT_OAUTH_HINT.into()],
        ),
        (
            "a MAC token",
            "/token",
            json_response(r#"{"access_token":"a","token_type":"mac"}"#),
            5,
            vec![
                r#"error: the token endpoint issued a token of type "mac"; latchkey only handles Bearer tokens"#.into(),
                LOGIN_AGAIN.into(),
            ],
        ),
        (
            "no token_type",
            "/token",
            json_response(r#"{"access_token":"a"}"#),
            5,
            vec![
                "error: the token endpoint's answer has no token_type; latchkey only handles Bearer tokens".into(),
                LOGIN_AGAIN.into(),
            ],
        ),
        (
            "an empty body",
            "/token",
            json_response(""),
            6,
            vec![not_oauth(200, "it is empty (content type application/json; a successful answer's body is not shown, as it may hold tokens)"), NOT_OAUTH_HINT.into()],
        ),
        (
            "a redirect, not followed",
            "/token",
            b"HTTP/1.1 302 Found\r\nlocation: https://evil.example/token\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
            6,
            vec![not_oauth(302, "(empty body)"), NOT_OAUTH_HINT.into()],
        ),
        (
            "an ID token that is no JWT",
            "/token",
            json_response(r#"{"access_token":"a","token_type":"Bearer","id_token":"not-a-jwt"}"#),
            5,
            vec![
                "error: the ID token failed validation: it is not a JWT (three dot-separated parts)".into(),
                "hint: nothing was stored. Check the profile's issuer and client_id; if they are right, the provider or something between it and you sent a token that cannot be trusted".into(),
            ],
        ),
        (
            "error not a string",
            "/token",
            http_response("400 Bad Request", "application/json", r#"{"error":5}"#),
            // A 4xx without a usable OAuth error is still a refusal (exit 5), not a failure.
            5,
            vec![
                r#"error: the identity provider refused with HTTP 400 but no OAuth error: {"error":5}"#.into(),
                LOGIN_AGAIN.into(),
            ],
        ),
        (
            "error with terminal escapes and 5000 bytes",
            "/token",
            http_response(
                "400 Bad Request",
                "application/json",
                &serde_json::json!({"error": "invalid_grant", "error_description": escape_description}).to_string(),
            ),
            5,
            vec![refused_escaped, LOGIN_AGAIN.into()],
        ),
        (
            "a body cut short",
            "/token",
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\nconnection: close\r\n\r\n{\"access_token\":\"a\"".to_vec(),
            6,
            vec![
                "error: token request: the connection to {host} broke: Peer disconnected".into(),
                "hint: the network or the provider dropped it; try again".into(),
            ],
        ),
        (
            "not HTTP at all",
            "/token",
            b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(),
            6,
            vec![
                "error: token request: request to {host} failed: protocol: http parse fail: invalid HTTP version".into(),
                "hint: check the network and the provider's URL".into(),
            ],
        ),
        (
            "a 20 MiB body",
            "/token",
            json_response(&format!(
                "{{\"access_token\":\"{}\",\"token_type\":\"Bearer\"}}",
                "a".repeat(20 << 20)
            )),
            6,
            vec![
                "error: token request: the response from {host} is larger than 1048576 bytes".into(),
                "hint: this is not an OAuth response; check the endpoint URL".into(),
            ],
        ),
        (
            "discovery not JSON",
            discovery,
            http_response("200 OK", "text/html", "<html>captive portal</html>"),
            6,
            vec![
                "error: discovery: the document for {issuer} is not valid: expected value at line 1 column 1".into(),
                CHECK_ISSUER.into(),
            ],
        ),
        (
            "discovery without a token endpoint",
            discovery,
            json_response(
                &serde_json::json!({"issuer": fake.issuer, "authorization_endpoint": format!("{}/authorize", fake.issuer)})
                    .to_string(),
            ),
            6,
            vec![
                "error: discovery: the document for {issuer} is not valid: missing field `token_endpoint` at line 1 column 95".into(),
                CHECK_ISSUER.into(),
            ],
        ),
    ];
    let host = fake.issuer.trim_start_matches("http://").to_owned();
    for (name, path, response, code, lines) in cases {
        fake.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        fake.answer(path, response);
        // Discovery fails before the authorize URL is printed: nothing to paste into.
        let run = if path == "/token" {
            fake_login(&world, &fake)
        } else {
            world.run(&["login", "--no-browser", "--no-loopback"])
        };
        assert!(
            !run.stderr.contains('\u{1b}'),
            "{name}: an escape reached the terminal"
        );
        let lines: Vec<String> = lines
            .iter()
            .map(|l| l.replace("{host}", &host).replace("{issuer}", &fake.issuer))
            .collect();
        assert_case(name, run, code, &lines, &file, &before);
    }
}

/// An argument that is not UTF-8 (trycmd's cases are text, so this one is here).
#[cfg(unix)]
#[test]
fn a_non_utf8_argument() {
    use std::os::unix::ffi::OsStrExt;
    let world = World::new();
    let mut cmd = world.cmd(&["-p"]);
    cmd.arg(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    cmd.arg("token");
    let run = Run::from(cmd.output().expect("run latchkey"));
    let run = run.expect(2);
    assert_eq!(
        run.stderr,
        "error: argument \"caf\\xE9\" is not valid UTF-8\n\
         hint: profile names, paths and values on the command line must be UTF-8\n"
    );
}
