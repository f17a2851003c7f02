//! OpenID Connect UserInfo (Core §5.3): asked once at login, with the new access token, for a
//! name to show when the ID token names nobody (only `sub`) or there is no ID token.

use crate::base::secret::AccessToken;
use crate::net::http::Http;
use crate::net::url::Url;
use serde::Deserialize;

/// The claims of a UserInfo answer that name a person.
#[derive(Debug, Default, Deserialize)]
pub struct Claims {
    pub sub: Option<String>,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    pub email: Option<String>,
}

impl Claims {
    pub fn person(&self) -> crate::oauth::jwt::Person<'_> {
        crate::oauth::jwt::Person {
            name: self.name.as_deref(),
            preferred_username: self.preferred_username.as_deref(),
            email: self.email.as_deref(),
            sub: self.sub.as_deref(),
        }
    }
}

/// Asks the UserInfo endpoint; `None` on any failure, which costs only the name shown (said in
/// the debug log). `expected_sub`: the ID token's subject, which the answer must match (Core
/// §5.3.2), so another user's name is never shown.
pub fn fetch(
    http: &Http,
    url: &Url,
    access_token: &AccessToken,
    expected_sub: Option<&str>,
) -> Option<Claims> {
    let response = match http.get_authorized(url, access_token.secret(), "userinfo") {
        Ok(response) if response.is_success() => response,
        Ok(response) => {
            crate::debug!("userinfo answered HTTP {}", response.status);
            return None;
        }
        Err(e) => {
            crate::debug!("userinfo failed: {}", e.message());
            return None;
        }
    };
    parse(&response.body, expected_sub)
}

/// A UserInfo JSON answer; `None` unless it is an object whose `sub` matches the expected one.
pub fn parse(body: &str, expected_sub: Option<&str>) -> Option<Claims> {
    let claims: Claims = match serde_json::from_str(body) {
        Ok(claims) => claims,
        Err(e) => {
            crate::debug!("userinfo: not a JSON object of claims ({e})");
            return None;
        }
    };
    match (expected_sub, claims.sub.as_deref()) {
        (Some(expected), Some(got)) if expected != got => {
            crate::debug!("userinfo: its `sub` is not the ID token's; ignored");
            None
        }
        _ => Some(claims),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_for_another_subject_or_not_json_is_ignored() {
        let body = r#"{"sub":"1","name":"Alice","email":"a@example.com","extra":[1,2]}"#;
        let claims = parse(body, Some("1")).unwrap();
        assert_eq!(claims.name.as_deref(), Some("Alice"));
        assert!(parse(body, Some("2")).is_none());
        assert!(parse(body, None).is_some(), "no ID token to compare with");
        assert!(parse("<html>", None).is_none());
        assert!(parse(r#"{"name":5}"#, None).is_none(), "wrong types");
    }
}
