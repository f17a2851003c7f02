//! How latchkey fits a provider that is not quite like the others, against the real provider
//! in `tests/idp` made to be so: RFC 8414 metadata that names what OpenID discovery lacks (and
//! one that must not be used), endpoints named nowhere (exit 3, naming the profile key), an
//! installed-app client that must send a `client_secret` (by HTTP Basic or in the body), and
//! the hints that point at a profile setting instead of at `latchkey login`.

use crate::support::{
    CLIENT_ID, Idp, Run, Session, World, age_tokens, browse, paste_login, stored,
    stored_refresh_token,
};
use base64::Engine;

/// The test provider's installed-app client, which must authenticate with its secret.
const SECRET_CLIENT: &str = "latchkey-secret";
/// Its secret: digits with a leading zero, which an environment value parsed as a number would
/// lose.
const SECRET: &str = "0123456789";

/// A world whose profile `local` is for the installed-app client, with `extra` lines.
fn secret_client_world(idp: &Idp, extra: &str) -> World {
    let world = World::new();
    let toml = idp.profile_toml(extra).replace(
        &format!("client_id = \"{CLIENT_ID}\""),
        &format!("client_id = \"{SECRET_CLIENT}\""),
    );
    assert!(toml.contains(SECRET_CLIENT), "{toml}");
    world.write_profiles(&toml);
    world
}

/// The last request the provider received at `endpoint`, as it arrived.
fn last_request(idp: &Idp, endpoint: &str) -> serde_json::Value {
    idp.get_json(&format!("/__test/last-request?endpoint={endpoint}"))
}

/// The client credentials of an `Authorization: Basic` header, decoded.
fn basic_credentials(request: &serde_json::Value) -> Option<String> {
    let header = request["headers"]["authorization"].as_str()?;
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    String::from_utf8(decoded).ok()
}

/// Nothing latchkey printed holds the secret.
fn never_shown(run: &Run) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains(SECRET), "{stream} shows the secret:\n{text}");
    }
}

/// A device login, approved with the browser stand-in.
fn device_login(world: &World, idp: &Idp) -> Run {
    let (session, url) = Session::device_login(world, idp, &["login", "--device"]);
    assert_eq!(browse(&["device", &url], None), "approved");
    session.finish()
}

fn refresh_token_is_dead(idp: &Idp, refresh: &str) -> bool {
    let (status, answer) = idp.try_refresh(refresh);
    status == 400 && answer["error"] == "invalid_grant"
}

// ------------------------------------------------------------------ RFC 8414 metadata

/// Django OAuth Toolkit's shape: the revocation endpoint is named only in RFC 8414 metadata.
/// The login reads it, records it with the tokens, and logout revokes there.
#[test]
fn rfc8414_metadata_supplies_the_revocation_endpoint_discovery_lacks() {
    let idp = Idp::start(&["--rfc8414", "split"]);
    let world = World::for_idp(&idp, "");
    paste_login(&world, &idp).expect(0);
    assert_eq!(
        idp.counters()["metadata"],
        1,
        "the login asked for RFC 8414 metadata once"
    );
    assert_eq!(
        stored(&world).unwrap().revocation_endpoint.as_deref(),
        Some(format!("{}/token/revocation", idp.issuer).as_str()),
        "the endpoint only RFC 8414 names is recorded with the tokens"
    );
    let refresh = stored_refresh_token(&world);
    idp.reset();
    world.run(&["logout"]).expect(0).stderr_has(
        "Logged out of profile `local`: tokens revoked at the provider and deleted here.",
    );
    assert_eq!(idp.counters()["revocation"], 2);
    assert!(refresh_token_is_dead(&idp, &refresh));
}

/// The device authorization endpoint, too, may be named only there.
#[test]
fn the_device_flow_finds_its_endpoint_in_rfc8414_metadata() {
    let idp = Idp::start(&["--rfc8414", "split"]);
    let world = World::for_idp(&idp, "");
    device_login(&world, &idp).expect(0);
    assert!(stored(&world).unwrap().refresh_token.is_some());
    assert_eq!(idp.counters()["device"], 1);
}

/// A discovery document that names everything latchkey uses costs no second request.
#[test]
fn complete_discovery_asks_for_no_rfc8414_metadata() {
    let idp = Idp::start(&[]);
    let world = World::for_idp(&idp, "");
    paste_login(&world, &idp).expect(0);
    let counters = idp.counters();
    assert_eq!(counters["discovery"], 1, "{counters}");
    assert_eq!(counters["metadata"], 0, "{counters}");
}

