//! Where latchkey's files live: the profiles file and the data directory for tokens and keys.

use crate::base::error::{Error, Result};
use std::path::{Path, PathBuf};

/// How the profiles file was found, so messages and `profiles show` can say why it is that one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigOrigin {
    Flag,
    Env,
    Default,
}

/// `--config` > `LATCHKEY_CONFIG` > `$XDG_CONFIG_HOME/latchkey/profiles.toml`, falling back to the
/// platform's config directory (`~/.config` on Linux and BSD, `~/Library/Application Support` on
/// macOS, `%APPDATA%` on Windows).
pub fn config_file(flag: Option<&Path>) -> Result<(PathBuf, ConfigOrigin)> {
    if let Some(path) = flag {
        return Ok((path.to_path_buf(), ConfigOrigin::Flag));
    }
    if let Some(path) = std::env::var_os("LATCHKEY_CONFIG").filter(|v| !v.is_empty()) {
        return Ok((PathBuf::from(path), ConfigOrigin::Env));
    }
    let dir = xdg_or_platform("XDG_CONFIG_HOME", dirs::config_dir()).ok_or_else(|| {
        Error::config("cannot find a config directory: neither XDG_CONFIG_HOME nor HOME is set")
            .hint("pass --config FILE or set LATCHKEY_CONFIG")
    })?;
    Ok((
        dir.join("latchkey").join("profiles.toml"),
        ConfigOrigin::Default,
    ))
}

/// `$XDG_DATA_HOME/latchkey`, falling back to the platform's data directory (`~/.local/share` on
/// Linux and BSD, `~/Library/Application Support` on macOS, `%LOCALAPPDATA%` on Windows).
///
/// On Windows the local, not the roaming, profile (`%APPDATA%`): tokens and the key that
/// decrypts them belong to this machine, and a roaming profile is copied to a server and to
/// every machine the user signs in to. (The profiles file, which holds no secret, roams.)
pub fn data_dir() -> Result<PathBuf> {
    let dir = xdg_or_platform("XDG_DATA_HOME", platform_data_dir()).ok_or_else(|| {
        Error::store("cannot find a data directory: neither XDG_DATA_HOME nor HOME is set")
            .hint("set XDG_DATA_HOME to a directory latchkey may keep its tokens in")
    })?;
    Ok(dir.join("latchkey"))
}

#[cfg(windows)]
fn platform_data_dir() -> Option<PathBuf> {
    dirs::data_local_dir()
}

#[cfg(not(windows))]
fn platform_data_dir() -> Option<PathBuf> {
    dirs::data_dir()
}

/// The XDG base directory spec says relative values are invalid and must be ignored.
fn xdg_or_platform(var: &str, platform: Option<PathBuf>) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or(platform)
}

/// How the kubeconfig candidates were found, so the command can say why it is that file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeconfigOrigin {
    Flag,
    Env,
    Default,
}

/// The kubeconfigs kubectl reads, as client-go finds them: `--kubeconfig`, else each file of
/// `KUBECONFIG` (split as the platform splits PATH, `:` or on Windows `;`, with empty entries and
/// repeats dropped), else `~/.kube/config`. Which of several gets a new user is the command's
/// choice (`commands::kubeconfig`), as it reads them.
pub fn kubeconfig_files(flag: Option<&Path>) -> Result<(Vec<PathBuf>, KubeconfigOrigin)> {
    if let Some(path) = flag {
        return Ok((vec![path.to_path_buf()], KubeconfigOrigin::Flag));
    }
    if let Some(value) = std::env::var_os("KUBECONFIG") {
        let mut files: Vec<PathBuf> = Vec::new();
        for file in std::env::split_paths(&value) {
            if !file.as_os_str().is_empty() && !files.contains(&file) {
                files.push(file);
            }
        }
        if !files.is_empty() {
            return Ok((files, KubeconfigOrigin::Env));
        }
    }
    let home = dirs::home_dir().ok_or_else(|| {
        Error::config("cannot find the kubeconfig: HOME is not set")
            .hint("pass --kubeconfig FILE or set KUBECONFIG")
    })?;
    Ok((
        vec![home.join(".kube").join("config")],
        KubeconfigOrigin::Default,
    ))
}
