//! `latchkey login` end to end: the real binary against the real provider in `tests/idp`, with
//! the browser stand-in doing what a person does in the browser.

mod support;

use std::time::{Duration, Instant};
use support::{Idp, Run, Session, World, approve, paste_login, query_param, stored};

fn token_file(world: &World) -> std::path::PathBuf {
    world.data_home().join("latchkey/tokens/local.age")
}

/// A world with a profile for `idp`.
fn world_for(idp: &Idp, extra: &str) -> World {
    let world = World::new();
    world.write_profiles(&idp.profile_toml(extra));
    world
}

#[test]
fn loopback_login_through_browser_variable() {
    let idp = Idp::shared();
    let world = world_for(idp, "");
    let script = world.write_file(
        "browser.sh",
        &format!(
            "#!/bin/sh\nexec node {} login \"$1\" --follow > {}/browser.log 2>&1\n",
            support::idp_dir().join("browser.js").display(),
            world.dir.path().display()
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = Run::from(
        world
            .cmd(&["login"])
            .env("BROWSER", &script)
            .output()
            .unwrap(),
    )
    .expect(0);
    run.stderr_has("opening your browser ($BROWSER=")
        .stderr_has("Logged in as alice@example.com with profile `local`")
        .stderr_has("refresh token kept.");
    assert!(
        run.stdout.is_empty(),
        "login prints nothing on stdout: {}",
        run.stdout
    );
    let log = std::fs::read_to_string(world.dir.path().join("browser.log")).unwrap();
    assert!(log.starts_with("200"), "the browser got: {log}");
    assert!(log.contains("close this tab"), "{log}");

    let bytes = std::fs::read(token_file(&world)).unwrap();
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
    let world = world_for(idp, "");
    let run = paste_login(&world, idp).expect(0);
    run.stderr_has("--no-browser: open this URL on any device")
        .stderr_has("Logged in as alice@example.com");
    assert!(stored(&world).is_some());
}

#[test]
fn pasted_bare_code_and_query_string() {
    let idp = Idp::shared();
    for shape in ["code", "query"] {
        let world = world_for(idp, "");
        let mut session = Session::start(&world, &["login", "--no-loopback", "--no-browser"], &[]);
        let url = session.authorize_url(idp);
        let redirect = approve(&url, idp, &[]);
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
            .stderr_has("Logged in as alice@example.com");
        assert!(stored(&world).is_some(), "{shape}");
    }
}

#[test]
fn wrong_state_in_a_pasted_url_is_refused_and_the_prompt_repeats() {
    let idp = Idp::shared();
    let world = world_for(idp, "");
    let mut session = Session::start(&world, &["login", "--no-loopback", "--no-browser"], &[]);
    let url = session.authorize_url(idp);
    let redirect = approve(&url, idp, &[]);
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
    let world = world_for(idp, "");
    let mut session = Session::start(&world, &["login", "--no-browser", "--no-paste"], &[]);
    let url = session.authorize_url(idp);
    let redirect_uri = query_param(&url, "redirect_uri");
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/callback"),
        "{redirect_uri}"
    );
    let redirect = approve(&url, idp, &[]);
    assert!(redirect.starts_with(&redirect_uri), "{redirect}");
    let state = query_param(&redirect, "state");
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut wrong = agent
        .get(redirect.replace(&format!("state={state}"), "state=wrong"))
        .call()
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert!(
        wrong
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("still waiting")
    );
    let mut right = agent.get(&redirect).call().unwrap();
    assert_eq!(right.status(), 200);
    assert!(
        right
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("close this tab")
    );
    session
        .finish()
        .expect(0)
        .stderr_has("Logged in as alice@example.com");
}

#[test]
fn consent_denied_is_exit_5_and_stores_nothing() {
    let idp = Idp::shared();
    let world = world_for(idp, "");
    let mut session = Session::start(&world, &["login", "--no-loopback", "--no-browser"], &[]);
    let url = session.authorize_url(idp);
    let redirect = approve(&url, idp, &["--deny"]);
    assert!(redirect.contains("error=access_denied"), "{redirect}");
    session.paste(&redirect);
    session
        .finish()
        .expect(5)
        .stderr_has("refused: access_denied");
    assert!(!token_file(&world).exists());
}

#[test]
fn audience_reaches_the_access_token() {
    let idp = Idp::shared();
    let world = world_for(idp, "audience = \"https://api.example.com/\"");
    paste_login(&world, idp).expect(0);
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
    let world = world_for(&idp, "token_request_format = \"json\"");
    paste_login(&world, &idp).expect(0);
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
    let world = world_for(&idp, "");
    paste_login(&world, &idp).expect(0);
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
    let world = world_for(&idp, "");
    paste_login(&world, &idp).expect(0);
    let before = std::fs::read(token_file(&world)).unwrap();

    idp.fault("token", "invalid_grant", 1);
    paste_login(&world, &idp)
        .expect(5)
        .stderr_has("invalid_grant: injected");
    assert_eq!(std::fs::read(token_file(&world)).unwrap(), before);

    idp.fault("token", "non_json", 1);
    paste_login(&world, &idp)
        .expect(6)
        .stderr_has("not a token response")
        .stderr_has("HTTP 200");
    assert_eq!(std::fs::read(token_file(&world)).unwrap(), before);

    idp.fault("token", "status_500", 1);
    paste_login(&world, &idp)
        .expect(6)
        .stderr_has("HTTP 500: server_error");
    assert_eq!(std::fs::read(token_file(&world)).unwrap(), before);

    idp.fault("token", "drop", 1);
    paste_login(&world, &idp).expect(6);
    assert_eq!(std::fs::read(token_file(&world)).unwrap(), before);
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
    let idp = Idp::shared();
    let world = world_for(idp, "");
    let started = Instant::now();
    let run = world
        .run(&["login", "--no-browser", "--timeout", "1s"])
        .expect(8);
    run.stderr_has("timed out after 1s");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(!token_file(&world).exists());
}

#[test]
fn conflicting_flags_are_usage_errors() {
    let idp = Idp::shared();
    let world = world_for(idp, "");
    world
        .run(&["login", "--no-loopback", "--no-paste"])
        .expect(2);
    world.run(&["login", "--browser", "--no-browser"]).expect(2);
}

#[test]
fn ssh_session_prints_the_url_and_the_tunnel_command() {
    let idp = Idp::shared();
    let world = world_for(idp, "");
    let run = world
        .run_env(
            &["login", "--timeout", "1"],
            &[
                ("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22"),
                ("DISPLAY", ""),
            ],
        )
        .expect(8);
    run.stderr_has("SSH session detected: open this URL on any device, or paste the result below");
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
    let world = World::new();
    world.write_profiles(&idp.profile_toml(""));
    let mut session = Session::start(&world, &["login", "--no-loopback", "--no-browser"], &[]);
    let url = session.authorize_url(idp);
    let redirect = approve(&url, idp, &[]);
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
