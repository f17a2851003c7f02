//! The device authorization endpoint's answer (device::parse_device_authorization) for any
//! status and body, and the `Retry-After` header (retry::parse_retry_after) of any answer.
//!
//! Input: two bytes of status, the `Retry-After` header's line, then the body.
//!
//! What must hold: a 2xx answer that is no device authorization response is described, never
//! quoted (it holds a device code), and no number a provider sends — `interval`, `expires_in`,
//! `Retry-After`, up to and beyond `u64::MAX` — can overflow the deadlines computed from it.
#![no_main]

use latchkey::net::http::Response;
use latchkey::net::retry::{Failure, RETRY_AFTER_CEILING, Resend, Schedule, parse_retry_after};
use latchkey::oauth::device::{MAX_INTERVAL, MAX_LIFETIME, parse_device_authorization};
use latchkey_fuzz::{assert_error_printable, assert_no_body_secret};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

/// The Unix time the fuzzed `Retry-After` dates are read against (2027).
const NOW: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((status, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let status = u16::from_be_bytes(*status) % 1000;
    let (retry_after, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (
            rest.get(..at).unwrap_or_default(),
            rest.get(at + 1..).unwrap_or_default(),
        ),
        None => (&b""[..], rest),
    };
    let response = Response {
        status,
        content_type: Some("application/json".to_owned()),
        date: None,
        body: String::from_utf8_lossy(body).into_owned().into(),
    };
    match parse_device_authorization(&response) {
        Ok(authorization) => {
            assert!(response.is_success(), "accepted with HTTP {status}");
            let interval = authorization.interval();
            assert!(
                (Duration::from_secs(1)..=MAX_INTERVAL).contains(&interval),
                "{interval:?}"
            );
            assert!(authorization.lifetime() <= MAX_LIFETIME);
            assert!(authorization.expires_in <= MAX_LIFETIME.as_secs());
            assert!(
                authorization
                    .interval
                    .is_none_or(|i| i <= MAX_INTERVAL.as_secs())
            );
            // What the login and the poll loop compute.
            let now = Instant::now();
            assert!(now.checked_add(interval).is_some());
            assert!(now.checked_add(authorization.lifetime()).is_some());
        }
        Err(error) => {
            assert_error_printable(&error);
            assert_no_body_secret(&error, &response.body, response.is_success());
        }
    }

    let retry_after = String::from_utf8_lossy(retry_after);
    if let Some(asked) = parse_retry_after(&retry_after, NOW) {
        assert!(
            asked <= RETRY_AFTER_CEILING,
            "{retry_after:?} read as {asked:?}"
        );
        let mut schedule = Schedule::new(Duration::from_secs(30));
        schedule.attempt();
        let failure = Failure::MaybeProcessed {
            retry_after: Some(asked),
        };
        if let Some(pause) = schedule.pause_after(failure, Resend::Transient, Duration::ZERO) {
            assert_eq!(pause, asked);
            assert!(pause <= latchkey::net::retry::MAX_RETRY_AFTER);
        }
    }
});
