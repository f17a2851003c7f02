//! Profiles: reading the TOML file, layering defaults < file < environment < flags with figment,
//! and validating the result once into a typed [`Profile`].

pub mod paths;

use crate::base::error::{Error, Result};
use crate::config::paths::ConfigOrigin;
use crate::net::http::{Body, HttpSettings};
use crate::net::retry::Resend;
use crate::net::url::{self, Url};
use figment::providers::{Env, Serialized};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Provider};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every key a profile may set. The names are an interface: they appear in profiles files and,
/// upper-cased with a `LATCHKEY_` prefix, as environment overrides.
pub const PROFILE_FIELDS: &[&str] = &[
    "domain",
    "issuer",
    "client_id",
    "audience",
    "scopes",
    "flow",
    "redirect_port",
    "callback_path",
    "paste_redirect_uri",
    "authorize_params",
    "token_request_format",
    "authorize_endpoint",
    "token_endpoint",
    "revocation_endpoint",
    "device_authorization_endpoint",
    "identity_file",
    "use_passphrase",
    "scrypt_work_factor",
    "http_timeout",
    "connect_timeout",
    "ca_file",
    "proxy",
];

const TOP_LEVEL_KEYS: &[&str] = &["default_profile", "profiles"];
const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
const DEFAULT_REDIRECT_PORT: i64 = 8484;
const DEFAULT_CALLBACK_PATH: &str = "/callback";
/// log2 of scrypt's N: about 0.1 s on a laptop, a balance for a token read many times a minute.
const DEFAULT_SCRYPT_WORK_FACTOR: i64 = 16;
const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One profile as it arrives from the layers, before validation. Every field is optional here
/// so that any layer may set it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub domain: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub audience: Option<String>,
    #[serde(default, deserialize_with = "scopes_from_list_or_string")]
    pub scopes: Option<Vec<String>>,
    pub redirect_port: Option<i64>,
    pub callback_path: Option<String>,
    pub paste_redirect_uri: Option<String>,
    pub authorize_params: Option<BTreeMap<String, String>>,
    pub token_request_format: Option<String>,
    pub flow: Option<String>,
    pub authorize_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub identity_file: Option<String>,
    pub use_passphrase: Option<bool>,
    pub scrypt_work_factor: Option<i64>,
    #[serde(default, deserialize_with = "duration_from_seconds_or_text")]
    pub http_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration_from_seconds_or_text")]
    pub connect_timeout: Option<Duration>,
    pub ca_file: Option<String>,
    pub proxy: Option<String>,
}

/// A duration as whole seconds (`30`) or text (`"30s"`, `"2m"`).
fn duration_from_seconds_or_text<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    struct DurationVisitor;
    impl<'de> serde::de::Visitor<'de> for DurationVisitor {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("seconds or a duration like \"30s\" or \"2m\"")
        }

        fn visit_u64<E: serde::de::Error>(self, secs: u64) -> Result<Self::Value, E> {
            crate::base::duration::at_most_a_year(Duration::from_secs(secs), &format!("{secs}s"))
                .map(Some)
                .map_err(E::custom)
        }

        fn visit_i64<E: serde::de::Error>(self, secs: i64) -> Result<Self::Value, E> {
            let secs =
                u64::try_from(secs).map_err(|_| E::custom("a duration cannot be negative"))?;
            self.visit_u64(secs)
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            crate::base::duration::parse_duration(text)
                .map(Some)
                .map_err(E::custom)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(DurationVisitor)
        }
    }
    d.deserialize_option(DurationVisitor)
}

/// `scopes` may be a TOML array or, handy in `LATCHKEY_SCOPES`, one space- or comma-separated string.
fn scopes_from_list_or_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    struct ScopesVisitor;
    impl<'de> serde::de::Visitor<'de> for ScopesVisitor {
        type Value = Option<Vec<String>>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of scopes or a space-separated string")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Some(
                text.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ))
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut scopes = Vec::new();
            while let Some(scope) = seq.next_element::<String>()? {
                scopes.push(scope);
            }
            Ok(Some(scopes))
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(ScopesVisitor)
        }
    }
    d.deserialize_option(ScopesVisitor)
}

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

/// How `latchkey login` obtains the authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flow {
    /// Authorization Code with PKCE: a browser, the loopback listener or a paste.
    Code,
    /// Device Authorization Grant (RFC 8628): a user code entered on any device.
    Device,
}

/// How the token request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRequestFormat {
    /// `application/x-www-form-urlencoded`, as RFC 6749 specifies.
    Form,
    /// `application/json`, which Auth0 also accepts.
    Json,
}

/// Where the provider's endpoints come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// An Auth0 tenant: endpoints are fixed paths under `https://DOMAIN/`.
    Auth0 { domain: String },
    /// Any OpenID provider: endpoints come from its discovery document.
    Discovery,
}

/// What the token file is encrypted with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// latchkey's own X25519 identity, generated on first use in the data directory.
    Generated,
    /// An age identity file the user keeps (on removable media, say).
    IdentityFile(PathBuf),
    /// A passphrase (age's scrypt recipient) at this work factor (log2 N).
    Passphrase { work_factor: u8 },
}

