//! The README's test command on a machine that lacks what the tests drive: `tests/run` must not
//! start a long build that fails half-way, but stop at once with the command that fixes it.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// Programs `tests/run` itself needs before it checks for the rest.
const BASICS: &[&str] = &[
    "bash", "env", "id", "sort", "printf", "cat", "dirname", "node",
];

#[test]
fn tests_run_without_prerequisites_names_the_install_command() {
    // Only root can run a step as another user; elsewhere say so loudly.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED (not root): this test runs tests/run as user nobody");
        return;
    }
    let bin = tempfile::tempdir().unwrap();
    // nobody must be able to look inside (tempdir makes it 0700).
    std::fs::set_permissions(
        bin.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    for program in BASICS {
        let found = ["/usr/bin", "/bin", "/usr/local/bin"]
            .iter()
            .map(|dir| Path::new(dir).join(program))
            .find(|path| path.exists())
            .unwrap_or_else(|| panic!("{program} is not installed"));
        symlink(found, bin.path().join(program)).unwrap();
    }
    let repo = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("/usr/bin/setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(Path::new(repo).join("tests/run"))
        .env_clear()
        .env("PATH", bin.path())
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("install them with:  sudo apt-get install"),
        "{stderr}"
    );
    for package in [
        "tmux",
        "zsh",
        "fish",
        "mandoc",
        "man-db",
        "npm",
        "openssl",
        "util-linux",
        "zbar-tools",
        "chromium",
        "git",
        "kubernetes-client",
    ] {
        assert!(stderr.contains(package), "{package} not named: {stderr}");
    }
    assert!(!stderr.contains("nodejs"), "node is there: {stderr}");
}
