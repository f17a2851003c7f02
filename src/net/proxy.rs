//! Which proxy a request to the provider goes through: the profile's `proxy`, else the
//! environment (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, ...), and never the environment's for
//! a loopback host. HTTP CONNECT proxies and SOCKS5 ones (`socks5://`, `socks5h://`).

use crate::base::error::{Error, Result};
use crate::net::url::{self, Url};
use std::fmt;
use std::net::IpAddr;

/// What a proxy URL must look like, for messages.
const PROXY_FORMS: &str = "write http://HOST:PORT or https://HOST:PORT (an HTTP CONNECT proxy), socks5://HOST:PORT (SOCKS5, the provider's name resolved on this machine) or socks5h://HOST:PORT (SOCKS5, the proxy resolves it), with USER:PASSWORD@ before the host if the proxy needs them";

/// A proxy server, kept with a form that is safe to print: an HTTP CONNECT proxy (`http://`,
/// `https://`) or a SOCKS5 one (`socks5://`, `socks5h://`).
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
    /// `http://[user:password@]host[:port]`, `https://...`, `socks5://...` or `socks5h://...`;
    /// a bare `host:port` means http, as in curl. The message never repeats the text, which
    /// may hold a password.
    pub fn parse(text: &str) -> Result<ProxyServer, String> {
        let text = text.trim();
        let proxy =
            ureq::Proxy::new(text).map_err(|_| format!("is not a proxy URL; {PROXY_FORMS}"))?;
        // ureq reads `socks://` as SOCKS5 and curl as SOCKS4: a URL that would mean one thing
        // to curl and another here is refused. SOCKS4 is refused too: it has no passwords and
        // no IPv6, and the SOCKS servers in use (OpenSSH's `ssh -D`, Tor, Dante) speak SOCKS5.
        let scheme = text
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        let scheme = match (proxy.protocol(), scheme.as_deref()) {
            (ureq::ProxyProtocol::Http, _) => "http",
            (ureq::ProxyProtocol::Https, _) => "https",
            (ureq::ProxyProtocol::Socks5, Some("socks5")) => "socks5",
            (ureq::ProxyProtocol::Socks5h, _) => "socks5h",
            (ureq::ProxyProtocol::Socks5, _) => {
                return Err(
                    "is a socks:// URL, which curl takes for SOCKS4 and other tools for SOCKS5; write socks5://HOST:PORT (the provider's name resolved on this machine) or socks5h://HOST:PORT (the proxy resolves it)"
                        .to_owned(),
                );
            }
            _ => {
                return Err(
                    "is a SOCKS4 proxy, which latchkey does not support; use SOCKS5 (socks5:// or socks5h://) or an HTTP CONNECT proxy (http:// or https://)"
                        .to_owned(),
                );
            }
        };
        if proxy.host().is_empty() {
            return Err(format!("has no host; {PROXY_FORMS}"));
        }
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

    /// Whether it is a SOCKS5 proxy (`socks5://` or `socks5h://`) rather than HTTP CONNECT.
    pub fn is_socks(&self) -> bool {
        matches!(
            self.proxy.protocol(),
            ureq::ProxyProtocol::Socks5 | ureq::ProxyProtocol::Socks5h
        )
    }

    /// Whether the provider's name is resolved on this machine and its address handed to the
    /// proxy (`socks5://`), rather than the name to the proxy (`socks5h://`, HTTP CONNECT).
    pub fn resolves_names_here(&self) -> bool {
        self.proxy.protocol() == ureq::ProxyProtocol::Socks5
    }

    /// Whether the proxy's own host needs no lookup: an IP address or `localhost`.
    pub fn host_needs_no_lookup(&self) -> bool {
        let host = self.proxy.host();
        url::is_loopback_host(host)
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok()
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
    /// `proxy = "http://host:port"` (or `socks5h://...`): every request of the profile goes
    /// through this proxy, loopback providers included.
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

    #[test]
    fn socks5_and_socks5h_are_read_and_shown_without_their_password() {
        let here = ProxyServer::parse("socks5://127.0.0.1:1080").unwrap();
        assert_eq!(here.to_string(), "socks5://127.0.0.1:1080");
        assert!(here.is_socks() && here.resolves_names_here() && !here.is_https());
        assert!(here.host_needs_no_lookup());
        let there = ProxyServer::parse(" SOCKS5H://alice:s3cret@bastion.corp:9050 ").unwrap();
        assert_eq!(there.to_string(), "socks5h://alice:****@bastion.corp:9050");
        assert!(there.is_socks() && !there.resolves_names_here());
        assert!(!there.host_needs_no_lookup());
        assert!(!format!("{there:?}").contains("s3cret"));
        assert_eq!(
            there.as_ureq().password(),
            Some("s3cret"),
            "sent to the proxy"
        );
        // SOCKS's own port when none is given, as curl does.
        assert_eq!(
            ProxyServer::parse("socks5h://[::1]").unwrap().to_string(),
            "socks5h://[::1]:1080"
        );
        let http = ProxyServer::parse("http://p:3128").unwrap();
        assert!(!http.is_socks() && !http.resolves_names_here());
    }

    #[test]
    fn socks4_and_the_ambiguous_socks_scheme_are_refused() {
        for (text, says) in [
            ("socks4://p:1080", "SOCKS4"),
            ("socks4a://p:1080", "SOCKS4"),
            ("socks://p:1080", "socks5h://"),
            ("socks5://", "not a proxy URL"),
            ("socks6://p:1", "not a proxy URL"),
        ] {
            let err = ProxyServer::parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
        let err = ProxyServer::parse("socks4://u:pw@p:1080").unwrap_err();
        assert!(!err.contains("pw"), "{err}");
    }

    #[test]
    fn all_proxy_may_be_socks_after_the_schemes_variable_and_no_proxy_still_bypasses_it() {
        let all = [("ALL_PROXY", "socks5h://127.0.0.1:1080")];
        assert_eq!(
            via("https://idp.example/", None, &all).as_deref(),
            Some("socks5h://127.0.0.1:1080 ALL_PROXY")
        );
        assert_eq!(
            via(
                "https://idp.example/",
                None,
                &[("all_proxy", "socks5://s:1"), ("HTTPS_PROXY", "http://h:2")]
            )
            .as_deref(),
            Some("http://h:2 HTTPS_PROXY")
        );
        assert_eq!(
            via(
                "https://idp.example/",
                None,
                &[all[0], ("NO_PROXY", ".example")]
            ),
            None
        );
        // Never from the environment for a loopback provider, SOCKS or not.
        assert_eq!(via("https://127.0.0.1:8443/", None, &all), None);
        let profile = ProxySetting::parse("socks5h://127.0.0.1:1080").unwrap();
        assert_eq!(
            via("https://127.0.0.1:8443/", Some(&profile), &[]).as_deref(),
            Some("socks5h://127.0.0.1:1080 the profile's `proxy`")
        );
        assert_eq!(profile.shown(), "socks5h://127.0.0.1:1080");
        let err = route(
            &url("https://idp.example/"),
            None,
            &env(&[("ALL_PROXY", "socks4://u:pw@x")]),
        )
        .unwrap_err();
        assert!(
            err.message().contains("ALL_PROXY") && err.message().contains("SOCKS4"),
            "{}",
            err.message()
        );
    }
}