/// Per-endpoint overrides from the profile; `None` means "from the domain or discovery".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    pub authorize: Option<Url>,
    pub token: Option<Url>,
    pub revocation: Option<Url>,
    pub device_authorization: Option<Url>,
}

/// A validated profile: everything the commands need, typed, checked once at the edge.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub kind: ProviderKind,
    /// The issuer identifier exactly as the provider states it (`https://DOMAIN/` for Auth0).
    pub issuer: Url,
    pub client_id: String,
    pub audience: Option<String>,
    pub scopes: Vec<String>,
    /// 0 lets the OS pick a free port (for providers that accept any loopback port).
    pub redirect_port: u16,
    pub callback_path: String,
    pub paste_redirect_uri: Option<Url>,
    pub authorize_params: BTreeMap<String, String>,
    pub token_request_format: TokenRequestFormat,
    pub flow: Flow,
    pub endpoints: EndpointOverrides,
    pub key_source: KeySource,
    /// Longest a whole request to the provider may take.
    pub http_timeout: Duration,
    /// Longest making a connection may take (DNS, TCP, proxy, TLS); at most `http_timeout`.
    pub connect_timeout: Duration,
    /// Extra trusted certificate authorities (PEM), besides the system's and Mozilla's.
    pub ca_file: Option<PathBuf>,
    /// The profile's own proxy, or `none`; unset means the environment's (see [`crate::net::proxy`]).
    pub proxy: Option<crate::net::proxy::ProxySetting>,
}

impl Profile {
    /// The network settings of this profile's requests. `resend` decides whether POSTs are
    /// retried after the provider may have acted on them (see [`Resend`]).
    pub fn http_settings(&self, resend: Resend) -> HttpSettings {
        HttpSettings {
            http_timeout: self.http_timeout,
            connect_timeout: self.connect_timeout,
            ca_file: self.ca_file.clone(),
            proxy: self.proxy.clone(),
            resend,
        }
    }
}

impl TokenRequestFormat {
    /// The request body in this format: the profile decides for every token-endpoint request.
    pub fn body<'a>(self, pairs: &'a [(&'a str, &'a str)]) -> Body<'a> {
        match self {
            TokenRequestFormat::Form => Body::Form(pairs),
            TokenRequestFormat::Json => Body::Json(pairs),
        }
    }
}

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
            Source::Flag(flag) => write!(f, "flag {flag}"),
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

/// A profile's effective settings, in the order of [`PROFILE_FIELDS`].
#[derive(Debug)]
pub struct ProfileSettings {
    pub rows: Vec<SettingRow>,
}

