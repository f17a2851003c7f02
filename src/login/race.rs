//! The race between the two ways a login's response arrives: the loopback listener and a line
//! pasted on stdin. Whichever brings a valid response first wins; refusals of a paste are
//! explained and the prompt comes back, until the deadline.

use crate::base::duration::format_remaining;
use crate::base::error::{Error, Result};
use crate::base::secret::State;
use crate::login::callback::{LoopbackListener, Received};
use crate::oauth::auth_response::{self, AuthResponse};
use crate::terminal::screen::{self, Typed};
use crate::terminal::spinner::{Mode, Spinner};
use crate::terminal::style as term;
use std::cell::Cell;
use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// A pasted line longer than this is not a redirect URL.
const MAX_PASTE: usize = 16 * 1024;

/// What the waiting loop hears about.
pub enum Event {
    /// The loopback listener accepted a response whose state matched.
    Loopback(AuthResponse),
    /// The loopback listener refused a response (the browser was told why): the reason.
    LoopbackRefused(String),
    /// A line arrived on stdin.
    Pasted(String),
    /// stdin reached its end: nothing more can be pasted. `by_person` when a person pressed
    /// Ctrl-D at a terminal, rather than a pipe or file running out.
    PasteClosed { by_person: bool },
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

/// Where a paste can come from, decided once from what stdin and stderr are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasteInput {
    /// `--no-paste`.
    Off,
    /// A pipe or a file: lines are read, nobody is prompted.
    Piped,
    /// A terminal that cannot draw (`TERM=dumb`, or stderr elsewhere): its own line editing,
    /// a plain prompt.
    TerminalLines,
    /// A terminal latchkey draws on: keystrokes read and echoed by latchkey, so the prompt and
    /// what was typed survive a resize or Ctrl-Z and `fg`.
    Keystrokes,
}

impl PasteInput {
    pub fn detect(paste: bool) -> PasteInput {
        if !paste {
            PasteInput::Off
        } else if !term::stdin_is_terminal() {
            PasteInput::Piped
        } else if term::stderr_can_draw() {
            PasteInput::Keystrokes
        } else {
            PasteInput::TerminalLines
        }
    }

    /// A person may be typing at a prompt.
    pub fn at_terminal(self) -> bool {
        matches!(self, PasteInput::TerminalLines | PasteInput::Keystrokes)
    }
}

const PROMPT: &str = "Paste the redirect URL or code here: ";

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
    /// Where pastes come from.
    pub paste: PasteInput,
    /// No loopback listener: only a paste can end the wait.
    pub paste_only: bool,
}

/// The race's events, and the paste prompt it holds on the terminal until the login ends.
pub struct Inbox {
    events: mpsc::Receiver<Event>,
    /// Tells the keystroke reader to stop; set when the prompt is given up.
    stop_keystrokes: Option<Arc<AtomicBool>>,
    /// stdin ended (a pipe ran out): said once, the wait goes on without it.
    paste_closed: Cell<bool>,
}

