//! Where each setting came from, and a profile's effective settings as `profiles show` lists
//! them.

use crate::base::text::escape_controls;
use crate::config::{
    DEFAULT_SCRYPT_WORK_FACTOR, Dialect, Flow, KeySource, Profile, ProfileKey, ProviderKind,
    TokenRequestFormat,
};
use crate::net::url::Url;
use serde_json::{Value, json};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where one setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File {
        path: PathBuf,
        line: Option<usize>,
    },
    Env(String),
    Flag(&'static str),
    /// Computed from another setting (the issuer of an Auth0 `domain`).
    Derived(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File {
                path,
                line: Some(line),
            } => write!(f, "{}:{line}", path.display()),
            Source::File { path, line: None } => write!(f, "{}", path.display()),
            Source::Env(var) => write!(f, "env {var}"),
            Source::Flag(flag) if flag.starts_with('-') => write!(f, "flag {flag}"),
            // A positional argument, described in words ("the NAME argument").
            Source::Flag(argument) => f.write_str(argument),
            Source::Derived(from) => write!(f, "derived from {from}"),
        }
    }
}

/// One row of `profiles show`: a setting's effective value and where it came from.
#[derive(Debug)]
pub struct SettingRow {
    pub key: &'static str,
    /// The value as text, `None` when unset.
    pub display: Option<String>,
    pub json: serde_json::Value,
    pub source: Source,
}

/// A profile's effective settings, in the order of [`ProfileKey::ALL`].
#[derive(Debug)]
pub struct ProfileSettings {
    pub rows: Vec<SettingRow>,
}

