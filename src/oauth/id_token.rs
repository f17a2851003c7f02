//! ID-token validation (OpenID Connect Core §3.1.3.7) after every code exchange and refresh:
//! signature against the provider's keys, then issuer, audience, authorized party, expiry,
//! issued-at and nonce. Any failure names the check, and nothing is stored.

use crate::base::error::{Error, Result};
use crate::base::secret::IdToken;
use crate::base::text::{quoted, shown_within};
use crate::oauth::jwt::{IdClaims, Jwks, Jws, VerifyError};

/// Clocks drift: an `iat` up to this far in the future, or an `exp` this far in the past, is
/// still accepted (Auth0 dropped its strict iat check for the same reason).
const LEEWAY_SECS: i64 = 120;

/// What the ID token must say.
#[derive(Debug)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The nonce sent in the authorization request; `None` after a refresh or device flow.
    pub nonce: Option<&'a str>,
    /// The Auth0 organization the login asked for (an `org_…` ID or a name), if any.
    pub organization: Option<&'a str>,
    pub now: u64,
}

/// Validates an ID token. `keys(force)` returns the provider's key set, fetching it anew when
/// `force` is set — done once, when the token names a key the cached set lacks (key rotation).
pub fn validate(
    token: &IdToken,
    expected: &Expected<'_>,
    keys: &mut dyn FnMut(bool) -> Result<Jwks>,
) -> Result<IdClaims> {
    let fail = |check: String| {
        Error::provider(format!("the ID token failed validation: {check}")).hint(
            "nothing was stored. Check the profile's issuer and client_id; if they are right, the provider \
             or something between it and you sent a token that cannot be trusted",
        )
    };
    let jws = Jws::parse(token.secret()).map_err(fail)?;
    let verified = match jws.verify(&keys(false)?) {
        Err(VerifyError::UnknownKid(_)) => jws.verify(&keys(true)?),
        other => other,
    };
    verified.map_err(|e| fail(format!("signature: {e}")))?;
    let claims = jws.claims().map_err(fail)?;

    if claims.iss.as_deref() != Some(expected.issuer) {
        return Err(fail(format!(
            "issuer: the token says {}, the profile's issuer is {}",
            quoted(claims.iss.as_deref().unwrap_or("(none)")),
            quoted(expected.issuer)
        )));
    }
    let audiences = claims.aud.values();
    if !audiences.contains(&expected.client_id) {
        // A token may name any number of audiences: the list is cut short too.
        let listed: Vec<String> = audiences.iter().map(|a| quoted(a)).collect();
        return Err(fail(format!(
            "audience: the token is for {}, not this client ({})",
            shown_within(&format!("[{}]", listed.join(", ")), 400),
            quoted(expected.client_id)
        )));
    }
    if (audiences.len() > 1 || claims.azp.is_some())
        && claims.azp.as_deref() != Some(expected.client_id)
    {
        return Err(fail(format!(
            "authorized party: azp is {}, not this client ({})",
            quoted(claims.azp.as_deref().unwrap_or("(none)")),
            quoted(expected.client_id)
        )));
    }
    let now = i64::try_from(expected.now).unwrap_or(i64::MAX);
    // `exp` and `iat` are whatever the token says, up to i64's ends: saturating arithmetic keeps
    // an absurd time an ordinary failure (or a far future) instead of an overflow.
    match claims.exp {
        Some(exp) if exp.saturating_add(LEEWAY_SECS) > now => {}
        Some(exp) => {
            return Err(fail(format!(
                "expiry: the token expired {}s ago",
                now.saturating_sub(exp)
            )));
        }
        None => return Err(fail("expiry: the token has no exp claim".into())),
    }
    if let Some(iat) = claims.iat
        && iat > now.saturating_add(LEEWAY_SECS)
    {
        return Err(fail(format!(
            "issued-at: the token claims to be issued {}s in the future (check this host's clock)",
            iat.saturating_sub(now)
        )));
    }
    if let Some(nonce) = expected.nonce
        && !claims
            .nonce
            .as_deref()
            .is_some_and(|n| crate::base::secret::constant_time_eq(n.as_bytes(), nonce.as_bytes()))
    {
        return Err(fail(
            "nonce: it does not match the one this login sent (a replayed token?)".into(),
        ));
    }
    if let Some(organization) = expected.organization {
        check_organization(&claims, organization)?;
    }
    Ok(claims)
}

