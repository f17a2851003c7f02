//! The loopback listener's answer to whatever bytes a client sends (callback::answer_request).
#![no_main]

use latchkey::base::secret::State;
use latchkey::login::callback::{Answer, Expected, answer_request};
use latchkey::oauth::auth_response::{AuthResponse, Issuer};
use latchkey_fuzz::{
    CALLBACK_PATH, ISSUER, STATE, contains, query_params, secret_like, sender_knew, values_of,
};
use libfuzzer_sys::fuzz_target;

/// The listener's request-head buffer (callback.rs's MAX_HEAD_BYTES).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Every tag the listener's page template writes; anything else in a page is injected markup.
const PAGE_TAGS: &[&str] = &[
    "!DOCTYPE html>",
    "html lang=\"en\">",
    "/html>",
    "head>",
    "/head>",
    "meta ",
    "title>",
    "/title>",
    "style>",
    "/style>",
    "body>",
    "/body>",
    "h1>",
    "/h1>",
    "p>",
    "/p>",
    // latchkey's own messages name parameters in backticks, shown as code.
    "code>",
    "/code>",
];

fuzz_target!(|data: &[u8]| {
    let state = State::new(STATE);
    let answers = [false, true].map(|required| {
        let expected = Expected {
            callback_path: CALLBACK_PATH,
            state: &state,
            issuer: Issuer {
                value: ISSUER,
                required,
            },
        };
        let answer = answer_request(data, &expected);
        if let Some(answer) = &answer {
            check_answer(data, answer);
        } else {
            assert!(
                data.len() < MAX_HEAD_BYTES,
                "a full buffer must be answered"
            );
        }
        answer
    });
    // Requiring `iss` only ever takes acceptance away.
    let [lenient, strict] = answers;
    if strict.as_ref().is_some_and(|a| a.accepted.is_some()) {
        assert!(lenient.is_some_and(|a| a.accepted.is_some()));
    }
});

fn check_answer(data: &[u8], answer: &Answer) {
    assert!(
        [200, 400, 404, 405, 431].contains(&answer.status),
        "status {}",
        answer.status
    );
    let text = std::str::from_utf8(&answer.bytes).expect("the answer is UTF-8");
    let status_line = format!("HTTP/1.1 {} ", answer.status);
    assert!(text.starts_with(&status_line), "{text}");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    // The head is the fixed set of lines: nothing from the request can split or add one.
    let lines = head.split("\r\n").count();
    let expected_lines = if answer.status == 405 { 10 } else { 9 };
    assert_eq!(lines, expected_lines, "{head}");
    assert_eq!(head.matches('\n').count(), lines - 1, "{head}");
    assert_eq!(head.matches('\r').count(), lines - 1, "{head}");
    let length = format!("\r\nContent-Length: {}\r\n", body.len());
    assert!(head.contains(&length), "{head}");
    for (at, _) in body.match_indices('<') {
        let rest = body.get(at + 1..).unwrap_or_default();
        assert!(
            PAGE_TAGS.iter().any(|tag| rest.starts_with(tag)),
            "unescaped markup in the page at {at}: {body}"
        );
    }
    // A client that does not know the state cannot read it off a page.
    if !sender_knew(data, STATE) {
        assert!(!contains(&answer.bytes, STATE.as_bytes()), "{text}");
    }

    // httparse skips empty lines before the request line.
    let request_line = data
        .split(|&b| b == b'\n')
        .find(|line| !line.is_empty() && *line != b"\r")
        .unwrap_or_default();
    let request_line = String::from_utf8_lossy(request_line);
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let target = target.split_once('#').map_or(target, |(before, _)| before);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params = query_params(query);
    let shown: Vec<&str> = ["iss", "error", "error_description"]
        .iter()
        .flat_map(|name| values_of(&params, name))
        .flatten()
        .collect();
    // A received code is never shown, unless it also came as a value the page does show.
    for code in values_of(&params, "code").into_iter().flatten() {
        if secret_like(code) && !shown.iter().any(|value| value.contains(code)) {
            assert!(!text.contains(code), "the page shows the code: {text}");
        }
    }

    let Some(accepted) = &answer.accepted else {
        assert_ne!(answer.status, 200, "a 200 page without a response");
        return;
    };
    assert!(request_line.starts_with("GET "), "{request_line}");
    assert_eq!(path, CALLBACK_PATH);
    assert_eq!(values_of(&params, "state"), [Some(STATE)], "{query}");
    let iss = values_of(&params, "iss");
    assert!(iss.is_empty() || iss == [Some(ISSUER)], "{query}");
    match accepted {
        AuthResponse::Code { code, .. } => {
            assert_eq!(answer.status, 200);
            assert!(values_of(&params, "error").iter().all(|e| *e == Some("")));
            assert_eq!(values_of(&params, "code"), [Some(code.secret())], "{query}");
        }
        AuthResponse::Refused { error, .. } => {
            assert_eq!(answer.status, 400);
            assert_eq!(
                values_of(&params, "error"),
                [Some(error.as_str())],
                "{query}"
            );
        }
    }
}
