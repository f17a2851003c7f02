//! The race between the two ways a login's response arrives: the loopback listener and a line
//! pasted on stdin. Whichever brings a valid response first wins; refusals of a paste are
//! explained and the prompt comes back, until the deadline.

use crate::base::duration::format_remaining;
use crate::base::error::{Error, Result};
use crate::base::secret::State;
use crate::login::callback::LoopbackListener;
use crate::oauth::auth_response::{self, AuthResponse};
use crate::terminal::spinner::{Mode, Spinner};
use crate::terminal::style as term;
use std::io::{BufRead, Read};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A pasted line longer than this is not a redirect URL.
const MAX_PASTE: usize = 16 * 1024;

/// What the waiting loop hears about.
pub enum Event {
    /// The loopback listener accepted a response whose state matched.
    Loopback(AuthResponse),
    /// A line arrived on stdin.
    Pasted(String),
    /// stdin reached its end: nothing more can be pasted.
    PasteClosed,
}

/// Which way a response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Loopback,
    /// A pasted redirect URL or query string (its `state` was checked).
    PastedUrl,
    /// A pasted bare code: nothing in it could be checked, so the provider is the judge.
    PastedCode,
}

/// What the race checks a response against, and how it was started.
pub struct Race<'a> {
    /// The login's `state`, compared exactly.
    pub state: &'a State,
    /// The issuer, compared with `iss` when the response has one.
    pub issuer: &'a str,
    /// Whether a response without `iss` is refused (RFC 9207 advertised by the provider).
    pub iss_required: bool,
    pub timeout: Duration,
    /// When the wait ends, whatever happened since (set from `timeout` when the race starts).
    pub deadline: Instant,
    /// A person can paste at a terminal: show the prompt.
    pub interactive: bool,
    /// No loopback listener: only a paste can end the wait.
    pub paste_only: bool,
}

/// Starts the listener (if any) and the stdin reader (if pasting), feeding one channel.
pub fn start(
    listener: Option<LoopbackListener>,
    callback_path: String,
    state: State,
    issuer: String,
    iss_required: bool,
    paste: bool,
) -> mpsc::Receiver<Event> {
    let (events, inbox) = mpsc::channel();
    if let Some(listener) = listener {
        let (callbacks, received) = mpsc::channel();
        listener
            .require_iss(iss_required)
            .serve(callback_path, state, issuer, callbacks);
        let forward = events.clone();
        std::thread::spawn(move || {
            for callback in received {
                if forward.send(Event::Loopback(callback.response)).is_err() {
                    break;
                }
            }
        });
    }
    if paste {
        spawn_stdin_reader(events);
    }
    inbox
}

/// Reads one line into `line`, keeping at most `MAX_PASTE + 1` bytes of it (the rest of an
/// overlong line is read and dropped), so a huge paste or pipe cannot fill memory. The count
/// of bytes read, 0 at the end of input.
fn read_bounded_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
    let limit = MAX_PASTE as u64 + 1;
    let mut total = input.by_ref().take(limit).read_until(b'\n', line)?;
    let mut ended = line.last() == Some(&b'\n');
    let mut dropped = Vec::new();
    while !ended && total as u64 >= limit {
        dropped.clear();
        let n = input.by_ref().take(limit).read_until(b'\n', &mut dropped)?;
        if n == 0 {
            break;
        }
        total += n;
        ended = dropped.last() == Some(&b'\n');
    }
    Ok(total)
}

