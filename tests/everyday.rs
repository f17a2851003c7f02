//! Everyday use as a person meets it: the device flow's QR code scanned off the screen on dark
//! and light terminals, narrow terminals, and command-line mistakes.

use crate::support::tmux::Tmux;
use crate::support::*;
use std::path::Path;
use std::process::Command;

/// A terminal theme: whether the default foreground and background are dark.
#[derive(Debug, Clone, Copy)]
enum Theme {
    /// Light text on a dark background (most terminals' default).
    Dark,
    /// Dark text on a light background.
    Light,
}

/// The QR modules a screen shows (true = dark), as a terminal with `theme` paints the captured
/// rows: half blocks, with the SGR colours tmux kept (`capture-pane -e`).
fn painted_modules(rows: &[String], theme: Theme) -> Vec<Vec<bool>> {
    let default = match theme {
        Theme::Dark => (false, true), // (foreground dark?, background dark?)
        Theme::Light => (true, false),
    };
    let mut grid = Vec::new();
    // tmux carries colours over from the end of one row to the next, as a terminal would.
    let (mut fg, mut bg) = default;
    for row in rows {
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        let mut rest = row.as_str();
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("\x1b[") {
                let end = after.find(|c: char| c.is_ascii_alphabetic()).unwrap();
                if after.as_bytes()[end] == b'm' {
                    apply_sgr(&after[..end], default, &mut fg, &mut bg);
                }
                rest = &after[end + 1..];
                continue;
            }
            let (t, b) = match c {
                '█' => (fg, fg),
                '▀' => (fg, bg),
                '▄' => (bg, fg),
                _ => (bg, bg),
            };
            top.push(t);
            bottom.push(b);
            rest = &rest[c.len_utf8()..];
        }
        grid.push(top);
        grid.push(bottom);
    }
    grid
}

/// Applies one SGR sequence's parameters to the current colours (dark = true).
fn apply_sgr(params: &str, default: (bool, bool), fg: &mut bool, bg: &mut bool) {
    let codes: Vec<u32> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
    let dark_256 = |n: u32| match n {
        0 | 8 | 16 | 232..=243 => true,
        7 | 15 | 231 | 244..=255 => false,
        other => panic!("unexpected palette colour {other}"),
    };
    let mut i = 0;
    while i < codes.len() {
        match codes[i] {
            0 => (*fg, *bg) = default,
            39 => *fg = default.0,
            49 => *bg = default.1,
            30 | 90 => *fg = true,
            37 | 97 => *fg = false,
            40 | 100 => *bg = true,
            47 | 107 => *bg = false,
            38 if codes.get(i + 1) == Some(&5) => {
                *fg = dark_256(codes[i + 2]);
                i += 2;
            }
            48 if codes.get(i + 1) == Some(&5) => {
                *bg = dark_256(codes[i + 2]);
                i += 2;
            }
            _ => {}
        }
        i += 1;
    }
}

