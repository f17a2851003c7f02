//! Diagnostic lines on stderr with `LATCHKEY_LOG=debug`: what latchkey reads, asks whom, and
//! decides. Never a secret: callers pass names, paths, URLs without their query, statuses and
//! timings, never token, code, verifier, state or key values.

use std::sync::OnceLock;

/// Whether `LATCHKEY_LOG` asks for debug lines (`debug` or `trace`; anything else is quiet).
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::env::var("LATCHKEY_LOG")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "debug" | "trace"))
    })
}

/// Writes one `debug:` line when enabled. Lines name paths, URLs and profile values, which
/// come from outside: the whole line is escaped as outside text is (`base::text`).
pub fn debug(args: std::fmt::Arguments<'_>) {
    if enabled() {
        eprintln!(
            "debug: {}",
            crate::base::text::escape_controls(&args.to_string())
        );
    }
}

/// `debug!("fetching {url}")`: a diagnostic line for `LATCHKEY_LOG=debug`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        $crate::base::log::debug(format_args!($($arg)*))
    };
}
