//! Shared test support, the one test world every end-to-end test starts from: an isolated
//! HOME/XDG world per test, the real `latchkey` binary in it, the real OpenID provider from
//! `tests/idp` (started once per test binary, or per test that counts its requests) or the second
//! real provider, Django OAuth Toolkit from `tests/dot` (see `Kind`), a login by paste or loopback
//! driven with the browser stand-in, and (in submodules) a tmux terminal, a provider of our own
//! for answers the real one never gives, and a CONNECT proxy.

pub mod fake;
pub mod hardening;
pub mod mitm;
pub mod proxy;
pub mod sshd;
pub mod tmux;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

pub const CLIENT_ID: &str = "latchkey-test";
pub const USER: &str = "alice";

/// `latchkey login` by paste only: no loopback listener, no browser. Most login tests use it
/// because the test then decides exactly what is pasted and when.
pub const PASTE_LOGIN: &[&str] = &["login", "--no-loopback", "--no-browser"];
/// `latchkey login` by the loopback listener only, for the tests that talk to the listener.
pub const LOOPBACK_LOGIN: &[&str] = &["login", "--no-browser", "--no-paste"];

/// A throwaway home: HOME, XDG_CONFIG_HOME and XDG_DATA_HOME point inside it, nothing else of
/// the developer's environment leaks in.
pub struct World {
    pub dir: tempfile::TempDir,
    env: std::cell::RefCell<Vec<(String, String)>>,
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::Builder::new()
            .prefix("latchkey-test-")
            .tempdir()
            .expect("temp dir");
        World {
            dir,
            env: Default::default(),
        }
    }

    /// A world whose profiles file holds one profile `local` for `idp` (and `extra` TOML lines
    /// in it): where every test against a provider starts, so none writes its own.
    pub fn for_idp(idp: &Idp, extra: &str) -> World {
        let world = World::new();
        world.write_profiles(&idp.profile_toml(extra));
        world
    }

    /// An environment variable every later run in this world gets.
    pub fn set_env(&self, key: &str, value: &str) {
        self.env
            .borrow_mut()
            .push((key.to_owned(), value.to_owned()));
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn config_home(&self) -> PathBuf {
        self.home().join(".config")
    }

    pub fn data_home(&self) -> PathBuf {
        self.home().join(".local/share")
    }

    /// latchkey's store directory in this world (`$XDG_DATA_HOME/latchkey`).
    pub fn store_dir(&self) -> PathBuf {
        self.data_home().join("latchkey")
    }

    /// Where the token files, their locks and the provider caches live.
    pub fn tokens_dir(&self) -> PathBuf {
        self.store_dir().join("tokens")
    }

    /// Profile `local`'s token file: the one file most tests check was written, kept or left
    /// alone.
    pub fn token_file(&self) -> PathBuf {
        self.tokens_dir().join("local.age")
    }

    /// Where latchkey looks for profiles by default in this world.
    pub fn profiles_path(&self) -> PathBuf {
        self.config_home().join("latchkey/profiles.toml")
    }

    pub fn write_profiles(&self, text: &str) -> PathBuf {
        let path = self.profiles_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A `$BROWSER` script that runs `before` (shell lines), then does what a person does: the
    /// browser stand-in follows the login to latchkey's listener and logs the page it got to
    /// `browser.log` in this world (read it with `read_file`).
    pub fn browser_script(&self, name: &str, before: &str) -> PathBuf {
        self.browser_script_for(Kind::Node, name, before)
    }

    /// `browser_script` for the provider `kind`, whose pages need a browser stand-in of their own.
    pub fn browser_script_for(&self, kind: Kind, name: &str, before: &str) -> PathBuf {
        let stand_in = match kind {
            Kind::Node | Kind::Auth0 => {
                format!("node {}", idp_dir().join("browser.js").display())
            }
            Kind::Django => format!(
                "{} {}",
                dot_python().display(),
                dot_dir().join("browser.py").display()
            ),
        };
        let script = self.write_file(
            name,
            &format!(
                "#!/bin/sh\n{before}exec {stand_in} login \"$1\" --follow > {}/browser.log 2>&1\n",
                self.dir.path().display()
            ),
        );
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        script
    }

    /// A file of this world's directory (one `write_file` or a browser script wrote).
    pub fn read_file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// `program` in this world alone: an environment cleared but for PATH, HOME and the XDG
    /// directories, so nothing of the developer's setup leaks in (the binary, and the shells
    /// that complete its command line, start from this).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.config_home())
            .env("XDG_DATA_HOME", self.data_home());
        cmd
    }

    /// The real binary, with a clean environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_latchkey"));
        cmd.args(args).env("NO_COLOR", "1").stdin(Stdio::null());
        for (k, v) in self.env.borrow().iter() {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().expect("run latchkey"))
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.cmd(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().expect("run latchkey"))
    }

    /// A run and how long it took: the tests of `--timeout` bound the wall time too.
    pub fn timed_run(&self, args: &[&str]) -> (Run, Duration) {
        let started = Instant::now();
        let run = self.run(args);
        (run, started.elapsed())
    }

    /// `latchkey login` with `script` as `$BROWSER`.
    pub fn login_with_browser(&self, script: &Path) -> Run {
        self.run_env(
            &["login"],
            &[("BROWSER", script.to_str().expect("a UTF-8 path"))],
        )
    }
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The exit status as a shell reports it in `$?`: the code, or 128 + the signal that ended the
/// process (latchkey ends itself with SIGINT after Ctrl-C, so the shell stops a script too).
pub fn shell_status(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(-1)
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: shell_status(out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code, showing everything the binary said when it differs.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        self
    }

    pub fn stderr_has(&self, needle: &str) -> &Run {
        has("stderr", &self.stderr, needle);
        self
    }

    pub fn stdout_has(&self, needle: &str) -> &Run {
        has("stdout", &self.stdout, needle);
        self
    }
}

