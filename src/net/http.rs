//! HTTP to the identity provider: ureq agents configured from network settings (trusted roots, proxy,
//! timeouts, no redirects), retries of transient failures, and failures turned into messages
//! that say what to do.

use crate::base::error::{Error, Result};
use crate::net::proxy::{self, ProxyServer, ProxySetting, Route};
use crate::net::retry::{Failure, Resend, Schedule};
use crate::net::tls::{AddedRoots, TrustStore};
use crate::net::url::Url;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Responses larger than this are not OAuth responses; refuse rather than buffer them.
const MAX_BODY: u64 = 1024 * 1024;

/// A response as latchkey needs it: status, content type, the `Date` header and the body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub date: Option<String>,
    /// Wiped when dropped: a token endpoint's answer holds tokens.
    pub body: zeroize::Zeroizing<String>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A short, printable excerpt of the body for messages: control characters removed,
    /// whitespace folded, secrets redacted ([`redact_secrets`]), cut at 160 characters.
    ///
    /// Only for bodies that are not token responses: a 2xx answer of the token or device
    /// endpoint is never quoted, whatever it holds (see `oauth::token_endpoint`).
    pub fn excerpt(&self) -> String {
        let folded: String = self
            .body
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        // Redacted before it is cut, so a cut can never separate a key from its value.
        let redacted = redact_secrets(&folded);
        // Shown as all outside text is (bidi and invisible characters escaped), cut at 160.
        crate::base::text::shown_within(&redacted, 161)
    }

    /// The content type as shown in messages: `content type text/html` (the media type only,
    /// without parameters, in the characters a media type may have, at most 80 of them: no
    /// escape, no secret fits in that), or `no content type`. Not redacted: the opaque-run rule
    /// would take `application/x-www-form-urlencoded` for a token.
    pub fn content_type_shown(&self) -> String {
        let media_type: String = self
            .content_type
            .as_deref()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-/".contains(*c))
            .take(80)
            .collect();
        if media_type.is_empty() {
            "no content type".to_owned()
        } else {
            format!("content type {media_type}")
        }
    }
}

/// What stands in for a secret in anything latchkey shows.
pub const REDACTED: &str = "[redacted]";

/// A run of at least this many characters of the base64url/JWT alphabet is taken for a token.
/// Random secrets are longer (a PKCE verifier is 43, an Auth0 refresh token 50+, a JWT
/// hundreds); words and error codes are shorter.
const OPAQUE_RUN: usize = 24;

/// Provider text with everything token-, code- or secret-shaped replaced by `[redacted]`, for
/// any excerpt of a response shown in a message:
///
/// - the string value of a sensitive key, in JSON (`"refresh_token": "…"`) or form encoding
///   (`code=…`): `access_token`, `refresh_token`, `id_token`, `code`, `device_code`,
///   `client_secret`, `password`, `assertion`, `state`, `nonce`, `code_verifier`, and any key
///   containing `token`, `secret` or `password` (but not `token_type`);
/// - any run of [`OPAQUE_RUN`] or more characters of `[A-Za-z0-9._~+/=-]` and `_` (base64,
///   base64url, JWTs, UUIDs), wherever it is.
///
/// The one place this is decided: every excerpt goes through it.
pub fn redact_secrets(text: &str) -> String {
    redact_opaque_runs(&redact_form_values(&redact_json_values(text)))
}

/// Whether the value of `key` is a secret.
fn is_sensitive_key(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    if matches!(key.as_str(), "token_type" | "token_type_hint") {
        return false;
    }
    matches!(
        key.as_str(),
        "code"
            | "device_code"
            | "assertion"
            | "client_assertion"
            | "code_verifier"
            | "state"
            | "nonce"
            | "passphrase"
    ) || key.contains("token")
        || key.contains("secret")
        || key.contains("password")
}

