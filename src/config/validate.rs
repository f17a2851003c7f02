//! Validation: the layered, untyped values of one profile checked once, in named steps (provider,
//! login, endpoints, key, network), into the typed [`Profile`]. Every error names the key and
//! where its value came from.

use crate::base::error::{Error, Result};
use crate::config::hosts::HostEntry;
use crate::config::raw::RawProfile;
use crate::config::settings::Source;
use crate::config::{
    DEFAULT_CALLBACK_PATH, DEFAULT_CONNECT_TIMEOUT, DEFAULT_HELPER_USERNAME, DEFAULT_HTTP_TIMEOUT,
    DEFAULT_REDIRECT_PORT, DEFAULT_SCRYPT_WORK_FACTOR, Dialect, EndpointOverrides, Flow, KeySource,
    Profile, ProviderKind, TokenRequestFormat,
};
use crate::net::proxy::ProxySetting;
use crate::net::url::{self, Url};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Authorize parameters latchkey sets itself; `authorize_params` may not override them.
const RESERVED_AUTHORIZE_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// Builds errors about one profile's keys, naming where each value came from.
struct Checker<'a> {
    name: &'a str,
    source_of: &'a dyn Fn(&str) -> Source,
}

impl Checker<'_> {
    /// "`field` (where it is set): message", with the hint to fix it there.
    fn bad(&self, field: &str, message: String) -> Error {
        let name = self.name;
        let source = (self.source_of)(field);
        Error::config(format!("profile `{name}`: `{field}` ({source}): {message}")).hint(format!(
            "fix `{field}` where it is set ({source}); profiles.example.toml documents each key"
        ))
    }

    /// A path value: `~/` is the home directory; a relative path written in the profiles file
    /// is taken from that file's directory (wherever latchkey runs from), one from the
    /// environment or a flag from the current directory.
    fn path(&self, field: &str, value: &str) -> PathBuf {
        let path = expand_home(value);
        if path.is_relative()
            && let Source::File { path: file, .. } = (self.source_of)(field)
            && let Some(dir) = file.parent()
        {
            return dir.join(path);
        }
        path
    }

    fn optional_url(&self, field: &str, value: Option<String>) -> Result<Option<Url>> {
        value
            .map(|v| parse_endpoint(&v).map_err(|m| self.bad(field, m)))
            .transpose()
    }
}

/// What the login step decides: scopes, the loopback redirect and the request shapes.
struct LoginSettings {
    scopes: Vec<String>,
    redirect_port: u16,
    callback_path: String,
    token_request_format: TokenRequestFormat,
    flow: Flow,
    authorize_params: BTreeMap<String, String>,
}

/// What the network step decides.
struct NetworkSettings {
    http_timeout: Duration,
    connect_timeout: Duration,
    ca_file: Option<PathBuf>,
    proxy: Option<ProxySetting>,
}

/// Checks the layered values and builds the typed profile; errors name where the value came from.
pub fn validate(
    name: &str,
    raw: RawProfile,
    source_of: &dyn Fn(&str) -> Source,
) -> Result<Profile> {
    let check = Checker { name, source_of };
    let client_id = client_id(name, raw.client_id)?;
    let (kind, issuer) = provider(&check, raw.domain, raw.issuer)?;
    let mut login = login_settings(
        &check,
        raw.scopes,
        raw.redirect_port,
        raw.callback_path,
        raw.token_request_format,
        raw.flow,
        raw.authorize_params,
    )?;
    let endpoints = EndpointOverrides {
        authorize: check.optional_url("authorize_endpoint", raw.authorize_endpoint)?,
        token: check.optional_url("token_endpoint", raw.token_endpoint)?,
        revocation: check.optional_url("revocation_endpoint", raw.revocation_endpoint)?,
        device_authorization: check.optional_url(
            "device_authorization_endpoint",
            raw.device_authorization_endpoint,
        )?,
    };
    let organization = organization_of(&check, raw.organization, &mut login.authorize_params)?;
    let paste_redirect_uri = check.optional_url("paste_redirect_uri", raw.paste_redirect_uri)?;
    let key_source = key_source(
        &check,
        raw.identity_file,
        raw.use_passphrase,
        raw.scrypt_work_factor,
    )?;
    let network = network_settings(
        &check,
        raw.http_timeout,
        raw.connect_timeout,
        raw.ca_file,
        raw.proxy,
    )?;
    let dialect = dialect_of(&check, raw.provider, &kind, &issuer)?;
    let helpers = helper_settings(&check, raw.hosts, raw.git_username, raw.registry_username)?;
    Ok(Profile {
        dialect,
        hosts: helpers.hosts,
        git_username: helpers.git_username,
        registry_username: helpers.registry_username,
        login_if_needed: raw.login_if_needed.unwrap_or(false),
        key_source,
        http_timeout: network.http_timeout,
        connect_timeout: network.connect_timeout,
        ca_file: network.ca_file,
        proxy: network.proxy,
        name: name.to_owned(),
        kind,
        issuer,
        client_id,
        // An empty value (`LATCHKEY_CLIENT_SECRET=`) unsets it, as for `audience`.
        client_secret: raw.client_secret.filter(|s| !s.secret().is_empty()),
        audience: raw.audience.filter(|a| !a.is_empty()),
        organization,
        scopes: login.scopes,
        redirect_port: login.redirect_port,
        callback_path: login.callback_path,
        paste_redirect_uri,
        authorize_params: login.authorize_params,
        token_request_format: login.token_request_format,
        flow: login.flow,
        endpoints,
    })
}

