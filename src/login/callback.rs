//! The loopback redirect listener (RFC 8252 §7.3): a small HTTP/1.1 server on 127.0.0.1 that
//! takes the browser's redirect, answers it with a page, and hands checked responses to the login.

use crate::base::error::{Error, Result};
use crate::base::secret::State;
use crate::oauth::auth_response::{self, AuthResponse, Rejection};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use zeroize::Zeroize;

/// Longest request head (request line and headers) read; browsers send well under 8 KiB.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Header lines httparse may hold; more is treated like an oversized head.
const MAX_HEADERS: usize = 64;

/// How long writing a page may block on a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// After answering, unread request bytes are read and dropped for a moment: closing a socket
/// with unread input resets it, and the client could lose the page it was just sent.
const DRAIN_TIME: Duration = Duration::from_secs(1);
const MAX_DRAIN_BYTES: usize = 64 * 1024;

/// Pause after a failed `accept` (out of file descriptors, say), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What one client may cost: a browser that opens a connection and never sends on it (Chrome
/// preconnects) or a slow sender must not hold the listener.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Longest wait for any one read.
    read_timeout: Duration,
    /// Longest a connection is served in total, however its bytes trickle in.
    deadline: Duration,
    /// Connections handled at once; further ones are closed as soon as they are accepted.
    max_connections: usize,
}

const DEFAULT_LIMITS: Limits = Limits {
    read_timeout: Duration::from_secs(10),
    deadline: Duration::from_secs(15),
    max_connections: 256,
};

/// What the loopback listener hands the login.
#[derive(Debug)]
pub enum Received {
    /// An authorization response that passed the state (and issuer) check.
    Response(AuthResponse),
    /// A request to the callback path whose response was refused (wrong state, wrong or
    /// missing `iss`, malformed), and why: the terminal says it at once, since the person is
    /// looking there and the wait goes on.
    Refused(String),
}

/// What a request must match to carry this login's authorization response.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The redirect URI's path (`/` when it has none).
    pub callback_path: &'a str,
    pub state: &'a State,
    pub issuer: auth_response::Issuer<'a>,
}

/// The listener's answer to one request: the HTTP response it writes, and the authorization
/// response it hands to the login when the request carried one that passed the checks.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The whole HTTP response: status line, headers and page.
    pub bytes: Vec<u8>,
    pub accepted: Option<AuthResponse>,
    /// Why the response in the request was refused, when it was.
    pub refused: Option<String>,
}

/// Answers the bytes a client sent, as the listener does once it has read them: `None` while
/// the request head is incomplete (a client that stops there is closed without an answer).
/// Pure, so fuzzing and tests exercise the very code that serves connections.
pub fn answer_request(received: &[u8], expected: &Expected<'_>) -> Option<Answer> {
    // The listener buffers at most MAX_HEAD_BYTES, and a head still incomplete then is too large.
    let buffered = received.get(..MAX_HEAD_BYTES).unwrap_or(received);
    let read = parse_head(buffered).unwrap_or(if buffered.len() == MAX_HEAD_BYTES {
        HeadRead::TooLarge
    } else {
        HeadRead::Gone
    });
    let (reply, received) = answer_head(read, buffered, expected)?;
    let (accepted, refused) = match received {
        Some(Received::Response(response)) => (Some(response), None),
        Some(Received::Refused(why)) => (None, Some(why)),
        None => (None, None),
    };
    Some(Answer {
        status: reply.status,
        bytes: reply.into_bytes(),
        accepted,
        refused,
    })
}

/// A listening socket on 127.0.0.1, ready to [`serve`](LoopbackListener::serve).
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    port: u16,
    limits: Limits,
    iss_required: bool,
}

