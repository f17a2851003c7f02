//! Text from outside latchkey made safe for the terminal.

/// Control characters as escapes (`\u{1b}`), everything else as it is: for text from the file
/// in a message that goes to the terminal.
pub fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
