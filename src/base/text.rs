//! Text from outside latchkey made safe for the terminal: the one way a string that came from a
//! provider, a token, a file or the environment is shown.
//!
//! What a terminal would act on rather than print is escaped, in Rust's notation (`\u{1b}`;
//! `\n`, `\r`, `\t` and `\0` for those four): C0 and C1 controls and DEL (escape sequences,
//! bells, line breaks that would fake a line of latchkey's own), the Unicode bidi controls that
//! reorder what is shown ("Trojan Source"), and the invisible format characters — zero-widths,
//! joiners, fillers, tags — that make one string look like another. Everything else, letters of
//! any script included, is kept as it is, so a name reads as it is and a URL shown is still the
//! URL to copy. Text is cut to a bound, with `…` where it was cut.

use std::borrow::Cow;

/// The longest outside text shown by default, in characters after escaping: names, claims,
/// codes, error descriptions. One line's worth, so a provider cannot fill the screen.
pub const SHOWN_MAX_CHARS: usize = 200;

/// The longest text shown by [`shown_whole`]: URLs and paths must stay usable whole, and real
/// ones are far shorter.
pub const WHOLE_MAX_CHARS: usize = 4096;

/// Whether a character must not reach a terminal as it is (see the module's description):
/// the controls, and every character Unicode makes invisible — format characters (category
/// Cf) and default-ignorable code points (`Default_Ignorable_Code_Point`, Unicode 15), which a
/// terminal draws as nothing, so that `ad\u{fe0f}min` would look like `admin` — plus the line
/// and paragraph separators. tests/escapes.rs checks the table against Perl's Unicode tables.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'                        // soft hyphen
            | '\u{034F}'                      // combining grapheme joiner
            | '\u{0600}'..='\u{0605}'         // Arabic number signs (Cf)
            | '\u{061C}'                      // Arabic letter mark (bidi)
            | '\u{06DD}'                      // Arabic end of ayah (Cf)
            | '\u{070F}'                      // Syriac abbreviation mark (Cf)
            | '\u{0890}'..='\u{0891}'         // Arabic pound and piastre marks above (Cf)
            | '\u{08E2}'                      // Arabic disputed end of ayah (Cf)
            | '\u{115F}'..='\u{1160}'         // Hangul fillers
            | '\u{17B4}'..='\u{17B5}'         // Khmer invisible vowels
            | '\u{180B}'..='\u{180F}'         // Mongolian selectors and vowel separator
            | '\u{200B}'..='\u{200F}'         // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}'         // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{206F}'         // word joiner, invisible operators, bidi isolates
            | '\u{3164}'                      // Hangul filler
            | '\u{FE00}'..='\u{FE0F}'         // variation selectors 1-16
            | '\u{FEFF}'                      // zero-width no-break space (BOM)
            | '\u{FFA0}'                      // halfwidth Hangul filler
            | '\u{FFF0}'..='\u{FFFB}'         // reserved ignorables, interlinear annotations
            | '\u{110BD}' | '\u{110CD}'       // Kaithi number signs (Cf)
            | '\u{13430}'..='\u{1343F}'       // Egyptian hieroglyph format controls
            | '\u{1BCA0}'..='\u{1BCA3}'       // shorthand format controls
            | '\u{1D173}'..='\u{1D17A}'       // musical format controls
            | '\u{E0000}'..='\u{E0FFF}' // tags, variation selectors 17-256, reserved ignorables
        )
}

/// Outside text for a message: unsafe characters escaped, cut at [`SHOWN_MAX_CHARS`].
pub fn shown(text: &str) -> String {
    shown_within(text, SHOWN_MAX_CHARS)
}

/// Outside text for a message: unsafe characters escaped, and at most `max_chars` characters
/// (an escape counts as the characters it takes), the last of them `…` when it was cut. An
/// escape is never cut in half.
pub fn shown_within(text: &str, max_chars: usize) -> String {
    render(text, max_chars, false)
}

