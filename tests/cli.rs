//! Whole-binary tests of the command line and the profiles file, in an isolated HOME.

use crate::support::World;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles.example.toml");

#[test]
fn version_and_help() {
    let w = World::new();
    let run = w.run(&["--version"]).expect(0);
    let line = run.stdout.trim();
    let (version, built) = line
        .split_once(" (")
        .expect("version, then (target, source)");
    assert_eq!(version, format!("latchkey {}", env!("CARGO_PKG_VERSION")));
    let (target, source) = built
        .strip_suffix(')')
        .and_then(|built| built.split_once(", "))
        .expect("(target, source)");
    assert!(
        target.matches('-').count() >= 2 && !target.contains(' '),
        "a target triple, not {target:?}"
    );
    assert_eq!(source, expected_source(), "in {line:?}");
    w.run(&["--help"]).expect(0).stdout_has("profiles");
}

/// What `--version` must say about the source: the checkout's own commit (and whether the
/// compiled files differ from it), asked of git here independently of build.rs.
fn expected_source() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let is_toplevel = git(&["rev-parse", "--show-toplevel"])
        .is_some_and(|top| std::fs::canonicalize(top).ok() == std::fs::canonicalize(dir).ok());
    if !is_toplevel {
        return "source commit unknown".into();
    }
    let commit = git(&["rev-parse", "HEAD"]).expect("a commit");
    let sources = ["src", "build.rs", "Cargo.toml", "Cargo.lock", ".cargo"];
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    status.extend(sources);
    let modified = git(&status).is_some_and(|out| !out.is_empty());
    let changes = if modified { " with local changes" } else { "" };
    format!("commit {}{changes}", &commit[..12])
}

#[test]
fn usage_errors_exit_2() {
    let w = World::new();
    w.run(&[]).expect(2).stderr_has("no command given");
    w.run(&["profiles", "--bogus"])
        .expect(2)
        .stderr_has("--bogus");
    w.run(&["frobnicate"]).expect(2);
}

#[test]
fn lists_the_example_profiles_marking_the_default() {
    let w = World::new();
    let run = w.run(&["--config", EXAMPLE, "profiles"]).expect(0);
    assert_eq!(
        run.stdout,
        "* dev    dev-abc123.us.auth0.com (Auth0)  [default]\n  entra  https://login.microsoftonline.com/TENANT-ID/v2.0\n  local  http://127.0.0.1:3000\n"
    );
    let json: serde_json::Value = serde_json::from_str(
        &w.run(&["--config", EXAMPLE, "profiles", "--json"])
            .expect(0)
            .stdout,
    )
    .unwrap();
    assert_eq!(json["default_profile"], "dev");
    assert_eq!(json["profiles"][2]["name"], "local");
    assert_eq!(json["profiles"][2]["issuer"], "http://127.0.0.1:3000");
}

#[test]
fn show_names_the_source_of_every_value() {
    let w = World::new();
    let run = w.run(&["--config", EXAMPLE, "profiles", "show"]).expect(0);
    run.stdout_has("profile dev (selected by ")
        .stdout_has("profiles.example.toml:10)");
    let line = |key: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap()
            .to_owned()
    };
    assert!(
        line("client_id").ends_with("profiles.example.toml:19]"),
        "{}",
        line("client_id")
    );
    assert!(line("issuer").contains("https://dev-abc123.us.auth0.com/  [derived from domain]"));
    assert!(line("paste_redirect_uri").contains("(not set)  [default]"));

    // Environment beats the file, the flag picks the profile.
    let run = w
        .run_env(
            &[
                "--config", EXAMPLE, "profiles", "show", "-p", "local", "--json",
            ],
            &[
                ("LATCHKEY_AUDIENCE", "https://env-api/"),
                ("LATCHKEY_REDIRECT_PORT", "9999"),
            ],
        )
        .expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["selected_by"], "flag --profile");
    assert_eq!(json["settings"]["audience"]["value"], "https://env-api/");
    assert_eq!(
        json["settings"]["audience"]["source"],
        "env LATCHKEY_AUDIENCE"
    );
    assert_eq!(json["settings"]["redirect_port"]["value"], 9999);
    assert_eq!(json["settings"]["callback_path"]["source"], "default");
}

#[test]
fn profile_selection_precedence() {
    let w = World::new();
    w.write_profiles(
        "default_profile = \"a\"\n[profiles.a]\ndomain = \"a.auth0.com\"\nclient_id = \"ca\"\n\
         [profiles.b]\ndomain = \"b.auth0.com\"\nclient_id = \"cb\"\n[profiles.c]\ndomain = \"c.auth0.com\"\nclient_id = \"cc\"\n",
    );
    let selected = |args: &[&str], env: &[(&str, &str)]| -> String {
        let run = w.run_env(args, env).expect(0);
        run.stdout.lines().next().unwrap().to_owned()
    };
    assert!(selected(&["profiles", "show"], &[]).starts_with("profile a "));
    assert!(
        selected(&["profiles", "show"], &[("LATCHKEY_PROFILE", "b")]).starts_with("profile b ")
    );
    assert!(
        selected(
            &["-p", "c", "profiles", "show"],
            &[("LATCHKEY_PROFILE", "b")]
        )
        .starts_with("profile c ")
    );
    assert!(
        selected(
            &["profiles", "show", "-p", "c"],
            &[("LATCHKEY_PROFILE", "b")]
        )
        .starts_with("profile c ")
    );
    // LATCHKEY_CONFIG finds another file; --config beats it.
    let other = w.write_file(
        "other.toml",
        "[profiles.z]\nissuer = \"https://z.example/\"\nclient_id = \"z\"\n",
    );
    let other = other.to_str().unwrap();
    assert!(
        selected(&["profiles", "show"], &[("LATCHKEY_CONFIG", other)]).starts_with("profile z ")
    );
    assert!(
        selected(
            &["--config", EXAMPLE, "profiles", "show"],
            &[("LATCHKEY_CONFIG", other)]
        )
        .starts_with("profile dev ")
    );
}

