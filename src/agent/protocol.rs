//! The agent protocol, version 1: one JSON object per line each way, every line at most
//! [`MAX_LINE`] bytes. A request names its version; an agent answers a version it does not
//! speak with an error that says both, so an older client and a newer agent fail clearly.

use crate::base::error::{Error, ExitCode};
use crate::base::secret::{ServedToken, Wiped, WipedWriter, extend_wiped};
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// The longest line either side sends or accepts: an answer carries a token (a few KB) or a
/// status report; anything near this is not latchkey talking.
pub const MAX_LINE: usize = 64 * 1024;

/// One request, tagged by its operation (`"op"`), with the fields that operation takes and no
/// other: a field another operation takes, or no operation at all, is refused by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    /// The agent's pid and the profiles it serves.
    Hello {},
    /// An access token (or the ID token) of a profile, good for `min_valid` seconds more (60
    /// when absent); with `audience`, another API's access token with these scopes.
    Token {
        /// A profile of the agent's; absent: the agent's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        profile: Option<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        id_token: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_valid: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audience: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        scopes: Vec<String>,
    },
    /// One profile's status report, or with `all` every served profile's.
    Status {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        profile: Option<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        all: bool,
    },
    /// A login on the agent's host: `args` are what `latchkey login` would take after `-p
    /// NAME` (`--fresh`, `--scope S`, …), checked by the agent against the flags it allows.
    Login {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        profile: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        args: Vec<String>,
    },
    /// Ends the agent.
    Stop {},
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Request {
    /// Every operation's name, as the wire has it (what [`Request::op`] says of each).
    pub const OPS: [&'static str; 5] = ["hello", "token", "status", "login", "stop"];

    /// The operation's name, as the wire has it.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Hello {} => "hello",
            Request::Token { .. } => "token",
            Request::Status { .. } => "status",
            Request::Login { .. } => "login",
            Request::Stop {} => "stop",
        }
    }

    /// The profile it names, if it names one.
    pub fn profile(&self) -> Option<&str> {
        match self {
            Request::Token { profile, .. }
            | Request::Status { profile, .. }
            | Request::Login { profile, .. } => profile.as_deref(),
            Request::Hello {} | Request::Stop {} => None,
        }
    }
}

/// A line on the wire: the protocol version, then the message's own fields.
#[derive(Serialize)]
struct Versioned<'a, T> {
    v: u32,
    #[serde(flatten)]
    message: &'a T,
}

/// A request as the line a client sends.
pub fn request_line(request: &Request) -> Wiped {
    to_line(&Versioned {
        v: VERSION,
        message: request,
    })
}

/// One line of an answer: progress (a login's output, line by line), the request's failure,
/// or the answer itself (`T`, the operation's: [`TokenAnswer`], [`StatusAnswer`], …), after
/// which nothing more comes.
#[derive(Debug, Clone)]
pub enum Answer<T> {
    Progress(String),
    /// The failure as the client reports it: the same words and exit status as if the command
    /// had run where the agent runs.
    Failed {
        exit: i32,
        error: String,
        hint: Option<String>,
    },
    Done(T),
}

impl<T> Answer<T> {
    pub fn failed(error: &Error) -> Answer<T> {
        Answer::Failed {
            exit: error.exit_code().code(),
            error: error.message().to_owned(),
            hint: error.hint_text().map(str::to_owned),
        }
    }
}

/// Every answer line as the wire carries it: one shape, the fields of whichever answer it is,
/// in the order and with the names earlier versions wrote (`ok` false but for the answer
/// itself). One shape read and written, rather than one per answer type, keeps the code that
/// reads it small; [`Answer`] and the answer types are what the rest of latchkey sees.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WireAnswer {
    #[serde(default)]
    v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line: Option<String>,
    #[serde(default)]
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<ServedToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<Vec<crate::store::report::StatusReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    profiles: Vec<String>,
}

/// An operation's answer, and how it sits on the wire.
pub trait Body: Sized {
    /// Its fields, onto an answer line.
    fn write(self, wire: &mut WireAnswer);
    /// It, from an answer line; `None` when the line lacks what it must hold.
    fn read(wire: WireAnswer) -> Option<Self>;
}

