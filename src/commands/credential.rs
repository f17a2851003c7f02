//! What the git and docker credential helpers share: the profile whose `hosts` names the server
//! being asked about, and its token, never with a prompt.

use super::Globals;
use super::token::{Obtained, Relogin, Want, obtain};
use crate::base::error::{Error, Result};
use crate::config::Profile;
use crate::config::hosts::{HostEntry, RequestHost};

/// Most a helper reads from git or docker: their requests are a few short lines.
pub const MAX_REQUEST: u64 = 64 * 1024;

/// Reads a helper's request from stdin, bounded.
pub fn read_request() -> Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_REQUEST + 1)
        .read_to_string(&mut text)
        .map_err(|e| Error::usage(format!("cannot read the request on stdin: {e}")))?;
    if text.len() as u64 > MAX_REQUEST {
        return Err(Error::usage(format!(
            "the request on stdin is longer than {MAX_REQUEST} bytes; git and docker send a few lines"
        )));
    }
    Ok(text)
}

/// The profile that serves `host`: with `-p`, that profile if its `hosts` names the host; else
/// the one profile that names it, or the selected profile (`LATCHKEY_PROFILE`,
/// `default_profile`) when several do. `None`: no profile serves it, and the helper stays
/// silent so that git or docker asks elsewhere.
pub fn profile_for_host(
    globals: &Globals,
    profile_flag: Option<&str>,
    host: &RequestHost,
) -> Result<Option<Profile>> {
    let file = globals.load_profiles()?;
    if let Some(name) = globals.profile_name(profile_flag) {
        let profile = globals.profile(&file, Some(name))?;
        return Ok(claims(&profile, host).then_some(profile));
    }
    let mut claiming = Vec::new();
    for name in file.profile_names() {
        match file.resolve_profile(name, &Default::default()) {
            Ok(profile) if claims(&profile, host) => claiming.push(profile),
            Ok(_) => {}
            // One broken profile must not stop git for the hosts of the others.
            Err(e) => crate::debug!("profile `{name}` skipped: {}", e.message()),
        }
    }
    if claiming.len() <= 1 {
        return Ok(claiming.pop());
    }
    let selected = file.select(None).ok().map(|(name, _)| name);
    if let Some(at) = claiming
        .iter()
        .position(|p| Some(&p.name) == selected.as_ref())
    {
        return Ok(Some(claiming.swap_remove(at)));
    }
    let names: Vec<String> = claiming.iter().map(|p| format!("`{}`", p.name)).collect();
    Err(Error::config(format!(
        "profiles {} all name {} in `hosts`",
        names.join(", "),
        crate::base::text::quoted(&host.to_string())
    ))
    .hint("keep the host in one profile's `hosts`, or pass -p NAME in the helper's command"))
}

fn claims(profile: &Profile, host: &RequestHost) -> bool {
    profile.hosts.iter().any(|entry| entry.claims(host))
}

/// The profile's access token for `host`, refreshed as `token` refreshes it, from an agent when
/// one answers. Never a prompt: a passphrase must come from `LATCHKEY_PASSPHRASE` (or an agent).
/// A token from this host's store goes only to a host its login saw in `hosts` too: one added
/// to the profiles file or `LATCHKEY_HOSTS` since is served after the next login (exit 3 until
/// then), so that whoever can change those cannot send the stored tokens to a host of theirs.
pub fn token_for(globals: &Globals, profile: &Profile, host: &RequestHost) -> Result<Obtained> {
    crate::store::passphrase::forbid_prompt();
    let obtained = obtain_for(globals, profile)?;
    if let Some(recorded) = &obtained.login_hosts {
        let seen = recorded
            .iter()
            .filter_map(|entry| HostEntry::parse(entry).ok())
            .any(|entry| entry.claims(host));
        if !seen {
            return Err(Error::config(format!(
                "profile `{}` names {host} in `hosts`, but its login did not: its tokens go only to the hosts it was logged in with",
                profile.name
            ))
            .hint(format!(
                "if {host} is yours, run `latchkey login -p {}` to serve it",
                profile.name
            )));
        }
    }
    Ok(obtained)
}

fn obtain_for(globals: &Globals, profile: &Profile) -> Result<Obtained> {
    obtain(
        globals,
        &Want {
            profile: Some(&profile.name),
            id_token: false,
            api: None,
            min_valid: None,
            no_agent: false,
            relogin: Relogin::NEVER,
        },
    )
}

/// Says on stderr why a helper stays silent, where git or docker show it to the person.
pub fn decline(why: &str) {
    eprintln!("latchkey: {}", crate::base::text::escape_controls(why));
}
