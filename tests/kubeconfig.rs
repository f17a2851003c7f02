//! `latchkey kubeconfig` with the real kubectl: the user it writes is read by kubectl as meant,
//! the rest of the file stays byte for byte, and kubectl runs latchkey as its credential plugin
//! against a stand-in API server that takes only the token `latchkey token` prints.

use crate::support::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A kubeconfig as people keep them: comments, a cluster, a context, another user.
const KUBECONFIG: &str = "\
# The team's clusters: keep this comment.
apiVersion: v1
kind: Config
clusters:
- name: prod   # the real one
  cluster:
    server: https://k8s.example.com:6443
contexts:
- name: prod
  context:
    cluster: prod
    user: alice
current-context: prod
users:
# alice's certificate login
- name: alice
  user:
    token: alice-static-token
preferences: {}
";

/// `kubectl ARGS` in `world`'s environment (its HOME and XDG directories, so the plugin it runs
/// finds the world's profiles and tokens).
fn kubectl(world: &World, args: &[&str]) -> Run {
    let out = world
        .command("kubectl")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("kubectl is on PATH (tests/run installs it)");
    Run::from(out)
}

/// The merged kubeconfig as kubectl reads it, secrets included.
fn view(world: &World, file: &Path) -> serde_json::Value {
    let run = kubectl(
        world,
        &[
            "--kubeconfig",
            file.to_str().unwrap(),
            "config",
            "view",
            "--raw",
            "-o",
            "json",
        ],
    )
    .expect(0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// The users of that name in a `kubectl config view` document.
fn users_named<'a>(doc: &'a serde_json::Value, name: &str) -> Vec<&'a serde_json::Value> {
    doc["users"]
        .as_array()
        .map(|users| users.iter().filter(|u| u["name"] == name).collect())
        .unwrap_or_default()
}

fn latchkey_path() -> String {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_latchkey"))
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn kubectl_reads_the_user_and_the_rest_of_the_file_stays() {
    let world = World::for_idp(Idp::shared(), "");
    let file = world.write_file("kubeconfig", KUBECONFIG);
    let run = world
        .run(&["kubeconfig", "--kubeconfig", file.to_str().unwrap()])
        .expect(0);
    run.stderr_has("adds user \"latchkey-local\" for profile `local`")
        .stderr_has("To use it: kubectl --kubeconfig ")
        .stderr_has("config set-context --current --user=latchkey-local");
    let text = std::fs::read_to_string(&file).unwrap();
    // Everything before the end of alice's entry, and after it, is as it was.
    let (before, after) = KUBECONFIG.split_once("preferences: {}\n").unwrap();
    assert!(text.starts_with(before), "{text}");
    assert!(
        text.ends_with(&format!("preferences: {{}}\n{after}")),
        "{text}"
    );

    let doc = view(&world, &file);
    let mine = users_named(&doc, "latchkey-local");
    assert_eq!(mine.len(), 1, "{doc:#}");
    let exec = &mine[0]["user"]["exec"];
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(exec["command"], latchkey_path());
    assert_eq!(
        exec["args"],
        serde_json::json!([
            "token",
            "--profile",
            "local",
            "--format",
            "exec-credential",
            "--login-if-needed"
        ])
    );
    // interactiveMode came with kubectl 1.22; an older one ignores it (Debian 12 ships 1.20).
    if kubectl_minor(&world) >= 22 {
        assert_eq!(exec["interactiveMode"], "IfAvailable");
    }
    assert_eq!(exec["provideClusterInfo"], false);
    assert!(
        exec["installHint"]
            .as_str()
            .is_some_and(|hint| hint.contains("latchkey kubeconfig -p local")),
        "{exec:#}"
    );
    let alice = users_named(&doc, "alice");
    assert_eq!(
        alice[0]["user"],
        serde_json::json!({ "token": "alice-static-token" })
    );
    assert_eq!(doc["current-context"], "prod");
    assert_eq!(
        doc["clusters"][0]["cluster"]["server"],
        "https://k8s.example.com:6443"
    );
    assert_eq!(doc["contexts"][0]["context"]["user"], "alice");

    // Again: nothing to change, the file not even rewritten.
    let before_again = std::fs::metadata(&file).unwrap().modified().unwrap();
    world
        .run(&["kubeconfig", "--kubeconfig", file.to_str().unwrap()])
        .expect(0)
        .stderr_has("has user \"latchkey-local\" for profile `local` already; nothing to change");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before_again
    );

    // Changed settings update the one entry in place.
    world
        .run(&[
            "kubeconfig",
            "--kubeconfig",
            file.to_str().unwrap(),
            "--id-token",
        ])
        .expect(0)
        .stderr_has("updates user \"latchkey-local\"");
    let doc = view(&world, &file);
    let mine = users_named(&doc, "latchkey-local");
    assert_eq!(mine.len(), 1, "{doc:#}");
    assert_eq!(mine[0]["user"]["exec"]["args"][6], "--id-token");
    assert_eq!(users_named(&doc, "alice").len(), 1);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with(before), "{text}");
    assert_eq!(text.matches("latchkey-local").count(), 1, "{text}");
}

