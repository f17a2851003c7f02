//! Changing the profiles file from the command line (`profiles add`, `use`, `remove`) with
//! toml_edit, so the user's comments, order and layout survive; every change is checked exactly
//! as loading checks the file, and written atomically.

use crate::base::error::{Error, Result};
use crate::config::paths::ConfigOrigin;
use crate::config::{FlagOverrides, ProfilesFile, Source};
use std::path::Path;
use toml_edit::{DocumentMut, Item, Table, value};

/// A profile as `profiles add` writes it: the keys given, in this order.
#[derive(Debug, Clone, Default)]
pub struct NewProfile {
    pub domain: Option<String>,
    pub issuer: Option<String>,
    pub client_id: String,
    pub audience: Option<String>,
    pub scopes: Vec<String>,
    pub redirect_port: Option<u16>,
}

/// The file's text, or an empty file when there is none yet.
fn read(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(
            Error::config(format!("cannot read profiles file {}: {e}", path.display()))
                .hint("point --config or LATCHKEY_CONFIG at a readable UTF-8 TOML file"),
        ),
    }
}

/// Parses the file for editing; the file must already load (a broken file is fixed by hand,
/// where its error points, before latchkey edits it).
fn document(path: &Path, origin: ConfigOrigin, text: &str) -> Result<DocumentMut> {
    if !text.trim().is_empty() {
        ProfilesFile::parse(path, origin, text.to_owned())?;
    }
    text.parse::<DocumentMut>().map_err(|e| {
        Error::config(format!("{}: invalid TOML: {e}", path.display()))
            .hint("fix the file by hand first")
    })
}

/// The `[profiles]` table, made (implicit, so no bare `[profiles]` header is written) if needed.
fn profiles_table(doc: &mut DocumentMut) -> Result<&mut Table> {
    if !doc.contains_key("profiles") {
        let mut table = Table::new();
        table.set_implicit(true);
        doc.insert("profiles", Item::Table(table));
    }
    doc["profiles"]
        .as_table_mut()
        .ok_or_else(|| Error::config("`profiles` in the profiles file is not a table"))
}

/// Checks the edited text as loading would (and resolves `check`, a profile that must now
/// validate), then replaces the file atomically, keeping its permissions.
fn check_and_write(
    path: &Path,
    origin: ConfigOrigin,
    doc: &DocumentMut,
    check: Option<&str>,
) -> Result<()> {
    let text = doc.to_string();
    let file = ProfilesFile::parse(path, origin, text.clone())?;
    if let Some(name) = check {
        file.resolve_profile(name, &FlagOverrides::default())?;
    }
    write(path, text.as_bytes())
}

/// Temp file in the same directory, fsync, rename: the file is never seen half-written. A
/// profiles file that is a symlink is written through, and keeps its permissions
/// (`base::files::replace_keeping_mode`).
fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::config(format!(
            "cannot write the profiles file {}: {e}",
            path.display()
        ))
    };
    let resolved = std::fs::canonicalize(path).ok();
    let dir = match resolved.as_deref().unwrap_or(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    crate::base::files::replace_keeping_mode(path, bytes, None).map_err(fail)
}

/// Adds `[profiles.NAME]` (replacing one of that name only with `force`), optionally as the
/// default; creates the file and its directory when missing.
pub fn add_profile(
    path: &Path,
    origin: ConfigOrigin,
    name: &str,
    profile: &NewProfile,
    make_default: bool,
    force: bool,
) -> Result<()> {
    let text = read(path)?;
    let mut doc = document(path, origin, &text)?;
    let profiles = profiles_table(&mut doc)?;
    if profiles.contains_key(name) && !force {
        return Err(Error::config(format!(
            "profile `{name}` already exists in {}",
            path.display()
        ))
        .hint("pick another name, or add --force to replace it"));
    }
    let mut table = Table::new();
    for (key, item) in [
        ("domain", profile.domain.as_deref().map(value)),
        ("issuer", profile.issuer.as_deref().map(value)),
        ("client_id", Some(value(profile.client_id.as_str()))),
        ("audience", profile.audience.as_deref().map(value)),
        ("scopes", scopes_value(&profile.scopes)),
        (
            "redirect_port",
            profile.redirect_port.map(|p| value(i64::from(p))),
        ),
    ] {
        if let Some(item) = item {
            table.insert(key, item);
        }
    }
    profiles.insert(name, Item::Table(table));
    if make_default {
        set_default(&mut doc, name);
    }
    check_and_write(path, origin, &doc, Some(name))
}

