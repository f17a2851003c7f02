//! What `status` says of a profile, typed: one report that `status --json` prints, the text
//! view reads field by field, and the agent sends to its clients. Never a token value.

use super::{StoredTokens, TokenStore, describe_source};
use crate::base::clock::unix_now;
use crate::base::duration::rfc3339;
use crate::config::Profile;
use serde::{Deserialize, Serialize};

/// One profile's status. The JSON keys are the field names (`status --json` documents them);
/// the token fields are present, nulls included, exactly when tokens are stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub profile: String,
    /// Tokens are stored and their refresh token was not refused.
    pub logged_in: bool,
    /// The issuer the tokens came from, or the profile's when none are stored.
    pub issuer: String,
    pub token_file: String,
    /// How the token file is protected (`age X25519, key …`, `age passphrase …`).
    pub protection: String,
    /// Why the stored tokens could not be read or used, as the error said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<NotLoggedIn>,
    #[serde(flatten)]
    pub tokens: Option<TokensReport>,
    /// Set by a client of `latchkey agent`: the agent that gave the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentSource>,
}

/// Why a profile is not logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotLoggedIn {
    /// The token file could not be read or used (`error` says why).
    Error,
    NoTokens,
    /// Stored tokens whose refresh token the provider refused (`invalid_grant`): the access
    /// token may serve out its time, then only a login helps.
    RefreshTokenRefused,
}

/// What is stored, for a profile with tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensReport {
    /// The ID token's claims (read, not verified: it was verified when it arrived).
    pub subject: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub audience: Option<String>,
    pub organization: Option<OrganizationReport>,
    pub apis: Vec<ApiReport>,
    pub scopes: Option<Vec<String>>,
    /// RFC 3339; `None` when the provider did not say.
    pub access_token_expires_at: Option<String>,
    /// Seconds from the report's making (negative: expired).
    pub access_token_expires_in: Option<i64>,
    pub access_token_expired: bool,
    /// A refresh token is stored and was not refused.
    pub refresh_token: bool,
    pub refresh_token_refused: Option<RefusedReport>,
    /// RFC 3339.
    pub obtained_at: String,
}

/// The organization a login asked for, and what its ID token names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationReport {
    pub requested: String,
    pub id: Option<String>,
    pub name: Option<String>,
}

/// A token for another API, cached beside the login's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiReport {
    pub audience: String,
    pub expires_at: Option<String>,
    pub expired: bool,
    pub scope: Option<String>,
}

/// When and why the provider refused the refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedReport {
    pub at: String,
    pub provider_said: String,
}

/// The agent a report came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSource {
    pub socket: String,
    pub pid: Option<u32>,
}

impl StatusReport {
    /// The report of `profile` with its stored `tokens` (none stored: `None`), or the `error`
    /// that kept them from being read.
    pub fn of(
        profile: &Profile,
        store: &TokenStore,
        tokens: Option<&StoredTokens>,
        error: Option<&str>,
    ) -> StatusReport {
        let reason = match (error, tokens) {
            (Some(_), _) => Some(NotLoggedIn::Error),
            (None, None) => Some(NotLoggedIn::NoTokens),
            (None, Some(tokens)) if tokens.refresh_refused.is_some() => {
                Some(NotLoggedIn::RefreshTokenRefused)
            }
            (None, Some(_)) => None,
        };
        StatusReport {
            profile: profile.name.clone(),
            logged_in: tokens.is_some() && reason.is_none(),
            issuer: tokens.map_or_else(|| profile.issuer.to_string(), |t| t.issuer.clone()),
            token_file: store.token_path(&profile.name).display().to_string(),
            protection: describe_source(store, &profile.key_source),
            error: error.map(str::to_owned),
            reason,
            tokens: tokens.map(|tokens| TokensReport::of(tokens, unix_now())),
            agent: None,
        }
    }
}

impl TokensReport {
    fn of(tokens: &StoredTokens, now: u64) -> TokensReport {
        let claims = tokens
            .id_token
            .as_ref()
            .and_then(|t| crate::oauth::jwt::unverified_claims(t.secret()).ok())
            .unwrap_or_default();
        // Saturating: an absurd expires_in from a provider must not overflow.
        let signed = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
        TokensReport {
            subject: claims.sub,
            email: claims.email,
            name: claims.name,
            audience: tokens.audience.clone(),
            organization: tokens
                .organization
                .as_ref()
                .map(|requested| OrganizationReport {
                    requested: requested.clone(),
                    id: claims.org_id,
                    name: claims.org_name,
                }),
            apis: tokens
                .apis
                .iter()
                .map(|token| ApiReport {
                    audience: token.audience.clone(),
                    expires_at: token.expires_at.map(rfc3339),
                    expired: token.expires_at.is_some_and(|at| at <= now),
                    scope: token.scope.clone(),
                })
                .collect(),
            scopes: tokens
                .scope
                .as_deref()
                .map(|s| s.split_whitespace().map(str::to_owned).collect()),
            access_token_expires_at: tokens.expires_at.map(rfc3339),
            access_token_expires_in: tokens
                .expires_at
                .map(|at| signed(at).saturating_sub(signed(now))),
            access_token_expired: tokens.expires_at.is_some_and(|at| at <= now),
            refresh_token: tokens.refresh_token.is_some() && tokens.refresh_refused.is_none(),
            refresh_token_refused: tokens
                .refresh_refused
                .as_ref()
                .map(|refused| RefusedReport {
                    at: rfc3339(refused.at),
                    provider_said: refused.said.clone(),
                }),
            obtained_at: rfc3339(tokens.obtained_at),
        }
    }
}
