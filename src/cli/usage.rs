//! Command-line mistakes explained as profile mistakes are: which command the words reached,
//! what was wrong, the nearest valid flag or command, and that command's `--help`. Also `-h` as
//! a spelling of `--help`, which argh itself does not accept.

use crate::base::error::Error;
use crate::base::text::escape_controls;
use crate::cli::spec::{CommandSpec, spellings, takes_value};
use crate::config::suggest::nearest;

/// Where the words of a command line got to before the one argh refused.
struct Reached<'a> {
    /// The command's words from `latchkey` on (`["latchkey", "profiles", "show"]`).
    path: Vec<&'static str>,
    command: &'a CommandSpec,
    /// Whether a positional argument was taken (after which no subcommand can follow).
    took_positional: bool,
}

/// Follows `args` down the command tree, skipping the values of options, up to `stop` (an
/// index into `args`) or the end.
fn reach<'a>(root: &'a CommandSpec, args: &[&str], stop: usize) -> Reached<'a> {
    let mut reached = Reached {
        path: vec![root.name],
        command: root,
        took_positional: false,
    };
    let mut i = 0;
    while i < stop.min(args.len()) {
        let arg = args[i];
        if arg.starts_with('-') && arg.len() > 1 {
            let takes = reached
                .command
                .flags
                .iter()
                .find(|flag| spellings(flag).iter().any(|s| s == arg))
                .is_some_and(takes_value);
            i += if takes { 2 } else { 1 };
            continue;
        }
        match reached
            .command
            .subcommands
            .iter()
            .find(|sub| sub.name == arg)
        {
            Some(sub) if !reached.took_positional => {
                reached.path.push(sub.name);
                reached.command = sub;
            }
            _ => reached.took_positional = true,
        }
        i += 1;
    }
    reached
}

/// `args` with each standalone `-h` (not the value of an option) spelled `--help`.
pub fn expand_short_help(args: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    if !args.contains(&"-h") {
        return out;
    }
    let root = CommandSpec::of_cli();
    for (i, arg) in args.iter().enumerate() {
        if *arg != "-h" {
            continue;
        }
        let reached = reach(&root, args, i);
        let is_value = i > 0 && {
            let previous = args[i - 1];
            reached
                .command
                .flags
                .iter()
                .find(|flag| spellings(flag).iter().any(|s| s == previous))
                .is_some_and(takes_value)
        };
        if !is_value {
            out[i] = "--help".to_owned();
        }
    }
    out
}

/// argh's refusal of `args` (its text, e.g. "Unrecognized argument: --bogus") as latchkey's
/// usage error: exit 2, the command it concerns, a did-you-mean, and where help is.
pub fn explain(args: &[&str], argh_says: &str) -> Error {
    let root = CommandSpec::of_cli();
    let first_line = argh_says.lines().next().unwrap_or("").trim();
    if let Some(word) = first_line.strip_prefix("Unrecognized argument: ") {
        let at = args.iter().position(|a| *a == word).unwrap_or(args.len());
        let reached = reach(&root, args, at);
        return unrecognized(word, &reached);
    }
    let reached = reach(&root, args, args.len());
    let help = help_line(&reached);
    let message = if let Some(rest) = first_line.strip_prefix("No value provided for option '") {
        format!(
            "{} needs a value, for {}",
            shown(rest.trim_end_matches(['\'', '.'])),
            reached.path.join(" ")
        )
    } else if let Some((flag, why)) = parsing_failure(first_line, "Error parsing option '") {
        // latchkey's own parsers already quote the value in `why`.
        format!("{}: {}", shown(flag), escape_controls(why))
    } else if let Some((_, why)) =
        parsing_failure(first_line, "Error parsing positional argument '")
    {
        escape_controls(why)
    } else {
        lowercase_first(&escape_controls(first_line.trim_end_matches('.')))
    };
    Error::usage(message.trim_end().to_owned()).hint(help)
}

/// argh's "Error parsing option 'NAME' with value 'VALUE': WHY" as (NAME, WHY).
fn parsing_failure<'a>(line: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let rest = line.strip_prefix(prefix)?;
    let (name, rest) = rest.split_once("' with value '")?;
    let (_, why) = rest.split_once("': ")?;
    Some((name, why))
}

