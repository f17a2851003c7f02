//! The one error type: what failed, what to do about it, and the exit code it maps to.

use std::fmt;

/// Exit statuses, documented in README.md and latchkey(1). The numbers are an interface:
/// scripts branch on them, so they never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Anything not covered below.
    Failure = 1,
    /// The command line could not be parsed.
    Usage = 2,
    /// The profiles file, a profile, or an environment override is wrong.
    Config = 3,
    /// No usable tokens: the user has to run `latchkey login`.
    LoginRequired = 4,
    /// The identity provider answered with an OAuth error, or refused with another 4xx (a bare
    /// 400, a 403 page): an answer that sending again would not change.
    ProviderRefused = 5,
    /// Network, TLS or timeout while talking to the identity provider.
    Network = 6,
    /// The token store: decrypting, permissions, file I/O.
    TokenStore = 7,
    /// The login timed out, was cancelled or was refused (`--same-user`: another user), or
    /// another login of the profile is running.
    LoginAborted = 8,
    /// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

impl ExitCode {
    /// Every exit status with a one-line meaning, in order: the source for README and man page.
    pub const ALL: [(i32, &'static str); 10] = [
        (0, "success"),
        (ExitCode::Failure as i32, "any other failure"),
        (
            ExitCode::Usage as i32,
            "usage: the command line could not be parsed",
        ),
        (
            ExitCode::Config as i32,
            "configuration: profiles file, profile or environment override",
        ),
        (
            ExitCode::LoginRequired as i32,
            "login required: no usable tokens, run `latchkey login`",
        ),
        (
            ExitCode::ProviderRefused as i32,
            "the identity provider refused (an OAuth error, or any other 4xx)",
        ),
        (
            ExitCode::Network as i32,
            "network, TLS or timeout talking to the identity provider",
        ),
        (
            ExitCode::TokenStore as i32,
            "token store: decrypt, permissions or file I/O",
        ),
        (
            ExitCode::LoginAborted as i32,
            "login timed out, was cancelled or was refused (`--same-user`), or another login is running",
        ),
        (ExitCode::Interrupted as i32, "interrupted (Ctrl-C)"),
    ];

    pub fn code(self) -> i32 {
        self as i32
    }

    /// The exit status for a number another latchkey sent (an agent's answer); an unknown one
    /// is a plain failure.
    pub fn from_code(code: i32) -> ExitCode {
        [
            ExitCode::Usage,
            ExitCode::Config,
            ExitCode::LoginRequired,
            ExitCode::ProviderRefused,
            ExitCode::Network,
            ExitCode::TokenStore,
            ExitCode::LoginAborted,
            ExitCode::Interrupted,
        ]
        .into_iter()
        .find(|c| c.code() == code)
        .unwrap_or(ExitCode::Failure)
    }
}

/// A failure with a one-line message and an optional hint saying what to do next.
///
/// Messages never contain secret values: the constructors take text that callers build from
/// names, paths and provider-supplied error strings only.
#[derive(Debug)]
pub struct Error {
    exit: ExitCode,
    message: String,
    hint: Option<String>,
    /// The OAuth `error` code a provider answered with (`invalid_grant`), for callers that act
    /// on it rather than show it.
    oauth: Option<String>,
    /// The provider's own words behind that code (`error: error_description`, escaped and
    /// bounded), for callers that record them (a refused refresh token's reason, kept in the
    /// token file for `status`).
    provider_said: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(exit: ExitCode, message: impl Into<String>) -> Self {
        Error {
            exit,
            message: message.into(),
            hint: None,
            oauth: None,
            provider_said: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Config, message)
    }

    pub fn login_required(message: impl Into<String>) -> Self {
        Self::new(ExitCode::LoginRequired, message)
    }

    pub fn provider(message: impl Into<String>) -> Self {
        Self::new(ExitCode::ProviderRefused, message)
    }

    pub fn network(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Network, message)
    }

    pub fn store(message: impl Into<String>) -> Self {
        Self::new(ExitCode::TokenStore, message)
    }

    pub fn aborted(message: impl Into<String>) -> Self {
        Self::new(ExitCode::LoginAborted, message)
    }

    pub fn interrupted() -> Self {
        Self::new(ExitCode::Interrupted, "interrupted")
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Failure, message)
    }

    /// Adds the line that tells the user what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Records the provider's OAuth `error` code behind this error.
    pub fn with_oauth_code(mut self, code: &str) -> Self {
        self.oauth = Some(code.to_owned());
        self
    }

    /// The provider's OAuth `error` code, when this error is its refusal.
    pub fn oauth_code(&self) -> Option<&str> {
        self.oauth.as_deref()
    }

    /// Records what the provider said with its OAuth error, already made safe to show.
    pub fn with_provider_said(mut self, said: impl Into<String>) -> Self {
        self.provider_said = Some(said.into());
        self
    }

    /// What the provider said with its OAuth error (`invalid_grant: token expired`), when this
    /// error is its refusal.
    pub fn provider_said(&self) -> Option<&str> {
        self.provider_said.as_deref()
    }

    pub fn exit_code(&self) -> ExitCode {
        self.exit
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_numbers() {
        let codes: Vec<i32> = ExitCode::ALL.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 130]);
        assert_eq!(Error::store("x").exit_code().code(), 7);
    }

    #[test]
    fn hint_is_kept_apart_from_the_message() {
        let e = Error::config("bad").hint("fix it");
        assert_eq!(e.to_string(), "bad");
        assert_eq!(e.hint_text(), Some("fix it"));
    }
}
