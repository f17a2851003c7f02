//! The token endpoint's answer (token_endpoint::parse_token_response) for any status, `Date`
//! header and body.
//!
//! Input: two bytes of status, the `Date` header's line, then the body.
#![no_main]

use latchkey::base::error::ExitCode;
use latchkey::net::http::Response;
use latchkey::oauth::token_endpoint::{oauth_error_of, parse_token_response};
use latchkey_fuzz::assert_error_printable;
use libfuzzer_sys::fuzz_target;

/// Messages carry at most excerpts of what the provider sent, not the whole of it.
const MAX_MESSAGE_CHARS: usize = 1200;

fuzz_target!(|data: &[u8]| {
    let Some((status, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let status = u16::from_be_bytes(*status) % 1000;
    let (date, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (
            rest.get(..at).unwrap_or_default(),
            rest.get(at + 1..).unwrap_or_default(),
        ),
        None => (&b""[..], rest),
    };
    let date = String::from_utf8_lossy(date);
    let response = Response {
        status,
        content_type: Some("application/json".to_owned()),
        date: (!date.is_empty()).then(|| date.into_owned()),
        body: String::from_utf8_lossy(body).into_owned(),
    };
    match parse_token_response(&response) {
        Ok(tokens) => {
            assert!(response.is_success(), "tokens accepted with HTTP {status}");
            assert!(!tokens.access_token.secret().is_empty());
            assert_eq!(tokens.token_type, "Bearer");
            assert!(tokens.refresh_token.is_none_or(|t| !t.secret().is_empty()));
            assert!(tokens.id_token.is_none_or(|t| !t.secret().is_empty()));
            assert_eq!(tokens.date, response.date);
        }
        Err(error) => {
            assert_error_printable(&error);
            assert!(
                error.message().chars().count() <= MAX_MESSAGE_CHARS,
                "{} characters",
                error.message().chars().count()
            );
            // A failing provider is a network problem to retry, never a refusal of the grant.
            if status >= 500 || status == 429 {
                assert_eq!(error.exit_code(), ExitCode::Network);
            }
        }
    }
    let _ = oauth_error_of(&response);
    if let Some(date) = &response.date {
        let _ = latchkey::base::duration::parse_http_date(date);
    }
});
