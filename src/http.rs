//! HTTP to the identity provider: one configured ureq agent (rustls, no redirects, timeouts)
//! and transport failures turned into messages that say what to do.

use crate::error::{Error, Result};
use crate::url::Url;
use std::time::Duration;

/// Responses larger than this are not OAuth responses; refuse rather than buffer them.
const MAX_BODY: u64 = 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A response as latchkey needs it: status, content type, the `Date` header and the body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub date: Option<String>,
    pub body: String,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A short, printable excerpt of the body for messages: control characters removed,
    /// whitespace folded, cut at 160 characters.
    pub fn excerpt(&self) -> String {
        let folded: String = self
            .body
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        match folded.char_indices().nth(160) {
            Some((cut, _)) => format!("{}…", &folded[..cut]),
            None => folded,
        }
    }
}

/// The body of a POST to the token or revocation endpoint.
pub enum Body<'a> {
    /// `application/x-www-form-urlencoded`
    Form(&'a [(&'a str, &'a str)]),
    /// `application/json`, an object of string fields
    Json(&'a [(&'a str, &'a str)]),
}

/// One agent per process: connections are reused between discovery and token requests.
pub struct Http {
    agent: ureq::Agent,
}

impl Http {
    /// An agent whose every request finishes within `timeout` (the profile's `http_timeout`).
    pub fn new(timeout: Duration) -> Http {
        let config = ureq::Agent::config_builder()
            // Token responses are never redirected; following one could send the code elsewhere.
            .max_redirects(0)
            // OAuth errors arrive as 4xx JSON bodies that must be shown, not swallowed.
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
            .timeout_global(Some(timeout))
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .build();
        Http {
            agent: config.new_agent(),
        }
    }

    /// GET a URL, for discovery documents and key sets.
    pub fn get(&self, url: &Url, what: &str) -> Result<Response> {
        let result = self
            .agent
            .get(url.to_string())
            .header("accept", "application/json")
            .call();
        read_response(result, url, what)
    }

    /// POST a form or JSON body, for the token and revocation endpoints.
    pub fn post(&self, url: &Url, body: Body<'_>, what: &str) -> Result<Response> {
        let request = self
            .agent
            .post(url.to_string())
            .header("accept", "application/json");
        let result = match body {
            Body::Form(pairs) => request
                .header("content-type", "application/x-www-form-urlencoded")
                .send(crate::url::encode_pairs(pairs.iter().copied())),
            Body::Json(pairs) => {
                let object: serde_json::Map<String, serde_json::Value> = pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned())))
                    .collect();
                request
                    .header("content-type", "application/json")
                    .send(serde_json::Value::Object(object).to_string())
            }
        };
        read_response(result, url, what)
    }
}

fn read_response(
    result: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    url: &Url,
    what: &str,
) -> Result<Response> {
    let mut response = result.map_err(|e| transport_error(&e, url, what))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type");
    let date = header("date");
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|e| transport_error(&e, url, what))?;
    Ok(Response {
        status,
        content_type,
        date,
        body,
    })
}

/// Names the host and the kind of failure; never includes request bodies.
fn transport_error(error: &ureq::Error, url: &Url, what: &str) -> Error {
    let host = format!("{}:{}", url.host(), url.port_or_default());
    let (message, hint) = match error {
        ureq::Error::Timeout(_) => (
            format!("{what}: timed out talking to {host}"),
            "check the network or proxy; the provider may be slow or unreachable",
        ),
        ureq::Error::HostNotFound => (
            format!("{what}: cannot resolve host {}", url.host()),
            "check the domain or issuer in the profile, and DNS",
        ),
        ureq::Error::ConnectionFailed => (
            format!("{what}: cannot connect to {host}"),
            "is the provider running and reachable from this host?",
        ),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => (
            format!("{what}: connection refused by {host}"),
            "is the provider running and reachable from this host?",
        ),
        ureq::Error::Io(io) => (
            format!("{what}: connection to {host} failed: {io}"),
            "the connection broke; try again",
        ),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => (
            format!("{what}: TLS failure with {host}: {error}"),
            "the server's certificate is not trusted here; check the system trust store or SSL_CERT_FILE",
        ),
        ureq::Error::BodyExceedsLimit(_) => (
            format!("{what}: the response from {host} is larger than {MAX_BODY} bytes"),
            "this is not an OAuth response; check the endpoint URL",
        ),
        other => (
            format!("{what}: request to {host} failed: {other}"),
            "check the network and the provider's URL",
        ),
    };
    Error::network(message).hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_is_short_and_printable() {
        let response = Response {
            status: 502,
            content_type: None,
            date: None,
            body: format!("<html>\n\t<b>Bad\x07 gateway</b>{}</html>", "x".repeat(500)),
        };
        let excerpt = response.excerpt();
        assert!(
            excerpt.starts_with("<html> <b>Bad gateway</b>"),
            "{excerpt}"
        );
        assert!(excerpt.chars().count() <= 161);
    }

    #[test]
    fn connection_refused_is_a_network_error_naming_the_host() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = Url::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
        let err = Http::new(Duration::from_secs(5))
            .get(&url, "discovery")
            .unwrap_err();
        assert_eq!(err.exit_code(), crate::error::ExitCode::Network);
        assert!(
            err.message().contains(&format!("127.0.0.1:{port}")),
            "{}",
            err.message()
        );
    }
}
