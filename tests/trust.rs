//! Trust boundaries (SECURITY.md): tokens bound to the provider and client they came from,
//! files that must be ours, a lock that cannot hang every caller, relative paths taken from
//! the profiles file's directory, and a process that cannot be dumped. Each test here failed
//! before the fix it names.

use crate::support;

use crate::support::*;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// The uid the "other local user" tests hand files to (Debian's `nobody`).
const OTHER_UID: u32 = 65534;

/// A port on 127.0.0.1 that counts every connection made to it (and answers nothing useful):
/// where a tampered profile tries to send tokens.
struct Trap {
    url: String,
    hits: Arc<AtomicU32>,
}

impl Trap {
    fn start() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicU32::new(0));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Trap {
            url: format!("http://127.0.0.1:{port}"),
            hits,
        }
    }

    fn hits(&self) -> u32 {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Whether this process can hand files to another uid (it is root): the "other local user"
/// tests need that. Elsewhere they say loudly that they did not run.
fn can_chown() -> bool {
    let probe = tempfile::NamedTempFile::new().unwrap();
    let can = std::os::unix::fs::chown(probe.path(), Some(OTHER_UID), None).is_ok();
    if !can {
        eprintln!(
            "SKIPPED (not root): this test needs to create files owned by another user (uid {OTHER_UID})"
        );
    }
    can
}

#[test]
fn a_changed_token_endpoint_does_not_get_the_refresh_token() {
    // A provider of its own: its token counter sees this test's requests and no other's.
    let idp = &Idp::start(&[]);
    let world = logged_in(idp, "");
    age_tokens(&world, 60); // past the just-issued window, so `--min-valid 1h` refreshes
    refresh_ignores_token_endpoint_override(idp, &world);
}

/// A refresh with `LATCHKEY_TOKEN_ENDPOINT` pointing at a trap: it succeeds, at the provider's
/// endpoint (one token request more there), and the trap gets no connection.
fn refresh_ignores_token_endpoint_override(idp: &Idp, world: &World) {
    let trap = Trap::start();
    let before = idp.counters()["token"].as_u64().unwrap();
    world
        .run_env(
            &["token", "--min-valid", "1h"],
            &[("LATCHKEY_TOKEN_ENDPOINT", &format!("{}/token", trap.url))],
        )
        .expect(0);
    assert_eq!(
        trap.hits(),
        0,
        "the refresh token was posted to the profile's new endpoint"
    );
    assert_eq!(
        idp.counters()["token"].as_u64().unwrap(),
        before + 1,
        "the refresh went to the endpoint the tokens came from"
    );
}

#[test]
fn a_profile_that_now_names_another_issuer_or_client_is_refused_and_sends_nothing() {
    let idp = Idp::shared();
    let world = logged_in(idp, "");
    age_tokens(&world, 60); // past the just-issued window, so `--min-valid 1h` refreshes
    let trap = Trap::start();
    for (var, value) in [
        ("LATCHKEY_ISSUER", trap.url.as_str()),
        ("LATCHKEY_CLIENT_ID", "someone-elses-client"),
    ] {
        for args in [
            &["token", "--min-valid", "1h"][..],
            &["token"][..],
            &["status"][..],
            &["logout"][..],
        ] {
            let run = world.run_env(args, &[(var, value)]);
            let run = run.expect(3);
            run.stderr_has("profile `local` now points at")
                .stderr_has("but its tokens came from")
                .stderr_has("latchkey login -p local");
        }
    }
    assert_eq!(trap.hits(), 0, "a token went to the profile's new provider");
    // Nothing was lost: with the environment as it was, the tokens still work.
    world.run(&["token"]).expect(0);
    assert!(world.token_file().exists());
}

#[test]
fn files_owned_by_another_user_are_refused_with_the_chown_that_fixes_them() {
    if !can_chown() {
        return;
    }
    let idp = Idp::shared();
    let world = logged_in(idp, "");
    age_tokens(&world, 60); // past the just-issued window, so `--min-valid 1h` refreshes
    world.run(&["token", "--min-valid", "1h"]).expect(0); // makes the lock file and the cache
    let tokens = world.tokens_dir();
    for path in [
        world.store_dir(),
        tokens.clone(),
        world.token_file(),
        world.store_dir().join("identity.txt"),
        tokens.join("local.lock"),
        tokens.join("local.provider.json"),
    ] {
        assert!(path.exists(), "{}", path.display());
        let owner = std::fs::metadata(&path).unwrap().uid();
        age_tokens(&world, 60); // so the lock and the cache are used: a refresh is due
        std::os::unix::fs::chown(&path, Some(OTHER_UID), None).unwrap();
        let run = world.run(&["token", "--min-valid", "1h"]).expect(7);
        run.stderr_has(&format!("{} is a", path.display()))
            .stderr_has(&format!("owned by uid {OTHER_UID}"))
            .stderr_has(&format!("chown {owner} {}", path.display()));
        std::os::unix::fs::chown(&path, Some(owner), None).unwrap();
    }
    world.run(&["token", "--min-valid", "1h"]).expect(0);
}

#[test]
fn a_planted_lock_symlink_is_refused_and_its_target_untouched() {
    let idp = Idp::shared();
    let world = logged_in(idp, "");
    age_tokens(&world, 60); // past the just-issued window, so `--min-valid 1h` refreshes
    let target = world.dir.path().join("not-a-lock");
    std::fs::write(&target, "keep me").unwrap();
    let lock = world.tokens_dir().join("local.lock");
    let _ = std::fs::remove_file(&lock);
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let mode_before = std::fs::metadata(&target).unwrap().mode();
    world
        .run(&["token", "--min-valid", "1h"])
        .expect(7)
        .stderr_has("is a symbolic link");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert_eq!(std::fs::metadata(&target).unwrap().mode(), mode_before);
}

#[test]
fn a_stopped_refresh_does_not_hang_other_callers_forever() {
    // A provider of its own: the fault below must delay this test's refresh and no other's.
    let idp = &Idp::start(&[]);
    let world = logged_in(idp, "");
    age_tokens(&world, 60); // past the just-issued window, so `--min-valid 1h` refreshes
    // The holder's refresh hangs at the provider long enough to be caught holding the lock.
    let answer = idp.post_json(
        "/__test/fault",
        serde_json::json!({ "endpoint": "token", "kind": "delay", "count": 1, "delay_ms": 20000 }),
    );
    assert_eq!(answer["ok"], true, "{answer}");
    let mut holder = world
        .cmd(&["token", "--min-valid", "1h"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = world.tokens_dir().join("local.lock");
    let pid = holder.id();
    let started = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.starts_with(&format!("{pid} "))) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the holder never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Ctrl-Z, as a user would.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    let started = Instant::now();
    let run = world
        .run_env(
            &["token", "--min-valid", "1h"],
            &[("LATCHKEY_LOCK_TIMEOUT", "2s")],
        )
        .expect(7);
    let waited = started.elapsed();
    run.stderr_has(&format!("locked by latchkey (pid {pid}, `latchkey token`)"))
        .stderr_has("kill -CONT");
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(10),
        "waited {waited:?}"
    );
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
    let _ = holder.kill();
    let _ = holder.wait();
}

#[test]
fn relative_paths_in_a_profiles_file_are_taken_from_its_directory() {
    let idp = Idp::shared_https();
    let world = World::new();
    // The CA sits beside the profiles file, named relatively; latchkey runs from elsewhere.
    let config_dir = world.profiles_path().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::copy(
        idp.ca.as_ref().expect("an HTTPS provider has a CA"),
        config_dir.join("ca.pem"),
    )
    .unwrap();
    world.write_profiles(&idp.profile_toml("ca_file = \"ca.pem\""));
    let elsewhere = tempfile::tempdir().unwrap();
    let output = world
        .cmd(PASTE_LOGIN)
        .current_dir(elsewhere.path())
        .arg("--timeout")
        .arg("1s")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The login got as far as waiting for a paste: discovery over TLS trusted the CA.
    assert!(
        !stderr.contains("certificate") && !stderr.contains("ca.pem"),
        "{stderr}"
    );
    assert!(stderr.contains("Log in to profile `local`"), "{stderr}");
}

#[test]
fn latchkey_cannot_be_dumped_or_write_a_core_file() {
    if !can_chown() {
        return;
    }
    // A provider that never answers keeps latchkey waiting, so its /proc entry can be read.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(home.path(), Some(OTHER_UID), Some(OTHER_UID)).unwrap();
    let profiles = home.path().join("profiles.toml");
    std::fs::write(
        &profiles,
        format!("[profiles.p]\nissuer = \"http://127.0.0.1:{port}\"\nclient_id = \"c\"\n"),
    )
    .unwrap();
    // Run as another, unprivileged user: for root, /proc is always readable.
    let mut child = Command::new("setpriv")
        .args([
            "--reuid",
            &OTHER_UID.to_string(),
            "--regid",
            &OTHER_UID.to_string(),
            "--clear-groups",
        ])
        .arg(env!("CARGO_BIN_EXE_latchkey"))
        .args([
            "--config",
            profiles.to_str().unwrap(),
            "login",
            "--no-browser",
            "--no-loopback",
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (accepted, connected) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = accepted.send(silent.accept().map(|(s, _)| s));
    });
    let stream = connected
        .recv_timeout(Duration::from_secs(10))
        .expect("latchkey asked the provider")
        .unwrap();
    let proc_dir = format!("/proc/{}", child.id());
    let mut limits = String::new();
    std::fs::File::open(Path::new(&proc_dir).join("limits"))
        .unwrap()
        .read_to_string(&mut limits)
        .unwrap();
    // A non-dumpable process's /proc files belong to root, not to the user it runs as.
    let status_owner = std::fs::metadata(Path::new(&proc_dir).join("status"))
        .unwrap()
        .uid();
    let _ = child.kill();
    let _ = child.wait();
    drop(stream);
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("a core limit line");
    assert!(
        core.split_whitespace().filter(|w| *w == "0").count() == 2,
        "core files are allowed: {core}"
    );
    assert_eq!(
        status_owner, 0,
        "the process is dumpable (its /proc belongs to its user)"
    );
}

/// A world logged in to an HTTPS provider of its own whose CA its profile trusts (`ca_file`),
/// with tokens aged so that `--min-valid 2h` refreshes.
fn logged_in_over_tls() -> (Idp, World) {
    let idp = Idp::start(&["--https"]);
    let ca = idp.ca.clone().expect("an HTTPS provider has a CA");
    let world = logged_in(&idp, &format!("ca_file = \"{}\"\n", ca.display()));
    age_tokens(&world, 60);
    (idp, world)
}

/// The refusal of a path that trusts more than the login did: exit 3, the words that say so,
/// and the way to accept it.
fn refused_for_trust(run: Run) {
    run.expect(3)
        .stderr_has("profile `local` now trusts a certificate that its tokens were not obtained with (SHA-256 ")
        .stderr_has("but they were obtained trusting 1 certificate from ca_file; nothing was sent")
        .stderr_has("run `latchkey login -p local` to accept it");
}

/// The HIGH finding of the review, as an attacker ran it: `LATCHKEY_PROXY` and
/// `LATCHKEY_CA_FILE` pointing at an intercepting proxy and its CA made a refresh hand it the
/// refresh token and the rotated one. A refresh, a token for another API and a logout now
/// trust only what the login trusted: exit 3 before any connection is made, nothing stored or
/// deleted, and the tokens still good without the attacker's settings. (Failed before the
/// path check: exit 0, and the proxy read `grant_type=refresh_token&refresh_token=…`.)
#[test]
fn an_interceptors_ca_and_proxy_in_the_environment_get_no_stored_token() {
    let (_idp, world) = logged_in_over_tls();
    let mitm = support::mitm::Mitm::start();
    let before = std::fs::read(world.token_file()).unwrap();
    let (proxy, ca) = (mitm.url(), mitm.ca.display().to_string());
    let attacker = [
        ("LATCHKEY_PROXY", proxy.as_str()),
        ("LATCHKEY_CA_FILE", ca.as_str()),
    ];
    for args in [
        &["token", "--min-valid", "2h"][..],
        &["token", "--audience", "https://billing.example.com/"],
        &["logout"],
    ] {
        refused_for_trust(world.run_env(args, &attacker));
    }
    assert!(mitm.tunnels().is_empty(), "{:?}", mitm.tunnels());
    assert!(mitm.seen().is_empty(), "{:?}", mitm.seen());
    assert_eq!(std::fs::read(world.token_file()).unwrap(), before);
    // As the profile says, the same tokens refresh.
    world.run(&["token", "--min-valid", "2h"]).expect(0);
}

/// The same from a cloned repository: `--config repo/profiles.toml` whose profile has the
/// same issuer and client, a relative `ca_file` shipped beside it and the interceptor as its
/// `proxy`.
#[test]
fn a_cloned_repositorys_profile_with_its_own_ca_gets_no_stored_token() {
    let (idp, world) = logged_in_over_tls();
    let mitm = support::mitm::Mitm::start();
    let repo = world.dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::copy(&mitm.ca, repo.join("ca.pem")).unwrap();
    let config = repo.join("profiles.toml");
    std::fs::write(
        &config,
        idp.profile_toml(&format!(
            "ca_file = \"ca.pem\"\nproxy = \"{}\"\n",
            mitm.url()
        )),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    refused_for_trust(world.run(&["--config", config, "token", "--min-valid", "2h"]));
    refused_for_trust(world.run(&["--config", config, "logout"]));
    assert!(mitm.seen().is_empty(), "{:?}", mitm.seen());
    // Trusting it is the user's to decide, by logging in with it: then it is what the tokens
    // were obtained trusting (and the proxy, trusted, reads them: that is what was accepted).
    let bundle = repo.join("both.pem");
    let both = [
        std::fs::read(idp.ca.as_ref().unwrap()).unwrap(),
        std::fs::read(&mitm.ca).unwrap(),
    ]
    .concat();
    std::fs::write(&bundle, both).unwrap();
    let accepted = World::for_idp(
        &idp,
        &format!(
            "ca_file = \"{}\"\nproxy = \"{}\"\n",
            bundle.display(),
            mitm.url()
        ),
    );
    paste_login(&accepted, &idp).expect(0);
    age_tokens(&accepted, 60);
    accepted.run(&["token", "--min-valid", "2h"]).expect(0);
    assert!(mitm.bodies().contains("grant_type=refresh_token"));
}

/// A proxy alone cannot read TLS: a refresh and a logout through a new network's proxy (one
/// that tunnels, as any corporate or hotel proxy does) keep working.
#[test]
fn a_new_networks_proxy_changes_nothing_for_tls() {
    let (_idp, world) = logged_in_over_tls();
    let proxy = support::proxy::ConnectProxy::start();
    let url = proxy.url();
    world
        .run_env(
            &["token", "--min-valid", "2h"],
            &[("LATCHKEY_PROXY", url.as_str())],
        )
        .expect(0);
    world
        .run_env(&["logout"], &[("LATCHKEY_PROXY", url.as_str())])
        .expect(0);
    assert!(!proxy.connects().is_empty(), "the proxy was not used");
}

/// A plain-http provider (loopback only) through a proxy would be read in the clear: a stored
/// token is never sent that way, whatever sets the proxy. (Failed before: the proxy read the
/// refresh token.)
#[test]
fn a_stored_token_never_goes_through_a_proxy_in_clear_text() {
    let idp = Idp::start(&[]);
    let world = logged_in(&idp, "");
    age_tokens(&world, 60);
    let mitm = support::mitm::Mitm::start();
    let url = mitm.url();
    for args in [&["token", "--min-valid", "2h"][..], &["logout"]] {
        world
            .run_env(args, &[("LATCHKEY_PROXY", url.as_str())])
            .expect(3)
            .stderr_has("would send its tokens to http://127.0.0.1:")
            .stderr_has(&format!(
                "in clear text through proxy {url} (from the profile's `proxy`), which could read them; nothing was sent"
            ))
            .stderr_has("proxy = \"none\"");
    }
    assert!(mitm.seen().is_empty(), "{:?}", mitm.seen());
    world.run(&["token", "--min-valid", "2h"]).expect(0);
}

/// Tokens stored before their endpoints were recorded are refreshed and revoked at their
/// issuer's endpoints (discovery), never at a `LATCHKEY_TOKEN_ENDPOINT` or
/// `LATCHKEY_REVOCATION_ENDPOINT` set since. (Failed before: the refresh token went to the
/// override.)
#[test]
fn tokens_from_before_endpoint_binding_ignore_endpoint_overrides() {
    let idp = &Idp::start(&[]);
    let world = logged_in(idp, "");
    let unbind = |world: &World| {
        rewrite_tokens(world, |tokens| {
            tokens.token_endpoint = None;
            tokens.revocation_endpoint = None;
            tokens.added_roots = None;
            tokens.obtained_at -= 60;
        })
    };
    unbind(&world);
    refresh_ignores_token_endpoint_override(idp, &world);
    // Recorded from now on.
    assert!(stored(&world).unwrap().token_endpoint.is_some());

    unbind(&world);
    let trap = Trap::start();
    let revocations = idp.counters()["revocation"].as_u64().unwrap_or(0);
    world
        .run_env(
            &["logout"],
            &[(
                "LATCHKEY_REVOCATION_ENDPOINT",
                &format!("{}/revoke", trap.url),
            )],
        )
        .expect(0);
    assert_eq!(trap.hits(), 0, "the tokens went to the override");
    assert!(idp.counters()["revocation"].as_u64().unwrap() > revocations);
}

/// A token file copied over another profile's (same provider and client) is refused, not
/// served as that profile's: the file names its profile inside the encryption. (Failed
/// before: `token -p prod` printed dev's token.)
#[test]
fn a_token_file_copied_over_another_profiles_is_refused() {
    let idp = Idp::shared();
    let world = World::new();
    let local = idp.profile_toml("");
    let (_, body) = local.split_once("[profiles.local]").unwrap();
    world.write_profiles(&format!("{local}\n[profiles.prod]{body}"));
    paste_login(&world, idp).expect(0);
    std::fs::copy(world.token_file(), world.tokens_dir().join("prod.age")).unwrap();
    for args in [&["token", "-p", "prod"][..], &["status", "-p", "prod"]] {
        world
            .run(args)
            .expect(7)
            .stderr_has("prod.age holds the tokens of profile `local`, not of `prod`");
    }
    world.run(&["token", "-p", "local"]).expect(0);
}