#[test]
fn a_dry_run_shows_the_entry_and_writes_nothing() {
    let world = World::for_idp(Idp::shared(), "");
    let file = world.write_file("kubeconfig", KUBECONFIG);
    let run = world
        .run(&[
            "kubeconfig",
            "--kubeconfig",
            file.to_str().unwrap(),
            "--user",
            "alice",
            "--dry-run",
        ])
        .expect(0);
    run.stderr_has("updates user \"alice\"")
        .stderr_has("Nothing written (--dry-run).");
    // A diff of the entry, the old one's token left out.
    run.stdout_has(
        "@@ -16,3 +16,9 @@\n-- name: alice\n-  user:\n-    token: [redacted]\n+- name: \"alice\"\n",
    );
    assert!(!run.stdout.contains("alice-static-token"), "{}", run.stdout);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), KUBECONFIG);

    let missing = world.dir.path().join("none/kubeconfig");
    world
        .run(&[
            "kubeconfig",
            "--kubeconfig",
            missing.to_str().unwrap(),
            "--dry-run",
        ])
        .expect(0)
        .stdout_has("--- /dev/null\n");
    assert!(!missing.parent().unwrap().exists());
}

#[test]
fn a_kubeconfig_it_cannot_edit_is_refused_and_left_alone() {
    let world = World::for_idp(Idp::shared(), "");
    let json =
        r#"{"apiVersion": "v1", "kind": "Config", "users": [{"name": "alice", "user": {}}]}"#;
    let file = world.write_file("kubeconfig.json", json);
    // kubectl itself reads it.
    assert_eq!(users_named(&view(&world, &file), "alice").len(), 1);
    let run = world
        .run(&["kubeconfig", "--kubeconfig", file.to_str().unwrap()])
        .expect(3);
    run.stderr_has("the kubeconfig is JSON")
        .stderr_has("edit it by hand or convert it to YAML")
        .stderr_has("kubectl config set-credentials latchkey-local");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), json);

    let flow = world.write_file("flow", "users: [{name: a, user: {}}]\n");
    world
        .run(&["kubeconfig", "--kubeconfig", flow.to_str().unwrap()])
        .expect(3)
        .stderr_has("flow:1: `users` is a list in flow style");
    assert_eq!(
        std::fs::read_to_string(&flow).unwrap(),
        "users: [{name: a, user: {}}]\n"
    );
}

#[test]
fn the_profile_is_resolved_as_token_resolves_it() {
    let world = World::for_idp(Idp::shared(), "");
    let token = world.run(&["token", "-p", "nope"]).expect(3);
    let kube = world.run(&["kubeconfig", "-p", "nope"]).expect(3);
    assert_eq!(
        kube.stderr.lines().next(),
        token.stderr.lines().next(),
        "{}",
        kube.stderr
    );
    assert!(!world.home().join(".kube").exists());
}