/// RFC 8414 metadata naming another issuer is not used (the same exact check as discovery's),
/// and that costs nothing until an endpoint only it could name is needed: the login works;
/// logout and a device login then end with exit 3, naming the profile key to set and what was
/// wrong with the metadata.
#[test]
fn unusable_rfc8414_metadata_is_not_fatal_until_its_endpoint_is_needed() {
    let idp = Idp::start(&["--rfc8414", "wrong-issuer"]);
    let world = World::for_idp(&idp, "");
    world.set_env("LATCHKEY_LOG", "debug");
    paste_login(&world, &idp)
        .expect(0)
        .stderr_has("debug: RFC 8414 metadata not used: ")
        .stderr_has(&format!(
            "it names the issuer \"{0}/elsewhere\", not \"{0}\"",
            idp.issuer
        ));
    assert_eq!(stored(&world).unwrap().revocation_endpoint, None);

    // Nowhere to revoke: configuration, not a refusal. The tokens go all the same.
    let run = world.run(&["logout"]).expect(3);
    run.stderr_has(
        "error: profile `local`: the local tokens were deleted, but the refresh token was not revoked: \
         the provider named no revocation endpoint when these tokens were obtained, and the profile set no `revocation_endpoint`",
    )
    .stderr_has("its RFC 8414 metadata could not be used: ")
    .stderr_has("the provider still holds a live refresh token")
    .stderr_has("hint: set `revocation_endpoint` in profile `local` if the provider has one");
    assert!(!world.token_file().exists());
    assert_eq!(idp.counters()["revocation"], 0);

    world
        .run(&["login", "--device"])
        .expect(3)
        .stderr_has(
            "error: the provider of profile `local` names no device authorization endpoint in its metadata, \
             and the profile sets no `device_authorization_endpoint`",
        )
        .stderr_has("its RFC 8414 metadata could not be used: ")
        .stderr_has("hint: set `device_authorization_endpoint` in profile `local` if the provider has one")
        .stderr_has("or log in without --device");
    assert_eq!(idp.counters()["device"], 0);
}

/// The profile key fills in for an endpoint the metadata does not name, for the next login.
#[test]
fn a_profile_endpoint_fills_in_for_what_no_metadata_names() {
    let idp = Idp::start(&["--rfc8414", "wrong-issuer"]);
    let world = World::for_idp(
        &idp,
        &format!(
            "revocation_endpoint = \"{0}/token/revocation\"\ndevice_authorization_endpoint = \"{0}/device/auth\"",
            idp.issuer
        ),
    );
    device_login(&world, &idp).expect(0);
    world
        .run(&["logout"])
        .expect(0)
        .stderr_has("tokens revoked at the provider and deleted here");
}

// ------------------------------------------------------------------ client_secret

/// An installed-app client that must authenticate (as Google's "Desktop app" clients must): the
/// provider's metadata allows HTTP Basic, so the secret goes in the `Authorization` header of
/// the code exchange, the refresh and revocation — and nowhere else, and is never shown.
#[test]
fn a_client_secret_goes_by_http_basic_when_the_provider_allows_it() {
    let idp = Idp::start(&[]);
    let world = secret_client_world(&idp, &format!("client_secret = \"{SECRET}\""));
    let login = paste_login(&world, &idp).expect(0);
    never_shown(&login);
    let exchange = last_request(&idp, "token");
    assert_eq!(exchange["params"]["grant_type"], "authorization_code");
    assert_eq!(
        basic_credentials(&exchange).as_deref(),
        Some(format!("{SECRET_CLIENT}:{SECRET}").as_str())
    );
    assert!(
        exchange["params"].get("client_secret").is_none(),
        "{exchange}"
    );

    age_tokens(&world, 10);
    never_shown(&world.run(&["token", "--min-valid", "2h"]).expect(0));
    let refresh = last_request(&idp, "token");
    assert_eq!(refresh["params"]["grant_type"], "refresh_token");
    assert_eq!(
        basic_credentials(&refresh).as_deref(),
        Some(format!("{SECRET_CLIENT}:{SECRET}").as_str())
    );

    let logout = world.run(&["logout"]).expect(0);
    logout.stderr_has("tokens revoked at the provider and deleted here");
    never_shown(&logout);
    assert!(basic_credentials(&last_request(&idp, "revocation")).is_some());
}

/// A provider whose metadata lists only `client_secret_post` gets the secret in the body, on
/// every request of a device login, a refresh and a logout; one sent by Basic would be refused.
#[test]
fn a_client_secret_goes_in_the_body_when_the_provider_lists_only_post() {
    let idp = Idp::start(&["--client-auth", "post"]);
    let world = secret_client_world(&idp, &format!("client_secret = \"{SECRET}\""));
    never_shown(&device_login(&world, &idp).expect(0));
    for endpoint in ["device", "token"] {
        let request = last_request(&idp, endpoint);
        assert_eq!(request["params"]["client_secret"], SECRET, "{request}");
        assert_eq!(request["params"]["client_id"], SECRET_CLIENT, "{request}");
        assert!(
            request["headers"].get("authorization").is_none(),
            "{request}"
        );
    }
    age_tokens(&world, 10);
    world.run(&["token", "--min-valid", "2h"]).expect(0);
    assert_eq!(
        last_request(&idp, "token")["params"]["grant_type"],
        "refresh_token"
    );
    world
        .run(&["logout"])
        .expect(0)
        .stderr_has("tokens revoked at the provider and deleted here");
    assert_eq!(
        last_request(&idp, "revocation")["params"]["client_secret"],
        SECRET
    );
}

