//! No escape sequence from outside reaches the terminal: a device `user_code`, an ID token's
//! `name`, a profiles file's issuer and `$BROWSER` are shown escaped by the whole binary, on
//! stderr and stdout, as text and as JSON.

use crate::support::{Idp, Run, World, fake, paste_login};

/// What a terminal would act on: C0 and C1 controls, DEL, and the bidi and invisible format
/// characters. Written apart from latchkey's own list on purpose.
fn is_terminal_active(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

/// Both streams of a run are free of anything a terminal acts on.
fn assert_inert(what: &str, run: &Run) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        if let Some(c) = text.chars().find(|&c| is_terminal_active(c)) {
            panic!("{what}: {c:?} reached {stream} raw:\n{text:?}");
        }
    }
}

/// The `name` claim of the issue (a colour change), with a C1 CSI and a right-to-left override.
const NAME: &str = "\u{1b}[31mMal\u{9b}2Jlory\u{202e}";
const NAME_SHOWN: &str = r"\u{1b}[31mMal\u{9b}2Jlory\u{202e}";

#[test]
fn an_id_token_name_is_shown_escaped_by_login_and_status() {
    let idp = Idp::start(&[]);
    // No email: "Logged in as" and `status` then name the person by the `name` claim.
    let answer = idp.post_json(
        "/__test/claims",
        serde_json::json!({ "name": NAME, "email": null }),
    );
    assert_eq!(answer["ok"], true, "{answer}");
    let world = World::for_idp(&idp, "");

    let login = paste_login(&world, &idp).expect(0);
    assert_inert("login", &login);
    login.stderr_has(&format!("Logged in as {NAME_SHOWN} with profile `local`"));

    let status = world.run(&["status"]).expect(0);
    assert_inert("status", &status);
    status.stdout_has(&format!("local: logged in as {NAME_SHOWN}"));

    // JSON keeps the value exactly, in escapes a terminal does not act on.
    let json = world.run(&["status", "--json"]).expect(0);
    assert_inert("status --json", &json);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["name"], NAME);
}

/// The `user_code` of the issue: a window title, a bell and a screen clear; and a bidi override
/// hidden in the verification URI.
#[test]
fn a_device_user_code_is_shown_escaped() {
    let issuer = fake::serve(|issuer, path| {
        let path = path.split('?').next().unwrap_or(path);
        match path {
            "/.well-known/openid-configuration" => {
                let mut doc = fake::discovery(issuer, issuer);
                doc["device_authorization_endpoint"] = format!("{issuer}/device/auth").into();
                fake::json_response(&doc.to_string())
            }
            "/device/auth" => fake::json_response(
                &serde_json::json!({
                    "device_code": "dc-1",
                    "user_code": "AB\u{1b}]0;TITLE\u{7}\u{1b}[2J",
                    "verification_uri": format!("{issuer}/de\u{202e}vice"),
                    "verification_uri_complete": format!("{issuer}/device?user_code=AB"),
                    "expires_in": 600,
                    "interval": 1,
                })
                .to_string(),
            ),
            // The first poll is refused: the login ends right after the prompt.
            "/token" => fake::http_response(
                "400 Bad Request",
                "application/json",
                r#"{"error":"invalid_scope","error_description":"no\u001b[2J"}"#,
            ),
            _ => fake::not_found(),
        }
    });
    let world = World::new();
    world.write_profiles(&fake::profile(&issuer, "scopes = \"openid\"\n"));
    let run = world
        .run(&[
            "login",
            "--device",
            "--no-browser",
            "--no-qr",
            "-p",
            "local",
        ])
        .expect(5);
    assert_inert("device login", &run);
    run.stderr_has(&format!(
        r"Check that the page shows the code AB\u{{1b}}]0;TITLE\u{{7}}\u{{1b}}[2J (or open {issuer}/de\u{{202e}}vice and type it in)."
    ))
    .stderr_has(r"error: the identity provider refused: invalid_scope: no\u{1b}[2J");
}

/// Values of the profiles file are outside text too: `profiles` lists them unvalidated.
#[test]
fn a_profiles_file_issuer_is_shown_escaped() {
    let world = World::new();
    world.write_profiles(
        "[profiles.evil]\nissuer = \"https://idp.example/\\u001b]0;TITLE\\u0007\\u202Ex\"\nclient_id = \"c\"\n",
    );
    let run = world.run(&["profiles"]);
    assert_inert("profiles", &run);
    run.stdout_has(r"evil  https://idp.example/\u{1b}]0;TITLE\u{7}\u{202e}x");
    let json = world.run(&["profiles", "--json"]);
    assert_inert("profiles --json", &json);
}

/// `$BROWSER` comes from the environment: the line that says it is being used shows it escaped.
#[test]
fn a_browser_variable_is_shown_escaped() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    // `true` with the payload as its first argument: it starts, so the line is shown.
    let run = world.run_env(
        &["login", "--no-paste", "--timeout", "1"],
        &[("BROWSER", "true \u{1b}]0;TITLE\u{7}\u{202e}")],
    );
    assert_inert("login with $BROWSER", &run);
    run.stderr_has(r"opening your browser ($BROWSER=true \u{1b}]0;TITLE\u{7}\u{202e})");
}

/// An email claim whose invisible characters make it print as another address: a variation
/// selector and a tag-plane selector in `ad\u{FE0F}min@corp\u{E0101}.com` print as nothing,
/// so it read as "admin@corp.com". Shown escaped, it cannot pass for that. (Failed before: the
/// login said "Logged in as admin@corp.com" to the eye.)
#[test]
fn an_email_claim_cannot_pass_for_another_address() {
    let idp = Idp::start(&[]);
    let email = "ad\u{FE0F}min@corp\u{E0101}.com";
    let answer = idp.post_json(
        "/__test/claims",
        serde_json::json!({ "name": null, "email": email }),
    );
    assert_eq!(answer["ok"], true, "{answer}");
    let world = World::for_idp(&idp, "");
    let login = paste_login(&world, &idp).expect(0);
    login.stderr_has(r"Logged in as ad\u{fe0f}min@corp\u{e0101}.com with profile `local`");
    for run in [&login, &world.run(&["status"]).expect(0)] {
        assert!(
            !run.stdout.contains(email) && !run.stderr.contains(email),
            "{run:?}"
        );
    }
    world
        .run(&["status"])
        .expect(0)
        .stdout_has(r"logged in as ad\u{fe0f}min@corp\u{e0101}.com");
}

/// Every character Perl's Unicode tables call a format character (Cf) or default-ignorable
/// (`Default_Ignorable_Code_Point`) is escaped by latchkey's sanitizer: a table written by
/// hand is checked against one that is not.
#[test]
fn every_invisible_character_perls_unicode_tables_know_is_escaped() {
    let out = std::process::Command::new("perl")
        .args([
            "-e",
            r"for my $c (0 .. 0x10FFFF) { next if $c >= 0xD800 && $c <= 0xDFFF; print qq{$c\n} if chr($c) =~ /\p{Default_Ignorable_Code_Point}|\p{Cf}/ }",
        ])
        .output()
        .expect("perl (tests/run installs it)");
    assert!(out.status.success(), "{out:?}");
    let invisible: Vec<char> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| char::from_u32(line.parse().unwrap()).unwrap())
        .collect();
    assert!(invisible.len() > 4000, "perl listed {}", invisible.len());
    let missed: Vec<String> = invisible
        .iter()
        .filter(|&&c| !latchkey::base::text::is_unsafe(c))
        .map(|c| format!("U+{:04X}", *c as u32))
        .collect();
    assert!(missed.is_empty(), "shown as they are: {missed:?}");
}
