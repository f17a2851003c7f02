//! Layer 9, the commands: dispatch from the parsed command line to one module per command,
//! which glues the layers below together. Nothing uses this layer but `lib.rs`.

#[cfg(unix)]
mod agent;
mod credential;
pub mod docker_credential;
mod doctor;
mod exec;
mod generate;
mod git_credential;
mod kubeconfig;
mod login;
mod logout;
mod profiles;
mod setup;
mod status;
mod token;

use crate::base::error::{Error, Result};
use crate::cli::{Cli, Command};
use crate::config::ProfilesFile;
use crate::config::paths;

/// What `latchkey --version` prints: the version, the target the binary was built for, and the
/// commit it was built from when build.rs could tell (see there for when it can).
fn version_line() -> String {
    format!(
        "latchkey {} ({}, {})",
        env!("CARGO_PKG_VERSION"),
        env!("LATCHKEY_BUILD_TARGET"),
        env!("LATCHKEY_BUILD_SOURCE")
    )
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    if cli.version {
        println!("{}", version_line());
        return Ok(());
    }
    let Some(command) = cli.command else {
        return Err(
            Error::usage("no command given").hint("run `latchkey --help` to see the commands")
        );
    };
    let globals = Globals {
        profile: cli.profile,
        config: cli.config,
    };
    match command {
        Command::Login(args) => login::run(&globals, args),
        Command::Token(args) => token::run(&globals, args),
        Command::Status(args) => status::run(&globals, args),
        Command::Logout(args) => logout::run(&globals, args),
        Command::Profiles(args) => profiles::run(&globals, args),
        Command::Doctor(args) => doctor::run(&globals, args),
        Command::Kubeconfig(args) => kubeconfig::run(&globals, args),
        #[cfg(unix)]
        Command::Agent(args) => agent::run(&globals, args),
        // Exit 1, not 2: the command line is right, the feature is missing here.
        #[cfg(not(unix))]
        Command::Agent(_) => Err(Error::other(
            "`latchkey agent` is not available on Windows: it serves tokens over a Unix socket",
        )
        .hint("run `latchkey token` where the tokens are needed, or the agent on a Linux or macOS host")),
        Command::Exec(args) => exec::run(&globals, args),
        Command::GitCredential(args) => git_credential::run(&globals, args),
        Command::DockerCredential(args) => docker_credential::run(&globals, args),
        Command::Setup(args) => setup::run(&globals, args),
        Command::Completions(args) => generate::completions(args),
        Command::Man(_) => generate::man(),
    }
}

/// The options every command shares, from before the command name.
pub struct Globals {
    pub profile: Option<String>,
    pub config: Option<std::path::PathBuf>,
}

impl Globals {
    /// `-p` after the command wins over `-p` before it: the later one is what the user typed last.
    pub fn profile_name<'a>(&'a self, after_command: Option<&'a str>) -> Option<&'a str> {
        after_command.or(self.profile.as_deref())
    }

    /// The profile a command works on: selected, layered and validated.
    pub fn profile(
        &self,
        file: &ProfilesFile,
        after_command: Option<&str>,
    ) -> Result<crate::config::Profile> {
        let (name, source) = file.select(self.profile_name(after_command))?;
        crate::debug!("profile `{name}`, selected by {source}");
        file.resolve_profile(&name, &Default::default())
    }

    /// The profiles a command covers: every one with `--all`, else the selected one.
    pub fn profiles(
        &self,
        file: &ProfilesFile,
        after_command: Option<&str>,
        all: bool,
    ) -> Result<Vec<crate::config::Profile>> {
        if !all {
            return Ok(vec![self.profile(file, after_command)?]);
        }
        if self.profile_name(after_command).is_some() {
            return Err(Error::usage("--all and --profile contradict each other")
                .hint("drop --profile to cover every profile, or --all for just that one"));
        }
        file.profile_names()
            .map(|name| file.resolve_profile(name, &Default::default()))
            .collect()
    }

    /// The profile to ask an agent for: `-p`, else `LATCHKEY_PROFILE`, else none (the agent's
    /// default). This host's profiles file is not read: it need not exist.
    #[cfg(unix)]
    pub fn agent_profile(&self, after_command: Option<&str>) -> Option<String> {
        self.profile_name(after_command)
            .map(str::to_owned)
            .or_else(|| {
                std::env::var("LATCHKEY_PROFILE")
                    .ok()
                    .filter(|p| !p.is_empty())
            })
    }

    pub fn load_profiles(&self) -> Result<ProfilesFile> {
        let (path, origin) = paths::config_file(self.config.as_deref())?;
        crate::debug!("profiles file: {} (from {origin:?})", path.display());
        ProfilesFile::load(&path, origin)
    }
}

/// Writes to stdout, treating a closed pipe (`latchkey profiles | head -1`) as success.
pub fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::other(format!("cannot write to stdout: {e}"))),
    }
}
