//! The authorization request URL (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1).

use crate::config::Profile;
use crate::net::url::Url;
use crate::oauth::pkce::LoginSecrets;

/// What one login adds to the profile's request.
#[derive(Debug, Default)]
pub struct LoginRequest<'a> {
    /// `--fresh`: `prompt=login`, a new authentication even with a live browser session.
    pub fresh: bool,
    /// `--invitation`: the Auth0 invitation being accepted.
    pub invitation: Option<&'a Invitation>,
}

/// The URL the user opens: response_type=code, PKCE S256, state, nonce, the profile's
/// audience, organization and extra parameters, and what this login adds, all
/// percent-encoded.
pub fn authorize_url(
    endpoint: &Url,
    profile: &Profile,
    redirect_uri: &str,
    secrets: &LoginSecrets,
    login: &LoginRequest<'_>,
) -> Url {
    let scope = profile.login_scope();
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
    if let Some(audience) = profile.login_audience() {
        pairs.push(("audience", audience));
    }
    if let Some(organization) = &profile.organization {
        pairs.push(("organization", organization));
    }
    if let Some(invitation) = login.invitation {
        pairs.push(("invitation", &invitation.ticket));
        if let Some(name) = &invitation.organization_name {
            pairs.push(("organization_name", name));
        }
    }
    if login.fresh {
        pairs.push(("prompt", "login"));
    }
    for (key, value) in &profile.authorize_params {
        // What this login asks for replaces the profile's default (a `prompt`, say).
        if !pairs.iter().any(|(taken, _)| taken == key) {
            pairs.push((key, value));
        }
    }
    endpoint.with_query_pairs(pairs)
}

/// An Auth0 organization invitation, from the link the invitation email carries
/// (`https://app/login?invitation=TICKET&organization=org_…&organization_name=NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub ticket: String,
    /// The organization's ID: the login is checked against it.
    pub organization: String,
    /// For the person to read; sent along, as the link has it.
    pub organization_name: Option<String>,
}

/// The longest value taken from an invitation link.
const MAX_INVITATION_VALUE: usize = 512;

impl Invitation {
    /// Reads the link (or only its query). Strict: the ticket and organization must be there,
    /// once, in printable ASCII; the name may be any text without control characters.
    pub fn from_link(link: &str) -> Result<Invitation, String> {
        let query = link.trim().split_once('?').map_or(link.trim(), |(_, q)| q);
        let query = query.split('#').next().unwrap_or_default();
        let pairs = crate::net::url::parse_query(query)
            .ok_or("its query cannot be read (bad percent-encoding)")?;
        let one = |name: &str| -> Result<Option<String>, String> {
            let mut values = pairs.iter().filter(|(key, _)| key == name);
            let value = values.next().map(|(_, v)| v.clone());
            if values.next().is_some() {
                return Err(format!("it has `{name}` more than once"));
            }
            match value {
                Some(v) if v.is_empty() || v.len() > MAX_INVITATION_VALUE => Err(format!(
                    "its `{name}` is empty or longer than {MAX_INVITATION_VALUE} bytes"
                )),
                Some(v) if v.chars().any(char::is_control) => {
                    Err(format!("its `{name}` holds control characters"))
                }
                other => Ok(other),
            }
        };
        let required = |name: &str| {
            let value = one(name)?.ok_or_else(|| format!("it has no `{name}` parameter"))?;
            if value.chars().all(|c| c.is_ascii_graphic()) {
                Ok(value)
            } else {
                Err(format!("its `{name}` is not printable ASCII"))
            }
        };
        Ok(Invitation {
            ticket: required("invitation")?,
            organization: required("organization")?,
            organization_name: one("organization_name")?,
        })
    }
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
            &LoginRequest::default(),
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

    fn profile_with(extra: &str) -> Profile {
        let file = ProfilesFile::parse(
            Path::new("p.toml"),
            ConfigOrigin::Flag,
            format!("[profiles.dev]\ndomain = \"t.auth0.com\"\nclient_id = \"abc\"\n{extra}"),
        )
        .unwrap();
        file.resolve("dev", &FlagOverrides::default()).unwrap().0
    }

    fn query_of(url: &Url) -> Vec<(String, String)> {
        parse_query(url.query().unwrap()).unwrap()
    }

    #[test]
    fn fresh_asks_for_a_new_login_over_the_profiles_prompt() {
        let profile = profile_with(
            "organization = \"org_1\"\n[profiles.dev.authorize_params]\nprompt = \"consent\"\n",
        );
        let endpoint = Url::parse("https://t.auth0.com/authorize").unwrap();
        let secrets = LoginSecrets::generate();
        let fresh = LoginRequest {
            fresh: true,
            invitation: None,
        };
        let pairs = query_of(&authorize_url(&endpoint, &profile, "r", &secrets, &fresh));
        let prompts: Vec<_> = pairs.iter().filter(|(k, _)| k == "prompt").collect();
        assert_eq!(prompts, [&("prompt".to_owned(), "login".to_owned())]);
        assert!(pairs.contains(&("organization".into(), "org_1".into())));
        let plain = query_of(&authorize_url(
            &endpoint,
            &profile,
            "r",
            &secrets,
            &LoginRequest::default(),
        ));
        assert!(plain.contains(&("prompt".into(), "consent".into())));
    }

    #[test]
    fn an_invitation_link_gives_its_ticket_and_organization() {
        let link = "https://app.example.com/login?invitation=Ab12Cd&organization=org_acme123&organization_name=Acme%20Caf%C3%A9";
        let invitation = Invitation::from_link(link).unwrap();
        assert_eq!(invitation.ticket, "Ab12Cd");
        assert_eq!(invitation.organization, "org_acme123");
        assert_eq!(invitation.organization_name.as_deref(), Some("Acme Café"));
        let profile = profile_with("");
        let endpoint = Url::parse("https://t.auth0.com/authorize").unwrap();
        let login = LoginRequest {
            fresh: false,
            invitation: Some(&invitation),
        };
        let pairs = query_of(&authorize_url(
            &endpoint,
            &profile,
            "r",
            &LoginSecrets::generate(),
            &login,
        ));
        assert!(pairs.contains(&("invitation".into(), "Ab12Cd".into())));
        assert!(pairs.contains(&("organization_name".into(), "Acme Café".into())));
    }

    #[test]
    fn a_link_without_what_an_invitation_needs_is_refused() {
        for (link, why) in [
            ("https://app/login?organization=org_1", "no `invitation`"),
            ("https://app/login?invitation=t", "no `organization`"),
            (
                "invitation=t&invitation=u&organization=org_1",
                "more than once",
            ),
            ("?invitation=t%0A&organization=org_1", "control characters"),
            ("?invitation=t&organization=", "empty"),
            (
                "?invitation=t%C3%A9&organization=org_1",
                "not printable ASCII",
            ),
        ] {
            let e = Invitation::from_link(link).unwrap_err();
            assert!(e.contains(why), "{link}: {e}");
        }
        // Only the query counts: a bare query works, a fragment is ignored.
        let bare = Invitation::from_link("invitation=t&organization=org_1#x=y").unwrap();
        assert_eq!(bare.organization, "org_1");
    }
}
