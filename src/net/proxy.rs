//! Which proxy a request to the provider goes through: the profile's `proxy`, else the
//! environment (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, ...), and never the environment's for
//! a loopback host.

use crate::base::error::{Error, Result};
use crate::net::url::{self, Url};
use std::fmt;
use std::net::IpAddr;

/// A CONNECT proxy server (`http://` or `https://`), kept with a form that is safe to print.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyServer {
    proxy: ureq::Proxy,
    /// `scheme://host:port`, with a password replaced by `****`.
    shown: String,
}

impl fmt::Debug for ProxyServer {
    // The URL may carry a password: Debug shows only the printable form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyServer({})", self.shown)
    }
}

impl fmt::Display for ProxyServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl ProxyServer {
    /// `http://[user:password@]host[:port]` or `https://...`; a bare `host:port` means http,
    /// as in curl. The message never repeats the text, which may hold a password.
    pub fn parse(text: &str) -> Result<ProxyServer, String> {
        let text = text.trim();
        let proxy = ureq::Proxy::new(text).map_err(|_| {
            "is not a proxy URL; write http://HOST:PORT (or https://, with user:password@ if the proxy needs it)"
                .to_owned()
        })?;
        match proxy.protocol() {
            ureq::ProxyProtocol::Http | ureq::ProxyProtocol::Https => {}
            _ => {
                return Err(
                    "is a SOCKS proxy, which this build does not support; use an HTTP CONNECT proxy (http:// or https://)"
                        .to_owned(),
                );
            }
        }
        if proxy.host().is_empty() {
            return Err("has no host; write http://HOST:PORT".to_owned());
        }
        let scheme = match proxy.protocol() {
            ureq::ProxyProtocol::Https => "https",
            _ => "http",
        };
        let credentials = match (proxy.username(), proxy.password()) {
            (Some(user), Some(_)) => format!("{user}:****@"),
            (Some(user), None) => format!("{user}@"),
            (None, Some(_)) => ":****@".to_owned(),
            (None, None) => String::new(),
        };
        let shown = format!("{scheme}://{credentials}{}:{}", proxy.host(), proxy.port());
        Ok(ProxyServer { proxy, shown })
    }

    /// The proxy as ureq takes it.
    pub fn as_ureq(&self) -> &ureq::Proxy {
        &self.proxy
    }

    /// Whether latchkey talks TLS to the proxy itself (and so needs the trusted roots for it).
    pub fn is_https(&self) -> bool {
        self.proxy.protocol() == ureq::ProxyProtocol::Https
    }

    /// `host:port` of the proxy, for messages about reaching it.
    pub fn address(&self) -> String {
        format!("{}:{}", self.proxy.host(), self.proxy.port())
    }
}

/// The profile's `proxy` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxySetting {
    /// `proxy = "none"`: connect directly, whatever the environment says.
    Direct,
    /// `proxy = "http://host:port"`: every request of the profile goes through this proxy,
    /// loopback providers included.
    Via(ProxyServer),
}

impl ProxySetting {
    pub fn parse(text: &str) -> Result<ProxySetting, String> {
        match text.trim() {
            "none" | "direct" => Ok(ProxySetting::Direct),
            other => ProxyServer::parse(other).map(ProxySetting::Via),
        }
    }

    /// The value as `profiles show` prints it.
    pub fn shown(&self) -> String {
        match self {
            ProxySetting::Direct => "none".to_owned(),
            ProxySetting::Via(server) => server.to_string(),
        }
    }
}

/// Where the proxy of a request came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxySource {
    Profile,
    Env(&'static str),
}

impl fmt::Display for ProxySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySource::Profile => f.write_str("the profile's `proxy`"),
            ProxySource::Env(var) => write!(f, "{var}"),
        }
    }
}

/// The proxy one request goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub server: ProxyServer,
    pub source: ProxySource,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "proxy {} (from {})", self.server, self.source)
    }
}

