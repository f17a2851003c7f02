//! The committed completion scripts in the real shells (Debian's bash with bash-completion, zsh,
//! fish) and the man page in mandoc and man. A missing tool fails the test with what to install;
//! nothing is skipped. The nushell, PowerShell and elvish scripts are checked structurally by
//! the unit tests in src/cli/completions.rs.

use crate::support::World;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const INSTALL: &str = "apt-get install bash-completion zsh fish mandoc man-db (or run .ci/run)";
const BASH_COMPLETION: &str = "/usr/share/bash-completion/bash_completion";

fn committed(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn require(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        found,
        "`{program}` is not installed; the completion and man page tests need it: \
         install the Debian package {package} ({INSTALL})"
    );
}

/// A scratch world: `latchkey` on PATH (the scripts run it for profile names), a profiles file
/// with `alpha` and `beta` (not where latchkey looks by default), and a HOME of its own.
struct Sandbox {
    world: World,
}

impl Sandbox {
    fn new() -> Sandbox {
        let world = World::new();
        std::fs::create_dir_all(world.dir.path().join("bin")).unwrap();
        std::fs::create_dir_all(world.home()).unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_latchkey"),
            world.dir.path().join("bin/latchkey"),
        )
        .unwrap();
        world.write_file(
            "profiles.toml",
            "default_profile = \"alpha\"\n\
             [profiles.alpha]\ndomain = \"alpha.auth0.com\"\nclient_id = \"a\"\n\
             [profiles.beta]\nissuer = \"https://beta.example/\"\nclient_id = \"b\"\n",
        );
        Sandbox { world }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.world.dir.path().join(name)
    }

    fn profiles(&self) -> String {
        self.path("profiles.toml").display().to_string()
    }

    /// A shell in the world's clean environment, `latchkey` first on PATH; `LATCHKEY_CONFIG`
    /// names the test profiles unless `with_config_env` is false (then only a typed --config
    /// can find them).
    fn shell(&self, program: &str, with_config_env: bool) -> Command {
        let mut cmd = self.world.command(program);
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env("TERM", "dumb")
            .current_dir(self.world.dir.path());
        if with_config_env {
            cmd.env("LATCHKEY_CONFIG", self.path("profiles.toml"));
        }
        cmd
    }
}

