//! Everything latchkey has changed about the terminal while it waits on a person — the
//! spinner's reserved bottom line, a prompt with its typed text, the terminal's input mode —
//! kept in one place so a signal can undo it (Ctrl-C, Ctrl-Z), redo it (`fg`) or redraw it
//! (a resize). One lock orders every write that moves the cursor.

use crate::terminal::line_editor::{self, LineEditor, Step};
use crate::terminal::tty::{self, Input, Saved};
use indicatif::{ProgressBar, ProgressDrawTarget, TermLike};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The size of the terminal as the status line was last reserved for, and whether it is
/// drawn at all (not while the terminal is given back). Shared with the spinner's draw target.
#[derive(Debug)]
pub struct Geometry {
    rows: AtomicU16,
    columns: AtomicU16,
    hidden: AtomicBool,
}

impl Geometry {
    pub fn rows(&self) -> u16 {
        self.rows.load(Ordering::SeqCst)
    }

    pub fn columns(&self) -> u16 {
        self.columns.load(Ordering::SeqCst)
    }

    pub fn hidden(&self) -> bool {
        self.hidden.load(Ordering::SeqCst)
    }
}

/// A line of input being asked for: its prompt, and for the paste prompt what was typed.
pub struct Prompt {
    /// The terminal's settings before, and the descriptor they belong to.
    pub saved: Saved,
    pub input: Input,
    /// Where the prompt and the echo go (stderr, or `/dev/tty` for a passphrase).
    pub out: i32,
    pub text: String,
    /// For a prompt latchkey echoes itself; `None` for a secret.
    pub editor: Option<LineEditor>,
}

struct Shown {
    prompt: Prompt,
    /// The prompt is on screen and the cursor at the end of what was typed.
    on_screen: bool,
    /// Characters of prompt and typed text on screen, to find where the line starts.
    width: usize,
}

struct Spinning {
    bar: ProgressBar,
    status_line: Option<Arc<Geometry>>,
}

struct Held {
    spinner: Option<Spinning>,
    prompt: Option<Shown>,
    /// Given back for Ctrl-Z; taken again at `fg`.
    released: bool,
}

static HELD: Mutex<Held> = Mutex::new(Held {
    spinner: None,
    prompt: None,
    released: false,
});

fn held() -> MutexGuard<'static, Held> {
    HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes to a descriptor, all of it or until it fails (a gone terminal is not an error here).
fn emit(fd: i32, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    if fd == 2 {
        // Through std's lock, so the spinner's redraw never lands between two sequences.
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(bytes);
        let _ = err.flush();
        return;
    }
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        // SAFETY: the descriptor is open while the prompt holding it is registered; the File
        // is never dropped, so it is not closed here.
        let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
        let _ = (&*file).write_all(bytes);
    }
    // Elsewhere only stderr is drawn on: a prompt on another descriptor needs a Unix terminal.
    #[cfg(not(unix))]
    let _ = fd;
}

fn reserve_sequence(rows: u16) -> String {
    // A newline then up again puts the cursor off the last row, which is about to leave the
    // scroll region; setting the region homes the cursor, hence save and restore around it.
    format!("\n\x1b[1A\x1b7\x1b[1;{}r\x1b8", rows.saturating_sub(1))
}

/// The escape sequences that give the status line back: reset the scroll region (which homes
/// the cursor, hence save and restore) and clear the last row.
fn release_sequence(rows: u16) -> String {
    format!("\x1b7\x1b[r\x1b[{rows};1H\x1b[2K\x1b8")
}

