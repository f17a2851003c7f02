//! The git and docker credential helpers end to end: real git cloning and pushing over HTTP from
//! a server that takes only passwords the test provider's UserInfo accepts
//! (tests/idp/git-server.js), set up by `latchkey setup git`; docker's protocol as its
//! documentation gives it, through the `docker-credential-latchkey` name.

use crate::support::*;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// A git smart-HTTP server for one test, stopped when dropped (its stdin closes).
struct GitServer {
    port: u16,
    root: tempfile::TempDir,
    _stdin: ChildStdin,
    child: Child,
}

impl GitServer {
    fn start(idp: &Idp) -> GitServer {
        let root = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new("node")
            .arg(idp_dir().join("git-server.js"))
            .args(["--issuer", &idp.issuer, "--exit-on-stdin-eof", "--root"])
            .arg(root.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/idp/git-server.js");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("readiness line");
        let ready: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let stdin = child.stdin.take().expect("stdin");
        let server = GitServer {
            port: ready["port"].as_u64().expect("port") as u16,
            root,
            _stdin: stdin,
            child,
        };
        // A bare repository with one commit, made without any helper.
        let seed = server.root.path().join("seed");
        git_ok(None, &["init", "-q", "-b", "main"], &seed_dir(&seed));
        std::fs::write(seed.join("README"), "hello\n").unwrap();
        git_ok(None, &["add", "README"], &seed);
        git_ok(None, &["commit", "-q", "-m", "first"], &seed);
        git_ok(None, &["clone", "-q", "--bare", ".", "../repo.git"], &seed);
        server
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self) -> String {
        format!("http://{}/repo.git", self.host())
    }

    /// What the server saw: every request with the user name and whether it was let in.
    fn log(&self) -> Vec<serde_json::Value> {
        let body = ureq::get(&format!("http://{}/_log", self.host()))
            .call()
            .expect("GET /_log")
            .into_body()
            .read_to_string()
            .expect("log body");
        serde_json::from_str(&body).expect("log JSON")
    }

    fn bare_log(&self) -> String {
        let out = Command::new("git")
            .args(["--git-dir"])
            .arg(self.root.path().join("repo.git"))
            .args(["log", "--format=%s", "main"])
            .output()
            .expect("git log");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn seed_dir(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path).unwrap();
    path.to_owned()
}

/// git with a fixed identity, no prompt, and (without a world) no user configuration at all.
fn git(world: Option<&World>, args: &[&str], dir: &Path) -> Run {
    let mut cmd = match world {
        Some(world) => world.command("git"),
        None => {
            let mut cmd = Command::new("git");
            cmd.env("GIT_CONFIG_GLOBAL", "/dev/null");
            cmd
        }
    };
    cmd.args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_COMMITTER_NAME", "Alice")
        .env("GIT_COMMITTER_EMAIL", "alice@example.com")
        .stdin(Stdio::null());
    Run::from(cmd.output().expect("run git"))
}

fn git_ok(world: Option<&World>, args: &[&str], dir: &Path) -> Run {
    git(world, args, dir).expect(0)
}

/// A helper call as git makes it: the request on stdin.
fn helper(world: &World, args: &[&str], request: &str) -> Run {
    with_stdin(world.cmd(args), request)
}

/// Runs `cmd` with `input` on its stdin, as git and docker call their helpers.
fn with_stdin(mut cmd: Command, input: &str) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run the helper");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    Run::from(child.wait_with_output().unwrap())
}

fn profile_lines(hosts: &[&str]) -> String {
    let quoted: Vec<String> = hosts.iter().map(|h| format!("{h:?}")).collect();
    format!("hosts = [{}]\n", quoted.join(", "))
}

#[test]
fn git_clones_and_pushes_with_the_token_after_setup_git() {
    let idp = Idp::shared();
    let server = GitServer::start(idp);
    let world = logged_in(idp, &profile_lines(&[&server.host()]));

    let dry = world.run(&["setup", "git", "--dry-run"]).expect(0);
    dry.stderr_has(&format!(
        "git config --global --add credential.http://{}.helper",
        server.host()
    ));
    assert!(
        !world.home().join(".gitconfig").exists(),
        "--dry-run wrote the git config"
    );
    // Twice: the same two lines, not four.
    world.run(&["setup", "git"]).expect(0);
    world
        .run(&["setup", "git"])
        .expect(0)
        .stderr_has("git now asks latchkey");
    let key = format!("credential.http://{}.helper", server.host());
    let helpers = git_ok(
        Some(&world),
        &["config", "--global", "--get-all", &key],
        &world.home(),
    );
    let lines: Vec<&str> = helpers.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", helpers.stdout);
    assert_eq!(lines[0], "");
    assert!(
        lines[1].starts_with('!') && lines[1].ends_with("git-credential -p local"),
        "{}",
        lines[1]
    );

    let work = world.dir.path().join("work");
    git_ok(
        Some(&world),
        &["clone", "-q", &server.url(), work.to_str().unwrap()],
        world.dir.path(),
    );
    assert_eq!(
        std::fs::read_to_string(work.join("README")).unwrap(),
        "hello\n"
    );
    std::fs::write(work.join("CHANGES"), "pushed with latchkey\n").unwrap();
    git_ok(Some(&world), &["add", "CHANGES"], &work);
    git_ok(Some(&world), &["commit", "-q", "-m", "second"], &work);
    git_ok(Some(&world), &["push", "-q", "origin", "main"], &work);
    assert_eq!(server.bare_log(), "second\nfirst\n");

    let log = server.log();
    let let_in: Vec<_> = log.iter().filter(|r| r["authorized"] == true).collect();
    assert!(
        let_in
            .iter()
            .any(|r| r["path"].as_str().unwrap().contains("git-receive-pack")),
        "{log:?}"
    );
    assert!(let_in.iter().all(|r| r["username"] == "oauth2"), "{log:?}");
    // No request with a user name was refused: git never tried a wrong password.
    assert!(
        log.iter()
            .all(|r| r["authorized"] == true || r["username"].is_null()),
        "{log:?}"
    );
}

#[test]
fn git_gets_the_profiles_token_and_user_name_for_a_claimed_host_only() {
    let idp = Idp::shared();
    let world = logged_in(
        idp,
        &format!(
            "{}git_username = \"x-access-token\"\n",
            profile_lines(&["git.example.com", "127.0.0.1:9418"])
        ),
    );
    let token = world.run(&["token"]).expect(0).stdout;
    let answer = helper(
        &world,
        &["git-credential", "get"],
        "capability[]=authtype\nprotocol=https\nhost=GIT.example.com\nwwwauth[]=Basic realm=\"x\"\n\n",
    )
    .expect(0);
    let lines: Vec<&str> = answer.stdout.lines().collect();
    assert_eq!(lines[0], "username=x-access-token");
    assert_eq!(lines[1], format!("password={}", token.trim()));
    assert!(lines[2].starts_with("password_expiry_utc="), "{lines:?}");
    assert_eq!(idp.userinfo_status(token.trim()), 200);

    for (request, why) in [
        ("protocol=https\nhost=other.example.com\n", "another host"),
        ("protocol=https\nhost=127.0.0.1:9419\n", "another port"),
        (
            "protocol=https\nhost=git.example.com.evil.net\n",
            "a longer name",
        ),
        ("protocol=http\nhost=git.example.com\n", "plain http"),
        (
            "url=https://other.example.com/git.example.com.git\n",
            "a path naming it",
        ),
    ] {
        let run = helper(&world, &["git-credential", "get"], request).expect(0);
        assert_eq!(run.stdout, "", "{why}: {request:?}");
        if why == "plain http" {
            run.stderr_has("only sent over https");
        }
    }
    // store and erase are accepted and change nothing; an unknown operation is ignored.
    for operation in ["store", "erase", "frobnicate"] {
        let run = helper(
            &world,
            &["git-credential", operation],
            "protocol=https\nhost=git.example.com\nusername=u\npassword=p\n\n",
        )
        .expect(0);
        assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
    }
    assert_eq!(world.run(&["token"]).expect(0).stdout, token);
}

#[test]
fn git_is_told_to_log_in_without_a_prompt() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, &profile_lines(&["git.example.com"]));
    let run = helper(
        &world,
        &["git-credential", "get"],
        "protocol=https\nhost=git.example.com\n\n",
    )
    .expect(4);
    assert_eq!(run.stdout, "");
    run.stderr_has("latchkey login");
}

