//! The profiles file: read once, checked key by key with each key's position kept (toml_edit),
//! so every mistake names file, line and column; then which profile a command uses.

use crate::base::error::{Error, Result};
use crate::base::text::escape_controls;
use crate::config::paths::ConfigOrigin;
use crate::config::settings::Source;
use crate::config::suggest::{nearest, unknown_key_message};
use crate::config::{PROFILE_FIELDS, TOP_LEVEL_KEYS};
use figment::value::{Dict, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The profiles file, parsed, with the position of every key for messages.
#[derive(Debug)]
pub struct ProfilesFile {
    pub path: PathBuf,
    pub origin: ConfigOrigin,
    pub default_profile: Option<String>,
    pub(super) profiles: BTreeMap<String, Dict>,
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
                    ConfigOrigin::Default => "create it with `latchkey profiles add NAME --domain TENANT.auth0.com --client-id ID` \
                         (or --issuer URL for any OpenID provider), or pass --config FILE"
                        .to_owned(),
                    _ => format!(
                        "check the path, or create it with `latchkey --config {} profiles add NAME (--domain D | --issuer URL) --client-id ID`",
                        path.display()
                    ),
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
        let locate = Locator { path, text: &text };
        // toml_edit keeps the position of every key, and gives the plain values figment layers.
        let document = toml_edit::ImDocument::parse(text.as_str()).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            // The parser's message may run over several lines; an error is one line. It can also
            // quote a key, which may hold any character: control characters stay escaped.
            let message = escape_controls(&e.message().trim_end().replace('\n', "; "));
            locate
                .at(offset, format!("invalid TOML: {message}"))
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
                        return Err(locate.at(
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
                        return Err(locate.at(
                            key_offset,
                            format!("`profiles` must be a table, found {}", item.type_name()),
                        ));
                    };
                    check_profiles(profiles, key_offset, &locate, &mut spans)?;
                }
                unknown => {
                    return Err(locate
                        .at(
                            key_offset,
                            unknown_key_message("top-level key", unknown, TOP_LEVEL_KEYS),
                        )
                        .hint("the file holds `default_profile` and [profiles.NAME] tables"));
                }
            }
        }
        let profiles = plain_profiles(top);
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

    /// A string value of a profile as written in the file (not validated), for listings.
    pub fn profile_string(&self, name: &str, key: &str) -> Option<&str> {
        self.profiles.get(name)?.get(key)?.as_str()
    }

    pub(super) fn line_of(&self, key_path: &str) -> Option<usize> {
        self.spans
            .0
            .get(key_path)
            .map(|&offset| line_column(&self.text, offset).0)
    }

    /// Picks the profile: `--profile` > `LATCHKEY_PROFILE` > `default_profile` > the only one.
    pub fn select(&self, flag: Option<&str>) -> Result<(String, Source)> {
        self.select_by(flag, Source::Flag("--profile"))
    }

    /// Like [`ProfilesFile::select`], with `given` as the source of a name given on the command
    /// line (`profiles show NAME` names it as an argument, not as `--profile`).
    pub fn select_by(&self, flag: Option<&str>, given: Source) -> Result<(String, Source)> {
        let env = std::env::var("LATCHKEY_PROFILE")
            .ok()
            .filter(|v| !v.is_empty());
        let (name, source) = if let Some(name) = flag {
            (name.to_owned(), given)
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
                .hint("add one with `latchkey profiles add NAME (--domain D | --issuer URL) --client-id ID`, or write a [profiles.NAME] table as profiles.example.toml shows"));
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
                err = err.hint(format!(
                    "add it with `latchkey profiles add {name} (--domain D | --issuer URL) --client-id ID`, or as [profiles.{name}] in {}",
                    self.path.display()
                ));
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
}