/// The answer to [`Request::Token`]: never a refresh token.
#[derive(Debug, Clone)]
pub struct TokenAnswer {
    pub token: ServedToken,
    /// Unix seconds, when known.
    pub expires_at: Option<u64>,
    pub token_type: String,
    pub scope: Option<String>,
}

impl Body for TokenAnswer {
    fn write(self, wire: &mut WireAnswer) {
        wire.token = Some(self.token);
        wire.expires_at = self.expires_at;
        wire.token_type = Some(self.token_type);
        wire.scope = self.scope;
    }

    fn read(wire: WireAnswer) -> Option<Self> {
        Some(TokenAnswer {
            token: wire.token?,
            expires_at: wire.expires_at,
            token_type: wire.token_type?,
            scope: wire.scope,
        })
    }
}

/// The answer to [`Request::Status`]: one report per profile, as `latchkey status --json`
/// prints them.
#[derive(Debug, Clone)]
pub struct StatusAnswer {
    pub status: Vec<crate::store::report::StatusReport>,
    pub pid: u32,
}

impl Body for StatusAnswer {
    fn write(self, wire: &mut WireAnswer) {
        wire.status = Some(self.status);
        wire.pid = Some(self.pid);
    }

    fn read(wire: WireAnswer) -> Option<Self> {
        Some(StatusAnswer {
            status: wire.status?,
            pid: wire.pid?,
        })
    }
}

/// The answer to [`Request::Hello`].
#[derive(Debug, Clone)]
pub struct HelloAnswer {
    pub pid: u32,
    pub profiles: Vec<String>,
}

impl Body for HelloAnswer {
    fn write(self, wire: &mut WireAnswer) {
        wire.pid = Some(self.pid);
        wire.profiles = self.profiles;
    }

    fn read(wire: WireAnswer) -> Option<Self> {
        Some(HelloAnswer {
            pid: wire.pid?,
            profiles: wire.profiles,
        })
    }
}

/// The answer to [`Request::Stop`], sent just before the agent ends.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub pid: u32,
}

impl Body for Stopped {
    fn write(self, wire: &mut WireAnswer) {
        wire.pid = Some(self.pid);
    }

    fn read(wire: WireAnswer) -> Option<Self> {
        Some(Stopped { pid: wire.pid? })
    }
}

/// The answer to [`Request::Login`]: the login succeeded where the agent runs.
#[derive(Debug, Clone)]
pub struct LoggedIn {}

impl Body for LoggedIn {
    fn write(self, _: &mut WireAnswer) {}

    fn read(_: WireAnswer) -> Option<Self> {
        Some(LoggedIn {})
    }
}

/// An answer as the line the agent sends.
pub fn answer_line<T: Body>(answer: Answer<T>) -> Wiped {
    let mut wire = WireAnswer {
        v: VERSION,
        ..WireAnswer::default()
    };
    match answer {
        Answer::Progress(line) => wire.line = Some(line),
        Answer::Failed { exit, error, hint } => {
            wire.exit = Some(exit);
            wire.error = Some(error);
            wire.hint = hint;
        }
        Answer::Done(body) => {
            wire.ok = true;
            body.write(&mut wire);
        }
    }
    to_line(&wire)
}

/// An answer line (without its newline) as the answer `T` it must be; `None` when it is no
/// latchkey agent answer, or not that one.
pub fn read_answer<T: Body>(line: &[u8]) -> Option<Answer<T>> {
    let wire: WireAnswer = serde_json::from_slice(line).ok()?;
    if let Some(progress) = wire.line {
        return Some(Answer::Progress(progress));
    }
    if !wire.ok {
        return Some(Answer::Failed {
            exit: wire.exit.unwrap_or(1),
            error: wire
                .error
                .unwrap_or_else(|| "the agent failed without saying why".to_owned()),
            hint: wire.hint,
        });
    }
    T::read(wire).map(Answer::Done)
}

