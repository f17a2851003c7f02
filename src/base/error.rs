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
    /// `latchkey exec`: the command was found but could not be run (as a shell reports it).
    CommandNotRunnable = 126,
    /// `latchkey exec`: the command was not found (as a shell reports it).
    CommandNotFound = 127,
    /// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

impl ExitCode {
    /// Every exit status with a one-line meaning, in order: the source for README and man page.
    pub const ALL: [(i32, &'static str); 12] = [
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
        (
            ExitCode::CommandNotRunnable as i32,
            "`exec`: the command could not be run (otherwise `exec` exits with the command's own status)",
        ),
        (
            ExitCode::CommandNotFound as i32,
            "`exec`: the command was not found",
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

/// The codes providers answer in OAuth's `error` field, one list that both reads and writes
/// them: callers match on the variant, never on its text.
macro_rules! oauth_codes {
    ($($(#[$doc:meta])* $name:ident = $text:literal,)*) => {
        /// An OAuth error code, parsed once where an answer is read: RFC 6749 (§4.1.2.1, §5.2),
        /// RFC 8628 §3.5, RFC 7009 §2.2.1, RFC 8707 §2, RFC 9449 §12, OpenID Connect Core
        /// §3.1.2.6; any other code as the provider wrote it.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum OAuthCode {
            $($(#[$doc])* $name,)*
            Other(String),
        }

        impl OAuthCode {
            pub fn parse(code: &str) -> OAuthCode {
                match code {
                    $($text => OAuthCode::$name,)*
                    other => OAuthCode::Other(other.to_owned()),
                }
            }

            /// The code as the provider wrote it (unescaped: show it through `base::text`).
            pub fn as_str(&self) -> &str {
                match self {
                    $(OAuthCode::$name => $text,)*
                    OAuthCode::Other(code) => code,
                }
            }
        }
    };
}

oauth_codes! {
    InvalidRequest = "invalid_request",
    InvalidClient = "invalid_client",
    /// The grant (code, refresh token, device code) is invalid, expired or revoked.
    InvalidGrant = "invalid_grant",
    UnauthorizedClient = "unauthorized_client",
    UnsupportedGrantType = "unsupported_grant_type",
    InvalidScope = "invalid_scope",
    AccessDenied = "access_denied",
    UnsupportedResponseType = "unsupported_response_type",
    ServerError = "server_error",
    TemporarilyUnavailable = "temporarily_unavailable",
    /// The device grant's user has not decided yet (RFC 8628).
    AuthorizationPending = "authorization_pending",
    SlowDown = "slow_down",
    ExpiredToken = "expired_token",
    /// The revocation endpoint does not revoke this type of token (RFC 7009).
    UnsupportedTokenType = "unsupported_token_type",
    /// A resource indicator the provider refuses (RFC 8707).
    InvalidTarget = "invalid_target",
    /// RFC 9449 (DPoP).
    InvalidDpopProof = "invalid_dpop_proof",
    UseDpopNonce = "use_dpop_nonce",
    /// OpenID Connect's answers to `prompt=none`.
    InteractionRequired = "interaction_required",
    LoginRequired = "login_required",
    AccountSelectionRequired = "account_selection_required",
    ConsentRequired = "consent_required",
}

impl fmt::Display for OAuthCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider's OAuth refusal behind an error: its code, and what it said (`error:
/// error_description`, already escaped and bounded), for callers that act on the code or
/// record the words (a refused refresh token's reason, kept in the token file for `status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRefusal {
    pub code: OAuthCode,
    pub said: String,
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
    /// The provider's OAuth refusal this error reports, when it is one.
    oauth: Option<OAuthRefusal>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(exit: ExitCode, message: impl Into<String>) -> Self {
        Error {
            exit,
            message: message.into(),
            hint: None,
            oauth: None,
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

    /// Exit 1 with nothing printed: the command has already said what it had to on stdout, as
    /// docker's credential helpers answer "not found".
    pub fn silent_failure() -> Self {
        Self::new(ExitCode::Failure, "")
    }

    /// Adds the line that tells the user what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same error said in other words (its exit code, hint and refusal kept).
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Records the provider's OAuth refusal behind this error.
    pub fn with_oauth(mut self, refusal: OAuthRefusal) -> Self {
        self.oauth = Some(refusal);
        self
    }

    /// The provider's OAuth refusal, when this error is one.
    pub fn oauth(&self) -> Option<&OAuthRefusal> {
        self.oauth.as_ref()
    }

    /// The provider's OAuth error code, when this error is its refusal.
    pub fn oauth_code(&self) -> Option<&OAuthCode> {
        self.oauth.as_ref().map(|refusal| &refusal.code)
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
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 126, 127, 130]);
        assert_eq!(Error::store("x").exit_code().code(), 7);
    }

    #[test]
    fn oauth_codes_read_and_write_the_same_text() {
        for text in [
            "invalid_grant",
            "authorization_pending",
            "use_dpop_nonce",
            "invalid_target",
        ] {
            let code = OAuthCode::parse(text);
            assert!(!matches!(code, OAuthCode::Other(_)), "{text}");
            assert_eq!(code.as_str(), text);
        }
        assert_eq!(OAuthCode::parse("invalid_grant"), OAuthCode::InvalidGrant);
        let other = OAuthCode::parse("Invalid_Grant");
        assert_eq!(
            other,
            OAuthCode::Other("Invalid_Grant".into()),
            "codes are case-sensitive"
        );
        assert_eq!(other.to_string(), "Invalid_Grant");
    }

    #[test]
    fn hint_is_kept_apart_from_the_message() {
        let e = Error::config("bad").hint("fix it");
        assert_eq!(e.to_string(), "bad");
        assert_eq!(e.hint_text(), Some("fix it"));
    }
}