/// Picks the proxy for a request to `target`, or `None` for a direct connection.
///
/// The profile's `proxy` wins over the environment. From the environment, the scheme's
/// variable is used (`https_proxy`/`HTTPS_PROXY` for https, `http_proxy`/`HTTP_PROXY` for http),
/// then `all_proxy`/`ALL_PROXY`; lower case first, as curl does. `no_proxy`/`NO_PROXY` and
/// loopback hosts bypass the environment's proxy: traffic to this machine never leaves it.
pub fn route(
    target: &Url,
    setting: Option<&ProxySetting>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Route>> {
    match setting {
        Some(ProxySetting::Direct) => return Ok(None),
        Some(ProxySetting::Via(server)) => {
            return Ok(Some(Route {
                server: server.clone(),
                source: ProxySource::Profile,
            }));
        }
        None => {}
    }
    if url::is_loopback_host(target.host()) {
        return Ok(None);
    }
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if let Some(list) = set("no_proxy").or_else(|| set("NO_PROXY"))
        && no_proxy_matches(&list, target.host(), target.port_or_default())
    {
        return Ok(None);
    }
    let candidates: [&'static str; 4] = if target.scheme() == "https" {
        ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    } else {
        ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
    };
    for var in candidates {
        if let Some(value) = set(var) {
            let server = ProxyServer::parse(&value).map_err(|m| {
                Error::config(format!("the environment variable {var} {m}"))
                    .hint(format!("fix or unset {var}, or set `proxy` in the profile"))
            })?;
            return Ok(Some(Route {
                server,
                source: ProxySource::Env(var),
            }));
        }
    }
    Ok(None)
}

/// Whether `host` (lower case; IPv6 in brackets) at `port` is listed in a `NO_PROXY` value:
/// entries separated by commas or spaces, each `*` (everything), a domain (itself and every
/// name under it, with or without a leading `.` or `*.`), an IP address, or a CIDR block
/// (`10.0.0.0/8`); a domain or address may end in `:PORT` to match that port only.
pub fn no_proxy_matches(list: &str, host: &str, port: u16) -> bool {
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let host_ip: Option<IpAddr> = bare_host.parse().ok();
    list.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some((net, bits)) = entry.split_once('/') {
                return match (host_ip, net.parse::<IpAddr>(), bits.parse::<u8>()) {
                    (Some(ip), Ok(net), Ok(bits)) => in_cidr(ip, net, bits),
                    _ => false,
                };
            }
            let (name, entry_port) = split_entry_port(entry);
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            let name = name.to_ascii_lowercase();
            if let Ok(ip) = name.parse::<IpAddr>() {
                return host_ip == Some(ip);
            }
            let domain = name.trim_start_matches('*').trim_start_matches('.');
            !domain.is_empty()
                && (bare_host == domain
                    || bare_host
                        .strip_suffix(domain)
                        .is_some_and(|rest| rest.ends_with('.')))
        })
}

