//! Client authentication at the token, device authorization and revocation endpoints (RFC 6749
//! §2.3.1). latchkey is a public client: a request names its `client_id` and nothing more. Some
//! providers still demand a `client_secret` from installed apps (Google's "Desktop app" clients,
//! whose secret is no secret on a user's machine); a profile that sets one sends it the way the
//! provider's metadata asks — HTTP Basic (`client_secret_basic`) or in the body
//! (`client_secret_post`).

use crate::base::error::Result;
use crate::base::secret::ClientSecret;
use crate::config::{Profile, TokenRequestFormat};
use crate::net::http::{Http, Response};
use crate::net::url::{Url, form_encode};
use base64::Engine;
use zeroize::Zeroizing;

/// How a client secret is sent, when the profile has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// `client_secret_basic`: an `Authorization: Basic` header. RFC 8414 §2 makes it the
    /// default when the metadata names no method, and every provider must support it
    /// (RFC 6749 §2.3.1).
    #[default]
    Basic,
    /// `client_secret_post`: `client_secret` in the request body.
    Post,
}

impl AuthMethod {
    /// The method for an endpoint whose metadata lists `supported`
    /// (`token_endpoint_auth_methods_supported` and the like): Basic unless the provider
    /// lists `client_secret_post` and not `client_secret_basic`.
    pub fn from_supported(supported: Option<&[String]>) -> AuthMethod {
        let Some(supported) = supported else {
            return AuthMethod::Basic;
        };
        let lists = |name: &str| supported.iter().any(|m| m == name);
        if !lists("client_secret_basic") && lists("client_secret_post") {
            AuthMethod::Post
        } else {
            AuthMethod::Basic
        }
    }

    /// The name the metadata uses, for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Basic => "client_secret_basic",
            AuthMethod::Post => "client_secret_post",
        }
    }
}

/// One profile's client, as requests to the provider authenticate it.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub id: &'a str,
    pub secret: Option<&'a ClientSecret>,
    pub method: AuthMethod,
}

impl<'a> Client<'a> {
    /// The profile's client, with its secret (if any) sent by `method`.
    pub fn of(profile: &'a Profile, method: AuthMethod) -> Client<'a> {
        Client {
            id: &profile.client_id,
            secret: profile.client_secret.as_ref(),
            method,
        }
    }

    /// POSTs `pairs` with the client's identification in front: `client_id` always (RFC 6749
    /// asks for it of public clients, and providers accept it beside Basic credentials), and
    /// the secret, when there is one, in the header or the body as the method says.
    pub fn post(
        &self,
        http: &Http,
        url: &Url,
        format: TokenRequestFormat,
        pairs: &[(&str, &str)],
        what: &str,
    ) -> Result<Response> {
        let mut all: Vec<(&str, &str)> = vec![("client_id", self.id)];
        let mut authorization = None;
        match (self.secret, self.method) {
            (None, _) => {}
            (Some(secret), AuthMethod::Post) => all.push(("client_secret", secret.secret())),
            (Some(secret), AuthMethod::Basic) => {
                authorization = Some(basic_authorization(self.id, secret));
            }
        }
        all.extend_from_slice(pairs);
        http.post_authorized(
            url,
            format.body(&all),
            authorization.as_deref().map(|a| a.as_str()),
            what,
        )
    }
}

/// `Basic base64(id:secret)`, each part form-encoded first as RFC 6749 §2.3.1 requires (so a
/// `:` in a client ID cannot shift the split). Wiped when dropped: it holds the secret.
fn basic_authorization(id: &str, secret: &ClientSecret) -> Zeroizing<String> {
    let credentials = Zeroizing::new(format!(
        "{}:{}",
        form_encode(id),
        form_encode(secret.secret())
    ));
    Zeroizing::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials.as_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methods(list: &[&str]) -> Vec<String> {
        list.iter().map(|m| (*m).to_owned()).collect()
    }

    #[test]
    fn basic_is_preferred_and_the_default() {
        assert_eq!(AuthMethod::from_supported(None), AuthMethod::Basic);
        for list in [
            &["client_secret_basic", "client_secret_post"][..],
            &["client_secret_post", "client_secret_basic"],
            &["none", "private_key_jwt"],
            &[],
        ] {
            assert_eq!(
                AuthMethod::from_supported(Some(&methods(list))),
                AuthMethod::Basic,
                "{list:?}"
            );
        }
        assert_eq!(
            AuthMethod::from_supported(Some(&methods(&["none", "client_secret_post"]))),
            AuthMethod::Post
        );
    }

    #[test]
    fn basic_credentials_are_form_encoded_then_base64() {
        let header = basic_authorization("my:app", &ClientSecret::new("s3 cr/t"));
        let encoded = header.strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "my%3Aapp:s3%20cr%2Ft");
    }

    #[test]
    fn a_client_never_shows_its_secret() {
        let secret = ClientSecret::new("GOCSPX-s3cr3t");
        let client = Client {
            id: "app",
            secret: Some(&secret),
            method: AuthMethod::Post,
        };
        let shown = format!("{client:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