/// Reserves the bottom row for `bar` (a scroll region above it, as apt draws its progress);
/// `None` when the terminal is too small for it to help.
pub fn hold_status_line(bar: &ProgressBar) -> Option<Arc<Geometry>> {
    let (rows, columns) = tty::size().filter(|(rows, _)| *rows >= 3)?;
    let geometry = Arc::new(Geometry {
        rows: AtomicU16::new(rows),
        columns: AtomicU16::new(columns),
        hidden: AtomicBool::new(false),
    });
    let mut held = held();
    emit(2, reserve_sequence(rows).as_bytes());
    held.spinner = Some(Spinning {
        bar: bar.clone(),
        status_line: Some(geometry.clone()),
    });
    Some(geometry)
}

/// Notes a spinner drawn on the current line, to be hidden while the terminal is given back.
pub fn hold_inline(bar: &ProgressBar) {
    held().spinner = Some(Spinning {
        bar: bar.clone(),
        status_line: None,
    });
}

/// The spinner is done (already cleared): give its status line back.
pub fn release_spinner() {
    let mut held = held();
    if let Some(Spinning {
        status_line: Some(geometry),
        ..
    }) = held.spinner.take()
        && !geometry.hidden()
    {
        emit(2, release_sequence(geometry.rows()).as_bytes());
    }
}

/// Takes the terminal's input for `prompt`; shown at once unless `show` is false (the paste
/// prompt is shown by each wait, see [`show_prompt`]).
pub fn begin_prompt(prompt: Prompt, show: bool) {
    let mut held = held();
    if tty::in_foreground(prompt.saved.fd()) {
        prompt.saved.apply(prompt.input);
    }
    held.prompt = Some(Shown {
        prompt,
        on_screen: false,
        width: 0,
    });
    if show {
        draw_prompt(&mut held);
    }
}

/// Shows the prompt (and what was typed so far) on a fresh line.
pub fn show_prompt() {
    draw_prompt(&mut held());
}

fn draw_prompt(held: &mut Held) {
    if let Some(shown) = held.prompt.as_mut() {
        let typed = shown.prompt.editor.as_ref().map_or("", LineEditor::typed);
        let text = format!("{}{typed}", shown.prompt.text);
        shown.width = text.chars().count();
        shown.on_screen = true;
        emit(shown.prompt.out, text.as_bytes());
    }
}

/// Ends the prompt's line if it is on screen, so what follows starts on a line of its own;
/// what was typed is forgotten.
pub fn leave_prompt_line() {
    let mut held = held();
    if let Some(shown) = held.prompt.as_mut() {
        if std::mem::take(&mut shown.on_screen) {
            emit(shown.prompt.out, b"\r\n");
        }
        if let Some(editor) = shown.prompt.editor.as_mut() {
            *editor = LineEditor::new(editor.max());
        }
    }
}

/// Prints `line` above the prompt, which is drawn again below it with what was typed.
pub fn say(line: &str) {
    let mut held = held();
    let columns = tty::size().map_or(80, |(_, columns)| columns);
    match held.prompt.as_mut() {
        Some(shown) if shown.on_screen => {
            let mut out = erase_sequence(shown.width, columns);
            out.push_str(line);
            out.push_str("\r\n");
            emit(shown.prompt.out, out.as_bytes());
            draw_prompt(&mut held);
        }
        _ => emit(2, format!("{line}\n").as_bytes()),
    }
}

/// Gives the terminal's input back as it was; `discard` drops what was typed but not read.
pub fn end_prompt(discard: bool) {
    let mut held = held();
    if let Some(shown) = held.prompt.take() {
        if shown.on_screen && shown.prompt.editor.is_some() {
            emit(shown.prompt.out, b"\r\n");
        }
        if tty::in_foreground(shown.prompt.saved.fd()) {
            if discard {
                shown.prompt.saved.discard_pending_input();
            }
            shown.prompt.saved.restore();
        }
    }
}

/// What typing at the paste prompt produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Typed {
    /// Enter: the line (`None` when it was too long to keep).
    Line(Option<String>),
    /// Ctrl-D on an empty line.
    EndOfInput,
}

