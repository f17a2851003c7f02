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

/// One request. Fields an operation does not use are left out.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The protocol version of the sender.
    pub v: u32,
    /// `hello`, `token`, `status`, `login` or `stop`.
    pub op: String,
    /// A profile of the agent's; absent: the agent's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `token`: the ID token instead of the access token.
    #[serde(default, skip_serializing_if = "is_false")]
    pub id_token: bool,
    /// `token`: seconds the token must still be valid for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_valid: Option<u64>,
    /// `token`: another API's token (`--audience`), with these scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// `status`: every profile the agent serves.
    #[serde(default, skip_serializing_if = "is_false")]
    pub all: bool,
    /// `login`: what `latchkey login` would take after `-p NAME` (`--fresh`, `--device`, …),
    /// checked by the agent against the flags it allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One answer line. A login sends `line`s of progress before its final answer.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Response {
    pub v: u32,
    /// A line of a login's progress for the client's terminal; more lines follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// Success, or the exit status of the failure with its message and hint.
    #[serde(default)]
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// `token`: the token, its expiry (Unix seconds), type and scope. Never a refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<ServedToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `status`: one report per profile, as `latchkey status --json` prints them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
    /// `hello`, `stop`: the agent's process ID and the profiles it serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
}

impl Response {
    pub fn ok() -> Response {
        Response {
            v: VERSION,
            ok: true,
            ..Response::default()
        }
    }

    /// A failure, as the client will report it: the same words and exit status as if the
    /// command had run where the agent runs.
    pub fn failed(error: &Error) -> Response {
        Response {
            v: VERSION,
            exit: Some(error.exit_code().code()),
            error: Some(error.message().to_owned()),
            hint: error.hint_text().map(str::to_owned),
            ..Response::default()
        }
    }

    /// A line of progress.
    pub fn progress(line: String) -> Response {
        Response {
            v: VERSION,
            line: Some(line),
            ..Response::default()
        }
    }

    /// The failure this answer reports, as an error of this process; `None` when it is a
    /// success. The agent's words are outside text here, and shown escaped.
    pub fn into_result(self) -> Result<Response, Error> {
        if self.ok {
            return Ok(self);
        }
        let code = ExitCode::from_code(self.exit.unwrap_or(1));
        let message = crate::base::text::escape_controls(
            self.error
                .as_deref()
                .unwrap_or("the agent failed without saying why"),
        );
        let error = Error::new(code, format!("agent: {message}"));
        Err(match self.hint {
            Some(hint) => error.hint(crate::base::text::escape_controls(&hint)),
            None => error,
        })
    }
}

/// Reads one request line (without its newline), strictly: bounded, UTF-8, JSON, no unknown
/// fields, this protocol's version. The error is for the client to read.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    if line.len() > MAX_LINE {
        return Err(format!("the request is longer than {MAX_LINE} bytes"));
    }
    let text = std::str::from_utf8(line).map_err(|_| "the request is not UTF-8".to_owned())?;
    // The version first, so that a newer client's request (with fields this agent does not
    // know) is refused for its version, not for its fields.
    #[derive(Deserialize)]
    struct Versioned {
        v: u32,
    }
    let versioned: Versioned = serde_json::from_str(text)
        .map_err(|e| format!("the request is not a latchkey agent request: {e}"))?;
    if versioned.v != VERSION {
        return Err(format!(
            "this agent speaks protocol version {VERSION}, the client {}: use the same latchkey version on both sides",
            versioned.v
        ));
    }
    let request: Request = serde_json::from_str(text)
        .map_err(|e| format!("the request is not a latchkey agent request: {e}"))?;
    if request.profile.as_deref().is_some_and(|p| p.len() > 200) {
        return Err("the profile name is too long".into());
    }
    Ok(request)
}

/// A message as one line (JSON has no raw newlines in it), in memory wiped when dropped: an
/// answer holds a token. Written into room for the longest line, so that growing leaves no
/// unwiped copy behind.
pub fn to_line<T: Serialize>(message: &T) -> Wiped {
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
        let request = Request {
            v: VERSION,
            op: "token".into(),
            profile: Some("dev".into()),
            min_valid: Some(60),
            ..Request::default()
        };
        let line = to_line(&request);
        assert_eq!(
            &line[..],
            b"{\"v\":1,\"op\":\"token\",\"profile\":\"dev\",\"min_valid\":60}\n"
        );
        assert_eq!(parse_request(&line[..line.len() - 1]).unwrap(), request);
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
        let back = Response::failed(&sent).into_result().unwrap_err();
        assert_eq!(back.exit_code(), ExitCode::LoginRequired);
        assert!(back.message().starts_with("agent: profile `dev`"));
        assert!(!back.message().contains('\u{1b}'));
        assert_eq!(back.hint_text(), Some("log in"));
    }

    #[test]
    fn an_answer_carries_its_token_on_the_wire_but_never_in_debug_output() {
        let mut answer = Response::ok();
        answer.token = Some(ServedToken::new("eyJ-served-token"));
        let line = String::from_utf8(to_line(&answer).to_vec()).unwrap();
        assert!(line.contains("\"token\":\"eyJ-served-token\""), "{line}");
        let read: Response = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(
            read.token.as_ref().map(ServedToken::secret),
            Some("eyJ-served-token")
        );
        assert!(!format!("{read:?}").contains("eyJ-served-token"));
    }
}