/// One check for both streams, so the two can never drift apart in what they accept.
fn has(stream: &str, text: &str, needle: &str) {
    assert!(text.contains(needle), "{stream} lacks {needle:?}:\n{text}");
}

/// Which real provider an `Idp` is. The end-to-end tests of `tests/providers.rs` run against
/// each; the rest of the suite uses `Node`, whose fault switch and claim overrides they need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `tests/idp/server.js`: node `oidc-provider`, with test-control endpoints for faults,
    /// claims and accounts.
    Node,
    /// `tests/dot/server.py`: Django OAuth Toolkit, as configured; its only test-control
    /// endpoints are `/__test/counters` and `/__test/reset`. Its ID tokens carry `sub` ("1")
    /// alone (its userinfo endpoint has the name and email), its discovery document lists no
    /// revocation or device endpoint, the device flow is a second client
    /// (`DOT_DEVICE_CLIENT_ID`), and a denied consent comes back without `iss`.
    Django,
    /// `tests/idp/server.js --auth0`: the node provider in Auth0's shape (HTTPS, issuer
    /// `https://127.0.0.1:PORT/`, Auth0's paths, organizations, Multi-Resource Refresh Token
    /// policies, 403 `invalid_grant`), for `domain` profiles. Same test-control endpoints as
    /// `Node`.
    Auth0,
}

impl Kind {
    /// Where the provider's endpoints are, after its issuer.
    pub fn path(self, endpoint: Endpoint) -> &'static str {
        use Endpoint::*;
        match (self, endpoint) {
            (Kind::Node, Authorize) => "/auth",
            (Kind::Node, Token) => "/token",
            (Kind::Node, Userinfo) => "/me",
            (Kind::Node, DevicePage) => "/device",
            (Kind::Django, Authorize) => "/authorize/",
            (Kind::Django, Token) => "/token/",
            (Kind::Django, Userinfo) => "/userinfo/",
            (Kind::Django, DevicePage) => "/device/",
            (Kind::Auth0, Authorize) => "/authorize",
            (Kind::Auth0, Token) => "/oauth/token",
            (Kind::Auth0, Userinfo) => "/userinfo",
            (Kind::Auth0, DevicePage) => "/activate",
        }
    }
}

/// The endpoints whose paths differ between the providers (`Kind::path`).
#[derive(Clone, Copy, Debug)]
pub enum Endpoint {
    Authorize,
    Token,
    Userinfo,
    /// The page a person opens for the device flow (`verification_uri`).
    DevicePage,
}

/// The Django provider's client for the device flow: Django OAuth Toolkit gives an application
/// one grant type, so `CLIENT_ID` there is for the code flow only.
pub const DOT_DEVICE_CLIENT_ID: &str = "latchkey-device";

