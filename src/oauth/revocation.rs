//! Token revocation (RFC 7009): telling the provider to forget a refresh or access token, and
//! telling apart why it did not — `logout` reports each differently.

use crate::base::error::{Error, ExitCode, OAuthCode};
use crate::config::{Profile, TokenRequestFormat};
use crate::net::http::{Http, Response};
use crate::net::url::Url;
use crate::oauth::client_auth::{AuthMethod, Client};
use crate::oauth::token_endpoint::error_answer;

/// Why a token was not revoked.
#[derive(Debug)]
pub enum Failure {
    /// `unsupported_token_type` (RFC 7009 §2.2.1): the provider does not revoke tokens of this
    /// type — Auth0 and others cannot revoke their (JWT) access tokens, which simply expire.
    UnsupportedTokenType,
    /// HTTP 401 or `invalid_client`: the provider accepts revocation only from an authenticated
    /// client. `said` is what the provider said; `secret_sent` whether the profile's
    /// `client_secret` went with the request (then it was refused, rather than missing).
    ClientAuthentication { said: String, secret_sent: bool },
    /// Any other refusal (an OAuth error) or failure (network, 5xx, a body that is not OAuth).
    Other(Error),
}

impl Failure {
    /// What happened, as a clause for a message.
    pub fn describe(&self) -> String {
        match self {
            Failure::UnsupportedTokenType => {
                "the provider does not revoke this type of token (unsupported_token_type)".into()
            }
            Failure::ClientAuthentication {
                said,
                secret_sent: false,
            } => format!("the provider requires client authentication for revocation ({said})"),
            Failure::ClientAuthentication {
                said,
                secret_sent: true,
            } => format!(
                "the provider refused the client authentication sent for revocation ({said})"
            ),
            Failure::Other(e) => e.message().to_owned(),
        }
    }

    /// What to do about a provider that wants client authentication, for profile `profile`:
    /// the client's secret (which only some installed-app clients have), or the revocation done
    /// in its console. `None` for the other failures, whose caller knows better.
    pub fn hint(&self, profile: &str) -> Option<String> {
        match self {
            Failure::UnsupportedTokenType => None,
            Failure::ClientAuthentication {
                secret_sent: false, ..
            } => Some(format!(
                "if the provider issued this client a secret (as Google does for desktop apps), set `client_secret` in profile `{profile}`; \
                 otherwise end the session or grant in the provider's console"
            )),
            Failure::ClientAuthentication {
                secret_sent: true, ..
            } => Some(format!(
                "check `client_secret` of profile `{profile}` against the client in the provider's console, or end the session or grant there"
            )),
            Failure::Other(_) => None,
        }
    }

    /// The exit status a logout that this failure decides ends with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::UnsupportedTokenType | Failure::ClientAuthentication { .. } => {
                ExitCode::ProviderRefused
            }
            Failure::Other(e) => e.exit_code(),
        }
    }
}

/// Revokes one token. RFC 7009 §2.2: the provider answers 200 even for tokens it does not know.
/// A client secret, when the profile has one, is sent as `auth` says (RFC 7009 §2.1: the
/// client authenticates as at the token endpoint).
pub fn revoke(
    http: &Http,
    url: &Url,
    profile: &Profile,
    auth: AuthMethod,
    token: &str,
    hint: &str,
) -> Result<(), Failure> {
    let pairs = [("token", token), ("token_type_hint", hint)];
    // Always a form: RFC 7009 §2.1 defines no other body, whatever token_request_format says.
    let response = Client::of(profile, auth)
        .post(http, url, TokenRequestFormat::Form, &pairs, "revocation")
        .map_err(Failure::Other)?;
    read_answer(&response, profile.client_secret.is_some())
}

