//! When a failed request to the provider is sent again: which failures, how many times, after
//! what pause (the provider's `Retry-After`, capped), and within what total time.

use std::time::Duration;

/// At most this many attempts of one request.
pub const MAX_ATTEMPTS: u32 = 3;
/// The pauses before the second and third attempts when the provider names none.
const PAUSES: [Duration; 2] = [Duration::from_millis(300), Duration::from_millis(900)];
/// A `Retry-After` longer than this is not waited for: a command line should not hang for
/// minutes, and a provider that busy will not be back within a retry.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// The longest `Retry-After` read from a header: a day. Anything longer (up to `u64::MAX`
/// seconds, a date in year 9999, or digits beyond u64) reads as a day, which is still far over
/// [`MAX_RETRY_AFTER`] and so still means "not waited for": the cap only keeps the arithmetic
/// on it from overflowing.
pub const RETRY_AFTER_CEILING: Duration = Duration::from_secs(24 * 3600);
/// No retry starts later than this after the first attempt began (or `http_timeout`, when that
/// is longer), so a whole request takes at most that plus one `http_timeout`.
const MIN_RETRY_WINDOW: Duration = Duration::from_secs(5);

/// How an attempt failed, as far as sending it again is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Nothing reached the provider: resolving, connecting or the proxy's CONNECT failed.
    NotSent,
    /// The provider may have acted on the request: a timeout or broken connection after it
    /// was sent, or a 5xx or 429 answer (with the `Retry-After` it asked for, if any).
    MaybeProcessed { retry_after: Option<Duration> },
    /// Would fail the same way again: certificate problems, a proxy's refusal, a body too large.
    Permanent,
}

/// Which requests may be sent again after the provider may have acted on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Only when nothing was sent. For the code exchange: an authorization code is single-use
    /// (RFC 6749 §4.1.2), and a provider that sees one twice refuses it and should revoke the
    /// tokens it issued for it, so a retry after a lost answer could never succeed.
    OnlyUnsent,
    /// Also after timeouts, broken connections, 5xx and 429: for GETs, refreshes and
    /// revocations, where a repeat is harmless or the only way forward.
    Transient,
}

/// The attempts of one request so far.
#[derive(Debug)]
pub struct Schedule {
    window: Duration,
    attempts: u32,
}

impl Schedule {
    pub fn new(http_timeout: Duration) -> Schedule {
        Schedule {
            window: http_timeout.max(MIN_RETRY_WINDOW),
            attempts: 0,
        }
    }