#[test]
fn the_file_is_chosen_as_kubectl_chooses_it_and_made_private() {
    let world = World::for_idp(Idp::shared(), "");
    // No KUBECONFIG: ~/.kube/config, made with its directory, private.
    world.run(&["kubeconfig"]).expect(0);
    let default = world.home().join(".kube/config");
    let mode = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&default), 0o600);
    assert_eq!(mode(default.parent().unwrap()), 0o700);
    let doc = view(&world, &default);
    assert_eq!(users_named(&doc, "latchkey-local").len(), 1);
    assert_eq!(doc["kind"], "Config");

    // Several files in KUBECONFIG, none there: the last gets it, as kubectl does.
    let path = |name: &str| world.dir.path().join(name);
    let list = |names: &[&str]| {
        names
            .iter()
            .map(|n| path(n).to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(":")
    };
    world
        .run_env(&["kubeconfig"], &[("KUBECONFIG", &list(&["a", "b"]))])
        .expect(0);
    assert!(!path("a").exists());
    assert!(
        std::fs::read_to_string(path("b"))
            .unwrap()
            .contains("latchkey-local")
    );
    // The file that has the user keeps it, though another exists before it.
    std::fs::write(path("c"), "kind: Config\n").unwrap();
    std::fs::set_permissions(
        path("b"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    world
        .run_env(
            &["kubeconfig", "--id-token"],
            &[("KUBECONFIG", &list(&["a", "c", "b"]))],
        )
        .expect(0)
        .stderr_has("updates user");
    assert_eq!(
        std::fs::read_to_string(path("c")).unwrap(),
        "kind: Config\n"
    );
    assert!(
        std::fs::read_to_string(path("b"))
            .unwrap()
            .contains("--id-token")
    );
    assert_eq!(mode(&path("b")), 0o640, "an existing file keeps its mode");
    // A new user goes to the first file that exists.
    world
        .run_env(
            &["kubeconfig", "--user", "second"],
            &[("KUBECONFIG", &list(&["a", "c", "b"]))],
        )
        .expect(0);
    assert!(
        std::fs::read_to_string(path("c"))
            .unwrap()
            .contains("second")
    );
    assert!(
        !std::fs::read_to_string(path("b"))
            .unwrap()
            .contains("second")
    );
}

/// kubectl's client minor version, e.g. 32 for v1.32.4.
fn kubectl_minor(world: &World) -> u32 {
    let run = kubectl(world, &["version", "--client", "-o", "json"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    doc["clientVersion"]["minor"]
        .as_str()
        .unwrap()
        .trim_end_matches('+')
        .parse()
        .unwrap()
}

/// A stand-in Kubernetes API server on 127.0.0.1, over TLS because kubectl sends credentials
/// over nothing else: `/version` answers 200 only to `Authorization: Bearer TOKEN`, anything
/// else 401. Its certificate, self-signed for 127.0.0.1, is written to `dir`. Returns its URL,
/// the certificate's path, and the Authorization headers it was sent.
fn api_server(dir: &Path, token: String) -> (String, PathBuf, Arc<Mutex<Vec<String>>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert, key) = (dir.join("api.pem"), dir.join("api.key"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is on PATH (tests/run installs it)");
    assert!(made.success());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from_pem_file(&cert).unwrap()],
        PrivateKeyDer::from_pem_file(&key).unwrap(),
    )
    .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (config, log, token) = (config.clone(), log.clone(), token.clone());
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                let authorization = head
                    .lines()
                    .find_map(|l| {
                        l.split_once(':')
                            .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                            .map(|(_, v)| v.trim().to_owned())
                    })
                    .unwrap_or_default();
                let allowed = path.split('?').next() == Some("/version")
                    && authorization == format!("Bearer {token}");
                log.lock().unwrap().push(authorization);
                let (status, body) = if allowed {
                    (
                        "200 OK",
                        r#"{"major":"1","minor":"32","gitVersion":"v1.32.0-standin"}"#,
                    )
                } else {
                    (
                        "401 Unauthorized",
                        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}"#,
                    )
                };
                let _ = write!(
                    tls,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (url, cert, seen)
}

#[test]
fn kubectl_runs_latchkey_as_its_credential_plugin() {
    let idp = Idp::shared();
    let world = logged_in(idp, "");
    // client.authentication.k8s.io/v1 came with kubectl 1.22; Debian 12's is 1.20. A test that
    // cannot run the plugin fails and says why rather than passing without having run.
    assert!(
        kubectl_minor(&world) >= 22,
        "kubectl 1.22 or newer is needed to run latchkey as a v1 exec plugin; this one is older (Debian 12's kubernetes-client is 1.20): put a newer kubectl first on PATH"
    );
    let token = world.run(&["token"]).expect(0).stdout.trim().to_owned();
    let (url, cert, seen) = api_server(world.dir.path(), token.clone());
    let file = world.write_file(
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: standin\n  cluster:\n    server: {url}\n    certificate-authority: {}\ncontexts:\n- name: standin\n  context:\n    cluster: standin\n    user: latchkey-local\n",
            cert.display()
        ),
    );
    let file_arg = file.to_str().unwrap();
    world
        .run(&["kubeconfig", "--kubeconfig", file_arg])
        .expect(0)
        .stderr_has("adds user \"latchkey-local\"")
        .stderr_has("config set-context CONTEXT --cluster=CLUSTER --user=latchkey-local");
    let run = kubectl(
        &world,
        &[
            "--kubeconfig",
            file_arg,
            "--context",
            "standin",
            "get",
            "--raw",
            "/version",
        ],
    )
    .expect(0);
    run.stdout_has("v1.32.0-standin");
    let expected = format!("Bearer {token}");
    assert!(
        seen.lock().unwrap().contains(&expected),
        "the stand-in never got latchkey's token"
    );
}
