//! `latchkey login --device` (RFC 8628) against the real provider: approved with the browser
//! stand-in, denied, the provider's slow_down / access_denied / expired_token answers, and PKCE
//! where the provider lists S256 (required, as Keycloak can, by `--device-pkce required`).

use crate::support::{Idp, Session, World, browse, stored};
use std::time::{Duration, Instant};

#[test]
fn device_login_approved_on_another_device() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "audience = \"https://api.example.com/\"");
    let (mut session, url) = Session::device_login(&world, idp, &["login", "--device"]);
    let user_code = url.rsplit('=').next().unwrap().to_owned();
    session.wait_line("the user code", |l| {
        l.contains(&user_code) && l.contains("Check that the page shows the code")
    });
    assert_eq!(browse(&["device", &url], None), "approved");
    session
        .finish()
        .expect(0)
        .stderr_has("Logged in as Alice Liddell (alice@example.com)");
    let tokens = stored(&world).unwrap();
    assert!(tokens.refresh_token.is_some() && tokens.id_token.is_some());
    assert_eq!(tokens.audience.as_deref(), Some("https://api.example.com/"));
}

#[test]
fn flow_device_in_the_profile_needs_no_flag() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "flow = \"device\"");
    let (session, url) = Session::device_login(&world, idp, &["login"]);
    browse(&["device", &url, "--deny"], None);
    session.finish().expect(5).stderr_has("denied");
    assert!(stored(&world).is_none());
}

#[test]
fn slow_down_adds_five_seconds_and_access_denied_stops() {
    let idp = Idp::start(&[]);
    let world = World::for_idp(&idp, "");
    idp.fault("token", "slow_down", 1);
    idp.fault("token", "access_denied", 1);
    let started = Instant::now();
    let (session, _) = Session::device_login(&world, &idp, &["login", "--device"]);
    session.finish().expect(5).stderr_has("access_denied");
    // First poll after 5 s (slow_down), the next after 5 + 5 s.
    assert!(
        started.elapsed() >= Duration::from_secs(14),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(idp.counters()["token"], 2);
}

#[test]
fn an_expired_device_code_is_exit_8() {
    let idp = Idp::start(&[]);
    let world = World::for_idp(&idp, "");
    idp.fault("token", "expired_token", 1);
    let (session, _) = Session::device_login(&world, &idp, &["login", "--device"]);
    session.finish().expect(8).stderr_has("device code expired");
    assert!(stored(&world).is_none());
}

#[test]
fn timeout_ends_the_wait_with_exit_8() {
    let world = World::for_idp(Idp::shared(), "");
    let (run, took) = world.timed_run(&["login", "--device", "--timeout", "2s"]);
    run.expect(8).stderr_has("timed out after 2s");
    assert!(took < Duration::from_secs(10));
}

/// A device login approved against `idp`, as a person would: the finished run.
fn approved_device_login(idp: &Idp, world: &World) -> crate::support::Run {
    let (session, url) = Session::device_login(world, idp, &["login", "--device", "--no-qr"]);
    assert_eq!(browse(&["device", &url], None), "approved");
    session.finish()
}

#[test]
fn pkce_required_on_the_device_grant_as_keycloak_can() {
    let idp = Idp::start(&["--device-pkce", "required"]);
    let world = World::for_idp(&idp, "");
    let run = approved_device_login(&idp, &world).expect(0);
    run.stderr_has("Logged in as Alice Liddell");
    assert!(stored(&world).is_some());
    let sent = idp.get_json("/__test/last-request?endpoint=device");
    assert_eq!(sent["params"]["code_challenge_method"], "S256");
    assert!(sent["params"].get("code_verifier").is_none(), "{sent}");
    // Every poll carried the verifier of that challenge (a wrong or missing one is refused).
    let seen = idp.device_pkce();
    let polls = idp.counters()["token"].as_u64().unwrap();
    assert_eq!(seen["challenges"], 1, "{seen}");
    assert!(polls >= 1);
    assert_eq!(seen["verifiers"], polls, "{seen}");
    assert_eq!(seen["verified"], polls, "{seen}");
    let poll = idp.get_json("/__test/last-request?endpoint=token");
    let verifier = poll["params"]["code_verifier"].as_str().unwrap();
    assert_eq!(verifier.len(), 43);
    assert!(!run.stderr.contains(verifier));
}

#[test]
fn no_pkce_on_the_device_grant_where_the_metadata_lists_no_s256() {
    let idp = Idp::start(&["--device-pkce", "unadvertised"]);
    let world = World::for_idp(&idp, "");
    approved_device_login(&idp, &world).expect(0);
    let sent = idp.get_json("/__test/last-request?endpoint=device");
    assert!(sent["params"].get("code_challenge").is_none(), "{sent}");
    assert!(
        sent["params"].get("code_challenge_method").is_none(),
        "{sent}"
    );
    let seen = idp.device_pkce();
    assert_eq!(seen["challenges"], 0, "{seen}");
    assert_eq!(seen["verifiers"], 0, "{seen}");
}

#[test]
fn a_provider_requiring_pkce_it_does_not_list_is_refused_in_its_words() {
    let idp = Idp::start(&["--device-pkce", "required"]);
    let world = World::for_idp(&idp, "");
    // The discovery document loses its PKCE methods on the way out: latchkey sends none, and
    // the provider says what it missed.
    let answer = idp.post_json(
        "/__test/fault",
        serde_json::json!({ "endpoint": "discovery", "kind": "reshape",
            "reshape": { "code_challenge_methods_supported": "drop" } }),
    );
    assert_eq!(answer["ok"], true, "{answer}");
    world
        .run(&["login", "--device", "--no-qr"])
        .expect(5)
        .stderr_has("invalid_request: Missing parameter: code_challenge_method");
    assert!(stored(&world).is_none());
}
