//! Reading the claims of a JWT (the ID token) for display. This decodes; it does not verify.

use serde::Deserialize;

/// The ID token claims latchkey shows or stores.
#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct IdClaims {
    pub sub: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub iss: Option<String>,
    pub exp: Option<i64>,
    pub nonce: Option<String>,
}

impl IdClaims {
    /// Who logged in, as a person would recognise it: email, else name, else subject.
    pub fn who(&self) -> Option<&str> {
        self.email
            .as_deref()
            .or(self.name.as_deref())
            .or(self.sub.as_deref())
    }
}

/// Decodes the payload of a compact JWS (`header.payload.signature`).
pub fn unverified_claims(jwt: &str) -> Result<IdClaims, String> {
    use base64::Engine;
    let mut parts = jwt.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the ID token is not a JWT (three dot-separated parts)".into());
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| "the ID token's payload is not base64url".to_owned())?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("the ID token's payload is not a JSON object of claims: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn jwt(payload: &str) -> String {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", enc(r#"{"alg":"RS256"}"#), enc(payload))
    }

    #[test]
    fn reads_the_claims() {
        let claims = unverified_claims(&jwt(
            r#"{"sub":"alice","email":"a@example.com","exp":5,"aud":["x"]}"#,
        ))
        .unwrap();
        assert_eq!(claims.sub.as_deref(), Some("alice"));
        assert_eq!(claims.who(), Some("a@example.com"));
        assert_eq!(claims.exp, Some(5));
    }

    #[test]
    fn refuses_what_is_not_a_jwt() {
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "a.!!!.c",
            &jwt("[1,2]"),
            &jwt("not json"),
        ] {
            assert!(unverified_claims(bad).is_err(), "{bad}");
        }
    }
}
