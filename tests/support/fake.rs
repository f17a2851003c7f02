//! A provider of the test's own on 127.0.0.1, for answers the real one in `tests/idp` never
//! gives (ID tokens that must be refused, broken token and discovery responses). It reads each
//! request and sends back whatever raw HTTP response the test's function makes of its path; it
//! serves until the test binary exits.

use super::{PASTE_LOGIN, Run, Session, World, query_param};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// The client id of the fake provider's profiles.
pub const CLIENT_ID: &str = "fake-client";

/// Starts a fake provider; `answer(issuer, path)` makes the raw response to each request.
/// Returns its issuer, `http://127.0.0.1:PORT`.
pub fn serve(answer: impl Fn(&str, &str) -> Vec<u8> + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let issuer = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let answer = Arc::new(answer);
    let base = issuer.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (answer, base) = (answer.clone(), base.clone());
            std::thread::spawn(move || {
                respond(stream, |path| answer(&base, path));
            });
        }
    });
    issuer
}

/// Reads one request (its head, then as much body as Content-Length says) and answers it.
fn respond(mut stream: TcpStream, answer: impl FnOnce(&str) -> Vec<u8>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let _ = stream.write_all(&answer(&path));
}

/// A whole raw HTTP response, closing the connection after it (as every fake answer does).
pub fn http_response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A 200 with a JSON body: what a well-behaved provider answers.
pub fn json_response(body: &str) -> Vec<u8> {
    http_response("200 OK", "application/json", body)
}

/// The answer to a path the fake does not serve.
pub fn not_found() -> Vec<u8> {
    http_response(
        "404 Not Found",
        "application/json",
        r#"{"error":"not_found"}"#,
    )
}

/// A valid discovery document for `issuer`, naming `issuer_claim` as its issuer.
pub fn discovery(issuer: &str, issuer_claim: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": issuer_claim,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
    })
}

/// A profiles file with one profile `local` for the fake at `issuer` (and `extra` lines).
pub fn profile(issuer: &str, extra: &str) -> String {
    format!("[profiles.local]\nissuer = \"{issuer}\"\nclient_id = \"{CLIENT_ID}\"\n{extra}")
}

/// Logs in to the fake at `issuer` by pasting a made-up code with the right state; `prepare`
/// sees the authorize URL first (to script an answer for its nonce, say).
pub fn paste_login(world: &World, issuer: &str, prepare: impl FnOnce(&str)) -> Run {
    let mut session = Session::start(world, PASTE_LOGIN);
    let prefix = format!("{issuer}/authorize?");
    let url = session.wait_line("authorize URL", |l| l.starts_with(&prefix));
    prepare(&url);
    session.paste(&format!(
        "code=fake-code&state={}",
        query_param(&url, "state")
    ));
    session.finish()
}