/// `LATCHKEY_CLIENT_SECRET` like any key, taken exactly as written (not as the number
/// 123456789), and `profiles show` says it is set and where from, never what it is.
#[test]
fn a_client_secret_from_the_environment_is_taken_verbatim_and_never_shown() {
    let idp = Idp::shared();
    let world = secret_client_world(idp, "");
    world.set_env("LATCHKEY_CLIENT_SECRET", SECRET);
    let show = world.run(&["profiles", "show"]).expect(0);
    never_shown(&show);
    let row = show
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("client_secret"))
        .unwrap_or_else(|| panic!("no client_secret row:\n{}", show.stdout));
    assert!(
        row.contains("(set, hidden)") && row.contains("env LATCHKEY_CLIENT_SECRET"),
        "{row}"
    );
    let json = world.run(&["profiles", "show", "--json"]).expect(0);
    never_shown(&json);
    assert!(json.stdout.contains("(set, hidden)"), "{}", json.stdout);

    world.set_env("LATCHKEY_LOG", "debug");
    never_shown(&paste_login(&world, idp).expect(0));
}

/// The client without its secret: the provider's `invalid_client`, with the hint to set
/// `client_secret` rather than to log in again.
#[test]
fn a_client_that_must_authenticate_without_its_secret_is_told_to_set_client_secret() {
    let idp = Idp::shared();
    let world = secret_client_world(idp, "");
    let run = paste_login(&world, idp).expect(5);
    run.stderr_has("invalid_client")
        .stderr_has("set `client_secret` in profile `local`");
    assert!(stored(&world).is_none());
}

/// Revocation answered 401 `invalid_client` (the secret left out, here by an empty
/// `LATCHKEY_CLIENT_SECRET`): the message names client authentication, and the hint says what
/// to do — the secret, or the provider's console; a wrong secret is said to be refused.
#[test]
fn a_revocation_that_needs_client_authentication_says_what_to_do() {
    let idp = Idp::shared();
    for (secret, said, hint) in [
        (
            "",
            "the provider requires client authentication for revocation (invalid_client",
            "hint: if the provider issued this client a secret (as Google does for desktop apps), set `client_secret` in profile `local`",
        ),
        (
            "wrong",
            "the provider refused the client authentication sent for revocation (invalid_client",
            "hint: check `client_secret` of profile `local`",
        ),
    ] {
        let world = secret_client_world(idp, &format!("client_secret = \"{SECRET}\""));
        paste_login(&world, idp).expect(0);
        let refresh = stored_refresh_token(&world);
        let run = world
            .run_env(&["logout"], &[("LATCHKEY_CLIENT_SECRET", secret)])
            .expect(5);
        run.stderr_has(said)
            .stderr_has("the provider still holds a live refresh token")
            .stderr_has(hint);
        never_shown(&run);
        assert!(!world.token_file().exists());
        // Still live indeed (used here by the client the provider knows it as).
        assert!(refresh_works_for_secret_client(idp, &refresh));
    }
}

/// Whether the installed-app client's refresh token still works at the provider.
fn refresh_works_for_secret_client(idp: &Idp, refresh: &str) -> bool {
    let mut response = idp
        .agent()
        .post(format!("{}/token", idp.issuer))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{SECRET_CLIENT}:{SECRET}"))
            ),
        )
        .send(format!(
            "grant_type=refresh_token&refresh_token={}",
            latchkey::net::url::form_encode(refresh)
        ))
        .expect("POST /token");
    let body = response.body_mut().read_to_string().unwrap_or_default();
    response.status().as_u16() == 200 && body.contains("access_token")
}

// ------------------------------------------------------------------ token_request_format

/// `token_request_format = "json"` against a provider that takes only forms (the test provider
/// without `--json-token-requests` answers `invalid_request`): the hint points at the setting,
/// for the exchange and for a refresh, not at `latchkey login`, which would fail the same way.
#[test]
fn json_token_requests_refused_by_a_form_only_provider_point_at_the_setting() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "token_request_format = \"json\"");
    let run = paste_login(&world, idp).expect(5);
    run.stderr_has("invalid_request").stderr_has(
        "hint: profile `local` sends token requests as JSON (token_request_format = \"json\")",
    );
    assert!(!run.stderr.contains("run `latchkey"), "{}", run.stderr);

    let world = World::for_idp(idp, "");
    paste_login(&world, idp).expect(0);
    age_tokens(&world, 10);
    let run = world
        .run_env(
            &["token", "--min-valid", "2h"],
            &[("LATCHKEY_TOKEN_REQUEST_FORMAT", "json")],
        )
        .expect(5);
    run.stderr_has("invalid_request")
        .stderr_has("token_request_format = \"json\"");
    assert!(
        !run.stderr.contains("run `latchkey login"),
        "{}",
        run.stderr
    );
}