/// One running test provider: `tests/idp/server.js`, or `tests/dot/server.py` (`kind`).
pub struct Idp {
    pub kind: Kind,
    pub issuer: String,
    pub port: u16,
    pub ca: Option<PathBuf>,
    // Held open: the server exits when this pipe closes, so even a test binary that dies
    // cannot leave it behind.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

pub fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idp")
}

pub fn dot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dot")
}

/// The Python of the Django provider's virtual environment (`tests/run` makes it).
pub fn dot_python() -> PathBuf {
    dot_dir().join(".venv/bin/python")
}

/// The Django provider's venv is required like Node: the suite fails, never skips, without it.
fn require_dot() {
    assert!(
        dot_python().is_file(),
        "the second test provider (Django OAuth Toolkit) is not installed: run tests/run, which makes tests/dot/.venv \
         (python3 -m venv tests/dot/.venv && tests/dot/.venv/bin/pip install -r tests/dot/requirements.txt)"
    );
}

/// Node and the provider's packages are required: the suite fails, never skips, without them.
fn require_node() {
    let node = Command::new("node").arg("--version").output();
    match node {
        Ok(out) if out.status.success() => {}
        _ => panic!(
            "Node.js (20 or newer) is required by the end-to-end tests: install it (Debian: apt-get install nodejs npm), then run `npm ci --prefix tests/idp`"
        ),
    }
    assert!(
        idp_dir().join("node_modules/oidc-provider").is_dir(),
        "the test identity provider is not installed: run `npm ci --prefix tests/idp` (tests/run does it for you)"
    );
}