/// The index of the `"` that closes the JSON string opening at `start` (escapes skipped).
fn json_string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn skip_spaces(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// `"key": "value"` with a sensitive key becomes `"key": "[redacted]"`; a value cut short (by
/// an excerpt, or a broken body) is redacted to the end.
fn redact_json_values(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let Some(key_end) = json_string_end(bytes, i) else {
            break;
        };
        let key = &text[i + 1..key_end];
        let colon = skip_spaces(bytes, key_end + 1);
        let value = skip_spaces(bytes, colon + 1);
        if bytes.get(colon) == Some(&b':')
            && bytes.get(value) == Some(&b'"')
            && is_sensitive_key(key)
        {
            out.push_str(&text[copied..=value]);
            out.push_str(REDACTED);
            match json_string_end(bytes, value) {
                Some(value_end) => {
                    copied = value_end;
                    i = value_end + 1;
                }
                None => {
                    copied = bytes.len();
                    i = bytes.len();
                }
            }
        } else {
            i = key_end + 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// `key=value` with a sensitive key (a form-encoded body, a query string in a page) becomes
/// `key=[redacted]`; the value ends at `&`, whitespace, a quote or markup.
fn redact_form_values(text: &str) -> String {
    let bytes = text.as_bytes();
    let is_key_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let ends_value = |b: u8| {
        b.is_ascii_whitespace() || matches!(b, b'&' | b'"' | b'\'' | b'<' | b'>' | b',' | b';')
    };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'=' {
            i += 1;
            continue;
        }
        let mut key_start = i;
        while key_start > 0 && is_key_byte(bytes[key_start - 1]) {
            key_start -= 1;
        }
        let mut value_end = i + 1;
        while value_end < bytes.len() && !ends_value(bytes[value_end]) {
            value_end += 1;
        }
        if key_start < i && value_end > i + 1 && is_sensitive_key(&text[key_start..i]) {
            out.push_str(&text[copied..=i]);
            out.push_str(REDACTED);
            copied = value_end;
            i = value_end;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Every run of [`OPAQUE_RUN`] or more token-alphabet characters becomes `[redacted]`.
fn redact_opaque_runs(text: &str) -> String {
    let in_alphabet =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '+' | '/' | '=' | '-');
    let mut out = String::with_capacity(text.len());
    let mut run_start = None;
    for (at, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (in_alphabet(c) && at < text.len(), run_start) {
            (true, None) => run_start = Some(at),
            (true, Some(_)) => {}
            (false, start) => {
                if let Some(start) = start {
                    // The alphabet is ASCII: byte length is character count.
                    if at - start >= OPAQUE_RUN {
                        out.push_str(REDACTED);
                    } else {
                        out.push_str(&text[start..at]);
                    }
                    run_start = None;
                }
                if at < text.len() {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// The body of a POST to the token or revocation endpoint.
pub enum Body<'a> {
    /// `application/x-www-form-urlencoded`
    Form(&'a [(&'a str, &'a str)]),
    /// `application/json`, an object of string fields
    Json(&'a [(&'a str, &'a str)]),
}

/// The network settings of one profile.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Longest one attempt of a request may take, answer included.
    pub http_timeout: Duration,
    /// Longest making the connection may take: DNS, TCP, the proxy's CONNECT or SOCKS
    /// handshake, TLS.
    pub connect_timeout: Duration,
    pub ca_file: Option<PathBuf>,
    pub proxy: Option<ProxySetting>,
    /// Whether a POST may be sent again after the provider may have seen it; GETs always may.
    pub resend: Resend,
}

/// The HTTP client of one command: agents are made on first use and reused, so connections
/// are shared between discovery and token requests, and the trusted roots are read only when
/// a TLS connection is about to be made.
pub struct Http {
    settings: HttpSettings,
    trust: OnceLock<TrustStore>,
    /// One agent per way out: direct or through one proxy, with or without TLS.
    agents: Mutex<Vec<(AgentKey, ureq::Agent)>>,
    last_attempts: AtomicU32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AgentKey {
    proxy: Option<ProxyServer>,
    tls: bool,
}

/// What `read_response` makes of one attempt.
type Attempt = std::result::Result<(Response, Option<Duration>), (Failure, Error)>;

impl Http {
    pub fn new(settings: HttpSettings) -> Http {
        Http {
            settings,
            trust: OnceLock::new(),
            agents: Mutex::new(Vec::new()),
            last_attempts: AtomicU32::new(0),
        }
    }

    /// What the profile's `ca_file` adds to the trusted roots, from the very roots this client
    /// connects with (read now if they were not yet): what a login records, and what a stored
    /// token's later requests are checked against before anything is sent.
    pub fn added_roots(&self) -> Result<AddedRoots> {
        if self.settings.ca_file.is_none() {
            return Ok(AddedRoots::default());
        }
        Ok(self.trust()?.added.clone())
    }

    /// The proxy a request to `url` goes through, if any (the profile's `proxy`, else the
    /// environment's, as [`proxy::route`] decides).
    pub fn route(&self, url: &Url) -> Result<Option<Route>> {
        proxy::route(url, self.settings.proxy.as_ref(), &|name| {
            std::env::var(name).ok()
        })
    }

    /// How many attempts the last request took (for "after N attempts" in messages).
    pub fn last_attempts(&self) -> u32 {
        self.last_attempts.load(Ordering::Relaxed)
    }

    /// GET a URL, for discovery documents and key sets. Retried on transient failures.
    pub fn get(&self, url: &Url, what: &str) -> Result<Response> {
        self.send(url, what, Resend::Transient, &|agent| {
            agent
                .get(url.to_string())
                .header("accept", "application/json")
                .call()
        })
    }

    /// GET with a bearer token (OpenID Connect UserInfo). Retried on transient failures; the
    /// token goes in the header only, never in a log line.
    pub fn get_authorized(&self, url: &Url, bearer: &str, what: &str) -> Result<Response> {
        let authorization = format!("Bearer {bearer}");
        self.send(url, what, Resend::Transient, &|agent| {
            agent
                .get(url.to_string())
                .header("accept", "application/json")
                .header("authorization", authorization.as_str())
                .call()
        })
    }

    /// POST a form or JSON body, for the token and revocation endpoints. Retried as the
    /// settings' [`Resend`] allows.
    pub fn post(&self, url: &Url, body: Body<'_>, what: &str) -> Result<Response> {
        self.post_authorized(url, body, None, what)
    }

    /// [`Http::post`] with an `Authorization` header (a client's HTTP Basic credentials),
    /// which is sent and nothing else: it is never logged or put in a message.
    pub fn post_authorized(
        &self,
        url: &Url,
        body: Body<'_>,
        authorization: Option<&str>,
        what: &str,
    ) -> Result<Response> {
        // The body carries a code, a refresh token or a secret: wiped once sent.
        let (content_type, text) = match body {
            Body::Form(pairs) => (
                "application/x-www-form-urlencoded",
                crate::net::url::encode_pairs(pairs.iter().copied()),
            ),
            Body::Json(pairs) => {
                let object: serde_json::Map<String, serde_json::Value> = pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned())))
                    .collect();
                (
                    "application/json",
                    serde_json::Value::Object(object).to_string(),
                )
            }
        };
        let text = zeroize::Zeroizing::new(text);
        self.send(url, what, self.settings.resend, &|agent| {
            let request = agent
                .post(url.to_string())
                .header("accept", "application/json")
                .header("content-type", content_type);
            match authorization {
                Some(value) => request.header("authorization", value),
                None => request,
            }
            .send(text.as_str())
        })
    }

    /// Makes attempts until one succeeds, fails for good, or the retry schedule runs out.
    /// A 5xx or 429 answer that is retried no more is returned as it is, for the caller to
    /// show; 4xx answers (OAuth errors) are never retried.
    fn send(
        &self,
        url: &Url,
        what: &str,
        resend: Resend,
        request: &dyn Fn(
            &ureq::Agent,
        )
            -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Response> {
        let route = self.route(url)?;
        let agent = self.agent(url, route.as_ref())?;
        let mut schedule = Schedule::new(self.settings.http_timeout);
        let started = Instant::now();
        loop {
            schedule.attempt();
            let attempt_started = Instant::now();
            let attempt = self.read_response(request(&agent), url, route.as_ref(), what);
            crate::debug!(
                "{what}: {} via {} -> {} in {:.1} ms (attempt {})",
                url.redacted(),
                route.as_ref().map_or_else(
                    || "a direct connection".to_owned(),
                    |r| format!("proxy {}", r.server)
                ),
                match &attempt {
                    Ok((response, _)) => format!("HTTP {}", response.status),
                    Err((_, e)) => format!("failed: {}", e.message()),
                },
                attempt_started.elapsed().as_secs_f64() * 1e3,
                schedule.attempts()
            );
            let failure = match &attempt {
                Ok((response, retry_after)) if response.status >= 500 || response.status == 429 => {
                    Failure::MaybeProcessed {
                        retry_after: *retry_after,
                    }
                }
                Ok(_) => Failure::Permanent,
                Err((failure, _)) => *failure,
            };
            match schedule.pause_after(failure, resend, started.elapsed()) {
                Some(pause) => std::thread::sleep(pause),
                None => {
                    self.last_attempts
                        .store(schedule.attempts(), Ordering::Relaxed);
                    return attempt.map(|(response, _)| response).map_err(|(_, e)| e);
                }
            }
        }
    }

    /// The agent for a route, made on first use.
    fn agent(&self, url: &Url, route: Option<&Route>) -> Result<ureq::Agent> {
        let key = AgentKey {
            proxy: route.map(|r| r.server.clone()),
            tls: url.scheme() == "https" || route.is_some_and(|r| r.server.is_https()),
        };
        let mut agents = self.agents.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, agent)) = agents.iter().find(|(k, _)| *k == key) {
            return Ok(agent.clone());
        }
        let timeout = self.settings.http_timeout;
        let mut config = ureq::Agent::config_builder()
            // Token responses are never redirected; following one could send the code elsewhere.
            .max_redirects(0)
            // OAuth errors arrive as 4xx JSON bodies that must be shown, not swallowed.
            .http_status_as_error(false)
            .timeout_connect(Some(self.settings.connect_timeout.min(timeout)))
            .timeout_global(Some(timeout))
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            // Always set: ureq would otherwise read the proxy variables itself, by rules of
            // its own (ALL_PROXY first, loopback included).
            .proxy(key.proxy.as_ref().map(|p| p.as_ureq().clone()));
        if key.tls {
            let roots = self.trust()?.root_certs();
            config = config.tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build());
        }
        let agent = config.build().new_agent();
        agents.push((key, agent.clone()));
        Ok(agent)
    }

    fn trust(&self) -> Result<&TrustStore> {
        if let Some(trust) = self.trust.get() {
            return Ok(trust);
        }
        let loaded = TrustStore::load(self.settings.ca_file.as_deref())?;
        Ok(self.trust.get_or_init(|| loaded))
    }

    fn read_response(
        &self,
        result: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        url: &Url,
        route: Option<&Route>,
        what: &str,
    ) -> Attempt {
        let failed = |e: &ureq::Error| self.transport_failure(e, url, route, what);
        let mut response = result.map_err(|e| failed(&e))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type");
        let date = header("date");
        let retry_after = header("retry-after")
            .and_then(|v| crate::net::retry::parse_retry_after(&v, crate::base::clock::unix_now()));
        let status = response.status().as_u16();
        // Read into wiped memory (ureq's own buffers are its own; what latchkey keeps is wiped).
        let mut reader = response.body_mut().with_config().limit(MAX_BODY).reader();
        let bytes = crate::base::secret::read_wiped(&mut reader, usize::MAX)
            .map_err(|e| failed(&ureq::Error::from(e)))?;
        let body = crate::base::secret::wiped_text(bytes).ok_or_else(|| {
            failed(&ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )))
        })?;
        Ok((
            Response {
                status,
                content_type,
                date,
                body,
            },
            retry_after,
        ))
    }

    /// Names the host (and the proxy, when there is one) and the kind of failure, says what
    /// to do, and tells the retry schedule whether trying again can help. Never includes
    /// request bodies.
    ///
    /// Sorts the error into its kind and leaves the wording to one function per kind; the
    /// order of the `Io` arms matters, as the last one takes every I/O error left.
    fn transport_failure(
        &self,
        error: &ureq::Error,
        url: &Url,
        route: Option<&Route>,
        what: &str,
    ) -> (Failure, Error) {
        let host = format!("{}:{}", url.host(), url.port_or_default());
        let through = route.map(|r| format!(" through {r}")).unwrap_or_default();
        if let ureq::Error::Io(io) = error
            && let Some(r) = route.filter(|r| r.server.is_socks())
            && let Some(refusal) = socks_refusal(io)
        {
            return socks_failure(refusal, &host, r, what);
        }
        match error {
            ureq::Error::Timeout(phase) => self.timeout_failure(phase, &host, &through, what),
            ureq::Error::HostNotFound => self.dns_failure(url, route, what),
            ureq::Error::Io(io) if is_dns_failure(io) => self.dns_failure(url, route, what),
            ureq::Error::ConnectionFailed => {
                connect_failure("no address answered", &host, route, what)
            }
            ureq::Error::Io(io) if is_unreachable(io) => {
                let detail = match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                    _ => io.to_string(),
                };
                connect_failure(&detail, &host, route, what)
            }
            ureq::Error::ConnectProxyFailed(reason) => proxy_failure(reason, &host, route, what),
            ureq::Error::Rustls(tls) => self.tls_failure(tls, url, route, what),
            // A handshake failure reaches ureq as an I/O error wrapping rustls's.
            ureq::Error::Io(io) => match wrapped_tls_error(io) {
                Some(tls) => self.tls_failure(tls, url, route, what),
                None => broken_connection(io, &host, &through, what),
            },
            ureq::Error::Tls(_) | ureq::Error::Pem(_) => permanent(
                format!("{what}: TLS failure with {host}{through}: {error}"),
                "check `ca_file` and SSL_CERT_FILE, and that the URL is the provider's".to_owned(),
            ),
            ureq::Error::BodyExceedsLimit(_) => permanent(
                format!("{what}: the response from {host} is larger than {MAX_BODY} bytes"),
                "this is not an OAuth response; check the endpoint URL".to_owned(),
            ),
            other => permanent(
                format!("{what}: request to {host}{through} failed: {other}"),
                "check the network and the provider's URL".to_owned(),
            ),
        }
    }

    /// A timeout: names the phase and the profile key that sets its limit. Timing out while
    /// connecting sent nothing; timing out later may have left the request with the provider.
    fn timeout_failure(
        &self,
        phase: &ureq::Timeout,
        host: &str,
        through: &str,
        what: &str,
    ) -> (Failure, Error) {
        let connecting = matches!(phase, ureq::Timeout::Connect | ureq::Timeout::Resolve);
        let (which, key, limit) = if connecting {
            (
                "connecting to",
                "connect_timeout",
                self.settings
                    .connect_timeout
                    .min(self.settings.http_timeout),
            )
        } else {
            ("talking to", "http_timeout", self.settings.http_timeout)
        };
        let message = format!(
            "{what}: timed out {which} {host}{through} (after {})",
            crate::base::duration::format_remaining(limit)
        );
        let hint = format!(
            "check the network and proxy settings; if the provider is just slow, raise `{key}` in the profile"
        );
        let failure = if connecting {
            Failure::NotSent
        } else {
            Failure::MaybeProcessed { retry_after: None }
        };
        (failure, Error::network(message).hint(hint))
    }

    fn dns_failure(&self, url: &Url, route: Option<&Route>, what: &str) -> (Failure, Error) {
        // Through a CONNECT or `socks5h://` proxy the proxy resolves the provider's name: what
        // failed here is the proxy's own. Through `socks5://` this machine resolves both, and
        // ureq's error does not say which: an address or `localhost` needs no lookup, so the
        // other one failed; else both are named.
        let provider = url.host();
        let proxy_host = |r: &Route| {
            Error::network(format!(
                "{what}: cannot resolve the host of the {r} ({})",
                r.server.address()
            ))
            .hint("check the proxy URL and DNS")
        };
        let error = match route {
            None => Error::network(format!("{what}: cannot resolve host {provider}"))
                .hint("check the domain or issuer in the profile, and DNS; if only a proxy can reach it, set HTTPS_PROXY or `proxy`"),
            Some(r) if !r.server.resolves_names_here() => proxy_host(r),
            Some(r) => match (r.server.host_needs_no_lookup(), provider_is_an_address(provider)) {
                (true, _) => Error::network(format!(
                    "{what}: cannot resolve host {provider}; with socks5:// this machine resolves it, not the {r}"
                ))
                .hint(socks5h_hint(r)),
                (false, true) => proxy_host(r),
                (false, false) => Error::network(format!(
                    "{what}: cannot resolve host {provider}, or the host of the {r} ({}): socks5:// resolves both on this machine",
                    r.server.address()
                ))
                .hint(socks5h_hint(r)),
            },
        };
        (Failure::NotSent, error)
    }

    fn tls_failure(
        &self,
        tls: &rustls::Error,
        url: &Url,
        route: Option<&Route>,
        what: &str,
    ) -> (Failure, Error) {
        let host = format!("{}:{}", url.host(), url.port_or_default());
        let through = route
            .map(|r| format!("; connected through {r}"))
            .unwrap_or_default();
        let error = match crate::net::tls::explain_certificate_error(tls, url.host(), &host) {
            Some(explained) => {
                let mut hint = explained.fix;
                if explained.about_trust
                    && let Some(trust) = self.trust.get()
                {
                    hint = format!("{hint}; {}", trust.summary.describe());
                }
                Error::network(format!("{what}: TLS: {}{through}", explained.problem)).hint(hint)
            }
            None => Error::network(format!("{what}: TLS failure with {host}: {tls}{through}"))
                .hint("check that the URL is the provider's and that it speaks TLS on that port"),
        };
        (Failure::Permanent, error)
    }
}

/// The status in ureq's "proxy server responded 407/Proxy Authentication Required".
fn proxy_status(reason: &str) -> Option<u16> {
    let after = reason.split("responded ").nth(1)?;
    after.get(..3)?.parse().ok()
}

/// Whether a URL's host is an IP address (IPv6 in brackets), which needs no lookup.
fn provider_is_an_address(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok()
}

/// When this machine cannot resolve the provider's name but the proxy may: `socks5h://`.
fn socks5h_hint(route: &Route) -> String {
    format!(
        "check the domain or issuer in the profile, and DNS; if only the proxy's side knows the name, use socks5h:// (the proxy resolves it); {}",
        proxy_hint(route)
    )
}

/// Name resolution errors arrive as plain I/O errors from the system resolver.
fn is_dns_failure(io: &std::io::Error) -> bool {
    // Unix: std words getaddrinfo's failure so. Windows: the resolver's WSAHOST_NOT_FOUND,
    // WSATRY_AGAIN, WSANO_RECOVERY and WSANO_DATA (a SOCKS lookup made here surfaces as these).
    io.to_string().contains("failed to lookup address")
        || (cfg!(windows) && matches!(io.raw_os_error(), Some(11001..=11004)))
}

/// The I/O errors that mean no connection could be made to the address.
fn is_unreachable(io: &std::io::Error) -> bool {
    matches!(
        io.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::NetworkUnreachable
            | std::io::ErrorKind::HostUnreachable
            | std::io::ErrorKind::AddrNotAvailable
    )
}

/// The rustls error inside an I/O error, which is how a failed TLS handshake reaches ureq.
fn wrapped_tls_error(io: &std::io::Error) -> Option<&rustls::Error> {
    io.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// A connection that broke after the request may have reached the provider: the network or
/// the provider dropped it, and trying again may help.
fn broken_connection(
    io: &std::io::Error,
    host: &str,
    through: &str,
    what: &str,
) -> (Failure, Error) {
    (
        Failure::MaybeProcessed { retry_after: None },
        Error::network(format!(
            "{what}: the connection to {host}{through} broke: {io}"
        ))
        .hint("the network or the provider dropped it; try again"),
    )
}

/// A failure before anything reached the provider: always safe to try again.
fn not_sent(message: String, hint: String) -> (Failure, Error) {
    (Failure::NotSent, Error::network(message).hint(hint))
}

/// A failure that trying again will not fix.
fn permanent(message: String, hint: String) -> (Failure, Error) {
    (Failure::Permanent, Error::network(message).hint(hint))
}

/// Where the proxy setting of a route came from, and so where to fix it.
fn proxy_hint(route: &Route) -> String {
    match route.source {
        proxy::ProxySource::Profile => {
            "check `proxy` in the profile (`none` connects directly)".to_owned()
        }
        proxy::ProxySource::Env(var) => format!(
            "check {var}, or list the provider's host in NO_PROXY, or set `proxy` in the profile"
        ),
    }
}

/// How a SOCKS5 proxy refused, as ureq's handshake words it (RFC 1928 replies, RFC 1929
/// authentication): nothing was sent to the provider in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SocksRefusal {
    /// The proxy could not reach the provider, or failed: trying again may help.
    Unreachable(&'static str),
    /// Its rules do not allow the connection.
    Policy(&'static str),
    /// It wants credentials, or refused the ones in its URL.
    Credentials(&'static str),
    /// What answered is not a SOCKS5 proxy, or does not support what was asked.
    NotSocks5(&'static str),
    /// It closed the connection before answering: how `ssh -D` says that the far side could
    /// not connect (or was not allowed to).
    Closed,
}

/// The refusal in an I/O error of ureq's SOCKS5 handshake, if it is one. ureq makes these
/// errors from fixed strings (`socks.rs` in ureq 3.5), without an OS error; the texts are
/// matched only for a route through a SOCKS proxy.
fn socks_refusal(io: &std::io::Error) -> Option<SocksRefusal> {
    if io.raw_os_error().is_some() {
        return None;
    }
    let reason = io.to_string();
    // The handshake's `read_exact` met the end of the stream: ureq reads nothing else that
    // way, so the proxy hung up before the connection to the provider was open.
    if io.kind() == std::io::ErrorKind::UnexpectedEof && reason == "failed to fill whole buffer" {
        return Some(SocksRefusal::Closed);
    }
    const UNREACHABLE: [&str; 6] = [
        "general SOCKS server failure",
        "network unreachable",
        "host unreachable",
        "connection refused",
        "TTL expired",
        "unknown error",
    ];
    const CREDENTIALS: [&str; 5] = [
        "no acceptable auth methods",
        "unknown auth method",
        "password authentication failed",
        "invalid username",
        "invalid password",
    ];
    const NOT_SOCKS5: [&str; 6] = [
        "invalid response version",
        "invalid reserved byte",
        "unsupported address type",
        "command not supported",
        "address kind not supported",
        "domain name too long",
    ];
    let find = |list: &[&'static str]| list.iter().copied().find(|r| *r == reason);
    find(&UNREACHABLE)
        .map(SocksRefusal::Unreachable)
        .or_else(|| find(&["connection not allowed by ruleset"]).map(SocksRefusal::Policy))
        .or_else(|| find(&CREDENTIALS).map(SocksRefusal::Credentials))
        .or_else(|| find(&NOT_SOCKS5).map(SocksRefusal::NotSocks5))
}

/// A SOCKS5 proxy did not open the connection: as [`proxy_failure`] for a CONNECT proxy.
fn socks_failure(refusal: SocksRefusal, host: &str, r: &Route, what: &str) -> (Failure, Error) {
    let message =
        |reason: &str| format!("{what}: the {r} did not open a connection to {host}: {reason}");
    match refusal {
        SocksRefusal::Unreachable(reason) => not_sent(
            message(reason),
            format!(
                "the proxy could not reach the provider: is it up, and reachable from the proxy's side? {}",
                proxy_hint(r)
            ),
        ),
        SocksRefusal::Policy(reason) => permanent(
            message(reason),
            format!(
                "the proxy does not allow connections to {host}; {}",
                proxy_hint(r)
            ),
        ),
        SocksRefusal::Credentials(reason) => permanent(
            message(reason),
            format!(
                "the proxy wants credentials: put them in its URL (socks5h://USER:PASSWORD@HOST:PORT); {}",
                proxy_hint(r)
            ),
        ),
        SocksRefusal::Closed => not_sent(
            message("it closed the connection without opening it"),
            format!(
                "the proxy could not reach the provider, or may not (an `ssh -D` forward closes the connection when the SSH server cannot connect to it): is it up, and reachable from the proxy's side? {}",
                proxy_hint(r)
            ),
        ),
        SocksRefusal::NotSocks5(reason) => permanent(
            message(reason),
            format!(
                "what answered at {} is not a SOCKS5 proxy, or not one latchkey can use; check the port, or use http:// for an HTTP proxy; {}",
                r.server.address(),
                proxy_hint(r)
            ),
        ),
    }
}

/// No connection could be made: to the proxy when there is one, else to the provider.
fn connect_failure(
    detail: &str,
    host: &str,
    route: Option<&Route>,
    what: &str,
) -> (Failure, Error) {
    match route {
        Some(r) => not_sent(
            format!("{what}: cannot connect to the {r}: {detail}"),
            if r.server.is_socks() {
                // The usual SOCKS proxy is an `ssh -D` forward, which ends with its session.
                format!(
                    "is the proxy running and reachable (for an `ssh -D` forward: is that ssh still connected)? {}",
                    proxy_hint(r)
                )
            } else {
                format!("is the proxy running and reachable? {}", proxy_hint(r))
            },
        ),
        None => not_sent(
            format!("{what}: cannot connect to {host}: {detail}"),
            "is the provider running and reachable from this host?".to_owned(),
        ),
    }
}

/// The proxy refused to open a tunnel to the provider: a 407 wants credentials and other 4xx
/// answers are its policy (neither helped by trying again); anything else may pass.
fn proxy_failure(reason: &str, host: &str, route: Option<&Route>, what: &str) -> (Failure, Error) {
    let Some(r) = route else {
        return permanent(
            format!("{what}: a proxy failed: {reason}"),
            "check the proxy settings".to_owned(),
        );
    };
    let message = format!("{what}: the {r} did not open a connection to {host}: {reason}");
    match proxy_status(reason) {
        Some(407) => permanent(
            message,
            format!(
                "the proxy wants credentials: put them in its URL (http://USER:PASSWORD@HOST:PORT); {}",
                proxy_hint(r)
            ),
        ),
        Some(code) if (400..500).contains(&code) => permanent(
            message,
            format!(
                "the proxy does not allow connections to {host}; {}",
                proxy_hint(r)
            ),
        ),
        _ => not_sent(message, proxy_hint(r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(timeout: Duration) -> HttpSettings {
        HttpSettings {
            http_timeout: timeout,
            connect_timeout: timeout,
            ca_file: None,
            proxy: None,
            resend: Resend::Transient,
        }
    }

    #[test]
    fn excerpt_is_short_and_printable() {
        let response = Response {
            status: 502,
            content_type: None,
            date: None,
            body: format!("<html>\n\t<b>Bad\x07 gateway</b>{}</html>", "x".repeat(500)).into(),
        };
        let excerpt = response.excerpt();
        assert!(
            excerpt.starts_with("<html> <b>Bad gateway</b>"),
            "{excerpt}"
        );
        assert!(excerpt.chars().count() <= 161);
    }

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

    #[test]
    fn sensitive_json_values_are_redacted() {
        let body = r#"{"access_token":"at-1","refresh_token" : "rt\"2","id_token":"x","code":"c0de","device_code":"dc","client_secret":"s","password":"pw","assertion":"as","my_Token_x":"t","api_secret":"k","token_type":"Bearer","error":"server_error","expires_in":3600,"code_count":7}"#;
        let shown = redact_secrets(body);
        for secret in [
            "at-1", "rt\\\"2", "\"x\"", "c0de", "\"dc\"", "\"s\"", "\"pw\"", "\"as\"", "\"t\"",
            "\"k\"",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains(r#""access_token":"[redacted]""#), "{shown}");
        assert!(
            shown.contains(r#""refresh_token" : "[redacted]""#),
            "{shown}"
        );
        for kept in [
            r#""token_type":"Bearer""#,
            r#""error":"server_error""#,
            r#""expires_in":3600"#,
            r#""code_count":7"#,
        ] {
            assert!(shown.contains(kept), "{kept} not in {shown}");
        }
    }

    #[test]
    fn a_value_cut_short_is_redacted_to_the_end() {
        assert_eq!(
            redact_secrets(r#"{"error":"x","refresh_token":"abc"#),
            r#"{"error":"x","refresh_token":"[redacted]"#
        );
    }

    #[test]
    fn sensitive_form_values_are_redacted() {
        let shown = redact_secrets(
            "access_token=gho_abc&scope=repo&token_type=bearer <a href=\"/cb?code=c0de&state=st4te\">",
        );
        assert_eq!(
            shown,
            "access_token=[redacted]&scope=repo&token_type=bearer <a href=\"/cb?code=[redacted]&state=[redacted]\">"
        );
    }

    #[test]
    fn long_opaque_runs_are_redacted_wherever_they_are() {
        let opaque = "Zm9vYmFyYmF6cXV4cXV1eF9fLS0tMTIz"; // 32 characters
        let shown = redact_secrets(&format!(
            "<p>token {JWT} and {opaque}, not {}</p> {{\"x\": \"{opaque}\"}}",
            "a".repeat(23)
        ));
        assert_eq!(
            shown,
            format!(
                "<p>token [redacted] and [redacted], not {}</p> {{\"x\": \"[redacted]\"}}",
                "a".repeat(23)
            )
        );
        // Text and error codes stay readable; so does non-ASCII text.
        let prose = "Bad gateway: upstream invalid_grant — réessayez";
        assert_eq!(redact_secrets(prose), prose);
    }

    #[test]
    fn excerpts_never_show_a_token() {
        let response = Response {
            status: 502,
            content_type: Some("application/json".into()),
            date: None,
            body: format!(
                "{{\"access_token\":\"short-at\",\n\"id_token\":\"{JWT}\",\"note\":\"{JWT}\",\"refresh_token\":\"{}\"}}",
                "r".repeat(300)
            )
            .into(),
        };
        let excerpt = response.excerpt();
        assert!(!excerpt.contains("short-at"), "{excerpt}");
        assert!(!excerpt.contains("eyJ"), "{excerpt}");
        assert!(!excerpt.contains("rrrr"), "{excerpt}");
        assert!(excerpt.contains("[redacted]"), "{excerpt}");
    }

    #[test]
    fn connection_refused_is_a_network_error_naming_the_host_after_retries() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = Url::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
        let http = Http::new(settings(Duration::from_secs(5)));
        let err = http.get(&url, "discovery").unwrap_err();
        assert_eq!(err.exit_code(), crate::base::error::ExitCode::Network);
        assert!(
            err.message().contains(&format!("127.0.0.1:{port}"))
                && err.message().contains("connection refused"),
            "{}",
            err.message()
        );
        assert_eq!(http.last_attempts(), 3, "nothing was sent: retried");
    }

    #[test]
    fn a_proxy_that_is_down_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut with_proxy = settings(Duration::from_secs(5));
        with_proxy.proxy = Some(ProxySetting::parse(&format!("http://127.0.0.1:{port}")).unwrap());
        let url = Url::parse("http://127.0.0.1:9/x").unwrap();
        let err = Http::new(with_proxy).get(&url, "discovery").unwrap_err();
        assert!(
            err.message().contains(&format!(
                "proxy http://127.0.0.1:{port} (from the profile's `proxy`)"
            )),
            "{}",
            err.message()
        );
    }

    /// A one-off SOCKS5 server on 127.0.0.1 that answers each of `connections` connections
    /// with `replies`, one per read of the client's: its port.
    fn socks_server(connections: usize, replies: &'static [&'static [u8]]) -> u16 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let mut stream = stream.unwrap();
                for reply in replies {
                    let mut buf = [0u8; 512];
                    if stream.read(&mut buf).unwrap_or(0) == 0 {
                        break;
                    }
                    let _ = stream.write_all(reply);
                }
            }
        });
        port
    }

    fn through(proxy: &str) -> Http {
        let mut with_proxy = settings(Duration::from_secs(5));
        with_proxy.proxy = Some(ProxySetting::parse(proxy).unwrap());
        Http::new(with_proxy)
    }

    #[test]
    fn a_socks_proxy_that_is_down_is_named_with_the_ssh_forward_in_the_hint() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = Url::parse("https://idp.example/x").unwrap();
        let http = through(&format!("socks5h://127.0.0.1:{port}"));
        let err = http.get(&url, "discovery").unwrap_err();
        assert_eq!(err.exit_code(), crate::base::error::ExitCode::Network);
        assert!(
            err.message().contains(&format!(
                "cannot connect to the proxy socks5h://127.0.0.1:{port} (from the profile's `proxy`)"
            )),
            "{}",
            err.message()
        );
        assert!(
            err.hint_text().unwrap_or_default().contains("ssh -D"),
            "{:?}",
            err.hint_text()
        );
        assert_eq!(http.last_attempts(), 3, "nothing was sent: retried");
    }

    #[test]
    fn a_socks_refusal_names_the_proxy_and_the_reason() {
        // No authentication, then "connection refused" (reply 5) for the provider.
        let port = socks_server(3, &[&[5, 0], &[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]]);
        let url = Url::parse("https://idp.example/x").unwrap();
        let http = through(&format!("socks5h://127.0.0.1:{port}"));
        let err = http.get(&url, "discovery").unwrap_err();
        assert_eq!(err.exit_code(), crate::base::error::ExitCode::Network);
        assert!(
            err.message().contains(&format!(
                "the proxy socks5h://127.0.0.1:{port} (from the profile's `proxy`) did not open a connection to idp.example:443: connection refused"
            )),
            "{}",
            err.message()
        );
        assert_eq!(
            http.last_attempts(),
            3,
            "nothing reached the provider: retried"
        );
    }

    #[test]
    fn a_socks_proxy_wanting_credentials_or_not_speaking_socks5_is_told_so_once() {
        let url = Url::parse("https://idp.example/x").unwrap();
        let wants = socks_server(1, &[&[5, 0xff]]);
        let http = through(&format!("socks5://127.0.0.1:{wants}"));
        // An address: socks5:// would resolve a name here first.
        let at_address = Url::parse("https://192.0.2.1/x").unwrap();
        let err = http.get(&at_address, "discovery").unwrap_err();
        assert!(
            err.message().contains("no acceptable auth methods")
                && err.hint_text().unwrap_or_default().contains("credentials"),
            "{} / {:?}",
            err.message(),
            err.hint_text()
        );
        assert_eq!(http.last_attempts(), 1, "a refusal is not retried");
        let http_proxy = socks_server(1, &[b"HTTP/1.1 400 Bad Request\r\n\r\n"]);
        let http = through(&format!("socks5h://127.0.0.1:{http_proxy}"));
        let err = http.get(&url, "discovery").unwrap_err();
        assert!(
            err.message().contains("invalid response version")
                && err
                    .hint_text()
                    .unwrap_or_default()
                    .contains("not a SOCKS5 proxy"),
            "{} / {:?}",
            err.message(),
            err.hint_text()
        );
        assert_eq!(http.last_attempts(), 1);
    }

    #[test]
    fn socks5_resolves_the_providers_name_here_and_says_so() {
        let port = socks_server(0, &[]);
        let url = Url::parse("https://idp.latchkey.invalid/x").unwrap();
        let err = through(&format!("socks5://127.0.0.1:{port}"))
            .get(&url, "discovery")
            .unwrap_err();
        assert!(
            err.message().contains(
                "cannot resolve host idp.latchkey.invalid; with socks5:// this machine resolves it, not the proxy socks5://127.0.0.1:"
            ) && err.hint_text().unwrap_or_default().contains("socks5h://"),
            "{} / {:?}",
            err.message(),
            err.hint_text()
        );
    }

    #[test]
    fn socks_refusals_are_only_ureqs_handshake_errors() {
        let other = |text: &str| std::io::Error::other(text.to_owned());
        assert_eq!(
            socks_refusal(&other("host unreachable")),
            Some(SocksRefusal::Unreachable("host unreachable"))
        );
        assert_eq!(
            socks_refusal(&other("connection not allowed by ruleset")),
            Some(SocksRefusal::Policy("connection not allowed by ruleset"))
        );
        assert_eq!(socks_refusal(&other("connection reset")), None);
        let mut short = &[5u8][..];
        let eof = std::io::Read::read_exact(&mut short, &mut [0; 2]).unwrap_err();
        assert_eq!(socks_refusal(&eof), Some(SocksRefusal::Closed));
        // An OS error is the network's, not the proxy's answer.
        let os = std::io::Error::from_raw_os_error(111);
        assert_eq!(socks_refusal(&os), None);
    }

    #[test]
    fn proxy_status_is_read_from_ureqs_reason() {
        assert_eq!(
            proxy_status("proxy server responded 407/Proxy Authentication Required"),
            Some(407)
        );
        assert_eq!(proxy_status("proxy server did not respond"), None);
    }
}
