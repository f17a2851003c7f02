//! The agent's request reader (agent::protocol): whatever a forwarded socket delivers — and
//! whoever controls the remote host controls that — reading it never panics, a line never
//! grows past the limit, and what is accepted is this protocol's version and says it again
//! the same way when written back.
//!
//! Input: the bytes a client sends, read as the agent reads them (line by line).
#![no_main]

use latchkey::agent::protocol::{LineReader, MAX_LINE, VERSION, parse_request, request_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = LineReader::new(data);
    while let Ok(Some(line)) = reader.read_line() {
        assert!(line.len() <= MAX_LINE);
        if let Ok(request) = parse_request(&line) {
            let again = request_line(&request);
            // Written back, it says this protocol's version.
            let written: serde_json::Value = serde_json::from_slice(&again).expect("JSON");
            assert_eq!(written["v"], VERSION);
            assert_eq!(again.last(), Some(&b'\n'));
            let reparsed = parse_request(&again[..again.len() - 1])
                .expect("a request written back reads again");
            assert_eq!(reparsed, request);
        }
    }
});