fn client_id(name: &str, client_id: Option<String>) -> Result<String> {
    client_id.filter(|c| !c.trim().is_empty()).ok_or_else(|| {
        Error::config(format!("profile `{name}` has no `client_id`")).hint(
            "set client_id to the application's Client ID (Auth0: Applications > your app > Settings), \
             or LATCHKEY_CLIENT_ID",
        )
    })
}

/// Exactly one of `domain` (an Auth0 tenant) and `issuer` (any OpenID provider).
fn provider(
    check: &Checker<'_>,
    domain: Option<String>,
    issuer: Option<String>,
) -> Result<(ProviderKind, Url)> {
    let name = check.name;
    match (domain, issuer) {
        (Some(domain), None) => {
            let host = auth0_domain(&domain).map_err(|m| check.bad("domain", m))?;
            let issuer =
                Url::parse(&format!("https://{host}/")).map_err(|m| check.bad("domain", m))?;
            Ok((ProviderKind::Auth0 { domain: host }, issuer))
        }
        (None, Some(issuer)) => {
            let url = parse_endpoint(&issuer).map_err(|m| check.bad("issuer", m))?;
            if url.query().is_some() || url.fragment().is_some() {
                return Err(check.bad("issuer", "an issuer has no query or fragment".into()));
            }
            Ok((ProviderKind::Discovery, url))
        }
        (Some(_), Some(_)) => Err(Error::config(format!(
            "profile `{name}` sets both `domain` ({}) and `issuer` ({})",
            (check.source_of)("domain"),
            (check.source_of)("issuer")
        ))
        .hint("keep `domain` for an Auth0 tenant, or `issuer` for any OpenID provider, not both")),
        (None, None) => Err(Error::config(format!(
            "profile `{name}` sets neither `domain` nor `issuer`"
        ))
        .hint(
            "set domain = \"TENANT.REGION.auth0.com\" for Auth0, or issuer = \"https://...\" for any OpenID provider",
        )),
    }
}

/// Scopes, the loopback redirect, the flow and the request formats.
fn login_settings(
    check: &Checker<'_>,
    scopes: Option<Vec<String>>,
    redirect_port: Option<i64>,
    callback_path: Option<String>,
    token_request_format: Option<String>,
    flow: Option<String>,
    authorize_params: Option<BTreeMap<String, String>>,
) -> Result<LoginSettings> {
    // In the order the keys are documented, so the first problem reported is the first listed.
    let scopes = scopes_of(check, scopes)?;
    let redirect_port = redirect_port_of(check, redirect_port)?;
    let callback_path = callback_path_of(check, callback_path)?;
    let token_request_format = match token_request_format.as_deref().unwrap_or("form") {
        "form" => TokenRequestFormat::Form,
        "json" => TokenRequestFormat::Json,
        other => {
            return Err(check.bad(
                "token_request_format",
                format!("{other:?} is not one of \"form\", \"json\""),
            ));
        }
    };
    let flow = match flow.as_deref().unwrap_or("code") {
        "code" => Flow::Code,
        "device" => Flow::Device,
        other => {
            return Err(check.bad(
                "flow",
                format!("{other:?} is not one of \"code\", \"device\""),
            ));
        }
    };
    Ok(LoginSettings {
        scopes,
        redirect_port,
        callback_path,
        token_request_format,
        flow,
        authorize_params: authorize_params_of(check, authorize_params)?,
    })
}

