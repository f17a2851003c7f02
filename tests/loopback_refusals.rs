//! Responses the loopback listener refuses are said in the terminal at once, not only to the
//! browser: the person is looking at the terminal, and would otherwise wait out the timeout.
//! And a refusal (`error=access_denied`) without the `iss` the provider promised ends the login
//! with the provider's reason, saying what is missing.

use crate::support;

use crate::support::{Idp, World, approve, loopback_get, loopback_login};

/// `redirect` with its `name` parameter set to `value` (or removed, for `None`).
fn with_param(redirect: &str, name: &str, value: Option<&str>) -> String {
    let (base, query) = redirect.split_once('?').unwrap();
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
        .collect();
    if let Some(value) = value {
        pairs.push(format!("{name}={value}"));
    }
    format!("{base}?{}", pairs.join("&"))
}

#[test]
fn a_refused_loopback_response_is_said_in_the_terminal_and_the_wait_goes_on() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let (mut session, url, _) = loopback_login(&world, idp);
    let redirect = approve(&url, idp, &[]);
    assert!(redirect.contains("/callback?"), "{redirect}");

    // A stale tab or another login's redirect: wrong state.
    let (status, _) = loopback_get(idp, &with_param(&redirect, "state", Some("not-this-login")));
    assert_eq!(status, 400);
    let line = session.wait_line("the refusal in the terminal", |l| {
        l.contains("The browser brought back a response latchkey refused")
    });
    assert!(line.contains("Still waiting for the browser"), "{line}");

    // Another provider's answer: wrong iss.
    loopback_get(
        idp,
        &with_param(&redirect, "iss", Some("https%3A%2F%2Fevil.example")),
    );
    let line = session.wait_line("the second refusal", |l| l.contains("refused:"));
    assert!(line.contains("evil.example"), "{line}");

    // The real one still logs in.
    let (status, _) = loopback_get(idp, &redirect);
    assert_eq!(status, 200);
    let run = session.finish().expect(0);
    run.stderr_has("Logged in as");
}

#[test]
fn a_refusal_without_the_promised_iss_ends_the_login_saying_so() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let (session, url, _) = loopback_login(&world, idp);
    // The provider's own "access denied" redirect, minus `iss`, as Django OAuth Toolkit 3.4
    // sends it although its discovery says it always sends `iss`.
    let denied = approve(&url, idp, &["--deny"]);
    assert!(denied.contains("error=access_denied"), "{denied}");
    assert!(denied.contains("iss="), "the provider sends iss: {denied}");
    let (status, _) = loopback_get(idp, &with_param(&denied, "iss", None));
    assert_eq!(status, 400);
    let run = session.finish().expect(5);
    run.stderr_has("access_denied").stderr_has(
        "but its response lacks `iss`, which the provider's metadata promises (RFC 9207)",
    );
    assert!(!world.token_file().exists());
}

/// "Logged in as" names a person: from the ID token, or, when it carries only `sub`, from the
/// provider's UserInfo, asked once with the new access token; with neither, `SUB at ISSUER`.
#[test]
fn logged_in_as_names_the_person_from_userinfo_when_the_id_token_names_nobody() {
    let idp = Idp::start(&[]);
    let world = World::for_idp(&idp, "");
    let answer = idp.post_json(
        "/__test/claims",
        serde_json::json!({ "id_token": "sub-only", "name": "Alice Liddell" }),
    );
    assert_eq!(answer["ok"], true, "{answer}");
    let before = idp.counters()["userinfo"].as_u64().unwrap_or(0);
    support::paste_login(&world, &idp)
        .expect(0)
        .stderr_has("Logged in as Alice Liddell (alice@example.com) with profile `local`");
    assert_eq!(
        idp.counters()["userinfo"].as_u64().unwrap_or(0),
        before + 1,
        "asked once"
    );

    // Nothing but `sub` anywhere: the subject at the issuer, never a bare "alice".
    let answer = idp.post_json(
        "/__test/claims",
        serde_json::json!({ "id_token": "sub-only", "name": null, "email": null }),
    );
    assert_eq!(answer["ok"], true, "{answer}");
    support::paste_login(&world, &idp)
        .expect(0)
        .stderr_has(&format!(
            "Logged in as alice at {} with profile",
            idp.issuer
        ));
}
