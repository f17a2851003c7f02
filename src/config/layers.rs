//! Layering one profile's values with figment: built-in defaults < profiles file < `LATCHKEY_*`
//! environment < command-line flags, and telling which layer set each value.

use crate::base::error::{Error, Result};
use crate::config::file::ProfilesFile;
use crate::config::raw::RawProfile;
use crate::config::settings::Source;
use crate::config::suggest::unknown_key_message;
use crate::config::validate::validate;
use crate::config::{
    DEFAULT_CALLBACK_PATH, DEFAULT_REDIRECT_PORT, DEFAULT_SCOPES, PROFILE_FIELDS, Profile,
    env_var_for,
};
use figment::providers::{Env, Serialized};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Provider};
use serde::Serialize;

/// Values given on the command line; they override every other layer.
#[derive(Debug, Default, Clone, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl FlagOverrides {
    /// The flag that sets a field, for `profiles show` and error messages.
    fn flag_for(field: &str) -> &'static str {
        match field {
            "audience" => "--audience",
            "scopes" => "--scope",
            _ => "a command-line flag",
        }
    }
}

impl ProfilesFile {
    /// Layers defaults < file < environment < flags for one profile and validates the result.
    pub fn resolve(
        &self,
        name: &str,
        flags: &FlagOverrides,
    ) -> Result<(Profile, Vec<(&'static str, Source)>)> {
        let figment = self.layers(name, flags);
        let profile = self.validated(name, &figment)?;
        let sources = PROFILE_FIELDS
            .iter()
            .filter_map(|field| Some((*field, self.source_of(&figment, name, field)?)))
            .collect();
        Ok((profile, sources))
    }

    /// The validated profile alone. This is the `token` hot path: where each value came from
    /// is worked out only when a message needs it (figment re-merges every layer per lookup).
    pub fn resolve_profile(&self, name: &str, flags: &FlagOverrides) -> Result<Profile> {
        self.validated(name, &self.layers(name, flags))
    }

    fn layers(&self, name: &str, flags: &FlagOverrides) -> Figment {
        let table = self.profiles.get(name).cloned().unwrap_or_default();
        Figment::from(DefaultsLayer)
            .merge(FileLayer { table })
            .merge(env_layer())
            .merge(Named(LAYER_FLAGS, Serialized::defaults(flags.clone())))
    }

    fn validated(&self, name: &str, figment: &Figment) -> Result<Profile> {
        let raw: RawProfile = figment.extract().map_err(|e| self.figment_error(name, e))?;
        let source_of = |field: &str| {
            self.source_of(figment, name, field)
                .unwrap_or(Source::Default)
        };
        validate(name, raw, &source_of)
    }

    fn source_of(&self, figment: &Figment, profile: &str, field: &str) -> Option<Source> {
        let metadata = figment.find_metadata(field)?;
        Some(match metadata.name.as_ref() {
            LAYER_DEFAULTS => Source::Default,
            LAYER_FILE => Source::File {
                path: self.path.clone(),
                line: self.line_of(&format!("profiles.{profile}.{field}")),
            },
            LAYER_ENV => Source::Env(env_var_for(field)),
            _ => Source::Flag(FlagOverrides::flag_for(field)),
        })
    }

    /// Turns figment's type errors into a message that names the key, where it was set, and
    /// the type expected.
    fn figment_error(&self, profile: &str, error: figment::Error) -> Error {
        let field = error.path.first().cloned().unwrap_or_default();
        let place = match error.metadata.as_ref().map(|m| m.name.as_ref()) {
            Some(LAYER_FILE) => {
                let line = self.line_of(&format!("profiles.{profile}.{field}"));
                Source::File {
                    path: self.path.clone(),
                    line,
                }
                .to_string()
            }
            Some(LAYER_ENV) => format!("environment variable {}", env_var_for(&field)),
            Some(LAYER_DEFAULTS) | None => "built-in defaults".to_owned(),
            Some(_) => "command line".to_owned(),
        };
        let detail = match &error.kind {
            figment::error::Kind::InvalidType(found, expected) => {
                format!("wrong type: expected {expected}, found {found}")
            }
            figment::error::Kind::UnknownField(key, _) => {
                return Error::config(format!(
                    "{place}: {}",
                    unknown_key_message("key", key, PROFILE_FIELDS)
                ));
            }
            other => other.to_string(),
        };
        Error::config(format!(
            "{place}: `{field}` in profile `{profile}`: {detail}"
        ))
        .hint("profiles.example.toml shows each key with its type")
    }
}

const LAYER_DEFAULTS: &str = "latchkey defaults";
const LAYER_FILE: &str = "profiles file";
const LAYER_ENV: &str = "environment";
const LAYER_FLAGS: &str = "command line";

/// Built-in defaults, the lowest layer.
struct DefaultsLayer;

impl Provider for DefaultsLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(LAYER_DEFAULTS)
    }

    fn data(&self) -> figment::Result<Map<figment::Profile, Dict>> {
        #[derive(Serialize)]
        struct Defaults {
            scopes: &'static [&'static str],
            redirect_port: i64,
            callback_path: &'static str,
            token_request_format: &'static str,
            flow: &'static str,
        }
        Serialized::defaults(Defaults {
            scopes: DEFAULT_SCOPES,
            redirect_port: DEFAULT_REDIRECT_PORT,
            callback_path: DEFAULT_CALLBACK_PATH,
            token_request_format: "form",
            flow: "code",
        })
        .data()
    }
}

/// The selected profile's table from the file (already parsed once, not read again).
struct FileLayer {
    table: Dict,
}

impl Provider for FileLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(LAYER_FILE)
    }

    fn data(&self) -> figment::Result<Map<figment::Profile, Dict>> {
        Ok(Map::from([(figment::Profile::Default, self.table.clone())]))
    }
}

/// Profile fields whose environment value is taken exactly as it is: figment parses the others
/// (`30` becomes a number, `[a]` a list), which would change a secret such as `0123`.
const VERBATIM_ENV_FIELDS: &[&str] = &["client_secret"];

/// `LATCHKEY_<FIELD>` for each profile field, and nothing else: `LATCHKEY_CONFIG`,
/// `LATCHKEY_PROFILE` and `LATCHKEY_PASSPHRASE` are not profile fields.
fn env_layer() -> EnvLayer {
    EnvLayer
}

/// The environment layer: figment's parsed `LATCHKEY_*` values, with the verbatim fields as
/// plain strings.
struct EnvLayer;

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(LAYER_ENV)
    }

    fn data(&self) -> figment::Result<Map<figment::Profile, Dict>> {
        let parsed = Env::prefixed("LATCHKEY_")
            .only(PROFILE_FIELDS)
            .ignore(VERBATIM_ENV_FIELDS);
        let mut data = parsed.data()?;
        for field in VERBATIM_ENV_FIELDS {
            if let Some(value) = std::env::var_os(env_var_for(field)) {
                data.entry(figment::Profile::Default).or_default().insert(
                    (*field).to_owned(),
                    figment::value::Value::from(value.to_string_lossy().into_owned()),
                );
            }
        }
        Ok(data)
    }
}

/// A provider under a fixed metadata name, so `find_metadata` tells the layers apart.
struct Named<P>(&'static str, P);

impl<P: Provider> Provider for Named<P> {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.0)
    }

    fn data(&self) -> figment::Result<Map<figment::Profile, Dict>> {
        self.1.data()
    }
}
