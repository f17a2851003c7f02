//! The man page, latchkey(1), written with `roff` from the command line's definition and the
//! profile keys, so that it cannot drift from what the binary accepts.

use crate::base::error::ExitCode;
use crate::cli::spec::{BIN, CommandSpec};
use crate::config::{PROFILE_FIELDS, env_var_for};
use argh_shared::{FlagInfo, FlagInfoKind, Optionality, PositionalInfo};
use roff::{Roff, bold, italic, roman};

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
        "A profile's tokens, age-encrypted, mode 0600 in a 0700 directory, replaced atomically, \
         with the issuer, client and endpoints they came from: they are refreshed and revoked \
         there only. Every file and directory here must be yours and private, and is never \
         opened through a symbolic link. Without XDG_DATA_HOME: under ~/.local/share on Linux \
         and BSD.",
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
         refresh once and share the result; it names its holder's pid, and is waited on for \
         LATCHKEY_LOCK_TIMEOUT at most.",
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
        "LATCHKEY_LOCK_TIMEOUT",
        "How long to wait for another latchkey holding a profile's lock (default 60s, at most \
         1h) before giving up with exit 7 and the holder's pid.",
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
         appended. Several commands separated by colons are tried in order until one starts.",
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

/// latchkey(1), in roff: the sections in the order man pages keep them.
pub fn man_page() -> String {
    let spec = CommandSpec::of_cli();
    let mut page = Roff::new();
    title_and_name(&mut page);
    synopsis_section(&mut page, &spec);
    description_section(&mut page, &spec);
    options_section(&mut page, &spec);
    commands_section(&mut page, &spec);
    files_section(&mut page);
    environment_section(&mut page);
    exit_status_section(&mut page);
    examples_section(&mut page);
    see_also_section(&mut page);
    page.render()
}

/// The title line, the page-wide formatting settings, and NAME.
fn title_and_name(page: &mut Roff) {
    let version = format!("{BIN} {}", env!("CARGO_PKG_VERSION"));
    page.control("TH", ["LATCHKEY", "1", MAN_DATE, &version, "User Commands"]);
    // Left-aligned and unhyphenated: the page is full of names (LATCHKEY_CLIENT_ID,
    // --no-loopback) that must be read and typed exactly.
    page.control("ad", ["l"]);
    page.control("nh", []);

    page.control("SH", ["NAME"]);
    prose(page, &format!("{BIN} - {}", env!("CARGO_PKG_DESCRIPTION")));
}

/// SYNOPSIS: one line for the root and one for each command.
fn synopsis_section(page: &mut Roff, spec: &CommandSpec) {
    page.control("SH", ["SYNOPSIS"]);
    for (index, (path, command)) in spec.walk().into_iter().enumerate() {
        if index > 0 {
            page.control("br", []);
        }
        synopsis(page, spec, &path, command);
    }
}

/// DESCRIPTION: the command line's own description, then the page's paragraphs and the
/// command line's notes.
fn description_section(page: &mut Roff, spec: &CommandSpec) {
    page.control("SH", ["DESCRIPTION"]);
    prose(page, spec.description);
    for paragraph in DESCRIPTION.iter().chain(spec.notes) {
        page.control("PP", []);
        prose(page, paragraph);
    }
}

/// OPTIONS: the global flags and the root's examples.
fn options_section(page: &mut Roff, spec: &CommandSpec) {
    page.control("SH", ["OPTIONS"]);
    prose(
        page,
        "These come before the command; --profile is also accepted after it.",
    );
    flag_list(page, &spec.flags);
    examples(page, spec.examples);
}

/// COMMANDS: a subsection for each command with its positionals, flags (but --help, which
/// every command takes), notes and examples.
fn commands_section(page: &mut Roff, spec: &CommandSpec) {
    page.control("SH", ["COMMANDS"]);
    prose(page, "Every command also takes --help.");
    for (path, command) in spec.walk().into_iter().skip(1) {
        page.control("SS", [path.join(" ").as_str()]);
        prose(page, command.description);
        positional_list(page, &command.positionals);
        let flags: Vec<&FlagInfo<'_>> = command
            .flags
            .iter()
            .filter(|flag| flag.long != "--help")
            .collect();
        for flag in flags {
            flag_entry(page, flag);
        }
        for note in command.notes {
            page.control("PP", []);
            prose(page, note);
        }
        examples(page, command.examples);
    }
}

/// FILES: each path latchkey reads or writes, and what it holds.
fn files_section(page: &mut Roff) {
    page.control("SH", ["FILES"]);
    for (path, meaning) in FILES {
        page.control("TP", []);
        page.text([italic(*path)]);
        prose(page, meaning);
    }
}

/// ENVIRONMENT: latchkey's own variables, then LATCHKEY_FIELD with every profile key's
/// variable (from the profile keys, so none is missed), then the variables of others.
fn environment_section(page: &mut Roff) {
    page.control("SH", ["ENVIRONMENT"]);
    variable_list(page, ENVIRONMENT);
    page.control("TP", []);
    page.text([bold("LATCHKEY_FIELD")]);
    let fields: Vec<String> = PROFILE_FIELDS.iter().map(|f| env_var_for(f)).collect();
    prose(
        page,
        &format!(
            "Overrides a key of the selected profile: the key's name in upper case after \
             LATCHKEY_. One variable for each key: {}.",
            fields.join(", ")
        ),
    );
    variable_list(page, ENVIRONMENT_AFTER_FIELDS);
}

/// A `.TP` entry for each variable: its name in bold and its meaning.
fn variable_list(page: &mut Roff, variables: &[(&str, &str)]) {
    for (name, meaning) in variables {
        page.control("TP", []);
        page.text([bold(*name)]);
        prose(page, meaning);
    }
}

/// EXIT STATUS: every exit code and its meaning.
fn exit_status_section(page: &mut Roff) {
    page.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in ExitCode::ALL {
        page.control("TP", []);
        page.text([bold(code.to_string())]);
        prose(page, meaning);
    }
}

/// EXAMPLES: each worked example's caption and the lines to type.
fn examples_section(page: &mut Roff) {
    page.control("SH", ["EXAMPLES"]);
    for (index, (caption, lines)) in EXAMPLES.iter().enumerate() {
        if index > 0 {
            page.control("PP", []);
        }
        prose(page, caption);
        code_block(page, lines);
    }
}

/// SEE ALSO: one line of page references, `name(section)`, separated by commas.
fn see_also_section(page: &mut Roff) {
    page.control("SH", ["SEE ALSO"]);
    let mut see_also = Vec::new();
    for (index, (name, section)) in SEE_ALSO.iter().enumerate() {
        let separator = if index + 1 < SEE_ALSO.len() { ", " } else { "" };
        see_also.push(bold(*name));
        see_also.push(roman(format!("({section}){separator}")));
    }
    page.text(see_also);
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
    use crate::cli::Cli;
    use argh::ArgsInfo;

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
