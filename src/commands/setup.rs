//! `latchkey setup git`: points git's credential helper for each of a profile's `hosts` at
//! `latchkey git-credential`, with `git config --global`, each command shown before it runs.

use super::Globals;
use crate::base::error::{Error, Result};
use crate::cli::{SetupArgs, SetupCommand, SetupGitArgs};
use crate::config::Profile;
use std::process::Command;

pub fn run(globals: &Globals, args: SetupArgs) -> Result<()> {
    match args.command {
        SetupCommand::Git(git) => setup_git(globals, git),
    }
}

fn setup_git(globals: &Globals, args: SetupGitArgs) -> Result<()> {
    let file = globals.load_profiles()?;
    let profile = globals.profile(&file, args.profile.as_deref())?;
    if profile.hosts.is_empty() {
        return Err(Error::config(format!(
            "profile `{}` names no git server in `hosts`",
            profile.name
        ))
        .hint(format!(
            "add hosts = [\"git.example.com\"] to [profiles.{}] in the profiles file",
            profile.name
        )));
    }
    let helper = helper_command(&running_binary()?, &profile.name);
    let commands = git_commands(&profile, &helper);
    for command in &commands {
        eprintln!(
            "{}{}",
            if args.dry_run { "" } else { "running: " },
            crate::base::text::escape_controls(&shown(command))
        );
        if args.dry_run {
            continue;
        }
        let status = Command::new("git").args(command).status().map_err(|e| {
            Error::other(format!("cannot run git: {e}"))
                .hint("install git, or run the commands above with --dry-run and your own git")
        })?;
        if !status.success() {
            return Err(Error::other(format!(
                "`{}` failed ({status})",
                shown(command)
            )));
        }
    }
    if !args.dry_run {
        eprintln!(
            "git now asks latchkey (profile `{}`) for the credentials of {}",
            profile.name,
            hosts_shown(&profile)
        );
    }
    Ok(())
}

/// The absolute path of this binary, as git will run it from any directory.
fn running_binary() -> Result<String> {
    let path = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| Error::other(format!("cannot tell where latchkey is installed: {e}")))?;
    path.into_os_string()
        .into_string()
        .map_err(|_| Error::other("latchkey's path is not UTF-8, which git's config cannot hold"))
}

/// git runs a helper that starts with `!` through the shell: the path is quoted for it.
fn helper_command(binary: &str, profile: &str) -> String {
    format!(
        "!{} git-credential -p {}",
        shell_quote(binary),
        shell_quote(profile)
    )
}

fn shell_quote(text: &str) -> String {
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:=@".contains(&b));
    if plain && !text.is_empty() {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Per host: an empty helper, which drops the helpers set for every URL (a keychain, `store`)
/// for this host, then latchkey. `--replace-all` then `--add` gives the same two lines however
/// often it runs.
fn git_commands(profile: &Profile, helper: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for host in &profile.hosts {
        let scheme = if host.is_loopback() { "http" } else { "https" };
        let key = format!("credential.{scheme}://{}.helper", host.authority());
        let git = |rest: &[&str]| {
            let mut argv = vec!["config".to_owned(), "--global".to_owned()];
            argv.extend(rest.iter().map(|s| (*s).to_owned()));
            argv
        };
        commands.push(git(&["--replace-all", &key, ""]));
        commands.push(git(&["--add", &key, helper]));
    }
    commands
}

fn shown(argv: &[String]) -> String {
    let quoted: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
    format!("git {}", quoted.join(" "))
}

fn hosts_shown(profile: &Profile) -> String {
    let names: Vec<String> = profile.hosts.iter().map(|h| h.to_string()).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_line_survives_the_shell() {
        assert_eq!(
            helper_command("/usr/bin/latchkey", "corp"),
            "!/usr/bin/latchkey git-credential -p corp"
        );
        assert_eq!(
            helper_command("/home/o'neil/my bin/latchkey", "dev"),
            r"!'/home/o'\''neil/my bin/latchkey' git-credential -p dev"
        );
        assert_eq!(shell_quote(""), "''");
        assert_eq!(
            shown(&["config".into(), "--add".into(), "".into()]),
            "git config --add ''"
        );
    }
}