/// Decodes the QR code in a module grid with zbarimg, from a PGM image of it.
fn zbar_decode(grid: &[Vec<bool>], dir: &Path, name: &str) -> Option<String> {
    const SCALE: usize = 4;
    let width = grid.iter().map(Vec::len).max().unwrap_or(0);
    let mut pixels = Vec::new();
    for row in grid {
        let line: Vec<u8> = (0..width)
            .flat_map(|x| {
                let dark = row.get(x).copied().unwrap_or(false);
                std::iter::repeat_n(if dark { 0 } else { 255 }, SCALE)
            })
            .collect();
        for _ in 0..SCALE {
            pixels.extend_from_slice(&line);
        }
    }
    let mut image = format!("P5\n{} {}\n255\n", width * SCALE, grid.len() * SCALE).into_bytes();
    image.extend(pixels);
    let path = dir.join(format!("{name}.pgm"));
    std::fs::write(&path, image).unwrap();
    let out = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&path)
        .output()
        .expect("zbarimg (apt-get install zbar-tools; tests/run installs it)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The rows of the screen that hold the QR code (half blocks).
fn qr_rows(rows: &[String]) -> Vec<String> {
    rows.iter()
        .filter(|r| r.contains('▀') || r.contains('▄') || r.contains('█'))
        .cloned()
        .collect()
}

/// A device login in tmux, up to its QR code: the world, the terminal and the URL on screen.
fn device_login_on_screen(name: &str, extra_env: &str, columns: u16) -> (World, Tmux, String) {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let tmux = Tmux::new(name);
    tmux.start_latchkey_sized(
        &world,
        "login --device --no-browser --timeout 20",
        extra_env,
        columns,
        50,
    );
    // The spinner's line is cut to the terminal's width: look for its start only.
    let screen = tmux.wait_for("the device prompt", |s| s.contains("Waiting for the code"));
    let url = screen
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{}/device", idp.issuer)))
        .unwrap_or_else(|| panic!("no verification URL on screen:\n{screen}"))
        .to_owned();
    (world, tmux, url)
}

#[test]
fn the_qr_code_scans_on_dark_and_light_terminals() {
    let (world, tmux, url) = device_login_on_screen("qr-themes", "", 100);
    let rows = qr_rows(&tmux.rows_with_colours());
    assert!(rows.len() >= 12, "{rows:#?}");
    for theme in [Theme::Dark, Theme::Light] {
        let grid = painted_modules(&rows, theme);
        assert_eq!(
            zbar_decode(&grid, world.dir.path(), &format!("{theme:?}")).as_deref(),
            Some(url.as_str()),
            "the code does not scan on a {theme:?} terminal"
        );
        // The quiet zone: four light modules on every side.
        for row in grid.iter().take(4) {
            assert!(row.iter().all(|dark| !dark), "{theme:?}: top quiet zone");
        }
        assert!(
            grid.iter().all(|row| row[..4].iter().all(|d| !d)),
            "{theme:?}: left quiet zone"
        );
    }
}

#[test]
fn without_colour_the_qr_code_scans_on_a_dark_terminal() {
    let (world, tmux, url) = device_login_on_screen("qr-nocolor", "NO_COLOR=1", 100);
    let rows = qr_rows(&tmux.rows_with_colours());
    assert!(
        rows.iter().all(|r| !r.contains('\x1b')),
        "NO_COLOR drew colours: {rows:#?}"
    );
    let grid = painted_modules(&rows, Theme::Dark);
    assert_eq!(
        zbar_decode(&grid, world.dir.path(), "nocolor").as_deref(),
        Some(url.as_str())
    );
}

#[test]
fn a_terminal_too_narrow_for_the_qr_code_says_so() {
    let (_world, tmux, _url) = device_login_on_screen("qr-narrow", "", 30);
    let screen = tmux.screen();
    assert!(
        screen.contains("The QR code of this URL needs") && screen.contains("the terminal has 30"),
        "{screen}"
    );
    assert!(!screen.contains('▀'), "{screen}");
}

#[test]
fn the_status_line_is_cut_to_a_narrow_terminal() {
    let world = World::for_idp(Idp::shared(), "");
    let tmux = Tmux::new("narrow-status");
    tmux.start_latchkey_sized(
        &world,
        "login --no-loopback --no-browser --timeout 30",
        "",
        50,
        20,
    );
    tmux.wait_for("the prompt", |s| {
        s.contains("Paste the redirect URL or code here")
    });
    let bottom = tmux.wait_for("the status line", |s| {
        s.lines()
            .last()
            .is_some_and(|l| l.contains("Waiting for a pasted"))
    });
    let last = bottom.lines().last().unwrap();
    assert!(last.chars().count() <= 50, "{last:?}");
}

#[test]
fn command_line_mistakes_get_the_nearest_flag_or_command() {
    let world = World::new();
    world
        .run(&["login", "--no-browsr"])
        .expect(2)
        .stderr_has("error: unknown flag --no-browsr for latchkey login")
        .stderr_has("did you mean `--no-browser`? see `latchkey login --help`");
    world
        .run(&["stauts"])
        .expect(2)
        .stderr_has("error: unknown command stauts for latchkey")
        .stderr_has("did you mean `latchkey status`?");
    world
        .run(&["--profle", "dev", "status"])
        .expect(2)
        .stderr_has("did you mean `--profile`?");
    let help = world.run(&["login", "-h"]).expect(0);
    help.stdout_has("Usage: latchkey login");
}

#[test]
fn doctor_passes_for_a_logged_in_profile_as_a_person_sees_it() {
    let idp = Idp::shared();
    let world = logged_in(idp, "");
    let tmux = Tmux::new("doctor-ok");
    tmux.start_latchkey(&world, "doctor", "NO_COLOR=1");
    let screen = tmux.wait_for_exit(0);
    for line in [
        "✓ profiles file:",
        "✓ browser: login prints the URL for another device",
        "profile `local`",
        "✓ profile valid: issuer http://127.0.0.1:",
        "✓ proxy: direct (the provider is on this machine)",
        "✓ discovery:",
        "names the issuer exactly",
        "✓ clock: within",
        "✓ redirect port: any free port",
        "✓ token store:",
        "✓ tokens: access token valid, expires in",
        "✓ refresh token: stored",
    ] {
        assert!(screen.contains(line), "{line:?} missing:\n{screen}");
    }
    assert!(!screen.contains('✗'), "{screen}");
}

#[test]
fn doctor_names_what_fails_and_the_fix() {
    // A provider that is not there, and no login yet.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let world = World::new();
    world.write_profiles(&format!(
        "[profiles.gone]\nissuer = \"http://127.0.0.1:{port}\"\nclient_id = \"c\"\n"
    ));
    let tmux = Tmux::new("doctor-fail");
    tmux.start_latchkey(&world, "doctor", "NO_COLOR=1");
    let screen = tmux.wait_for_exit(6);
    assert!(screen.contains("✗ provider reachable:"), "{screen}");
    assert!(
        screen.contains("✗ tokens: profile `gone` is not logged in"),
        "{screen}"
    );
    assert!(
        screen.contains("    fix: run `latchkey login -p gone`"),
        "{screen}"
    );
    let json = world.run(&["doctor", "--json"]).expect(6);
    let rows: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let failed: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ok"] == false)
        .map(|r| r["check"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["provider reachable", "tokens"]);
}

#[test]
fn profiles_are_added_switched_and_removed_without_editing_toml() {
    let idp = Idp::shared();
    let world = World::new();
    // A new user: no profiles file yet, and the hint says how to start.
    world
        .run(&["token"])
        .expect(3)
        .stderr_has("latchkey profiles add NAME");
    world
        .run(&[
            "profiles",
            "add",
            "local",
            "--issuer",
            &idp.issuer,
            "--client-id",
            CLIENT_ID,
            "--redirect-port",
            "0",
            "--default",
        ])
        .expect(0)
        .stderr_has("Added profile `local`");
    world
        .run(&[
            "profiles",
            "add",
            "other",
            "--domain",
            "dev-abc.us.auth0.com",
            "--client-id",
            "x",
        ])
        .expect(0);
    world
        .run(&[
            "profiles",
            "add",
            "local",
            "--issuer",
            &idp.issuer,
            "--client-id",
            "y",
        ])
        .expect(3)
        .stderr_has("already exists")
        .stderr_has("--force");
    world
        .run(&[
            "profiles",
            "add",
            "bad",
            "--issuer",
            "http://example.com",
            "--client-id",
            "y",
        ])
        .expect(3)
        .stderr_has("plain http");
    // A comment the user adds by hand survives every later change.
    let path = world.profiles_path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("# mine, keep me\n{text}")).unwrap();

    // The added profile logs in as any other.
    paste_login(&world, idp).expect(0);
    world.run(&["profiles", "use", "other"]).expect(0);
    world.run(&["profiles"]).expect(0).stdout_has("other");
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("default_profile = \"other\"")
    );
    world
        .run(&["profiles", "use", "nope"])
        .expect(3)
        .stderr_has("(from the NAME argument)");

    // Removing with --logout revokes and deletes the tokens first.
    world
        .run(&["profiles", "remove", "local", "--logout"])
        .expect(0)
        .stderr_has("Removed profile `local`");
    assert!(!world.token_file().exists());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# mine, keep me\n"), "{text}");
    assert!(!text.contains("[profiles.local]"), "{text}");
}