impl Idp {
    /// Stops the provider now (for "provider down" tests).
    pub fn stop(&self) {
        let mut child = self._child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts a provider with extra server flags and waits for its readiness line.
    pub fn start(flags: &[&str]) -> Idp {
        Idp::start_kind(Kind::Node, flags)
    }

    /// Starts a provider of `kind` (both take `--port` and `--access-ttl SECONDS`; the Django
    /// one's access tokens last 60 s unless told).
    pub fn start_kind(kind: Kind, flags: &[&str]) -> Idp {
        let mut command = match kind {
            Kind::Node | Kind::Auth0 => {
                require_node();
                let mut command = Command::new("node");
                command.arg(idp_dir().join("server.js"));
                if kind == Kind::Auth0 {
                    command.arg("--auth0");
                }
                command
            }
            Kind::Django => {
                require_dot();
                let mut command = Command::new(dot_python());
                command.arg(dot_dir().join("server.py"));
                command
            }
        };
        let mut child = command
            .arg("--exit-on-stdin-eof")
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start the {kind:?} test provider: {e}"));
        let stdout = child.stdout.take().expect("server stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read readiness line");
        let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!("the provider did not print its readiness line ({e}): {line:?}")
        });
        assert_eq!(ready["ready"], true, "{line}");
        Idp {
            kind,
            issuer: ready["issuer"].as_str().expect("issuer").to_owned(),
            port: ready["port"].as_u64().expect("port") as u16,
            ca: ready["ca"].as_str().map(PathBuf::from),
            _stdin: Mutex::new(child.stdin.take().expect("server stdin")),
            _child: Mutex::new(child),
        }
    }

    /// The plain-HTTP provider every test shares that leaves its state alone: a test that
    /// changes a provider's state (faults, claims, the account that logs in) or counts its
    /// requests starts one of its own.
    pub fn shared() -> &'static Idp {
        static IDP: OnceLock<Idp> = OnceLock::new();
        IDP.get_or_init(|| Idp::start(&[]))
    }

    /// The shared provider of `kind` (`shared()` for `Kind::Node`).
    pub fn shared_kind(kind: Kind) -> &'static Idp {
        static DOT: OnceLock<Idp> = OnceLock::new();
        match kind {
            Kind::Node => Idp::shared(),
            Kind::Django => DOT.get_or_init(|| Idp::start_kind(Kind::Django, &[])),
            Kind::Auth0 => {
                static AUTH0: OnceLock<Idp> = OnceLock::new();
                AUTH0.get_or_init(|| Idp::start_kind(Kind::Auth0, &[]))
            }
        }
    }

    /// `{issuer}{path}` for one of the endpoints whose paths differ between the providers.
    pub fn url(&self, endpoint: Endpoint) -> String {
        format!("{}{}", self.base(), self.kind.path(endpoint))
    }

    /// The issuer without the trailing `/` Auth0's has: what paths are appended to.
    pub fn base(&self) -> &str {
        self.issuer.trim_end_matches('/')
    }

    /// The only Node features some tests need: a clear failure when one is asked of Django.
    fn node_only(&self, what: &str) {
        assert_ne!(
            self.kind,
            Kind::Django,
            "{what} exists on the node provider (tests/idp) only"
        );
    }

    pub fn shared_https() -> &'static Idp {
        static IDP: OnceLock<Idp> = OnceLock::new();
        IDP.get_or_init(|| Idp::start(&["--https"]))
    }

    pub fn agent(&self) -> ureq::Agent {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(ca) = &self.ca {
            let pem = std::fs::read(ca).expect("read CA");
            let cert = ureq::tls::Certificate::from_pem(&pem)
                .expect("CA PEM")
                .to_owned();
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]));
        }
        ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .new_agent()
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let mut response = self
            .agent()
            .get(format!("{}{path}", self.base()))
            .call()
            .expect("GET");
        let body = response.body_mut().read_to_string().expect("body");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path} is not JSON ({e}): {body}"))
    }

    pub fn post_json(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let mut response = self
            .agent()
            .post(format!("{}{path}", self.base()))
            .header("content-type", "application/json")
            .send(body.to_string())
            .expect("POST");
        let text = response.body_mut().read_to_string().expect("body");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON ({e}): {text}"))
    }

    /// Uses a refresh token directly at the provider, as an attacker holding it would; returns
    /// the HTTP status and the JSON answer.
    pub fn try_refresh(&self, refresh_token: &str) -> (u16, serde_json::Value) {
        self.try_refresh_as(CLIENT_ID, refresh_token)
    }

    /// `try_refresh` for a refresh token issued to `client_id` (the Django provider's device
    /// flow has a client of its own).
    pub fn try_refresh_as(&self, client_id: &str, refresh_token: &str) -> (u16, serde_json::Value) {
        let mut response = self
            .agent()
            .post(self.url(Endpoint::Token))
            .header("content-type", "application/x-www-form-urlencoded")
            .send(format!(
                "grant_type=refresh_token&client_id={client_id}&refresh_token={}",
                latchkey::net::url::form_encode(refresh_token)
            ))
            .expect("POST /token");
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().expect("body");
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Whether an access token is accepted at the userinfo endpoint.
    pub fn userinfo_status(&self, access_token: &str) -> u16 {
        self.agent()
            .get(self.url(Endpoint::Userinfo))
            .header("authorization", format!("Bearer {access_token}"))
            .call()
            .expect("GET /me")
            .status()
            .as_u16()
    }

    /// Logins finished from now on are as account `sub` (alice's password still logs in).
    pub fn log_in_as(&self, sub: &str) {
        self.node_only("POST /__test/account");
        let answer = self.post_json("/__test/account", serde_json::json!({ "sub": sub }));
        assert_eq!(answer["ok"], true, "{answer}");
    }

    pub fn reset(&self) {
        let answer = self.post_json("/__test/reset", serde_json::json!({}));
        assert_eq!(answer["ok"], true, "{answer}");
    }

    pub fn counters(&self) -> serde_json::Value {
        self.get_json("/__test/counters")
    }

    /// What the provider saw of PKCE on the device grant (`GET /__test/device-pkce`, on both
    /// providers): device requests with a `code_challenge`, polls with a `code_verifier`, and
    /// polls whose verifier matched their device code's challenge.
    pub fn device_pkce(&self) -> serde_json::Value {
        self.get_json("/__test/device-pkce")
    }

    /// Queues `count` faults of `kind` on `endpoint`.
    pub fn fault(&self, endpoint: &str, kind: &str, count: u32) {
        self.node_only("the fault switch");
        let answer = self.post_json(
            "/__test/fault",
            serde_json::json!({ "endpoint": endpoint, "kind": kind, "count": count, "delay_ms": 0 }),
        );
        assert_eq!(answer["ok"], true, "{answer}");
    }

    /// A profiles file with one profile `local` for this provider.
    pub fn profile_toml(&self, extra: &str) -> String {
        self.profile_for(CLIENT_ID, extra)
    }

    /// `profile_toml` for the device flow: on the Django provider its device client, and scopes
    /// without `openid`, since Django OAuth Toolkit's device grant returns no ID token (and
    /// latchkey refuses a login that asked for one and got none).
    pub fn device_profile_toml(&self, extra: &str) -> String {
        match self.kind {
            Kind::Node | Kind::Auth0 => self.profile_toml(extra),
            Kind::Django => self.profile_for(DOT_DEVICE_CLIENT_ID, extra),
        }
    }

    /// The client whose tokens a profile of `device_profile_toml` holds.
    pub fn device_client_id(&self) -> &'static str {
        match self.kind {
            Kind::Node | Kind::Auth0 => CLIENT_ID,
            Kind::Django => DOT_DEVICE_CLIENT_ID,
        }
    }

    fn profile_for(&self, client_id: &str, extra: &str) -> String {
        if self.kind == Kind::Auth0 {
            // A `domain` profile, as for a tenant: Auth0's fixed paths, no discovery.
            let ca = self
                .ca
                .as_ref()
                .expect("the Auth0 mode serves HTTPS")
                .display();
            let base = self.base();
            let domain = base.trim_start_matches("https://");
            return format!(
                "default_profile = \"local\"\n[profiles.local]\ndomain = \"{domain}\"\nclient_id = \"{client_id}\"\nredirect_port = 0\npaste_redirect_uri = \"{base}/show-code\"\nca_file = \"{ca}\"\n{extra}\n"
            );
        }
        let issuer = &self.issuer;
        // Django OAuth Toolkit 3.4 lists its device authorization endpoint in no metadata, so
        // the profile names it (its revocation endpoint is in its RFC 8414 metadata).
        let endpoints = match self.kind {
            Kind::Node | Kind::Auth0 => String::new(),
            Kind::Django => {
                format!("device_authorization_endpoint = \"{issuer}/device-authorization/\"\n")
            }
        };
        format!(
            "default_profile = \"local\"\n[profiles.local]\nissuer = \"{issuer}\"\nclient_id = \"{client_id}\"\nredirect_port = 0\npaste_redirect_uri = \"{issuer}/show-code\"\n{endpoints}{extra}\n"
        )
    }
}

