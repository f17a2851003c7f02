//! `latchkey profiles add`, `use` and `remove`: the profiles file changed from the command line
//! (see `config::edit`), and one line saying what changed.

use crate::base::error::{Error, Result};
use crate::base::text::shown_whole;
use crate::cli::{ProfilesAddArgs, ProfilesRemoveArgs};
use crate::commands::Globals;
use crate::config::edit::{self, NewProfile};
use crate::config::paths;

pub fn add(globals: &Globals, args: ProfilesAddArgs) -> Result<()> {
    let (path, origin) = paths::config_file(globals.config.as_deref())?;
    if args.domain.is_some() == args.issuer.is_some() {
        return Err(Error::usage(
            "give exactly one of --domain (an Auth0 tenant) and --issuer (any OpenID provider)",
        )
        .hint("see `latchkey profiles add --help`"));
    }
    let Some(client_id) = args.client_id.filter(|c| !c.trim().is_empty()) else {
        return Err(Error::usage("--client-id is required")
            .hint("the application's Client ID, from the provider's settings for it"));
    };
    let profile = NewProfile {
        domain: args.domain,
        issuer: args.issuer,
        client_id,
        audience: args.audience,
        scopes: args
            .scope
            .iter()
            .flat_map(|s| s.split_whitespace())
            .map(str::to_owned)
            .collect(),
        redirect_port: args.redirect_port,
    };
    edit::add_profile(
        &path,
        origin,
        &args.name,
        &profile,
        args.default,
        args.force,
    )?;
    eprintln!(
        "Added profile `{}` to {}{}; log in with `latchkey{} login -p {}`.",
        args.name,
        shown_whole(&path.display().to_string()),
        if args.default { " as the default" } else { "" },
        config_flag(globals),
        args.name
    );
    Ok(())
}

pub fn use_default(globals: &Globals, name: &str) -> Result<()> {
    let (path, origin) = paths::config_file(globals.config.as_deref())?;
    edit::use_profile(&path, origin, name)?;
    eprintln!(
        "Profile `{name}` is now the default in {}.",
        shown_whole(&path.display().to_string())
    );
    Ok(())
}

pub fn remove(globals: &Globals, args: ProfilesRemoveArgs) -> Result<()> {
    let (path, origin) = paths::config_file(globals.config.as_deref())?;
    if args.logout {
        // Revoke and delete while the profile still says where its provider is.
        let logout = crate::cli::LogoutArgs {
            profile: Some(args.name.clone()),
            all: false,
            local: false,
            browser: false,
        };
        crate::commands::logout::run(globals, logout)?;
    }
    let was_default = edit::remove_profile(&path, origin, &args.name)?;
    eprintln!(
        "Removed profile `{}` from {}{}{}.",
        args.name,
        shown_whole(&path.display().to_string()),
        if was_default {
            ", and default_profile with it"
        } else {
            ""
        },
        if args.logout || !crate::store::TokenStore::open()?.exists(&args.name) {
            ""
        } else {
            "; its stored tokens are kept (`latchkey logout` before removing deletes them)"
        }
    );
    Ok(())
}

/// ` --config FILE` when the profiles file was named on the command line, for the commands a
/// message suggests.
fn config_flag(globals: &Globals) -> String {
    match &globals.config {
        Some(path) => format!(" --config {}", shown_whole(&path.display().to_string())),
        None => String::new(),
    }
}