#[test]
fn kubectl_gets_the_exec_credential_version_it_asks_for() {
    let idp = Idp::shared();
    let world = logged_in(idp, "");
    let credential = |info: Option<&str>| -> serde_json::Value {
        let env: Vec<(&str, &str)> = info
            .map(|i| ("KUBERNETES_EXEC_INFO", i))
            .into_iter()
            .collect();
        let run = world
            .run_env(&["token", "--format", "exec-credential"], &env)
            .expect(0);
        serde_json::from_str(&run.stdout).unwrap()
    };
    let v1beta1 = credential(Some(
        r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}"#,
    ));
    assert_eq!(
        v1beta1["apiVersion"],
        "client.authentication.k8s.io/v1beta1"
    );
    assert_eq!(v1beta1["kind"], "ExecCredential");
    assert!(
        v1beta1["status"]["token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(v1beta1["status"]["expirationTimestamp"].is_string());
    let v1 = credential(Some(
        r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":true}}"#,
    ));
    assert_eq!(v1["apiVersion"], "client.authentication.k8s.io/v1");
    let unset = credential(None);
    assert_eq!(unset["apiVersion"], "client.authentication.k8s.io/v1");
}

#[test]
fn a_non_interactive_kubectl_call_never_prompts_for_a_passphrase() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "use_passphrase = true\nscrypt_work_factor = 10");
    world.set_env("LATCHKEY_PASSPHRASE", "correct horse");
    paste_login(&world, idp).expect(0);
    // A terminal is there, but kubectl said it cannot pass a prompt on.
    let tmux = Tmux::new("kubectl-nonint");
    let info = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#;
    tmux.start_latchkey(
        &world,
        "token --format exec-credential",
        &format!("KUBERNETES_EXEC_INFO='{info}'"),
    );
    let screen = tmux.wait_for_exit(4);
    assert!(!screen.contains("Passphrase for"), "{screen}");
    assert!(screen.contains("LATCHKEY_PASSPHRASE"), "{screen}");
}

