//! `latchkey docker-credential` (also run as `docker-credential-latchkey`): docker's
//! credential-helper protocol, answering `get` for the registries a profile's `hosts` names.

use super::Globals;
use super::credential::{decline, profile_for_host, read_request, token_for};
use super::print_stdout;
use crate::base::error::{Error, Result};
use crate::cli::{DockerCredentialArgs, DockerOperation};
use crate::config::hosts::RequestHost;
use serde_json::json;

/// The program name that selects this command, as docker runs `docker-credential-<name>`.
pub const PROGRAM: &str = "docker-credential-latchkey";

/// What docker's client looks for on stdout to tell "no credentials" from a failure.
const NOT_FOUND: &str = "credentials not found in native keychain";

pub fn run(globals: &Globals, args: DockerCredentialArgs) -> Result<()> {
    match args.operation {
        DockerOperation::Get => get(globals, args.profile.as_deref()),
        // docker hands over what `docker login` was typed; the token comes from latchkey's login.
        DockerOperation::Store | DockerOperation::Erase => read_request().map(|_| ()),
        DockerOperation::List => list(globals, args.profile.as_deref()),
        DockerOperation::Version => {
            print_stdout(&format!("{PROGRAM} {}\n", env!("CARGO_PKG_VERSION")))
        }
    }
}

fn get(globals: &Globals, profile_flag: Option<&str>) -> Result<()> {
    let request = read_request()?;
    let server_url = request.trim();
    let Some((secure, host)) = registry_host(server_url) else {
        return not_found();
    };
    let Some(profile) = profile_for_host(globals, profile_flag, &host)? else {
        return not_found();
    };
    if !secure && !host.is_loopback() {
        decline(&format!(
            "profile `{}` names {host} in `hosts`, but docker asked for http://: a token is only sent over https (or http to this host's loopback)",
            profile.name
        ));
        return not_found();
    }
    let obtained = token_for(globals, &profile, &host)?;
    let answer = json!({
        "ServerURL": server_url,
        "Username": profile.registry_username,
        "Secret": obtained.token.secret(),
    });
    print_stdout(&format!("{answer}\n"))
}

/// Docker's answer when this helper has nothing: the message on stdout, exit 1.
fn not_found() -> Result<()> {
    print_stdout(&format!("{NOT_FOUND}\n"))?;
    Err(Error::silent_failure())
}

fn list(globals: &Globals, profile_flag: Option<&str>) -> Result<()> {
    let file = globals.load_profiles()?;
    let mut servers = serde_json::Map::new();
    let profiles: Vec<_> = match globals.profile_name(profile_flag) {
        Some(name) => vec![globals.profile(&file, Some(name))?],
        None => file
            .profile_names()
            .filter_map(|name| file.resolve_profile(name, &Default::default()).ok())
            .collect(),
    };
    for profile in profiles {
        for host in &profile.hosts {
            servers
                .entry(host.authority())
                .or_insert_with(|| json!(profile.registry_username));
        }
    }
    print_stdout(&format!("{}\n", serde_json::Value::Object(servers)))
}

/// The registry in docker's server URL: `registry.example.com`, `host:5000`,
/// `https://host/v1/`; whether it is reached over https. Docker Hub's `index.docker.io` and
/// `registry-1.docker.io` are named as they are.
fn registry_host(server_url: &str) -> Option<(bool, RequestHost)> {
    let (secure, rest) = match server_url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
        Some(_) => return None,
        None => (true, server_url),
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') {
        return None;
    }
    Some((secure, RequestHost::parse(authority)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_name_a_registry() {
        let host = |text: &str| RequestHost::parse(text).unwrap();
        assert_eq!(
            registry_host("registry.example.com"),
            Some((true, host("registry.example.com")))
        );
        assert_eq!(
            registry_host("https://Registry.Example.com:5000/v2/"),
            Some((true, host("registry.example.com:5000")))
        );
        assert_eq!(
            registry_host("http://127.0.0.1:5000"),
            Some((false, host("127.0.0.1:5000")))
        );
        for bad in ["", "ftp://x", "https://u:p@x/", "https://bad host/"] {
            assert_eq!(registry_host(bad), None, "{bad:?}");
        }
    }
}
