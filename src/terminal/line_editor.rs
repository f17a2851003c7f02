//! The paste prompt's own line editing: keystrokes in, what to echo and when a line is done
//! out. latchkey echoes the line itself (rather than the terminal's cooked mode) so it can draw
//! it again after a resize or `fg`; this module is the pure part, with no terminal in it.

/// What a chunk of input asks for, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Text to append on screen after what is shown.
    Echo(String),
    /// The typed text changed other than at its end: draw the whole line again, as it now is.
    Redraw(String),
    /// Enter: the line as typed (`None` when it was too long to keep).
    Submit(Option<String>),
    /// Ctrl-D on an empty line: the person gives up pasting.
    EndOfInput,
}

/// State between keystrokes.
#[derive(Debug, Default)]
pub struct LineEditor {
    typed: String,
    /// The start of a UTF-8 character split across reads.
    partial: Vec<u8>,
    escape: Escape,
    /// More than `max` bytes were typed: the line will be refused as too long.
    overlong: bool,
    max: usize,
}

/// Where the editor is in an escape sequence (arrow keys, function keys), which it skips.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// Right after ESC.
    Started,
    /// Inside `ESC [` or `ESC O`: parameters until a final byte.
    Sequence,
}

const CTRL_D: u8 = 0x04;
const CTRL_U: u8 = 0x15;
const CTRL_W: u8 = 0x17;
const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7f;
const ESC: u8 = 0x1b;

impl LineEditor {
    /// An editor keeping lines of at most `max` bytes.
    pub fn new(max: usize) -> LineEditor {
        LineEditor {
            max,
            ..LineEditor::default()
        }
    }

    /// The longest line it keeps.
    pub fn max(&self) -> usize {
        self.max
    }

    /// What has been typed on the current line.
    pub fn typed(&self) -> &str {
        &self.typed
    }

    /// Takes a chunk of keystrokes (a paste arrives as one big chunk).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut echo = String::new();
        for &byte in bytes {
            if self.skip_escape(byte) {
                continue;
            }
            match byte {
                b'\r' | b'\n' => {
                    self.flush_echo(&mut echo, &mut steps);
                    let line = std::mem::take(&mut self.typed);
                    self.partial.clear();
                    let kept = !std::mem::take(&mut self.overlong);
                    steps.push(Step::Submit(kept.then_some(line)));
                }
                CTRL_D if self.typed.is_empty() && !self.overlong => {
                    self.flush_echo(&mut echo, &mut steps);
                    steps.push(Step::EndOfInput);
                }
                BACKSPACE | DELETE => {
                    self.flush_echo(&mut echo, &mut steps);
                    self.partial.clear();
                    self.overlong = false;
                    if self.typed.pop().is_some() {
                        steps.push(Step::Redraw(self.typed.clone()));
                    }
                }
                CTRL_U | CTRL_W => {
                    self.flush_echo(&mut echo, &mut steps);
                    self.overlong = false;
                    let keep = if byte == CTRL_W {
                        let trimmed = self.typed.trim_end();
                        trimmed.rfind(' ').map_or(0, |space| space + 1)
                    } else {
                        0
                    };
                    if keep < self.typed.len() {
                        self.typed.truncate(keep);
                        steps.push(Step::Redraw(self.typed.clone()));
                    }
                }
                ESC => self.escape = Escape::Started,
                // Other control characters (Tab, Ctrl-D on a non-empty line, …) do nothing.
                0..=0x1f => {}
                _ => self.take_text_byte(byte, &mut echo),
            }
        }
        self.flush_echo(&mut echo, &mut steps);
        steps
    }

    /// Whether `byte` belongs to an escape sequence being skipped.
    fn skip_escape(&mut self, byte: u8) -> bool {
        match self.escape {
            Escape::None => false,
            Escape::Started => {
                self.escape = if byte == b'[' || byte == b'O' {
                    Escape::Sequence
                } else {
                    Escape::None
                };
                true
            }
            Escape::Sequence => {
                if (0x40..=0x7e).contains(&byte) {
                    self.escape = Escape::None;
                }
                true
            }
        }
    }

    fn take_text_byte(&mut self, byte: u8, echo: &mut String) {
        self.partial.push(byte);
        let text = match std::str::from_utf8(&self.partial) {
            Ok(text) => text.to_owned(),
            // Wait for the rest of a character split across reads.
            Err(e) if e.error_len().is_none() && self.partial.len() < 4 => return,
            Err(_) => char::REPLACEMENT_CHARACTER.to_string(),
        };
        self.partial.clear();
        // Past the limit the rest is dropped; what is shown stays what is kept.
        if self.overlong || self.typed.len() + text.len() > self.max {
            self.overlong = true;
            return;
        }
        self.typed.push_str(&text);
        echo.push_str(&text);
    }

    fn flush_echo(&self, echo: &mut String, steps: &mut Vec<Step>) {
        if !echo.is_empty() {
            steps.push(Step::Echo(std::mem::take(echo)));
        }
    }

    /// Whether more was typed than a line may hold (it is then not shown).
    pub fn overlong(&self) -> bool {
        self.overlong
    }
}