/// [`shown_within`]'s work; `quoting` also escapes `"` and `\`, for text inside quotes.
fn render(text: &str, max_chars: usize, quoting: bool) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    let mut count = 0usize;
    // Where `out` may be cut to leave room for the `…`: the end of the last whole character or
    // escape that keeps `count` below the bound.
    let mut cut_at = 0usize;
    let mut utf8 = [0u8; 4];
    for c in text.chars() {
        // An escape is ASCII, as wide as it is long; anything else is one character.
        let (piece, width): (Cow<'_, str>, usize) = if is_unsafe(c) {
            let escaped = escape(c);
            let width = escaped.len();
            (escaped.into(), width)
        } else if quoting && (c == '"' || c == '\\') {
            (format!("\\{c}").into(), 2)
        } else {
            (Cow::Borrowed(&*c.encode_utf8(&mut utf8)), 1)
        };
        if count + width > max_chars {
            out.truncate(cut_at);
            out.push('…');
            return out;
        }
        out.push_str(&piece);
        count += width;
        if count < max_chars {
            cut_at = out.len();
        }
    }
    out
}

/// Outside text a person must see whole to use it — a URL to open or copy, a path — escaped
/// like any other (a URL that parsed has no controls, but may hold bidi or invisible
/// characters), and cut only past [`WHOLE_MAX_CHARS`].
pub fn shown_whole(text: &str) -> String {
    shown_within(text, WHOLE_MAX_CHARS)
}

/// Outside text in double quotes, as `{:?}` would show it (quotes and backslashes inside
/// escaped too, so where it ends is unambiguous), cut at [`SHOWN_MAX_CHARS`].
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", render(text, SHOWN_MAX_CHARS, true))
}

/// Outside text escaped as [`shown`] does it but never cut: for text that is already bounded
/// (a value from the profiles file, which the user can see whole in the file).
pub fn escape_controls(text: &str) -> String {
    shown_within(text, usize::MAX)
}

/// `\n`, `\t`, `\r`, `\0` and `\u{1b}` for controls; `\u{202e}` for the rest.
fn escape(c: char) -> String {
    if c.is_control() {
        c.escape_debug().to_string()
    } else {
        c.escape_unicode().to_string()
    }
}

/// A JSON document as `{:#}` prints it (two-space indents), with the characters of
/// [`is_unsafe`] in strings written as `\uXXXX` escapes: the same data for any JSON reader,
/// but nothing a terminal acts on when a person reads it (serde_json itself escapes only
/// U+0000–U+001F).
pub fn json_pretty<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut out,
        SafeJson(serde_json::ser::PrettyFormatter::with_indent(b"  ")),
    );
    // Serializing a Value or a plain struct into memory cannot fail.
    if value.serialize(&mut serializer).is_err() {
        return "null".to_owned();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A pretty formatter that also escapes unsafe characters inside strings.
struct SafeJson<'a>(serde_json::ser::PrettyFormatter<'a>);