/// At least one scope, each a single token (the request joins them with spaces).
fn scopes_of(check: &Checker<'_>, scopes: Option<Vec<String>>) -> Result<Vec<String>> {
    let scopes = scopes.unwrap_or_default();
    if scopes.is_empty() {
        return Err(check.bad(
            "scopes",
            "at least one scope is needed (usually \"openid\")".into(),
        ));
    }
    if let Some(s) = scopes.iter().find(|s| {
        s.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\')
    }) {
        return Err(check.bad(
            "scopes",
            format!("scope {s:?} contains a space or quote; list scopes separately"),
        ));
    }
    Ok(scopes)
}

fn redirect_port_of(check: &Checker<'_>, port: Option<i64>) -> Result<u16> {
    let port = port.unwrap_or(DEFAULT_REDIRECT_PORT);
    u16::try_from(port).map_err(|_| {
        check.bad(
            "redirect_port",
            format!("{port} is not a port: use 1-65535, or 0 to let the OS pick"),
        )
    })
}

fn callback_path_of(check: &Checker<'_>, path: Option<String>) -> Result<String> {
    let callback_path = path.unwrap_or_else(|| DEFAULT_CALLBACK_PATH.to_owned());
    // The listener compares the request's path byte for byte, as browsers send it: anything
    // but printable ASCII (a control character, a non-ASCII letter) could never match.
    if !callback_path.starts_with('/')
        || !callback_path.chars().all(|c| c.is_ascii_graphic())
        || callback_path.contains(['?', '#'])
    {
        return Err(check.bad(
            "callback_path",
            format!(
                "{callback_path:?} must be a path starting with `/`, in printable ASCII without `?`, `#` or spaces"
            ),
        ));
    }
    Ok(callback_path)
}

fn authorize_params_of(
    check: &Checker<'_>,
    params: Option<BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>> {
    let params = params.unwrap_or_default();
    if let Some(key) = params
        .keys()
        .find(|k| RESERVED_AUTHORIZE_PARAMS.contains(&k.as_str()))
    {
        return Err(check.bad(
            "authorize_params",
            format!("`{key}` is set by latchkey itself and cannot be overridden here"),
        ));
    }
    Ok(params)
}

/// The Auth0 organization to log in to. One written as `authorize_params.organization` (how it
/// was passed before latchkey knew the key) is taken as the key, so that it is checked too.
fn organization_of(
    check: &Checker<'_>,
    organization: Option<String>,
    authorize_params: &mut BTreeMap<String, String>,
) -> Result<Option<String>> {
    let from_params = authorize_params.remove("organization");
    let organization = match (organization.filter(|o| !o.trim().is_empty()), from_params) {
        (Some(key), Some(param)) if key.trim() != param.trim() => {
            return Err(check.bad(
                "organization",
                format!(
                    "{key:?} differs from `authorize_params.organization` ({param:?}); keep one"
                ),
            ));
        }
        (key, param) => key.or(param),
    };
    let Some(organization) = organization.map(|o| o.trim().to_owned()) else {
        return Ok(None);
    };
    if organization.is_empty()
        || organization.len() > 200
        || organization.chars().any(|c| c.is_control())
    {
        return Err(check.bad(
            "organization",
            "must be an organization ID (`org_…`) or name: printable, at most 200 bytes".into(),
        ));
    }
    Ok(Some(organization))
}

/// What the token file is encrypted with: an identity file, a passphrase, or latchkey's own key.
fn key_source(
    check: &Checker<'_>,
    identity_file: Option<String>,
    use_passphrase: Option<bool>,
    scrypt_work_factor: Option<i64>,
) -> Result<KeySource> {
    match (identity_file, use_passphrase.unwrap_or(false)) {
        (Some(_), true) => Err(check.bad(
            "use_passphrase",
            "`use_passphrase = true` and `identity_file` both choose the key; keep one".into(),
        )),
        (Some(path), false) => Ok(KeySource::IdentityFile(check.path("identity_file", &path))),
        (None, true) => {
            let factor = scrypt_work_factor.unwrap_or(DEFAULT_SCRYPT_WORK_FACTOR);
            let work_factor = u8::try_from(factor)
                .ok()
                .filter(|f| (10..=22).contains(f))
                .ok_or_else(|| {
                    check.bad(
                        "scrypt_work_factor",
                        format!("{factor} is out of range: use 10 to 22 (log2 of scrypt's N)"),
                    )
                })?;
            Ok(KeySource::Passphrase { work_factor })
        }
        (None, false) => Ok(KeySource::Generated),
    }
}

/// Timeouts, extra trusted roots and the proxy.
fn network_settings(
    check: &Checker<'_>,
    http_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    ca_file: Option<String>,
    proxy: Option<String>,
) -> Result<NetworkSettings> {
    let http_timeout = http_timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT);
    if http_timeout.is_zero() {
        return Err(check.bad("http_timeout", "must be more than 0 seconds".into()));
    }
    let connect_timeout = connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    if connect_timeout.is_zero() {
        return Err(check.bad("connect_timeout", "must be more than 0 seconds".into()));
    }
    let ca_file = match ca_file.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(path) => Some(check.path("ca_file", path)),
    };
    let proxy = match proxy.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            ProxySetting::parse(text).map_err(|m| check.bad("proxy", format!("the value {m}")))?,
        ),
    };
    Ok(NetworkSettings {
        http_timeout,
        connect_timeout,
        ca_file,
        proxy,
    })
}

