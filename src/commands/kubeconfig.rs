//! `latchkey kubeconfig`: a kubeconfig user whose exec credential plugin is this latchkey, added
//! or updated in the file kubectl would write it to (the edit itself is `config::kubeconfig`).

use super::{Globals, print_stdout};
use crate::base::error::{Error, Result};
use crate::base::text::{escape_controls, quoted, shown_whole};
use crate::cli::KubeconfigArgs;
use crate::config::kubeconfig::{self, Change, Edit, ExecUser, shell_word};
use crate::config::paths::{self, ConfigOrigin};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What kubectl runs latchkey with: the one place the exec arguments are made. `profiles_file`
/// is the profiles file to name with `--config`, when it is not the default one.
pub fn exec_args(profile: &str, profiles_file: Option<&str>, id_token: bool) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if let Some(file) = profiles_file {
        args.extend(["--config".to_owned(), file.to_owned()]);
    }
    // kubectl says in KUBERNETES_EXEC_INFO whether it passes its terminal on (interactiveMode
    // IfAvailable): then a dead login is replaced by a login, otherwise `token` exits 4 at once.
    args.extend(
        [
            "token",
            "--profile",
            profile,
            "--format",
            "exec-credential",
            "--login-if-needed",
        ]
        .map(str::to_owned),
    );
    if id_token {
        args.push("--id-token".to_owned());
    }
    args
}

pub fn run(globals: &Globals, args: KubeconfigArgs) -> Result<()> {
    let file = globals.load_profiles()?;
    let profile = globals.profile(&file, args.profile.as_deref())?;
    let user_name = args
        .user
        .clone()
        .unwrap_or_else(|| format!("latchkey-{}", profile.name));
    if user_name.trim().is_empty() || user_name.chars().any(char::is_control) {
        return Err(Error::usage(format!(
            "--user {} is not a name for a kubeconfig user",
            quoted(&user_name)
        )));
    }
    let command = this_program()?;
    // A profiles file given by flag or LATCHKEY_CONFIG is named in the arguments: kubectl may
    // run the plugin from an environment without that variable.
    let profiles_file = match file.origin {
        ConfigOrigin::Default => None,
        ConfigOrigin::Flag | ConfigOrigin::Env => {
            Some(utf8(absolute(&file.path), "the profiles file")?)
        }
    };
    let plugin_args = exec_args(&profile.name, profiles_file.as_deref(), args.id_token);
    let install_hint = format!(
        "latchkey was not found at {command}: install it there, or run `latchkey kubeconfig -p {}` again from where it is installed",
        profile.name
    );
    let user = ExecUser {
        name: &user_name,
        command: &command,
        args: &plugin_args,
        install_hint: &install_hint,
    };
    let path = target(args.kubeconfig.as_deref(), &user_name)?;
    let shown_path = shown_whole(&path.display().to_string());
    let old = read(&path)?;
    let edit = kubeconfig::set_exec_user(&path, old.as_deref(), &user)?;
    let what = match edit.change {
        Change::Added => "adds",
        Change::Updated => "updates",
        Change::Unchanged => "has",
    };
    eprintln!(
        "{shown_path}: {what} user {} for profile `{}`{}",
        quoted(&user_name),
        profile.name,
        if edit.change == Change::Unchanged {
            " already; nothing to change"
        } else {
            ""
        }
    );
    if args.dry_run {
        if edit.change != Change::Unchanged {
            print_stdout(&diff(&shown_path, old.is_some(), &edit))?;
        }
        eprintln!("Nothing written (--dry-run).");
        return Ok(());
    }
    if edit.change != Change::Unchanged {
        write(&path, &edit.text)?;
        eprintln!("Wrote {shown_path}.");
    }
    eprintln!(
        "To use it: {}",
        set_context_line(args.kubeconfig.as_deref(), &edit.text, &user_name)
    );
    Ok(())
}

/// The running latchkey's absolute path, links resolved: what kubectl runs.
fn this_program() -> Result<String> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| Error::other(format!("cannot tell where this latchkey is: {e}")))?;
    utf8(exe, "this latchkey")
}

fn utf8(path: PathBuf, what: &str) -> Result<String> {
    path.into_os_string().into_string().map_err(|path| {
        Error::other(format!(
            "the path of {what} is not UTF-8, which a kubeconfig cannot hold: {}",
            shown_whole(&PathBuf::from(path).display().to_string())
        ))
    })
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The kubeconfig to change, as kubectl chooses where `kubectl config set-credentials` writes
/// (client-go's `ModifyConfig` and `PathOptions::GetDefaultFilename`): the one file given; of
/// several in KUBECONFIG, the first that has the user already, else the first that exists, else
/// the last.
fn target(flag: Option<&Path>, user: &str) -> Result<PathBuf> {
    let (mut files, origin) = paths::kubeconfig_files(flag)?;
    crate::debug!("kubeconfig candidates ({origin:?}): {files:?}");
    if files.len() > 1 {
        let holder = files.iter().position(|file| {
            std::fs::read_to_string(file).is_ok_and(|text| kubeconfig::has_user(&text, user))
        });
        let chosen = holder
            .or_else(|| files.iter().position(|file| file.exists()))
            .unwrap_or(files.len() - 1);
        return Ok(files.swap_remove(chosen));
    }
    let only = files.pop();
    only.ok_or_else(|| Error::config("no kubeconfig file to change"))
}

/// The kubeconfig's text, or `None` when there is no file yet.
fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            Error::config(format!(
                "{} is not UTF-8 text, so not a kubeconfig latchkey can edit",
                shown_whole(&path.display().to_string())
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::config(format!(
            "cannot read the kubeconfig {}: {e}",
            shown_whole(&path.display().to_string())
        ))),
    }
}