impl LoopbackListener {
    /// Binds 127.0.0.1:`port` (0 = the OS picks one).
    pub fn bind(port: u16) -> Result<LoopbackListener> {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| bind_error(port, &e))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::other(format!("cannot read the loopback listener's port: {e}")))?
            .port();
        Ok(LoopbackListener {
            listener,
            port,
            limits: DEFAULT_LIMITS,
            iss_required: false,
        })
    }

    /// The port actually bound: the one asked for, or the OS's pick for 0.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves requests on a background thread and sends each accepted response (a code or a
    /// refusal that passed the state check) to `events`; rejected requests get an error page and
    /// the login keeps waiting.
    ///
    /// The thread lives until the process ends, or until a send finds the receiver dropped; there
    /// is no need to join it.
    pub fn serve(
        self,
        callback_path: String,
        state: State,
        issuer: String,
        events: Sender<Received>,
    ) -> JoinHandle<()> {
        let iss_required = self.iss_required;
        let shared = Arc::new(Shared {
            // A redirect URI with no path reaches us as a request for `/`.
            callback_path: if callback_path.is_empty() {
                "/".to_owned()
            } else {
                callback_path
            },
            state,
            issuer,
            iss_required,
            events,
            receiver_gone: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            limits: self.limits,
        });
        let listener = self.listener;
        // Spawning fails only when the OS refuses a thread at startup, not on anything a client
        // sends; std reports that by panicking, and there is no listener to run without it.
        thread::spawn(move || accept_loop(&listener, &shared))
    }

    /// Refuses responses without `iss` (when discovery says the provider always sends it).
    pub fn require_iss(mut self, required: bool) -> Self {
        self.iss_required = required;
        self
    }

    #[cfg(test)]
    fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

fn bind_error(port: u16, error: &io::Error) -> Error {
    let any_port = "or `redirect_port = 0` where the provider accepts any loopback port";
    match error.kind() {
        io::ErrorKind::AddrInUse => Error::config(format!(
            "cannot listen for the login redirect on 127.0.0.1:{port}: the port is already in use"
        ))
        .hint(format!(
            "stop the program using port {port}, or choose another `redirect_port` in the profile ({any_port})"
        )),
        io::ErrorKind::PermissionDenied => Error::config(format!(
            "not allowed to listen for the login redirect on 127.0.0.1:{port} (ports below 1024 need extra privileges)"
        ))
        .hint(format!(
            "choose a `redirect_port` of 1024 or above in the profile ({any_port})"
        )),
        _ => Error::other(format!(
            "cannot listen for the login redirect on 127.0.0.1:{port}: {error}"
        )),
    }
}

/// What every connection's handler needs.
struct Shared {
    callback_path: String,
    state: State,
    issuer: String,
    /// RFC 9207: the provider announced that it always sends `iss`.
    iss_required: bool,
    events: Sender<Received>,
    receiver_gone: AtomicBool,
    /// Connections being handled now.
    active: AtomicUsize,
    limits: Limits,
}

impl Shared {
    fn expected(&self) -> Expected<'_> {
        Expected {
            callback_path: &self.callback_path,
            state: &self.state,
            issuer: auth_response::Issuer {
                value: &self.issuer,
                required: self.iss_required,
            },
        }
    }
}

/// One of the `max_connections` slots; handing it back is tied to drop, so a handler that ends
/// any way at all frees its slot.
struct ConnectionSlot {
    shared: Arc<Shared>,
}

