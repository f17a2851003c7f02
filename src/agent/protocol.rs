//! The agent protocol, version 1: one JSON object per line each way, every line at most
//! [`MAX_LINE`] bytes. A request names its version; an agent answers a version it does not
//! speak with an error that says both, so an older client and a newer agent fail clearly.

use crate::base::error::{Error, ExitCode};
use crate::base::secret::{ServedToken, Wiped, extend_wiped};
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
/// (`ok` is false but for the answer itself: lines read the same as in earlier versions.)
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer<T> {
    Progress {
        line: String,
        #[serde(default)]
        ok: bool,
    },
    /// The failure as the client reports it: the same words and exit status as if the command
    /// had run where the agent runs.
    Failed {
        #[serde(default)]
        ok: bool,
        exit: i32,
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
    Done {
        ok: bool,
        #[serde(flatten)]
        answer: T,
    },
}

impl<T> Answer<T> {
    pub fn done(answer: T) -> Answer<T> {
        Answer::Done { ok: true, answer }
    }

    pub fn failed(error: &Error) -> Answer<T> {
        Answer::Failed {
            ok: false,
            exit: error.exit_code().code(),
            error: error.message().to_owned(),
            hint: error.hint_text().map(str::to_owned),
        }
    }

    pub fn progress(line: String) -> Answer<T> {
        Answer::Progress { line, ok: false }
    }
}

/// The answer to [`Request::Token`]: never a refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub token: ServedToken,
    /// Unix seconds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The answer to [`Request::Status`]: one report per profile, as `latchkey status --json`
/// prints them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusAnswer {
    pub status: Vec<crate::store::report::StatusReport>,
    pub pid: u32,
}

/// The answer to [`Request::Hello`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HelloAnswer {
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
}

/// The answer to [`Request::Stop`], sent just before the agent ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stopped {
    pub pid: u32,
}

/// The answer to [`Request::Login`]: the login succeeded where the agent runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggedIn {}

/// An answer as the line the agent sends.
pub fn answer_line<T: Serialize>(answer: &Answer<T>) -> Wiped {
    to_line(&Versioned {
        v: VERSION,
        message: answer,
    })
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

/// A message as one line (JSON has no raw newlines in it), in memory wiped when dropped: an
/// answer holds a token. Written into room for the longest line, so that growing leaves no
/// unwiped copy behind.
fn to_line<T: Serialize>(message: &T) -> Wiped {
    let mut line = Wiped::new(Vec::with_capacity(MAX_LINE + 1));
    if serde_json::to_writer(&mut *line, message).is_err() {
        line.clear();
        line.extend_from_slice(b"{}");
    }
    line.push(b'\n');
    line
}

/// Reads the lines of a stream, each at most [`MAX_LINE`] bytes, holding what it has read in
/// memory that is wiped when dropped (lines carry tokens), where a `BufReader` would leave them
/// in a buffer of its own.
pub struct LineReader<R> {
    inner: R,
    /// What was read and not yet returned: never more than a line and one read past it.
    pending: Wiped,
}

/// How much one read takes.
const CHUNK: usize = 4096;

impl<R: std::io::Read> LineReader<R> {
    pub fn new(inner: R) -> LineReader<R> {
        LineReader {
            inner,
            pending: Wiped::new(Vec::with_capacity(MAX_LINE + 1 + CHUNK)),
        }
    }

    /// The next line (without its newline); `Ok(None)` at the end of the stream. A line that
    /// does not end within the limit is an error, and nothing more is read.
    pub fn read_line(&mut self) -> std::io::Result<Option<Wiped>> {
        let mut chunk = zeroize::Zeroizing::new([0u8; CHUNK]);
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                if end > MAX_LINE {
                    return Err(too_long());
                }
                let mut line = Wiped::new(Vec::with_capacity(end));
                line.extend_from_slice(&self.pending[..end]);
                // Shifted down in place: the allocation, wiped when dropped, stays the same.
                self.pending.drain(..=end);
                return Ok(Some(line));
            }
            if self.pending.len() > MAX_LINE {
                return Err(too_long());
            }
            let read = match self.inner.read(&mut chunk[..]) {
                Ok(read) => read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if read == 0 {
                return if self.pending.is_empty() {
                    Ok(None)
                } else {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "the connection ended in the middle of a message",
                    ))
                };
            }
            extend_wiped(&mut self.pending, &chunk[..read]);
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
        let line = answer_line(&Answer::<LoggedIn>::failed(&sent));
        let Ok(Answer::<LoggedIn>::Failed {
            exit, error, hint, ..
        }) = serde_json::from_slice(&line[..line.len() - 1])
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
    fn answers_read_as_the_previous_version_wrote_them() {
        // It wrote `"ok":false` on progress and failures, and every answer in one shape.
        let progress: Answer<LoggedIn> =
            serde_json::from_str(r#"{"v":1,"ok":false,"line":"Logging in"}"#).unwrap();
        assert!(matches!(progress, Answer::Progress { line, .. } if line == "Logging in"));
        let failed: Answer<TokenAnswer> =
            serde_json::from_str(r#"{"v":1,"ok":false,"exit":4,"error":"no","hint":"log in"}"#)
                .unwrap();
        assert!(matches!(failed, Answer::Failed { exit: 4, .. }));
        let stopped: Answer<Stopped> =
            serde_json::from_str(r#"{"v":1,"ok":true,"pid":42}"#).unwrap();
        assert!(matches!(
            stopped,
            Answer::Done {
                ok: true,
                answer: Stopped { pid: 42 }
            }
        ));
        // An answer without what the request asked for is no answer to it.
        assert!(serde_json::from_str::<Answer<TokenAnswer>>(r#"{"v":1,"ok":true}"#).is_err());
    }

    #[test]
    fn an_answer_carries_its_token_on_the_wire_but_never_in_debug_output() {
        let answer = Answer::done(TokenAnswer {
            token: ServedToken::new("eyJ-served-token"),
            expires_at: None,
            token_type: "Bearer".into(),
            scope: None,
        });
        let line = String::from_utf8(answer_line(&answer).to_vec()).unwrap();
        assert!(line.starts_with("{\"v\":1,\"ok\":true,"), "{line}");
        assert!(line.contains("\"token\":\"eyJ-served-token\""), "{line}");
        let Answer::Done { answer: read, .. } =
            serde_json::from_str::<Answer<TokenAnswer>>(line.trim_end()).unwrap()
        else {
            panic!("not read back as a token")
        };
        assert_eq!(read.token.secret(), "eyJ-served-token");
        assert!(!format!("{read:?}").contains("eyJ-served-token"));
    }
}
