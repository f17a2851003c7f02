//! URLs as latchkey needs them: parsing and checking endpoint URLs, percent-encoding, and
//! `application/x-www-form-urlencoded` query strings (RFC 3986, WHATWG form encoding).

use std::fmt;

/// An absolute `scheme://host[:port]/path[?query][#fragment]` URL, kept as parsed parts.
#[derive(Clone, PartialEq, Eq)]
pub struct Url {
    scheme: String,
    /// Host as written, lower-cased; IPv6 literals keep their brackets.
    host: String,
    port: Option<u16>,
    path: String,
    query: Option<String>,
    fragment: Option<String>,
}

impl fmt::Debug for Url {
    // A URL can carry a code or state in its query: Debug shows only where it points.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Url({}://{}{}{})",
            self.scheme,
            self.authority(),
            self.path,
            if self.query.is_some() { "?…" } else { "" }
        )
    }
}

impl Url {
    /// Parses an absolute http(s) URL; anything else gets a message saying what is wrong.
    pub fn parse(input: &str) -> Result<Url, String> {
        if input.chars().any(|c| c.is_control() || c == ' ') {
            return Err(format!(
                "{input:?} is not a URL: it contains spaces or control characters"
            ));
        }
        let (scheme, rest) = input.split_once("://").ok_or_else(|| {
            format!("{input:?} is not an absolute URL (expected https://host/...)")
        })?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "{input:?} has scheme {scheme:?}; only http and https are understood"
            ));
        }
        let (before_fragment, fragment) = match rest.split_once('#') {
            Some((a, f)) => (a, Some(f.to_owned())),
            None => (rest, None),
        };
        let (before_query, query) = match before_fragment.split_once('?') {
            Some((a, q)) => (a, Some(q.to_owned())),
            None => (before_fragment, None),
        };
        let (authority, path) = match before_query.find('/') {
            Some(i) => (&before_query[..i], &before_query[i..]),
            // Kept empty, not "/": an issuer identifier must round-trip exactly as written.
            None => (before_query, ""),
        };
        if authority.contains('@') {
            return Err(format!(
                "{input:?} carries user information before the host; remove it"
            ));
        }
        let (host, port) = split_host_port(authority).map_err(|m| format!("{input:?}: {m}"))?;
        Ok(Url {
            scheme,
            host,
            port,
            path: path.to_owned(),
            query,
            fragment,
        })
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port, or the scheme's default.
    pub fn port_or_default(&self) -> u16 {
        self.port
            .unwrap_or(if self.scheme == "https" { 443 } else { 80 })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    pub fn fragment(&self) -> Option<&str> {
        self.fragment.as_deref()
    }

    fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// The URL without its query and fragment, which may carry a code or state: for logs.
    pub fn redacted(&self) -> String {
        let query = if self.query.is_some() { "?…" } else { "" };
        format!("{}://{}{}{query}", self.scheme, self.authority(), self.path)
    }

    /// `scheme://host[:port]`, for building endpoint URLs under an issuer.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority())
    }

    /// The same URL with `pairs` appended to its query, form-encoded.
    pub fn with_query_pairs<'a>(&self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Url {
        let mut query = self.query.clone().unwrap_or_default();
        for (key, value) in pairs {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&form_encode(key));
            query.push('=');
            query.push_str(&form_encode(value));
        }
        Url {
            query: Some(query),
            ..self.clone()
        }
    }

    /// This URL with its path replaced (and query and fragment dropped).
    pub fn with_path(&self, path: &str) -> Url {
        Url {
            path: path.to_owned(),
            query: None,
            fragment: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority(), self.path)?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        if let Some(fr) = &self.fragment {
            write!(f, "#{fr}")?;
        }
        Ok(())
    }
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or("unclosed `[` in the host")?;
        let host = &authority[..end + 2];
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("unexpected text after the IPv6 address".into()),
        };
        if !rest[..end]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err("the bracketed host is not an IPv6 address".into());
        }
        (host.to_owned(), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '%'))
        {
            return Err(format!("{host:?} is not a valid host name"));
        }
        (host.to_ascii_lowercase(), port)
    };
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|n| *n != 0)
                .ok_or_else(|| format!("port {p:?} is not a number from 1 to 65535"))?,
        ),
    };
    Ok((host, port))
}

/// 127.0.0.0/8, ::1 and `localhost`: hosts whose traffic never leaves this machine.
pub fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Encodes one key or value for `application/x-www-form-urlencoded` (space as `%20`, which
/// every server accepts, unreserved characters kept).
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (as space); `None` when the result is not UTF-8 or an escape is
/// malformed, so junk is refused rather than half-decoded.
pub fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                // from_str_radix also takes a sign: `%+A` would decode to 0x0A, not be refused.
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Splits a query string into decoded pairs; `None` if any part fails to decode.
pub fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            Some((form_decode(k)?, form_decode(v)?))
        })
        .collect()
}

/// Encodes pairs as a form body or query string.
pub fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_parts() {
        let url = Url::parse("https://Tenant.EU.auth0.com:8443/a/b?x=1#frag").unwrap();
        assert_eq!(url.scheme(), "https");
        assert_eq!(url.host(), "tenant.eu.auth0.com");
        assert_eq!(url.port(), Some(8443));
        assert_eq!(url.path(), "/a/b");
        assert_eq!(url.query(), Some("x=1"));
        assert_eq!(url.fragment(), Some("frag"));
        assert_eq!(
            url.to_string(),
            "https://tenant.eu.auth0.com:8443/a/b?x=1#frag"
        );
        assert_eq!(
            Url::parse("http://[::1]:3000").unwrap().to_string(),
            "http://[::1]:3000"
        );
        assert_eq!(Url::parse("http://127.0.0.1:3000").unwrap().path(), "");
    }

    #[test]
    fn refuses_what_is_not_an_http_url() {
        for bad in [
            "example.com",
            "ftp://x/",
            "https:///path",
            "https://a b/",
            "https://host:99999/",
            "https://host:0/",
            "https://user@host/",
            "https://[zz]/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn loopback_hosts() {
        for host in ["127.0.0.1", "127.1.2.3", "[::1]", "localhost"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["10.0.0.1", "example.com", "localhost.evil.com", "128.0.0.1"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn form_encoding_round_trips() {
        let text = "a b&c=d/é+%";
        assert_eq!(form_encode(text), "a%20b%26c%3Dd%2F%C3%A9%2B%25");
        assert_eq!(form_decode(&form_encode(text)).as_deref(), Some(text));
        assert_eq!(form_decode("a+b%20c").as_deref(), Some("a b c"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        // Found by fuzzing: a sign is not a hex digit.
        assert_eq!(form_decode("%+A"), None);
        assert_eq!(form_decode("%-1"), None);
        assert_eq!(form_decode("%FF"), None);
    }

    #[test]
    fn query_pairs() {
        let pairs = parse_query("code=abc&state=x%2By&&empty=").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("code".into(), "abc".into()),
                ("state".into(), "x+y".into()),
                ("empty".into(), "".into())
            ]
        );
        let url = Url::parse("https://h/authorize")
            .unwrap()
            .with_query_pairs([("scope", "openid email")]);
        assert_eq!(url.to_string(), "https://h/authorize?scope=openid%20email");
    }
}
