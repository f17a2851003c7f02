//! A login and the tokens around it: one that does not succeed (Ctrl-C, a timeout) writes
//! nothing but its lock file; a second login of the same profile is turned away at once, naming
//! the first; and a login that replaces another user's tokens revokes their refresh token.

use crate::support::{
    Idp, LOOPBACK_LOGIN, PASTE_LOGIN, Session, World, approve, logged_in, paste_login,
    stored_refresh_token,
};
use std::path::Path;
use std::time::{Duration, Instant};

/// Every file under `dir` (directories are not listed), relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                found.push(relative.display().to_string());
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

/// What a login that did not succeed leaves in a fresh data directory: its lock file, which
/// holds a pid and a command and no secret.
fn only_the_lock_file(world: &World) {
    assert_eq!(
        files_under(&world.data_home()),
        ["latchkey/tokens/local.login.lock"],
        "a login that did not succeed wrote more than its lock file"
    );
    let holder = std::fs::read_to_string(world.tokens_dir().join("local.login.lock")).unwrap();
    assert!(holder.ends_with(" login\n"), "{holder:?}");
}

fn refresh_token_is_dead(idp: &Idp, refresh: &str) -> bool {
    let (status, answer) = idp.try_refresh(refresh);
    status == 400 && answer["error"] == "invalid_grant"
}

#[test]
fn ctrl_c_during_the_wait_writes_nothing_and_leaves_no_obstacle() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let (session, _) = Session::login(&world, idp, PASTE_LOGIN);
    let run = session.finish_by_signal(libc::SIGINT).expect(130);
    run.stderr_has("interrupted; nothing was stored");
    only_the_lock_file(&world);
    // The interrupted login's lock went with its process.
    paste_login(&world, idp).expect(0);
    assert!(world.token_file().is_file());
    assert!(world.store_dir().join("identity.txt").is_file());
}

#[test]
fn a_timed_out_login_writes_nothing() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let mut args = LOOPBACK_LOGIN.to_vec();
    args.extend(["--timeout", "2s"]);
    let (run, took) = world.timed_run(&args);
    run.expect(8).stderr_has("timed out");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    only_the_lock_file(&world);
}

/// A re-login that does not succeed leaves the stored tokens, the key and the provider cache
/// exactly as they were: what it fetched is written only on success.
#[test]
fn an_interrupted_relogin_leaves_every_file_as_it_was() {
    let idp = Idp::shared();
    let world = logged_in(idp, "");
    let snapshot = |world: &World| -> Vec<(String, Vec<u8>)> {
        files_under(&world.data_home())
            .into_iter()
            .map(|name| {
                let bytes = std::fs::read(world.data_home().join(&name)).unwrap();
                (name, bytes)
            })
            .filter(|(name, _)| !name.ends_with(".lock"))
            .collect()
    };
    let before = snapshot(&world);
    let names: Vec<&str> = before.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "latchkey/identity.txt",
            "latchkey/tokens/local.age",
            "latchkey/tokens/local.provider.json",
        ]
    );
    // Past the second the cache records its fetches in, so a rewrite would show.
    std::thread::sleep(Duration::from_millis(1100));
    let (session, _) = Session::login(&world, idp, PASTE_LOGIN);
    session.finish_by_signal(libc::SIGINT).expect(130);
    assert!(
        before == snapshot(&world),
        "an interrupted login changed a stored file"
    );
}

#[test]
fn a_second_login_of_the_profile_is_turned_away_at_once_naming_the_first() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let (mut first, url) = Session::login(&world, idp, PASTE_LOGIN);
    let (second, took) = world.timed_run(PASTE_LOGIN);
    let second = second.expect(8);
    assert!(
        took < Duration::from_secs(5),
        "the second login waited {took:?}"
    );
    assert_eq!(
        second.stderr.lines().collect::<Vec<_>>(),
        [
            format!(
                "error: another login for profile `local` is running (pid {}, `latchkey login`); finish or cancel it first",
                first.pid()
            ),
            format!(
                "hint: finish that login, or cancel it (Ctrl-C where it runs, or `kill {}`), then log in again",
                first.pid()
            ),
        ],
        "the second login shows nothing else"
    );
    // The first goes on undisturbed.
    first.paste(&approve(&url, idp, &[]));
    first
        .finish()
        .expect(0)
        .stderr_has("Logged in as Alice Liddell (alice@example.com) with profile `local`");
    // And once it is done, the profile is free again.
    paste_login(&world, idp).expect(0);
}

/// A login killed outright (no handler runs) leaves its lock file naming it; the kernel has
/// released the lock itself, so the next login goes ahead.
#[test]
fn a_killed_logins_lock_is_no_obstacle() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let (session, _) = Session::login(&world, idp, PASTE_LOGIN);
    let pid = session.pid();
    session.finish_by_signal(libc::SIGKILL);
    let holder = std::fs::read_to_string(world.tokens_dir().join("local.login.lock")).unwrap();
    assert_eq!(holder, format!("{pid} login\n"));
    paste_login(&world, idp)
        .expect(0)
        .stderr_has("Logged in as Alice Liddell (alice@example.com) with profile `local`");
}

/// Tokens of another user are replaced and their refresh token revoked, silently; the new
/// refresh token is untouched.
#[test]
fn a_login_as_another_user_revokes_the_replaced_refresh_token() {
    let idp = Idp::start(&[]);
    let world = logged_in(&idp, "");
    let replaced = stored_refresh_token(&world);
    idp.reset();
    idp.log_in_as("bob");
    let run = paste_login(&world, &idp).expect(0);
    assert!(
        !run.stderr.contains("revoke"),
        "a revocation that worked is not mentioned: {}",
        run.stderr
    );
    assert_eq!(idp.counters()["revocation"], 1);
    assert!(
        refresh_token_is_dead(&idp, &replaced),
        "the replaced refresh token is revoked"
    );
    let (status, answer) = idp.try_refresh(&stored_refresh_token(&world));
    assert_eq!(status, 200, "the new refresh token still works: {answer}");
}

/// A second login of the same user does not revoke the refresh token it replaces: many
/// providers revoke the whole grant or session with it, which the new login may share.
#[test]
fn a_relogin_of_the_same_user_sends_no_revocation() {
    let idp = Idp::start(&[]);
    let world = logged_in(&idp, "");
    idp.reset();
    paste_login(&world, &idp).expect(0);
    assert_eq!(idp.counters()["revocation"], 0);
    let (status, answer) = idp.try_refresh(&stored_refresh_token(&world));
    assert_eq!(status, 200, "{answer}");
}

/// Revocation is best effort: when it fails, the login still succeeds, one line says so, and
/// the line that says who logged in stays the last.
#[test]
fn a_failed_revocation_of_the_replaced_token_is_one_line() {
    let idp = Idp::start(&[]);
    let world = logged_in(&idp, "");
    let replaced = stored_refresh_token(&world);
    idp.reset();
    idp.log_in_as("bob");
    idp.fault("revocation", "status_500", 5);
    let started = Instant::now();
    let run = paste_login(&world, &idp).expect(0);
    assert!(started.elapsed() < Duration::from_secs(20));
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.contains("revoke"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("could not revoke the replaced refresh token: "),
        "{}",
        lines[0]
    );
    assert!(
        run.stderr
            .lines()
            .last()
            .is_some_and(|line| line.starts_with("Logged in as ")),
        "{}",
        run.stderr
    );
    assert_eq!(
        idp.try_refresh(&replaced).0,
        200,
        "it was indeed not revoked"
    );
}