/// How many rows above the cursor the line starting with a prompt begins, for `width`
/// characters shown on a terminal `columns` wide. Terminals wrap lazily: after the last
/// column is written the cursor stays on that row until the next character.
pub fn rows_above_cursor(width: usize, columns: u16) -> usize {
    let columns = usize::from(columns.max(1));
    width.saturating_sub(1) / columns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(text: &str) -> Step {
        Step::Echo(text.to_owned())
    }

    #[test]
    fn a_paste_is_echoed_in_one_piece_and_submitted_on_enter() {
        let mut editor = LineEditor::new(100);
        assert_eq!(
            editor.feed(b"https://x/cb?code=a&state=b\r"),
            vec![
                echo("https://x/cb?code=a&state=b"),
                Step::Submit(Some("https://x/cb?code=a&state=b".into()))
            ]
        );
        assert_eq!(editor.typed(), "");
    }

    #[test]
    fn editing_keys_change_the_line_and_ask_for_a_redraw() {
        let mut editor = LineEditor::new(100);
        editor.feed(b"one two three");
        assert_eq!(
            editor.feed(&[DELETE]),
            vec![Step::Redraw("one two thre".into())]
        );
        assert_eq!(
            editor.feed(&[CTRL_W]),
            vec![Step::Redraw("one two ".into())]
        );
        assert_eq!(
            editor.feed(b"xy"),
            vec![echo("x"), Step::Redraw("one two ".into()), echo("y")]
        );
        assert_eq!(editor.feed(&[CTRL_U]), vec![Step::Redraw(String::new())]);
        assert_eq!(editor.typed(), "");
        assert_eq!(editor.feed(&[DELETE, CTRL_U]), vec![], "nothing to erase");
    }

    #[test]
    fn ctrl_d_ends_input_only_on_an_empty_line() {
        let mut editor = LineEditor::new(100);
        assert_eq!(editor.feed(&[CTRL_D]), vec![Step::EndOfInput]);
        assert_eq!(editor.feed(b"ab\x04"), vec![echo("ab")]);
        assert_eq!(editor.typed(), "ab");
    }

    #[test]
    fn escape_sequences_and_control_characters_are_never_echoed() {
        let mut editor = LineEditor::new(100);
        let steps = editor.feed(b"a\x1b[A\x1b[1;5Cb\x1bOPc\td\x07");
        assert_eq!(steps, vec![echo("abcd")]);
    }

    #[test]
    fn utf8_split_across_reads_is_joined_and_invalid_bytes_are_replaced() {
        let mut editor = LineEditor::new(100);
        let snowman = "☃".as_bytes();
        assert_eq!(editor.feed(&snowman[..1]), vec![]);
        assert_eq!(editor.feed(&snowman[1..]), vec![echo("☃")]);
        assert_eq!(editor.feed(&[0xff]), vec![echo("\u{fffd}")]);
    }

    #[test]
    fn an_overlong_line_is_not_kept_and_is_submitted_as_such() {
        let mut editor = LineEditor::new(4);
        let steps = editor.feed(b"abcdef\n");
        assert_eq!(steps, vec![echo("abcd"), Step::Submit(None)]);
        assert_eq!(
            editor.feed(b"ok\n"),
            vec![echo("ok"), Step::Submit(Some("ok".into()))]
        );
    }

    #[test]
    fn rows_above_the_cursor_follow_lazy_wrapping() {
        assert_eq!(rows_above_cursor(0, 80), 0);
        assert_eq!(
            rows_above_cursor(80, 80),
            0,
            "cursor still on the first row"
        );
        assert_eq!(rows_above_cursor(81, 80), 1);
        assert_eq!(rows_above_cursor(400, 50), 7);
        assert_eq!(
            rows_above_cursor(10, 0),
            9,
            "a zero width is taken as one column"
        );
    }
}
