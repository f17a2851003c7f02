//! The test harness itself: the real provider answers over HTTP and HTTPS, and the browser
//! stand-in completes an authorize request with a PKCE challenge.

use crate::support::{CLIENT_ID, Idp, browse};
use base64::Engine;
use sha2::Digest;

fn discovery_is_real(idp: &Idp) {
    let doc = idp.get_json("/.well-known/openid-configuration");
    assert_eq!(doc["issuer"], idp.issuer.as_str());
    assert!(
        doc["token_endpoint"]
            .as_str()
            .unwrap()
            .starts_with(&idp.issuer)
    );
    assert!(lists(&doc["code_challenge_methods_supported"], "S256"));
    assert!(lists(&doc["grant_types_supported"], "refresh_token"));
}

/// Whether a discovery field (a JSON array) lists `value`: one reading for every such field.
fn lists(field: &serde_json::Value, value: &str) -> bool {
    field.as_array().unwrap().iter().any(|v| v == value)
}

#[test]
fn discovery_over_http() {
    let idp = Idp::shared();
    assert!(idp.issuer.starts_with("http://127.0.0.1:"));
    discovery_is_real(idp);
}

#[test]
fn discovery_over_https_with_the_generated_ca() {
    let idp = Idp::shared_https();
    assert!(idp.issuer.starts_with("https://127.0.0.1:"));
    assert!(idp.ca.as_ref().is_some_and(|ca| ca.is_file()));
    discovery_is_real(idp);
}

#[test]
fn https_without_the_ca_is_refused() {
    let idp = Idp::shared_https();
    let agent = ureq::Agent::config_builder().build().new_agent();
    let err = agent
        .get(format!("{}/.well-known/openid-configuration", idp.issuer))
        .call()
        .expect_err("an unknown CA must not be trusted");
    assert!(
        err.to_string().to_lowercase().contains("unknownissuer")
            || err.to_string().contains("certificate"),
        "{err}"
    );
}

#[test]
fn the_browser_stand_in_completes_an_authorize_request() {
    let idp = Idp::shared();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let url = format!(
        "{}/auth?response_type=code&client_id={CLIENT_ID}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback\
         &scope=openid%20email%20offline_access&code_challenge={challenge}&code_challenge_method=S256&state=st4te&nonce=n0nce",
        idp.issuer
    );
    let redirect = browse(&["login", &url, "--print"], None);
    assert!(
        redirect.starts_with("http://127.0.0.1:9/callback?"),
        "{redirect}"
    );
    assert!(
        redirect.contains("code=") && redirect.contains("state=st4te"),
        "{redirect}"
    );
    assert!(
        redirect.contains(&format!(
            "iss={}",
            latchkey::net::url::form_encode(&idp.issuer)
        )),
        "{redirect}"
    );
}

#[test]
fn the_browser_stand_in_can_deny_consent() {
    let idp = Idp::shared();
    let url = format!(
        "{}/auth?response_type=code&client_id={CLIENT_ID}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb\
         &scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s",
        idp.issuer
    );
    let stdout = browse(&["login", &url, "--deny"], None);
    assert!(stdout.contains("error=access_denied"), "{stdout}");
}
