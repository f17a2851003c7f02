//! Time as people read and write it: durations on the command line (`90`, `90s`, `5m`, `1h`,
//! `1m30s`), time left, and UTC timestamps (RFC 3339) without a date-time dependency.

use std::time::Duration;

/// The longest duration latchkey accepts anywhere. Deadlines are `Instant::now() + duration`,
/// which panics on overflow, and no timeout or margin sensibly exceeds a year.
pub const LONGEST: Duration = Duration::from_secs(365 * 24 * 3600);

/// Refuses a duration over [`LONGEST`], naming it as the user wrote it.
pub fn at_most_a_year(duration: Duration, written: &str) -> Result<Duration, String> {
    if duration > LONGEST {
        Err(format!(
            "{written} is longer than a year (8760h), the longest duration latchkey accepts"
        ))
    } else {
        Ok(duration)
    }
}

/// Parses a duration; a bare number is seconds. Used as an argh `from_str_fn`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let invalid =
        || format!("{text:?} is not a duration: use seconds (90) or units like 90s, 5m, 1h, 1m30s");
    if text.is_empty() {
        return Err(invalid());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return at_most_a_year(Duration::from_secs(seconds), &format!("{text:?}"));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(invalid()),
        };
        let value: u64 = number.parse().map_err(|_| invalid())?;
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(invalid)?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(invalid());
    }
    at_most_a_year(Duration::from_secs(total), &format!("{text:?}"))
}

/// A number of seconds as a provider states it (`expires_in`, `interval`): a non-negative JSON
/// number — an integer, a fraction (rounded down) or one beyond `u64` — or a string of one,
/// capped at `cap`. `None` for anything else: negative, not a number, not finite.
///
/// The cap is applied here, before any arithmetic, so nothing computed from a provider's
/// number can overflow (`Instant::now() + Duration::from_secs(u64::MAX)` panics).
pub fn provider_seconds(value: &serde_json::Value, cap: u64) -> Option<u64> {
    let from_float = |f: f64| {
        // `as` saturates; the comparison keeps the cap exact.
        (f.is_finite() && f >= 0.0).then_some(if f >= cap as f64 { cap } else { f as u64 })
    };
    match value {
        serde_json::Value::Number(n) => match n.as_u64() {
            Some(secs) => Some(secs.min(cap)),
            None => n.as_f64().and_then(from_float),
        },
        serde_json::Value::String(s) => {
            let s = s.trim();
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                // Digits beyond u64 are still a (huge) number of seconds.
                Some(s.parse::<u64>().map_or(cap, |secs| secs.min(cap)))
            } else {
                s.parse::<f64>().ok().and_then(from_float)
            }
        }
        _ => None,
    }
}