impl ProfileSettings {
    pub fn new(profile: &Profile, sources: Vec<(&'static str, Source)>) -> Self {
        let rows = ProfileKey::ALL
            .iter()
            .map(|&key| {
                let (display, json) = shown_value(profile, key);
                let key = key.name();
                let mut source = sources
                    .iter()
                    .find(|(f, _)| *f == key)
                    .map(|(_, s)| s.clone())
                    .unwrap_or(Source::Default);
                if key == "issuer" && matches!(profile.kind, ProviderKind::Auth0 { .. }) {
                    source = Source::Derived("domain");
                }
                SettingRow {
                    key,
                    // One value per line of `profiles show`, whatever the file's strings hold;
                    // the JSON keeps the exact value.
                    display: display.map(|shown| escape_controls(&shown)),
                    json,
                    source,
                }
            })
            .collect();
        ProfileSettings { rows }
    }
}

/// One key's effective value: as text for people (`None` when unset) and as JSON.
// Longer than most functions on purpose: one arm per profile key, in ProfileKey::ALL's order,
// so the whole table of how each key is shown reads in one place; the match has no fallback,
// so a new key does not compile until it has its row.
fn shown_value(profile: &Profile, key: ProfileKey) -> (Option<String>, Value) {
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    let url = |u: &Option<Url>| u.as_ref().map(|u| u.to_string());
    match key {
        ProfileKey::Domain => {
            let d = match &profile.kind {
                ProviderKind::Auth0 { domain } => Some(domain.clone()),
                ProviderKind::Discovery => None,
            };
            (d.clone(), text(&d))
        }
        ProfileKey::Issuer => (
            Some(profile.issuer.to_string()),
            json!(profile.issuer.to_string()),
        ),
        ProfileKey::Provider => {
            let shown = match (&profile.kind, profile.dialect) {
                (ProviderKind::Auth0 { .. }, _) => "auth0",
                (ProviderKind::Discovery, Dialect::Standard) => "standard",
                (ProviderKind::Discovery, Dialect::Entra) => "entra",
            };
            (Some(shown.to_owned()), json!(shown))
        }
        ProfileKey::ClientId => (Some(profile.client_id.clone()), json!(profile.client_id)),
        // Whether it is set and where from, never the value: not in the table, not in JSON.
        ProfileKey::ClientSecret => match profile.client_secret {
            Some(_) => (Some(SECRET_SHOWN.to_owned()), json!(SECRET_SHOWN)),
            None => (None, Value::Null),
        },
        ProfileKey::Audience => (profile.audience.clone(), text(&profile.audience)),
        ProfileKey::Organization => (profile.organization.clone(), text(&profile.organization)),
        ProfileKey::Scopes => (Some(profile.scopes.join(" ")), json!(profile.scopes)),
        ProfileKey::RedirectPort => (
            Some(profile.redirect_port.to_string()),
            json!(profile.redirect_port),
        ),
        ProfileKey::CallbackPath => (
            Some(profile.callback_path.clone()),
            json!(profile.callback_path),
        ),
        ProfileKey::PasteRedirectUri => {
            let u = url(&profile.paste_redirect_uri);
            (u.clone(), text(&u))
        }
        ProfileKey::AuthorizeParams => {
            let shown = (!profile.authorize_params.is_empty()).then(|| {
                profile
                    .authorize_params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            (shown, json!(profile.authorize_params))
        }
        ProfileKey::Flow => {
            let f = match profile.flow {
                Flow::Code => "code",
                Flow::Device => "device",
            };
            (Some(f.to_owned()), json!(f))
        }
        ProfileKey::TokenRequestFormat => {
            let f = match profile.token_request_format {
                TokenRequestFormat::Form => "form",
                TokenRequestFormat::Json => "json",
            };
            (Some(f.to_owned()), json!(f))
        }
        ProfileKey::AuthorizeEndpoint => endpoint_row(url(&profile.endpoints.authorize)),
        ProfileKey::TokenEndpoint => endpoint_row(url(&profile.endpoints.token)),
        ProfileKey::RevocationEndpoint => endpoint_row(url(&profile.endpoints.revocation)),
        ProfileKey::DeviceAuthorizationEndpoint => {
            endpoint_row(url(&profile.endpoints.device_authorization))
        }
        ProfileKey::HttpTimeout => duration_row(profile.http_timeout),
        ProfileKey::ConnectTimeout => duration_row(profile.connect_timeout),
        ProfileKey::CaFile => {
            let path = profile.ca_file.as_ref().map(|p| p.display().to_string());
            (path.clone(), text(&path))
        }
        ProfileKey::Proxy => {
            let shown = profile.proxy.as_ref().map(|p| p.shown());
            (shown.clone(), text(&shown))
        }
        ProfileKey::Hosts => {
            let shown = (!profile.hosts.is_empty()).then(|| {
                let names: Vec<String> = profile.hosts.iter().map(|h| h.to_string()).collect();
                names.join(" ")
            });
            (shown, json!(profile.hosts))
        }
        ProfileKey::GitUsername => (
            Some(profile.git_username.clone()),
            json!(profile.git_username),
        ),
        ProfileKey::RegistryUsername => (
            Some(profile.registry_username.clone()),
            json!(profile.registry_username),
        ),
        ProfileKey::LoginIfNeeded => (
            Some(profile.login_if_needed.to_string()),
            json!(profile.login_if_needed),
        ),
        ProfileKey::IdentityFile => match &profile.key_source {
            KeySource::IdentityFile(path) => {
                let shown = path.display().to_string();
                (Some(shown.clone()), json!(shown))
            }
            _ => (None, Value::Null),
        },
        ProfileKey::UsePassphrase => {
            let on = matches!(profile.key_source, KeySource::Passphrase { .. });
            (Some(on.to_string()), json!(on))
        }
        ProfileKey::ScryptWorkFactor => {
            let factor = match profile.key_source {
                KeySource::Passphrase { work_factor } => i64::from(work_factor),
                _ => DEFAULT_SCRYPT_WORK_FACTOR,
            };
            (Some(factor.to_string()), json!(factor))
        }
    }
}

/// What `profiles show` says for a client secret that is set.
const SECRET_SHOWN: &str = "(set, hidden)";

/// A duration as `profiles show` prints it ("30s"), and whole seconds in JSON.
fn duration_row(value: Duration) -> (Option<String>, serde_json::Value) {
    (
        Some(crate::base::duration::format_remaining(value)),
        serde_json::Value::from(value.as_secs()),
    )
}

fn endpoint_row(value: Option<String>) -> (Option<String>, serde_json::Value) {
    match value {
        Some(v) => (Some(v.clone()), serde_json::Value::String(v)),
        None => (None, serde_json::Value::Null),
    }
}