impl serde_json::ser::Formatter for SafeJson<'_> {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if is_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[start..at])?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                start = at + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character class the module promises to escape, with what it looks like escaped.
    const UNSAFE: &[(&str, &str)] = &[
        ("\u{1b}", r"\u{1b}"),
        ("\u{7}", r"\u{7}"),
        ("\n", r"\n"),
        ("\r", r"\r"),
        ("\t", r"\t"),
        ("\0", r"\0"),
        ("\u{7f}", r"\u{7f}"),
        ("\u{9b}", r"\u{9b}"),
        ("\u{85}", r"\u{85}"),
        ("\u{202a}", r"\u{202a}"),
        ("\u{202e}", r"\u{202e}"),
        ("\u{2066}", r"\u{2066}"),
        ("\u{2069}", r"\u{2069}"),
        ("\u{200e}", r"\u{200e}"),
        ("\u{200f}", r"\u{200f}"),
        ("\u{061c}", r"\u{61c}"),
        ("\u{200b}", r"\u{200b}"),
        ("\u{200d}", r"\u{200d}"),
        ("\u{2060}", r"\u{2060}"),
        ("\u{feff}", r"\u{feff}"),
        ("\u{2028}", r"\u{2028}"),
        ("\u{00ad}", r"\u{ad}"),
        ("\u{3164}", r"\u{3164}"),
        ("\u{e0041}", r"\u{e0041}"),
        ("\u{fe0f}", r"\u{fe0f}"),
        ("\u{e0101}", r"\u{e0101}"),
        ("\u{1bca0}", r"\u{1bca0}"),
        ("\u{600}", r"\u{600}"),
        ("\u{13439}", r"\u{13439}"),
    ];

    #[test]
    fn escapes_every_unsafe_class() {
        for (raw, escaped) in UNSAFE {
            assert_eq!(
                shown(&format!("a{raw}b")),
                format!("a{escaped}b"),
                "{raw:?}"
            );
            assert!(!shown(raw).chars().any(is_unsafe), "{raw:?}");
        }
    }

    #[test]
    fn the_reported_payloads_are_inert() {
        assert_eq!(
            shown("AB\u{1b}]0;TITLE\u{7}\u{1b}[2J"),
            r"AB\u{1b}]0;TITLE\u{7}\u{1b}[2J"
        );
        assert_eq!(shown("\u{1b}[31mMallory"), r"\u{1b}[31mMallory");
        // A claim that would print as "admin@corp.com".
        assert_eq!(
            shown("ad\u{FE0F}min@corp\u{E0101}.com"),
            r"ad\u{fe0f}min@corp\u{e0101}.com"
        );
    }

    #[test]
    fn keeps_what_is_printable() {
        for text in [
            "Alice Liddell",
            "alice@example.com",
            "Zoë Ångström-Łukasiewicz",
            "山田 太郎",
            "محمد",
            "ABCD-EFGH",
            "https://idp.example/device?user_code=ABCD-EFGH&x=%1b",
            r"back\slash and 'quotes'",
            "emoji 🔑",
            "",
        ] {
            assert_eq!(shown(text), text);
        }
    }

    #[test]
    fn is_bounded_without_cutting_an_escape() {
        let long = "x".repeat(500);
        let cut = shown(&long);
        assert_eq!(cut.chars().count(), SHOWN_MAX_CHARS);
        assert!(cut.ends_with("x…"));
        assert_eq!(shown_within("abcdef", 6), "abcdef");
        assert_eq!(shown_within("abcdefg", 6), "abcde…");
        // `ab\u{1b}`, 8 characters, fits 8 but not 7: the escape goes whole or not at all.
        assert_eq!(shown_within("ab\u{1b}", 8), r"ab\u{1b}");
        assert_eq!(shown_within("ab\u{1b}c", 8), "ab…");
        assert_eq!(shown_within("ab\u{1b}c", 9), r"ab\u{1b}c");
        for max in 1..40 {
            let out = shown_within("\u{1b}[2J\u{202e}evil\u{7}", max);
            assert!(out.chars().count() <= max, "{max}: {out}");
            assert!(!out.chars().any(is_unsafe), "{max}: {out}");
        }
        // Escaping cannot grow past the bound either.
        let escapes = "\u{1b}".repeat(1000);
        assert!(shown(&escapes).chars().count() <= SHOWN_MAX_CHARS);
    }

    #[test]
    fn quoted_looks_like_debug_for_ordinary_text() {
        for text in ["https://evil.example", "a \"b\" c", r"C:\dir", "Alice"] {
            assert_eq!(quoted(text), format!("{text:?}"));
        }
        assert_eq!(quoted("\u{1b}[2J"), r#""\u{1b}[2J""#);
    }

    #[test]
    fn escape_controls_is_the_same_escaping_unbounded() {
        let long = format!("{}\u{1b}", "y".repeat(5000));
        assert_eq!(
            escape_controls(&long),
            format!("{}\\u{{1b}}", "y".repeat(5000))
        );
    }

    #[test]
    fn json_keeps_the_data_and_escapes_what_a_terminal_acts_on() {
        let doc = serde_json::json!({
            "name": "\u{1b}[31mMallory\u{9b}2J\u{202e}\u{7f}",
            "plain": ["Zoë", 1, null, {"a": true}],
            "tag": "\u{e0041}",
        });
        let text = json_pretty(&doc);
        assert!(!text.chars().any(|c| is_unsafe(c) && c != '\n'), "{text}");
        assert!(
            text.contains(r#""\u001b[31mMallory\u009b2J\u202e\u007f""#),
            "{text}"
        );
        assert!(text.contains(r#""\udb40\udc41""#), "{text}");
        // The same document for a JSON reader, laid out as `{:#}` lays it out.
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            doc
        );
        let plain = serde_json::json!({"a": [1, "b"], "c": {"d": "Zoë"}});
        assert_eq!(json_pretty(&plain), format!("{plain:#}"));
    }
}
