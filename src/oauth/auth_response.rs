//! The authorization response (RFC 6749 §4.1.2): reading it from the loopback request's query or
//! from text the user pasted, and checking it against this login's `state` and issuer.

use crate::base::error::OAuthCode;
use crate::base::secret::{AuthorizationCode, State, constant_time_eq};
use crate::base::text::quoted;
use crate::net::url::parse_query;
use std::fmt;

/// An authorization response that passed the `state` (and, when present, issuer) check.
#[derive(Debug)]
pub enum AuthResponse {
    /// The provider granted a code.
    Code {
        code: AuthorizationCode,
        iss: Option<String>,
    },
    /// The provider refused (error=access_denied etc.); `description` is provider-supplied.
    Refused {
        error: OAuthCode,
        description: Option<String>,
        /// The provider promised `iss` (RFC 9207) but this refusal lacks it. A refusal carries
        /// no code for a mix-up to steal, so it is taken (the login ends with the provider's
        /// reason rather than a silent wait), and the missing `iss` is said.
        iss_missing: bool,
    },
}

/// The issuer a response must name (RFC 9207): a present `iss` must always equal it, and an
/// absent one is refused when the provider announced that it always sends `iss`.
#[derive(Debug, Clone, Copy)]
pub struct Issuer<'a> {
    pub value: &'a str,
    pub required: bool,
}

impl<'a> From<&'a str> for Issuer<'a> {
    fn from(value: &'a str) -> Self {
        Issuer {
            value,
            required: false,
        }
    }
}

/// Why a response was not accepted; Display gives a one-line message for the user (no secret
/// values ever: never the code or either state value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    MissingState,
    StateMismatch,
    IssuerMismatch { got: String, expected: String },
    MissingIssuer,
    MissingCode,
    Junk(String),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::MissingState => f.write_str(
                "the response has no `state`, so it cannot be matched to this login",
            ),
            Rejection::StateMismatch => f.write_str(
                "the response's `state` does not match this login (it belongs to another login attempt, or was forged)",
            ),
            // `got` is provider-supplied, `expected` from the profile: both are quoted as outside
            // text (escaped, and cut to keep the message to one readable line).
            Rejection::IssuerMismatch { got, expected } => write!(
                f,
                "the response names issuer {}, but this login is with {}",
                quoted(got),
                quoted(expected)
            ),
            Rejection::MissingIssuer => f.write_str(
                "the response has no `iss`, though this provider always sends one (RFC 9207): it may come from another provider",
            ),
            Rejection::MissingCode => {
                f.write_str("the response carries neither a `code` nor an `error`")
            }
            Rejection::Junk(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Rejection {}

/// Longest bare code accepted from a paste; real codes are far shorter.
const MAX_BARE_CODE_LEN: usize = 2048;
/// Shorter text is a stray word, not a code: providers issue codes of 20 to 60 characters, and
/// a stray `hello` must not be sent to the token endpoint.
const MIN_BARE_CODE_LEN: usize = 8;

const NOT_A_RESPONSE: &str = "that is not a redirect URL, query string or code; paste the whole address the browser was sent to after the login, or just the code";

/// Checks the response carried in a query string (already split off the URL, not yet decoded).
pub fn from_query<'a>(
    query: &str,
    expected_state: &State,
    issuer: impl Into<Issuer<'a>>,
) -> Result<AuthResponse, Rejection> {
    let issuer = issuer.into();
    let pairs = parse_query(query).ok_or_else(|| {
        Rejection::Junk(
            "the response's query string is malformed (a bad %-escape, or not UTF-8)".into(),
        )
    })?;
    let fields = ResponseFields::collect(pairs)?;
    fields.check(expected_state, issuer)
}

