//! `latchkey profiles` and `latchkey profiles show`: what is configured and where each value
//! came from.

use super::{Globals, print_stdout};
use crate::base::error::Result;
use crate::cli::{ProfilesArgs, ProfilesCommand};
use crate::config::{Profile, ProfileSettings, ProfilesFile, Source};
use serde_json::json;
use std::fmt::Write as _;

pub fn run(globals: &Globals, args: ProfilesArgs) -> Result<()> {
    if args.names {
        names(globals);
        return Ok(());
    }
    let file = globals.load_profiles()?;
    match args.command {
        None => list(
            &file,
            globals.profile_name(args.profile.as_deref()),
            args.json,
        ),
        Some(ProfilesCommand::Show(show)) => {
            let name = show
                .name
                .as_deref()
                .or(show.profile.as_deref())
                .or(globals.profile_name(args.profile.as_deref()));
            let (name, selected_by) = file.select(name)?;
            let (profile, sources) = file.resolve(&name, &Default::default())?;
            let settings = ProfileSettings::new(&profile, sources);
            if show.json || args.json {
                show_json(&file, &profile, &selected_by, &settings)
            } else {
                show_text(&file, &profile, &selected_by, &settings)
            }
        }
    }
}

/// `profiles --names`, for the shell completions: one name a line. A completion must never
/// print an error into the user's command line, so a missing or broken profiles file (or a
/// closed pipe) prints nothing and still succeeds.
fn names(globals: &Globals) {
    let Ok(file) = globals.load_profiles() else {
        return;
    };
    let names: String = file
        .profile_names()
        .map(|name| format!("{name}\n"))
        .collect();
    let _ = print_stdout(&names);
}

fn list(file: &ProfilesFile, flag: Option<&str>, json: bool) -> Result<()> {
    // The one a command would use without --profile; an unknown or ambiguous choice marks none.
    let selected = file.select(flag).ok().map(|(name, _)| name);
    if json {
        let profiles: Vec<_> = file
            .profile_names()
            .map(|name| {
                let table = file.profile_table(name);
                let field = |key: &str| table.and_then(|t| t.get(key)).and_then(|v| v.as_str());
                json!({
                    "name": name,
                    "selected": selected.as_deref() == Some(name),
                    "default": file.default_profile.as_deref() == Some(name),
                    "domain": field("domain"),
                    "issuer": field("issuer"),
                    "client_id": field("client_id"),
                })
            })
            .collect();
        let doc = json!({
            "config": file.path,
            "default_profile": file.default_profile,
            "selected": selected,
            "profiles": profiles,
        });
        return print_stdout(&format!("{doc:#}\n"));
    }
    let mut out = String::new();
    let width = file.profile_names().map(str::len).max().unwrap_or(0);
    for name in file.profile_names() {
        let table = file.profile_table(name);
        let field = |key: &str| table.and_then(|t| t.get(key)).and_then(|v| v.as_str());
        let target = match (field("domain"), field("issuer")) {
            (Some(domain), _) => format!("{domain} (Auth0)"),
            (None, Some(issuer)) => issuer.to_owned(),
            (None, None) => "(no domain or issuer)".to_owned(),
        };
        let mark = if selected.as_deref() == Some(name) {
            "*"
        } else {
            " "
        };
        let default = if file.default_profile.as_deref() == Some(name) {
            "  [default]"
        } else {
            ""
        };
        let _ = writeln!(out, "{mark} {name:<width$}  {target}{default}");
    }
    if out.is_empty() {
        out = format!("no profiles in {}\n", file.path.display());
    }
    print_stdout(&out)
}

fn show_text(
    file: &ProfilesFile,
    profile: &Profile,
    selected_by: &Source,
    settings: &ProfileSettings,
) -> Result<()> {
    let mut out = String::new();
    let _ = writeln!(out, "profile {}  (selected by {selected_by})", profile.name);
    let _ = writeln!(out, "file    {}", file.path.display());
    let width = settings.rows.iter().map(|r| r.key.len()).max().unwrap_or(0);
    for row in &settings.rows {
        let value = row.display.as_deref().unwrap_or("(not set)");
        let _ = writeln!(out, "  {:<width$}  {value}  [{}]", row.key, row.source);
    }
    print_stdout(&out)
}

fn show_json(
    file: &ProfilesFile,
    profile: &Profile,
    selected_by: &Source,
    settings: &ProfileSettings,
) -> Result<()> {
    let mut map = serde_json::Map::new();
    for row in &settings.rows {
        map.insert(
            row.key.to_owned(),
            json!({ "value": row.json, "source": row.source.to_string() }),
        );
    }
    let doc = json!({
        "profile": profile.name,
        "selected_by": selected_by.to_string(),
        "config": file.path,
        "settings": map,
    });
    print_stdout(&format!("{doc:#}\n"))
}
