//! Better hints for refusals that come from a mismatch between the profile and the provider
//! rather than from the user's login: the provider's words stay, and the hint points at the
//! setting to change instead of at `latchkey login`, which would only fail the same way.

use crate::base::error::{Error, OAuthCode};
use crate::config::{Profile, TokenRequestFormat};

/// Whether `code` is what a provider that takes only form bodies (RFC 6749's) answers a JSON
/// one with: it reads no `grant_type` at all, or no parameters.
fn form_only_refusal(code: &OAuthCode) -> bool {
    matches!(
        code,
        OAuthCode::UnsupportedGrantType | OAuthCode::InvalidRequest
    )
}

/// A token or device endpoint's refusal, with a hint at the profile setting behind it:
/// `token_request_format = "form"` when the profile sends JSON and the refusal is what a
/// form-only provider says; `client_secret` when the provider refuses the client itself
/// (`invalid_client`). Any other error is returned as it is. The request functions of
/// `token_endpoint` and `device` apply it; a caller that makes its own token request can too.
pub fn profile_mismatch(profile: &Profile, error: Error) -> Error {
    let name = &profile.name;
    match error.oauth_code() {
        Some(code)
            if form_only_refusal(code)
                && profile.token_request_format == TokenRequestFormat::Json =>
        {
            error.hint(format!(
                "profile `{name}` sends token requests as JSON (token_request_format = \"json\"), which this provider may not accept: \
                 remove that setting (or set it to \"form\", RFC 6749's encoding) and try again"
            ))
        }
        Some(OAuthCode::InvalidClient) if profile.client_secret.is_none() => error.hint(format!(
            "the provider did not accept the client `{}` without authentication: if it issued the client a secret \
             (as Google does for desktop apps), set `client_secret` in profile `{name}`; otherwise check `client_id`",
            crate::base::text::shown(&profile.client_id)
        )),
        Some(OAuthCode::InvalidClient) => error.hint(format!(
            "the provider refused the client's credentials: check `client_id` and `client_secret` of profile `{name}` against its console"
        )),
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FlagOverrides, ProfilesFile, paths::ConfigOrigin};

    /// A refusal as `token_endpoint::oauth_error` makes one (not used here: the token endpoint
    /// uses this module).
    fn oauth_error(code: &str, description: Option<&str>) -> Error {
        let text = match description {
            Some(d) => format!("{code}: {d}"),
            None => code.to_owned(),
        };
        Error::provider(format!("the identity provider refused: {text}")).with_oauth(
            crate::base::error::OAuthRefusal {
                code: OAuthCode::parse(code),
                said: text,
            },
        )
    }

    fn profile(format: &str) -> Profile {
        profile_with(&format!("token_request_format = \"{format}\""))
    }

    fn profile_with(extra: &str) -> Profile {
        let file = ProfilesFile::parse(
            std::path::Path::new("/cfg/profiles.toml"),
            ConfigOrigin::Flag,
            format!("[profiles.p]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n{extra}\n"),
        )
        .unwrap();
        file.resolve_profile("p", &FlagOverrides::default())
            .unwrap()
    }

    #[test]
    fn json_refused_as_a_form_only_provider_does_points_at_the_setting() {
        for code in ["unsupported_grant_type", "invalid_request"] {
            let error = profile_mismatch(&profile("json"), oauth_error(code, Some("x")));
            let hint = error.hint_text().unwrap_or_default();
            assert!(hint.contains("token_request_format"), "{hint}");
            assert!(!hint.contains("latchkey login"), "{hint}");
            assert_eq!(
                error.exit_code(),
                crate::base::error::ExitCode::ProviderRefused
            );
            assert_eq!(
                error.message(),
                format!("the identity provider refused: {code}: x")
            );
        }
    }

    #[test]
    fn other_refusals_and_form_profiles_keep_their_hint() {
        let kept = profile_mismatch(
            &profile("json"),
            oauth_error("invalid_grant", None).hint("run it"),
        );
        assert_eq!(kept.hint_text(), Some("run it"));
        let kept = profile_mismatch(
            &profile("form"),
            oauth_error("unsupported_grant_type", None),
        );
        assert_eq!(kept.hint_text(), None);
    }

    #[test]
    fn a_refused_client_points_at_client_secret() {
        let missing = profile_mismatch(&profile("form"), oauth_error("invalid_client", None));
        let hint = missing.hint_text().unwrap_or_default();
        assert!(
            hint.contains("set `client_secret` in profile `p`"),
            "{hint}"
        );
        let refused = profile_mismatch(
            &profile_with("client_secret = \"s3cr3t\""),
            oauth_error("invalid_client", None),
        );
        let hint = refused.hint_text().unwrap_or_default();
        assert!(
            hint.contains("check `client_id` and `client_secret`"),
            "{hint}"
        );
        assert!(!hint.contains("s3cr3t"), "{hint}");
    }
}
