//! Build script: records where this build came from, for `latchkey --version`: the target triple
//! and the source commit, taken from git only when building latchkey's own checkout.
//!
//! It never guesses. A source archive without `.git` has no commit to name, unless it is a
//! crate package (`cargo package`/`cargo install`), whose `.cargo_vcs_info.json` records the
//! commit it was cut from. A checkout unpacked inside some other git repository (a home
//! directory under version control, say) must not borrow that repository's commit, so the
//! commit is read only when git's top level is this very directory.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files whose changes make up "local changes": what is compiled into the binary.
const SOURCES: &[&str] = &["src", "build.rs", "Cargo.toml", "Cargo.lock", ".cargo"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown target".into());
    println!("cargo:rerun-if-changed=build.rs");
    let source = git_source(&manifest_dir)
        .or_else(|| packaged_source(&manifest_dir))
        .unwrap_or_else(|| "source commit unknown".into());
    println!("cargo:rustc-env=LATCHKEY_BUILD_TARGET={target}");
    println!("cargo:rustc-env=LATCHKEY_BUILD_SOURCE={source}");
}

/// "commit 0123456789ab", plus " with local changes" when the compiled files differ from it.
fn git_source(manifest_dir: &Path) -> Option<String> {
    let toplevel = git(manifest_dir, &["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&toplevel), manifest_dir) {
        return None;
    }
    // Rebuild when the commit or the index moves (a commit, checkout or `git add`), and when a
    // compiled file changes (which may make the tree modified, or clean again).
    for watched in ["HEAD", "index"] {
        watch(
            manifest_dir,
            git(manifest_dir, &["rev-parse", "--git-path", watched]),
        );
    }
    if let Some(reference) = git(manifest_dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch(
            manifest_dir,
            git(manifest_dir, &["rev-parse", "--git-path", &reference]),
        );
        watch(
            manifest_dir,
            git(manifest_dir, &["rev-parse", "--git-path", "packed-refs"]),
        );
    }
    for source in SOURCES {
        watch(manifest_dir, Some((*source).to_string()));
    }
    let commit = git(manifest_dir, &["rev-parse", "--verify", "HEAD^{commit}"])?;
    let mut status_args = vec![
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
    ];
    status_args.extend(SOURCES);
    // --no-optional-locks: a status that refreshed the index would touch the file watched
    // above and make the next build run this script again.
    let modified = git(manifest_dir, &status_args).is_some_and(|status| !status.is_empty());
    let short = commit.get(..12).unwrap_or(&commit);
    Some(if modified {
        format!("commit {short} with local changes")
    } else {
        format!("commit {short}")
    })
}

/// The commit `cargo package` recorded in the crate it made, if this is one.
fn packaged_source(manifest_dir: &Path) -> Option<String> {
    let info_path = manifest_dir.join(".cargo_vcs_info.json");
    let info = std::fs::read_to_string(&info_path).ok()?;
    println!("cargo:rerun-if-changed=.cargo_vcs_info.json");
    // {"git": {"sha1": "<40 hex>", "dirty": true}, "path_in_vcs": ""}: too small a format to
    // bring a JSON parser into the build for.
    let after_key = &info[info.find("\"sha1\"")? + "\"sha1\"".len()..];
    let value = after_key
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let sha1 = value.get(..40)?;
    if !sha1.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let dirty = info.contains("\"dirty\": true") || info.contains("\"dirty\":true");
    Some(if dirty {
        format!("commit {} with local changes (packaged)", &sha1[..12])
    } else {
        format!("commit {} (packaged)", &sha1[..12])
    })
}

/// One line of git's output, or None when git is missing, fails or prints nothing useful.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim_end().to_string())
}

/// Watches a path (relative to the manifest directory, or absolute) if it exists: a missing
/// path would make cargo run this script on every build.
fn watch(manifest_dir: &Path, path: Option<String>) {
    let Some(path) = path else { return };
    let full = manifest_dir.join(&path);
    if full.exists() {
        println!("cargo:rerun-if-changed={}", full.display());
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
