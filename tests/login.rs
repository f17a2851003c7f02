//! `latchkey login` end to end: the real binary against the real provider in `tests/idp`, with
//! the browser stand-in doing what a person does in the browser.

use crate::support;

use crate::support::{
    Idp, World, approve, approved_paste_login, deliver_redirect, logged_in, loopback_get,
    loopback_login, paste_login, query_param, stored,
};
use std::time::Duration;

#[test]
fn loopback_login_through_browser_variable() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let script = world.browser_script("browser.sh", "");
    let run = world.login_with_browser(&script).expect(0);
    run.stderr_has("opening your browser ($BROWSER=")
        .stderr_has("Logged in as Alice Liddell (alice@example.com) with profile `local`")
        .stderr_has("refresh token kept.");
    assert!(
        run.stdout.is_empty(),
        "login prints nothing on stdout: {}",
        run.stdout
    );
    let log = world.read_file("browser.log");
    assert!(log.starts_with("200"), "the browser got: {log}");
    assert!(log.contains("close this tab"), "{log}");

    let bytes = std::fs::read(world.token_file()).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    let tokens = stored(&world).unwrap();
    assert!(!tokens.access_token.secret().is_empty());
    assert!(tokens.refresh_token.is_some() && tokens.id_token.is_some());
    assert_eq!(tokens.issuer, idp.issuer);
    assert_eq!(tokens.client_id, support::CLIENT_ID);
    assert!(tokens.expires_at.unwrap() > latchkey::base::clock::unix_now());
    // No token value ever reaches the terminal.
    assert!(!run.stderr.contains(tokens.access_token.secret()));
}

#[test]
fn pasted_full_redirect_url() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let run = paste_login(&world, idp).expect(0);
    run.stderr_has("--no-browser: open this URL on any device")
        .stderr_has("Logged in as Alice Liddell (alice@example.com)");
    assert!(stored(&world).is_some());
}

#[test]
fn pasted_bare_code_and_query_string() {
    let idp = Idp::shared();
    for shape in ["code", "query"] {
        let world = World::for_idp(idp, "");
        let (mut session, _, redirect) = approved_paste_login(&world, idp, &[]);
        assert!(
            redirect.starts_with(&format!("{}/show-code?", idp.issuer)),
            "{redirect}"
        );
        let pasted = match shape {
            "code" => format!("  {}  ", query_param(&redirect, "code")),
            _ => format!("?{}", redirect.split_once('?').unwrap().1),
        };
        session.paste(&pasted);
        session
            .finish()
            .expect(0)
            .stderr_has("Logged in as Alice Liddell (alice@example.com)");
        assert!(stored(&world).is_some(), "{shape}");
    }
}

#[test]
fn wrong_state_in_a_pasted_url_is_refused_and_the_prompt_repeats() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let (mut session, url, redirect) = approved_paste_login(&world, idp, &[]);
    let state = query_param(&redirect, "state");
    let forged = redirect.replace(&format!("state={state}"), "state=forged-state-value");
    session.paste(&forged);
    session.wait_line("a rejection", |l| {
        l.contains("not accepted") && l.contains("state")
    });
    session.paste("hello world");
    session.wait_line("a junk rejection", |l| l.contains("not accepted"));
    session.paste(&redirect);
    let run = session.finish().expect(0);
    // The authorize URL carries the state by design; no other line may.
    let elsewhere: Vec<&str> = run.stderr.lines().filter(|l| *l != url).collect();
    assert!(
        !elsewhere.join("\n").contains(&state),
        "the state value was printed:\n{}",
        run.stderr
    );
    assert!(stored(&world).is_some());
}

#[test]
fn wrong_state_at_the_loopback_gets_400_and_the_login_goes_on() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let (session, url, redirect_uri) = loopback_login(&world, idp);
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/callback"),
        "{redirect_uri}"
    );
    let redirect = approve(&url, idp, &[]);
    assert!(redirect.starts_with(&redirect_uri), "{redirect}");
    let state = query_param(&redirect, "state");
    let (status, page) = loopback_get(
        idp,
        &redirect.replace(&format!("state={state}"), "state=wrong"),
    );
    assert_eq!(status, 400);
    assert!(page.contains("still waiting"));
    deliver_redirect(idp, &redirect);
    session
        .finish()
        .expect(0)
        .stderr_has("Logged in as Alice Liddell (alice@example.com)");
}

#[test]
fn consent_denied_is_exit_5_and_stores_nothing() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let (mut session, _, redirect) = approved_paste_login(&world, idp, &["--deny"]);
    assert!(redirect.contains("error=access_denied"), "{redirect}");
    session.paste(&redirect);
    session
        .finish()
        .expect(5)
        .stderr_has("refused: access_denied");
    assert!(!world.token_file().exists());
}

#[test]
fn audience_reaches_the_access_token() {
    let idp = Idp::shared();
    let world = logged_in(idp, "audience = \"https://api.example.com/\"");
    let tokens = stored(&world).unwrap();
    assert_eq!(tokens.audience.as_deref(), Some("https://api.example.com/"));
    let payload = tokens
        .access_token
        .secret()
        .split('.')
        .nth(1)
        .expect("a JWT access token");
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], "https://api.example.com/", "{claims}");
}

