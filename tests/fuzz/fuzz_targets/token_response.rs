//! The token endpoint's answer (token_endpoint::parse_token_response) for any status, `Date`
//! header and body.
//!
//! Input: two bytes of status, the `Date` header's line, then the body.
//!
//! Besides what the answer is read as: no token from the body reaches a message (a 2xx body is
//! never quoted, any other only redacted), and no number in it can overflow what latchkey
//! computes from it (`expires_in` up to and beyond `u64::MAX`, a `Date` in year 9999).
#![no_main]

use latchkey::base::error::ExitCode;
use latchkey::net::http::Response;
use latchkey::oauth::token_endpoint::{
    MAX_TOKEN_LIFETIME_SECS, error_answer, parse_token_response,
};
use latchkey_fuzz::{assert_error_printable, assert_no_body_secret};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant, SystemTime};

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
        body: String::from_utf8_lossy(body).into_owned().into(),
    };
    match parse_token_response(&response) {
        Ok(tokens) => {
            assert!(response.is_success(), "tokens accepted with HTTP {status}");
            assert!(!tokens.access_token.secret().is_empty());
            assert_eq!(tokens.token_type, "Bearer");
            assert!(tokens.refresh_token.is_none_or(|t| !t.secret().is_empty()));
            assert!(tokens.id_token.is_none_or(|t| !t.secret().is_empty()));
            assert_eq!(tokens.date, response.date);
            // What the store and `status` compute from a lifetime cannot overflow.
            if let Some(secs) = tokens.expires_in {
                assert!(secs <= MAX_TOKEN_LIFETIME_SECS, "expires_in {secs}");
                let lifetime = Duration::from_secs(secs);
                assert!(Instant::now().checked_add(lifetime).is_some());
                assert!(SystemTime::now().checked_add(lifetime).is_some());
            }
        }
        Err(error) => {
            assert_error_printable(&error);
            assert_no_body_secret(&error, &response.body, response.is_success());
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
    // An OAuth error is read into its code once, whatever the code is.
    if let Some(answer) = error_answer(&response) {
        let _ = answer.into_error();
    }
    if let Some(date) = &response.date {
        // At most the last second of year 9999: checked arithmetic, nothing wraps.
        if let Some(at) = latchkey::base::duration::parse_http_date(date) {
            assert!(at <= 253_402_300_800, "{date:?} read as {at}");
        }
    }
});
