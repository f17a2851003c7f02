//! The committed man page and completion scripts are exactly what the binary generates now:
//! a change to the command line that was not regenerated fails here, saying how to fix it.

use std::path::{Path, PathBuf};
use std::process::Command;

const REGENERATE: &str = "BLESS=1 cargo test --test tests generated::";

/// Every generated file: where it is committed and the arguments that print it.
fn generated_files() -> Vec<(PathBuf, Vec<&'static str>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(PathBuf, Vec<&'static str>)> = latchkey::cli::shell::Shell::ALL
        .iter()
        .map(|shell| {
            (
                root.join("completions").join(shell.file_name()),
                vec!["completions", shell.name()],
            )
        })
        .collect();
    files.push((root.join("man/latchkey.1"), vec!["man"]));
    files
}

fn generate(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env_clear()
        .output()
        .expect("run latchkey");
    assert!(
        out.status.success(),
        "latchkey {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The first line that differs, to show what changed without printing whole files.
fn first_difference(committed: &str, generated: &str) -> String {
    let mut committed_lines = committed.lines();
    let mut generated_lines = generated.lines();
    for number in 1.. {
        match (committed_lines.next(), generated_lines.next()) {
            (None, None) => break,
            (a, b) if a == b => continue,
            (a, b) => {
                return format!(
                    "line {number}:\n    committed: {}\n    generated: {}",
                    a.unwrap_or("(end of file)"),
                    b.unwrap_or("(end of file)")
                );
            }
        }
    }
    "(only the final newline differs)".to_owned()
}

#[test]
fn committed_man_page_and_completions_match_the_cli() {
    let bless = std::env::var_os("BLESS").is_some_and(|v| !v.is_empty() && v != "0");
    let mut stale = Vec::new();
    for (path, args) in generated_files() {
        let generated = generate(&args);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == generated {
            continue;
        }
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
            eprintln!("rewrote {}", path.display());
        } else {
            stale.push(format!(
                "{} differs from `latchkey {}`, {}",
                path.display(),
                args.join(" "),
                first_difference(&committed, &generated)
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "generated files are out of date with the command line; regenerate them with\n\n    {REGENERATE}\n\nand commit the result.\n\n{}",
        stale.join("\n\n")
    );
}