    /// Counts an attempt about to be made.
    pub fn attempt(&mut self) {
        self.attempts += 1;
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// After a failed attempt, `elapsed` since the first began: the pause before the next
    /// attempt, or `None` to give up and report this failure.
    pub fn pause_after(
        &self,
        failure: Failure,
        resend: Resend,
        elapsed: Duration,
    ) -> Option<Duration> {
        let retry_after = match failure {
            Failure::Permanent => return None,
            Failure::NotSent => None,
            Failure::MaybeProcessed { .. } if resend == Resend::OnlyUnsent => return None,
            Failure::MaybeProcessed { retry_after } => retry_after,
        };
        if self.attempts >= MAX_ATTEMPTS {
            return None;
        }
        let pause = match retry_after {
            Some(asked) if asked > MAX_RETRY_AFTER => return None,
            Some(asked) => asked,
            None => {
                let index = usize::try_from(self.attempts.saturating_sub(1)).unwrap_or(0);
                PAUSES[index.min(PAUSES.len() - 1)]
            }
        };
        elapsed
            .checked_add(pause)
            .is_some_and(|end| end <= self.window)
            .then_some(pause)
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3): seconds, or an HTTP date (`now` is Unix time),
/// at most [`RETRY_AFTER_CEILING`].
pub fn parse_retry_after(value: &str, now: u64) -> Option<Duration> {
    let value = value.trim();
    let ceiling = RETRY_AFTER_CEILING.as_secs();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits beyond u64 still ask for a very long wait.
        let seconds = value.parse::<u64>().map_or(ceiling, |s| s.min(ceiling));
        return Some(Duration::from_secs(seconds));
    }
    crate::base::duration::parse_http_date(value)
        .map(|at| Duration::from_secs(at.saturating_sub(now).min(ceiling)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn pauses(failure: Failure, resend: Resend, http_timeout: Duration) -> Vec<Duration> {
        let mut schedule = Schedule::new(http_timeout);
        let mut elapsed = Duration::ZERO;
        let mut pauses = Vec::new();
        loop {
            schedule.attempt();
            match schedule.pause_after(failure, resend, elapsed) {
                Some(pause) => {
                    pauses.push(pause);
                    elapsed += pause;
                }
                None => return pauses,
            }
        }
    }

    #[test]
    fn three_attempts_with_growing_pauses() {
        let p = pauses(Failure::NotSent, Resend::OnlyUnsent, 30 * SECOND);
        assert_eq!(p, PAUSES);
        let p = pauses(
            Failure::MaybeProcessed { retry_after: None },
            Resend::Transient,
            30 * SECOND,
        );
        assert_eq!(p, PAUSES);
    }

    #[test]
    fn one_time_requests_are_not_resent_once_they_may_have_arrived() {
        let maybe = Failure::MaybeProcessed { retry_after: None };
        assert!(pauses(maybe, Resend::OnlyUnsent, 30 * SECOND).is_empty());
        assert!(pauses(Failure::Permanent, Resend::Transient, 30 * SECOND).is_empty());
    }

    #[test]
    fn retry_after_is_honoured_up_to_a_cap() {
        let asked = |secs| Failure::MaybeProcessed {
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            pauses(asked(2), Resend::Transient, 30 * SECOND),
            [2 * SECOND, 2 * SECOND]
        );
        assert!(pauses(asked(60), Resend::Transient, 30 * SECOND).is_empty());
    }

    #[test]
    fn retries_stop_at_the_window() {
        let schedule = Schedule::new(SECOND);
        let maybe = Failure::MaybeProcessed { retry_after: None };
        // A 1 s http_timeout still leaves the 5 s minimum window for fast failures...
        assert!(
            schedule
                .pause_after(maybe, Resend::Transient, 2 * SECOND)
                .is_some()
        );
        // ...but not past it.
        assert!(
            schedule
                .pause_after(maybe, Resend::Transient, 5 * SECOND)
                .is_none()
        );
        let asked = Failure::MaybeProcessed {
            retry_after: Some(8 * SECOND),
        };
        assert!(
            Schedule::new(30 * SECOND)
                .pause_after(asked, Resend::Transient, 25 * SECOND)
                .is_none()
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(" 7 ", 0), Some(7 * SECOND));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", 784_111_770),
            Some(10 * SECOND)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", 784_111_790),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-5", 0), None);
    }

    #[test]
    fn huge_retry_after_values_are_capped_and_not_waited_for() {
        for value in [
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999999999999",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let asked = parse_retry_after(value, 0);
            assert_eq!(asked, Some(RETRY_AFTER_CEILING), "{value}");
            let failure = Failure::MaybeProcessed { retry_after: asked };
            assert!(pauses(failure, Resend::Transient, 30 * SECOND).is_empty());
        }
        // Even a pause no parse would give cannot overflow the window arithmetic.
        let failure = Failure::MaybeProcessed {
            retry_after: Some(Duration::MAX),
        };
        assert_eq!(
            Schedule::new(Duration::MAX).pause_after(failure, Resend::Transient, SECOND),
            None
        );
        let schedule = Schedule::new(Duration::MAX);
        assert_eq!(
            schedule.pause_after(
                Failure::NotSent,
                Resend::Transient,
                Duration::MAX - Duration::from_millis(1)
            ),
            None
        );
    }
}
