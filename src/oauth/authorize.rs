//! The authorization request URL (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1).

use crate::config::Profile;
use crate::net::url::Url;
use crate::oauth::pkce::LoginSecrets;

/// The URL the user opens: response_type=code, PKCE S256, state, nonce, the profile's
/// audience and extra parameters, all percent-encoded.
pub fn authorize_url(
    endpoint: &Url,
    profile: &Profile,
    redirect_uri: &str,
    secrets: &LoginSecrets,
) -> Url {
    let scope = profile.scopes.join(" ");
    let challenge = secrets.challenge();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &profile.client_id),
        ("redirect_uri", redirect_uri),
        ("scope", &scope),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", secrets.state.secret()),
        ("nonce", secrets.nonce.secret()),
    ];
    if let Some(audience) = &profile.audience {
        pairs.push(("audience", audience));
    }
    for (key, value) in &profile.authorize_params {
        pairs.push((key, value));
    }
    endpoint.with_query_pairs(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::paths::ConfigOrigin;
    use crate::config::{FlagOverrides, ProfilesFile};
    use crate::net::url::parse_query;
    use std::path::Path;

    #[test]
    fn carries_every_parameter_encoded() {
        let file = ProfilesFile::parse(
            Path::new("p.toml"),
            ConfigOrigin::Flag,
            "[profiles.dev]\ndomain = \"t.auth0.com\"\nclient_id = \"abc\"\naudience = \"https://api/ x\"\n\
             [profiles.dev.authorize_params]\norganization = \"org_1\"\nprompt = \"login\"\n"
                .to_owned(),
        )
        .unwrap();
        let (profile, _) = file.resolve("dev", &FlagOverrides::default()).unwrap();
        let secrets = LoginSecrets::generate();
        let endpoint = Url::parse("https://t.auth0.com/authorize").unwrap();
        let url = authorize_url(
            &endpoint,
            &profile,
            "http://127.0.0.1:8484/callback",
            &secrets,
        );
        let text = url.to_string();
        assert!(
            text.starts_with("https://t.auth0.com/authorize?response_type=code&client_id=abc&"),
            "{text}"
        );
        assert!(
            text.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A8484%2Fcallback"),
            "{text}"
        );
        assert!(
            text.contains("scope=openid%20profile%20email%20offline_access"),
            "{text}"
        );
        let pairs = parse_query(url.query().unwrap()).unwrap();
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("code_challenge"), Some(secrets.challenge().as_str()));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("state"), Some(secrets.state.secret()));
        assert_eq!(get("nonce"), Some(secrets.nonce.secret()));
        assert_eq!(get("audience"), Some("https://api/ x"));
        assert_eq!(get("organization"), Some("org_1"));
        assert_eq!(get("prompt"), Some("login"));
    }
}