impl ProfileSettings {
    pub fn new(profile: &Profile, sources: Vec<(&'static str, Source)>) -> Self {
        use serde_json::{Value, json};
        let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        let url = |u: &Option<Url>| u.as_ref().map(|u| u.to_string());
        let rows = PROFILE_FIELDS
            .iter()
            .map(|&key| {
                let (display, json): (Option<String>, Value) = match key {
                    "domain" => {
                        let d = match &profile.kind {
                            ProviderKind::Auth0 { domain } => Some(domain.clone()),
                            ProviderKind::Discovery => None,
                        };
                        (d.clone(), text(&d))
                    }
                    "issuer" => (
                        Some(profile.issuer.to_string()),
                        json!(profile.issuer.to_string()),
                    ),
                    "client_id" => (Some(profile.client_id.clone()), json!(profile.client_id)),
                    "audience" => (profile.audience.clone(), text(&profile.audience)),
                    "scopes" => (Some(profile.scopes.join(" ")), json!(profile.scopes)),
                    "redirect_port" => (
                        Some(profile.redirect_port.to_string()),
                        json!(profile.redirect_port),
                    ),
                    "callback_path" => (
                        Some(profile.callback_path.clone()),
                        json!(profile.callback_path),
                    ),
                    "paste_redirect_uri" => {
                        let u = url(&profile.paste_redirect_uri);
                        (u.clone(), text(&u))
                    }
                    "authorize_params" => {
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
                    "flow" => {
                        let f = match profile.flow {
                            Flow::Code => "code",
                            Flow::Device => "device",
                        };
                        (Some(f.to_owned()), json!(f))
                    }
                    "token_request_format" => {
                        let f = match profile.token_request_format {
                            TokenRequestFormat::Form => "form",
                            TokenRequestFormat::Json => "json",
                        };
                        (Some(f.to_owned()), json!(f))
                    }
                    "authorize_endpoint" => endpoint_row(url(&profile.endpoints.authorize)),
                    "token_endpoint" => endpoint_row(url(&profile.endpoints.token)),
                    "revocation_endpoint" => endpoint_row(url(&profile.endpoints.revocation)),
                    "device_authorization_endpoint" => {
                        endpoint_row(url(&profile.endpoints.device_authorization))
                    }
                    "http_timeout" => duration_row(profile.http_timeout),
                    "connect_timeout" => duration_row(profile.connect_timeout),
                    "ca_file" => {
                        let path = profile.ca_file.as_ref().map(|p| p.display().to_string());
                        (path.clone(), text(&path))
                    }
                    "proxy" => {
                        let shown = profile.proxy.as_ref().map(|p| p.shown());
                        (shown.clone(), text(&shown))
                    }
                    _ => (None, Value::Null),
                };
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

/// The profiles file, parsed, with the position of every key for messages.
#[derive(Debug)]
pub struct ProfilesFile {
    pub path: PathBuf,
    pub origin: ConfigOrigin,
    pub default_profile: Option<String>,
    profiles: BTreeMap<String, toml::Table>,
    text: String,
    spans: KeySpans,
}

/// Byte offsets of keys in the file, by dotted path (`profiles.dev.client_id`).
#[derive(Debug, Default)]
struct KeySpans(BTreeMap<String, usize>);

impl ProfilesFile {
    /// Reads and checks the profiles file; every problem names the file, line and column.
    pub fn load(path: &Path, origin: ConfigOrigin) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let hint = match origin {
                    ConfigOrigin::Default => format!(
                        "start one from the example: mkdir -p {dir} && cp profiles.example.toml {file} \
                         (then edit it), or pass --config FILE",
                        dir = path.parent().unwrap_or(Path::new(".")).display(),
                        file = path.display()
                    ),
                    _ => "check the path, or start one from profiles.example.toml".to_owned(),
                };
                return Err(
                    Error::config(format!("no profiles file at {}", path.display())).hint(hint),
                );
            }
            Err(e) => {
                return Err(Error::config(format!(
                    "cannot read profiles file {}: {e}",
                    path.display()
                ))
                .hint("point --config or LATCHKEY_CONFIG at a readable UTF-8 TOML file"));
            }
        };
        Self::parse(path, origin, text)
    }

    /// Parses the file's text (apart from `load` so tests and fuzzing need no file).
    pub fn parse(path: &Path, origin: ConfigOrigin, text: String) -> Result<Self> {
        // Every mistake gets a hint; the common ones replace this general one with their own.
        let located = |offset: usize, message: String| -> Error {
            let (line, column) = line_column(&text, offset);
            Error::config(format!("{}:{line}:{column}: {message}", path.display()))
                .hint("fix it there; profiles.example.toml shows the expected shape of each key")
        };
        // toml_edit keeps the position of every key; toml gives the plain values figment layers.
        let document = toml_edit::ImDocument::parse(text.as_str()).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            // The parser's message may run over several lines; an error is one line. It can also
            // quote a key, which may hold any character: control characters stay escaped.
            let message = escape_controls(&e.message().trim_end().replace('\n', "; "));
            located(offset, format!("invalid TOML: {message}"))
                .hint("fix the syntax there; profiles.example.toml shows the expected shape")
        })?;
        let mut spans = KeySpans::default();
        let mut default_profile = None;
        let top = document.as_table();
        for (key, item) in top.iter() {
            let key_offset = key_offset(top, key);
            spans.0.insert(key.to_owned(), key_offset);
            match key {
                "default_profile" => match item.as_str() {
                    Some(name) => default_profile = Some(name.to_owned()),
                    None => {
                        return Err(located(
                            key_offset,
                            format!(
                                "`default_profile` must be a string, found {}",
                                item.type_name()
                            ),
                        ));
                    }
                },
                "profiles" => {
                    let Some(profiles) = item.as_table_like() else {
                        return Err(located(
                            key_offset,
                            format!("`profiles` must be a table, found {}", item.type_name()),
                        ));
                    };
                    for (name, profile) in profiles.iter() {
                        let offset = profiles
                            .get_key_value(name)
                            .and_then(|(k, _)| k.span())
                            .map(|s| s.start)
                            .unwrap_or(key_offset);
                        spans.0.insert(format!("profiles.{name}"), offset);
                        check_profile_name(name).map_err(|m| located(offset, m))?;
                        let Some(fields) = profile.as_table_like() else {
                            return Err(located(
                                offset,
                                format!(
                                    "profile `{name}` must be a table ([profiles.{name}]), found {}",
                                    profile.type_name()
                                ),
                            ));
                        };
                        for (field, value) in fields.iter() {
                            let field_offset = fields
                                .get_key_value(field)
                                .and_then(|(k, _)| k.span())
                                .map(|s| s.start)
                                .unwrap_or(offset);
                            spans
                                .0
                                .insert(format!("profiles.{name}.{field}"), field_offset);
                            if !PROFILE_FIELDS.contains(&field) {
                                return Err(located(
                                    field_offset,
                                    unknown_key_message(
                                        &format!("key in profile `{name}`"),
                                        field,
                                        PROFILE_FIELDS,
                                    ),
                                )
                                .hint("profiles.example.toml lists every key with a comment"));
                            }
                            if field == "authorize_params" {
                                check_authorize_params(value)
                                    .map_err(|(at, m)| located(at.unwrap_or(field_offset), m))?;
                            }
                        }
                    }
                }
                unknown => {
                    return Err(located(
                        key_offset,
                        unknown_key_message("top-level key", unknown, TOP_LEVEL_KEYS),
                    )
                    .hint("the file holds `default_profile` and [profiles.NAME] tables"));
                }
            }
        }
        let mut plain: toml::Table =
            toml::from_str(&text).map_err(|e| located(0, e.message().to_owned()))?;
        let profiles = match plain.remove("profiles") {
            Some(toml::Value::Table(all)) => all
                .into_iter()
                .filter_map(|(name, value)| match value {
                    toml::Value::Table(table) => Some((name, table)),
                    _ => None,
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        Ok(ProfilesFile {
            path: path.to_path_buf(),
            origin,
            default_profile,
            profiles,
            text,
            spans,
        })
    }

    pub fn profile_names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    /// The raw table of one profile, as written in the file.
    pub fn profile_table(&self, name: &str) -> Option<&toml::Table> {
        self.profiles.get(name)
    }

    fn line_of(&self, key_path: &str) -> Option<usize> {
        self.spans
            .0
            .get(key_path)
            .map(|&offset| line_column(&self.text, offset).0)
    }

    /// Picks the profile: `--profile` > `LATCHKEY_PROFILE` > `default_profile` > the only one.
    pub fn select(&self, flag: Option<&str>) -> Result<(String, Source)> {
        let env = std::env::var("LATCHKEY_PROFILE")
            .ok()
            .filter(|v| !v.is_empty());
        let (name, source) = if let Some(name) = flag {
            (name.to_owned(), Source::Flag("--profile"))
        } else if let Some(name) = env {
            (name, Source::Env("LATCHKEY_PROFILE".into()))
        } else if let Some(name) = &self.default_profile {
            (
                name.clone(),
                Source::File {
                    path: self.path.clone(),
                    line: self.line_of("default_profile"),
                },
            )
        } else if self.profiles.len() == 1 {
            let only = self.profiles.keys().next().cloned().unwrap_or_default();
            (only, Source::Default)
        } else if self.profiles.is_empty() {
            return Err(Error::config(format!("{} defines no profiles", self.path.display()))
                .hint("add a [profiles.NAME] table; profiles.example.toml shows one for Auth0 and one for any OpenID provider"));
        } else {
            return Err(Error::config(format!(
                "no profile selected and {} has several: {}",
                self.path.display(),
                self.known_list()
            ))
            .hint(
                "pass --profile NAME, set LATCHKEY_PROFILE, or set default_profile in the file",
            ));
        };
        if !self.profiles.contains_key(&name) {
            let mut err = Error::config(format!(
                "unknown profile `{}` (from {source}); known profiles: {}",
                name.escape_debug(),
                self.known_list()
            ));
            if let Some(near) = nearest(&name, self.profile_names()) {
                err = err.hint(format!("did you mean `{near}`?"));
            } else if let Err(why) = check_profile_name(&name) {
                // "add [profiles.a b]" would be advice that cannot be followed.
                err = err.hint(why);
            } else {
                err = err.hint(format!("add [profiles.{name}] to {}", self.path.display()));
            }
            return Err(err);
        }
        Ok((name, source))
    }

    fn known_list(&self) -> String {
        if self.profiles.is_empty() {
            "(none)".to_owned()
        } else {
            self.profile_names().collect::<Vec<_>>().join(", ")
        }
    }

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
    table: toml::Table,
}

impl Provider for FileLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(LAYER_FILE)
    }

    fn data(&self) -> figment::Result<Map<figment::Profile, Dict>> {
        Serialized::defaults(&self.table).data()
    }
}

/// `LATCHKEY_<FIELD>` for each profile field, and nothing else: `LATCHKEY_CONFIG`,
/// `LATCHKEY_PROFILE` and `LATCHKEY_PASSPHRASE` are not profile fields.
fn env_layer() -> Named<Env> {
    Named(LAYER_ENV, Env::prefixed("LATCHKEY_").only(PROFILE_FIELDS))
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

pub fn env_var_for(field: &str) -> String {
    format!("LATCHKEY_{}", field.to_ascii_uppercase())
}

/// Checks the layered values and builds the typed profile; errors name where the value came from.
fn validate(name: &str, raw: RawProfile, source_of: &dyn Fn(&str) -> Source) -> Result<Profile> {
    let bad = |field: &str, message: String| -> Error {
        let source = source_of(field);
        Error::config(format!("profile `{name}`: `{field}` ({source}): {message}")).hint(format!(
            "fix `{field}` where it is set ({source}); profiles.example.toml documents each key"
        ))
    };

    let client_id = raw
        .client_id
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| {
            Error::config(format!("profile `{name}` has no `client_id`")).hint(
                "set client_id to the application's Client ID (Auth0: Applications > your app > Settings), \
                 or LATCHKEY_CLIENT_ID",
            )
        })?;

    let (kind, issuer) = match (raw.domain, raw.issuer) {
        (Some(domain), None) => {
            let host = auth0_domain(&domain).map_err(|m| bad("domain", m))?;
            let issuer = Url::parse(&format!("https://{host}/")).map_err(|m| bad("domain", m))?;
            (ProviderKind::Auth0 { domain: host }, issuer)
        }
        (None, Some(issuer)) => {
            let url = parse_endpoint(&issuer).map_err(|m| bad("issuer", m))?;
            if url.query().is_some() || url.fragment().is_some() {
                return Err(bad("issuer", "an issuer has no query or fragment".into()));
            }
            (ProviderKind::Discovery, url)
        }
        (Some(_), Some(_)) => {
            return Err(Error::config(format!(
                "profile `{name}` sets both `domain` ({}) and `issuer` ({})",
                source_of("domain"),
                source_of("issuer")
            ))
            .hint(
                "keep `domain` for an Auth0 tenant, or `issuer` for any OpenID provider, not both",
            ));
        }
        (None, None) => {
            return Err(Error::config(format!("profile `{name}` sets neither `domain` nor `issuer`")).hint(
                "set domain = \"TENANT.REGION.auth0.com\" for Auth0, or issuer = \"https://...\" for any OpenID provider",
            ));
        }
    };

    let scopes = raw.scopes.unwrap_or_default();
    if scopes.is_empty() {
        return Err(bad(
            "scopes",
            "at least one scope is needed (usually \"openid\")".into(),
        ));
    }
    if let Some(s) = scopes.iter().find(|s| {
        s.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\')
    }) {
        return Err(bad(
            "scopes",
            format!("scope {s:?} contains a space or quote; list scopes separately"),
        ));
    }

    let port = raw.redirect_port.unwrap_or(DEFAULT_REDIRECT_PORT);
    let redirect_port = u16::try_from(port).map_err(|_| {
        bad(
            "redirect_port",
            format!("{port} is not a port: use 1-65535, or 0 to let the OS pick"),
        )
    })?;

    let callback_path = raw
        .callback_path
        .unwrap_or_else(|| DEFAULT_CALLBACK_PATH.to_owned());
    // The listener compares the request's path byte for byte, as browsers send it: anything
    // but printable ASCII (a control character, a non-ASCII letter) could never match.
    if !callback_path.starts_with('/')
        || !callback_path.chars().all(|c| c.is_ascii_graphic())
        || callback_path.contains(['?', '#'])
    {
        return Err(bad(
            "callback_path",
            format!(
                "{callback_path:?} must be a path starting with `/`, in printable ASCII without `?`, `#` or spaces"
            ),
        ));
    }

    let token_request_format = match raw.token_request_format.as_deref().unwrap_or("form") {
        "form" => TokenRequestFormat::Form,
        "json" => TokenRequestFormat::Json,
        other => {
            return Err(bad(
                "token_request_format",
                format!("{other:?} is not one of \"form\", \"json\""),
            ));
        }
    };

    let flow = match raw.flow.as_deref().unwrap_or("code") {
        "code" => Flow::Code,
        "device" => Flow::Device,
        other => {
            return Err(bad(
                "flow",
                format!("{other:?} is not one of \"code\", \"device\""),
            ));
        }
    };

    let optional_url = |field: &str, value: Option<String>| -> Result<Option<Url>> {
        value
            .map(|v| parse_endpoint(&v).map_err(|m| bad(field, m)))
            .transpose()
    };
    let endpoints = EndpointOverrides {
        authorize: optional_url("authorize_endpoint", raw.authorize_endpoint)?,
        token: optional_url("token_endpoint", raw.token_endpoint)?,
        revocation: optional_url("revocation_endpoint", raw.revocation_endpoint)?,
        device_authorization: optional_url(
            "device_authorization_endpoint",
            raw.device_authorization_endpoint,
        )?,
    };
    let paste_redirect_uri = optional_url("paste_redirect_uri", raw.paste_redirect_uri)?;

    let authorize_params = raw.authorize_params.unwrap_or_default();
    const RESERVED: &[&str] = &[
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
    ];
    if let Some(key) = authorize_params
        .keys()
        .find(|k| RESERVED.contains(&k.as_str()))
    {
        return Err(bad(
            "authorize_params",
            format!("`{key}` is set by latchkey itself and cannot be overridden here"),
        ));
    }

    let key_source = match (raw.identity_file, raw.use_passphrase.unwrap_or(false)) {
        (Some(_), true) => {
            return Err(bad(
                "use_passphrase",
                "`use_passphrase = true` and `identity_file` both choose the key; keep one".into(),
            ));
        }
        (Some(path), false) => KeySource::IdentityFile(expand_home(&path)),
        (None, true) => {
            let factor = raw.scrypt_work_factor.unwrap_or(DEFAULT_SCRYPT_WORK_FACTOR);
            let work_factor = u8::try_from(factor)
                .ok()
                .filter(|f| (10..=22).contains(f))
                .ok_or_else(|| {
                    bad(
                        "scrypt_work_factor",
                        format!("{factor} is out of range: use 10 to 22 (log2 of scrypt's N)"),
                    )
                })?;
            KeySource::Passphrase { work_factor }
        }
        (None, false) => KeySource::Generated,
    };
    let http_timeout = raw.http_timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT);
    if http_timeout.is_zero() {
        return Err(bad("http_timeout", "must be more than 0 seconds".into()));
    }
    let connect_timeout = raw.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    if connect_timeout.is_zero() {
        return Err(bad("connect_timeout", "must be more than 0 seconds".into()));
    }
    let ca_file = match raw.ca_file.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(path) => Some(expand_home(path)),
    };
    let proxy = match raw.proxy.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            crate::net::proxy::ProxySetting::parse(text)
                .map_err(|m| bad("proxy", format!("the value {m}")))?,
        ),
    };

    Ok(Profile {
        key_source,
        http_timeout,
        connect_timeout,
        ca_file,
        proxy,
        name: name.to_owned(),
        kind,
        issuer,
        client_id,
        audience: raw.audience.filter(|a| !a.is_empty()),
        scopes,
        redirect_port,
        callback_path,
        paste_redirect_uri,
        authorize_params,
        token_request_format,
        flow,
        endpoints,
    })
}

