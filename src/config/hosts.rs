//! The `hosts` key: which git servers and container registries a profile serves, and matching
//! the host a credential helper is asked about against it. A token goes only to a host its
//! profile names here, whatever the repository or image being fetched says.

use serde::Serialize;
use std::fmt;

/// One entry of `hosts`: a host name or IP address, lower-cased, with an optional port. Without
/// a port it matches the host on any port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct HostEntry {
    host: String,
    port: Option<u16>,
}

/// The longest host name DNS allows.
const MAX_HOST_LEN: usize = 253;

impl HostEntry {
    /// `git.example.com`, `registry.example.com:5000`, `127.0.0.1:8080`, `[::1]:8443`. No scheme,
    /// no path, no wildcard: a helper must never guess which hosts a profile meant.
    pub fn parse(text: &str) -> Result<HostEntry, String> {
        let text = text.trim();
        if text.contains("://") || text.contains('/') {
            return Err(format!(
                "{text:?} is not a host name: write it without scheme or path, as \"git.example.com\" or \"registry.example.com:5000\""
            ));
        }
        let (host, port) = split_host_port(text)
            .ok_or_else(|| format!("{text:?} is not a host name or host:port"))?;
        if host.is_empty() || host.len() > MAX_HOST_LEN || !is_host_text(host) {
            return Err(format!(
                "{text:?} is not a host name: letters, digits, `-` and `.` (or an [IPv6] address), optionally with :PORT"
            ));
        }
        Ok(HostEntry {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether this entry claims `host` (already lower-cased by [`RequestHost::parse`]).
    pub fn claims(&self, request: &RequestHost) -> bool {
        self.host == request.host && self.port.is_none_or(|port| Some(port) == request.port)
    }

    /// The host and port as git's and docker's URLs write them.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    pub fn is_loopback(&self) -> bool {
        crate::net::url::is_loopback_host(&self.host)
    }
}

impl fmt::Display for HostEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.authority())
    }
}

impl From<HostEntry> for String {
    fn from(entry: HostEntry) -> String {
        entry.authority()
    }
}

/// The host a helper is asked about, from git's `host=` or docker's server URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHost {
    pub host: String,
    pub port: Option<u16>,
}

impl RequestHost {
    /// `host` or `host:port`, as git sends it; `None` for anything else.
    pub fn parse(text: &str) -> Option<RequestHost> {
        let (host, port) = split_host_port(text.trim())?;
        (!host.is_empty() && host.len() <= MAX_HOST_LEN && is_host_text(host)).then(|| {
            RequestHost {
                host: host.to_ascii_lowercase(),
                port,
            }
        })
    }

    pub fn is_loopback(&self) -> bool {
        crate::net::url::is_loopback_host(&self.host)
    }
}

impl fmt::Display for RequestHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`. The brackets stay on an IPv6 host, as in a URL.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if text.starts_with('[') {
        let end = text.find(']')?;
        let (host, rest) = text.split_at(end + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        None => None,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse::<u16>().ok().filter(|p| *p != 0)?)
        }
        Some(_) => return None,
    };
    Some((host, port))
}

fn is_host_text(host: &str) -> bool {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> RequestHost {
        RequestHost::parse(text).unwrap()
    }

    #[test]
    fn entries_are_hosts_with_an_optional_port() {
        let plain = HostEntry::parse(" Git.Example.com ").unwrap();
        assert_eq!(plain.to_string(), "git.example.com");
        assert!(plain.claims(&request("git.example.com")));
        assert!(plain.claims(&request("GIT.example.com:8443")));
        assert!(!plain.claims(&request("example.com")));
        assert!(!plain.claims(&request("git.example.com.evil.net")));
        let with_port = HostEntry::parse("registry.example.com:5000").unwrap();
        assert!(with_port.claims(&request("registry.example.com:5000")));
        assert!(!with_port.claims(&request("registry.example.com")));
        assert!(!with_port.claims(&request("registry.example.com:5001")));
        let v6 = HostEntry::parse("[::1]:8080").unwrap();
        assert!(v6.claims(&request("[::1]:8080")) && v6.is_loopback());
    }

    #[test]
    fn anything_but_a_host_is_refused() {
        for bad in [
            "https://git.example.com",
            "git.example.com/group",
            "",
            "*.example.com",
            "host:",
            "host:0",
            "host:70000",
            "host:80a",
            "[::1",
            "[not-v6]",
            "a b",
            "host\u{1b}[31m",
        ] {
            assert!(HostEntry::parse(bad).is_err(), "{bad:?}");
        }
        assert!(RequestHost::parse("host\n").is_some(), "trimmed");
        assert!(RequestHost::parse("ho st").is_none());
        assert!(RequestHost::parse(&"a".repeat(300)).is_none());
    }
}