/// The organization check Auth0's SDKs make: an `org_…` value must equal the `org_id` claim,
/// any other value the `org_name` claim, compared without regard to case (Auth0 stores
/// organization names in lower case). A token without the claim fails: the provider did not
/// log in to the organization asked for.
pub fn check_organization(claims: &IdClaims, organization: &str) -> Result<()> {
    let (claim, received, matches) = if organization.starts_with("org_") {
        let received = claims.org_id.as_deref();
        ("org_id", received, received == Some(organization))
    } else {
        let received = claims.org_name.as_deref();
        let same = received.is_some_and(|r| r.eq_ignore_ascii_case(organization));
        ("org_name", received, same)
    };
    if matches {
        return Ok(());
    }
    let received = match received {
        Some(value) => format!("says {}", quoted(value)),
        None => format!("has no {claim} claim"),
    };
    Err(Error::provider(format!(
        "the ID token is not for the organization asked for: expected {claim} {}, the token {received}",
        quoted(organization)
    ))
    .hint(
        "nothing was stored. Check the profile's `organization` (or --organization): the provider logged you in to another organization, or to none",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::jwt::test_keys::TestKey;
    use serde_json::{Value, json};

    const NOW: u64 = 1_800_000_000;

    fn claims() -> Value {
        json!({"iss": "https://idp/", "aud": "cli", "sub": "alice", "exp": NOW + 600, "iat": NOW, "nonce": "n0nce"})
    }

    fn check(
        key: &TestKey,
        header: Value,
        claims: Value,
        nonce: Option<&str>,
    ) -> std::result::Result<IdClaims, String> {
        let token = IdToken::new(key.sign(&header, &claims));
        let jwks = Jwks {
            keys: vec![key.jwk()],
        };
        let expected = Expected {
            issuer: "https://idp/",
            client_id: "cli",
            nonce,
            organization: None,
            now: NOW,
        };
        validate(&token, &expected, &mut |_| Ok(jwks.clone())).map_err(|e| e.message().to_owned())
    }

    fn es256(kid: &str) -> Value {
        json!({"alg": "ES256", "kid": kid})
    }

    #[test]
    fn a_good_token_passes() {
        let key = TestKey::generate("k");
        let claims = check(&key, es256("k"), claims(), Some("n0nce")).unwrap();
        assert_eq!(claims.sub.as_deref(), Some("alice"));
    }

    #[test]
    fn each_failure_names_its_check() {
        let key = TestKey::generate("k");
        let with = |k: &str, v: Value| {
            let mut c = claims();
            c[k] = v;
            c
        };
        let cases = [
            (with("iss", json!("https://evil/")), "issuer"),
            (with("aud", json!("someone-else")), "audience"),
            (with("aud", json!(["cli", "other"])), "authorized party"),
            (with("exp", json!(NOW - 1000)), "expiry"),
            (with("iat", json!(NOW + 3600)), "issued-at"),
            (with("nonce", json!("other")), "nonce"),
        ];
        for (claims, check_name) in cases {
            let err = check(&key, es256("k"), claims, Some("n0nce")).unwrap_err();
            assert!(
                err.contains(&format!("failed validation: {check_name}")),
                "{check_name}: {err}"
            );
        }
        let mut no_nonce = claims();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        assert!(
            check(&key, es256("k"), no_nonce.clone(), Some("n0nce"))
                .unwrap_err()
                .contains("nonce")
        );
        // After a refresh there is no nonce to compare.
        assert!(check(&key, es256("k"), no_nonce, None).is_ok());
        // Several audiences are fine when azp is this client.
        let mut multi = claims();
        multi["aud"] = json!(["cli", "api"]);
        multi["azp"] = json!("cli");
        assert!(check(&key, es256("k"), multi, Some("n0nce")).is_ok());
    }

    #[test]
    fn times_at_the_ends_of_i64_do_not_overflow() {
        // Found by fuzzing: `exp + LEEWAY_SECS` and `now - exp` overflowed.
        let key = TestKey::generate("k");
        let with = |k: &str, v: i64| {
            let mut c = claims();
            c[k] = json!(v);
            c
        };
        assert!(check(&key, es256("k"), with("exp", i64::MAX), None).is_ok());
        let err = check(&key, es256("k"), with("exp", i64::MIN), None).unwrap_err();
        assert!(err.contains("failed validation: expiry"), "{err}");
        let err = check(&key, es256("k"), with("iat", i64::MAX), None).unwrap_err();
        assert!(err.contains("failed validation: issued-at"), "{err}");
    }

    #[test]
    fn signatures_from_other_keys_and_unsigned_tokens_fail() {
        let key = TestKey::generate("k");
        let impostor = TestKey::generate("k");
        let token = IdToken::new(impostor.sign(&es256("k"), &claims()));
        let jwks = Jwks {
            keys: vec![key.jwk()],
        };
        let expected = Expected {
            issuer: "https://idp/",
            client_id: "cli",
            nonce: None,
            organization: None,
            now: NOW,
        };
        let err = validate(&token, &expected, &mut |_| Ok(jwks.clone())).unwrap_err();
        assert!(
            err.message()
                .contains("signature: its signature does not verify"),
            "{}",
            err.message()
        );
        let err = check(&key, json!({"alg": "none"}), claims(), None).unwrap_err();
        assert!(err.contains("`none`"), "{err}");
        let err = check(&key, json!({"alg": "HS256", "kid": "k"}), claims(), None).unwrap_err();
        assert!(err.contains("`HS256`"), "{err}");
    }

    #[test]
    fn an_unknown_kid_refetches_the_key_set_once() {
        let old = TestKey::generate("old");
        let new = TestKey::generate("new");
        let token = IdToken::new(new.sign(&es256("new"), &claims()));
        let expected = Expected {
            issuer: "https://idp/",
            client_id: "cli",
            nonce: None,
            organization: None,
            now: NOW,
        };
        let mut fetches = Vec::new();
        let result = validate(&token, &expected, &mut |force| {
            fetches.push(force);
            Ok(Jwks {
                keys: if force {
                    vec![old.jwk(), new.jwk()]
                } else {
                    vec![old.jwk()]
                },
            })
        });
        assert!(result.is_ok());
        assert_eq!(fetches, [false, true]);
        // Still unknown after the refetch: refused, no third fetch.
        let mut count = 0;
        let stale = validate(&token, &expected, &mut |_| {
            count += 1;
            Ok(Jwks {
                keys: vec![old.jwk()],
            })
        });
        assert!(stale.unwrap_err().message().contains("does not have"));
        assert_eq!(count, 2);
    }

    fn org_claims(org_id: Option<&str>, org_name: Option<&str>) -> IdClaims {
        serde_json::from_value(json!({"org_id": org_id, "org_name": org_name})).unwrap()
    }

    #[test]
    fn an_org_id_must_match_exactly_and_a_name_without_case() {
        let acme = org_claims(Some("org_acme123"), Some("acme"));
        assert!(check_organization(&acme, "org_acme123").is_ok());
        assert!(check_organization(&acme, "ACME").is_ok());
        let e = check_organization(&acme, "org_ACME123").unwrap_err();
        assert_eq!(e.exit_code(), crate::base::error::ExitCode::ProviderRefused);
        assert!(
            e.message()
                .contains("expected org_id \"org_ACME123\", the token says \"org_acme123\""),
            "{}",
            e.message()
        );
        let e = check_organization(&acme, "globex").unwrap_err();
        assert!(
            e.message().contains("the token says \"acme\""),
            "{}",
            e.message()
        );
    }

    #[test]
    fn a_missing_org_claim_fails_and_says_which() {
        let none = org_claims(None, None);
        let e = check_organization(&none, "org_acme123").unwrap_err();
        assert!(
            e.message().ends_with("the token has no org_id claim"),
            "{}",
            e.message()
        );
        let e = check_organization(&none, "acme").unwrap_err();
        assert!(
            e.message().ends_with("has no org_name claim"),
            "{}",
            e.message()
        );
        // An org_id does not stand in for a name that was asked for.
        let id_only = org_claims(Some("org_acme123"), None);
        assert!(check_organization(&id_only, "acme").is_err());
    }

    #[test]
    fn validation_checks_the_organization_when_one_was_asked_for() {
        let key = TestKey::generate("k1");
        let mut with_org = claims();
        with_org["org_id"] = json!("org_other");
        let token = IdToken::new(key.sign(&es256("k1"), &with_org));
        let jwks = Jwks {
            keys: vec![key.jwk()],
        };
        let expected = |organization| Expected {
            issuer: "https://idp/",
            client_id: "cli",
            nonce: Some("n0nce"),
            organization,
            now: NOW,
        };
        assert!(validate(&token, &expected(None), &mut |_| Ok(jwks.clone())).is_ok());
        let e = validate(&token, &expected(Some("org_acme")), &mut |_| {
            Ok(jwks.clone())
        })
        .unwrap_err();
        assert!(e.message().contains("org_other"), "{}", e.message());
    }
}
