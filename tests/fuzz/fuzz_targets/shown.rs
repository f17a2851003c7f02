//! The one sanitizer for outside text (base::text): whatever a provider, a token, a file or the
//! environment holds, what is shown carries nothing a terminal acts on, keeps to its bound, and
//! leaves ordinary text as it is; its JSON keeps the value exactly.
//!
//! Input: one byte for the bound, then the text.
#![no_main]

use latchkey::base::text::{escape_controls, json_pretty, quoted, shown, shown_within};
use libfuzzer_sys::fuzz_target;

/// What a terminal acts on rather than prints, listed apart from latchkey's own list: C0, DEL
/// and C1 controls, bidi controls, and the zero-width and invisible format characters.
fn terminal_active(c: char) -> bool {
    let u = u32::from(c);
    u < 0x20
        || (0x7f..=0x9f).contains(&u)
        || matches!(
            u,
            0xad | 0x61c | 0x180e | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff
        )
        || (0xe0000..=0xe007f).contains(&u)
}

/// Text no terminal mistakes: printable ASCII, and the letters and digits of the scripts below
/// U+1100 (Latin, Greek, Cyrillic, Hebrew, Arabic, …) — names and URLs as people write them.
fn ordinary(c: char) -> bool {
    (' '..='~').contains(&c) || (c.is_alphanumeric() && u32::from(c) < 0x1100)
}

fn assert_inert(what: &str, text: &str) {
    assert!(
        !text.chars().any(terminal_active),
        "{what} carries a character a terminal acts on: {text:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&bound, rest)) = data.split_first() else {
        return;
    };
    let max = usize::from(bound).max(1);
    let text = String::from_utf8_lossy(rest);

    let cut = shown_within(&text, max);
    assert_inert("shown_within", &cut);
    assert!(
        cut.chars().count() <= max,
        "{} > {max}: {cut:?}",
        cut.chars().count()
    );
    if text.chars().all(ordinary) && text.chars().count() <= max {
        assert_eq!(
            cut, text,
            "ordinary text within the bound is shown as it is"
        );
    }

    assert_inert("shown", &shown(&text));
    assert_inert("escape_controls", &escape_controls(&text));
    let quoted = quoted(&text);
    assert_inert("quoted", &quoted);
    assert!(quoted.starts_with('"') && quoted.ends_with('"') && quoted.len() >= 2);

    // JSON: the same value for a reader, nothing a terminal acts on but the layout's newlines.
    let value = serde_json::Value::String(text.clone().into_owned());
    let json = json_pretty(&value);
    assert_inert("json_pretty", &json);
    let back: serde_json::Value = serde_json::from_str(&json).expect("json_pretty is JSON");
    assert_eq!(back, value);
});
