//! The commands' side: whether to ask an agent (`LATCHKEY_AGENT_SOCK`, or the default socket
//! when one answers there; never with `--no-agent` or `LATCHKEY_NO_AGENT=1`), and one request
//! and its answer. A failure to reach the agent, or an agent that goes away mid-answer, is
//! exit 6, as the network is: over SSH the socket is the connection.

use crate::agent::protocol::{self, Answer, Request};
use crate::agent::socket;
use crate::base::error::{Error, Result};
use crate::base::text::shown_whole;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest wait for an answer that is not a login: a refresh at the agent retries for a while.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(180);

/// A connection to a running agent.
pub struct Agent {
    path: PathBuf,
    stream: UnixStream,
}

/// The agent to ask, if any. `LATCHKEY_AGENT_SOCK` that does not answer is an error (the user
/// asked for that agent); the default socket that does not answer is ignored (an agent that
/// is gone, or none).
pub fn find(no_agent: bool) -> Result<Option<Agent>> {
    if no_agent || std::env::var_os(socket::NO_AGENT_VAR).is_some_and(|v| !v.is_empty() && v != "0")
    {
        return Ok(None);
    }
    if let Some(path) = socket::path_from_env() {
        return match UnixStream::connect(&path) {
            Ok(stream) => trusted(path, stream).map(Some),
            Err(e) => Err(Error::network(format!(
                "the agent at {} ({}) does not answer: {e}",
                shown_whole(&path.display().to_string()),
                socket::SOCKET_VAR
            ))
            .hint("start it (`latchkey agent`), reconnect the SSH session that forwards it, or use the local store with --no-agent")),
        };
    }
    let path = socket::default_path();
    match UnixStream::connect(&path) {
        Ok(stream) => trusted(path, stream).map(Some),
        Err(e) => {
            if path.exists() {
                crate::debug!(
                    "the agent socket {} does not answer ({e}): not using it",
                    path.display()
                );
            }
            Ok(None)
        }
    }
}

/// The agent at the other end must run as this user (the kernel says who it is): a socket
/// another user planted where latchkey looks (`/tmp/latchkey-UID/`, say) would hand out tokens
/// of that user's choosing. Over SSH the peer is the user's own sshd session. A peer the
/// kernel cannot name is refused too, as the agent refuses such a client.
fn trusted(path: PathBuf, stream: UnixStream) -> Result<Agent> {
    let uid = socket::current_uid();
    let shown = || shown_whole(&path.display().to_string());
    match socket::peer_uid(&stream) {
        Ok(peer) if peer == uid => Ok(Agent { path, stream }),
        Ok(peer) => Err(Error::store(format!(
            "the agent at {} runs as uid {peer}, not as you (uid {uid}): it is not used",
            shown()
        ))
        .hint("remove that socket (and find out who put it there), or use --no-agent")),
        Err(e) => Err(Error::store(format!(
            "cannot tell who runs the agent at {} ({e}): it is not used",
            shown()
        ))
        .hint("use --no-agent, or point LATCHKEY_AGENT_SOCK at an agent of your own")),
    }
}

impl Agent {
    /// An agent already connected to at `path`.
    pub fn over(path: PathBuf, stream: UnixStream) -> Agent {
        Agent { path, stream }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A request with one answer (not a login), read as the answer `T` it must be.
    pub fn ask<T: protocol::Body>(&mut self, request: &Request) -> Result<T> {
        self.ask_streaming(request, Some(ANSWER_TIMEOUT), &mut |_| {})
    }

    /// A request whose answer may be preceded by lines of progress, each given to `progress`.
    /// `timeout` bounds each wait for a line (`None`: a login, which the agent ends itself).
    pub fn ask_streaming<T: protocol::Body>(
        &mut self,
        request: &Request,
        timeout: Option<Duration>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<T> {
        let fail = |what: String| {
            Error::network(format!(
                "the agent at {} {what}",
                shown_whole(&self.path.display().to_string())
            ))
            .hint("check that `latchkey agent` is still running (and the SSH session forwarding it), or use --no-agent")
        };
        let sent = self
            .stream
            .set_read_timeout(timeout)
            .and_then(|()| self.stream.set_write_timeout(Some(ANSWER_TIMEOUT)))
            .and_then(|()| self.stream.write_all(&protocol::request_line(request)));
        // An agent that refuses the connection answers before reading: its answer may be
        // waiting even when the request could not be written in full.
        let unsent = sent.err();
        let mut reader = protocol::LineReader::new(&self.stream);
        loop {
            use std::io::ErrorKind::*;
            let line = match reader.read_line() {
                Ok(Some(line)) => line,
                Ok(None) => {
                    return Err(fail(match &unsent {
                        Some(e) => format!("could not be asked: {e}"),
                        None => "closed the connection without answering".into(),
                    }));
                }
                Err(e) if matches!(e.kind(), WouldBlock | TimedOut) => {
                    return Err(fail(format!(
                        "did not answer within {}s",
                        timeout.unwrap_or_default().as_secs()
                    )));
                }
                Err(e) if matches!(e.kind(), ConnectionReset | BrokenPipe | UnexpectedEof) => {
                    return Err(fail("closed the connection without answering".into()));
                }
                Err(e) => return Err(fail(format!("answered badly: {e}"))),
            };
            let answer = protocol::read_answer::<T>(&line).ok_or_else(|| {
                fail("answered with something that is not a latchkey agent answer".into())
            })?;
            match answer {
                Answer::Progress(line) => progress(&line),
                Answer::Failed { exit, error, hint } => {
                    return Err(protocol::failure(exit, &error, hint.as_deref()));
                }
                Answer::Done(answer) => return Ok(answer),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_whose_user_cannot_be_told_is_not_used() {
        use std::os::fd::FromRawFd;
        // A pipe where a socket should be: the kernel names no peer for it.
        let mut ends = [0; 2];
        // SAFETY: pipe writes two descriptors into the array passed.
        assert_eq!(unsafe { libc::pipe(ends.as_mut_ptr()) }, 0);
        // SAFETY: the descriptors were just made, and each is owned by one value from here on.
        let (not_a_socket, other_end) = unsafe {
            (
                UnixStream::from_raw_fd(ends[0]),
                std::fs::File::from_raw_fd(ends[1]),
            )
        };
        let refused = trusted(PathBuf::from("/run/agent.sock"), not_a_socket)
            .err()
            .expect("refused");
        assert_eq!(
            refused.exit_code(),
            crate::base::error::ExitCode::TokenStore
        );
        assert!(
            refused
                .message()
                .starts_with("cannot tell who runs the agent at /run/agent.sock"),
            "{}",
            refused.message()
        );
        drop(other_end);
        // The agent's own side of a connection is its user's: used.
        let (client, _agent) = UnixStream::pair().unwrap();
        assert!(trusted(PathBuf::from("/run/agent.sock"), client).is_ok());
    }
}
