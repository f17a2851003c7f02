//! `logout` says what is true: an access token the provider will not revoke (Auth0's JWTs)
//! is reported with its expiry and exit 0 once the refresh token is revoked; only a refresh
//! token that was not revoked is called live; a provider that wants client authentication for
//! revocation is named as such. Faults come from the test provider's fault switch.

use crate::support::{Idp, before_logout};

/// The provider revokes the refresh token (the first revocation request goes through) and
/// answers the access token's with `fault`.
fn refuse_the_access_token(idp: &Idp, fault: &str) {
    idp.fault("revocation", "delay", 1);
    idp.fault("revocation", fault, 1);
}

fn refresh_token_is_dead(idp: &Idp, refresh: &str) -> bool {
    let (status, answer) = idp.try_refresh(refresh);
    status == 400 && answer["error"] == "invalid_grant"
}

/// The case: Auth0 answers `unsupported_token_type` for a JWT access token.
#[test]
fn an_access_token_the_provider_cannot_revoke_is_exit_0_with_when_it_expires() {
    let (idp, world, refresh) = before_logout();
    refuse_the_access_token(&idp, "unsupported_token_type");
    let run = world.run(&["logout"]).expect(0);
    run.stderr_has(
        "Logged out of profile `local`: the refresh token was revoked at the provider and the tokens deleted here; \
         the access token stays valid until ",
    )
    .stderr_has("(unsupported_token_type)");
    let line = run.stderr.lines().next().unwrap_or_default();
    // `HH:MM UTC (N min)` (or `1 h 00 min`, the test provider's access tokens last an hour).
    assert!(
        line.contains(" UTC (60 min)") || line.contains(" UTC (1 h 00 min)"),
        "{line}"
    );
    assert!(
        !run.stderr.contains("live refresh token"),
        "the refresh token was revoked: {}",
        run.stderr
    );
    assert!(!world.token_file().exists());
    assert_eq!(
        idp.counters()["revocation"],
        2,
        "refresh token, then access token"
    );
    assert!(
        refresh_token_is_dead(&idp, &refresh),
        "it really was revoked"
    );
}

/// Any refusal of the access token after the refresh token was revoked is the same case, and a
/// demand for client authentication is named.
#[test]
fn a_refused_access_token_revocation_after_the_refresh_token_is_exit_0() {
    let (idp, world, refresh) = before_logout();
    refuse_the_access_token(&idp, "invalid_client");
    let run = world.run(&["logout"]).expect(0);
    run.stderr_has("the refresh token was revoked at the provider")
        .stderr_has("the access token stays valid until ")
        .stderr_has(
            "the provider requires client authentication for revocation (invalid_client: injected)",
        );
    assert!(!run.stderr.contains("live refresh token"), "{}", run.stderr);
    assert!(refresh_token_is_dead(&idp, &refresh));
}

/// A provider that demands client authentication (HTTP 401) for the refresh token: it stays
/// live, and the message says so, and why.
#[test]
fn a_provider_that_requires_client_authentication_is_named_and_the_refresh_token_is_live() {
    let (idp, world, refresh) = before_logout();
    idp.fault("revocation", "status_401", 1);
    let run = world.run(&["logout"]).expect(5);
    run.stderr_has("error: profile `local`: the local tokens were deleted, but the refresh token was not revoked: ")
        .stderr_has("the provider requires client authentication for revocation (access_denied: Unauthorized)")
        .stderr_has("the provider still holds a live refresh token")
        // What to do: the client's secret, if it has one, or the provider's console.
        .stderr_has("hint: if the provider issued this client a secret")
        .stderr_has("set `client_secret` in profile `local`");
    assert!(!world.token_file().exists());
    assert_eq!(
        idp.counters()["revocation"],
        1,
        "the refresh token's refusal ends the revocation"
    );
    assert_eq!(
        idp.try_refresh(&refresh).0,
        200,
        "and it is indeed still live"
    );
}

/// Both revoked: the plain success line, unchanged.
#[test]
fn both_revoked_is_the_plain_success() {
    let (idp, world, refresh) = before_logout();
    world.run(&["logout"]).expect(0).stderr_has(
        "Logged out of profile `local`: tokens revoked at the provider and deleted here.",
    );
    assert_eq!(idp.counters()["revocation"], 2);
    assert!(refresh_token_is_dead(&idp, &refresh));
}