/// The revocation endpoint's answer: 2xx is done; otherwise which kind of refusal or failure.
/// `secret_sent`: whether the request carried a client secret.
fn read_answer(response: &Response, secret_sent: bool) -> Result<(), Failure> {
    if response.is_success() {
        return Ok(());
    }
    let oauth = error_answer(response).filter(|_| response.status < 500);
    match oauth {
        Some(answer) if answer.code == OAuthCode::UnsupportedTokenType => {
            Err(Failure::UnsupportedTokenType)
        }
        Some(answer) if answer.code == OAuthCode::InvalidClient || response.status == 401 => {
            // The provider's words, escaped and cut like every OAuth error's.
            let refused = answer.into_error();
            Err(Failure::ClientAuthentication {
                said: refused
                    .oauth()
                    .map(|refusal| refusal.said.clone())
                    .unwrap_or_default(),
                secret_sent,
            })
        }
        Some(answer) => Err(Failure::Other(answer.into_error())),
        None if response.status == 401 => Err(Failure::ClientAuthentication {
            said: "HTTP 401".to_owned(),
            secret_sent,
        }),
        None => Err(Failure::Other(Error::network(format!(
            "revocation: the provider answered HTTP {}: {}",
            response.status,
            response.excerpt()
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<(), Failure> {
        answer_to(status, body, false)
    }

    fn answer_to(status: u16, body: &str, secret_sent: bool) -> Result<(), Failure> {
        read_answer(
            &Response {
                status,
                content_type: Some("application/json".into()),
                date: None,
                body: body.to_owned().into(),
            },
            secret_sent,
        )
    }

    #[test]
    fn success_is_done() {
        assert!(answer(200, "").is_ok());
        assert!(answer(204, "").is_ok());
    }

    #[test]
    fn unsupported_token_type_is_its_own_case() {
        let failure = answer(
            400,
            r#"{"error":"unsupported_token_type","error_description":"JWT access tokens cannot be revoked"}"#,
        )
        .unwrap_err();
        assert!(
            matches!(failure, Failure::UnsupportedTokenType),
            "{failure:?}"
        );
        assert_eq!(failure.exit_code(), ExitCode::ProviderRefused);
    }

    #[test]
    fn client_authentication_is_named() {
        for (status, body, said) in [
            (401, "", "HTTP 401"),
            (401, "<html>Unauthorized</html>", "HTTP 401"),
            (
                401,
                r#"{"error":"invalid_client","error_description":"no client authentication"}"#,
                "invalid_client: no client authentication",
            ),
            (
                400,
                r#"{"error":"invalid_client","error_description":"auth\u001b[2J"}"#,
                r"invalid_client: auth\u{1b}[2J",
            ),
        ] {
            let failure = answer(status, body).unwrap_err();
            let Failure::ClientAuthentication { said: got, .. } = &failure else {
                panic!("{status} {body}: {failure:?}");
            };
            assert_eq!(got, said);
            assert!(
                failure
                    .describe()
                    .starts_with("the provider requires client authentication for revocation"),
                "{}",
                failure.describe()
            );
            // What to do: a client secret, or the provider's console; not `latchkey login`.
            let hint = failure.hint("p").unwrap_or_default();
            assert!(
                hint.contains("set `client_secret` in profile `p`") && hint.contains("console"),
                "{hint}"
            );
        }
    }

    #[test]
    fn a_refused_client_secret_is_told_apart_from_a_missing_one() {
        let failure = answer_to(401, r#"{"error":"invalid_client"}"#, true).unwrap_err();
        assert_eq!(
            failure.describe(),
            "the provider refused the client authentication sent for revocation (invalid_client)"
        );
        assert!(
            failure
                .hint("p")
                .unwrap_or_default()
                .starts_with("check `client_secret` of profile `p`"),
            "{failure:?}"
        );
    }

    #[test]
    fn other_refusals_and_failures_keep_their_error() {
        let refused = answer(400, r#"{"error":"invalid_request"}"#).unwrap_err();
        assert!(
            matches!(&refused, Failure::Other(e) if e.exit_code() == ExitCode::ProviderRefused)
        );
        assert_eq!(
            refused.describe(),
            "the identity provider refused: invalid_request"
        );
        let failed = answer(503, r#"{"error":"unsupported_token_type"}"#).unwrap_err();
        assert!(
            matches!(&failed, Failure::Other(e) if e.exit_code() == ExitCode::Network),
            "a failing provider is not a refusal: {failed:?}"
        );
    }
}