/// Every bad input of the profiles file: a message naming the problem, a hint, exit 3.
#[test]
fn bad_configuration_is_exit_3_with_a_clear_message() {
    let w = World::new();
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "default_profile = \"dev\"\n[profiles.dev\n",
            &[],
            &["profiles.toml:2:", "invalid TOML"],
        ),
        (
            "[profiles.dev]\ndomain = \"x.auth0.com\"\nclient_ID = \"a\"\n",
            &[],
            &[
                "profiles.toml:3:1",
                "unknown key",
                "`client_ID`",
                "did you mean `client_id`?",
            ],
        ),
        (
            "[profiles.dev]\ndomain = \"x.auth0.com\"\nclient_id = \"a\"\nscopes = 5\n",
            &[],
            &["profiles.toml:4", "`scopes`", "wrong type"],
        ),
        (
            "[profiles.dev]\ndomain = \"x.auth0.com\"\n",
            &[],
            &["no `client_id`"],
        ),
        (
            "[profiles.dev]\nclient_id = \"a\"\n",
            &[],
            &["neither `domain` nor `issuer`"],
        ),
        (
            "[profiles.dev]\nclient_id = \"a\"\ndomain = \"x.auth0.com\"\nissuer = \"https://x/\"\n",
            &[],
            &["both `domain`", "and `issuer`"],
        ),
        (
            "[profiles.dev]\nclient_id = \"a\"\nissuer = \"http://idp.corp.example\"\n",
            &[],
            &["plain http on a non-loopback host", "profiles.toml:3"],
        ),
        (
            "[profiles.dev]\nclient_id = \"a\"\nissuer = \"https://x/\"\n",
            &["-p", "prod"],
            &["unknown profile `prod`", "known profiles: dev"],
        ),
    ];
    for (text, flags, needles) in cases {
        w.write_profiles(text);
        let mut args = flags.to_vec();
        args.extend(["profiles", "show"]);
        let run = w.run(&args).expect(3);
        for needle in *needles {
            assert!(
                run.stderr.contains(needle),
                "for {text:?}: stderr lacks {needle:?}:\n{}",
                run.stderr
            );
        }
        assert!(
            run.stderr.contains("hint:"),
            "no hint for {text:?}:\n{}",
            run.stderr
        );
    }
}

#[test]
fn bad_environment_override_names_the_variable() {
    let w = World::new();
    let run = w
        .run_env(
            &["--config", EXAMPLE, "profiles", "show"],
            &[("LATCHKEY_REDIRECT_PORT", "http")],
        )
        .expect(3);
    run.stderr_has("LATCHKEY_REDIRECT_PORT")
        .stderr_has("wrong type");
    let run = w
        .run_env(
            &["--config", EXAMPLE, "profiles", "show", "-p", "local"],
            &[("LATCHKEY_DOMAIN", "x.auth0.com")],
        )
        .expect(3);
    run.stderr_has("both `domain` (env LATCHKEY_DOMAIN)");
}

#[test]
fn missing_profiles_file_says_how_to_start_one() {
    let w = World::new();
    let run = w.run(&["profiles"]).expect(3);
    run.stderr_has("no profiles file at")
        .stderr_has(".config/latchkey/profiles.toml");
    run.stderr_has("latchkey profiles add NAME");
    w.run(&["--config", "/nonexistent/p.toml", "profiles"])
        .expect(3)
        .stderr_has("/nonexistent/p.toml");
}

#[test]
fn colour_is_off_with_no_color_and_without_a_terminal() {
    let w = World::new();
    let run = w
        .run(&["--config", "/nonexistent.toml", "profiles"])
        .expect(3);
    assert!(!run.stderr.contains('\x1b'), "{:?}", run.stderr);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
}

#[test]
fn profile_names_for_completion_are_bare_and_never_fail() {
    let w = World::new();
    // No profiles file: nothing on either stream, success (a completion must not print errors).
    let run = w.run(&["profiles", "--names"]).expect(0);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
    w.write_profiles("[profiles.dev\n");
    let run = w.run(&["profiles", "--names"]).expect(0);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));

    let run = w
        .run(&["--config", EXAMPLE, "profiles", "--names"])
        .expect(0);
    assert_eq!(run.stdout, "dev\nentra\nlocal\n");
    // Hidden from --help: it is for the scripts, not for people.
    let help = w.run(&["profiles", "--help"]).expect(0);
    assert!(!help.stdout.contains("--names"), "{}", help.stdout);
}

#[test]
fn completions_and_man_print_on_stdout() {
    let w = World::new();
    for shell in ["bash", "zsh", "fish", "nushell", "powershell", "elvish"] {
        w.run(&["completions", shell])
            .expect(0)
            .stdout_has("profiles --names");
    }
    w.run(&["man"]).expect(0).stdout_has(".TH LATCHKEY 1");
    w.run(&["completions", "tcsh"])
        .expect(2)
        .stderr_has("bash, zsh, fish, nushell, powershell or elvish");
    w.run(&["completions"]).expect(2);
}
