//! `latchkey login` through a real browser: headless Chromium (`tests/idp/chromium.js`) is
//! latchkey's `$BROWSER`, signs in at the test provider, and lands on the loopback listener's
//! pages, which are checked as Chromium rendered them: their text, their security headers, and
//! that nothing but the provider and the listener on 127.0.0.1 was asked for.

use crate::support::{Idp, Session, World, idp_dir, query_param, stored};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Debian's chromium, which `tests/run` installs.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The headers every loopback page carries, as Chromium received them (names lower-cased).
const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
];

/// Fails, never skips, without Chromium: a suite that quietly left out its only real browser
/// would claim what it did not test.
fn require_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: these tests drive Debian's chromium package. tests/run installs it; \
         by hand: apt-get install --no-install-recommends chromium"
    );
}

/// A `$BROWSER` script that hands latchkey's URL to `chromium.js` (with `options`), which writes
/// its report to `chromium.json` in this world and its errors to `chromium.log`.
fn chromium_browser(world: &World, options: &str) -> PathBuf {
    require_chromium();
    let dir = world.dir.path().display();
    let script = world.write_file(
        "chromium.sh",
        &format!(
            "#!/bin/sh\nexec node {} \"$1\" --report {dir}/chromium.json {options} > {dir}/chromium.log 2>&1\n",
            idp_dir().join("chromium.js").display()
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    script
}

/// Chromium's report, once written: latchkey may finish before Chromium has closed.
fn chromium_report(world: &World) -> Value {
    let path = world.dir.path().join("chromium.json");
    let deadline = Instant::now() + Duration::from_secs(40);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "chromium.js wrote no report; its log:\n{}",
            std::fs::read_to_string(world.dir.path().join("chromium.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let report: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        report["ok"], true,
        "chromium.js failed: {}",
        report["error"]
    );
    report
}

/// The `http://127.0.0.1:PORT` a URL is at.
fn origin(url: &str) -> &str {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not http: {url}"));
    let end = rest.find('/').unwrap_or(rest.len());
    &url[..7 + end]
}

/// What Chromium asked for went to the provider or the listener, both on 127.0.0.1; each
/// loopback page asked for nothing but itself; and what reached the proxy for everything else
/// was Chromium's own traffic to Google at startup, never a page's.
fn assert_only_loopback(report: &Value, idp: &Idp) {
    let provider = origin(&idp.issuer);
    let listener = origin(report["pages"][0]["url"].as_str().unwrap());
    assert!(provider.starts_with("http://127.0.0.1:") && listener.starts_with("http://127.0.0.1:"));
    let requests = report["requests"].as_array().unwrap();
    assert!(requests.len() >= 4, "{requests:?}");
    for request in requests {
        let url = request["url"].as_str().unwrap();
        assert!(
            origin(url) == provider || origin(url) == listener,
            "a request outside 127.0.0.1's provider and listener: {url}"
        );
    }
    for page in report["pages"].as_array().unwrap() {
        let page_requests = page["requests"].as_array().unwrap();
        assert_eq!(page_requests[0]["url"], page["url"], "{page_requests:?}");
        assert_eq!(page_requests[0]["type"], "document");
        for request in page_requests {
            assert_eq!(
                origin(request["url"].as_str().unwrap()),
                listener,
                "the loopback page asked for {request}"
            );
        }
        // Chromium notes an error status of the page itself; nothing else, no CSP violation.
        let own_status = format!(
            "error: Failed to load resource: the server responded with a status of {}",
            page["status"]
        );
        for message in page["console"].as_array().unwrap() {
            let message = message.as_str().unwrap();
            assert!(
                message.starts_with(&own_status),
                "the page's console: {message}"
            );
        }
    }
    for outside in report["outside"].as_array().unwrap() {
        let target = outside.as_str().unwrap();
        let host = target
            .split_whitespace()
            .nth(1)
            .map(|t| t.trim_start_matches("http://"))
            .and_then(|t| t.split([':', '/']).next())
            .unwrap_or_default();
        assert!(
            host.ends_with(".google.com") || host.ends_with(".googleapis.com"),
            "something other than Chromium's own services was asked for outside: {target}"
        );
    }
}

/// The lines of a page's visible text (`innerText`), without the blank ones between blocks.
fn shown_lines(page: &Value) -> Vec<String> {
    page["text"]
        .as_str()
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A loopback page as rendered: its status, title, visible text (each of `lines` in order, and
/// nothing of the authorization response in it), and headers.
fn assert_page(page: &Value, status: u64, heading: &str, lines: &[&str]) {
    assert_eq!(page["status"], status, "{page}");
    assert_eq!(page["title"], format!("latchkey: {heading}"), "{page}");
    let text = page["text"].as_str().unwrap();
    let mut expected = vec![heading];
    expected.extend(lines);
    assert_eq!(shown_lines(page), expected, "as rendered:\n{text}");
    let url = page["url"].as_str().unwrap();
    for key in ["code", "state"] {
        if url.contains(&format!("{key}=")) {
            let value = query_param(url, key);
            assert!(!text.contains(&value), "the page shows the {key}: {text}");
        }
    }
    let headers = &page["headers"];
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(headers[*name], *value, "{name} in {headers}");
    }
}

#[test]
fn a_login_through_chromium_stores_tokens_and_shows_the_success_page() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let browser = chromium_browser(&world, "");
    let run = world.login_with_browser(&browser).expect(0);
    run.stderr_has("opening your browser ($BROWSER=")
        .stderr_has("Logged in as Alice Liddell (alice@example.com) with profile `local`");
    let report = chromium_report(&world);
    let pages = report["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 1, "{report}");
    assert_page(
        &pages[0],
        200,
        "Login received",
        &["You can close this tab and return to the terminal."],
    );
    assert_only_loopback(&report, idp);

    let tokens = stored(&world).expect("stored tokens");
    let token = world.run(&["token"]).expect(0);
    assert_eq!(token.stdout.trim(), tokens.access_token.secret());
}

#[test]
fn denying_in_chromium_shows_the_refusal_page_and_stores_nothing() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let browser = chromium_browser(&world, "--deny");
    world
        .login_with_browser(&browser)
        .expect(5)
        .stderr_has("access_denied");
    let report = chromium_report(&world);
    let pages = report["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 1, "{report}");
    let page = &pages[0];
    assert!(
        page["url"]
            .as_str()
            .unwrap()
            .contains("error=access_denied"),
        "{page}"
    );
    let said = shown_lines(page)[1].clone();
    assert!(
        said.starts_with("The identity provider refused the login (access_denied"),
        "{said}"
    );
    assert_page(
        page,
        400,
        "Login refused",
        &[
            &said,
            "You can close this tab; latchkey reports the error in the terminal.",
        ],
    );
    assert_only_loopback(&report, idp);
    assert!(!world.token_file().exists());
}

#[test]
fn a_forged_state_shows_the_error_page_and_the_real_login_then_succeeds() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let browser = chromium_browser(&world, "--forge-state");
    let mut cmd = world.cmd(&["login", "--no-paste"]);
    cmd.env("BROWSER", &browser);
    let mut session = Session::from_command(cmd);
    session.wait_line("the refusal in the terminal", |l| {
        l.contains("The browser brought back a response latchkey refused")
    });
    session
        .finish()
        .expect(0)
        .stderr_has("Logged in as Alice Liddell (alice@example.com)");
    let report = chromium_report(&world);
    let pages = report["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2, "{report}");
    let said = shown_lines(&pages[0])[1].clone();
    assert!(
        said.starts_with("latchkey could not use this response: ") && said.contains("state"),
        "{said}"
    );
    assert_page(
        &pages[0],
        400,
        "Response not accepted",
        &[
            &said,
            "latchkey is still waiting for the right response: finish the login in the tab latchkey opened, or press Ctrl-C in the terminal to give up.",
        ],
    );
    assert_page(
        &pages[1],
        200,
        "Login received",
        &["You can close this tab and return to the terminal."],
    );
    assert_only_loopback(&report, idp);
    assert!(stored(&world).is_some());
}