#[test]
fn json_token_request() {
    let idp = Idp::start(&["--json-token-requests"]);
    let world = logged_in(&idp, "token_request_format = \"json\"");
    let last = idp.get_json("/__test/last-request?endpoint=token");
    assert_eq!(last["body_format"], "json", "{last}");
    assert_eq!(last["params"]["grant_type"], "authorization_code");
    assert!(
        last["params"]["code_verifier"]
            .as_str()
            .is_some_and(|v| v.len() == 43),
        "{last}"
    );
    assert!(stored(&world).is_some());
}

#[test]
fn form_token_request_carries_the_verifier_and_redirect_uri() {
    let idp = Idp::start(&[]);
    let _world = logged_in(&idp, "");
    let last = idp.get_json("/__test/last-request?endpoint=token");
    assert_eq!(last["body_format"], "form", "{last}");
    assert_eq!(last["params"]["client_id"], support::CLIENT_ID);
    assert_eq!(
        last["params"]["redirect_uri"],
        format!("{}/show-code", idp.issuer)
    );
    assert!(
        last["params"]["code_verifier"]
            .as_str()
            .is_some_and(|v| v.len() == 43),
        "{last}"
    );
}

/// A failed login never clobbers good stored tokens.
#[test]
fn token_endpoint_failures_keep_the_old_tokens() {
    let idp = Idp::start(&[]);
    let world = logged_in(&idp, "");
    let before = std::fs::read(world.token_file()).unwrap();
    // (the fault, the exit status, what stderr says)
    let cases: &[(&str, i32, &[&str])] = &[
        ("invalid_grant", 5, &["invalid_grant: injected"]),
        ("non_json", 6, &["not a token response", "HTTP 200"]),
        ("status_500", 6, &["HTTP 500: server_error"]),
        ("drop", 6, &[]),
    ];
    for (kind, code, needles) in cases {
        idp.fault("token", kind, 1);
        let run = paste_login(&world, &idp).expect(*code);
        for needle in *needles {
            run.stderr_has(needle);
        }
        assert_eq!(std::fs::read(world.token_file()).unwrap(), before);
    }
}

#[test]
fn port_in_use_is_exit_3_naming_the_port() {
    let idp = Idp::shared();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let world = World::new();
    world.write_profiles(
        &idp.profile_toml("")
            .replace("redirect_port = 0", &format!("redirect_port = {port}")),
    );
    let run = world.run(&["login", "--no-browser"]).expect(3);
    run.stderr_has(&port.to_string())
        .stderr_has("redirect_port = 0");
}

#[test]
fn timeout_is_exit_8_and_stores_nothing() {
    let world = World::for_idp(Idp::shared(), "");
    let (run, took) = world.timed_run(&["login", "--no-browser", "--timeout", "1s"]);
    run.expect(8).stderr_has("timed out after 1s");
    assert!(took < Duration::from_secs(15));
    assert!(!world.token_file().exists());
}

#[test]
fn conflicting_flags_are_usage_errors() {
    let world = World::for_idp(Idp::shared(), "");
    world
        .run(&["login", "--no-loopback", "--no-paste"])
        .expect(2);
    world.run(&["login", "--browser", "--no-browser"]).expect(2);
}

#[test]
fn ssh_session_prints_the_url_and_the_tunnel_command() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let run = world
        .run_env(
            &["login", "--timeout", "1"],
            &[
                ("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22"),
                ("DISPLAY", ""),
            ],
        )
        .expect(8);
    run.stderr_has("SSH session detected: open this URL on any device\n");
    // stdin is at its end (not a terminal): pasting is not promised, and the wait says why it
    // goes on for the browser only.
    assert!(
        !run.stderr.contains("paste the result below"),
        "{}",
        run.stderr
    );
    run.stderr_has("stdin has ended, so nothing can be pasted; waiting for the browser only.");
    run.stderr_has("ssh -L ");
    let url_line = run
        .stderr
        .lines()
        .find(|l| l.starts_with(&format!("{}/auth?", idp.issuer)));
    assert!(
        url_line.is_some(),
        "the URL stands on a line of its own:\n{}",
        run.stderr
    );
}

/// RFC 9207: a pasted response naming another issuer is refused, and so is one without `iss`
/// from a provider that announced it always sends one.
#[test]
fn pasted_responses_with_a_wrong_or_missing_iss_are_refused() {
    let idp = Idp::shared();
    let discovery = idp.get_json("/.well-known/openid-configuration");
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    let world = World::for_idp(idp, "");
    let (mut session, _, redirect) = approved_paste_login(&world, idp, &[]);
    let iss = format!("iss={}", latchkey::net::url::form_encode(&idp.issuer));
    assert!(redirect.contains(&iss), "{redirect}");
    session.paste(&redirect.replace(&iss, "iss=https%3A%2F%2Fevil.example"));
    session.wait_line("the issuer rejection", |l| {
        l.contains("not accepted") && l.contains("names issuer \"https://evil.example\"")
    });
    session.paste(&redirect.replace(&format!("&{iss}"), ""));
    session.wait_line("the missing-iss rejection", |l| {
        l.contains("not accepted") && l.contains("has no `iss`")
    });
    session.paste(&redirect);
    session.finish().expect(0);
    assert!(stored(&world).is_some());
}