#[test]
fn browser_lists_are_tried_in_order_and_a_failure_names_the_program() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    // A program path with a space in it, after one that does not exist and one that fails.
    std::fs::create_dir_all(world.dir.path().join("My Apps")).unwrap();
    let script = world.browser_script("My Apps/open browser", "");
    let list = format!("/nonexistent/browser:false:{}", script.display());
    world
        .run_env(&["login"], &[("BROWSER", &list)])
        .expect(0)
        .stderr_has("Logged in as");
    assert!(world.read_file("browser.log").contains("close this tab"));

    let nothing = World::for_idp(idp, "");
    let run = nothing.run_env(
        &["login", "--timeout", "1"],
        &[("BROWSER", "/nonexistent/browser:false")],
    );
    run.stderr_has("could not start the browser (`/nonexistent/browser`: ")
        .stderr_has("`false`: it exited with");
}

#[test]
fn a_stray_paste_does_not_end_the_login() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let (mut session, url) = Session::login(&world, idp, &["login", "--no-browser"]);
    // Text that cannot be a code is refused before any request.
    let before = idp.counters()["token"].as_u64().unwrap_or(0);
    session.paste("hello");
    session.wait_line("the short paste refused", |l| {
        l.contains("too short to be an authorization code")
    });
    // A code-shaped stray paste reaches the provider, which refuses it; the login goes on.
    session.paste("abcdefghijklmnopqrstuvwxyz0123456789ABCD");
    session.wait_line("the provider's refusal", |l| {
        l.contains("The provider refused that code (invalid_grant")
    });
    // The browser then finishes the login on the loopback, which kept listening.
    let redirect = approve(&url, idp, &[]);
    deliver_redirect(idp, &redirect);
    session.finish().expect(0).stderr_has("Logged in as");
    assert!(idp.counters()["token"].as_u64().unwrap_or(0) >= before + 2);
}

#[test]
fn a_retry_hint_names_the_profiles_file_it_came_from() {
    let idp = Idp::shared();
    let world = World::new();
    let path = world.write_file("elsewhere.toml", &idp.profile_toml(""));
    let config = path.to_str().unwrap();
    let (mut session, url) = Session::login(
        &world,
        idp,
        &["--config", config, "login", "--no-browser", "--no-loopback"],
    );
    let state = query_param(&url, "state");
    let iss = latchkey::net::url::form_encode(&idp.issuer);
    session.paste(&format!("?error=access_denied&state={state}&iss={iss}"));
    session.finish().expect(5).stderr_has(&format!(
        "run `latchkey --config {config} login -p local` to try again"
    ));
}

#[test]
fn profiles_show_names_a_positional_profile_and_shows_documented_defaults() {
    let world = World::for_idp(Idp::shared(), "");
    let run = world.run(&["profiles", "show", "local"]).expect(0);
    run.stdout_has("profile local (selected by the NAME argument)");
    for (key, value) in [("use_passphrase", "false"), ("scrypt_work_factor", "16")] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no {key} line:\n{}", run.stdout));
        assert!(
            line.contains(value) && !line.contains("(not set)"),
            "{line}"
        );
    }
    let help = world.run(&["--help"]).expect(0);
    help.stdout_has("`profiles show`");
}