fn unrecognized(word: &str, reached: &Reached<'_>) -> Error {
    let command = reached.path.join(" ");
    let help = help_line(reached);
    if word.starts_with('-') {
        let flags = reached
            .command
            .flags
            .iter()
            .flat_map(spellings)
            .collect::<Vec<_>>();
        let near = nearest(word, flags.iter().map(String::as_str)).map(str::to_owned);
        let message = format!("unknown flag {} for {command}", shown(word));
        return Error::usage(message).hint(match near {
            Some(near) => format!("did you mean `{near}`? {help}"),
            None => help,
        });
    }
    if !reached.command.subcommands.is_empty() && !reached.took_positional {
        let names = reached.command.subcommands.iter().map(|sub| sub.name);
        let message = format!("unknown command {} for {command}", shown(word));
        return Error::usage(message).hint(match nearest(word, names) {
            Some(near) => format!("did you mean `{command} {near}`? {help}"),
            None => help,
        });
    }
    Error::usage(format!("unexpected argument {} for {command}", shown(word))).hint(help)
}

/// "see `latchkey login --help`" for the command reached.
fn help_line(reached: &Reached<'_>) -> String {
    format!("see `{} --help`", reached.path.join(" "))
}

/// A word from the command line, escaped (and cut) by the one sanitizer, in backticks unless
/// it is a plain word or a flag.
fn shown(word: &str) -> String {
    let escaped = crate::base::text::shown_within(word, 100);
    if escaped.starts_with('-') || escaped.chars().all(|c| c.is_ascii_alphanumeric()) {
        escaped
    } else {
        format!("`{escaped}`")
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;

    fn refusal(args: &[&str]) -> (String, String) {
        let early = Cli::parse(args).expect_err("argh refuses these");
        assert!(early.status.is_err());
        let error = explain(args, &early.output);
        assert_eq!(error.exit_code(), crate::base::error::ExitCode::Usage);
        (
            error.message().to_owned(),
            error.hint_text().unwrap_or("").to_owned(),
        )
    }

    #[test]
    fn an_unknown_flag_names_its_command_and_the_nearest_flag() {
        let (message, hint) = refusal(&["login", "--no-browsr"]);
        assert_eq!(message, "unknown flag --no-browsr for latchkey login");
        assert_eq!(
            hint,
            "did you mean `--no-browser`? see `latchkey login --help`"
        );
        let (message, hint) = refusal(&["status", "--profle", "dev"]);
        assert_eq!(message, "unknown flag --profle for latchkey status");
        assert!(hint.starts_with("did you mean `--profile`?"), "{hint}");
    }

    #[test]
    fn an_unknown_command_gets_the_nearest_command() {
        let (message, hint) = refusal(&["stauts"]);
        assert_eq!(message, "unknown command stauts for latchkey");
        assert_eq!(
            hint,
            "did you mean `latchkey status`? see `latchkey --help`"
        );
        let (message, hint) = refusal(&["profiles", "shwo"]);
        assert_eq!(message, "unknown command shwo for latchkey profiles");
        assert!(hint.contains("`latchkey profiles show`"), "{hint}");
    }

    #[test]
    fn values_of_options_are_not_taken_for_commands() {
        let (message, _) = refusal(&["-p", "status", "frob"]);
        assert_eq!(message, "unknown command frob for latchkey");
        let (message, hint) = refusal(&["profiles", "show", "dev", "prod"]);
        assert_eq!(
            message,
            "unexpected argument prod for latchkey profiles show"
        );
        assert_eq!(hint, "see `latchkey profiles show --help`");
    }

    #[test]
    fn a_missing_value_and_outside_text_are_explained_escaped() {
        let (message, hint) = refusal(&["-p"]);
        assert_eq!(message, "-p needs a value, for latchkey");
        assert_eq!(hint, "see `latchkey --help`");
        let (message, _) = refusal(&["login", "--\u{1b}[2J"]);
        assert!(!message.contains('\u{1b}'), "{message}");
    }

    #[test]
    fn a_bad_value_says_which_flag_and_why() {
        let (message, hint) = refusal(&["login", "--timeout", "soon"]);
        assert_eq!(
            message,
            "--timeout: \"soon\" is not a duration: use seconds (90) or units like 90s, 5m, 1h, 1m30s"
        );
        assert_eq!(hint, "see `latchkey login --help`");
        let (message, _) = refusal(&["completions", "tcsh"]);
        assert!(
            message.starts_with("\"tcsh\" is not a shell latchkey completes"),
            "{message}"
        );
    }

    #[test]
    fn dash_h_is_help_unless_it_is_an_options_value() {
        assert_eq!(expand_short_help(&["-h"]), ["--help"]);
        assert_eq!(expand_short_help(&["login", "-h"]), ["login", "--help"]);
        assert_eq!(
            expand_short_help(&["login", "--scope", "-h"]),
            ["login", "--scope", "-h"]
        );
    }
}
