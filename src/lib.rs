//! latchkey: OAuth 2.0 / OpenID Connect login for the command line.
//!
//! The library holds everything; `main.rs` only calls [`run_from_env`]. Tests and fuzz targets
//! use the modules directly.

// The layers, lowest first. A module may use its own folder and the folders above it in this
// list, never one below: tests/architecture.rs fails the build otherwise (see ARCHITECTURE.md).
#[cfg(unix)]
pub mod agent;
pub mod base;
pub mod cli;
pub mod commands;
pub mod config;
pub mod login;
pub mod net;
pub mod oauth;
pub mod store;
pub mod terminal;

use base::error::Error;

/// Runs latchkey with the process's arguments and returns the exit status.
pub fn run_from_env() -> i32 {
    let mut args = Vec::new();
    // Run as `docker-credential-latchkey` (a link docker finds on PATH), it is that command.
    let program = std::env::args_os().next().unwrap_or_default();
    if std::path::Path::new(&program)
        .file_stem()
        .is_some_and(|stem| stem == commands::docker_credential::PROGRAM)
    {
        args.push("docker-credential".to_owned());
    }
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(arg) => args.push(arg),
            Err(bad) => {
                return report(
                    &Error::usage(format!("argument {bad:?} is not valid UTF-8"))
                        .hint("profile names, paths and values on the command line must be UTF-8"),
                );
            }
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let args = cli::usage::expand_short_help(&args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cli = match cli::Cli::parse(&args) {
        Ok(cli) => cli,
        Err(early) => {
            return match early.status {
                Ok(()) => {
                    print!("{}", early.output);
                    0
                }
                Err(()) => report(&cli::usage::explain(&args, &early.output)),
            };
        }
    };
    // Before any secret is read; `exec` keeps the hard core limit to give it back to its command.
    base::process::harden(matches!(cli.command, Some(cli::Command::Exec(_))));
    match commands::run(cli) {
        Ok(()) => 0,
        Err(e) => report(&e),
    }
}

/// Prints an error as one line saying what failed and a hint line saying what to do. It is
/// the last guard for outside text: a path, an environment value or a provider's word that a
/// message quoted without the sanitizer still cannot reach the terminal raw (text that was
/// already escaped holds no unsafe character, so it is unchanged).
fn report(error: &Error) -> i32 {
    use base::text::escape_controls;
    if error.message().is_empty() && error.hint_text().is_none() {
        return error.exit_code().code();
    }
    let style = terminal::style::Style::for_stderr();
    eprintln!(
        "{} {}",
        style.error("error:"),
        escape_controls(error.message())
    );
    if let Some(hint) = error.hint_text() {
        eprintln!("{} {}", style.hint("hint:"), escape_controls(hint));
    }
    error.exit_code().code()
}