/// Runs the browser stand-in: `login URL --print` returns the redirect URL it ended at.
pub fn browser(args: &[&str], ca: Option<&Path>) -> Output {
    let mut cmd = Command::new("node");
    cmd.arg(idp_dir().join("browser.js")).args(args);
    if let Some(ca) = ca {
        cmd.env("NODE_EXTRA_CA_CERTS", ca);
    }
    cmd.output().expect("run tests/idp/browser.js")
}

/// Runs the browser stand-in, which must succeed, and returns what it printed (trimmed): a
/// failing stand-in says why here rather than as a confusing failure later.
pub fn browse(args: &[&str], ca: Option<&Path>) -> String {
    let out = browser(args, ca);
    assert!(
        out.status.success(),
        "browser stand-in failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Completes the provider's pages for an authorize URL and returns where it redirected
/// (`extra`: e.g. `--deny`, which both providers' stand-ins take).
pub fn approve(url: &str, idp: &Idp, extra: &[&str]) -> String {
    let mut args = vec!["login", url, "--print"];
    args.extend(extra);
    idp.browse(&args)
}

/// Denies consent on the provider's page for an authorize URL and returns where it redirected:
/// `error=access_denied` and the state, and from the Django provider no `iss`, though its
/// metadata says `authorization_response_iss_parameter_supported` (a real provider's bug).
pub fn deny(url: &str, idp: &Idp) -> String {
    approve(url, idp, &["--deny"])
}

/// Approves (or with `deny` refuses) a device login at its verification URL, as a person on
/// another device would.
pub fn approve_device(url: &str, idp: &Idp, deny: bool) -> String {
    let mut args = vec!["device", url];
    if deny {
        args.push("--deny");
    }
    idp.browse(&args)
}

impl Idp {
    /// Runs this provider's browser stand-in (`tests/idp/browser.js` or `tests/dot/browser.py`,
    /// which take the same arguments), which must succeed, and returns what it printed.
    pub fn browse(&self, args: &[&str]) -> String {
        match self.kind {
            Kind::Node | Kind::Auth0 => browse(args, self.ca.as_deref()),
            Kind::Django => {
                let out = Command::new(dot_python())
                    .arg(dot_dir().join("browser.py"))
                    .args(args)
                    .output()
                    .expect("run tests/dot/browser.py");
                assert!(
                    out.status.success(),
                    "browser stand-in failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8(out.stdout).unwrap().trim().to_owned()
            }
        }
    }
}

/// Reads a child's whole stream into a string on a thread (so pipes never fill up).
pub fn drain(mut stream: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    })
}

pub fn write_line(stdin: &mut ChildStdin, line: &str) {
    stdin.write_all(line.as_bytes()).unwrap();
    stdin.write_all(b"\n").unwrap();
    stdin.flush().unwrap();
}

/// A running `latchkey login`, its stderr read line by line as it comes.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Session {
    /// `latchkey ARGS` in `world`, its stdin ours to paste into.
    pub fn start(world: &World, args: &[&str]) -> Session {
        Session::from_command(world.cmd(args))
    }

    /// A session around any command that ends in `latchkey login` (e.g. one under `sh`): the
    /// one way a test spawns a login and reads it.
    pub fn from_command(mut cmd: Command) -> Session {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Ctrl-C as at a terminal, whatever started the suite: a background job of a
        // non-interactive shell starts with SIGINT ignored, and an ignored signal is inherited.
        // SAFETY: signal() is async-signal-safe, as pre_exec requires.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start latchkey login");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Session {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// `latchkey ARGS` started in `world` up to the authorize URL for `idp` it prints: where
    /// every code-flow login a test drives by hand begins.
    pub fn login(world: &World, idp: &Idp, args: &[&str]) -> (Session, String) {
        let mut session = Session::start(world, args);
        let url = session.authorize_url(idp);
        (session, url)
    }

    /// A device login (`args`) started in `world` up to the verification URL for `idp` it
    /// prints: what a person would open on another device.
    pub fn device_login(world: &World, idp: &Idp, args: &[&str]) -> (Session, String) {
        let mut session = Session::start(world, args);
        let prefix = format!("{}?user_code=", idp.url(Endpoint::DevicePage));
        let url = session.wait_line("verification URL", |l| l.starts_with(&prefix));
        (session, url)
    }

    /// Waits for a stderr line matching `pred`.
    pub fn wait_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("no {what} on stderr; saw:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// The authorize URL latchkey printed on a line of its own.
    pub fn authorize_url(&mut self, idp: &Idp) -> String {
        let prefix = format!("{}?", idp.url(Endpoint::Authorize));
        self.wait_line("authorize URL", |l| l.starts_with(&prefix))
    }

    pub fn paste(&mut self, text: &str) {
        write_line(self.stdin.as_mut().expect("stdin"), text);
    }

    /// Sends `signal` and waits for the exit with stdin still open, as at a terminal where a
    /// person presses Ctrl-C: closing stdin first would race the signal with an end of input.
    pub fn finish_by_signal(mut self, signal: libc::c_int) -> Run {
        // SAFETY: kill has no memory effects; the pid is our own child's, not yet reaped.
        unsafe { libc::kill(self.pid() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.finish()
    }

    /// Closes stdin and waits for the exit, with everything latchkey said.
    pub fn finish(mut self) -> Run {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "latchkey login did not finish; stderr so far:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut out, &mut stdout);
        }
        Run {
            code: shell_status(status),
            stdout,
            stderr: self.seen.join("\n"),
        }
    }
}

/// `latchkey ARGS` in `world`, started with its output captured: for a test that does
/// something (answers a question, races it) before it waits for the run.
pub fn spawn_piped(world: &World, args: &[&str]) -> Child {
    world
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `n` processes of `latchkey ARGS` started at once in `world`, as scripts and kubectl racing
/// for a token would: their runs, in start order, once all have ended.
pub fn racing(world: &World, n: usize, args: &[&str]) -> Vec<Run> {
    let children: Vec<_> = (0..n).map(|_| spawn_piped(world, args)).collect();
    children
        .into_iter()
        .map(|child| Run::from(child.wait_with_output().unwrap()))
        .collect()
}

/// A paste login up to the paste: the session, its authorize URL, and where the provider
/// redirected once the browser stand-in went through its pages (`extra`: e.g. `--deny`). The
/// test decides what to paste, and when.
pub fn approved_paste_login(world: &World, idp: &Idp, extra: &[&str]) -> (Session, String, String) {
    let (session, url) = Session::login(world, idp, PASTE_LOGIN);
    let redirect = approve(&url, idp, extra);
    (session, url, redirect)
}

/// The CA of an HTTPS provider (`Idp::shared_https`, `--https`), as a profile's `ca_file`.
pub fn https_ca(idp: &Idp) -> String {
    idp.ca
        .as_ref()
        .expect("the HTTPS provider has a CA")
        .display()
        .to_string()
}

/// A world for an HTTPS provider whose profile trusts its CA (`ca_file`), with `extra` lines.
pub fn trusting_https(idp: &Idp, extra: &str) -> World {
    World::for_idp(idp, &format!("ca_file = \"{}\"\n{extra}", https_ca(idp)))
}

/// Logs in by pasting the redirect URL: the quickest real login, used by many tests.
pub fn paste_login(world: &World, idp: &Idp) -> Run {
    let (mut session, _, redirect) = approved_paste_login(world, idp, &[]);
    session.paste(&redirect);
    session.finish()
}

/// A world for `idp` (with `extra` profile lines) that has logged in: the start of every test
/// of what comes after a login.
pub fn logged_in(idp: &Idp, extra: &str) -> World {
    let world = World::for_idp(idp, extra);
    paste_login(&world, idp).expect(0);
    world
}

/// A world logged in to a provider of its own, its refresh token, and the provider's counters
/// and faults cleared: where the logout tests start.
pub fn before_logout() -> (Idp, World, String) {
    let idp = Idp::start(&[]);
    let world = logged_in(&idp, "");
    let refresh = stored_refresh_token(&world);
    idp.reset();
    (idp, world, refresh)
}

pub fn query_param(url: &str, key: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    latchkey::net::url::parse_query(query)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{key} not in {url}"))
}

/// A loopback login started in `world`: the session, its authorize URL, and the `redirect_uri`
/// in it, where latchkey's listener waits (the tests of the listener talk to it there).
pub fn loopback_login(world: &World, idp: &Idp) -> (Session, String, String) {
    let (session, url) = Session::login(world, idp, LOOPBACK_LOGIN);
    let redirect_uri = query_param(&url, "redirect_uri");
    (session, url, redirect_uri)
}

/// The port of latchkey's loopback listener, from the `redirect_uri` of its authorize URL: the
/// tests that send the listener requests of their own connect there.
pub fn loopback_port(redirect_uri: &str) -> u16 {
    redirect_uri
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no loopback port in {redirect_uri}"))
}

/// GETs `url` (a callback to latchkey's loopback listener) as a browser would: the status and
/// the page.
pub fn loopback_get(idp: &Idp, url: &str) -> (u16, String) {
    let mut answer = idp.agent().get(url).call().expect("a callback");
    let page = answer.body_mut().read_to_string().unwrap();
    (answer.status().as_u16(), page)
}

/// Delivers the provider's redirect to latchkey's loopback listener, as the browser would, and
/// checks that the listener took it: HTTP 200 and the page that says the tab may be closed.
pub fn deliver_redirect(idp: &Idp, redirect: &str) {
    let (status, page) = loopback_get(idp, redirect);
    assert_eq!(status, 200);
    assert!(page.contains("close this tab"));
}

/// The tokens stored for profile `local`, decrypted with latchkey's own key (the test reads
/// what a user's latchkey would).
pub fn stored(world: &World) -> Option<latchkey::store::StoredTokens> {
    let store = latchkey::store::TokenStore::at(world.store_dir());
    store
        .load("local", &latchkey::config::KeySource::Generated)
        .unwrap()
}

/// The stored refresh token of profile `local`, to try it at the provider as an attacker
/// holding it would.
pub fn stored_refresh_token(world: &World) -> String {
    stored(world)
        .expect("stored tokens")
        .refresh_token
        .expect("a refresh token")
        .secret()
        .to_owned()
}

/// Makes the stored tokens of profile `local` look `secs` older than they are (as if the login
/// had happened earlier), so refresh tests need not sleep past the just-issued window.
pub fn age_tokens(world: &World, secs: u64) {
    rewrite_tokens(world, |tokens| tokens.obtained_at -= secs);
}

/// Changes profile `local`'s stored tokens as `change` says, and stores them again with the
/// same key (what a test needs of a file an older latchkey wrote, say).
pub fn rewrite_tokens(world: &World, change: impl FnOnce(&mut latchkey::store::StoredTokens)) {
    let store = latchkey::store::TokenStore::at(world.store_dir());
    let source = latchkey::config::KeySource::Generated;
    let key = store.key_for_reading(&source, "local").unwrap();
    let sealed = store
        .read_sealed("local")
        .unwrap()
        .expect("a stored token file");
    let mut tokens = sealed.open(&key).unwrap();
    change(&mut tokens);
    store.save("local", &tokens, &key).unwrap();
}