fn scopes_value(scopes: &[String]) -> Option<Item> {
    if scopes.is_empty() {
        return None;
    }
    let mut array = toml_edit::Array::new();
    for scope in scopes {
        array.push(scope.as_str());
    }
    Some(value(array))
}

/// `default_profile = "NAME"`, in place when the key exists, else before the first table.
fn set_default(doc: &mut DocumentMut, name: &str) {
    match doc.get_mut("default_profile").and_then(Item::as_value_mut) {
        Some(existing) => {
            // Keep the comment and spacing around the old value.
            let decor = existing.decor().clone();
            *existing = toml_edit::Value::from(name);
            *existing.decor_mut() = decor;
        }
        None => {
            doc.insert("default_profile", value(name));
        }
    }
}

/// Sets `default_profile`; the profile must be in the file.
pub fn use_profile(path: &Path, origin: ConfigOrigin, name: &str) -> Result<()> {
    let text = read(path)?;
    let file = load_existing(path, origin, &text)?;
    file.select_by(Some(name), Source::Flag("the NAME argument"))?;
    let mut doc = document(path, origin, &text)?;
    set_default(&mut doc, name);
    check_and_write(path, origin, &doc, None)
}

/// Removes `[profiles.NAME]`, and `default_profile` when it named it; says whether it did that.
pub fn remove_profile(path: &Path, origin: ConfigOrigin, name: &str) -> Result<bool> {
    let text = read(path)?;
    let file = load_existing(path, origin, &text)?;
    file.select_by(Some(name), Source::Flag("the NAME argument"))?;
    let mut doc = document(path, origin, &text)?;
    remove_keeping_comments_above(&mut doc, name)?;
    let was_default = doc.get("default_profile").and_then(Item::as_str) == Some(name);
    if was_default {
        doc.remove("default_profile");
    }
    check_and_write(path, origin, &doc, None)?;
    Ok(was_default)
}

/// Removes one profile table. toml_edit files the comment lines above a table header under
/// that table; those separated from the header by a blank line belong to what came before
/// (a note after the previous profile's keys), so they are kept, moved above the next table or
/// to the end of the file.
fn remove_keeping_comments_above(doc: &mut DocumentMut, name: &str) -> Result<()> {
    let profiles = profiles_table(doc)?;
    let Some(removed) = profiles.remove(name) else {
        return Ok(());
    };
    let Some(removed) = removed.as_table() else {
        return Ok(());
    };
    let prefix = removed
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("");
    // A blank line, in LF or CRLF files.
    let kept = match prefix.replace("\r\n", "\n").rfind("\n\n") {
        Some(at) => prefix.replace("\r\n", "\n")[..at + 1].to_owned(),
        None => String::new(),
    };
    if kept.trim().is_empty() {
        return Ok(());
    }
    let position = removed.position();
    let next = profiles
        .iter_mut()
        .filter_map(|(_, item)| item.as_table_mut())
        .filter(|table| table.position() > position)
        .min_by_key(|table| table.position());
    match next {
        Some(next) => {
            let old = next
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .to_owned();
            next.decor_mut().set_prefix(format!("{kept}\n{old}"));
        }
        None => {
            let old = doc.trailing().as_str().unwrap_or("").to_owned();
            doc.set_trailing(format!("{kept}{old}"));
        }
    }
    Ok(())
}

