//! `latchkey login --device` (RFC 8628) against the real provider: approved with the browser
//! stand-in, denied, and the provider's slow_down / access_denied / expired_token answers.

mod support;

use std::time::{Duration, Instant};
use support::{Idp, Session, World, browser, stored};

fn world_for(idp: &Idp, extra: &str) -> World {
    let world = World::new();
    world.write_profiles(&idp.profile_toml(extra));
    world
}

/// Starts a device login and returns it with the verification URL it printed.
fn start(world: &World, idp: &Idp, args: &[&str]) -> (Session, String) {
    let mut session = Session::start(world, args, &[]);
    let prefix = format!("{}/device?user_code=", idp.issuer);
    let url = session.wait_line("verification URL", |l| l.starts_with(&prefix));
    (session, url)
}

#[test]
fn device_login_approved_on_another_device() {
    let idp = Idp::shared();
    let world = world_for(idp, "audience = \"https://api.example.com/\"");
    let (mut session, url) = start(&world, idp, &["login", "--device"]);
    let user_code = url.rsplit('=').next().unwrap().to_owned();
    session.wait_line("the user code", |l| {
        l.contains(&user_code) && l.contains("Check that the page shows the code")
    });
    let out = browser(&["device", &url], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "approved");
    session
        .finish()
        .expect(0)
        .stderr_has("Logged in as alice@example.com");
    let tokens = stored(&world).unwrap();
    assert!(tokens.refresh_token.is_some() && tokens.id_token.is_some());
    assert_eq!(tokens.audience.as_deref(), Some("https://api.example.com/"));
}

#[test]
fn flow_device_in_the_profile_needs_no_flag() {
    let idp = Idp::shared();
    let world = world_for(idp, "flow = \"device\"");
    let (session, url) = start(&world, idp, &["login"]);
    let out = browser(&["device", &url, "--deny"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    session.finish().expect(5).stderr_has("denied");
    assert!(stored(&world).is_none());
}

#[test]
fn slow_down_adds_five_seconds_and_access_denied_stops() {
    let idp = Idp::start(&[]);
    let world = world_for(&idp, "");
    idp.fault("token", "slow_down", 1);
    idp.fault("token", "access_denied", 1);
    let started = Instant::now();
    let (session, _) = start(&world, &idp, &["login", "--device"]);
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
    let world = world_for(&idp, "");
    idp.fault("token", "expired_token", 1);
    let (session, _) = start(&world, &idp, &["login", "--device"]);
    session.finish().expect(8).stderr_has("device code expired");
    assert!(stored(&world).is_none());
}

#[test]
fn timeout_ends_the_wait_with_exit_8() {
    let idp = Idp::shared();
    let world = world_for(idp, "");
    let started = Instant::now();
    let run = world
        .run(&["login", "--device", "--timeout", "2s"])
        .expect(8);
    run.stderr_has("timed out after 2s");
    assert!(started.elapsed() < Duration::from_secs(10));
}