fn run(mut cmd: Command) -> Output {
    let out = cmd.output().expect("start the shell");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Owned command-line arguments from strings and paths alike.
fn args(parts: &[&dyn AsRef<OsStr>]) -> Vec<OsString> {
    parts.iter().map(|part| part.as_ref().to_owned()).collect()
}

/// The candidates, one a line, without descriptions, duplicates or blank lines.
fn candidates(out: &Output) -> Vec<String> {
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| line.split('\t').next().unwrap_or("").trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn assert_offers(shell: &str, line: &str, got: &[String], expected: &[&str]) {
    for want in expected {
        assert!(
            got.iter().any(|g| g == want),
            "{shell}: completing {line:?} does not offer {want}; it offers {got:?}"
        );
    }
}

fn assert_offers_only(shell: &str, line: &str, got: &[String], expected: &[&str]) {
    assert_eq!(got, expected, "{shell}: completing {line:?}");
}

/// One shell's way to load latchkey's completion script and to complete a line: all that
/// differs between the shells, so every shell is run and checked by the same code.
struct Shell<'a> {
    /// The program, also the shell's name in messages.
    program: &'static str,
    sandbox: &'a Sandbox,
    /// Arguments that load the script and print what shows it is registered.
    load: Vec<OsString>,
    /// Arguments that, followed by a line, print the candidates for completing it.
    complete: Vec<OsString>,
    /// Whether completing must print nothing on stderr (not checked for zsh, whose driver
    /// talks to an interactive zsh on a pseudo-terminal).
    complete_quietly: bool,
}

impl Shell<'_> {
    /// Loads the script, which must succeed without a word on stderr; returns its stdout.
    fn load(&self) -> String {
        let mut cmd = self.sandbox.shell(self.program, true);
        cmd.args(&self.load);
        let out = run(cmd);
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The candidates for completing `line`, as the shell offers them.
    fn complete(&self, line: &str, with_config_env: bool) -> Vec<String> {
        let mut cmd = self.sandbox.shell(self.program, with_config_env);
        cmd.args(&self.complete).arg(line);
        let out = run(cmd);
        if self.complete_quietly {
            assert!(
                out.stderr.is_empty(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        candidates(&out)
    }

    /// The checks every shell must pass.
    fn check(&self) {
        let shell = self.program;
        let line = "latchkey lo";
        assert_offers_only(
            shell,
            line,
            &self.complete(line, true),
            &["login", "logout"],
        );

        let line = "latchkey login --";
        let got = self.complete(line, true);
        assert_offers(
            shell,
            line,
            &got,
            &["--no-browser", "--timeout", "--no-loopback", "--profile"],
        );
        assert!(
            !got.iter().any(|g| g == "--json"),
            "{shell}: login offers another command's flag: {got:?}"
        );

        for line in [
            "latchkey -p ",
            "latchkey login -p ",
            "latchkey token --profile ",
        ] {
            assert_offers_only(shell, line, &self.complete(line, true), &["alpha", "beta"]);
        }
        let line = "latchkey status -p b";
        assert_offers_only(shell, line, &self.complete(line, true), &["beta"]);

        // Without LATCHKEY_CONFIG, the --config typed on the line is where the names come from.
        let line = format!("latchkey --config {} -p ", self.sandbox.profiles());
        assert_offers_only(
            shell,
            &line,
            &self.complete(&line, false),
            &["alpha", "beta"],
        );

        // `profiles --names` is hidden: never offered.
        let line = "latchkey profiles --";
        let got = self.complete(line, true);
        assert_offers(shell, line, &got, &["--json"]);
        assert!(!got.iter().any(|g| g == "--names"), "{shell}: {got:?}");
    }
}

#[test]
fn bash_completes_commands_flags_and_profiles() {
    require("bash", "bash");
    assert!(
        Path::new(BASH_COMPLETION).is_file(),
        "{BASH_COMPLETION} is missing: install the Debian package bash-completion ({INSTALL})"
    );
    let script = committed("completions/latchkey.bash");
    let sandbox = Sandbox::new();
    // What bash does on Tab: COMP_* describe the line, the function fills COMPREPLY.
    let driver = format!(
        r#"source {BASH_COMPLETION}
source "$1"
line=$2
read -ra COMP_WORDS <<< "$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE=$line
COMP_POINT=${{#line}}
_latchkey latchkey "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}"
"#
    );
    let bash = Shell {
        program: "bash",
        sandbox: &sandbox,
        load: args(&[
            &"-c",
            &format!(
                "set -u; source {BASH_COMPLETION}; set +u; source \"$1\"; complete -p latchkey"
            ),
            &"bash",
            &script,
        ]),
        complete: args(&[&"--norc", &"--noprofile", &"-c", &driver, &"bash", &script]),
        complete_quietly: true,
    };
    assert!(bash.load().contains("-F _latchkey"));
    bash.check();
}

#[test]
fn zsh_completes_commands_flags_and_profiles() {
    require("zsh", "zsh");
    let sandbox = Sandbox::new();
    // compinit finds completion functions by file name in $fpath.
    let functions = sandbox.path("zfunc");
    std::fs::create_dir_all(&functions).unwrap();
    std::fs::copy(
        committed("completions/_latchkey"),
        functions.join("_latchkey"),
    )
    .unwrap();

    // An interactive zsh on a pseudo-terminal (zpty) gets the line and a Tab. compadd is
    // wrapped to print every candidate it is given, and Tab is bound to a widget that
    // completes and then prints a marker, so the driver reads exactly up to the end of the
    // completion and never types ahead of it.
    let driver = r#"
# A completion that never finishes must fail the test (killed by a signal), not hang it. The
# watchdog keeps no pipe of ours open, and is stopped before the driver exits.
( sleep 60; kill -TERM $$ ) </dev/null >/dev/null 2>&1 &
watchdog=$!
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT='' RPROMPT=''; unsetopt zle_bracketed_paste"
zpty -w z "fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'compadd() { local -a __hits; builtin compadd -O __hits "$@"; local h; for h in $__hits; do print -r -- "CANDIDATE:$h"; done; builtin compadd "$@" }'
zpty -w z 'zle -C __complete complete-word _main_complete; __capture() { zle __complete; print -r -- "COMPLETED$((1+1))" }; zle -N __capture; bindkey "^I" __capture'
zpty -w z "print -- READY\$((1+1))"
while zpty -r z line; do [[ $line == *READY2* ]] && break; done
zpty -w -n z "$2"$'\t'
out=()
while zpty -r z line; do
  [[ $line == *COMPLETED2* ]] && break
  out+=("${line//$'\r'/}")
done
zpty -d z
kill $watchdog 2>/dev/null
for line in ${(M)out:#*CANDIDATE:*}; do print -r -- ${line#*CANDIDATE:}; done
"#;
    let zsh = Shell {
        program: "zsh",
        sandbox: &sandbox,
        load: args(&[
            &"-f",
            &"-c",
            &"fpath=($1 $fpath); autoload -U compinit; compinit -u -D; source $1/_latchkey; \
              print -r -- $_comps[latchkey]",
            &"zsh",
            &functions,
        ]),
        complete: args(&[&"-f", &"-c", &driver, &"zsh", &functions]),
        complete_quietly: false,
    };
    assert_eq!(zsh.load().trim(), "_latchkey");
    zsh.check();
}

#[test]
fn fish_completes_commands_flags_and_profiles() {
    require("fish", "fish");
    let script = committed("completions/latchkey.fish");
    let sandbox = Sandbox::new();
    let fish = Shell {
        program: "fish",
        sandbox: &sandbox,
        load: args(&[
            &"--no-config",
            &"-c",
            &"source $argv[1]; complete -c latchkey | count",
            &script,
        ]),
        complete: args(&[
            &"--no-config",
            &"-c",
            &"source $argv[1]; complete --do-complete $argv[2]",
            &script,
        ]),
        complete_quietly: true,
    };
    fish.load();
    fish.check();
}

#[test]
fn man_page_passes_mandoc_lint() {
    require("mandoc", "mandoc");
    let out = Command::new("mandoc")
        .args(["-Tlint", "-W", "style"])
        .arg(committed("man/latchkey.1"))
        .output()
        .expect("run mandoc");
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let serious: Vec<&str> = report
        .lines()
        .filter(|line| !line.contains(": STYLE: "))
        .collect();
    assert!(
        serious.is_empty(),
        "mandoc -Tlint finds more than style notes in man/latchkey.1:\n{report}"
    );
}

#[test]
fn man_renders_the_page() {
    require("man", "man-db");
    let out = Command::new("man")
        .arg("-l")
        .arg(committed("man/latchkey.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .expect("run man");
    assert!(
        out.status.success(),
        "man -l failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without a terminal man may still overstrike bold text ("N\bNA\bA..."): drop that.
    let raw = String::from_utf8_lossy(&out.stdout);
    let mut text = String::new();
    for c in raw.chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    for heading in [
        "NAME",
        "SYNOPSIS",
        "COMMANDS",
        "ENVIRONMENT",
        "EXIT STATUS",
        "EXAMPLES",
    ] {
        assert!(
            text.lines().any(|line| line == heading),
            "man -l output lacks the {heading} section:\n{text}"
        );
    }
    assert!(text.contains("latchkey login"), "{text}");
}