impl Inbox {
    /// Gives the terminal back: the prompt ended, its input mode restored, anything typed but
    /// not submitted dropped so it cannot reach the shell. Done at the latest when dropped.
    pub fn close(&mut self) {
        if let Some(stop) = self.stop_keystrokes.take() {
            stop.store(true, Ordering::SeqCst);
            screen::end_prompt(true);
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.close();
    }
}

/// Starts the listener (if any) and the stdin reader (if pasting), feeding one channel.
pub fn start(
    listener: Option<LoopbackListener>,
    callback_path: String,
    state: State,
    issuer: String,
    iss_required: bool,
    paste: PasteInput,
) -> Inbox {
    let (events, inbox) = mpsc::channel();
    if let Some(listener) = listener {
        let (callbacks, received) = mpsc::channel();
        listener
            .require_iss(iss_required)
            .serve(callback_path, state, issuer, callbacks);
        let forward = events.clone();
        std::thread::spawn(move || {
            for callback in received {
                let event = match callback {
                    Received::Response(response) => Event::Loopback(response),
                    Received::Refused(why) => Event::LoopbackRefused(why),
                };
                if forward.send(event).is_err() {
                    break;
                }
            }
        });
    }
    let mut stop_keystrokes = None;
    match paste {
        PasteInput::Off => {}
        PasteInput::Piped | PasteInput::TerminalLines => {
            spawn_stdin_reader(events, paste == PasteInput::TerminalLines);
        }
        PasteInput::Keystrokes => match spawn_keystroke_reader(events.clone()) {
            Some(stop) => stop_keystrokes = Some(stop),
            None => spawn_stdin_reader(events, true),
        },
    }
    Inbox {
        events: inbox,
        stop_keystrokes,
        paste_closed: Cell::new(false),
    }
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

const TOO_LONG: &str = "(a line too long to be a redirect URL)";

/// Reads pasted lines on a thread of its own, so the loopback path is never blocked by it.
/// `terminal`: stdin is a terminal, where its end means Ctrl-D.
fn spawn_stdin_reader(events: mpsc::Sender<Event>, terminal: bool) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match read_bounded_line(&mut stdin, &mut line) {
                Ok(0) | Err(_) => {
                    let _ = events.send(Event::PasteClosed {
                        by_person: terminal,
                    });
                    return;
                }
                Ok(_) => {
                    let text = if line.len() > MAX_PASTE {
                        TOO_LONG.to_owned()
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

/// Reads keystrokes from the terminal on stdin through latchkey's own line editing (see
/// [`screen::feed`]); `None` when stdin's settings cannot be changed. The flag stops it.
fn spawn_keystroke_reader(events: mpsc::Sender<Event>) -> Option<Arc<AtomicBool>> {
    let saved = crate::terminal::tty::Saved::take(0)?;
    screen::begin_prompt(
        screen::Prompt {
            saved,
            input: crate::terminal::tty::Input::Keystrokes,
            out: 2,
            text: PROMPT.to_owned(),
            editor: Some(crate::terminal::line_editor::LineEditor::new(MAX_PASTE)),
        },
        false,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while !stopped.load(Ordering::SeqCst) {
            // Waiting a moment at a time, so the thread ends soon after the login does and
            // never takes input meant for what comes next (a passphrase prompt, the shell).
            match wait_readable(0, Duration::from_millis(100)) {
                Readable::No => continue,
                Readable::Yes => {}
                Readable::Closed => {
                    let _ = events.send(Event::PasteClosed { by_person: true });
                    return;
                }
            }
            if stopped.load(Ordering::SeqCst) {
                return;
            }
            let n = match read_some(0, &mut buffer) {
                Some(0) | None => {
                    let _ = events.send(Event::PasteClosed { by_person: true });
                    return;
                }
                Some(n) => n,
            };
            for typed in screen::feed(&buffer[..n]) {
                let event = match typed {
                    Typed::Line(Some(line)) => Event::Pasted(line),
                    Typed::Line(None) => Event::Pasted(TOO_LONG.to_owned()),
                    Typed::EndOfInput => Event::PasteClosed { by_person: true },
                };
                if events.send(event).is_err() {
                    return;
                }
            }
        }
    });
    Some(stop)
}

// Only Unix can wait on stdin without reading it; elsewhere the keystroke reader never starts
// (no terminal settings to change: `tty::Saved::take` is `None`), so only `Closed` is made.
#[cfg_attr(not(unix), allow(dead_code))]
enum Readable {
    Yes,
    No,
    Closed,
}

#[cfg(all(unix, not(target_os = "macos")))]
fn wait_readable(fd: i32, timeout: Duration) -> Readable {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one pollfd on the stack.
    match unsafe { libc::poll(&mut poll, 1, millis) } {
        n if n > 0 && poll.revents & libc::POLLIN != 0 => Readable::Yes,
        n if n > 0 => Readable::Closed,
        0 => Readable::No,
        _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
            Readable::No
        }
        _ => Readable::Closed,
    }
}

// macOS: select(2), since its poll(2) does not support terminals (`tty::select_readable`). A
// hangup reads as readable, and the read that follows returns 0: closed.
#[cfg(target_os = "macos")]
fn wait_readable(fd: i32, timeout: Duration) -> Readable {
    match crate::terminal::tty::select_readable(fd, timeout) {
        Ok(true) => Readable::Yes,
        Ok(false) => Readable::No,
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Readable::No,
        Err(_) => Readable::Closed,
    }
}

#[cfg(not(unix))]
fn wait_readable(_fd: i32, _timeout: Duration) -> Readable {
    Readable::Closed
}

#[cfg(unix)]
fn read_some(fd: i32, buffer: &mut [u8]) -> Option<usize> {
    loop {
        // SAFETY: reads into a buffer of the given length.
        let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        if n >= 0 {
            return usize::try_from(n).ok();
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return None;
        }
    }
}

#[cfg(not(unix))]
fn read_some(_fd: i32, _buffer: &mut [u8]) -> Option<usize> {
    None
}

impl Race<'_> {
    fn waiting_for(&self, paste_open: bool) -> &'static str {
        if self.paste_only {
            "Waiting for a pasted code or redirect URL"
        } else if self.paste.at_terminal() && paste_open {
            "Waiting for the browser, or a pasted code or redirect URL"
        } else {
            "Waiting for the browser"
        }
    }

    fn prompt(&self, showing: &Cell<bool>) {
        match self.paste {
            PasteInput::Keystrokes => screen::show_prompt(),
            PasteInput::TerminalLines => {
                eprint!("{PROMPT}");
                showing.set(true);
            }
            PasteInput::Off | PasteInput::Piped => {}
        }
    }

    /// Waits for the first valid response from either path, showing the time left; called
    /// again after a pasted code the provider refused, until the same deadline.
    pub fn wait(&self, inbox: &Inbox) -> Result<(AuthResponse, Via)> {
        let deadline = self.deadline;
        let typing = self.paste.at_terminal() && !inbox.paste_closed.get();
        let message = |left: Duration, paste_open: bool| {
            format!(
                "{} — {} left",
                self.waiting_for(paste_open),
                format_remaining(left)
            )
        };
        let left = deadline.saturating_duration_since(Instant::now());
        // The spinner first: reserving its status line must happen at the start of a line,
        // before the prompt puts the cursor where the user types.
        let mode = Mode::for_wait(typing);
        if matches!(mode, Mode::Hidden) && term::stderr_is_terminal() {
            // A terminal that cannot draw a spinner (TERM=dumb) still hears what happens.
            eprintln!("{}.", message(left, typing));
        }
        let spinner = Spinner::start(mode, message(left, typing));
        // Whether a plain prompt (not latchkey's own line) is on screen, awaiting Enter.
        let showing = Cell::new(false);
        if typing {
            self.prompt(&showing);
        }
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(self.timed_out());
            }
            spinner.set_message(message(left, !inbox.paste_closed.get()));
            match inbox
                .events
                .recv_timeout(left.min(Duration::from_millis(500)))
            {
                Ok(event) => match self.on_event(event, inbox, &showing, &spinner) {
                    Some(done) => break done,
                    None => continue,
                },
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(Error::aborted(if inbox.paste_closed.get() {
                        "stdin closed and no loopback listener is running"
                    } else {
                        "the login could not receive a response"
                    }));
                }
            }
        };
        spinner.finish();
        // Whatever ends the wait (a response, a timeout, Ctrl-D), what follows starts on a
        // line of its own, not after the prompt.
        screen::leave_prompt_line();
        if showing.get() {
            eprintln!();
        }
        result
    }

    /// What one event does: end the race (`Some`) or keep waiting (`None`).
    fn on_event(
        &self,
        event: Event,
        inbox: &Inbox,
        showing: &Cell<bool>,
        spinner: &Spinner,
    ) -> Option<Result<(AuthResponse, Via)>> {
        match event {
            Event::Loopback(response) => Some(Ok((response, Via::Loopback))),
            Event::LoopbackRefused(why) => {
                // Said at once and above the prompt: the person is looking here, and without
                // it would wait out the whole timeout.
                let line = format!(
                    "The browser brought back a response latchkey refused: {}. Still waiting{}.",
                    crate::base::text::shown(&why),
                    if self.paste.at_terminal() && !inbox.paste_closed.get() {
                        " for the browser or a paste"
                    } else {
                        " for the browser"
                    }
                );
                match self.paste {
                    PasteInput::Keystrokes => screen::say(&line),
                    _ => spinner.println(&line),
                }
                None
            }
            Event::Pasted(line) => {
                // Enter was pressed: the cursor is on a fresh line.
                showing.set(false);
                if line.trim().is_empty() {
                    self.prompt(showing);
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
                        self.prompt(showing);
                        None
                    }
                }
            }
            Event::PasteClosed { by_person: true } => {
                // Ctrl-D echoes no newline: a plain prompt stays `showing`, and its line is
                // ended before the error.
                inbox.paste_closed.set(true);
                // At a terminal, Ctrl-D is a person giving up: the paste path must not stay
                // half-open, with later pastes left for the shell to run.
                Some(Err(Error::aborted(
                    "the login was cancelled with Ctrl-D; nothing was stored",
                )
                .hint(
                    "run it again to log in; to wait for the browser only, use --no-paste",
                )))
            }
            Event::PasteClosed { by_person: false } => {
                inbox.paste_closed.set(true);
                if self.paste_only {
                    return Some(Err(Error::aborted(
                        "stdin closed before a code or redirect URL was pasted",
                    )
                    .hint("paste the redirect URL on stdin, or drop --no-loopback to use the loopback listener")));
                }
                spinner.println(
                    "stdin has ended, so nothing can be pasted; waiting for the browser only.",
                );
                None
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