impl ConnectionSlot {
    fn take(shared: &Arc<Shared>) -> Option<ConnectionSlot> {
        let max = shared.limits.max_connections;
        shared
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(ConnectionSlot {
            shared: Arc::clone(shared),
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.receiver_gone.load(Ordering::Acquire) {
            return;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(_) => {
                thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        // Over the limit, or no thread to be had: dropping the stream closes the connection.
        let Some(slot) = ConnectionSlot::take(shared) else {
            continue;
        };
        let _ = thread::Builder::new()
            .name("latchkey-callback".into())
            .spawn(move || handle_connection(stream, &slot.shared));
    }
}

fn handle_connection(mut stream: TcpStream, shared: &Shared) {
    let deadline = Instant::now() + shared.limits.deadline;
    // The head carries the code and state in its request line: wiped once answered.
    let mut head = vec![0u8; MAX_HEAD_BYTES];
    let read = read_head(&mut stream, &mut head, deadline, shared);
    let answer = answer_head(read, &head, &shared.expected());
    head.zeroize();
    let Some((reply, received)) = answer else {
        return;
    };
    // Write errors mean the client left; there is no one to tell.
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = stream.write_all(&reply.into_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    // Sent only after the page is out: the login may end the process as soon as it has this.
    if let Some(received) = received
        && shared.events.send(received).is_err()
    {
        shared.receiver_gone.store(true, Ordering::Release);
    }
    drain(&mut stream, deadline);
}

enum HeadRead {
    /// A complete head of this many bytes is at the start of the buffer.
    Complete(usize),
    TooLarge,
    Malformed,
    /// Closed, timed out or failed before a complete head: nothing worth answering.
    Gone,
}

/// Reads until httparse sees a complete head, the buffer is full, or time runs out.
fn read_head(
    stream: &mut TcpStream,
    buffer: &mut [u8],
    deadline: Instant,
    shared: &Shared,
) -> HeadRead {
    let mut filled = 0;
    loop {
        let Some(wait) = time_left(deadline) else {
            return HeadRead::Gone;
        };
        if stream
            .set_read_timeout(Some(wait.min(shared.limits.read_timeout)))
            .is_err()
        {
            return HeadRead::Gone;
        }
        let space = match buffer.get_mut(filled..) {
            Some(space) if !space.is_empty() => space,
            _ => return HeadRead::TooLarge,
        };
        let read = match stream.read(space) {
            Ok(0) => return HeadRead::Gone,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return HeadRead::Gone,
        };
        let new_bytes = buffer.get(filled..filled + read).unwrap_or_default();
        // Re-parsing only when a line may have ended keeps a byte-at-a-time sender from costing
        // a parse of the whole buffer per byte; the first read is parsed so garbage fails fast.
        let worth_parsing = filled == 0 || new_bytes.contains(&b'\n');
        filled += read;
        if !worth_parsing {
            continue;
        }
        if let Some(read) = parse_head(buffer.get(..filled).unwrap_or_default()) {
            return read;
        }
    }
}

/// What httparse makes of the bytes read so far; `None` while the head is incomplete.
fn parse_head(received: &[u8]) -> Option<HeadRead> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::Request::new(&mut headers).parse(received) {
        Ok(httparse::Status::Complete(len)) => Some(HeadRead::Complete(len)),
        Ok(httparse::Status::Partial) => None,
        Err(httparse::Error::TooManyHeaders) => Some(HeadRead::TooLarge),
        Err(_) => Some(HeadRead::Malformed),
    }
}

/// The page for what was read (`None`: no one to answer), and the response for the login.
fn answer_head(
    read: HeadRead,
    buffer: &[u8],
    expected: &Expected<'_>,
) -> Option<(Reply, Option<Received>)> {
    match read {
        HeadRead::Complete(len) => Some(respond(buffer.get(..len).unwrap_or_default(), expected)),
        HeadRead::TooLarge => Some((Reply::too_large(), None)),
        HeadRead::Malformed => Some((Reply::bad_request(), None)),
        HeadRead::Gone => None,
    }
}

/// The page for a complete request head, and the response to hand to the login, if any.
fn respond(head: &[u8], expected: &Expected<'_>) -> (Reply, Option<Received>) {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    if !matches!(request.parse(head), Ok(httparse::Status::Complete(_))) {
        return (Reply::bad_request(), None);
    }
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return (Reply::bad_request(), None);
    };
    // Browsers never send a fragment; should something else, it is not part of the query.
    let target = target.split_once('#').map_or(target, |(before, _)| before);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != expected.callback_path {
        return (Reply::not_found(), None);
    }
    if method != "GET" {
        return (Reply::method_not_allowed(), None);
    }
    match auth_response::from_query(query, expected.state, expected.issuer) {
        Ok(response) => {
            let reply = match &response {
                AuthResponse::Code { .. } => Reply::received(),
                AuthResponse::Refused {
                    error, description, ..
                } => Reply::refused(error.as_str(), description.as_deref()),
            };
            (reply, Some(Received::Response(response)))
        }
        Err(rejection) => (
            Reply::rejected(&rejection),
            Some(Received::Refused(rejection.to_string())),
        ),
    }
}

/// Reads and drops what the client still sends, briefly, so closing does not reset the page away.
fn drain(stream: &mut TcpStream, deadline: Instant) {
    let until = deadline.min(Instant::now() + DRAIN_TIME);
    let mut scratch = [0u8; 4096];
    let mut drained = 0;
    while drained < MAX_DRAIN_BYTES {
        let Some(wait) = time_left(until) else {
            return;
        };
        if stream.set_read_timeout(Some(wait)).is_err() {
            return;
        }
        match stream.read(&mut scratch) {
            Ok(0) => return,
            Ok(read) => drained += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Marks `name` spans of already escaped text as `<code>`, so the backticks the terminal
/// messages use do not show literally in the browser; an unpaired backtick stays as it is.
fn code_spans(escaped: &str) -> String {
    let pieces: Vec<&str> = escaped.split('`').collect();
    let mut out = String::with_capacity(escaped.len() + 16);
    for (i, piece) in pieces.iter().enumerate() {
        let inside = i % 2 == 1;
        let paired = inside && i + 1 < pieces.len();
        if inside && paired {
            out.push_str("<code>");
            out.push_str(piece);
            out.push_str("</code>");
        } else {
            if inside {
                out.push('`');
            }
            out.push_str(piece);
        }
    }
    out
}

/// Time until `deadline`, or None once it has passed (a zero read timeout is an error).
fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// A complete HTTP response: a status and a small self-contained HTML page.
struct Reply {
    status: u16,
    reason: &'static str,
    /// Sent with 405, as RFC 9110 §15.5.6 requires.
    allow_get: bool,
    body: String,
}

impl Reply {
    fn received() -> Reply {
        Reply::page(
            200,
            "OK",
            "Login received",
            &["You can close this tab and return to the terminal."],
        )
    }

    fn refused(error: &str, description: Option<&str>) -> Reply {
        let said = match description {
            Some(description) => format!("{error}: {description}"),
            None => error.to_owned(),
        };
        Reply::page(
            400,
            "Bad Request",
            "Login refused",
            &[
                &format!("The identity provider refused the login ({said})."),
                "You can close this tab; latchkey reports the error in the terminal.",
            ],
        )
    }

    fn rejected(rejection: &Rejection) -> Reply {
        Reply::page(
            400,
            "Bad Request",
            "Response not accepted",
            &[
                &format!("latchkey could not use this response: {rejection}."),
                "latchkey is still waiting for the right response: finish the login in the tab latchkey opened, or press Ctrl-C in the terminal to give up.",
            ],
        )
    }

    fn not_found() -> Reply {
        Reply::page(
            404,
            "Not Found",
            "Not found",
            &["latchkey listens only for the login redirect on this port."],
        )
    }

    fn method_not_allowed() -> Reply {
        Reply {
            allow_get: true,
            ..Reply::page(
                405,
                "Method Not Allowed",
                "Method not allowed",
                &["The login redirect is a GET request."],
            )
        }
    }

    fn bad_request() -> Reply {
        Reply::page(
            400,
            "Bad Request",
            "Bad request",
            &["latchkey could not read this request."],
        )
    }

    fn too_large() -> Reply {
        Reply::page(
            431,
            "Request Header Fields Too Large",
            "Request too large",
            &["The request's headers are larger than latchkey accepts."],
        )
    }

    /// A page whose every text (provider-supplied or not) is HTML-escaped.
    fn page(status: u16, reason: &'static str, title: &str, paragraphs: &[&str]) -> Reply {
        let title = escape_html(title);
        let mut body = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>latchkey: {title}</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;\
             padding:0 1rem;line-height:1.5}}</style></head>\n<body><h1>{title}</h1>\n"
        );
        for paragraph in paragraphs {
            body.push_str("<p>");
            body.push_str(&code_spans(&escape_html(paragraph)));
            body.push_str("</p>\n");
        }
        body.push_str("</body></html>\n");
        Reply {
            status,
            reason,
            allow_get: false,
            body,
        }
    }

    fn into_bytes(self) -> Vec<u8> {
        // The CSP is a second line of defence behind the escaping: no script runs on these pages,
        // and nothing loads from anywhere. `frame-ancestors`, `base-uri` and `form-action` are
        // named because `default-src` does not cover them: no other site may frame a page that
        // carries a login's outcome (X-Frame-Options says it to browsers without CSP 2).
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\n\
             Cache-Control: no-store\r\n\
             Connection: close\r\n\
             Referrer-Policy: no-referrer\r\n\
             Content-Security-Policy: {CONTENT_SECURITY_POLICY}\r\n\
             X-Frame-Options: DENY\r\n\
             X-Content-Type-Options: nosniff\r\n",
            self.status,
            self.reason,
            self.body.len()
        );
        if self.allow_get {
            head.push_str("Allow: GET\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }
}

/// What the loopback pages may load and who may embed them: nothing but their inline style.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::ExitCode;
    use std::sync::mpsc::{self, Receiver};

    const STATE: &str = "st8-Zq9";
    const ISSUER: &str = "https://login.example.com/";
    const EVENT_WAIT: Duration = Duration::from_secs(2);

    fn serve_with(limits: Limits) -> (u16, Receiver<Received>) {
        let listener = LoopbackListener::bind(0).unwrap().with_limits(limits);
        let port = listener.port();
        let (events, received) = mpsc::channel();
        listener.serve("/callback".into(), State::new(STATE), ISSUER.into(), events);
        (port, received)
    }

    fn serve() -> (u16, Receiver<Received>) {
        serve_with(DEFAULT_LIMITS)
    }

    fn connect(port: u16) -> TcpStream {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
    }

    /// Sends raw bytes and reads the whole answer (whatever arrived, if the server closed early).
    fn exchange(port: u16, request: &[u8]) -> String {
        let mut stream = connect(port);
        let _ = stream.write_all(request);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    fn get(port: u16, target: &str) -> String {
        exchange(
            port,
            format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/html\r\n\r\n")
                .as_bytes(),
        )
    }

    fn status(answer: &str) -> u16 {
        answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {answer:?}"))
    }

    fn response_of(received: Received) -> AuthResponse {
        match received {
            Received::Response(response) => response,
            Received::Refused(why) => panic!("refused: {why}"),
        }
    }

    /// The listener told the login that it refused a response (the terminal says why), and
    /// handed it no response to use; the reason mentions `about`.
    fn assert_refused(events: &Receiver<Received>, about: &str) {
        match events.recv_timeout(EVENT_WAIT).unwrap() {
            Received::Refused(why) => assert!(why.contains(about), "{why}"),
            Received::Response(response) => panic!("accepted {response:?}"),
        }
        assert!(events.recv_timeout(Duration::from_millis(200)).is_err());
    }

    fn code_of(received: Received) -> String {
        match response_of(received) {
            AuthResponse::Code { code, .. } => code.secret().to_owned(),
            other => panic!("expected a code, got {other:?}"),
        }
    }

    #[test]
    fn good_callback_gets_200_and_sends_the_code() {
        let (port, events) = serve();
        let answer = get(port, &format!("/callback?code=c0de-1&state={STATE}"));
        assert_eq!(status(&answer), 200, "{answer}");
        assert!(answer.contains("Login received"), "{answer}");
        assert_eq!(
            answer.matches("Login received").count(),
            2,
            "title and heading once each: {answer}"
        );
        let event = events.recv_timeout(EVENT_WAIT).unwrap();
        assert_eq!(code_of(event), "c0de-1");
    }

    #[test]
    fn pages_carry_the_required_headers() {
        let (port, _events) = serve();
        let answer = get(port, "/callback?code=c&state=wrong");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        for header in [
            "Content-Type: text/html; charset=utf-8",
            "Cache-Control: no-store",
            "Connection: close",
            "Referrer-Policy: no-referrer",
            "X-Content-Type-Options: nosniff",
            "X-Frame-Options: DENY",
            "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n",
            &format!("Content-Length: {}", body.len()),
        ] {
            assert!(head.contains(header), "{header} missing from {head}");
        }
        assert!(
            !answer.contains(STATE) && !answer.contains("wrong"),
            "{answer}"
        );
    }

    #[test]
    fn wrong_state_gets_400_and_the_login_keeps_waiting() {
        let (port, events) = serve();
        let answer = get(port, "/callback?code=c0de-sekrit&state=guess");
        assert_eq!(status(&answer), 400, "{answer}");
        assert!(
            answer.contains("still waiting for the right response"),
            "{answer}"
        );
        assert!(
            !answer.contains("sekrit") && !answer.contains("guess"),
            "{answer}"
        );
        assert_refused(&events, "state");

        let answer = get(port, &format!("/callback?state={STATE}&code=real"));
        assert_eq!(status(&answer), 200, "{answer}");
        assert_eq!(code_of(events.recv_timeout(EVENT_WAIT).unwrap()), "real");
    }

    #[test]
    fn missing_state_gets_400() {
        let (port, events) = serve();
        let answer = get(port, "/callback?code=abc");
        assert_eq!(status(&answer), 400, "{answer}");
        assert_refused(&events, "state");
    }

    #[test]
    fn refusal_is_escaped_and_sent() {
        let (port, events) = serve();
        let target = format!(
            "/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C/script%3E&state={STATE}"
        );
        let answer = get(port, &target);
        assert_eq!(status(&answer), 400, "{answer}");
        assert!(!answer.contains("<script>"), "{answer}");
        assert!(
            answer.contains("access_denied: &lt;script&gt;alert(1)&lt;/script&gt;"),
            "{answer}"
        );
        match response_of(events.recv_timeout(EVENT_WAIT).unwrap()) {
            AuthResponse::Refused {
                error, description, ..
            } => {
                assert_eq!(error, crate::base::error::OAuthCode::AccessDenied);
                assert_eq!(description.as_deref(), Some("<script>alert(1)</script>"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_path_gets_404() {
        let (port, events) = serve();
        let answer = get(port, &format!("/favicon.ico?code=abc&state={STATE}"));
        assert_eq!(status(&answer), 404, "{answer}");
        assert_eq!(status(&get(port, "/callback/extra")), 404);
        assert!(events.recv_timeout(Duration::from_millis(200)).is_err());
    }

    #[test]
    fn post_gets_405() {
        let (port, events) = serve();
        let request = format!(
            "POST /callback?code=abc&state={STATE} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        );
        let answer = exchange(port, request.as_bytes());
        assert_eq!(status(&answer), 405, "{answer}");
        assert!(answer.contains("Allow: GET\r\n"), "{answer}");
        assert!(events.recv_timeout(Duration::from_millis(200)).is_err());
    }

    #[test]
    fn garbage_gets_400() {
        let (port, _events) = serve();
        for garbage in [
            &b"\x00\x01\x02\xff\xfe garbage"[..],
            b"GET\r\n\r\n",
            b"GET /callback HTTP/9.9\r\n\r\n",
            b"G E T / HTTP/1.1\r\n\r\n",
            b"GET /callback HTTP/1.1\r\nbad header\r\n\r\n",
        ] {
            let answer = exchange(port, garbage);
            assert_eq!(status(&answer), 400, "{garbage:?}: {answer}");
        }
    }

    #[test]
    fn malformed_query_gets_400() {
        let (port, events) = serve();
        let answer = get(port, &format!("/callback?code=%zz&state={STATE}"));
        assert_eq!(status(&answer), 400, "{answer}");
        assert_refused(&events, "");
    }

    #[test]
    fn oversized_head_gets_431_without_hanging() {
        let (port, _events) = serve();
        let started = Instant::now();
        let mut request = b"GET /callback HTTP/1.1\r\nX-Filler: ".to_vec();
        request.resize(request.len() + 20 * 1024, b'a');
        request.extend_from_slice(b"\r\n\r\n");
        let answer = exchange(port, &request);
        assert!(answer.is_empty() || status(&answer) == 431, "{answer}");
        assert!(started.elapsed() < Duration::from_secs(4));

        let many_headers: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
        let answer = exchange(
            port,
            format!("GET / HTTP/1.1\r\n{many_headers}\r\n").as_bytes(),
        );
        assert!(answer.is_empty() || status(&answer) == 431, "{answer}");
    }

    #[test]
    fn idle_connection_does_not_block_a_callback() {
        let (port, events) = serve();
        let _idle = connect(port);
        let _half_sent = {
            let mut stream = connect(port);
            stream.write_all(b"GET /callback?co").unwrap();
            stream
        };
        let started = Instant::now();
        let answer = get(port, &format!("/callback?code=abc&state={STATE}"));
        assert_eq!(status(&answer), 200, "{answer}");
        assert_eq!(code_of(events.recv_timeout(EVENT_WAIT).unwrap()), "abc");
        assert!(started.elapsed() < EVENT_WAIT);
    }

    #[test]
    fn slow_sender_is_cut_off_at_the_deadline() {
        let (port, _events) = serve_with(Limits {
            read_timeout: Duration::from_millis(500),
            deadline: Duration::from_millis(800),
            ..DEFAULT_LIMITS
        });
        let mut stream = connect(port);
        let started = Instant::now();
        let mut cut_off = false;
        // A byte every 100 ms never trips the read timeout, only the overall deadline.
        stream.write_all(b"GET /callback HTTP/1.1\r\n").unwrap();
        for byte in b"X-Slow: a\r\n".iter().cycle() {
            if stream.write_all(&[*byte]).is_err() {
                cut_off = true;
                break;
            }
            if started.elapsed() > Duration::from_secs(4) {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        assert!(cut_off, "the connection was still open after 4 s");
    }

    #[test]
    fn connections_beyond_the_limit_are_closed() {
        let (port, events) = serve_with(Limits {
            max_connections: 2,
            ..DEFAULT_LIMITS
        });
        let first = connect(port);
        let second = connect(port);
        thread::sleep(Duration::from_millis(100));
        let mut third = connect(port);
        let mut buffer = [0u8; 16];
        let read = third.read(&mut buffer);
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

        // Closing the idle ones frees their slots.
        drop((first, second));
        let started = Instant::now();
        loop {
            let answer = get(port, &format!("/callback?code=abc&state={STATE}"));
            if !answer.is_empty() {
                assert_eq!(status(&answer), 200, "{answer}");
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "slots were not freed"
            );
            thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(code_of(events.recv_timeout(EVENT_WAIT).unwrap()), "abc");
    }

    #[test]
    fn serving_goes_on_after_the_receiver_is_gone() {
        let (port, events) = serve();
        drop(events);
        let answer = get(port, &format!("/callback?code=abc&state={STATE}"));
        assert_eq!(status(&answer), 200, "{answer}");
    }

    #[test]
    fn port_in_use_is_a_config_error_naming_the_port() {
        let taken = LoopbackListener::bind(0).unwrap();
        let port = taken.port();
        let error = LoopbackListener::bind(port).unwrap_err();
        assert_eq!(error.exit_code(), ExitCode::Config);
        assert!(error.message().contains(&port.to_string()), "{error}");
        assert!(error.hint_text().unwrap().contains("redirect_port"));
    }

    #[test]
    fn escapes_html_specials() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn backticks_become_code_and_an_unpaired_one_stays() {
        assert_eq!(
            code_spans("set `state` and `iss`"),
            "set <code>state</code> and <code>iss</code>"
        );
        assert_eq!(code_spans("a `b"), "a `b");
        assert_eq!(code_spans("none"), "none");
    }
}