/// A failure the agent reported, as an error of this process. The agent's words are outside
/// text here, and shown escaped.
pub fn failure(exit: i32, error: &str, hint: Option<&str>) -> Error {
    let code = ExitCode::from_code(exit);
    let message = crate::base::text::escape_controls(error);
    let failed = Error::new(code, format!("agent: {message}"));
    match hint {
        Some(hint) => failed.hint(crate::base::text::escape_controls(hint)),
        None => failed,
    }
}

/// Reads one request line (without its newline), strictly: bounded, UTF-8, JSON, this
/// protocol's version, a known operation with its own fields and no other. The error is for
/// the client to read.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    if line.len() > MAX_LINE {
        return Err(format!("the request is longer than {MAX_LINE} bytes"));
    }
    let text = std::str::from_utf8(line).map_err(|_| "the request is not UTF-8".to_owned())?;
    let not_a_request =
        |e: serde_json::Error| format!("the request is not a latchkey agent request: {e}");
    let mut fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(not_a_request)?;
    // The version first, so that a newer client's request (with fields this agent does not
    // know) is refused for its version, not for its fields.
    let version = match fields.remove("v") {
        Some(v) => serde_json::from_value::<u32>(v).map_err(not_a_request)?,
        None => {
            return Err("the request is not a latchkey agent request: missing field `v`".into());
        }
    };
    if version != VERSION {
        return Err(format!(
            "this agent speaks protocol version {VERSION}, the client {version}: use the same latchkey version on both sides"
        ));
    }
    if let Some(serde_json::Value::String(op)) = fields.get("op")
        && !Request::OPS.contains(&op.as_str())
    {
        return Err(format!(
            "unknown operation {}",
            crate::base::text::quoted(op)
        ));
    }
    let request: Request =
        serde_json::from_value(serde_json::Value::Object(fields)).map_err(not_a_request)?;
    if request.profile().is_some_and(|p| p.len() > 200) {
        return Err("the profile name is too long".into());
    }
    Ok(request)
}

/// A message as one line (JSON has no raw newlines in it), in memory wiped when dropped, growth
/// included: an answer holds a token.
fn to_line<T: Serialize>(message: &T) -> Wiped {
    let mut line = WipedWriter(Wiped::new(Vec::with_capacity(LINE_ROOM)));
    if serde_json::to_writer(&mut line, message).is_err() {
        line.0.clear();
        line.0.extend_from_slice(b"{}");
    }
    extend_wiped(&mut line.0, b"\n");
    line.0
}

/// Room a line starts with (a request fits; an answer grows by doubling, each outgrown buffer
/// wiped), and the room reads start with. Small, as what is wiped when dropped is the whole
/// allocation.
const LINE_ROOM: usize = 256;
const FIRST_ROOM: usize = 1024;

/// Reads the lines of a stream, each at most [`MAX_LINE`] bytes, holding what it has read in
/// memory that is wiped when dropped (lines carry tokens), where a `BufReader` would leave them
/// in a buffer of its own.
pub struct LineReader<R> {
    inner: R,
    /// Zeroed memory that reads land in; doubled (the old one wiped) when full.
    buffer: Vec<u8>,
    /// How much of `buffer` holds what was read and not yet returned: never more than a line
    /// and one read past it.
    filled: usize,
    /// How much of `buffer` was ever written: what is wiped when the reader is dropped.
    touched: usize,
}

impl<R> Drop for LineReader<R> {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.buffer[..self.touched].zeroize();
    }
}

impl<R: std::io::Read> LineReader<R> {
    pub fn new(inner: R) -> LineReader<R> {
        LineReader {
            inner,
            buffer: vec![0; FIRST_ROOM],
            filled: 0,
            touched: 0,
        }
    }

