//! After login: `token` (cached, refreshed, single-flight), `status`, `logout`, key sources.
//! Each test that counts requests gets a provider of its own.

use crate::support;

use crate::support::{Idp, World, age_tokens, before_logout, paste_login, stored};

/// A world for `idp` that has logged in, its tokens aged past the window in which they count
/// as just issued (and are not refreshed again), so that every test here may refresh.
fn logged_in(idp: &Idp, extra: &str) -> World {
    let world = support::logged_in(idp, extra);
    age_tokens(&world, 10);
    world
}

#[test]
fn a_valid_token_is_served_without_any_request() {
    let idp = Idp::start(&[]);
    let world = logged_in(&idp, "");
    let access = stored(&world).unwrap().access_token.secret().to_owned();
    idp.reset();
    let run = world.run(&["token"]).expect(0);
    assert_eq!(run.stdout, format!("{access}\n"));
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let header = world.run(&["token", "--format", "header"]).expect(0);
    assert_eq!(header.stdout, format!("Authorization: Bearer {access}\n"));
    let json: serde_json::Value =
        serde_json::from_str(&world.run(&["token", "--format", "json"]).expect(0).stdout).unwrap();
    assert_eq!(json["access_token"], access.as_str());
    assert_eq!(json["token_type"], "Bearer");
    assert!(json["scope"].as_str().unwrap().contains("openid"));
    assert!(json["expires_at"].as_str().unwrap().ends_with('Z'));
    let counters = idp.counters();
    for (endpoint, count) in counters.as_object().unwrap() {
        assert_eq!(count, 0, "{endpoint} was called: {counters}");
    }
}

#[test]
fn an_expiring_token_is_refreshed_once_and_the_old_refresh_token_dies() {
    let idp = Idp::start(&["--access-ttl", "30"]);
    let world = logged_in(&idp, "");
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
    assert!(after.id_token.is_some());
    assert_eq!(idp.userinfo_status(fresh), 200);

    // Fresh enough for a smaller margin: no request.
    world.run(&["token", "--min-valid", "5s"]).expect(0);
    assert_eq!(idp.counters()["token"], 1);

    // Rotation: the old refresh token is dead at the provider.
    let (status, answer) = idp.try_refresh(&old_refresh);
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "invalid_grant", "{answer}");
}

#[test]
fn sixteen_concurrent_processes_refresh_exactly_once() {
    let idp = Idp::start(&["--access-ttl", "30"]);
    let world = logged_in(&idp, "");
    idp.reset();
    let outputs: Vec<support::Run> = support::racing(&world, 16, &["token", "--min-valid", "60"])
        .into_iter()
        .map(|run| run.expect(0))
        .collect();
    let first = &outputs[0].stdout;
    assert!(
        outputs.iter().all(|o| &o.stdout == first),
        "all 16 got the same token"
    );
    assert_eq!(idp.counters()["token"], 1, "exactly one refresh request");
    assert_eq!(idp.userinfo_status(first.trim()), 200, "and it is valid");
}

#[test]
fn a_refused_refresh_is_exit_4_and_keeps_the_access_token() {
    let idp = Idp::start(&["--access-ttl", "30"]);
    let world = logged_in(&idp, "");
    let before = stored(&world).unwrap();
    idp.fault("token", "invalid_grant", 1);
    let run = world.run(&["token", "--min-valid", "60"]).expect(4);
    run.stderr_has("invalid_grant")
        .stderr_has("latchkey login -p local");
    assert!(run.stdout.is_empty());
    // The dead refresh token is recorded as refused and dropped (tests/provider_answers.rs).
    let after = stored(&world).unwrap();
    assert_eq!(after.access_token.secret(), before.access_token.secret());
    assert!(after.refresh_token.is_none() && after.refresh_refused.is_some());
}

#[test]
fn transient_failures_are_retried_then_exit_6_and_the_file_is_unchanged() {
    let idp = Idp::start(&["--access-ttl", "30"]);
    let world = logged_in(&idp, "http_timeout = 1");
    let before = std::fs::read(world.token_file()).unwrap();
    for kind in ["status_500", "drop"] {
        idp.reset();
        idp.fault("token", kind, 3);
        let run = world.run(&["token", "--min-valid", "60"]).expect(6);
        run.stderr_has("after 3 attempts");
        assert_eq!(idp.counters()["token"], 3, "{kind}: three attempts");
        assert_eq!(std::fs::read(world.token_file()).unwrap(), before, "{kind}");
    }
    // One failure, then success: the retry carries the refresh through.
    idp.reset();
    idp.fault("token", "status_500", 1);
    world.run(&["token", "--min-valid", "60"]).expect(0);
    assert_eq!(idp.counters()["token"], 2);
    assert_ne!(std::fs::read(world.token_file()).unwrap(), before);
    idp.reset();
    let answer = idp.post_json(
        "/__test/fault",
        serde_json::json!({"endpoint": "token", "kind": "delay", "count": 3, "delay_ms": 2500}),
    );
    assert_eq!(answer["ok"], true);
    // A timeout is ambiguous (the provider may have rotated the token after all), so this
    // comes last: later refreshes would be replays.
    age_tokens(&world, 10);
    let after_success = std::fs::read(world.token_file()).unwrap();
    world
        .run(&["token", "--min-valid", "60"])
        .expect(6)
        .stderr_has("timed out");
    assert_eq!(std::fs::read(world.token_file()).unwrap(), after_success);
}

