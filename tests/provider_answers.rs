//! What the token endpoint answers, as providers really answer it, against the real provider in
//! `tests/idp`: a 4xx without an OAuth error (a refusal, not a network failure), a refresh token
//! the provider refused (recorded, never sent again), and token responses shaped as other
//! providers shape them (a scope list, a string `expires_in`, `BEARER`, no `expires_in`).
//! Each test counts requests, so each has a provider of its own.

use crate::support;

use crate::support::{Idp, World, age_tokens, paste_login, stored};

/// Queues a `reshape` fault (tests/idp/README.md): the provider's next token response is
/// reshaped by `changes` on its way out.
fn reshape(idp: &Idp, changes: serde_json::Value) {
    let answer = idp.post_json(
        "/__test/fault",
        serde_json::json!({ "endpoint": "token", "kind": "reshape", "count": 1, "reshape": changes }),
    );
    assert_eq!(answer["ok"], true, "{answer}");
}

fn status_json(world: &World, code: i32) -> serde_json::Value {
    let run = world.run(&["status", "--json"]).expect(code);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

const REFUSED_400: &str =
    "error: the identity provider refused with HTTP 400 but no OAuth error: (empty body)";

#[test]
fn a_4xx_without_an_oauth_error_is_a_refusal_sent_once() {
    let idp = Idp::start(&[]);
    let world = World::for_idp(&idp, "");

    // The code exchange: exit 5, nothing stored.
    idp.fault("token", "status_400_empty", 1);
    paste_login(&world, &idp)
        .expect(5)
        .stderr_has(REFUSED_400)
        .stderr_has("hint: nothing was stored; run `latchkey login -p local` to try again");
    assert_eq!(idp.counters()["token"], 1, "sent once");
    assert!(!world.token_file().exists());

    // A refresh: exit 5, never retried, the tokens kept as they were (a bare 400 does not say
    // for sure that the refresh token is dead), and a login suggested if it persists.
    paste_login(&world, &idp).expect(0);
    age_tokens(&world, 10);
    let before = std::fs::read(world.token_file()).unwrap();
    idp.reset();
    idp.fault("token", "status_400_empty", 1);
    let run = world.run(&["token", "--min-valid", "2h"]).expect(5);
    run.stderr_has(REFUSED_400).stderr_has(
        "hint: the stored tokens are unchanged; if this persists, run `latchkey login -p local`",
    );
    assert!(run.stdout.is_empty());
    assert_eq!(idp.counters()["token"], 1, "a refusal is not retried");
    assert_eq!(std::fs::read(world.token_file()).unwrap(), before);

    // It passed: the same refresh token works.
    world.run(&["token", "--min-valid", "2h"]).expect(0);
    assert_eq!(idp.counters()["token"], 2);
}

#[test]
fn a_refused_refresh_token_is_recorded_shown_and_never_sent_again() {
    let idp = Idp::start(&[]);
    let world = support::logged_in(&idp, "");
    age_tokens(&world, 10);
    let before = stored(&world).unwrap();
    let access = before.access_token.secret().to_owned();
    // A copy of the refresh token is used elsewhere first (another machine with a copy of the
    // file): the provider rotates it, so latchkey's own is now a replay, which it refuses with
    // invalid_grant and answers by revoking the grant.
    let (status, _) = idp.try_refresh(before.refresh_token.as_ref().unwrap().secret());
    assert_eq!(status, 200);
    idp.reset();

    // Four at once: one sends the refresh token and hears the refusal; the others, which waited
    // for the profile's lock, find it recorded and send nothing.
    let runs: Vec<support::Run> = support::racing(&world, 4, &["token", "--min-valid", "2h"])
        .into_iter()
        .map(|run| run.expect(4))
        .collect();
    let (heard, recorded): (Vec<&support::Run>, Vec<&support::Run>) = runs
        .iter()
        .partition(|run| run.stderr.contains("the refresh token was refused"));
    assert_eq!((heard.len(), recorded.len()), (1, 3), "{runs:#?}");
    heard[0]
        .stderr_has("error: the refresh token was refused (invalid_grant: ")
        .stderr_has("profile `local` must log in again")
        .stderr_has("hint: run `latchkey login -p local`");
    for run in recorded {
        run.stderr_has("it is not sent again");
    }
    assert!(runs.iter().all(|run| run.stdout.is_empty()));
    assert_eq!(idp.counters()["token"], 1, "one request for four");
    let after = stored(&world).unwrap();
    assert_eq!(
        after.access_token.secret(),
        access,
        "the access token is kept"
    );
    assert!(
        after.refresh_token.is_none(),
        "the dead refresh token is dropped"
    );
    let refused = after.refresh_refused.expect("the refusal is recorded");
    assert!(
        refused.said.starts_with("invalid_grant"),
        "{}",
        refused.said
    );

    // `status` says a login is needed, and why: exit 4.
    let json = status_json(&world, 4);
    assert_eq!(json["logged_in"], false, "{json}");
    assert_eq!(json["reason"], "refresh_token_refused", "{json}");
    assert_eq!(json["refresh_token"], false, "{json}");
    assert_eq!(
        json["refresh_token_refused"]["provider_said"],
        refused.said.as_str()
    );
    assert!(
        json["refresh_token_refused"]["at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "{json}"
    );
    assert_eq!(json["subject"], "alice", "what is stored is still shown");
    assert_eq!(json["access_token_expired"], false);
    let text = world.run(&["status"]).expect(4);
    text.stdout_has("local: must log in again: the provider refused the refresh token (logged in as alice@example.com)")
        .stdout_has(&format!("  refresh     refused at {}", json["refresh_token_refused"]["at"].as_str().unwrap()))
        .stderr_has("error: profile `local` must log in again: the provider refused its refresh token")
        .stderr_has("hint: run `latchkey login -p local`");

    // The access token is served while it lasts; a refresh is not attempted: exit 4 at once,
    // and the provider sees no second request.
    let run = world.run(&["token"]).expect(0);
    assert_eq!(run.stdout, format!("{access}\n"));
    world
        .run(&["token", "--min-valid", "2h"])
        .expect(4)
        .stderr_has(
            "error: profile `local` must log in again: the provider refused its refresh token at ",
        )
        .stderr_has("; it is not sent again")
        .stderr_has("hint: run `latchkey login -p local`");
    assert_eq!(
        idp.counters()["token"],
        1,
        "the dead token is not sent again"
    );

    // A login ends it.
    paste_login(&world, &idp).expect(0);
    assert!(stored(&world).unwrap().refresh_refused.is_none());
    let json = status_json(&world, 0);
    assert_eq!(json["logged_in"], true);
    assert_eq!(json["refresh_token"], true);
    assert_eq!(json["refresh_token_refused"], serde_json::Value::Null);
    age_tokens(&world, 10);
    world.run(&["token", "--min-valid", "2h"]).expect(0);
}

#[test]
fn token_responses_shaped_as_other_providers_shape_them() {
    let idp = Idp::start(&[]);
    let world = World::for_idp(&idp, "");

    // A scope list, expires_in as a string, BEARER.
    reshape(
        &idp,
        serde_json::json!({"scope": "list", "expires_in": "string", "token_type": "upper"}),
    );
    paste_login(&world, &idp).expect(0);
    let tokens = stored(&world).unwrap();
    let scopes: Vec<&str> = tokens.scope.as_deref().unwrap().split(' ').collect();
    assert!(
        scopes.contains(&"openid") && scopes.contains(&"offline_access"),
        "{scopes:?}"
    );
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(
        tokens.expires_at.map(|at| at - tokens.obtained_at),
        Some(3600)
    );

    // A refresh without expires_in, an opaque access token, `bearer`: the expiry is unknown.
    age_tokens(&world, 10);
    reshape(
        &idp,
        serde_json::json!({"expires_in": "drop", "token_type": "lower"}),
    );
    world.run(&["token", "--min-valid", "2h"]).expect(0);
    let tokens = stored(&world).unwrap();
    assert_eq!(tokens.expires_at, None);
    let json = status_json(&world, 0);
    assert_eq!(json["access_token_expires_at"], serde_json::Value::Null);
    world
        .run(&["status"])
        .expect(0)
        .stdout_has("  expires     unknown (the provider did not say)");
    // With nothing to go on, the token is served whatever --min-valid asks: no refresh.
    idp.reset();
    age_tokens(&world, 10);
    let run = world.run(&["token", "--min-valid", "2h"]).expect(0);
    assert_eq!(run.stdout, format!("{}\n", tokens.access_token.secret()));
    assert_eq!(idp.counters()["token"], 0);

    // With an audience the access token is a JWT: without expires_in, its exp says.
    let jwt_world = World::for_idp(&idp, "audience = \"https://api.example.com/\"");
    reshape(&idp, serde_json::json!({"expires_in": "drop"}));
    paste_login(&jwt_world, &idp).expect(0);
    let tokens = stored(&jwt_world).unwrap();
    let exp = latchkey::oauth::jwt::unverified_claims(tokens.access_token.secret())
        .unwrap()
        .exp
        .unwrap();
    let at = tokens.expires_at.expect("the JWT's exp") as i64;
    // expires_in is counted from when the answer was read, expires_at from when it was stored.
    assert!((at - exp).abs() <= 1, "expires_at {at}, exp {exp}");
}
