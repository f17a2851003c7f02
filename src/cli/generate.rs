//! Man page and shell completions, generated from the CLI definition.
//!
//! The one source is argh's `ArgsInfo` for [`Cli`]: commands, flags, descriptions, examples,
//! notes. Hidden flags (`#[argh(hidden_help)]`) are dropped first, so nothing here offers or
//! documents them. bash, zsh, fish and nushell come from `argh_complete`, patched where it
//! cannot say what we need (profile names for `-p`/`--profile`, fish before 3.7); PowerShell
//! and elvish, which it lacks, are written here from the same data.

use crate::base::error::{Error, ExitCode, Result};
use crate::cli::Cli;
use crate::config::{PROFILE_FIELDS, env_var_for};
use argh::ArgsInfo;
use argh_complete::Generator;
use argh_shared::{
    CommandInfoWithArgs, ErrorCodeInfo, FlagInfo, FlagInfoKind, Optionality, PositionalInfo,
    SubCommandInfo,
};
use roff::{Roff, bold, italic, roman};
use std::fmt::Write as _;

/// The program name the scripts complete and the man page documents.
pub const BIN: &str = "latchkey";

/// What completion scripts run to list profile names: one a line, silent on any error.
const PROFILE_NAMES_COMMAND: &str = "profiles --names";

/// The shells `latchkey completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Nushell,
    PowerShell,
    Elvish,
}

impl Shell {
    pub const ALL: [Shell; 6] = [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Nushell,
        Shell::PowerShell,
        Shell::Elvish,
    ];

    /// The name on the command line: `latchkey completions NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
            Shell::Nushell => "nushell",
            Shell::PowerShell => "powershell",
            Shell::Elvish => "elvish",
        }
    }

    pub fn from_name(name: &str) -> Option<Shell> {
        Shell::ALL.into_iter().find(|shell| shell.name() == name)
    }

    /// The committed file under `completions/`, named as each shell looks for it.
    pub fn file_name(self) -> &'static str {
        match self {
            Shell::Bash => "latchkey.bash",
            Shell::Zsh => "_latchkey",
            Shell::Fish => "latchkey.fish",
            Shell::Nushell => "latchkey.nu",
            Shell::PowerShell => "_latchkey.ps1",
            Shell::Elvish => "latchkey.elv",
        }
    }
}