    /// The next line (without its newline); `Ok(None)` at the end of the stream. A line that
    /// does not end within the limit is an error, and nothing more is read.
    pub fn read_line(&mut self) -> std::io::Result<Option<Wiped>> {
        loop {
            if let Some(end) = self.buffer[..self.filled].iter().position(|&b| b == b'\n') {
                if end > MAX_LINE {
                    return Err(too_long());
                }
                let mut line = Wiped::new(Vec::with_capacity(end));
                line.extend_from_slice(&self.buffer[..end]);
                // What follows the line moves to the front, in the same wiped memory.
                self.buffer.copy_within(end + 1..self.filled, 0);
                self.filled -= end + 1;
                return Ok(Some(line));
            }
            if self.filled > MAX_LINE {
                return Err(too_long());
            }
            if self.filled == self.buffer.len() {
                let mut grown = vec![0; self.buffer.len() * 2];
                grown[..self.filled].copy_from_slice(&self.buffer[..self.filled]);
                let mut outgrown = std::mem::replace(&mut self.buffer, grown);
                zeroize::Zeroize::zeroize(&mut outgrown[..]);
            }
            let read = match self.inner.read(&mut self.buffer[self.filled..]) {
                Ok(read) => read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if read == 0 {
                return if self.filled == 0 {
                    Ok(None)
                } else {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "the connection ended in the middle of a message",
                    ))
                };
            }
            self.filled += read;
            self.touched = self.touched.max(self.filled);
        }
    }
}