#[test]
fn docker_gets_the_token_through_its_helper_name() {
    let idp = Idp::shared();
    let world = logged_in(
        idp,
        &format!(
            "{}registry_username = \"robot\"\n",
            profile_lines(&["registry.example.com:5000"])
        ),
    );
    let token = world.run(&["token"]).expect(0).stdout.trim().to_owned();
    // Docker runs `docker-credential-latchkey` from PATH: a link to the binary.
    let bin = world.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("docker-credential-latchkey");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_latchkey"), &link).unwrap();
    let docker = |operation: &str, input: &str| {
        let mut cmd = world.command(&link);
        cmd.arg(operation);
        with_stdin(cmd, input)
    };

    let got = docker("get", "https://registry.example.com:5000\n").expect(0);
    let answer: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(answer["ServerURL"], "https://registry.example.com:5000");
    assert_eq!(answer["Username"], "robot");
    assert_eq!(answer["Secret"], token.as_str());
    assert_eq!(idp.userinfo_status(&token), 200);
    let bare = docker("get", "registry.example.com:5000").expect(0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&bare.stdout).unwrap()["Secret"],
        token.as_str()
    );

    for unclaimed in [
        "registry.example.com",
        "https://index.docker.io/v1/",
        "ftp://registry.example.com:5000",
    ] {
        let run = docker("get", unclaimed).expect(1);
        assert_eq!(
            run.stdout, "credentials not found in native keychain\n",
            "{unclaimed}"
        );
    }
    let list = docker("list", "").expect(0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&list.stdout).unwrap(),
        serde_json::json!({"registry.example.com:5000": "robot"})
    );
    docker(
        "store",
        r#"{"ServerURL":"registry.example.com:5000","Username":"u","Secret":"typed"}"#,
    )
    .expect(0);
    docker("erase", "registry.example.com:5000").expect(0);
    // Nothing docker handed over replaced the token.
    let again = docker("get", "registry.example.com:5000").expect(0);
    assert!(again.stdout.contains(&token), "{}", again.stdout);
    // The same as a subcommand.
    let sub = helper(
        &world,
        &["docker-credential", "get"],
        "registry.example.com:5000",
    )
    .expect(0);
    assert!(sub.stdout.contains(&token));
}

