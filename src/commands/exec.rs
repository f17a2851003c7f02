//! `latchkey exec`: runs a command with a valid access token in one environment variable,
//! never in its arguments, and with latchkey's own secrets taken out of its environment.

use super::Globals;
use super::token::{Relogin, Want, audience_request, obtain, someone_answers};
use crate::base::error::{Error, ExitCode, Result};
use crate::cli::ExecArgs;
use std::process::Command;

const DEFAULT_VARIABLE: &str = "LATCHKEY_TOKEN";

/// latchkey's own secrets in the environment: the command gets the token it asked for, not
/// what unlocks every token.
const WITHHELD: &[&str] = &["LATCHKEY_PASSPHRASE", "LATCHKEY_CLIENT_SECRET"];

pub fn run(globals: &Globals, args: ExecArgs) -> Result<()> {
    let Some((program, arguments)) = args.command.split_first() else {
        return Err(Error::usage("exec needs a command to run")
            .hint("latchkey exec [-p NAME] -- COMMAND [ARGS...]"));
    };
    let variable = args.env.as_deref().unwrap_or(DEFAULT_VARIABLE);
    check_variable(variable)?;
    let api = args
        .audience
        .as_deref()
        .map(|audience| audience_request(audience, &[]))
        .transpose()?;
    let obtained = obtain(
        globals,
        &Want {
            profile: args.profile.as_deref(),
            id_token: false,
            api,
            min_valid: args.min_valid,
            no_agent: args.no_agent,
            relogin: Relogin {
                asked: args.login_if_needed,
                someone_answers: someone_answers(None),
            },
        },
    )?;
    let mut command = Command::new(program);
    command
        .args(arguments)
        .env(variable, obtained.token.secret());
    for name in WITHHELD {
        command.env_remove(name);
    }
    hand_over(command, program)
}

/// A name a shell can expand: letters, digits and `_`, not starting with a digit.
fn check_variable(name: &str) -> Result<()> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Error::usage(format!(
            "--env {}: not an environment variable name",
            crate::base::text::quoted(name)
        ))
        .hint("use letters, digits and _, not starting with a digit, such as API_TOKEN"));
    }
    if WITHHELD.contains(&name) {
        return Err(Error::usage(format!(
            "--env {name}: that variable is one latchkey withholds from the command"
        )));
    }
    Ok(())
}

/// Replaces latchkey with the command: its signals, Ctrl-C and exit status are its own, and no
/// latchkey process stays behind holding the token. Returns only when it could not start.
#[cfg(unix)]
fn hand_over(mut command: Command, program: &str) -> Result<()> {
    use std::os::unix::process::CommandExt;
    crate::base::process::restore_for_exec();
    let error = command.exec();
    Err(not_started(program, &error))
}

/// Windows has no exec: latchkey waits for the command and exits with its status. Ctrl-C goes
/// to every process on the console, so latchkey ignores it and lets the command decide.
#[cfg(windows)]
fn hand_over(mut command: Command, program: &str) -> Result<()> {
    // SAFETY: a null handler with TRUE makes this process ignore Ctrl-C; children get it as usual.
    unsafe {
        windows_sys::Win32::System::Console::SetConsoleCtrlHandler(None, 1);
    }
    let status = command
        .status()
        .map_err(|error| not_started(program, &error))?;
    std::process::exit(status.code().unwrap_or(ExitCode::Failure.code()))
}

fn not_started(program: &str, error: &std::io::Error) -> Error {
    let shown = crate::base::text::quoted(program);
    match error.kind() {
        std::io::ErrorKind::NotFound => Error::new(
            ExitCode::CommandNotFound,
            format!("{shown}: command not found"),
        )
        .hint("check the name and PATH; the command comes after `--`"),
        _ => Error::new(
            ExitCode::CommandNotRunnable,
            format!("{shown} could not be run: {error}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_variable_names_are_taken() {
        for good in ["LATCHKEY_TOKEN", "_x", "Api2"] {
            assert!(check_variable(good).is_ok(), "{good}");
        }
        for bad in ["", "2X", "A-B", "A B", "A=B", "LATCHKEY_PASSPHRASE"] {
            assert_eq!(
                check_variable(bad).unwrap_err().exit_code(),
                ExitCode::Usage,
                "{bad:?}"
            );
        }
    }
}