/// `~/x` means the home directory's `x`, as in a shell.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// An Auth0 domain is a bare host name; a pasted `https://host/` is accepted and reduced.
fn auth0_domain(domain: &str) -> Result<String, String> {
    let trimmed = domain.trim();
    if trimmed.starts_with("http://") {
        return Err(format!(
            "{domain:?} uses http; an Auth0 tenant is only reached over https — write the bare domain"
        ));
    }
    let host = trimmed
        .strip_prefix("https://")
        .unwrap_or(trimmed)
        .trim_end_matches('/');
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':')
    {
        return Err(format!(
            "{domain:?} is not a domain name like \"dev-abc123.us.auth0.com\" (no scheme, no path)"
        ));
    }
    Ok(host.to_ascii_lowercase())
}

/// An endpoint URL: https, or http only on a loopback host where no network can see the traffic.
pub fn parse_endpoint(value: &str) -> Result<Url, String> {
    let url = Url::parse(value.trim())?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if url::is_loopback_host(url.host()) => Ok(url),
        "http" => Err(format!(
            "{value:?} uses plain http on a non-loopback host; tokens would cross the network unencrypted \
             (http is allowed only for 127.0.0.1, [::1] and localhost)"
        )),
        other => Err(format!("{value:?} has scheme {other:?}; use https")),
    }
}

