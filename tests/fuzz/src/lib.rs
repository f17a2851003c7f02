//! What the fuzz targets share: the login's fixed expectations and independent reference checks.
//!
//! The checks here are written apart from latchkey's own code on purpose: an invariant verified
//! with the code under test would only repeat its mistakes.

/// The `state` the fuzzed logins expect; shaped like a real one, so it cannot occur in any fixed
/// message text by chance.
pub const STATE: &str = "st8Zq9xK2pLmW4";

/// The issuer the fuzzed logins expect.
pub const ISSUER: &str = "https://login.example.com/";

/// The loopback redirect's path.
pub const CALLBACK_PATH: &str = "/callback";

/// Strict `application/x-www-form-urlencoded` decoding: `+` is a space, `%` takes exactly two
/// hex digits, and the result must be UTF-8.
pub fn form_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let high = hex_digit(bytes.next()?)?;
                let low = hex_digit(bytes.next()?)?;
                out.push(high << 4 | low);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

/// `%XX` escapes decoded where they are well formed, everything else kept: what a sender could
/// mean by a value, for asking whether the sender knew it.
pub fn lossy_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&byte) = text.get(i) {
        let escaped = (byte == b'%')
            .then(|| Some((hex_digit(*text.get(i + 1)?)?, hex_digit(*text.get(i + 2)?)?)))
            .flatten();
        match escaped {
            Some((high, low)) => {
                out.push(high << 4 | low);
                i += 3;
            }
            None => {
                out.push(if byte == b'+' { b' ' } else { byte });
                i += 1;
            }
        }
    }
    out
}

/// The query's parameters, each decoded strictly (`None` for a part that does not decode).
pub fn query_params(query: &str) -> Vec<(Option<String>, Option<String>)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (form_decode(key), form_decode(value))
        })
        .collect()
}

/// The decoded values of one parameter.
pub fn values_of<'a>(
    params: &'a [(Option<String>, Option<String>)],
    name: &str,
) -> Vec<Option<&'a str>> {
    params
        .iter()
        .filter(|(key, _)| key.as_deref() == Some(name))
        .map(|(_, value)| value.as_deref())
        .collect()
}

/// Whether `needle` occurs in `haystack` (an empty needle never does).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// Whether the sender of `input` knew `secret`: it appears as sent, or once %-decoded.
pub fn sender_knew(input: &[u8], secret: &str) -> bool {
    contains(input, secret.as_bytes()) || contains(&lossy_decode(input), secret.as_bytes())
}

/// A value shaped like a random secret (a state or a code): long, unreserved characters only,
/// letters and digits both. Such a value can only appear in a message by being copied into it.
pub fn secret_like(value: &str) -> bool {
    value.len() >= 8
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
        && value.bytes().any(|b| b.is_ascii_digit())
        && value.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Messages reach the terminal: no control characters (escape sequences, line breaks) from
/// whatever input they describe.
pub fn assert_printable(what: &str, text: &str) {
    assert!(
        !text.chars().any(char::is_control),
        "{what} carries control characters: {text:?}"
    );
}

/// An error as the user sees it: a printable message and hint.
pub fn assert_error_printable(error: &latchkey::base::error::Error) {
    assert_printable("error message", error.message());
    if let Some(hint) = error.hint_text() {
        assert_printable("error hint", hint);
    }
}

/// The JSON string values of `body` (at any depth), for asking which of them a message shows.
fn json_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| json_strings(v, out)),
        _ => {}
    }
}

/// Fields a message may show on purpose: the provider's OAuth error words, the token type it
/// issued (shortened and redacted), and the device flow's user code and verification URIs.
const SHOWN_FIELDS: &[&str] = &[
    "error",
    "error_description",
    "token_type",
    "user_code",
    "verification_uri",
    "verification_url",
    "verification_uri_complete",
];

/// No token from a response body reaches an error about it. A value shaped like a secret
/// (see [`secret_like`]) is never shown from a successful (2xx) answer, which is described
/// and never quoted; from any other, one of 24 characters or more is never shown, however it
/// is keyed (excerpts are redacted). Values also found in a field shown on purpose are exempt.
pub fn assert_no_body_secret(error: &latchkey::base::error::Error, body: &str, success: bool) {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return;
    };
    let shown: Vec<String> = SHOWN_FIELDS
        .iter()
        .filter_map(|field| json.get(*field))
        .filter_map(|v| v.as_str())
        // As messages show them: control characters dropped.
        .map(|s| s.chars().filter(|c| !c.is_control()).collect())
        .collect();
    let mut values = Vec::new();
    json_strings(&json, &mut values);
    let text = format!(
        "{} {}",
        error.message(),
        error.hint_text().unwrap_or_default()
    );
    for value in values {
        let long_enough = if success { 8 } else { 24 };
        if value.len() < long_enough
            || !secret_like(&value)
            || shown.iter().any(|s| s.contains(value.as_str()))
        {
            continue;
        }
        assert!(
            !text.contains(value.as_str()),
            "{value:?} from the body shown in {text:?}"
        );
    }
}