/// Feeds keystrokes to the paste prompt's editor, echoing them: what they complete.
pub fn feed(bytes: &[u8]) -> Vec<Typed> {
    let mut held = held();
    let columns = tty::size().map_or(80, |(_, columns)| columns);
    let Some(shown) = held.prompt.as_mut() else {
        return Vec::new();
    };
    let Some(editor) = shown.prompt.editor.as_mut() else {
        return Vec::new();
    };
    let mut typed = Vec::new();
    let mut out = String::new();
    for step in editor.feed(bytes) {
        match step {
            Step::Echo(text) if shown.on_screen => {
                shown.width += text.chars().count();
                out.push_str(&text);
            }
            Step::Echo(_) => {}
            Step::Redraw(line) if shown.on_screen => {
                out.push_str(&erase_sequence(shown.width, columns));
                out.push_str(&shown.prompt.text);
                out.push_str(&line);
                shown.width = shown.prompt.text.chars().count() + line.chars().count();
            }
            Step::Redraw(_) => {}
            Step::Submit(line) => {
                if std::mem::take(&mut shown.on_screen) {
                    out.push_str("\r\n");
                }
                typed.push(Typed::Line(line));
            }
            Step::EndOfInput => {
                if std::mem::take(&mut shown.on_screen) {
                    out.push_str("\r\n");
                }
                typed.push(Typed::EndOfInput);
            }
        }
    }
    emit(shown.prompt.out, out.as_bytes());
    typed
}

/// Back to the first column of the row where a prompt line `width` characters wide starts,
/// and clear from there down.
fn erase_sequence(width: usize, columns: u16) -> String {
    let up = line_editor::rows_above_cursor(width, columns);
    if up == 0 {
        "\r\x1b[J".to_owned()
    } else {
        format!("\r\x1b[{up}A\x1b[J")
    }
}

/// Ctrl-Z: hide the spinner, give back the status line and the input mode. The caller then
/// stops the process.
pub fn release_for_stop() {
    let mut held = held();
    if held.released {
        return;
    }
    held.released = true;
    hide_spinner(&held);
    if let Some(shown) = held.prompt.as_mut() {
        if tty::in_foreground(shown.prompt.saved.fd()) {
            shown.prompt.saved.restore();
        }
        if shown.on_screen {
            emit(shown.prompt.out, b"\r\n");
        }
    }
}

fn hide_spinner(held: &Held) {
    match held.spinner.as_ref() {
        Some(Spinning {
            status_line: Some(geometry),
            ..
        }) => {
            geometry.hidden.store(true, Ordering::SeqCst);
            emit(2, release_sequence(geometry.rows()).as_bytes());
        }
        Some(Spinning {
            bar,
            status_line: None,
        }) => {
            bar.set_draw_target(ProgressDrawTarget::hidden());
            emit(2, b"\r\x1b[2K");
        }
        None => {}
    }
}

/// `fg` (or any continue while in the foreground): take the terminal again and draw the
/// status line and the prompt anew.
pub fn retake_after_continue() {
    let mut held = held();
    let fd = held
        .prompt
        .as_ref()
        .map_or(2, |shown| shown.prompt.saved.fd());
    if !tty::in_foreground(fd) {
        // Continued in the background (`bg`): leave the terminal alone until `fg`.
        return;
    }
    held.released = false;
    if let Some(shown) = held.prompt.as_ref() {
        shown.prompt.saved.apply(shown.prompt.input);
    }
    match held.spinner.as_ref() {
        Some(Spinning {
            bar,
            status_line: Some(geometry),
        }) => {
            reserve_again(geometry);
            bar.tick();
        }
        Some(Spinning {
            bar,
            status_line: None,
        }) => bar.set_draw_target(inline_target()),
        None => {}
    }
    // Only a prompt that was on screen when the terminal was given back (not one between two
    // waits, while a code is being exchanged).
    if held.prompt.as_ref().is_some_and(|shown| shown.on_screen) {
        draw_prompt(&mut held);
    }
}