/// Reads pasted lines on a thread of its own, so the loopback path is never blocked by it.
pub fn spawn_stdin_reader(events: mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match read_bounded_line(&mut stdin, &mut line) {
                Ok(0) | Err(_) => {
                    let _ = events.send(Event::PasteClosed);
                    return;
                }
                Ok(_) => {
                    let text = if line.len() > MAX_PASTE {
                        "(a line too long to be a redirect URL)".to_owned()
                    } else {
                        String::from_utf8_lossy(&line).into_owned()
                    };
                    if events.send(Event::Pasted(text)).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

impl Race<'_> {
    fn waiting_for(&self) -> &'static str {
        if self.paste_only {
            "Waiting for a pasted code or redirect URL"
        } else if self.interactive {
            "Waiting for the browser, or a pasted code or redirect URL"
        } else {
            "Waiting for the browser"
        }
    }

    fn prompt(&self) {
        if self.interactive {
            eprint!("Paste the redirect URL or code here: ");
        }
    }

    /// Waits for the first valid response from either path, showing the time left; called
    /// again after a pasted code the provider refused, until the same deadline.
    pub fn wait(&self, inbox: &mpsc::Receiver<Event>) -> Result<(AuthResponse, Via)> {
        let deadline = self.deadline;
        let mode = if !term::stderr_is_terminal() {
            Mode::Hidden
        } else if self.interactive {
            Mode::StatusLine
        } else {
            Mode::Inline
        };
        let waiting_for = self.waiting_for();
        let message = |left: Duration| format!("{waiting_for} — {} left", format_remaining(left));
        // The spinner first: reserving its status line must happen at the start of a line,
        // before the prompt puts the cursor where the user types.
        let spinner = Spinner::start(
            mode,
            message(deadline.saturating_duration_since(Instant::now())),
        );
        self.prompt();
        let mut paste_open = true;
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(self.timed_out());
            }
            spinner.set_message(message(left));
            match inbox.recv_timeout(left.min(Duration::from_millis(500))) {
                Ok(event) => match self.on_event(event, &mut paste_open) {
                    Some(done) => break done,
                    None => continue,
                },
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(Error::aborted(if paste_open {
                        "the login could not receive a response"
                    } else {
                        "stdin closed and no loopback listener is running"
                    }));
                }
            }
        };
        spinner.finish();
        result
    }

    /// What one event does: end the race (`Some`) or keep waiting (`None`).
    fn on_event(&self, event: Event, paste_open: &mut bool) -> Option<Result<(AuthResponse, Via)>> {
        match event {
            Event::Loopback(response) => {
                if self.interactive {
                    // End the half-typed prompt line so what follows starts cleanly.
                    eprintln!();
                }
                Some(Ok((response, Via::Loopback)))
            }
            Event::Pasted(line) => {
                if line.trim().is_empty() {
                    self.prompt();
                    return None;
                }
                let issuer = auth_response::Issuer {
                    value: self.issuer,
                    required: self.iss_required,
                };
                match auth_response::from_pasted(&line, self.state, issuer) {
                    Ok(response) => {
                        let via = if auth_response::is_bare_code(&line) {
                            Via::PastedCode
                        } else {
                            Via::PastedUrl
                        };
                        Some(Ok((response, via)))
                    }
                    Err(rejection) => {
                        eprintln!("That was not accepted: {rejection}. Try again.");
                        self.prompt();
                        None
                    }
                }
            }
            Event::PasteClosed => {
                *paste_open = false;
                self.paste_only.then(|| {
                    Err(Error::aborted("stdin closed before a code or redirect URL was pasted")
                        .hint("paste the redirect URL on stdin, or drop --no-loopback to use the loopback listener"))
                })
            }
        }
    }

    fn timed_out(&self) -> Error {
        Error::aborted(format!(
            "the login timed out after {}",
            format_remaining(self.timeout)
        ))
        .hint("run it again, with a longer --timeout if you need more time; nothing was stored")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overlong_line_is_read_without_keeping_it_and_the_next_line_is_whole() {
        let mut input = Vec::new();
        input.extend(std::iter::repeat_n(b'x', MAX_PASTE * 5));
        input.extend(b"\ncode=abc&state=s\n");
        let mut reader = std::io::Cursor::new(input);
        let mut line = Vec::new();
        let n = read_bounded_line(&mut reader, &mut line).unwrap();
        assert_eq!(n, MAX_PASTE * 5 + 1);
        assert_eq!(
            line.len(),
            MAX_PASTE + 1,
            "only the start of the line is kept"
        );
        line.clear();
        read_bounded_line(&mut reader, &mut line).unwrap();
        assert_eq!(line, b"code=abc&state=s\n");
        line.clear();
        assert_eq!(read_bounded_line(&mut reader, &mut line).unwrap(), 0);
    }
}