/// Checks what the user pasted: a full redirect URL (http/https, or any URL containing `?`), a
/// bare query string (`code=...&state=...`, optionally starting with `?`), or a bare code.
pub fn from_pasted<'a>(
    text: &str,
    expected_state: &State,
    issuer: impl Into<Issuer<'a>>,
) -> Result<AuthResponse, Rejection> {
    let issuer = issuer.into();
    let text = strip_wrapping(text);
    if text.is_empty() {
        return Err(Rejection::Junk(NOT_A_RESPONSE.into()));
    }
    // The code flow answers in the query; anything after `#` is not part of the response.
    let before_fragment = text.split_once('#').map_or(text, |(before, _)| before);
    if let Some((_, query)) = before_fragment.split_once('?') {
        if has_whitespace(before_fragment) {
            return Err(Rejection::Junk(NOT_A_RESPONSE.into()));
        }
        return from_query(query, expected_state, issuer);
    }
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Err(Rejection::Junk(
            "the pasted URL has no query string, so it is not the redirect URL (that one contains ?code=…&state=…); copy the whole address from the browser".into(),
        ));
    }
    if looks_like_query(before_fragment) {
        if has_whitespace(before_fragment) {
            return Err(Rejection::Junk(NOT_A_RESPONSE.into()));
        }
        return from_query(before_fragment, expected_state, issuer);
    }
    // A bare code carries no `state`: nothing to check it against, and PKCE makes a code stolen
    // from another login useless here.
    if is_plausible_code(text) {
        return Ok(AuthResponse::Code {
            code: AuthorizationCode::new(text),
            iss: None,
        });
    }
    if text.len() < MIN_BARE_CODE_LEN && !has_whitespace(text) {
        return Err(Rejection::Junk(format!(
            "that is too short to be an authorization code ({} characters); paste the whole redirect URL, or the whole code",
            text.chars().count()
        )));
    }
    Err(Rejection::Junk(NOT_A_RESPONSE.into()))
}

