//! `latchkey login --device` (RFC 8628) against the real provider: approved with the browser
//! stand-in, denied, and the provider's slow_down / access_denied / expired_token answers.

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