fn reserve_again(geometry: &Geometry) {
    if let Some((rows, columns)) = tty::size() {
        geometry.rows.store(rows, Ordering::SeqCst);
        geometry.columns.store(columns, Ordering::SeqCst);
    }
    geometry.hidden.store(false, Ordering::SeqCst);
    emit(2, reserve_sequence(geometry.rows()).as_bytes());
}

/// The terminal changed size: move the status line to the new bottom row, cut to the new
/// width, and draw the prompt and what was typed again where they start now.
pub fn resized() {
    let mut held = held();
    if held.released {
        return;
    }
    let Some(Spinning {
        bar,
        status_line: Some(geometry),
    }) = held.spinner.as_ref()
    else {
        return;
    };
    let (bar, geometry) = (bar.clone(), geometry.clone());
    let columns = tty::size().map_or(geometry.columns(), |(_, columns)| columns);
    // Reset the scroll region (keeping the cursor), then clear from where the prompt starts
    // (the terminal has re-wrapped it to the new width) to the end of the screen, which also
    // removes the old status line wherever the resize left it.
    let mut out = String::from("\x1b7\x1b[r\x1b8");
    let on_screen = held.prompt.as_ref().filter(|shown| shown.on_screen);
    out.push_str(&match on_screen {
        Some(shown) => erase_sequence(shown.width, columns),
        None => "\x1b[J".to_owned(),
    });
    emit(2, out.as_bytes());
    reserve_again(&geometry);
    if held.prompt.as_ref().is_some_and(|shown| shown.on_screen) {
        draw_prompt(&mut held);
    }
    drop(held);
    bar.tick();
}

/// Ctrl-C or SIGTERM: undo everything for good, ready for the last message. Gives up on the
/// lock after a moment (a writer blocked on a stopped terminal must not keep latchkey alive).
pub fn release_for_exit() {
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut held = loop {
        match HELD.try_lock() {
            Ok(held) => break held,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => break poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(std::sync::TryLockError::WouldBlock) => {
                emit(2, b"\n");
                return;
            }
        }
    };
    if !held.released {
        hide_spinner(&held);
    }
    let mut fresh_line = held.spinner.is_some();
    if let Some(shown) = held.prompt.take() {
        if tty::in_foreground(shown.prompt.saved.fd()) {
            shown.prompt.saved.discard_pending_input();
            shown.prompt.saved.restore();
        }
        if shown.on_screen && !held.released {
            emit(shown.prompt.out, b"\r\n");
        }
        fresh_line = true;
    }
    held.spinner = None;
    if !fresh_line {
        // The cursor may be after the terminal's own echo of ^C.
        emit(2, b"\n");
    }
}

/// The draw target of an inline spinner: stderr, with room left for the echo of a key.
pub fn inline_target() -> ProgressDrawTarget {
    ProgressDrawTarget::term_like_with_hz(Box::new(Narrow(console::Term::stderr())), 10)
}

/// stderr, reported a little narrower than it is: the terminal's own echo of a key (`^C`, `^Z`)
/// lands after the spinner, and must not wrap to the next row, beyond the reach of the
/// spinner's clearing.
#[derive(Debug)]
struct Narrow(console::Term);

impl TermLike for Narrow {
    fn width(&self) -> u16 {
        TermLike::width(&self.0).saturating_sub(3).max(1)
    }

    fn height(&self) -> u16 {
        TermLike::height(&self.0)
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        TermLike::move_cursor_up(&self.0, n)
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        TermLike::move_cursor_down(&self.0, n)
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        TermLike::move_cursor_right(&self.0, n)
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        TermLike::move_cursor_left(&self.0, n)
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        TermLike::write_line(&self.0, s)
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        TermLike::write_str(&self.0, s)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        TermLike::clear_line(&self.0)
    }

    fn flush(&self) -> std::io::Result<()> {
        TermLike::flush(&self.0)
    }
}