/// The file, which `use` and `remove` need to exist.
fn load_existing(path: &Path, origin: ConfigOrigin, text: &str) -> Result<ProfilesFile> {
    if text.is_empty() && !path.exists() {
        return ProfilesFile::load(path, origin);
    }
    ProfilesFile::parse(path, origin, text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMENTED: &str = r#"# my profiles — keep this comment
default_profile = "dev"   # the one I use most

[profiles.dev]   # development tenant
domain = "dev-abc.us.auth0.com"
client_id = "abc"
# scopes left at the defaults

[profiles.prod]
issuer = "https://login.example.com"
client_id = "xyz"
"#;

    fn new_profile() -> NewProfile {
        NewProfile {
            issuer: Some("https://id.example.org".into()),
            client_id: "cli".into(),
            scopes: vec!["openid".into(), "offline_access".into()],
            redirect_port: Some(9000),
            ..NewProfile::default()
        }
    }

    #[test]
    fn add_use_and_remove_keep_comments_and_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, COMMENTED).unwrap();
        add_profile(
            &path,
            ConfigOrigin::Flag,
            "stage",
            &new_profile(),
            false,
            false,
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(COMMENTED), "{text}");
        assert!(text.ends_with(
            "\n[profiles.stage]\nissuer = \"https://id.example.org\"\nclient_id = \"cli\"\nscopes = [\"openid\", \"offline_access\"]\nredirect_port = 9000\n"
        ), "{text}");

        use_profile(&path, ConfigOrigin::Flag, "prod").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("default_profile = \"prod\"   # the one I use most"),
            "{text}"
        );
        assert!(text.contains("[profiles.dev]   # development tenant"));

        assert!(remove_profile(&path, ConfigOrigin::Flag, "prod").unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("prod") && !text.contains("default_profile"),
            "{text}"
        );
        assert!(text.contains("# scopes left at the defaults"));
        assert!(!remove_profile(&path, ConfigOrigin::Flag, "stage").unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_written_through_and_crlf_comments_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dotfiles-profiles.toml");
        std::fs::write(&target, COMMENTED.replace('\n', "\r\n")).unwrap();
        let link = dir.path().join("profiles.toml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        add_profile(
            &link,
            ConfigOrigin::Flag,
            "stage",
            &new_profile(),
            false,
            false,
        )
        .unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(!remove_profile(&link, ConfigOrigin::Flag, "prod").unwrap());
        let text = std::fs::read_to_string(&target).unwrap();
        assert!(text.contains("[profiles.stage]") && !text.contains("[profiles.prod]"));
        assert!(text.contains("# scopes left at the defaults"), "{text}");
    }

    #[test]
    fn add_creates_the_file_and_refuses_a_duplicate_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/dir/profiles.toml");
        add_profile(
            &path,
            ConfigOrigin::Flag,
            "dev",
            &new_profile(),
            true,
            false,
        )
        .unwrap();
        let file = ProfilesFile::load(&path, ConfigOrigin::Flag).unwrap();
        assert_eq!(file.default_profile.as_deref(), Some("dev"));
        let err = add_profile(
            &path,
            ConfigOrigin::Flag,
            "dev",
            &new_profile(),
            false,
            false,
        )
        .unwrap_err();
        assert!(
            err.message().contains("already exists"),
            "{}",
            err.message()
        );
        let mut changed = new_profile();
        changed.client_id = "other".into();
        add_profile(&path, ConfigOrigin::Flag, "dev", &changed, false, true).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("client_id = \"other\"")
        );
    }

    #[test]
    fn add_validates_as_loading_does_and_writes_nothing_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, COMMENTED).unwrap();
        let mut plain_http = new_profile();
        plain_http.issuer = Some("http://id.example.org".into());
        let err =
            add_profile(&path, ConfigOrigin::Flag, "bad", &plain_http, false, false).unwrap_err();
        assert!(err.message().contains("plain http"), "{}", err.message());
        let err = add_profile(
            &path,
            ConfigOrigin::Flag,
            "a b",
            &new_profile(),
            false,
            false,
        )
        .unwrap_err();
        assert!(
            err.message().contains("may use only letters"),
            "{}",
            err.message()
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), COMMENTED);
    }

    #[test]
    fn use_and_remove_name_the_known_profiles_when_the_name_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, COMMENTED).unwrap();
        let err = use_profile(&path, ConfigOrigin::Flag, "prdo").unwrap_err();
        assert!(
            err.message().contains("known profiles: dev, prod"),
            "{}",
            err.message()
        );
        assert_eq!(err.hint_text(), Some("did you mean `prod`?"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), COMMENTED);
    }
}