/// Replaces the file atomically, keeping its mode; a new one is 0600, in a directory made 0700
/// if it is missing (as kubectl makes `~/.kube`).
fn write(path: &Path, text: &str) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::config(format!(
            "cannot write the kubeconfig {}: {e}",
            shown_whole(&path.display().to_string())
        ))
    };
    let resolved = std::fs::canonicalize(path).ok();
    if let Some(dir) = resolved.as_deref().unwrap_or(path).parent()
        && !dir.as_os_str().is_empty()
        && !dir.is_dir()
    {
        crate::base::files::make_private_dir(dir)?;
    }
    crate::base::files::replace_keeping_mode(path, text.as_bytes(), Some(0o600)).map_err(fail)
}

/// The kubectl command that makes a context use the user: the current context, when the file
/// names one, else a new context to complete.
fn set_context_line(flag: Option<&Path>, text: &str, user: &str) -> String {
    let mut line = "kubectl".to_owned();
    if let Some(file) = flag {
        let _ = write!(
            line,
            " --kubeconfig {}",
            shell_word(&file.display().to_string())
        );
    }
    line.push_str(" config set-context ");
    match kubeconfig::current_context(text) {
        Some(_) => line.push_str("--current"),
        None => line.push_str("CONTEXT --cluster=CLUSTER"),
    }
    let _ = write!(line, " --user={}", shell_word(user));
    escape_controls(&line)
}

/// Keys whose values are secrets: their values are not shown in a diff of a replaced entry.
const SECRET_KEYS: &[&str] = &[
    "token",
    "password",
    "client-key-data",
    "access-token",
    "id-token",
    "refresh-token",
    "client-secret",
];

/// The change as a unified diff without context lines (what `diff -U0` prints), secrets of the
/// replaced entry left out and every line escaped for the terminal.
fn diff(shown_path: &str, existed: bool, edit: &Edit) -> String {
    let hunk = &edit.hunk;
    let (old_start, old_count) = match hunk.old.len() {
        0 => (hunk.old_start - 1, 0),
        n => (hunk.old_start, n),
    };
    let new_start = if hunk.new.is_empty() {
        hunk.old_start - 1
    } else {
        hunk.old_start
    };
    let mut out = String::new();
    let from = if existed { shown_path } else { "/dev/null" };
    let _ = writeln!(out, "--- {from}\n+++ {shown_path}");
    let _ = writeln!(
        out,
        "@@ -{old_start},{old_count} +{new_start},{} @@",
        hunk.new.len()
    );
    for line in &hunk.old {
        diff_line(&mut out, '-', &redacted(line));
    }
    for line in &hunk.new {
        diff_line(&mut out, '+', line);
    }
    out
}

fn diff_line(out: &mut String, sign: char, line: &str) {
    let body = line.strip_suffix('\n').unwrap_or(line);
    let body = body.strip_suffix('\r').unwrap_or(body);
    let _ = writeln!(out, "{sign}{}", escape_controls(body));
    if !line.ends_with('\n') {
        out.push_str("\\ No newline at end of file\n");
    }
}

/// A line with the value of a secret key replaced.
fn redacted(line: &str) -> String {
    let text = line.trim_start_matches([' ', '\t', '-']);
    let indent = &line[..line.len() - text.len()];
    for key in SECRET_KEYS {
        if let Some(value) = text
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            && !value.trim().is_empty()
        {
            let end = if line.ends_with("\r\n") {
                "\r\n"
            } else if line.ends_with('\n') {
                "\n"
            } else {
                ""
            };
            return format!("{indent}{key}: [redacted]{end}");
        }
    }
    line.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::kubeconfig::Hunk;

    #[test]
    fn exec_args_are_made_in_one_place() {
        assert_eq!(
            exec_args("dev", None, false),
            [
                "token",
                "--profile",
                "dev",
                "--format",
                "exec-credential",
                "--login-if-needed"
            ]
        );
        assert_eq!(
            exec_args("dev", Some("/p.toml"), true),
            [
                "--config",
                "/p.toml",
                "token",
                "--profile",
                "dev",
                "--format",
                "exec-credential",
                "--login-if-needed",
                "--id-token"
            ]
        );
    }

    #[test]
    fn the_diff_is_unified_with_secrets_left_out() {
        let edit = Edit {
            text: String::new(),
            change: Change::Updated,
            hunk: Hunk {
                old_start: 3,
                old: vec![
                    "- name: a\n".into(),
                    "  user:\n".into(),
                    "    token: s3cret\n".into(),
                ],
                new: vec!["- name: \"a\"\n".into(), "  user: {}".into()],
            },
        };
        let shown = diff("/k", true, &edit);
        assert_eq!(
            shown,
            "--- /k\n+++ /k\n@@ -3,3 +3,2 @@\n-- name: a\n-  user:\n-    token: [redacted]\n+- name: \"a\"\n+  user: {}\n\\ No newline at end of file\n"
        );
        let added = Edit {
            hunk: Hunk {
                old_start: 5,
                old: vec![],
                new: vec!["x\n".into()],
            },
            ..edit
        };
        assert!(
            diff("/k", false, &added).starts_with("--- /dev/null\n+++ /k\n@@ -4,0 +5,1 @@\n+x\n")
        );
    }

    #[test]
    fn the_context_line_names_the_file_only_when_given() {
        let user = "latchkey-dev";
        assert_eq!(
            set_context_line(None, "current-context: prod\n", user),
            "kubectl config set-context --current --user=latchkey-dev"
        );
        assert_eq!(
            set_context_line(Some(Path::new("/my k/c")), "kind: Config\n", user),
            "kubectl --kubeconfig '/my k/c' config set-context CONTEXT --cluster=CLUSTER --user=latchkey-dev"
        );
    }
}
