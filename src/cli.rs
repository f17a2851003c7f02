//! The command line, declared once with argh: parsing, `--help`, and (through `ArgsInfo`) the
//! man page and shell completions all come from these structs.

use argh::{ArgsInfo, FromArgs};
use std::path::PathBuf;

/// Log in to an OAuth 2.0 / OpenID Connect provider from a terminal, over SSH or on a laptop,
/// with the Authorization Code flow and PKCE, and keep the tokens age-encrypted per profile.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    example = "latchkey --config profiles.example.toml profiles",
    example = "latchkey profiles show -p dev",
    note = "Settings are layered: built-in defaults < profiles file < LATCHKEY_<FIELD> environment variables < flags.",
    error_code(2, "usage: the command line could not be parsed"),
    error_code(3, "configuration: profiles file, profile or environment override"),
    error_code(4, "login required: no usable tokens, run `latchkey login`"),
    error_code(5, "the identity provider refused (an OAuth error)"),
    error_code(6, "network, TLS or timeout talking to the identity provider"),
    error_code(7, "token store: decrypt, permissions or file I/O"),
    error_code(8, "login timed out or was cancelled"),
    error_code(130, "interrupted (Ctrl-C)")
)]
pub struct Cli {
    /// the profile to use (default: $LATCHKEY_PROFILE, then default_profile, then the only one)
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// the profiles file (default: $LATCHKEY_CONFIG, then $XDG_CONFIG_HOME/latchkey/profiles.toml)
    #[argh(option, arg_name = "FILE")]
    pub config: Option<PathBuf>,

    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Command>,
}

#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(subcommand)]
pub enum Command {
    Login(LoginArgs),
    Profiles(ProfilesArgs),
}

/// Log in: open the provider's login page (or print its URL for any other device), take the
/// response on a loopback port or pasted, and store the tokens encrypted.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "login",
    example = "latchkey login -p dev",
    example = "ssh -L 8484:127.0.0.1:8484 remote-host   # then, on remote-host: latchkey login",
    example = "latchkey login --no-loopback             # paste the code or redirect URL",
    note = "The authorize URL is always printed on stderr. A browser is opened only where one can be seen: never in an SSH session without a forwarded display. The response is accepted from the loopback listener on 127.0.0.1 or pasted on stdin, whichever comes first."
)]
pub struct LoginArgs {
    /// the profile to log in with
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// do not open a browser; only print the URL
    #[argh(switch)]
    pub no_browser: bool,

    /// open a browser even where latchkey would only print the URL (e.g. over SSH)
    #[argh(switch)]
    pub browser: bool,

    /// do not listen on the loopback port; take the response only by paste
    #[argh(switch)]
    pub no_loopback: bool,

    /// do not read a pasted response; wait only for the loopback callback
    #[argh(switch)]
    pub no_paste: bool,

    /// how long to wait for the login, as seconds or 90s, 5m, 1h (default 5m)
    #[argh(option, from_str_fn(parse_duration), arg_name = "DURATION")]
    pub timeout: Option<std::time::Duration>,

    /// the API to request a token for, overriding the profile's audience
    #[argh(option, arg_name = "AUDIENCE")]
    pub audience: Option<String>,

    /// a scope to request, replacing the profile's scopes; repeat or space-separate for several
    #[argh(option, arg_name = "SCOPE")]
    pub scope: Vec<String>,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::duration::parse_duration(text)
}

/// List the profiles in the profiles file, marking the default.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "profiles",
    example = "latchkey profiles",
    example = "latchkey profiles show dev --json"
)]
pub struct ProfilesArgs {
    /// the profile to mark as selected (as the top-level --profile)
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// print JSON instead of text
    #[argh(switch)]
    pub json: bool,

    #[argh(subcommand)]
    pub command: Option<ProfilesCommand>,
}

#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(subcommand)]
pub enum ProfilesCommand {
    Show(ProfilesShowArgs),
}

/// Print a profile's effective settings and where each value came from.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(subcommand, name = "show", example = "latchkey profiles show dev")]
pub struct ProfilesShowArgs {
    /// the profile to show (default: the selected profile)
    #[argh(positional, arg_name = "NAME")]
    pub name: Option<String>,

    /// the profile to show, as the top-level --profile
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// print JSON instead of text
    #[argh(switch)]
    pub json: bool,
}

impl Cli {
    /// Parses arguments (without the program name); `Err` carries argh's text and whether it is
    /// help (exit 0) or a usage error (exit 2).
    pub fn parse(args: &[&str]) -> Result<Cli, argh::EarlyExit> {
        Cli::from_args(&["latchkey"], args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_is_accepted_before_and_after_the_command() {
        let before = Cli::parse(&["-p", "prod", "profiles"]).unwrap();
        assert_eq!(before.profile.as_deref(), Some("prod"));
        let after = Cli::parse(&["profiles", "-p", "prod"]).unwrap();
        let Some(Command::Profiles(args)) = after.command else {
            panic!("profiles expected")
        };
        assert_eq!(args.profile.as_deref(), Some("prod"));
    }

    #[test]
    fn show_takes_a_name_and_json() {
        let cli = Cli::parse(&["--config", "x.toml", "profiles", "show", "dev", "--json"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
        let Some(Command::Profiles(ProfilesArgs {
            command: Some(ProfilesCommand::Show(show)),
            ..
        })) = cli.command
        else {
            panic!("profiles show expected")
        };
        assert_eq!(show.name.as_deref(), Some("dev"));
        assert!(show.json);
    }

    #[test]
    fn login_flags() {
        let cli = Cli::parse(&[
            "login",
            "-p",
            "dev",
            "--no-browser",
            "--timeout",
            "90s",
            "--scope",
            "openid",
            "--scope",
            "email",
        ])
        .unwrap();
        let Some(Command::Login(login)) = cli.command else {
            panic!("login expected")
        };
        assert_eq!(login.profile.as_deref(), Some("dev"));
        assert!(login.no_browser && !login.browser);
        assert_eq!(login.timeout, Some(std::time::Duration::from_secs(90)));
        assert_eq!(login.scope, ["openid", "email"]);
        let err = Cli::parse(&["login", "--timeout", "soon"]).unwrap_err();
        assert!(err.output.contains("not a duration"), "{}", err.output);
    }

    #[test]
    fn unknown_flags_are_usage_errors() {
        let err = Cli::parse(&["profiles", "--bogus"]).unwrap_err();
        assert!(err.status.is_err());
        assert!(err.output.contains("--bogus"), "{}", err.output);
    }
}
