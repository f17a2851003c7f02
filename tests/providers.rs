//! The end-to-end core against every real provider in the suite (`support::Kind`): node
//! `oidc-provider` (`tests/idp`) and Django OAuth Toolkit (`tests/dot`). Each behaviour is one
//! function taking the provider; `against_every_provider!` makes a test of it per provider
//! (`node::NAME`, `django::NAME`), so that no test is copied per provider and none can drift.
//! Tests that count requests start a provider of their own; the others share one per kind.

use crate::support;

use crate::support::{
    Idp, Kind, Session, World, age_tokens, approve_device, deny, paste_login, query_param, stored,
    stored_refresh_token,
};

macro_rules! against_every_provider {
    ($($test:ident),* $(,)?) => {
        mod node {
            $( #[test] fn $test() { super::$test(super::Kind::Node) } )*
        }
        mod django {
            $( #[test] fn $test() { super::$test(super::Kind::Django) } )*
        }
    };
}

against_every_provider!(
    paste_login_stores_the_tokens,
    loopback_login_through_the_browser_variable,
    a_denied_consent_comes_back_as_access_denied,
    an_expiring_token_is_refreshed_once_and_the_old_refresh_token_dies,
    eight_concurrent_processes_refresh_exactly_once,
    logout_revokes_at_the_provider_and_deletes,
    device_login_approved_on_another_device_then_refreshed,
);

/// A world logged in to `idp` by paste, its tokens aged past the window in which they count as
/// just issued, so that a `token --min-valid` may refresh them.
fn logged_in(idp: &Idp) -> World {
    let world = support::logged_in(idp, "");
    age_tokens(&world, 10);
    world
}

fn paste_login_stores_the_tokens(kind: Kind) {
    let idp = Idp::shared_kind(kind);
    let world = World::for_idp(idp, "");
    let run = paste_login(&world, idp).expect(0);
    // A person's name either way: from node's ID token, or (Django OAuth Toolkit's ID tokens
    // carry only `sub`) from UserInfo.
    run.stderr_has("Logged in as Alice Liddell (alice@example.com) with profile `local`");
    let bytes = std::fs::read(world.token_file()).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    let tokens = stored(&world).unwrap();
    assert!(!tokens.access_token.secret().is_empty());
    assert!(tokens.refresh_token.is_some() && tokens.id_token.is_some());
    assert_eq!(tokens.issuer, idp.issuer);
    assert_eq!(tokens.client_id, support::CLIENT_ID);
    assert!(tokens.expires_at.unwrap() > latchkey::base::clock::unix_now());
    assert!(!run.stderr.contains(tokens.access_token.secret()));
    assert_eq!(idp.userinfo_status(tokens.access_token.secret()), 200);
}

fn loopback_login_through_the_browser_variable(kind: Kind) {
    let idp = Idp::shared_kind(kind);
    let world = World::for_idp(idp, "");
    let script = world.browser_script_for(kind, "browser.sh", "");
    let run = world.login_with_browser(&script).expect(0);
    run.stderr_has("opening your browser ($BROWSER=")
        .stderr_has("Logged in as");
    let log = world.read_file("browser.log");
    assert!(log.starts_with("200"), "the browser got: {log}");
    assert!(log.contains("close this tab"), "{log}");
    let tokens = stored(&world).unwrap();
    assert!(tokens.refresh_token.is_some() && tokens.id_token.is_some());
    assert_eq!(tokens.issuer, idp.issuer);
}

/// What a cancelled consent sends back, which the tests of latchkey's answer to it rely on:
/// `error=access_denied` with the request's state, and `iss` from node `oidc-provider` but not
/// from Django OAuth Toolkit (although its metadata advertises
/// `authorization_response_iss_parameter_supported`).
fn a_denied_consent_comes_back_as_access_denied(kind: Kind) {
    let idp = Idp::shared_kind(kind);
    let world = World::for_idp(idp, "");
    let (session, url, _) = support::loopback_login(&world, idp);
    let redirect = deny(&url, idp);
    assert_eq!(query_param(&redirect, "error"), "access_denied");
    assert_eq!(query_param(&redirect, "state"), query_param(&url, "state"));
    let query = redirect.split_once('?').map(|(_, q)| q).unwrap_or("");
    let has_iss = latchkey::net::url::parse_query(query)
        .unwrap()
        .iter()
        .any(|(key, _)| key == "iss");
    assert_eq!(has_iss, kind == Kind::Node, "{redirect}");
    // Back at latchkey's loopback, as the browser brings it: the login ends at once with the
    // provider's reason (exit 5) — and says so when the promised `iss` is missing.
    let (status, _) = support::loopback_get(idp, &redirect);
    assert_eq!(status, 400);
    let run = session.finish().expect(5);
    run.stderr_has("access_denied");
    let lacks = "but its response lacks `iss`, which the provider's metadata promises";
    assert_eq!(
        run.stderr.contains(lacks),
        kind == Kind::Django,
        "{}",
        run.stderr
    );
    assert!(stored(&world).is_none());
}

fn an_expiring_token_is_refreshed_once_and_the_old_refresh_token_dies(kind: Kind) {
    let idp = Idp::start_kind(kind, &["--access-ttl", "30"]);
    let world = logged_in(&idp);
    let before = stored(&world).unwrap();
    let old_refresh = before.refresh_token.as_ref().unwrap().secret().to_owned();
    idp.reset();

    let run = world.run(&["token", "--min-valid", "60"]).expect(0);
    let fresh = run.stdout.trim();
    assert_ne!(fresh, before.access_token.secret());
    assert_eq!(idp.counters()["token"], 1);
    let after = stored(&world).unwrap();
    assert_eq!(after.access_token.secret(), fresh);
    assert_ne!(
        after.refresh_token.as_ref().unwrap().secret(),
        old_refresh,
        "rotation gives a new refresh token"
    );
    assert_eq!(idp.userinfo_status(fresh), 200);

    // Fresh enough for a smaller margin: no request.
    world.run(&["token", "--min-valid", "5s"]).expect(0);
    assert_eq!(idp.counters()["token"], 1);

    // Rotation: the old refresh token is dead at the provider.
    let (status, answer) = idp.try_refresh(&old_refresh);
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "invalid_grant", "{answer}");
}

fn eight_concurrent_processes_refresh_exactly_once(kind: Kind) {
    let idp = Idp::start_kind(kind, &["--access-ttl", "30"]);
    let world = logged_in(&idp);
    idp.reset();
    let outputs: Vec<support::Run> = support::racing(&world, 8, &["token", "--min-valid", "60"])
        .into_iter()
        .map(|run| run.expect(0))
        .collect();
    let first = &outputs[0].stdout;
    assert!(
        outputs.iter().all(|o| &o.stdout == first),
        "all 8 got the same token"
    );
    assert_eq!(idp.counters()["token"], 1, "exactly one refresh request");
    assert_eq!(idp.userinfo_status(first.trim()), 200, "and it is valid");
}

fn logout_revokes_at_the_provider_and_deletes(kind: Kind) {
    let idp = Idp::start_kind(kind, &[]);
    let world = support::logged_in(&idp, "");
    let refresh = stored_refresh_token(&world);
    let access = stored(&world).unwrap().access_token.secret().to_owned();
    idp.reset();
    world
        .run(&["logout"])
        .expect(0)
        .stderr_has("revoked at the provider");
    assert!(!world.token_file().exists());
    assert_eq!(
        idp.counters()["revocation"],
        2,
        "refresh token, then access token"
    );
    let (status, answer) = idp.try_refresh(&refresh);
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant")),
        "{answer}"
    );
    assert_ne!(
        idp.userinfo_status(&access),
        200,
        "the access token is dead"
    );
}

