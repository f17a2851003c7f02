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
use figment::providers::Serialized;
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Provider};
use serde::Serialize;

/// Values given on the command line; they override every other layer.
#[derive(Debug, Default, Clone, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl FlagOverrides {
    /// The flag that sets a field, for `profiles show` and error messages.
    fn flag_for(field: &str) -> &'static str {
        match field {
            "audience" => "--audience",
            "organization" => "--organization",
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
        let mut dict = Dict::new();
        for field in PROFILE_FIELDS {
            let Some(raw) = std::env::var_os(env_var_for(field)) else {
                continue;
            };
            let raw = raw.to_string_lossy();
            let value = if VERBATIM_ENV_FIELDS.contains(field) {
                figment::value::Value::from(raw.into_owned())
            } else {
                env_value(&raw)
            };
            dict.insert((*field).to_owned(), value);
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// An environment variable's value as a profile value: what it means as a TOML value (`30` a
/// number, `true` a boolean, `["a", "b"]` a list, `{ k = "v" }` a table), a list or table of
/// bare words (`[openid, email]`, `{organization=org_1}`), and otherwise the text as it is
/// (`openid email`, `30s`, a URL).
pub(crate) fn env_value(raw: &str) -> figment::value::Value {
    use figment::value::Value;
    let text = raw.trim();
    if let Ok(value) = text.parse::<toml_edit::Value>() {
        return crate::config::file::plain_value(&value);
    }
    let inside = |open: char, close: char| {
        text.strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
            .map(|inner| {
                inner
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .collect::<Vec<_>>()
            })
    };
    if let Some(items) = inside('[', ']') {
        return Value::from(items.into_iter().map(env_value).collect::<Vec<_>>());
    }
    if let Some(pairs) = inside('{', '}') {
        let table: Option<Dict> = pairs
            .into_iter()
            .map(|pair| {
                let (key, value) = pair.split_once('=')?;
                Some((key.trim().to_owned(), env_value(value)))
            })
            .collect();
        if let Some(table) = table {
            return Value::from(table);
        }
    }
    Value::from(text.to_owned())
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

#[cfg(test)]
mod tests {
    use super::env_value;
    use figment::value::Value;

    fn text(s: &str) -> Value {
        Value::from(s.to_owned())
    }

    #[test]
    fn environment_values_read_as_toml_then_bare_lists_then_text() {
        assert_eq!(env_value("30"), Value::from(30i64));
        assert_eq!(env_value(" true "), Value::from(true));
        assert_eq!(env_value("openid email"), text("openid email"));
        assert_eq!(env_value("30s"), text("30s"));
        assert_eq!(env_value("https://x.example/"), text("https://x.example/"));
        assert_eq!(env_value("\"0123\""), text("0123"));
        assert_eq!(
            env_value("[openid, email]"),
            Value::from(vec![text("openid"), text("email")])
        );
        assert_eq!(
            env_value(r#"["a", 2]"#),
            Value::from(vec![text("a"), Value::from(2i64)])
        );
        let dict = env_value("{organization=org_1, prompt = login}")
            .into_dict()
            .unwrap();
        assert_eq!(dict["organization"], text("org_1"));
        assert_eq!(dict["prompt"], text("login"));
        assert_eq!(env_value("{not a table}"), text("{not a table}"));
        assert_eq!(env_value(""), text(""));
    }
}
