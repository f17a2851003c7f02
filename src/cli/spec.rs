//! The command line as the completions and the man page see it: argh's `ArgsInfo` for [`Cli`]
//! with the hidden flags (`#[argh(hidden_help)]`) dropped first, so that nothing generated
//! offers or documents them.

use crate::cli::Cli;
use argh::ArgsInfo;
use argh_shared::{
    CommandInfoWithArgs, ErrorCodeInfo, FlagInfo, FlagInfoKind, Optionality, PositionalInfo,
    SubCommandInfo,
};

/// The program name the scripts complete and the man page documents.
pub const BIN: &str = "latchkey";

/// One command as the completions and the man page show it: argh's data without the hidden
/// flags and positionals, owned so that a filtered `CommandInfoWithArgs` can borrow from it.
#[derive(Debug)]
pub struct CommandSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub examples: &'static [&'static str],
    pub notes: &'static [&'static str],
    pub error_codes: &'static [ErrorCodeInfo<'static>],
    pub flags: Vec<FlagInfo<'static>>,
    pub positionals: Vec<PositionalInfo<'static>>,
    pub subcommands: Vec<CommandSpec>,
}

impl CommandSpec {
    /// The whole command line, `latchkey` at the root.
    pub fn of_cli() -> CommandSpec {
        CommandSpec::visible(BIN, &Cli::get_args_info())
    }

    fn visible(name: &'static str, info: &CommandInfoWithArgs<'static>) -> CommandSpec {
        CommandSpec {
            name,
            description: info.description,
            examples: info.examples,
            notes: info.notes,
            error_codes: info.error_codes,
            flags: info
                .flags
                .iter()
                .filter(|flag| !flag.hidden)
                .map(copy_flag)
                .collect(),
            positionals: info
                .positionals
                .iter()
                .filter(|positional| !positional.hidden)
                .map(|p| PositionalInfo {
                    name: p.name,
                    description: p.description,
                    optionality: copy_optionality(&p.optionality),
                    hidden: false,
                })
                .collect(),
            subcommands: info
                .commands
                .iter()
                .map(|sub| CommandSpec::visible(sub.name, &sub.command))
                .collect(),
        }
    }

    /// argh's shape again, for `argh_complete`.
    pub fn args_info(&self) -> CommandInfoWithArgs<'_> {
        CommandInfoWithArgs {
            name: self.name,
            short: &'\0',
            description: self.description,
            examples: self.examples,
            flags: &self.flags,
            notes: self.notes,
            commands: self
                .subcommands
                .iter()
                .map(|sub| SubCommandInfo {
                    name: sub.name,
                    command: sub.args_info(),
                })
                .collect(),
            positionals: &self.positionals,
            error_codes: self.error_codes,
        }
    }

    /// This command and every command below it, each with its words from `latchkey` on.
    pub fn walk(&self) -> Vec<(Vec<&'static str>, &CommandSpec)> {
        let mut out = Vec::new();
        self.walk_into(&mut vec![self.name], &mut out);
        out
    }

    fn walk_into<'a>(
        &'a self,
        path: &mut Vec<&'static str>,
        out: &mut Vec<(Vec<&'static str>, &'a CommandSpec)>,
    ) {
        out.push((path.clone(), self));
        for sub in &self.subcommands {
            path.push(sub.name);
            sub.walk_into(path, out);
            path.pop();
        }
    }

    pub fn takes_profile(&self) -> bool {
        self.flags.iter().any(|flag| flag.long == "--profile")
    }
}

// argh_shared's types are not Clone; these copy the few fields we keep.
fn copy_flag(flag: &FlagInfo<'static>) -> FlagInfo<'static> {
    FlagInfo {
        kind: match flag.kind {
            FlagInfoKind::Switch => FlagInfoKind::Switch,
            FlagInfoKind::Option { arg_name } => FlagInfoKind::Option { arg_name },
        },
        optionality: copy_optionality(&flag.optionality),
        long: flag.long,
        short: flag.short,
        description: flag.description,
        hidden: false,
    }
}

fn copy_optionality(optionality: &Optionality) -> Optionality {
    match optionality {
        Optionality::Required => Optionality::Required,
        Optionality::Optional => Optionality::Optional,
        Optionality::Repeating => Optionality::Repeating,
        Optionality::Greedy => Optionality::Greedy,
    }
}

/// The spellings of a flag: `--profile`, `-p`.
pub fn spellings(flag: &FlagInfo<'_>) -> Vec<String> {
    let mut out = vec![flag.long.to_owned()];
    out.extend(flag.short.map(|short| format!("-{short}")));
    out
}

pub fn takes_value(flag: &FlagInfo<'_>) -> bool {
    matches!(flag.kind, FlagInfoKind::Option { .. })
}
