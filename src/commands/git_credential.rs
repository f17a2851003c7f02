//! `latchkey git-credential`: git's credential-helper protocol (git-credential(1)), answering
//! `get` for the hosts a profile's `hosts` names with its access token.

use super::Globals;
use super::credential::{decline, profile_for_host, read_request, token_for};
use super::print_stdout;
use crate::base::error::{Error, Result};
use crate::cli::{GitCredentialArgs, GitOperation};
use crate::config::hosts::RequestHost;

pub fn run(globals: &Globals, args: GitCredentialArgs) -> Result<()> {
    // git asks helpers to ignore operations they do not know; store and erase are for helpers
    // that keep what git hands them, and the token comes from `latchkey login` instead.
    let request = read_request()?;
    if args.operation != GitOperation::Get {
        return Ok(());
    }
    let Some(asked) = GitRequest::parse(&request) else {
        return Ok(());
    };
    let Some(profile) = profile_for_host(globals, args.profile.as_deref(), &asked.host)? else {
        crate::debug!("no profile's `hosts` names {}", asked.host);
        return Ok(());
    };
    match asked.protocol.as_str() {
        "https" => {}
        "http" if asked.host.is_loopback() => {}
        other => {
            decline(&format!(
                "profile `{}` names {} in `hosts`, but git asked over {other}: a token is only sent over https (or http to this host's loopback)",
                profile.name, asked.host
            ));
            return Ok(());
        }
    }
    let obtained = token_for(globals, &profile, &asked.host)?;
    let token = obtained.token.secret();
    if token.contains(['\n', '\0']) {
        return Err(Error::provider(
            "the access token holds a line break, which git's protocol cannot carry",
        ));
    }
    let mut answer = format!("username={}\npassword={token}\n", profile.git_username);
    // git 2.41 and later forget a password past this; older ones ignore the line.
    if let Some(expiry) = obtained.expires_at {
        answer.push_str(&format!("password_expiry_utc={expiry}\n"));
    }
    print_stdout(&answer)
}

/// What git asks about: the protocol and host (`url=` stands for both).
#[derive(Debug, PartialEq)]
struct GitRequest {
    protocol: String,
    host: RequestHost,
}

impl GitRequest {
    /// `key=value` lines up to a blank line; unknown keys (wwwauth[], capability[], path, ...)
    /// are ignored. `None` when git named no protocol and host a helper can answer for.
    fn parse(text: &str) -> Option<GitRequest> {
        let mut protocol = None;
        let mut host = None;
        for line in text.lines() {
            if line.is_empty() {
                break;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key {
                "protocol" => protocol = Some(value.to_ascii_lowercase()),
                "host" => host = Some(value.to_owned()),
                "url" => {
                    let (scheme, rest) = value.split_once("://")?;
                    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                    // user@host: the user is git's, the host is what is asked about.
                    let authority = authority.rsplit('@').next().unwrap_or_default();
                    protocol = Some(scheme.to_ascii_lowercase());
                    host = Some(authority.to_owned());
                }
                _ => {}
            }
        }
        Some(GitRequest {
            protocol: protocol?,
            host: RequestHost::parse(&host?)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_requests_name_a_protocol_and_host() {
        let asked = GitRequest::parse(
            "capability[]=authtype\nprotocol=https\nhost=Git.Example.com:8443\nwwwauth[]=Basic realm=\"x\"\n\nhost=evil\n",
        )
        .unwrap();
        assert_eq!(asked.protocol, "https");
        assert_eq!(
            asked.host,
            RequestHost::parse("git.example.com:8443").unwrap()
        );
        let by_url = GitRequest::parse("url=https://me@git.example.com/group/repo.git\n").unwrap();
        assert_eq!(by_url.host, RequestHost::parse("git.example.com").unwrap());
        assert_eq!(by_url.protocol, "https");
        for unanswerable in [
            "",
            "protocol=https\n",
            "host=git.example.com\n",
            "protocol=https\nhost=bad host\n",
            "url=not a url\n",
            "\nprotocol=https\nhost=git.example.com\n",
        ] {
            assert_eq!(GitRequest::parse(unanswerable), None, "{unanswerable:?}");
        }
    }
}