#[test]
fn a_host_two_profiles_name_goes_to_the_default_or_is_refused() {
    let idp = Idp::shared();
    let world = World::new();
    let both = |default: &str| {
        format!(
            "{default}[profiles.a]\nissuer = \"{0}\"\nclient_id = \"{CLIENT_ID}\"\nhosts = [\"git.example.com\"]\n\
             [profiles.b]\nissuer = \"{0}\"\nclient_id = \"{CLIENT_ID}\"\nhosts = [\"git.example.com\"]\n",
            idp.issuer
        )
    };
    world.write_profiles(&both(""));
    let request = "protocol=https\nhost=git.example.com\n";
    helper(&world, &["git-credential", "get"], request)
        .expect(3)
        .stderr_has("profiles `a`, `b` all name");
    world.write_profiles(&both("default_profile = \"b\"\n"));
    // b is chosen: not logged in, it says so by name.
    helper(&world, &["git-credential", "get"], request)
        .expect(4)
        .stderr_has("`b`");
    helper(&world, &["git-credential", "-p", "a", "get"], request)
        .expect(4)
        .stderr_has("`a`");
}

#[test]
fn profiles_show_and_doctor_show_the_hosts() {
    let idp = Idp::shared();
    let world = World::for_idp(
        idp,
        &profile_lines(&["Git.Example.com", "registry.example.com:5000"]),
    );
    let shown = world.run(&["profiles", "show"]).expect(0);
    let row = shown
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("hosts"))
        .unwrap_or_else(|| panic!("{}", shown.stdout));
    assert!(
        row.contains("git.example.com registry.example.com:5000"),
        "{row}"
    );
    let doctor = world.run(&["doctor"]);
    doctor.stdout_has("git-credential and docker-credential answer for git.example.com, registry.example.com:5000");
    world.write_profiles(&format!(
        "{}[profiles.other]\nissuer = \"{}\"\nclient_id = \"c\"\nhosts = [\"git.example.com\"]\n",
        idp.profile_toml(&profile_lines(&["git.example.com"])),
        idp.issuer
    ));
    world
        .run(&["doctor", "-p", "local"])
        .stdout_has("git.example.com (also in `other`)");
    world.write_profiles(&idp.profile_toml("hosts = [\"https://git.example.com\"]\n"));
    world
        .run(&["profiles", "show"])
        .expect(3)
        .stderr_has("without scheme or path");
}

#[test]
fn a_host_added_since_the_login_gets_nothing_until_the_next_login() {
    let idp = Idp::shared();
    let world = logged_in(idp, &profile_lines(&["git.example.com"]));
    let request = "protocol=https\nhost=evil.example.net\n\n";
    // Whoever can change the profiles file or the environment cannot add a host of theirs.
    let mut cmd = world.cmd(&["git-credential", "get"]);
    cmd.env("LATCHKEY_HOSTS", "[git.example.com, evil.example.net]");
    let run = with_stdin(cmd, request).expect(3);
    assert_eq!(run.stdout, "");
    run.stderr_has("its login did not")
        .stderr_has("latchkey login -p local");
    world.write_profiles(
        &idp.profile_toml(&profile_lines(&["git.example.com", "evil.example.net"])),
    );
    let run = helper(&world, &["git-credential", "get"], request).expect(3);
    assert_eq!(run.stdout, "");
    let docker = helper(&world, &["docker-credential", "get"], "evil.example.net").expect(3);
    assert!(!docker.stdout.contains("Secret"), "{}", docker.stdout);
    // The host the login saw is still served, and a new login takes the new one in.
    helper(
        &world,
        &["git-credential", "get"],
        "protocol=https\nhost=git.example.com\n\n",
    )
    .expect(0)
    .stdout_has("password=");
    paste_login(&world, idp).expect(0);
    helper(&world, &["git-credential", "get"], request)
        .expect(0)
        .stdout_has("password=");
}