fn device_login_approved_on_another_device_then_refreshed(kind: Kind) {
    // A provider of its own: it counts what it saw of PKCE.
    let idp = &Idp::start_kind(kind, &[]);
    let world = World::new();
    world.write_profiles(&idp.device_profile_toml(""));
    let (mut session, url) = Session::device_login(&world, idp, &["login", "--device"]);
    let user_code = query_param(&url, "user_code");
    session.wait_line("the user code", |l| {
        l.contains(&user_code) && l.contains("Check that the page shows the code")
    });
    assert_eq!(approve_device(&url, idp, false), "approved");
    // The person is named even where the device grant brings no ID token (Django OAuth
    // Toolkit): from UserInfo.
    session
        .finish()
        .expect(0)
        .stderr_has("Logged in as Alice Liddell (alice@example.com)");
    let tokens = stored(&world).unwrap();
    assert_eq!(tokens.client_id, idp.device_client_id());
    // Both list S256 in their metadata, so the login sent PKCE, and both took it (neither
    // checks it on the device grant): one challenge, its verifier on every poll.
    let seen = idp.device_pkce();
    let polls = idp.counters()["token"].as_u64().unwrap();
    assert_eq!(seen["challenges"], 1, "{seen}");
    assert!(polls >= 1);
    assert_eq!(seen["verifiers"], polls, "{seen}");
    assert_eq!(seen["verified"], polls, "{seen}");
    let old_refresh = tokens.refresh_token.expect("a refresh token");

    // The device client's refresh token works like the code flow's.
    age_tokens(&world, 10);
    let run = world.run(&["token", "--min-valid", "2h"]).expect(0);
    assert_ne!(run.stdout.trim(), tokens.access_token.secret());
    let (status, _) = idp.try_refresh_as(idp.device_client_id(), old_refresh.secret());
    assert_eq!(status, 400, "rotated");
}

/// Django OAuth Toolkit lists its revocation endpoint only in its RFC 8414 metadata
/// (`/.well-known/oauth-authorization-server`), not in its OpenID discovery document: latchkey
/// reads both, so a profile without `revocation_endpoint` revokes there.
#[test]
fn django_revocation_endpoint_found_in_rfc_8414_metadata() {
    let idp = Idp::start_kind(Kind::Django, &[]);
    let world = World::new();
    world.write_profiles(&format!(
        "default_profile = \"local\"\n[profiles.local]\nissuer = \"{0}\"\nclient_id = \"{1}\"\nredirect_port = 0\npaste_redirect_uri = \"{0}/show-code\"\n",
        idp.issuer,
        support::CLIENT_ID
    ));
    paste_login(&world, &idp).expect(0);
    let refresh = stored_refresh_token(&world);
    idp.reset();
    world
        .run(&["logout"])
        .expect(0)
        .stderr_has("revoked at the provider");
    assert_eq!(idp.counters()["revocation"], 2);
    assert_eq!(idp.try_refresh(&refresh).0, 400);
}