fn check_profile_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "profile name {name:?} may use only letters, digits, `-` and `_` (at most 64): it names a token file"
        ))
    }
}

/// Every authorize parameter is sent as text, so each value must be a string; the error carries
/// the offending key's offset when known.
fn check_authorize_params(value: &toml_edit::Item) -> Result<(), (Option<usize>, String)> {
    let Some(table) = value.as_table_like() else {
        return Err((
            None,
            format!(
                "`authorize_params` must be a table of strings, found {}",
                value.type_name()
            ),
        ));
    };
    match table.iter().find(|(_, v)| !v.is_str()) {
        Some((k, v)) => {
            let at = table
                .get_key_value(k)
                .and_then(|(key, _)| key.span())
                .map(|s| s.start);
            Err((
                at,
                format!(
                    "`authorize_params.{}` must be a string, found {} (quote it)",
                    k.escape_debug(),
                    v.type_name()
                ),
            ))
        }
        None => Ok(()),
    }
}

fn key_offset(table: &toml_edit::Table, key: &str) -> usize {
    table
        .get_key_value(key)
        .and_then(|(k, _)| k.span())
        .map(|s| s.start)
        .unwrap_or(0)
}

/// Control characters as escapes (`\u{1b}`), everything else as it is: for text from the file
/// in a message that goes to the terminal.
fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Keys and names are shown escaped: one quoted in the file can hold any character, and
/// messages go to the terminal.
fn unknown_key_message(what: &str, key: &str, known: &[&str]) -> String {
    let shown = key.escape_debug();
    match nearest(key, known.iter().copied()) {
        Some(near) => format!("unknown {what} `{shown}`; did you mean `{near}`?"),
        None => format!("unknown {what} `{shown}`; known keys: {}", known.join(", ")),
    }
}