/// The response parameters latchkey reads, each at most once (RFC 6749 §3.1: parameters must not
/// repeat). Received secrets sit in their wiping newtypes from the moment they are decoded.
#[derive(Default)]
struct ResponseFields {
    code: Option<AuthorizationCode>,
    state: Option<State>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl ResponseFields {
    fn collect(pairs: Vec<(String, String)>) -> Result<ResponseFields, Rejection> {
        let mut fields = ResponseFields::default();
        for (key, value) in pairs {
            let repeated = match key.as_str() {
                "code" => fields.code.replace(AuthorizationCode::new(value)).is_some(),
                "state" => fields.state.replace(State::new(value)).is_some(),
                "iss" => fields.iss.replace(value).is_some(),
                "error" => fields.error.replace(value).is_some(),
                "error_description" => fields.error_description.replace(value).is_some(),
                _ => false,
            };
            if repeated {
                return Err(Rejection::Junk(format!(
                    "the response repeats the `{key}` parameter, so it is not trustworthy"
                )));
            }
        }
        Ok(fields)
    }

    fn check(self, expected_state: &State, issuer: Issuer<'_>) -> Result<AuthResponse, Rejection> {
        let code = self.code.filter(|code| !code.secret().is_empty());
        let error = self.error.filter(|error| !error.is_empty());
        if code.is_none() && error.is_none() {
            return Err(Rejection::MissingCode);
        }
        // Error responses are checked too: a forged `error=access_denied` must not end the login.
        let state = self.state.ok_or(Rejection::MissingState)?;
        if !constant_time_eq(
            state.secret().as_bytes(),
            expected_state.secret().as_bytes(),
        ) {
            return Err(Rejection::StateMismatch);
        }
        // RFC 9207: a present `iss` must be exactly our issuer (mix-up defence); providers that
        // do not send it are accepted.
        match &self.iss {
            Some(got) if got != issuer.value => {
                return Err(Rejection::IssuerMismatch {
                    got: got.clone(),
                    expected: issuer.value.to_owned(),
                });
            }
            // A code without the promised `iss` may be another provider's: refused. An error
            // response carries nothing to steal (see `AuthResponse::Refused`).
            None if issuer.required && error.is_none() => return Err(Rejection::MissingIssuer),
            _ => {}
        }
        let iss_missing = self.iss.is_none() && issuer.required;
        match (error, code) {
            // Both at once is malformed; the refusal wins, since a code the provider also calls
            // an error is not one to redeem.
            (Some(error), _) => Ok(AuthResponse::Refused {
                error: OAuthCode::parse(&error),
                description: self.error_description.filter(|d| !d.is_empty()),
                iss_missing,
            }),
            (None, Some(code)) => Ok(AuthResponse::Code {
                code,
                iss: self.iss,
            }),
            (None, None) => Err(Rejection::MissingCode),
        }
    }
}

/// Trims whitespace and the quotes or angle brackets that terminals, chats and mail clients wrap
/// around a copied URL, in any nesting (`"<https://…>"`). Angle brackets go only around a URL:
/// `<script>` stays junk rather than becoming the code `script`.
fn strip_wrapping(text: &str) -> &str {
    let mut text = text.trim();
    loop {
        let inner = ['"', '\'']
            .iter()
            .find_map(|quote| text.strip_prefix(*quote)?.strip_suffix(*quote))
            .or_else(|| {
                let inner = text.strip_prefix('<')?.strip_suffix('>')?;
                (inner.contains('?') || inner.contains("://")).then_some(inner)
            });
        match inner {
            Some(inner) => text = inner.trim(),
            None => return text,
        }
    }
}

/// A bare query string rather than a code: codes may end in `=` padding, but never contain `&`
/// or start with a response parameter's name.
fn looks_like_query(text: &str) -> bool {
    text.contains('&')
        || ["code=", "state=", "error=", "iss="]
            .iter()
            .any(|key| text.starts_with(key))
}

fn has_whitespace(text: &str) -> bool {
    text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The characters real authorization codes use (unreserved, plus base64's `+/=`).
/// Whether pasted text is a bare code (no URL or query around it): the one kind of response
/// that carries nothing to check, so a mistyped one reaches the provider.
pub fn is_bare_code(text: &str) -> bool {
    let text = strip_wrapping(text);
    !text.contains('?') && !looks_like_query(text) && is_plausible_code(text)
}

fn is_plausible_code(text: &str) -> bool {
    (MIN_BARE_CODE_LEN..=MAX_BARE_CODE_LEN).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://login.example.com/";

    fn state() -> State {
        State::new("st8-abc")
    }

    fn code_of(response: Result<AuthResponse, Rejection>) -> String {
        match response {
            Ok(AuthResponse::Code { code, .. }) => code.secret().to_owned(),
            other => panic!("expected a code, got {other:?}"),
        }
    }

    #[test]
    fn query_with_code_and_state() {
        let response = from_query("code=c%2F1&state=st8-abc", &state(), ISSUER);
        assert_eq!(code_of(response), "c/1");
    }

    #[test]
    fn pasted_full_url() {
        let url = "http://127.0.0.1:8765/callback?code=abc123&state=st8-abc&scope=openid#frag";
        assert_eq!(code_of(from_pasted(url, &state(), ISSUER)), "abc123");
        let custom_scheme = "com.example.app:/cb?state=st8-abc&code=xyz";
        assert_eq!(code_of(from_pasted(custom_scheme, &state(), ISSUER)), "xyz");
    }

    #[test]
    fn pasted_query_with_and_without_question_mark() {
        for text in ["code=abc&state=st8-abc", "?code=abc&state=st8-abc"] {
            assert_eq!(
                code_of(from_pasted(text, &state(), ISSUER)),
                "abc",
                "{text}"
            );
        }
    }

    #[test]
    fn pasted_text_loses_wrapping_quotes_and_brackets() {
        for text in [
            "  \"https://app/cb?code=abc&state=st8-abc\"\n",
            "<https://app/cb?code=abc&state=st8-abc>",
            "'\"code=abc&state=st8-abc\"'",
            " '<https://app/cb?code=abc&state=st8-abc>' ",
        ] {
            assert_eq!(
                code_of(from_pasted(text, &state(), ISSUER)),
                "abc",
                "{text}"
            );
        }
        assert_eq!(
            code_of(from_pasted("\"abcdefgh\"", &state(), ISSUER)),
            "abcdefgh"
        );
    }

    #[test]
    fn a_bare_word_too_short_for_a_code_is_refused_before_any_request() {
        for stray in ["hello", "\"abc\"", "y"] {
            let Err(Rejection::Junk(why)) = from_pasted(stray, &state(), ISSUER) else {
                panic!("{stray} was taken for a code");
            };
            assert!(
                why.contains("too short to be an authorization code"),
                "{why}"
            );
            assert!(!is_bare_code(stray));
        }
    }

    #[test]
    fn pasted_bare_code_needs_no_state() {
        let code = "4/0AX4XfWh-abc_def.ghi~jkl+mno/pqr==";
        assert_eq!(
            code_of(from_pasted(&format!(" {code}\n"), &state(), ISSUER)),
            code
        );
        let longest = "a".repeat(MAX_BARE_CODE_LEN);
        assert_eq!(code_of(from_pasted(&longest, &state(), ISSUER)), longest);
        let too_long = "a".repeat(MAX_BARE_CODE_LEN + 1);
        assert!(matches!(
            from_pasted(&too_long, &state(), ISSUER),
            Err(Rejection::Junk(_))
        ));
    }

    #[test]
    fn wrong_state_is_refused() {
        let result = from_query("code=abc&state=st8-abd", &state(), ISSUER);
        assert_eq!(result.unwrap_err(), Rejection::StateMismatch);
        let result = from_pasted("https://app/cb?code=abc&state=", &state(), ISSUER);
        assert_eq!(result.unwrap_err(), Rejection::StateMismatch);
    }

    #[test]
    fn missing_state_is_refused() {
        let result = from_query("code=abc", &state(), ISSUER);
        assert_eq!(result.unwrap_err(), Rejection::MissingState);
        let result = from_pasted("code=abc", &state(), ISSUER);
        assert_eq!(result.unwrap_err(), Rejection::MissingState);
    }

    #[test]
    fn issuer_must_match_when_present() {
        let good = format!(
            "code=abc&state=st8-abc&iss={}",
            crate::net::url::form_encode(ISSUER)
        );
        match from_query(&good, &state(), ISSUER).unwrap() {
            AuthResponse::Code { iss, .. } => assert_eq!(iss.as_deref(), Some(ISSUER)),
            other => panic!("{other:?}"),
        }
        let bad = "code=abc&state=st8-abc&iss=https%3A%2F%2Fevil.example%2F";
        assert_eq!(
            from_query(bad, &state(), ISSUER).unwrap_err(),
            Rejection::IssuerMismatch {
                got: "https://evil.example/".into(),
                expected: ISSUER.into()
            }
        );
        // Exact comparison: no trailing-slash or case leniency.
        let near = "code=abc&state=st8-abc&iss=https%3A%2F%2Flogin.example.com";
        assert!(matches!(
            from_query(near, &state(), ISSUER),
            Err(Rejection::IssuerMismatch { .. })
        ));
    }

    #[test]
    fn error_with_right_state_is_a_refusal() {
        let query = "error=access_denied&error_description=User+said+no&state=st8-abc";
        match from_query(query, &state(), ISSUER).unwrap() {
            AuthResponse::Refused {
                error,
                description,
                iss_missing,
            } => {
                assert!(!iss_missing);
                assert_eq!(error, OAuthCode::AccessDenied);
                assert_eq!(description.as_deref(), Some("User said no"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_with_wrong_or_no_state_is_not_trusted() {
        let forged = "error=access_denied&state=guess";
        assert_eq!(
            from_query(forged, &state(), ISSUER).unwrap_err(),
            Rejection::StateMismatch
        );
        assert_eq!(
            from_query("error=access_denied", &state(), ISSUER).unwrap_err(),
            Rejection::MissingState
        );
    }

    #[test]
    fn url_without_code_or_error_is_missing_code() {
        let result = from_pasted("https://app/cb?state=st8-abc", &state(), ISSUER);
        assert_eq!(result.unwrap_err(), Rejection::MissingCode);
        assert_eq!(
            from_query("", &state(), ISSUER).unwrap_err(),
            Rejection::MissingCode
        );
    }

    #[test]
    fn junk_is_refused() {
        for text in [
            "",
            "   ",
            "\"\"",
            "hello world",
            "<script>",
            "<abc>",
            "https://example.com/",
            "https://example.com/#code=abc&state=st8-abc",
            "code=%zz&state=st8-abc",
            "https://app/cb?code=abc%zz&state=st8-abc",
            "https://app/cb?code=%FF&state=st8-abc",
            "ab\"cd",
            "hello there?code=abc&state=st8-abc",
            "code=abc &state=st8-abc",
        ] {
            assert!(
                matches!(from_pasted(text, &state(), ISSUER), Err(Rejection::Junk(_))),
                "{text:?}: {:?}",
                from_pasted(text, &state(), ISSUER)
            );
        }
        assert!(matches!(
            from_query("code=%zz&state=st8-abc", &state(), ISSUER),
            Err(Rejection::Junk(_))
        ));
    }

    #[test]
    fn repeated_parameters_are_junk() {
        for query in [
            "code=a&code=b&state=st8-abc",
            "code=a&state=st8-abc&state=st8-abc",
            "error=a&error=b&state=st8-abc",
        ] {
            assert!(
                matches!(from_query(query, &state(), ISSUER), Err(Rejection::Junk(_))),
                "{query}"
            );
        }
    }

    #[test]
    fn messages_never_show_secrets() {
        let rejections = [
            from_query("code=sekrit&state=wrong-st8", &state(), ISSUER),
            from_query("code=sekrit", &state(), ISSUER),
            from_pasted("sekrit code", &state(), ISSUER),
            from_pasted("https://x/cb?code=sekrit&code=sekrit2", &state(), ISSUER),
        ];
        for rejection in rejections {
            let shown = format!("{} {:?}", rejection.as_ref().unwrap_err(), rejection);
            for secret in ["sekrit", "wrong-st8", "st8-abc"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
    }

    #[test]
    fn iss_is_required_when_the_provider_announced_it() {
        let state = state();
        let required = Issuer {
            value: ISSUER,
            required: true,
        };
        let without = "code=c&state=st8-abc".to_owned();
        assert_eq!(
            from_query(&without, &state, required).unwrap_err(),
            Rejection::MissingIssuer
        );
        assert!(
            from_query(&without, &state, ISSUER).is_ok(),
            "optional when not announced"
        );
        // A refusal without the promised `iss` is taken, marked: it carries no code to steal.
        let refusal = "error=access_denied&state=st8-abc";
        assert!(matches!(
            from_query(refusal, &state, required),
            Ok(AuthResponse::Refused {
                iss_missing: true,
                ..
            })
        ));
        // Its state is still checked.
        assert_eq!(
            from_query("error=access_denied&state=other", &state, required).unwrap_err(),
            Rejection::StateMismatch
        );
        let with = format!(
            "code=c&state=st8-abc&iss={}",
            crate::net::url::form_encode(ISSUER)
        );
        assert!(from_query(&with, &state, required).is_ok());
        // A bare pasted code carries nothing to check: the user vouches for it.
        assert!(from_pasted("abcDEF123", &state, required).is_ok());
    }

    #[test]
    fn long_issuers_are_shortened_in_messages() {
        let got = "x".repeat(10_000);
        let shown = Rejection::IssuerMismatch {
            got,
            expected: ISSUER.into(),
        }
        .to_string();
        assert!(shown.len() < 400, "{}", shown.len());
    }
}
