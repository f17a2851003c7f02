//! Entra ID's way of asking for another API's token — the API in the scope (`API/.default`),
//! never RFC 8707's `resource` — against the test provider's `--entra` mode, which refuses
//! `resource` as Entra does (AADSTS901002); and `token --scope` without `--audience`, a
//! scope-only refresh, against the standard provider.

use crate::support::{Idp, World, logged_in};
use base64::Engine;
use std::sync::OnceLock;

const BILLING: &str = "https://billing.example.com/";

fn entra_idp() -> &'static Idp {
    static IDP: OnceLock<Idp> = OnceLock::new();
    IDP.get_or_init(|| Idp::start(&["--entra"]))
}

/// A JWT's claims, unverified: what the test asks of the token is who it is for.
fn claims(token: &str) -> serde_json::Value {
    let payload = token.trim().split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

fn audiences(token: &str) -> Vec<String> {
    match &claims(token)["aud"] {
        serde_json::Value::String(one) => vec![one.clone()],
        serde_json::Value::Array(many) => many
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect(),
        other => panic!("aud: {other}"),
    }
}

#[test]
fn an_entra_profile_asks_for_another_api_by_its_default_scope() {
    let world = logged_in(entra_idp(), "provider = \"entra\"\n");
    world
        .run(&["profiles", "show"])
        .expect(0)
        .stdout_has("entra");
    let api = world
        .run(&["token", "--audience", BILLING])
        .expect(0)
        .stdout;
    assert_eq!(audiences(&api), [BILLING]);
    let scope = claims(&api)["scope"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(scope.contains("read:invoices"), "{scope}");
    // One scope of that API: `API/read:invoices` on the wire.
    let read = world
        .run(&["token", "--audience", BILLING, "--scope", "read:invoices"])
        .expect(0)
        .stdout;
    assert_eq!(audiences(&read), [BILLING]);
    assert!(
        !claims(&read)["scope"]
            .as_str()
            .unwrap()
            .contains("write:invoices")
    );
    // The login's own token is left as it was.
    world.run(&["token"]).expect(0);
}

#[test]
fn the_same_profile_without_the_entra_dialect_hears_entras_refusal() {
    let world = logged_in(entra_idp(), "provider = \"standard\"\n");
    world
        .run(&["token", "--audience", BILLING])
        .expect(5)
        .stderr_has("AADSTS901002");
    // The login is kept: only the request for that API was refused.
    world.run(&["token"]).expect(0);
}

#[test]
fn an_entra_login_with_an_audience_asks_for_it_in_the_scope() {
    let world = logged_in(
        entra_idp(),
        &format!("provider = \"entra\"\naudience = \"{BILLING}\"\n"),
    );
    let token = world.run(&["token"]).expect(0).stdout;
    assert_eq!(audiences(&token), [BILLING]);
}

#[test]
fn scope_without_audience_refreshes_for_those_scopes_of_the_login() {
    // Entra: the whole API by its `.default` scope, with no audience at all.
    let entra = logged_in(entra_idp(), "provider = \"entra\"\n");
    let api = entra
        .run(&["token", "--scope", "https://billing.example.com/.default"])
        .expect(0)
        .stdout;
    assert_eq!(audiences(&api), [BILLING]);

    // A standard provider: fewer scopes than the login's (RFC 6749 §6).
    let idp = Idp::shared();
    let world = logged_in(idp, "");
    let login_token = world.run(&["token"]).expect(0).stdout;
    let narrow = world
        .run(&["token", "--scope", "openid", "--format", "json"])
        .expect(0)
        .stdout;
    let narrow: serde_json::Value = serde_json::from_str(&narrow).unwrap();
    assert_eq!(narrow["scope"], "openid");
    let narrow_token = narrow["access_token"].as_str().unwrap();
    assert_ne!(narrow_token, login_token.trim());
    assert_eq!(idp.userinfo_status(narrow_token), 200);
    // Cached per set of scopes, beside the login's own token.
    let again = world
        .run(&["token", "--scope", "openid", "--format", "json"])
        .expect(0)
        .stdout;
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["access_token"], narrow["access_token"]);
    assert_eq!(world.run(&["token"]).expect(0).stdout, login_token);
    world.run(&["status"]).expect(0).stdout_has("scope openid");
    // More than the login was granted is the provider's refusal, and the login is kept.
    world.run(&["token", "--scope", "openid admin"]).expect(5);
    world.run(&["token"]).expect(0);
    world
        .run(&["token", "--id-token", "--scope", "openid"])
        .expect(2);
}

#[test]
fn an_issuer_on_entras_host_is_entra_without_saying_so() {
    let world = World::new();
    world.write_profiles(
        "[profiles.work]\nissuer = \"https://login.microsoftonline.com/0000/v2.0\"\nclient_id = \"c\"\n",
    );
    let shown = world.run(&["profiles", "show", "--json"]).expect(0).stdout;
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["settings"]["provider"]["value"], "entra", "{shown}");
    world.write_profiles(
        "[profiles.work]\nissuer = \"https://id.example.com\"\nclient_id = \"c\"\nprovider = \"okta\"\n",
    );
    world
        .run(&["profiles", "show"])
        .expect(3)
        .stderr_has("\"entra\" or \"standard\"");
}