/// `host:port`, `[v6]:port`, `[v6]`, a bare IPv6 address, or a plain name.
fn split_entry_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, after)) => (ip, after.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (entry, None),
        };
    }
    if entry.parse::<IpAddr>().is_ok() {
        return (entry, None);
    }
    match entry.rsplit_once(':') {
        Some((name, port)) => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (entry, None),
        },
        None => (entry, None),
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn via(target: &str, setting: Option<&ProxySetting>, vars: &[(&str, &str)]) -> Option<String> {
        route(&url(target), setting, &env(vars))
            .unwrap()
            .map(|r| format!("{} {}", r.server, r.source))
    }

    #[test]
    fn the_schemes_variable_then_all_proxy_lower_case_first() {
        let vars = [
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:2"),
            ("ALL_PROXY", "http://all:3"),
            ("HTTP_PROXY", "http://plain:4"),
        ];
        assert_eq!(
            via("https://idp.example/", None, &vars).as_deref(),
            Some("http://lower:2 https_proxy")
        );
        assert_eq!(
            via("https://idp.example/", None, &vars[..1]).as_deref(),
            Some("http://upper:1 HTTPS_PROXY")
        );
        // HTTP_PROXY is for http URLs only; an https request falls back to ALL_PROXY.
        assert_eq!(
            via("https://idp.example/", None, &vars[2..]).as_deref(),
            Some("http://all:3 ALL_PROXY")
        );
        assert_eq!(via("https://idp.example/", None, &vars[3..]), None);
        assert_eq!(
            via("https://idp.example/", None, &[("HTTPS_PROXY", " ")]),
            None
        );
    }

    #[test]
    fn loopback_is_never_proxied_from_the_environment() {
        let vars = [("HTTPS_PROXY", "http://p:1"), ("HTTP_PROXY", "http://p:1")];
        for target in [
            "https://127.0.0.1:8443/",
            "http://localhost:3000",
            "http://[::1]:80/",
            "https://127.1.2.3/",
        ] {
            assert_eq!(via(target, None, &vars), None, "{target}");
        }
    }

    #[test]
    fn the_profile_wins_and_may_proxy_loopback() {
        let explicit = ProxySetting::parse("http://corp:3128").unwrap();
        let vars = [("HTTPS_PROXY", "http://env:1"), ("NO_PROXY", "*")];
        assert_eq!(
            via("https://127.0.0.1:8443/", Some(&explicit), &vars).as_deref(),
            Some("http://corp:3128 the profile's `proxy`")
        );
        let none = ProxySetting::parse("none").unwrap();
        assert_eq!(via("https://idp.example/", Some(&none), &vars), None);
    }

    #[test]
    fn no_proxy_bypasses_the_environment() {
        let with = |no_proxy: &str, target: &str| {
            via(
                target,
                None,
                &[("HTTPS_PROXY", "http://p:1"), ("no_proxy", no_proxy)],
            )
            .is_none()
        };
        assert!(with("example.com", "https://idp.example.com/"));
        assert!(with(".example.com", "https://example.com/"));
        assert!(with("*.example.com", "https://a.b.example.com/"));
        assert!(!with("example.com", "https://badexample.com/"));
        assert!(with("other, idp.example:8443", "https://idp.example:8443/"));
        assert!(!with("idp.example:8443", "https://idp.example/"));
        assert!(with("10.0.0.0/8", "https://10.1.2.3/"));
        assert!(!with("10.0.0.0/8", "https://11.1.2.3/"));
        assert!(with("fd00::/8", "https://[fd12::1]/"));
        assert!(with("192.168.1.5", "https://192.168.1.5:9000/"));
        assert!(with("*", "https://anything/"));
        assert!(!with("", "https://anything/"));
    }

    #[test]
    fn proxy_urls_are_checked_and_passwords_never_shown() {
        let server = ProxyServer::parse("http://alice:s3cret@proxy.corp:3128").unwrap();
        assert_eq!(server.to_string(), "http://alice:****@proxy.corp:3128");
        assert!(!format!("{server:?}").contains("s3cret"));
        assert_eq!(
            ProxyServer::parse("proxy.corp:8080").unwrap().to_string(),
            "http://proxy.corp:8080"
        );
        assert!(ProxyServer::parse("https://proxy.corp").unwrap().is_https());
        let socks = ProxyServer::parse("socks5://proxy:1080").unwrap_err();
        assert!(socks.contains("SOCKS"), "{socks}");
        assert!(ProxyServer::parse("http://").is_err());
        let err = route(
            &url("https://idp.example/"),
            None,
            &env(&[("HTTPS_PROXY", "ftp://user:pw@x")]),
        )
        .unwrap_err();
        assert!(
            err.message().contains("HTTPS_PROXY") && !err.message().contains("pw"),
            "{}",
            err.message()
        );
    }
}
