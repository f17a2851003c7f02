//! Auth0 in depth, against the test provider in Auth0's shape (`tests/idp/server.js --auth0`,
//! a `domain` profile): login, refresh and logout on Auth0's paths, organizations checked in
//! every ID token, invitations, tokens for other APIs from one login (Multi-Resource Refresh
//! Token, and RFC 8707 `resource` elsewhere), and switching users (`--fresh`,
//! `logout --browser`).

use crate::support;

use crate::support::{
    Idp, Kind, PASTE_LOGIN, Session, World, age_tokens, approve, paste_login, query_param, racing,
    stored, stored_refresh_token,
};
use serde_json::{Value, json};

const API: &str = "https://api.example.com/";
/// In the test application's refresh-token policies, with these scopes.
const BILLING: &str = "https://billing.example.com/";
const REPORTS: &str = "https://reports.example.com/";
/// Not in the policies: Auth0 answers it with a token for the default audience.
const OUTSIDE: &str = "https://outside.example.com/";

/// A provider of its own (claim overrides and counters are per provider).
fn auth0() -> Idp {
    Idp::start_kind(Kind::Auth0, &[])
}

/// A world for `idp` whose profile asks for `API` (and `extra`).
fn world(idp: &Idp, extra: &str) -> World {
    World::for_idp(idp, &format!("audience = \"{API}\"\n{extra}"))
}

/// The claims of a JWT, unverified: what a test needs to see in an access or ID token.
fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// A paste login with `args` after `login`, approved by the browser stand-in with `browser`
/// options; returns the run and the authorize URL.
fn login_with(world: &World, idp: &Idp, args: &[&str], browser: &[&str]) -> (support::Run, String) {
    let mut all = PASTE_LOGIN.to_vec();
    all.extend(args);
    let (mut session, url) = Session::login(world, idp, &all);
    let answer = approve(&url, idp, browser);
    let redirect = answer.lines().next().expect("a redirect").to_owned();
    session.paste(&redirect);
    (session.finish(), url)
}

/// The interaction pages the browser stand-in went through (`--report-pages`).
fn pages_of_login(world: &World, idp: &Idp, args: &[&str], jar: &str) -> (support::Run, String) {
    let mut all = PASTE_LOGIN.to_vec();
    all.extend(args);
    let (mut session, url) = Session::login(world, idp, &all);
    let answer = approve(&url, idp, &["--jar", jar, "--report-pages"]);
    let mut lines = answer.lines();
    let redirect = lines.next().expect("a redirect").to_owned();
    let pages = lines
        .find_map(|l| l.strip_prefix("pages:"))
        .expect("a pages line")
        .trim()
        .to_owned();
    session.paste(&redirect);
    (session.finish(), pages)
}

fn token_requests(idp: &Idp) -> u64 {
    idp.counters()["token"].as_u64().unwrap_or(0)
}

#[test]
fn login_refresh_and_logout_on_auth0s_paths() {
    let idp = auth0();
    assert!(idp.issuer.ends_with('/'), "{}", idp.issuer);
    let world = world(&idp, "token_request_format = \"json\"\n");
    let (run, url) = login_with(&world, &idp, &[], &[]);
    run.expect(0).stderr_has("Logged in as");
    assert!(
        url.starts_with(&format!("{}authorize?", idp.issuer)),
        "{url}"
    );
    let tokens = stored(&world).unwrap();
    assert_eq!(tokens.issuer, idp.issuer);
    let access = claims(tokens.access_token.secret());
    assert_eq!(access["aud"], API);

    // A refresh, with a JSON body as the profile says.
    age_tokens(&world, 60);
    let before = stored_refresh_token(&world);
    world.run(&["token", "--min-valid", "2h"]).expect(0);
    let last = idp.get_json("/__test/last-request?endpoint=token");
    assert_eq!(last["path"], "/oauth/token");
    assert_eq!(last["body_format"], "json");
    assert_ne!(stored_refresh_token(&world), before, "Auth0 rotates");

    // The replaced refresh token used again: Auth0's 403 invalid_grant kills the family.
    let (status, answer) = idp.try_refresh(&before);
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("invalid_grant"))
    );
    age_tokens(&world, 60);
    world
        .run(&["token", "--min-valid", "2h"])
        .expect(4)
        .stderr_has("invalid_grant");

    // Logout revokes what it can: the refresh token is dead already, the JWT cannot be.
    let world = world_logged_in(&idp);
    let run = world.run(&["logout"]).expect(0);
    run.stderr_has("does not revoke this type of token (unsupported_token_type)");
    assert!(!world.token_file().exists());
}