/// Turns a byte offset in the file into "FILE:LINE:COLUMN: message" errors.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    /// Every mistake gets a hint; the common ones replace this general one with their own.
    fn at(&self, offset: usize, message: String) -> Error {
        let (line, column) = line_column(self.text, offset);
        Error::config(format!(
            "{}:{line}:{column}: {message}",
            self.path.display()
        ))
        .hint("fix it there; profiles.example.toml shows the expected shape of each key")
    }
}

/// Checks each `[profiles.NAME]` table: a usable name, a table, known keys, string-valued
/// `authorize_params`; records where every key is for later messages.
fn check_profiles(
    profiles: &dyn toml_edit::TableLike,
    key_offset: usize,
    locate: &Locator<'_>,
    spans: &mut KeySpans,
) -> Result<()> {
    let offset_of = |table: &dyn toml_edit::TableLike, key: &str, fallback: usize| {
        table
            .get_key_value(key)
            .and_then(|(k, _)| k.span())
            .map(|s| s.start)
            .unwrap_or(fallback)
    };
    for (name, profile) in profiles.iter() {
        let offset = offset_of(profiles, name, key_offset);
        spans.0.insert(format!("profiles.{name}"), offset);
        check_profile_name(name).map_err(|m| locate.at(offset, m))?;
        let Some(fields) = profile.as_table_like() else {
            return Err(locate.at(
                offset,
                format!(
                    "profile `{name}` must be a table ([profiles.{name}]), found {}",
                    profile.type_name()
                ),
            ));
        };
        for (field, value) in fields.iter() {
            let field_offset = offset_of(fields, field, offset);
            spans
                .0
                .insert(format!("profiles.{name}.{field}"), field_offset);
            if !PROFILE_FIELDS.contains(&field) {
                return Err(locate
                    .at(
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
                    .map_err(|(at, m)| locate.at(at.unwrap_or(field_offset), m))?;
            }
        }
    }
    Ok(())
}

/// The profiles' plain values, as figment layers them: taken from the one parse that also kept
/// every key's position, so the file is parsed once.
fn plain_profiles(top: &toml_edit::Table) -> BTreeMap<String, Dict> {
    let Some(profiles) = top.get("profiles").and_then(toml_edit::Item::as_table_like) else {
        return BTreeMap::new();
    };
    profiles
        .iter()
        .filter_map(|(name, item)| {
            let fields = item.as_table_like()?;
            Some((name.to_owned(), dict_of(fields.iter())))
        })
        .collect()
}

fn dict_of<'a>(entries: impl Iterator<Item = (&'a str, &'a toml_edit::Item)>) -> Dict {
    entries
        .filter_map(|(key, item)| Some((key.to_owned(), item_value(item)?)))
        .collect()
}

fn item_value(item: &toml_edit::Item) -> Option<Value> {
    match item {
        toml_edit::Item::None => None,
        toml_edit::Item::Value(value) => Some(plain_value(value)),
        toml_edit::Item::Table(table) => Some(Value::from(dict_of(table.iter()))),
        toml_edit::Item::ArrayOfTables(tables) => Some(Value::from(
            tables
                .iter()
                .map(|table| Value::from(dict_of(table.iter())))
                .collect::<Vec<_>>(),
        )),
    }
}

pub(crate) fn plain_value(value: &toml_edit::Value) -> Value {
    use toml_edit::Value as V;
    match value {
        V::String(s) => Value::from(s.value().clone()),
        V::Integer(i) => Value::from(*i.value()),
        V::Float(f) => Value::from(*f.value()),
        V::Boolean(b) => Value::from(*b.value()),
        V::Datetime(d) => Value::from(d.value().to_string()),
        V::Array(array) => Value::from(array.iter().map(plain_value).collect::<Vec<_>>()),
        V::InlineTable(table) => Value::from(
            table
                .iter()
                .map(|(key, value)| (key.to_owned(), plain_value(value)))
                .collect::<Dict>(),
        ),
    }
}

/// A profile name becomes a file name (`tokens/NAME.age`), so it is kept to a safe alphabet.
pub(super) fn check_profile_name(name: &str) -> Result<(), String> {
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

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
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
