//! `latchkey token`: a valid token on stdout for scripts and credential plugins. This is the
//! hot path: with a valid stored token it reads the config and one file, decrypts, prints.

use super::{Globals, print_stdout};
use crate::base::duration::rfc3339;
use crate::base::error::{Error, Result};
use crate::cli::{TokenArgs, TokenFormat};
use crate::store::TokenStore;
use crate::store::refresh::{self, Need};
use serde_json::json;
use std::time::Duration;

const DEFAULT_MIN_VALID: Duration = Duration::from_secs(60);

pub fn run(globals: &Globals, args: TokenArgs) -> Result<()> {
    let file = globals.load_profiles()?;
    let profile = globals.profile(&file, args.profile.as_deref())?;
    let store = TokenStore::open()?;
    let need = if args.id_token {
        Need::IdToken
    } else {
        Need::AccessToken
    };
    let tokens = refresh::valid_tokens(
        &profile,
        &store,
        need,
        args.min_valid.unwrap_or(DEFAULT_MIN_VALID),
    )?;

    let (token, expires_at) = if args.id_token {
        let id_token = tokens.id_token.as_ref().ok_or_else(|| {
            Error::login_required(format!(
                "no ID token is stored for profile `{}`",
                profile.name
            ))
            .hint(format!(
                "include `openid` in the profile's scopes and run `latchkey login -p {}`",
                profile.name
            ))
        })?;
        let exp = crate::oauth::jwt::unverified_claims(id_token.secret())
            .ok()
            .and_then(|c| c.exp)
            .and_then(|e| u64::try_from(e).ok());
        (id_token.secret(), exp)
    } else {
        (tokens.access_token.secret(), tokens.expires_at)
    };
    let expiry = expires_at.map(rfc3339);
    let output = match args.format {
        TokenFormat::Raw => format!("{token}\n"),
        TokenFormat::Header => format!("Authorization: Bearer {token}\n"),
        TokenFormat::Json => {
            let mut doc = json!({
                "token_type": tokens.token_type,
                "expires_at": expiry,
                "scope": tokens.scope,
            });
            let field = if args.id_token {
                "id_token"
            } else {
                "access_token"
            };
            doc[field] = json!(token);
            format!("{doc}\n")
        }
        TokenFormat::ExecCredential => {
            // kubectl's client-go credential plugin protocol, v1.
            let mut status = json!({ "token": token });
            if let Some(expiry) = expiry {
                status["expirationTimestamp"] = json!(expiry);
            }
            let doc = json!({
                "apiVersion": "client.authentication.k8s.io/v1",
                "kind": "ExecCredential",
                "status": status,
            });
            format!("{doc}\n")
        }
    };
    print_stdout(&output)
}