fn world_logged_in(idp: &Idp) -> World {
    let world = world(idp, "");
    paste_login(&world, idp).expect(0);
    world
}

#[test]
fn an_organization_is_sent_and_checked_at_login_and_every_refresh() {
    let idp = auth0();
    let world = world(&idp, "organization = \"ACME\"\n");
    let (run, url) = login_with(&world, &idp, &[], &[]);
    run.expect(0)
        .stderr_has("to organization acme (org_acme123) with profile `local`");
    assert_eq!(query_param(&url, "organization"), "ACME");
    let status = world.run(&["status"]).expect(0);
    status.stdout_has("  org         acme (org_acme123)\n");
    let json: Value = serde_json::from_str(&world.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(
        json["organization"],
        json!({ "requested": "ACME", "id": "org_acme123", "name": "acme" })
    );

    // A refresh whose ID token names another organization is refused: neither that ID token
    // nor the access token with it is stored or served. Only the rotated refresh token is
    // kept (it came from the endpoint the tokens are bound to): the one sent is spent.
    age_tokens(&world, 60);
    let before = stored(&world).unwrap();
    idp.post_json("/__test/claims", json!({ "org_name": "globex" }));
    let run = world.run(&["token", "--min-valid", "2h"]).expect(5);
    run.stderr_has("expected org_name \"ACME\", the token says \"globex\"");
    assert!(run.stdout.is_empty(), "a token was served: {}", run.stdout);
    let after = stored(&world).unwrap();
    assert_eq!(after.access_token.secret(), before.access_token.secret());
    assert_eq!(
        after.id_token.as_ref().map(|t| t.secret().to_owned()),
        before.id_token.as_ref().map(|t| t.secret().to_owned())
    );
    let (spent, kept) = (
        before.refresh_token.unwrap().secret().to_owned(),
        after.refresh_token.unwrap().secret().to_owned(),
    );
    assert_ne!(kept, spent, "the rotated refresh token was dropped");
    assert_eq!(
        idp.try_refresh(&kept).0,
        200,
        "the kept one is the live one"
    );
}

#[test]
fn a_login_answered_for_another_organization_or_none_stores_nothing() {
    let idp = auth0();
    let world = world(&idp, "");
    idp.post_json("/__test/claims", json!({ "org_id": "org_globex456" }));
    let (run, _) = login_with(&world, &idp, &["--organization", "org_acme123"], &[]);
    run.expect(5)
        .stderr_has("expected org_id \"org_acme123\", the token says \"org_globex456\"");
    assert!(!world.token_file().exists());

    idp.post_json("/__test/claims", json!({ "org_id": null }));
    let (run, _) = login_with(&world, &idp, &["--organization", "org_acme123"], &[]);
    run.expect(5).stderr_has("the token has no org_id claim");
    assert!(!world.token_file().exists());
}

#[test]
fn an_invitation_link_is_accepted_and_its_organization_checked() {
    let idp = auth0();
    let world = world(&idp, "");
    let link = "https://app.example.com/login?invitation=Tk7Inv1te&organization=org_globex456&organization_name=globex";
    let (run, url) = login_with(&world, &idp, &["--invitation", link], &[]);
    run.expect(0)
        .stderr_has("Accepting the invitation to organization globex (org_globex456).")
        .stderr_has("to organization globex (org_globex456)");
    assert_eq!(query_param(&url, "invitation"), "Tk7Inv1te");
    assert_eq!(query_param(&url, "organization"), "org_globex456");
    let sent = idp.get_json("/__test/last-request?endpoint=authorize");
    assert_eq!(sent["query"]["invitation"], "Tk7Inv1te");
    assert_eq!(
        stored(&world).unwrap().organization.as_deref(),
        Some("org_globex456")
    );

    for (args, why) in [
        (
            vec![
                "--invitation",
                "https://app.example.com/login?organization=org_1",
            ],
            "has no `invitation` parameter",
        ),
        (
            vec!["--invitation", link, "--organization", "acme"],
            "--organization cannot choose another",
        ),
        (vec!["--invitation", link, "--device"], "device grant"),
    ] {
        let mut all = PASTE_LOGIN.to_vec();
        all.extend(args);
        world.run(&all).expect(2).stderr_has(why);
    }
}

#[test]
fn tokens_for_other_apis_come_from_the_one_refresh_token_and_are_cached() {
    let idp = auth0();
    let world = world_logged_in(&idp);
    let login_access = stored(&world).unwrap().access_token.secret().to_owned();
    let refresh_before = stored_refresh_token(&world);

    let run = world
        .run(&["token", "--audience", BILLING, "--scope", "read:invoices"])
        .expect(0);
    let billing = run.stdout.trim().to_owned();
    let got = claims(&billing);
    assert_eq!(got["aud"], BILLING);
    assert_eq!(got["scope"], "read:invoices");
    let sent = idp.get_json("/__test/last-request?endpoint=token");
    assert_eq!(sent["params"]["audience"], BILLING);
    assert_eq!(sent["params"]["scope"], "read:invoices");
    // The rotated refresh token replaced the spent one; the login's access token is untouched.
    let tokens = stored(&world).unwrap();
    assert_ne!(stored_refresh_token(&world), refresh_before);
    assert_eq!(tokens.access_token.secret(), login_access);

    // Served from the file the second time; other scopes get a token of their own.
    let requests = token_requests(&idp);
    let again = world
        .run(&[
            "token",
            "--audience",
            BILLING,
            "--scope",
            "read:invoices",
            "--format",
            "json",
        ])
        .expect(0);
    let doc: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(doc["access_token"], billing.as_str());
    assert_eq!(token_requests(&idp), requests);
    world
        .run(&["token", "--audience", BILLING, "--scope", "write:invoices"])
        .expect(0);
    assert_eq!(token_requests(&idp), requests + 1);
    // The login's own API is the login's token.
    let own = world.run(&["token", "--audience", API]).expect(0);
    assert_eq!(own.stdout.trim(), login_access);

    world
        .run(&["status"])
        .expect(0)
        .stdout_has(&format!("  api         {BILLING} (until "));
    // A refresh of the login's token keeps the other APIs' tokens.
    age_tokens(&world, 60);
    world.run(&["token", "--min-valid", "2h"]).expect(0);
    assert!(
        stored(&world)
            .unwrap()
            .apis
            .iter()
            .any(|t| t.audience == BILLING)
    );
}

#[test]
fn racing_requests_for_another_api_spend_the_refresh_token_once() {
    let idp = auth0();
    let world = world_logged_in(&idp);
    let requests = token_requests(&idp);
    let runs = racing(&world, 8, &["token", "--audience", REPORTS]);
    let printed: Vec<String> = runs
        .into_iter()
        .map(|run| run.expect(0).stdout.trim().to_owned())
        .collect();
    assert!(printed.iter().all(|t| t == &printed[0]), "different tokens");
    assert_eq!(token_requests(&idp), requests + 1);
    // The rotated refresh token still works for the login's own token.
    age_tokens(&world, 60);
    world.run(&["token", "--min-valid", "2h"]).expect(0);
}

#[test]
fn an_api_outside_the_policies_is_refused_not_silently_substituted() {
    let idp = auth0();
    let world = world_logged_in(&idp);
    let refresh_before = stored_refresh_token(&world);
    let run = world.run(&["token", "--audience", OUTSIDE]).expect(5);
    run.stderr_has(&format!(
        "answered with an access token for \"{API}\", not for \"{OUTSIDE}\"; it was not stored"
    ))
    .stderr_has("Refresh Token Policies");
    assert!(run.stdout.is_empty());
    let tokens = stored(&world).unwrap();
    assert!(tokens.apis.is_empty(), "the substituted token was cached");
    // The refresh token it spent was replaced by the rotated one, which works.
    assert_ne!(stored_refresh_token(&world), refresh_before);
    world.run(&["token", "--audience", REPORTS]).expect(0);
}

#[test]
fn other_providers_are_asked_by_rfc_8707_resource() {
    let idp = Idp::start(&[]);
    let world = world_logged_in(&idp);
    let run = world.run(&["token", "--audience", BILLING]).expect(0);
    assert_eq!(claims(run.stdout.trim())["aud"], BILLING);
    let sent = idp.get_json("/__test/last-request?endpoint=token");
    assert_eq!(sent["params"]["resource"], BILLING);
    assert!(sent["params"]["audience"].is_null(), "{sent}");
    // A resource the provider refuses is its words, exit 5, and the login goes on.
    let run = world.run(&["token", "--audience", OUTSIDE]).expect(5);
    run.stderr_has("invalid_target");
    world.run(&["token", "--audience", REPORTS]).expect(0);
    // --scope alone asks for scopes of the login's own API: one it was not granted is the
    // provider's refusal, and the login is kept. --audience is for access tokens.
    world
        .run(&["token", "--scope", "read:reports"])
        .expect(5)
        .stderr_has("invalid_scope");
    world.run(&["token"]).expect(0);
    world
        .run(&["token", "--audience", BILLING, "--id-token"])
        .expect(2);
}

/// `invalid_grant` to a request for another API is that API's refusal (exit 5), and costs the
/// login nothing: only a refresh of the login's own tokens may record its refresh token as
/// dead. (Failed before: the refresh token was dropped, and every later `token` was exit 4.)
#[test]
fn an_apis_refusal_never_costs_the_login() {
    let idp = Idp::start(&[]);
    let world = world_logged_in(&idp);
    idp.fault("token", "invalid_grant", 1);
    world
        .run(&["token", "--audience", BILLING])
        .expect(5)
        .stderr_has(&format!(
            "the provider refused a token for \"{BILLING}\" (invalid_grant: injected); the login of profile `local` is kept as it is"
        ));
    let kept = stored(&world).unwrap();
    assert!(kept.refresh_token.is_some() && kept.refresh_refused.is_none());
    world.run(&["status"]).expect(0).stdout_has("logged in as");
    age_tokens(&world, 60);
    world.run(&["token", "--min-valid", "2h"]).expect(0);
    world.run(&["token", "--audience", BILLING]).expect(0);
}

/// The session the browser holds at the provider: kept between logins, so the second logs in
/// without the login page; `--fresh` asks for it again; `logout --browser` ends the session.
fn switching_users(idp: &Idp, logout_path: &str) {
    let world = world(idp, "");
    let jar = world.home().join("browser-jar.json");
    let jar = jar.to_str().unwrap();
    let (run, pages) = pages_of_login(&world, idp, &[], jar);
    run.expect(0);
    assert_eq!(pages, "login consent");
    let (run, pages) = pages_of_login(&world, idp, &[], jar);
    run.expect(0);
    assert!(
        !pages.contains("login"),
        "the session was not kept: {pages}"
    );
    let (run, pages) = pages_of_login(&world, idp, &["--fresh"], jar);
    run.expect(0);
    assert!(
        pages.starts_with("login"),
        "--fresh did not ask again: {pages}"
    );

    // No browser here (no display, no $BROWSER): the URL is printed, as over SSH.
    let run = world.run(&["logout", "--browser"]).expect(0);
    let url = run
        .stderr
        .lines()
        .find(|l| l.starts_with("http") && l.contains(logout_path))
        .unwrap_or_else(|| panic!("no logout URL:\n{}", run.stderr))
        .to_owned();
    assert_eq!(query_param(&url, "client_id"), support::CLIENT_ID);
    let opened = idp.browse(&["open", &url, "--jar", jar]);
    assert!(
        opened.starts_with("status 2") || opened.starts_with("status 3"),
        "{opened}"
    );
    let logout = idp.get_json("/__test/last-logout");
    assert_eq!(logout["session_ended"], true, "{logout}");
    assert_eq!(logout["had_session"], true, "{logout}");
    let (run, pages) = pages_of_login(&world, idp, &[], jar);
    run.expect(0);
    assert!(
        pages.starts_with("login"),
        "the session outlived logout: {pages}"
    );
}

#[test]
fn switching_users_on_auth0_with_fresh_and_v2_logout() {
    let idp = auth0();
    switching_users(&idp, "/v2/logout?client_id=");
    let logout = idp.get_json("/__test/last-logout");
    assert_eq!(logout["path"], "/v2/logout");
    assert_eq!(logout["id_token_hint"], false);
}

#[test]
fn switching_users_with_rp_initiated_logout_sends_the_id_token_as_hint() {
    let idp = Idp::start(&[]);
    switching_users(&idp, "/session/end?id_token_hint=");
    let logout = idp.get_json("/__test/last-logout");
    assert_eq!(logout["id_token_hint_valid"], true, "{logout}");
    assert_eq!(logout["sub_matches"], true, "{logout}");
    assert_eq!(logout["aud_matches"], true, "{logout}");
}

#[test]
fn a_device_login_checks_the_organization_too() {
    let idp = auth0();
    let world = world(&idp, "organization = \"org_acme123\"\n");
    let (session, url) = Session::device_login(&world, &idp, &["login", "--device", "--no-qr"]);
    support::approve_device(&url, &idp, false);
    session
        .finish()
        .expect(0)
        .stderr_has("to organization acme (org_acme123)");
    let sent = idp.get_json("/__test/last-request?endpoint=device");
    assert_eq!(sent["params"]["organization"], "org_acme123");
    // A domain profile reads no metadata, so no PKCE method is listed and none is sent.
    assert!(sent["params"].get("code_challenge").is_none(), "{sent}");
}