fn too_long() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("a message longer than {MAX_LINE} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips_and_leaves_out_what_it_does_not_use() {
        let request = Request::Token {
            profile: Some("dev".into()),
            id_token: false,
            min_valid: Some(60),
            audience: None,
            scopes: Vec::new(),
        };
        let line = request_line(&request);
        assert_eq!(
            &line[..],
            b"{\"v\":1,\"op\":\"token\",\"profile\":\"dev\",\"min_valid\":60}\n"
        );
        assert_eq!(parse_request(&line[..line.len() - 1]).unwrap(), request);
    }

    #[test]
    fn every_operation_is_named_as_the_wire_names_it() {
        let every = [
            Request::Hello {},
            Request::Token {
                profile: None,
                id_token: false,
                min_valid: None,
                audience: None,
                scopes: Vec::new(),
            },
            Request::Status {
                profile: None,
                all: false,
            },
            Request::Login {
                profile: None,
                args: Vec::new(),
            },
            Request::Stop {},
        ];
        let named: Vec<String> = every
            .iter()
            .map(|request| serde_json::to_value(request).unwrap()["op"].to_string())
            .collect();
        let listed: Vec<String> = Request::OPS.iter().map(|op| format!("{op:?}")).collect();
        assert_eq!(named, listed);
        for request in &every {
            assert_eq!(serde_json::to_value(request).unwrap()["op"], request.op());
        }
    }

    #[test]
    fn requests_are_read_strictly() {
        for (line, why) in [
            ("not json", "not a latchkey agent request"),
            ("{\"op\":\"token\"}", "not a latchkey agent request"),
            (
                "{\"v\":2,\"op\":\"token\",\"new\":1}",
                "protocol version 1, the client 2",
            ),
            ("{\"v\":1,\"op\":\"token\",\"extra\":1}", "unknown field"),
            (
                "{\"v\":1,\"op\":\"status\",\"id_token\":true}",
                "unknown field `id_token`",
            ),
            (
                "{\"v\":1,\"op\":\"stop\",\"all\":true}",
                "unknown field `all`",
            ),
            (
                "{\"v\":1,\"op\":\"reboot\"}",
                "unknown operation \"reboot\"",
            ),
            ("{\"v\":1}", "missing field `op`"),
            (
                "{\"v\":1,\"op\":\"token\",\"min_valid\":-1}",
                "not a latchkey agent request",
            ),
        ] {
            let e = parse_request(line.as_bytes()).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
        }
        assert!(parse_request(&[0xff, b'{']).unwrap_err().contains("UTF-8"));
        let long = format!("{{\"v\":1,\"op\":\"{}\"}}", "x".repeat(MAX_LINE));
        assert!(
            parse_request(long.as_bytes())
                .unwrap_err()
                .contains("longer")
        );
    }

    #[test]
    fn lines_are_bounded_and_an_unfinished_one_is_an_error() {
        let mut ok = LineReader::new(&b"{\"a\":1}\n{}\nrest"[..]);
        assert_eq!(&ok.read_line().unwrap().unwrap()[..], b"{\"a\":1}");
        assert_eq!(&ok.read_line().unwrap().unwrap()[..], b"{}");
        assert!(ok.read_line().is_err(), "a line without its newline");
        assert!(LineReader::new(&b""[..]).read_line().unwrap().is_none());
        let huge = vec![b'x'; MAX_LINE + 10];
        let e = LineReader::new(&huge[..]).read_line().unwrap_err();
        assert!(e.to_string().contains("longer than"), "{e}");
        // The longest line there may be, and one byte more, however the reads fall.
        let mut longest = vec![b'x'; MAX_LINE];
        longest.push(b'\n');
        assert_eq!(
            LineReader::new(&longest[..])
                .read_line()
                .unwrap()
                .unwrap()
                .len(),
            MAX_LINE
        );
        longest.insert(0, b'x');
        assert!(LineReader::new(&longest[..]).read_line().is_err());
    }

    #[test]
    fn a_failure_comes_back_with_its_exit_status_and_escaped_words() {
        let sent = Error::login_required("profile `dev` is not logged in\u{1b}[2J").hint("log in");
        let line = answer_line(Answer::<LoggedIn>::failed(&sent));
        let Some(Answer::<LoggedIn>::Failed { exit, error, hint }) =
            read_answer(&line[..line.len() - 1])
        else {
            panic!("not read back as a failure")
        };
        let back = failure(exit, &error, hint.as_deref());
        assert_eq!(back.exit_code(), ExitCode::LoginRequired);
        assert!(back.message().starts_with("agent: profile `dev`"));
        assert!(!back.message().contains('\u{1b}'));
        assert_eq!(back.hint_text(), Some("log in"));
    }

    #[test]
    fn answers_are_written_and_read_as_the_previous_version_wrote_them() {
        // It wrote `"ok":false` on progress and failures, and every answer in one shape.
        let progress = read_answer::<LoggedIn>(br#"{"v":1,"ok":false,"line":"Logging in"}"#);
        assert!(matches!(progress, Some(Answer::Progress(line)) if line == "Logging in"));
        let failed = read_answer::<TokenAnswer>(
            br#"{"v":1,"ok":false,"exit":4,"error":"no","hint":"log in"}"#,
        );
        assert!(matches!(failed, Some(Answer::Failed { exit: 4, .. })));
        let stopped = read_answer::<Stopped>(br#"{"v":1,"ok":true,"pid":42}"#);
        assert!(matches!(stopped, Some(Answer::Done(Stopped { pid: 42 }))));
        // An answer without what the request asked for is no answer to it.
        assert!(read_answer::<TokenAnswer>(br#"{"v":1,"ok":true}"#).is_none());
        assert!(read_answer::<TokenAnswer>(b"not json").is_none());
        // And what this version writes, byte for byte the previous version's lines.
        let progress = answer_line(Answer::<LoggedIn>::Progress("hi".into()));
        assert_eq!(&progress[..], b"{\"v\":1,\"line\":\"hi\",\"ok\":false}\n");
        let failed = answer_line(Answer::<LoggedIn>::failed(
            &Error::config("bad").hint("fix"),
        ));
        assert_eq!(
            &failed[..],
            b"{\"v\":1,\"ok\":false,\"exit\":3,\"error\":\"bad\",\"hint\":\"fix\"}\n"
        );
        let stopped = answer_line(Answer::Done(Stopped { pid: 7 }));
        assert_eq!(&stopped[..], b"{\"v\":1,\"ok\":true,\"pid\":7}\n");
    }

    #[test]
    fn an_answer_carries_its_token_on_the_wire_but_never_in_debug_output() {
        let answer = Answer::Done(TokenAnswer {
            token: ServedToken::new("eyJ-served-token"),
            expires_at: None,
            token_type: "Bearer".into(),
            scope: None,
        });
        let line = String::from_utf8(answer_line(answer).to_vec()).unwrap();
        assert!(line.starts_with("{\"v\":1,\"ok\":true,"), "{line}");
        assert!(line.contains("\"token\":\"eyJ-served-token\""), "{line}");
        let Some(Answer::Done(read)) = read_answer::<TokenAnswer>(line.trim_end().as_bytes())
        else {
            panic!("not read back as a token")
        };
        assert_eq!(read.token.secret(), "eyJ-served-token");
        assert!(!format!("{read:?}").contains("eyJ-served-token"));
    }
}