/// "bash, zsh, fish, nushell, powershell or elvish", for usage messages.
pub fn shell_names() -> String {
    let names: Vec<&str> = Shell::ALL.iter().map(|shell| shell.name()).collect();
    match names.split_last() {
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

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

    fn takes_profile(&self) -> bool {
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
fn spellings(flag: &FlagInfo<'_>) -> Vec<String> {
    let mut out = vec![flag.long.to_owned()];
    out.extend(flag.short.map(|short| format!("-{short}")));
    out
}

fn takes_value(flag: &FlagInfo<'_>) -> bool {
    matches!(flag.kind, FlagInfoKind::Option { .. })
}

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Result<String> {
    let spec = CommandSpec::of_cli();
    let profile_flags = spec
        .walk()
        .iter()
        .filter(|(_, command)| command.takes_profile())
        .count();
    let info = spec.args_info();
    match shell {
        Shell::Bash => bash(
            argh_complete::bash::Bash::generate(BIN, &info),
            profile_flags,
        ),
        Shell::Zsh => zsh(argh_complete::zsh::Zsh::generate(BIN, &info), profile_flags),
        Shell::Fish => fish(
            argh_complete::fish::Fish::generate(BIN, &info),
            profile_flags,
        ),
        Shell::Nushell => nushell(
            argh_complete::nushell::Nushell::generate(BIN, &info),
            profile_flags,
        ),
        Shell::PowerShell => Ok(powershell(&spec)),
        Shell::Elvish => Ok(elvish(&spec)),
    }
}

/// Replaces `from` with `to`, insisting it occurs exactly `expected` times: a patch that stops
/// matching (a new argh_complete) must fail the build's tests, not quietly do nothing.
fn patch(shell: &str, script: &str, from: &str, to: &str, expected: usize) -> Result<String> {
    let found = script.matches(from).count();
    if found != expected {
        return Err(Error::other(format!(
            "cannot patch argh_complete's {shell} script: {from:?} occurs {found} times, not {expected}"
        ))
        .hint("argh_complete's output changed: update src/generate.rs"));
    }
    Ok(script.replace(from, to))
}

const GENERATED_NOTE: &str =
    "generated from latchkey's command-line definition by `latchkey completions";

// bash: argh_complete's script (a `_latchkey` function found by `complete -F`) with three
// fixes: `cmd` made local (it leaked into the user's shell), only the words before the cursor
// decide the command (so a half-typed `login` is still completed as a command name), and the
// `-p`/`--profile` branch, which argh leaves empty, completes profile names.
fn bash(script: String, profile_flags: usize) -> Result<String> {
    let script = patch(
        "bash",
        &script,
        "    local i cur prev opts cmds\n",
        "    local i cur prev opts cmds cmd\n",
        1,
    )?;
    let script = patch(
        "bash",
        &script,
        "    for i in ${COMP_WORDS[@]}; do\n",
        "    for i in \"${COMP_WORDS[@]:0:COMP_CWORD}\"; do\n",
        1,
    )?;
    let script = patch(
        "bash",
        &script,
        "                --profile | -p)\n                    COMPREPLY=()\n",
        "                --profile | -p)\n                    COMPREPLY=( $(compgen -W \"$(_latchkey_profile_names)\" -- \"${cur}\") )\n",
        profile_flags,
    )?;
    Ok(format!(
        r#"# bash completion for latchkey, {GENERATED_NOTE} bash`.
# Install as ~/.local/share/bash-completion/completions/latchkey (bash-completion loads it on
# first use), or source it from ~/.bashrc.

# Profile names from the profiles file that --config (if typed) or LATCHKEY_CONFIG points at.
_latchkey_profile_names() {{
    local i
    local -a config=()
    for ((i = 1; i < COMP_CWORD - 1; i++)); do
        if [[ ${{COMP_WORDS[i]}} == --config ]]; then
            config=(--config "${{COMP_WORDS[i + 1]}}")
        fi
    done
    {BIN} "${{config[@]}}" {PROFILE_NAMES_COMMAND} 2>/dev/null
}}

{script}"#
    ))
}

// zsh: argh_complete's `_arguments` specs leave an option's value action empty (`': :'`).
// For `-p`/`--profile` it becomes `__latchkey_profile_names` (`_latchkey_profiles` is argh's
// function for `latchkey profiles`), defined before the file's closing `compdef`/call so that
// both autoloading from $fpath and sourcing define it; `--config` completes files.
fn zsh(script: String, profile_flags: usize) -> Result<String> {
    const EMPTY_ACTION: &str = "': :' \\";
    let mut patched = String::new();
    let (mut profiles, mut configs) = (0, 0);
    for line in script.lines() {
        let keep = line.len().saturating_sub(EMPTY_ACTION.len());
        if line.contains("{-p,--profile}'[") && line.ends_with(EMPTY_ACTION) {
            profiles += 1;
            let _ = writeln!(
                patched,
                "{}':profile:__latchkey_profile_names' \\",
                &line[..keep]
            );
        } else if line.trim_start().starts_with("'--config[") && line.ends_with(EMPTY_ACTION) {
            configs += 1;
            let _ = writeln!(patched, "{}':file:_files' \\", &line[..keep]);
        } else {
            let _ = writeln!(patched, "{line}");
        }
    }
    if (profiles, configs) != (profile_flags, 1) {
        return Err(Error::other(format!(
            "cannot patch argh_complete's zsh script: {profiles} --profile and {configs} \
             --config specs, not {profile_flags} and 1"
        ))
        .hint("argh_complete's output changed: update src/generate.rs"));
    }
    let helper = format!(
        r#"# Profile names from the profiles file that --config (if typed) or LATCHKEY_CONFIG points at.
__latchkey_profile_names() {{
    local -a config names expl
    local -a typed=(${{(z)LBUFFER}})
    local at=${{typed[(I)--config]}}
    (( at )) && config=(--config "${{(Q)typed[at + 1]}}")
    names=(${{(f)"$({BIN} "${{config[@]}}" {PROFILE_NAMES_COMMAND} 2>/dev/null)"}})
    _wanted profiles expl 'profile' compadd -a names
}}

"#
    );
    let patched = patch(
        "zsh",
        &patched,
        "if [[ $funcstack[1] == _latchkey ]]; then\n",
        &format!("{helper}if [[ $funcstack[1] == _latchkey ]]; then\n"),
        1,
    )?;
    // `#compdef` must stay the first line for compinit to find the file.
    let patched = patch(
        "zsh",
        &patched,
        "#compdef latchkey\n",
        &format!(
            "#compdef latchkey\n# zsh completion for latchkey, {GENERATED_NOTE} zsh`.\n\
             # Install as _latchkey in a directory on $fpath, before compinit runs.\n"
        ),
        1,
    )?;
    Ok(patched)
}

// fish: argh_complete tokenizes with `commandline -x`, which fish only has from 3.7 on
// (Debian 12 has 3.6): `-o` is the spelling every fish understands. The `--profile` lines get
// `-x` (a value, no files) and `-a` with the profile names; `--config` gets files (`-F`).
fn fish(script: String, profile_flags: usize) -> Result<String> {
    let script = patch(
        "fish",
        &script,
        "set -l cmd (commandline -xpc)",
        "set -l cmd (commandline -opc)",
        1,
    )?;
    let script = patch(
        "fish",
        &script,
        " -l profile -s p -r -d ",
        " -l profile -s p -x -a '(__fish_latchkey_profiles)' -d ",
        profile_flags,
    )?;
    let script = patch(
        "fish",
        &script,
        " -f -l config -r -d ",
        " -l config -r -F -d ",
        1,
    )?;
    Ok(format!(
        r#"# fish completion for latchkey, {GENERATED_NOTE} fish`.
# Install as ~/.config/fish/completions/latchkey.fish.

# Profile names from the profiles file that --config (if typed) or LATCHKEY_CONFIG points at.
function __fish_latchkey_profiles
    set -l typed (commandline -opc)
    set -l config
    if set -l at (contains -i -- --config $typed)
        set config --config $typed[(math $at + 1)]
    end
    {BIN} $config {PROFILE_NAMES_COMMAND} 2>/dev/null
end

{script}"#
    ))
}

// nushell: `export extern` signatures; the `--profile` parameters get a custom completer.
fn nushell(script: String, profile_flags: usize) -> Result<String> {
    let script = patch(
        "nushell",
        &script,
        "    --profile(-p): string ",
        "    --profile(-p): string@\"nu-complete latchkey profiles\" ",
        profile_flags,
    )?;
    Ok(format!(
        r#"# nushell completion for latchkey, {GENERATED_NOTE} nushell`.
# Save it and add `use /path/to/latchkey.nu *` to your config.nu.

# Profile names from the profiles file that LATCHKEY_CONFIG (or the default) points at.
def "nu-complete latchkey profiles" [] {{
    try {{ ^{BIN} {PROFILE_NAMES_COMMAND} | lines }} catch {{ [] }}
}}

{script}"#
    ))
}

/// One command's completion data, as the PowerShell and elvish scripts hold it.
struct CompletionTable {
    /// `latchkey`, `latchkey profiles`, `latchkey profiles show`.
    key: String,
    /// Subcommand names and descriptions.
    subcommands: Vec<(&'static str, &'static str)>,
    /// Every spelling of every flag, with its description.
    flags: Vec<(String, &'static str)>,
    /// The spellings that take a value (the next word is not a command or a flag).
    values: Vec<String>,
}

fn completion_tables(spec: &CommandSpec) -> Vec<CompletionTable> {
    spec.walk()
        .into_iter()
        .map(|(path, command)| CompletionTable {
            key: path.join(" "),
            subcommands: command
                .subcommands
                .iter()
                .map(|sub| (sub.name, sub.description))
                .collect(),
            flags: command
                .flags
                .iter()
                .flat_map(|flag| {
                    spellings(flag)
                        .into_iter()
                        .map(move |spelling| (spelling, flag.description))
                })
                .collect(),
            values: command
                .flags
                .iter()
                .filter(|flag| takes_value(flag))
                .flat_map(spellings)
                .collect(),
        })
        .collect()
}

/// A single-quoted string for PowerShell and elvish, which both double a quote inside.
fn single_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn powershell(spec: &CommandSpec) -> String {
    let mut table = String::new();
    for command in completion_tables(spec) {
        let _ = writeln!(table, "        {} = @{{", single_quoted(&command.key));
        let _ = writeln!(table, "            Subcommands = @(");
        for (name, description) in &command.subcommands {
            let _ = writeln!(
                table,
                "                ,@({}, {})",
                single_quoted(name),
                single_quoted(description)
            );
        }
        let _ = writeln!(table, "            )");
        let _ = writeln!(table, "            Flags = @(");
        for (spelling, description) in &command.flags {
            let _ = writeln!(
                table,
                "                ,@({}, {})",
                single_quoted(spelling),
                single_quoted(description)
            );
        }
        let _ = writeln!(table, "            )");
        let values: Vec<String> = command.values.iter().map(|v| single_quoted(v)).collect();
        let _ = writeln!(table, "            Values = @({})", values.join(", "));
        let _ = writeln!(table, "        }}");
    }
    format!(
        r#"# PowerShell completion for latchkey, {GENERATED_NOTE} powershell`.
# Load it from your profile ($PROFILE): . /path/to/_latchkey.ps1

Register-ArgumentCompleter -Native -CommandName '{BIN}' -ScriptBlock {{
    param($wordToComplete, $commandAst, $cursorPosition)

    # Per command: its subcommands, its flags, and the flags whose next word is their value.
    # (Inside the script block, so that it is found whatever scope the file was loaded in.)
    $commands = @{{
{table}    }}

    # Walk the words before the one being completed: a subcommand name steps into it, a flag
    # that takes a value makes the next word its value.
    $command = '{BIN}'
    $valueOf = $null
    $config = @()
    foreach ($element in $commandAst.CommandElements | Select-Object -Skip 1) {{
        if ($element.Extent.EndOffset -ge $cursorPosition) {{ break }}
        $word = $element.Extent.Text
        if ($valueOf) {{
            if ($valueOf -eq '--config') {{ $config = @('--config', $word) }}
            $valueOf = $null
        }} elseif ($commands[$command].Values -ccontains $word) {{
            $valueOf = $word
        }} elseif ($commands.ContainsKey("$command $word")) {{
            $command = "$command $word"
        }}
    }}

    if ($valueOf) {{
        if ($valueOf -ceq '-p' -or $valueOf -ceq '--profile') {{
            & '{BIN}' @config {PROFILE_NAMES_COMMAND} 2>$null |
                Where-Object {{ $_ -like "$wordToComplete*" }} |
                ForEach-Object {{
                    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
                }}
        }}
        return
    }}

    $entry = $commands[$command]
    foreach ($subcommand in $entry.Subcommands) {{
        if ($subcommand[0] -like "$wordToComplete*") {{
            [System.Management.Automation.CompletionResult]::new(
                $subcommand[0], $subcommand[0], 'Command', $subcommand[1])
        }}
    }}
    foreach ($flag in $entry.Flags) {{
        if ($flag[0] -like "$wordToComplete*") {{
            [System.Management.Automation.CompletionResult]::new(
                $flag[0], $flag[0], 'ParameterName', $flag[1])
        }}
    }}
}}
"#
    )
}

fn elvish(spec: &CommandSpec) -> String {
    let mut table = String::new();
    for command in completion_tables(spec) {
        let _ = writeln!(table, "  &{}=[", single_quoted(&command.key));
        let _ = writeln!(table, "    &subcommands=[");
        for (name, description) in &command.subcommands {
            let _ = writeln!(
                table,
                "      [{} {}]",
                single_quoted(name),
                single_quoted(description)
            );
        }
        let _ = writeln!(table, "    ]");
        let _ = writeln!(table, "    &flags=[");
        for (spelling, description) in &command.flags {
            let _ = writeln!(
                table,
                "      [{} {}]",
                single_quoted(spelling),
                single_quoted(description)
            );
        }
        let _ = writeln!(table, "    ]");
        let values: Vec<String> = command.values.iter().map(|v| single_quoted(v)).collect();
        let _ = writeln!(table, "    &values=[{}]", values.join(" "));
        let _ = writeln!(table, "  ]");
    }
    format!(
        r#"# elvish completion for latchkey, {GENERATED_NOTE} elvish`.
# Save it as ~/.config/elvish/lib/latchkey.elv and add `use latchkey` to rc.elv.

# Per command: its subcommands, its flags, and the flags whose next word is their value.
var commands = [
{table}]

set edit:completion:arg-completer[{BIN}] = {{|@words|
  # Walk the words before the one being completed (the last): a subcommand name steps into
  # it, a flag that takes a value makes the next word its value.
  var command = '{BIN}'
  var value-of = ''
  var config = []
  for word $words[1..(- (count $words) 1)] {{
    if (not-eq $value-of '') {{
      if (eq $value-of '--config') {{
        set config = ['--config' $word]
      }}
      set value-of = ''
    }} elif (has-value $commands[$command][values] $word) {{
      set value-of = $word
    }} elif (has-key $commands $command' '$word) {{
      set command = $command' '$word
    }}
  }}

  if (not-eq $value-of '') {{
    # A value is being typed: profile names for -p/--profile, nothing for the others.
    if (has-value ['-p' '--profile'] $value-of) {{
      try {{
        e:{BIN} $@config {PROFILE_NAMES_COMMAND} 2>/dev/null | from-lines
      }} catch {{ }}
    }}
  }} else {{
    for pair $commands[$command][subcommands] {{
      edit:complex-candidate $pair[0] &display=$pair[0]' - '$pair[1]
    }}
    for pair $commands[$command][flags] {{
      edit:complex-candidate $pair[0] &display=$pair[0]' - '$pair[1]
    }}
  }}
}}
"#
    )
}

/// The date on the man page. A fixed date (changed with the page's content, by hand) keeps the
/// committed page reproducible.
const MAN_DATE: &str = "2025-11-29";

const DESCRIPTION: &[&str] = &[
    "latchkey runs the OAuth 2.0 Authorization Code flow with PKCE (RFC 7636) as a public \
     client, with no client secret, against Auth0 or any OpenID provider that publishes a \
     discovery document. It works on a laptop and over SSH on a headless host: the \
     authorization URL is always printed, a browser is opened only where one can be seen, and \
     the response is taken from a loopback listener on 127.0.0.1 or pasted, whichever comes \
     first.",
    "Tokens are stored age-encrypted, one file per profile, and handed to scripts by \
     latchkey token, which refreshes them when they are about to expire and never prompts.",
    "Profiles live in a TOML file; each names a provider (an Auth0 domain or an issuer), a \
     client ID and optional settings. The profile is chosen by --profile (before or after the \
     command), then LATCHKEY_PROFILE, then default_profile, then the only profile in the file.",
];

const FILES: &[(&str, &str)] = &[
    (
        "$XDG_CONFIG_HOME/latchkey/profiles.toml",
        "The profiles file, unless --config or LATCHKEY_CONFIG names another. Without \
         XDG_CONFIG_HOME: ~/.config/latchkey/profiles.toml on Linux and BSD, \
         ~/Library/Application Support/latchkey/profiles.toml on macOS.",
    ),
    (
        "$XDG_DATA_HOME/latchkey/tokens/PROFILE.age",
        "A profile's tokens, age-encrypted, mode 0600 in a 0700 directory, replaced atomically. \
         Without XDG_DATA_HOME: under ~/.local/share on Linux and BSD.",
    ),
    (
        "$XDG_DATA_HOME/latchkey/identity.txt",
        "latchkey's own age X25519 identity, generated on first use (mode 0600); the key the \
         token files are encrypted to unless a profile sets identity_file or use_passphrase.",
    ),
    (
        "$XDG_DATA_HOME/latchkey/tokens/PROFILE.provider.json",
        "The provider's discovery document and signing keys, cached for a day so that \
         latchkey token can refresh without fetching them again.",
    ),
    (
        "$XDG_DATA_HOME/latchkey/tokens/PROFILE.lock",
        "Held while a profile's tokens are refreshed, so that concurrent latchkey token runs \
         refresh once and share the result.",
    ),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "LATCHKEY_CONFIG",
        "The profiles file, when --config is not given.",
    ),
    (
        "LATCHKEY_PROFILE",
        "The profile, when --profile is not given; before default_profile.",
    ),
    (
        "LATCHKEY_PASSPHRASE",
        "The passphrase for profiles with use_passphrase = true; without it latchkey asks on \
         the terminal.",
    ),
    (
        "LATCHKEY_LOG",
        "Set to debug, prints diagnostic lines on stderr: the profiles file and profile chosen, \
         each request (URL without its query, route, status, time), cache use and refresh \
         decisions. Never a token, code, verifier, state or key.",
    ),
    (
        "LATCHKEY_TIMING",
        "Set to a non-empty value, latchkey login prints how long its own work took from the \
         authorization response to the stored file, apart from the time waiting on the provider.",
    ),
];

const ENVIRONMENT_AFTER_FIELDS: &[(&str, &str)] = &[
    (
        "BROWSER",
        "The command that opens the login page; %s stands for the URL, else the URL is \
         appended.",
    ),
    (
        "SSH_CONNECTION, SSH_CLIENT, SSH_TTY",
        "An SSH session: latchkey opens no browser (unless a display is forwarded or --browser \
         is given) and prints the ssh -L command that tunnels the loopback port.",
    ),
    (
        "DISPLAY, WAYLAND_DISPLAY",
        "A graphical display: on Linux and BSD, xdg-open is used only when one is set.",
    ),
    (
        "NO_COLOR",
        "Set to a non-empty value, turns colour off (colour is only used on a terminal).",
    ),
    (
        "SSL_CERT_FILE, SSL_CERT_DIR",
        "Replace the system's certificate store: a PEM bundle, a directory of PEM files. \
         Mozilla's roots built into latchkey and the profile's ca_file are trusted as well.",
    ),
    (
        "HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY",
        "The HTTP CONNECT proxy for https (and http) requests to the identity provider, unless \
         the profile sets proxy; NO_PROXY lists hosts reached directly. The lower-case names \
         are read first. Loopback providers and the login's loopback listener are never \
         proxied.",
    ),
    (
        "XDG_CONFIG_HOME",
        "Where the profiles file is looked for (an absolute path; relative values are ignored).",
    ),
    (
        "XDG_DATA_HOME",
        "Where tokens and latchkey's identity are kept (an absolute path; relative values are \
         ignored).",
    ),
];

/// Worked examples for the EXAMPLES section: a caption and the lines to type.
const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "Log in on a remote host over SSH, with the laptop's browser reaching the remote \
         loopback listener through a tunnel (use the profile's redirect_port):",
        &[
            "ssh -L 8484:127.0.0.1:8484 remote-host   # on the laptop",
            "latchkey login -p dev   # on remote-host; open the URL on the laptop",
        ],
    ),
    (
        "Log in without a tunnel: open the printed URL on any device, then paste the URL the \
         browser ends on (or just the code) at the prompt:",
        &["latchkey login -p dev --no-loopback"],
    ),
    (
        "Call an API with the access token:",
        &["curl -H \"Authorization: Bearer $(latchkey token)\" https://api.example.com/"],
    ),
    (
        "Use latchkey as a kubectl credential plugin (Kubernetes OIDC takes the ID token), in \
         a kubeconfig:",
        &[
            "users:",
            "- name: oidc",
            "  user:",
            "    exec:",
            "      apiVersion: client.authentication.k8s.io/v1",
            "      command: latchkey",
            "      args: [\"token\", \"-p\", \"k8s\", \"--id-token\",",
            "             \"--format\", \"exec-credential\"]",
            "      interactiveMode: Never",
        ],
    ),
];

const SEE_ALSO: &[(&str, &str)] = &[
    ("age", "1"),
    ("curl", "1"),
    ("kubectl", "1"),
    ("ssh", "1"),
    ("xdg-open", "1"),
];

/// latchkey(1), in roff.
pub fn man_page() -> String {
    let spec = CommandSpec::of_cli();
    let version = format!("{BIN} {}", env!("CARGO_PKG_VERSION"));
    let mut page = Roff::new();
    page.control("TH", ["LATCHKEY", "1", MAN_DATE, &version, "User Commands"]);
    // Left-aligned and unhyphenated: the page is full of names (LATCHKEY_CLIENT_ID,
    // --no-loopback) that must be read and typed exactly.
    page.control("ad", ["l"]);
    page.control("nh", []);

    page.control("SH", ["NAME"]);
    prose(
        &mut page,
        &format!("{BIN} - {}", env!("CARGO_PKG_DESCRIPTION")),
    );

    page.control("SH", ["SYNOPSIS"]);
    for (index, (path, command)) in spec.walk().into_iter().enumerate() {
        if index > 0 {
            page.control("br", []);
        }
        synopsis(&mut page, &spec, &path, command);
    }

    page.control("SH", ["DESCRIPTION"]);
    prose(&mut page, spec.description);
    for paragraph in DESCRIPTION.iter().chain(spec.notes) {
        page.control("PP", []);
        prose(&mut page, paragraph);
    }

    page.control("SH", ["OPTIONS"]);
    prose(
        &mut page,
        "These come before the command; --profile is also accepted after it.",
    );
    flag_list(&mut page, &spec.flags);
    examples(&mut page, spec.examples);

    page.control("SH", ["COMMANDS"]);
    prose(&mut page, "Every command also takes --help.");
    for (path, command) in spec.walk().into_iter().skip(1) {
        page.control("SS", [path.join(" ").as_str()]);
        prose(&mut page, command.description);
        positional_list(&mut page, &command.positionals);
        let flags: Vec<&FlagInfo<'_>> = command
            .flags
            .iter()
            .filter(|flag| flag.long != "--help")
            .collect();
        for flag in flags {
            flag_entry(&mut page, flag);
        }
        for note in command.notes {
            page.control("PP", []);
            prose(&mut page, note);
        }
        examples(&mut page, command.examples);
    }

    page.control("SH", ["FILES"]);
    for (path, meaning) in FILES {
        page.control("TP", []);
        page.text([italic(*path)]);
        prose(&mut page, meaning);
    }

    page.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in ENVIRONMENT {
        page.control("TP", []);
        page.text([bold(*name)]);
        prose(&mut page, meaning);
    }
    page.control("TP", []);
    page.text([bold("LATCHKEY_FIELD")]);
    let fields: Vec<String> = PROFILE_FIELDS.iter().map(|f| env_var_for(f)).collect();
    prose(
        &mut page,
        &format!(
            "Overrides a key of the selected profile: the key's name in upper case after \
             LATCHKEY_. One variable for each key: {}.",
            fields.join(", ")
        ),
    );
    for (name, meaning) in ENVIRONMENT_AFTER_FIELDS {
        page.control("TP", []);
        page.text([bold(*name)]);
        prose(&mut page, meaning);
    }

    page.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in ExitCode::ALL {
        page.control("TP", []);
        page.text([bold(code.to_string())]);
        prose(&mut page, meaning);
    }

    page.control("SH", ["EXAMPLES"]);
    for (index, (caption, lines)) in EXAMPLES.iter().enumerate() {
        if index > 0 {
            page.control("PP", []);
        }
        prose(&mut page, caption);
        code_block(&mut page, lines);
    }

    page.control("SH", ["SEE ALSO"]);
    let mut see_also = Vec::new();
    for (index, (name, section)) in SEE_ALSO.iter().enumerate() {
        let separator = if index + 1 < SEE_ALSO.len() { ", " } else { "" };
        see_also.push(bold(*name));
        see_also.push(roman(format!("({section}){separator}")));
    }
    page.text(see_also);
    page.render()
}

/// One SYNOPSIS line: `latchkey [global flags] COMMAND...` for the root, and
/// `latchkey COMMAND [flags] [positionals]` for each command.
/// Each group is an input line of its own; roff joins them with a space.
fn synopsis(page: &mut Roff, root: &CommandSpec, path: &[&str], command: &CommandSpec) {
    page.text([bold(path.join(" "))]);
    for flag in command.flags.iter().filter(|flag| flag.long != "--help") {
        let name = flag
            .short
            .map_or_else(|| flag.long.to_owned(), |short| format!("-{short}"));
        let mut group = vec![roman("["), bold(name)];
        if let FlagInfoKind::Option { arg_name } = flag.kind {
            group.push(roman(" "));
            group.push(italic(arg_name));
        }
        group.push(roman("]"));
        if matches!(flag.optionality, Optionality::Repeating) {
            group.push(roman("..."));
        }
        page.text(group);
    }
    for positional in &command.positionals {
        if matches!(positional.optionality, Optionality::Required) {
            page.text([italic(positional.name)]);
        } else {
            page.text([roman("["), italic(positional.name), roman("]")]);
        }
    }
    if std::ptr::eq(root, command) {
        page.text([italic("COMMAND"), roman(" ...")]);
    }
}

/// Running text, broken into short input lines (roff refills them; mandoc prefers lines of at
/// most 80 bytes, and escapes make a line longer than it looks).
fn prose(page: &mut Roff, text: &str) {
    const WIDTH: usize = 70;
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > WIDTH {
            page.text([roman(std::mem::take(&mut line))]);
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        page.text([roman(line)]);
    }
}

fn flag_list(page: &mut Roff, flags: &[FlagInfo<'_>]) {
    for flag in flags {
        flag_entry(page, flag);
    }
}

/// A `.TP` entry: `-p, --profile NAME` and the description.
fn flag_entry(page: &mut Roff, flag: &FlagInfo<'_>) {
    page.control("TP", []);
    let mut term = Vec::new();
    if let Some(short) = flag.short {
        term.push(bold(format!("-{short}")));
        term.push(roman(", "));
    }
    term.push(bold(flag.long));
    if let FlagInfoKind::Option { arg_name } = flag.kind {
        term.push(roman(" "));
        term.push(italic(arg_name));
    }
    if matches!(flag.optionality, Optionality::Repeating) {
        term.push(roman(" (repeatable)"));
    }
    page.text(term);
    prose(page, flag.description);
}

fn positional_list(page: &mut Roff, positionals: &[PositionalInfo<'_>]) {
    for positional in positionals {
        page.control("TP", []);
        page.text([italic(positional.name)]);
        prose(page, positional.description);
    }
}

fn examples(page: &mut Roff, examples: &[&str]) {
    if examples.is_empty() {
        return;
    }
    page.control("PP", []);
    page.text([roman("Examples:")]);
    code_block(page, examples);
}

/// Lines shown as typed: indented, unfilled.
fn code_block(page: &mut Roff, lines: &[&str]) {
    page.control("RS", ["4"]);
    page.control("nf", []);
    for line in lines {
        page.text([roman(*line)]);
    }
    page.control("fi", []);
    page.control("RE", []);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_flags_are_neither_offered_nor_documented() {
        let hidden_in_argh = Cli::get_args_info()
            .commands
            .iter()
            .find(|sub| sub.name == "profiles")
            .map(|sub| {
                sub.command
                    .flags
                    .iter()
                    .any(|f| f.long == "--names" && f.hidden)
            });
        assert_eq!(
            hidden_in_argh,
            Some(true),
            "profiles --names should be hidden"
        );
        for shell in Shell::ALL {
            // The scripts run `profiles --names`; they must not offer it.
            let script = completions(shell).unwrap().replace("profiles --names", "");
            assert!(!script.contains("--names"), "{shell:?}");
            assert!(!script.contains("-l names"), "{shell:?}");
        }
        // Mentioned in prose (the completions run it), never listed as a flag.
        assert!(!man_page().contains("\\fB\\-\\-names"));
    }

    /// Every subcommand and every visible flag, for the scripts not run in a real shell here.
    #[test]
    fn every_script_mentions_every_command_and_flag() {
        let spec = CommandSpec::of_cli();
        for shell in Shell::ALL {
            let script = completions(shell).unwrap();
            for (path, command) in spec.walk() {
                let name = path.last().unwrap();
                assert!(script.contains(name), "{shell:?} lacks command {name}");
                for flag in &command.flags {
                    let long = flag.long.trim_start_matches('-');
                    assert!(
                        script.contains(long),
                        "{shell:?} lacks {} of {}",
                        flag.long,
                        path.join(" ")
                    );
                }
            }
            assert!(
                script.contains("profiles --names"),
                "{shell:?} does not complete profile names"
            );
        }
    }

    #[test]
    fn powershell_and_elvish_have_a_table_entry_per_command() {
        let spec = CommandSpec::of_cli();
        let powershell = completions(Shell::PowerShell).unwrap();
        let elvish = completions(Shell::Elvish).unwrap();
        for (path, command) in spec.walk() {
            let key = path.join(" ");
            assert!(
                powershell.contains(&format!("        '{key}' = @{{\n")),
                "{key}"
            );
            assert!(elvish.contains(&format!("  &'{key}'=[\n")), "{key}");
            for flag in &command.flags {
                assert!(
                    powershell.contains(&format!("@('{}', ", flag.long)),
                    "{key} {}",
                    flag.long
                );
                assert!(
                    elvish.contains(&format!("['{}' ", flag.long)),
                    "{key} {}",
                    flag.long
                );
            }
        }
        // Quotes inside descriptions are doubled, as both shells want.
        assert!(powershell.contains("provider''s"));
        assert!(elvish.contains("provider''s"));
        // Brackets balance (a cheap guard against a broken template).
        for (name, script) in [("powershell", &powershell), ("elvish", &elvish)] {
            let unquoted: String = script.split('\'').step_by(2).collect::<Vec<_>>().concat();
            for (open, close) in [('{', '}'), ('(', ')'), ('[', ']')] {
                assert_eq!(
                    unquoted.matches(open).count(),
                    unquoted.matches(close).count(),
                    "{name}: {open}{close} unbalanced"
                );
            }
        }
    }

    #[test]
    fn nushell_declares_every_command_and_completes_profiles() {
        let nushell = completions(Shell::Nushell).unwrap();
        for (path, _) in CommandSpec::of_cli().walk() {
            assert!(
                nushell.contains(&format!("export extern \"{}\" [", path.join(" "))),
                "{path:?}"
            );
        }
        assert!(nushell.contains("--profile(-p): string@\"nu-complete latchkey profiles\""));
    }

    #[test]
    fn shells_are_named_as_on_the_command_line() {
        for shell in Shell::ALL {
            assert_eq!(Shell::from_name(shell.name()), Some(shell));
        }
        assert_eq!(Shell::from_name("tcsh"), None);
        assert_eq!(
            shell_names(),
            "bash, zsh, fish, nushell, powershell or elvish"
        );
    }

    #[test]
    fn exit_codes_in_argh_match_exit_code_all() {
        let documented: Vec<(i32, &str)> = Cli::get_args_info()
            .error_codes
            .iter()
            .map(|e| (e.code, e.description))
            .collect();
        let all: Vec<(i32, &str)> = ExitCode::ALL
            .iter()
            .copied()
            .filter(|(code, _)| *code > 1)
            .collect();
        assert_eq!(documented, all);
    }

    #[test]
    fn man_page_has_every_section_command_and_variable() {
        let page = man_page();
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "COMMANDS",
            "FILES",
            "ENVIRONMENT",
            "\"EXIT STATUS\"",
            "EXAMPLES",
            "\"SEE ALSO\"",
        ] {
            assert!(page.contains(&format!(".SH {section}\n")), "{section}");
        }
        for (path, _) in CommandSpec::of_cli().walk().into_iter().skip(1) {
            assert!(page.contains(&format!(".SS \"{}\"\n", path.join(" "))));
        }
        for field in PROFILE_FIELDS {
            assert!(page.contains(&env_var_for(field)), "{field}");
        }
        for (code, _) in ExitCode::ALL {
            assert!(page.contains(&format!(".TP\n\\fB{code}\\fR\n")), "{code}");
        }
    }
}