/// The candidate closest to `word` by edit distance, when it is close enough to be a typo.
pub fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| {
            (
                edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProfilesFile> {
        ProfilesFile::parse(
            Path::new("/cfg/profiles.toml"),
            ConfigOrigin::Flag,
            text.to_owned(),
        )
    }

    fn message(result: Result<impl fmt::Debug>) -> String {
        let err = result.expect_err("an error was expected");
        assert_eq!(
            err.exit_code(),
            crate::base::error::ExitCode::Config,
            "{err:?}"
        );
        format!("{} | {}", err.message(), err.hint_text().unwrap_or(""))
    }

    const TWO: &str = r#"
default_profile = "dev"
[profiles.dev]
domain = "dev-abc.us.auth0.com"
client_id = "abc"
audience = "https://api/"
[profiles.local]
issuer = "http://127.0.0.1:3000"
client_id = "cli"
redirect_port = 0
"#;

    #[test]
    fn the_example_file_loads_and_every_profile_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles.example.toml");
        let file = ProfilesFile::load(&path, ConfigOrigin::Flag).unwrap();
        let names: Vec<_> = file.profile_names().collect();
        assert_eq!(names, ["dev", "local"]);
        for name in names {
            let (profile, _) = file.resolve(name, &FlagOverrides::default()).unwrap();
            assert!(!profile.client_id.is_empty());
        }
    }

    #[test]
    fn auth0_domain_gives_the_issuer_and_defaults_fill_the_rest() {
        let file = parse(TWO).unwrap();
        let (p, sources) = file.resolve("dev", &FlagOverrides::default()).unwrap();
        assert_eq!(p.issuer.to_string(), "https://dev-abc.us.auth0.com/");
        assert_eq!(
            p.kind,
            ProviderKind::Auth0 {
                domain: "dev-abc.us.auth0.com".into()
            }
        );
        assert_eq!(p.scopes, DEFAULT_SCOPES);
        assert_eq!(p.redirect_port, 8484);
        assert_eq!(p.callback_path, "/callback");
        let source = |f| {
            sources
                .iter()
                .find(|(k, _)| *k == f)
                .map(|(_, s)| s.to_string())
        };
        assert_eq!(source("client_id").as_deref(), Some("/cfg/profiles.toml:5"));
        assert_eq!(source("redirect_port").as_deref(), Some("default"));
    }

    #[test]
    fn issuer_is_kept_exactly_as_written() {
        let file = parse(TWO).unwrap();
        let (p, _) = file.resolve("local", &FlagOverrides::default()).unwrap();
        assert_eq!(p.issuer.to_string(), "http://127.0.0.1:3000");
        assert_eq!(p.kind, ProviderKind::Discovery);
        assert_eq!(p.redirect_port, 0);
    }

    #[test]
    fn flags_beat_the_file() {
        let file = parse(TWO).unwrap();
        let flags = FlagOverrides {
            audience: Some("https://flag/".into()),
            scopes: Some(vec!["openid".into()]),
        };
        let (p, sources) = file.resolve("dev", &flags).unwrap();
        assert_eq!(p.audience.as_deref(), Some("https://flag/"));
        assert_eq!(p.scopes, ["openid"]);
        assert!(sources.contains(&("audience", Source::Flag("--audience"))));
    }

    #[test]
    fn selection_order_without_environment() {
        let file = parse(TWO).unwrap();
        assert_eq!(file.select(Some("local")).unwrap().0, "local");
        assert_eq!(file.select(None).unwrap().0, "dev");
        let only = parse("[profiles.solo]\nissuer = \"https://x/\"\nclient_id = \"c\"\n").unwrap();
        assert_eq!(only.select(None).unwrap().0, "solo");
        let two = parse("[profiles.a]\n[profiles.b]\n").unwrap();
        let msg = message(two.select(None));
        assert!(
            msg.contains("several: a, b") && msg.contains("--profile"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_profile_lists_the_known_ones() {
        let file = parse(TWO).unwrap();
        let msg = message(file.select(Some("loca")));
        assert!(msg.contains("unknown profile `loca`"), "{msg}");
        assert!(msg.contains("known profiles: dev, local"), "{msg}");
        assert!(msg.contains("did you mean `local`?"), "{msg}");
    }

    #[test]
    fn malformed_toml_names_file_line_and_column() {
        let msg = message(parse(
            "default_profile = \"dev\"\n[profiles.dev]\nclient_id = \"abc\n",
        ));
        assert!(msg.starts_with("/cfg/profiles.toml:3:"), "{msg}");
        assert!(msg.contains("invalid TOML"), "{msg}");
    }

    #[test]
    fn keys_in_messages_keep_control_characters_escaped() {
        // Found by fuzzing: toml_edit's "duplicate key" message quotes the key as it is.
        let msg = message(parse(
            "[profiles.p]\n\"a\\u001b[2J\" = 1\n\"a\\u001b[2J\" = 2\n",
        ));
        assert!(msg.contains(r"a\u{1b}[2J"), "{msg}");
        let msg = message(parse("[profiles.p]\n\"a\\u001b[2J\" = 1\n"));
        assert!(
            msg.contains(r"unknown key in profile `p` `a\u{1b}[2J`"),
            "{msg}"
        );
        for msg in [
            msg,
            message(
                parse("default_profile = \"\\u0007\"\n[profiles.a]\n[profiles.b]\n")
                    .and_then(|f| f.select(None)),
            ),
        ] {
            assert!(!msg.chars().any(char::is_control), "{msg:?}");
        }
    }

    #[test]
    fn unknown_key_suggests_the_nearest() {
        let msg = message(parse(
            "[profiles.dev]\ndomain = \"x.auth0.com\"\nclientid = \"abc\"\n",
        ));
        assert!(
            msg.starts_with("/cfg/profiles.toml:3:1: unknown key in profile `dev` `clientid`"),
            "{msg}"
        );
        assert!(msg.contains("did you mean `client_id`?"), "{msg}");
        let msg = message(parse("default_profil = \"dev\"\n"));
        assert!(
            msg.contains("1:1") && msg.contains("did you mean `default_profile`?"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_type_names_key_place_and_expected_type() {
        let file = parse(
            "[profiles.dev]\ndomain = \"x.auth0.com\"\nclient_id = \"c\"\nredirect_port = \"80\"\n",
        )
        .unwrap();
        let msg = message(file.resolve("dev", &FlagOverrides::default()));
        assert!(msg.contains("/cfg/profiles.toml:4"), "{msg}");
        assert!(msg.contains("`redirect_port`"), "{msg}");
        assert!(
            msg.contains("expected i64") && msg.contains("string"),
            "{msg}"
        );
        let msg = message(parse("[profiles.dev.authorize_params]\nmax_age = 5\n"));
        assert!(
            msg.contains(":2:1:") && msg.contains("`authorize_params.max_age` must be a string"),
            "{msg}"
        );
    }

    #[test]
    fn domain_and_issuer_exactly_one() {
        let both = parse(
            "[profiles.p]\ndomain = \"a.auth0.com\"\nissuer = \"https://b/\"\nclient_id = \"c\"\n",
        )
        .unwrap();
        let msg = message(both.resolve("p", &FlagOverrides::default()));
        assert!(
            msg.contains("sets both `domain`") && msg.contains("/cfg/profiles.toml:2"),
            "{msg}"
        );
        let neither = parse("[profiles.p]\nclient_id = \"c\"\n").unwrap();
        let msg = message(neither.resolve("p", &FlagOverrides::default()));
        assert!(msg.contains("neither `domain` nor `issuer`"), "{msg}");
    }

    #[test]
    fn missing_client_id_says_so() {
        let file = parse("[profiles.p]\ndomain = \"a.auth0.com\"\n").unwrap();
        let msg = message(file.resolve("p", &FlagOverrides::default()));
        assert!(
            msg.contains("has no `client_id`") && msg.contains("LATCHKEY_CLIENT_ID"),
            "{msg}"
        );
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:3000",
            "http://localhost:8080/",
            "http://[::1]/",
            "https://idp.example.com/",
        ] {
            assert!(parse_endpoint(ok).is_ok(), "{ok}");
        }
        let file = parse("[profiles.p]\nissuer = \"http://idp.example.com\"\nclient_id = \"c\"\n")
            .unwrap();
        let msg = message(file.resolve("p", &FlagOverrides::default()));
        assert!(msg.contains("plain http on a non-loopback host"), "{msg}");
        assert!(msg.contains("/cfg/profiles.toml:2"), "{msg}");
        let file =
            parse("[profiles.p]\ndomain = \"http://x.auth0.com\"\nclient_id = \"c\"\n").unwrap();
        assert!(message(file.resolve("p", &FlagOverrides::default())).contains("uses http"));
    }

    #[test]
    fn ports_paths_and_formats_are_checked() {
        let with = |extra: &str| {
            let file = parse(&format!(
                "[profiles.p]\ndomain = \"a.auth0.com\"\nclient_id = \"c\"\n{extra}\n"
            ))
            .unwrap();
            message(file.resolve("p", &FlagOverrides::default()))
        };
        assert!(with("redirect_port = 70000").contains("70000 is not a port"));
        assert!(with("redirect_port = -1").contains("is not a port"));
        assert!(with("callback_path = \"cb\"").contains("must be a path starting with `/`"));
        // Found by fuzzing: control characters (and what a browser would percent-encode) in the
        // path could never match a request.
        for path in ["/c\\r\\nb", "/c\\bb", "/r\u{fc}ckruf", "/a b"] {
            let msg = with(&format!("callback_path = \"{path}\""));
            assert!(msg.contains("in printable ASCII"), "{msg}");
        }
        assert!(with("token_request_format = \"xml\"").contains("not one of"));
        assert!(with("scopes = []").contains("at least one scope"));
        assert!(
            with("[profiles.p.authorize_params]\nstate = \"x\"").contains("set by latchkey itself")
        );
    }

    #[test]
    fn profile_names_must_be_file_names() {
        let msg = message(parse("[profiles.\"../evil\"]\n"));
        assert!(msg.contains("may use only letters"), "{msg}");
    }

    #[test]
    fn nearest_finds_typos_only() {
        assert_eq!(
            nearest("clientid", PROFILE_FIELDS.iter().copied()),
            Some("client_id")
        );
        assert_eq!(
            nearest("audiance", PROFILE_FIELDS.iter().copied()),
            Some("audience")
        );
        assert_eq!(nearest("zzzzzz", PROFILE_FIELDS.iter().copied()), None);
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("", 5), (1, 1));
    }
}
