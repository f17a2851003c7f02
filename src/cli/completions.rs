//! Shell completion scripts, generated from the command line's definition.
//!
//! bash, zsh, fish and nushell come from `argh_complete`, patched where it cannot say what we
//! need (profile names for `-p`/`--profile`, fish before 3.7); PowerShell and elvish, which it
//! lacks, are written here from the same data.

use crate::base::error::{Error, Result};
use crate::cli::shell::Shell;
use crate::cli::spec::{BIN, CommandSpec, spellings, takes_value};
use argh_complete::Generator;
use std::fmt::Write as _;

/// What completion scripts run to list profile names: one a line, silent on any error.
const PROFILE_NAMES_COMMAND: &str = "profiles --names";

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
        .hint("argh_complete's output changed: update src/cli/completions.rs"));
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
        .hint("argh_complete's output changed: update src/cli/completions.rs"));
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

/// The PowerShell script: a native argument completer holding every command's table, which
/// walks the typed words to the command being completed and offers its subcommands and flags,
/// or profile names after `-p`/`--profile`.
fn powershell(spec: &CommandSpec) -> String {
    let table: String = completion_tables(spec)
        .iter()
        .map(powershell_table_entry)
        .collect();
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

/// One command's entry in the PowerShell script's `$commands` hashtable: its key, then arrays
/// of `@(name, description)` pairs for subcommands and flags, and the flags that take a value.
fn powershell_table_entry(command: &CompletionTable) -> String {
    let mut entry = String::new();
    let _ = writeln!(entry, "        {} = @{{", single_quoted(&command.key));
    let _ = writeln!(entry, "            Subcommands = @(");
    powershell_pairs(&mut entry, &command.subcommands);
    let _ = writeln!(entry, "            )");
    let _ = writeln!(entry, "            Flags = @(");
    powershell_pairs(&mut entry, &command.flags);
    let _ = writeln!(entry, "            )");
    let values: Vec<String> = command.values.iter().map(|v| single_quoted(v)).collect();
    let _ = writeln!(entry, "            Values = @({})", values.join(", "));
    let _ = writeln!(entry, "        }}");
    entry
}

/// Name and description pairs as PowerShell array elements, one a line: `,@('name', 'text')`
/// (the leading comma keeps a single pair an array of arrays).
fn powershell_pairs(out: &mut String, pairs: &[(impl AsRef<str>, &str)]) {
    for (name, description) in pairs {
        let _ = writeln!(
            out,
            "                ,@({}, {})",
            single_quoted(name.as_ref()),
            single_quoted(description)
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::cli::man::man_page;
    use argh::ArgsInfo;

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
}
