//! `latchkey profiles` and `latchkey profiles show`: what is configured and where each value
//! came from.

mod edit;

use super::{Globals, print_stdout};
use crate::base::error::Result;
use crate::base::text::{json_pretty, shown_whole};
use crate::cli::{ProfilesArgs, ProfilesCommand};
use crate::config::{Profile, ProfileSettings, ProfilesFile, Source};
use serde_json::json;
use std::fmt::Write as _;

pub fn run(globals: &Globals, args: ProfilesArgs) -> Result<()> {
    if args.names {
        names(globals);
        return Ok(());
    }
    match args.command {
        Some(ProfilesCommand::Add(add)) => return edit::add(globals, add),
        Some(ProfilesCommand::Use(chosen)) => return edit::use_default(globals, &chosen.name),
        Some(ProfilesCommand::Remove(remove)) => return edit::remove(globals, remove),
        _ => {}
    }
    let file = globals.load_profiles()?;
    match args.command {
        Some(ProfilesCommand::Add(_) | ProfilesCommand::Use(_) | ProfilesCommand::Remove(_)) => {
            Ok(())
        }
        None => list(
            &file,
            globals.profile_name(args.profile.as_deref()),
            args.json,
        ),
        Some(ProfilesCommand::Show(show)) => {
            // A positional NAME is named as such in messages, not as `--profile`.
            let (name, selected_by) = match show.name.as_deref() {
                Some(name) => file.select_by(Some(name), Source::Flag("the NAME argument"))?,
                None => file.select(
                    show.profile
                        .as_deref()
                        .or(globals.profile_name(args.profile.as_deref())),
                )?,
            };
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
                let field = |key: &str| file.profile_string(name, key);
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
        return print_stdout(&format!("{}\n", json_pretty(&doc)));
    }
    let mut out = String::new();
    let width = file.profile_names().map(str::len).max().unwrap_or(0);
    for name in file.profile_names() {
        let field = |key: &str| file.profile_string(name, key);
        // Values from the file, not yet validated: shown as outside text.
        let target = match (field("domain"), field("issuer")) {
            (Some(domain), _) => format!("{} (Auth0)", shown_whole(domain)),
            (None, Some(issuer)) => shown_whole(issuer),
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
        out = format!(
            "no profiles in {}\n",
            shown_whole(&file.path.display().to_string())
        );
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
    let _ = writeln!(
        out,
        "profile {} (selected by {})",
        profile.name,
        shown_whole(&selected_by.to_string())
    );
    let _ = writeln!(
        out,
        "file    {}",
        shown_whole(&file.path.display().to_string())
    );
    let width = settings.rows.iter().map(|r| r.key.len()).max().unwrap_or(0);
    for row in &settings.rows {
        let value = row.display.as_deref().unwrap_or("(not set)");
        let source = shown_whole(&row.source.to_string());
        let _ = writeln!(out, "  {:<width$}  {value}  [{source}]", row.key);
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
    print_stdout(&format!("{}\n", json_pretty(&doc)))
}