/// Entra ID's sign-in hosts (public cloud, US Government, China): an issuer there speaks Entra's
/// dialect without `provider = "entra"`.
const ENTRA_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.partner.microsoftonline.cn",
];

/// `provider`: "entra" or "standard"; unset, Entra's own sign-in hosts are Entra.
fn dialect_of(
    check: &Checker<'_>,
    provider: Option<String>,
    kind: &ProviderKind,
    issuer: &Url,
) -> Result<Dialect> {
    match provider.as_deref().map(str::trim) {
        None | Some("") => Ok(
            if ENTRA_HOSTS.contains(&issuer.host().to_ascii_lowercase().as_str()) {
                Dialect::Entra
            } else {
                Dialect::Standard
            },
        ),
        Some("standard") => Ok(Dialect::Standard),
        Some("entra") if matches!(kind, ProviderKind::Auth0 { .. }) => Err(check.bad(
            "provider",
            "\"entra\" is for an Entra ID `issuer`; a `domain` profile is an Auth0 tenant".into(),
        )),
        Some("entra") => Ok(Dialect::Entra),
        Some(other) => Err(check.bad(
            "provider",
            format!("{other:?} is not a provider dialect: use \"entra\" or \"standard\""),
        )),
    }
}

/// What the git and docker credential helpers answer with.
struct HelperSettings {
    hosts: Vec<HostEntry>,
    git_username: String,
    registry_username: String,
}

/// The longest user name a helper hands git or docker.
const MAX_HELPER_USERNAME: usize = 256;

fn helper_settings(
    check: &Checker<'_>,
    hosts: Option<Vec<String>>,
    git_username: Option<String>,
    registry_username: Option<String>,
) -> Result<HelperSettings> {
    let hosts = hosts
        .unwrap_or_default()
        .iter()
        .map(|h| HostEntry::parse(h).map_err(|m| check.bad("hosts", m)))
        .collect::<Result<Vec<_>>>()?;
    let username = |field: &str, value: Option<String>| -> Result<String> {
        match value.as_deref().map(str::trim) {
            None | Some("") => Ok(DEFAULT_HELPER_USERNAME.to_owned()),
            // git's protocol is one `key=value` per line and docker's JSON is shown to people.
            Some(name)
                if name.len() > MAX_HELPER_USERNAME || name.chars().any(|c| c.is_control()) =>
            {
                Err(check.bad(
                    field,
                    "a user name is one line of printable text, at most 256 bytes".into(),
                ))
            }
            Some(name) => Ok(name.to_owned()),
        }
    };
    Ok(HelperSettings {
        hosts,
        git_username: username("git_username", git_username)?,
        registry_username: username("registry_username", registry_username)?,
    })
}

/// `~/x` means the home directory's `x`, as in a shell.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// An Auth0 domain is a bare host name; a pasted `https://host/` is accepted and reduced.
fn auth0_domain(domain: &str) -> Result<String, String> {
    let trimmed = domain.trim();
    if trimmed.starts_with("http://") {
        return Err(format!(
            "{domain:?} uses http; an Auth0 tenant is only reached over https — write the bare domain"
        ));
    }
    let host = trimmed
        .strip_prefix("https://")
        .unwrap_or(trimmed)
        .trim_end_matches('/');
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':')
    {
        return Err(format!(
            "{domain:?} is not a domain name like \"dev-abc123.us.auth0.com\" (no scheme, no path)"
        ));
    }
    Ok(host.to_ascii_lowercase())
}

/// An endpoint URL: https, or http only on a loopback host where no network can see the traffic.
pub fn parse_endpoint(value: &str) -> Result<Url, String> {
    let url = Url::parse(value.trim())?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if url::is_loopback_host(url.host()) => Ok(url),
        "http" => Err(format!(
            "{value:?} uses plain http on a non-loopback host; tokens would cross the network unencrypted \
             (http is allowed only for 127.0.0.1, [::1] and localhost)"
        )),
        other => Err(format!("{value:?} has scheme {other:?}; use https")),
    }
}