#[test]
fn without_a_refresh_token_an_expiring_token_means_log_in_again() {
    let idp = Idp::shared();
    let world = logged_in(idp, "scopes = [\"openid\", \"email\"]");
    assert!(stored(&world).unwrap().refresh_token.is_none());
    world.run(&["token"]).expect(0);
    world
        .run(&["token", "--min-valid", "2h"])
        .expect(4)
        .stderr_has("no refresh token")
        .stderr_has("offline_access");
}

#[test]
fn not_logged_in_is_exit_4_everywhere() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    world
        .run(&["token"])
        .expect(4)
        .stderr_has("run `latchkey login -p local`");
    let run = world.run(&["status", "--json"]).expect(4);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["logged_in"], false);
    world
        .run(&["logout"])
        .expect(0)
        .stderr_has("not logged in; nothing to do");
}

#[test]
fn status_shows_who_and_until_when_but_no_token() {
    let idp = Idp::shared();
    let world = logged_in(idp, "audience = \"https://api.example.com/\"");
    let tokens = stored(&world).unwrap();
    let run = world.run(&["status", "--json"]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["profile"], "local");
    assert_eq!(json["logged_in"], true);
    assert_eq!(json["subject"], "alice");
    assert_eq!(json["email"], "alice@example.com");
    assert_eq!(json["issuer"], idp.issuer.as_str());
    assert_eq!(json["audience"], "https://api.example.com/");
    assert!(
        json["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "offline_access"),
        "{json}"
    );
    assert_eq!(json["refresh_token"], true);
    assert_eq!(json["access_token_expired"], false);
    assert!(json["access_token_expires_in"].as_i64().unwrap() > 3000);
    assert!(
        json["access_token_expires_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(json["token_file"], world.token_file().to_str().unwrap());
    assert!(
        json["protection"]
            .as_str()
            .unwrap()
            .contains("identity.txt"),
        "{json}"
    );
    let text = world.run(&["status"]).expect(0);
    text.stdout_has("local: logged in as alice@example.com")
        .stdout_has("refresh     yes");
    for secret in [
        tokens.access_token.secret(),
        tokens.refresh_token.as_ref().unwrap().secret(),
    ] {
        assert!(!run.stdout.contains(secret) && !text.stdout.contains(secret));
    }
    // --all covers every profile; one not logged in makes it exit 4.
    let both = idp.profile_toml("")
        + &format!(
            "[profiles.other]\nissuer = \"{}\"\nclient_id = \"x\"\n",
            idp.issuer
        );
    world.write_profiles(&both);
    let all = world.run(&["status", "--all", "--json"]).expect(4);
    let list: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["logged_in"], false);
}

#[test]
fn logout_revokes_at_the_provider_and_deletes() {
    let (idp, world, refresh) = before_logout();
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
}

#[test]
fn logout_with_the_provider_down_still_deletes_and_says_what_is_live() {
    let idp = Idp::start(&[]);
    let world = logged_in(&idp, "");
    idp.stop();
    let run = world.run(&["logout"]).expect(6);
    run.stderr_has("the local tokens were deleted")
        .stderr_has("still holds a live refresh token");
    assert!(!world.token_file().exists());
}

#[test]
fn logout_local_skips_revocation() {
    let (idp, world, refresh) = before_logout();
    world
        .run(&["logout", "--local"])
        .expect(0)
        .stderr_has("not revoked (--local)");
    assert!(!world.token_file().exists());
    assert_eq!(idp.counters()["revocation"], 0);
    assert_eq!(
        idp.try_refresh(&refresh).0,
        200,
        "still live at the provider"
    );
}

#[test]
fn passphrase_mode_round_trip() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "use_passphrase = true\nscrypt_work_factor = 12");
    world.set_env("LATCHKEY_PASSPHRASE", "correct horse battery staple");
    paste_login(&world, idp).expect(0);
    let bytes = std::fs::read(world.token_file()).unwrap();
    assert!(
        String::from_utf8_lossy(&bytes).contains("-> scrypt"),
        "a passphrase-encrypted age file"
    );
    assert!(
        !world.store_dir().join("identity.txt").exists(),
        "no identity needed"
    );
    let token = world.run(&["token"]).expect(0);
    assert!(!token.stdout.trim().is_empty());
    world
        .run(&["status"])
        .expect(0)
        .stdout_has("age passphrase (scrypt, log2 N = 12)");

    let wrong = World::new();
    std::fs::create_dir_all(wrong.home()).unwrap();
    let run = world
        .run_env(&["token"], &[("LATCHKEY_PASSPHRASE", "wrong")])
        .expect(7);
    // The source of the wrong passphrase is named; nothing says the file is damaged.
    run.stderr_has("LATCHKEY_PASSPHRASE does not open")
        .stderr_has("correct LATCHKEY_PASSPHRASE");
    assert!(!run.stderr.contains("damaged"), "{}", run.stderr);
    let run = world
        .run_env(&["token"], &[("LATCHKEY_PASSPHRASE", "")])
        .expect(7);
    run.stderr_has("LATCHKEY_PASSPHRASE");
    assert_eq!(
        std::fs::read(world.token_file()).unwrap(),
        bytes,
        "never deleted"
    );
}