/// `1h 05m`, `4m 05s`, `59s`: for "time left" displays.
pub fn format_remaining(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 3600 {
        format!("{}h {:02}m", secs / 3600, secs / 60 % 60)
    } else if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// `2026-11-29T07:05:09Z` for Unix seconds (RFC 3339, UTC).
pub fn rfc3339(unix: u64) -> String {
    let (year, month, day) = civil_from_days((unix / 86_400) as i64);
    let secs = unix % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses an HTTP `Date` header (IMF-fixdate, RFC 9110 §5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`)
/// to Unix seconds; `None` for anything else.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let mut parts = text.split_whitespace();
    let (_weekday, day, month, year, time, zone) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if zone != "GMT" || parts.next().is_some() {
        return None;
    }
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == month)? as u32
        + 1;
    let day: u32 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let year: i64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // Checked, though a year of at most 9999 keeps every term far from overflow: the header
    // comes from the provider (or anything between it and us).
    u64::try_from(days)
        .ok()?
        .checked_mul(86_400)?
        .checked_add(h * 3600 + m * 60 + s)
}

/// Inverse of `civil_from_days`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// "in 59m 58s" / "expired 3m 02s ago", relative to `now`.
pub fn relative(at: u64, now: u64) -> String {
    if at >= now {
        format!("in {}", format_remaining(Duration::from_secs(at - now)))
    } else {
        format!(
            "expired {} ago",
            format_remaining(Duration::from_secs(now - at))
        )
    }
}

/// `07:05 UTC (59 min)`: when a moment after `now` comes, as a clock time (with the date when it
/// is a day or more away) and the wait rounded up to the minute, for "valid until …".
pub fn until_clock(at: u64, now: u64) -> String {
    let left = at.saturating_sub(now);
    let stamp = rfc3339(at);
    let (date, time) = stamp.split_once('T').unwrap_or((&stamp, ""));
    let time = time.get(..5).unwrap_or(time);
    let when = if left < 86_400 {
        format!("{time} UTC")
    } else {
        format!("{date} {time} UTC")
    };
    let minutes = left.div_ceil(60);
    let wait = match minutes {
        0..60 => format!("{minutes} min"),
        60..2880 => format!("{} h {:02} min", minutes / 60, minutes % 60),
        _ => format!("{} days", minutes / 1440),
    };
    format!("{when} ({wait})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_seconds_and_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn refuses_junk() {
        for bad in ["", "m", "5x", "-5", "1.5m", "5m3", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_935_909), "2026-11-29T07:05:09Z");
        assert_eq!(relative(100, 40), "in 1m 00s");
        assert_eq!(relative(40, 100), "expired 1m 00s ago");
    }

    #[test]
    fn clock_times_for_valid_until() {
        let now = 1_795_935_909; // 2026-11-29T07:05:09Z
        assert_eq!(until_clock(now + 3540, now), "08:04 UTC (59 min)");
        assert_eq!(until_clock(now + 1, now), "07:05 UTC (1 min)");
        assert_eq!(until_clock(now, now), "07:05 UTC (0 min)");
        assert_eq!(until_clock(now + 3900, now), "08:10 UTC (1 h 05 min)");
        assert_eq!(
            until_clock(now + 3 * 86_400, now),
            "2026-12-02 07:05 UTC (3 days)"
        );
        assert!(
            until_clock(u64::MAX, 0).ends_with(" days)"),
            "no panic at the end of time"
        );
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sun, 29 Nov 2026 07:05:09 GMT"),
            Some(1_795_935_909)
        );
        for bad in [
            "",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:00:00 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn provider_seconds_are_capped_never_overflowing() {
        use serde_json::json;
        const CAP: u64 = 3600;
        for (value, expected) in [
            (json!(600), Some(600)),
            (json!("600"), Some(600)),
            (json!(" 600 "), Some(600)),
            (json!(0), Some(0)),
            (json!(12.9), Some(12)),
            (json!(3600), Some(CAP)),
            (json!(9_223_372_036_854_775_808_u64), Some(CAP)),
            (json!(u64::MAX), Some(CAP)),
            (json!(1e300), Some(CAP)),
            (json!("18446744073709551616"), Some(CAP)),
            (json!("99999999999999999999999999999"), Some(CAP)),
            (json!("1e999"), None),
            (json!(-1), None),
            (json!(i64::MIN), None),
            (json!(-0.5), None),
            (json!("-5"), None),
            (json!("soon"), None),
            (json!(""), None),
            (json!(null), None),
            (json!(true), None),
            (json!([600]), None),
        ] {
            assert_eq!(provider_seconds(&value, CAP), expected, "{value}");
        }
        // Huge numbers as serde_json reads them from text: beyond u64 they become floats.
        let beyond: serde_json::Value = serde_json::from_str("184467440737095516150000").unwrap();
        assert_eq!(provider_seconds(&beyond, CAP), Some(CAP));
    }

    #[test]
    fn http_dates_at_the_edges_do_not_overflow() {
        assert_eq!(
            parse_http_date("Fri, 31 Dec 9999 23:59:60 GMT"),
            Some(253_402_300_800)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Thu, 01 Jan 18446744073709551616 00:00:00 GMT"),
            None
        );
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 99999999999999999999:00:00 GMT"),
            None
        );
    }

    #[test]
    fn formats_time_left() {
        assert_eq!(format_remaining(Duration::from_secs(245)), "4m 05s");
        assert_eq!(format_remaining(Duration::from_secs(7)), "7s");
        assert_eq!(format_remaining(Duration::from_secs(3600)), "1h 00m");
    }
}