#[test]
fn a_users_own_identity_file() {
    let idp = Idp::shared();
    let world = World::new();
    let key = world.write_file("my.key", "# created: by hand\nAGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33\n");
    world.write_profiles(&idp.profile_toml(&format!("identity_file = \"{}\"", key.display())));
    // Like an ssh key: a key file others can read is refused, with the fix.
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    world.run(&["token"]).expect(4);
    let run = world
        .run(&["login", "--no-browser", "--no-loopback"])
        .expect(7);
    run.stderr_has(&format!("chmod 600 {}", key.display()));
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    paste_login(&world, idp).expect(0);
    world.run(&["token"]).expect(0);
    world
        .run(&["status"])
        .expect(0)
        .stdout_has(&format!("your key {}", key.display()));
    assert!(!world.store_dir().join("identity.txt").exists());
}

#[test]
fn a_tampered_token_file_is_exit_7_and_kept() {
    let idp = Idp::shared();
    let world = logged_in(idp, "");
    let path = world.token_file();
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() - 20;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let run = world.run(&["token"]).expect(7);
    run.stderr_has("cannot decrypt")
        .stderr_has("latchkey login -p local");
    assert!(run.stdout.is_empty());
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    std::fs::write(&path, &bytes[..40]).unwrap();
    world.run(&["token"]).expect(7).stderr_has("cannot decrypt");
}

#[test]
fn exec_credential_and_id_token() {
    let idp = Idp::shared();
    let world = logged_in(idp, "");
    let tokens = stored(&world).unwrap();
    let run = world
        .run(&["token", "--format", "exec-credential"])
        .expect(0);
    let cred: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(cred["kind"], "ExecCredential");
    assert_eq!(cred["status"]["token"], tokens.access_token.secret());
    let expiry = cred["status"]["expirationTimestamp"].as_str().unwrap();
    assert_eq!(expiry.len(), 20, "RFC 3339 UTC: {expiry}");
    assert_eq!(
        expiry,
        latchkey::base::duration::rfc3339(tokens.expires_at.unwrap())
    );
    assert_eq!(
        cred.as_object().unwrap().len(),
        3,
        "only apiVersion, kind, status: {cred}"
    );

    let id = world.run(&["token", "--id-token"]).expect(0);
    assert_eq!(id.stdout.trim(), tokens.id_token.as_ref().unwrap().secret());
    let claims = latchkey::oauth::jwt::unverified_claims(id.stdout.trim()).unwrap();
    assert_eq!(claims.sub.as_deref(), Some("alice"));
}

/// The just-issued rule: for 5 s after tokens are obtained they count as fresh whatever
/// `--min-valid` says, so asking for more validity than the provider gives (30 s tokens,
/// `--min-valid 1h`) does not refresh, and burn a rotating refresh token, on every call; once
/// they are older, `--min-valid` decides again.
#[test]
fn tokens_just_obtained_count_as_fresh_whatever_min_valid_says() {
    let idp = Idp::start(&["--access-ttl", "30"]);
    let world = support::logged_in(&idp, "");
    let access = stored(&world).unwrap().access_token.secret().to_owned();
    idp.reset();
    for _ in 0..3 {
        let run = world.run(&["token", "--min-valid", "1h"]).expect(0);
        assert_eq!(run.stdout.trim(), access);
    }
    assert_eq!(idp.counters()["token"], 0, "no refresh in the first 5 s");
    age_tokens(&world, 6);
    let run = world.run(&["token", "--min-valid", "1h"]).expect(0);
    assert_ne!(run.stdout.trim(), access);
    assert_eq!(idp.counters()["token"], 1, "past 5 s, --min-valid decides");
    // The refreshed tokens are just obtained in their turn.
    let refreshed = run.stdout.trim().to_owned();
    let run = world.run(&["token", "--min-valid", "1h"]).expect(0);
    assert_eq!(run.stdout.trim(), refreshed);
    assert_eq!(idp.counters()["token"], 1);
}
