//! Layer 3, configuration: reading the profiles file, layering defaults < file < environment <
//! flags with figment, and validating the result once into the typed [`Profile`] that every
//! command takes. May use `base`, `terminal` and `net`.

pub mod edit;
pub mod file;
pub mod hosts;
pub mod kubeconfig;
pub mod layers;
pub mod paths;
pub mod raw;
pub mod settings;
pub mod suggest;
pub mod validate;

pub use file::ProfilesFile;
pub use layers::FlagOverrides;
pub use settings::{ProfileSettings, SettingRow, Source};
pub use validate::parse_endpoint;

use crate::net::http::{Body, HttpSettings};
use crate::net::retry::Resend;
use crate::net::url::Url;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// One key a profile may set: the one list of them. The names are an interface: they appear
/// in profiles files and, upper-cased with a `LATCHKEY_` prefix, as environment overrides.
/// [`PROFILE_FIELDS`] (the names, for the layers and messages), `profiles show`'s rows (a
/// match on every variant, `config::settings`) and the man page's ENVIRONMENT come from it; a
/// test holds `RawProfile`'s fields and profiles.example.toml to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKey {
    Domain,
    Issuer,
    Provider,
    ClientId,
    ClientSecret,
    Audience,
    Organization,
    Scopes,
    Flow,
    RedirectPort,
    CallbackPath,
    PasteRedirectUri,
    AuthorizeParams,
    TokenRequestFormat,
    AuthorizeEndpoint,
    TokenEndpoint,
    RevocationEndpoint,
    DeviceAuthorizationEndpoint,
    IdentityFile,
    UsePassphrase,
    ScryptWorkFactor,
    HttpTimeout,
    ConnectTimeout,
    CaFile,
    Proxy,
    Hosts,
    GitUsername,
    RegistryUsername,
    LoginIfNeeded,
}

impl ProfileKey {
    /// Every key, in the order `profiles show` lists them.
    pub const ALL: [ProfileKey; 29] = [
        ProfileKey::Domain,
        ProfileKey::Issuer,
        ProfileKey::Provider,
        ProfileKey::ClientId,
        ProfileKey::ClientSecret,
        ProfileKey::Audience,
        ProfileKey::Organization,
        ProfileKey::Scopes,
        ProfileKey::Flow,
        ProfileKey::RedirectPort,
        ProfileKey::CallbackPath,
        ProfileKey::PasteRedirectUri,
        ProfileKey::AuthorizeParams,
        ProfileKey::TokenRequestFormat,
        ProfileKey::AuthorizeEndpoint,
        ProfileKey::TokenEndpoint,
        ProfileKey::RevocationEndpoint,
        ProfileKey::DeviceAuthorizationEndpoint,
        ProfileKey::IdentityFile,
        ProfileKey::UsePassphrase,
        ProfileKey::ScryptWorkFactor,
        ProfileKey::HttpTimeout,
        ProfileKey::ConnectTimeout,
        ProfileKey::CaFile,
        ProfileKey::Proxy,
        ProfileKey::Hosts,
        ProfileKey::GitUsername,
        ProfileKey::RegistryUsername,
        ProfileKey::LoginIfNeeded,
    ];

    /// The key as a profiles file writes it.
    pub const fn name(self) -> &'static str {
        match self {
            ProfileKey::Domain => "domain",
            ProfileKey::Issuer => "issuer",
            ProfileKey::Provider => "provider",
            ProfileKey::ClientId => "client_id",
            ProfileKey::ClientSecret => "client_secret",
            ProfileKey::Audience => "audience",
            ProfileKey::Organization => "organization",
            ProfileKey::Scopes => "scopes",
            ProfileKey::Flow => "flow",
            ProfileKey::RedirectPort => "redirect_port",
            ProfileKey::CallbackPath => "callback_path",
            ProfileKey::PasteRedirectUri => "paste_redirect_uri",
            ProfileKey::AuthorizeParams => "authorize_params",
            ProfileKey::TokenRequestFormat => "token_request_format",
            ProfileKey::AuthorizeEndpoint => "authorize_endpoint",
            ProfileKey::TokenEndpoint => "token_endpoint",
            ProfileKey::RevocationEndpoint => "revocation_endpoint",
            ProfileKey::DeviceAuthorizationEndpoint => "device_authorization_endpoint",
            ProfileKey::IdentityFile => "identity_file",
            ProfileKey::UsePassphrase => "use_passphrase",
            ProfileKey::ScryptWorkFactor => "scrypt_work_factor",
            ProfileKey::HttpTimeout => "http_timeout",
            ProfileKey::ConnectTimeout => "connect_timeout",
            ProfileKey::CaFile => "ca_file",
            ProfileKey::Proxy => "proxy",
            ProfileKey::Hosts => "hosts",
            ProfileKey::GitUsername => "git_username",
            ProfileKey::RegistryUsername => "registry_username",
            ProfileKey::LoginIfNeeded => "login_if_needed",
        }
    }
}

/// Every key's name, in [`ProfileKey::ALL`]'s order.
pub const PROFILE_FIELDS: &[&str] = &{
    let mut names = [""; ProfileKey::ALL.len()];
    let mut at = 0;
    while at < names.len() {
        names[at] = ProfileKey::ALL[at].name();
        at += 1;
    }
    names
};

pub(crate) const TOP_LEVEL_KEYS: &[&str] = &["default_profile", "profiles"];
pub(crate) const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
pub(crate) const DEFAULT_REDIRECT_PORT: i64 = 8484;
pub(crate) const DEFAULT_CALLBACK_PATH: &str = "/callback";
/// log2 of scrypt's N: about 0.1 s on a laptop, a balance for a token read many times a minute.
pub(crate) const DEFAULT_SCRYPT_WORK_FACTOR: i64 = 16;
pub(crate) const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The user name the credential helpers answer with the token: what GitLab expects for an OAuth
/// token (GitHub takes `x-access-token`; most servers ignore it).
pub(crate) const DEFAULT_HELPER_USERNAME: &str = "oauth2";

/// How `latchkey login` obtains the authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flow {
    /// Authorization Code with PKCE: a browser, the loopback listener or a paste.
    Code,
    /// Device Authorization Grant (RFC 8628): a user code entered on any device.
    Device,
}

/// How the token request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRequestFormat {
    /// `application/x-www-form-urlencoded`, as RFC 6749 specifies.
    Form,
    /// `application/json`, which Auth0 also accepts.
    Json,
}

/// Where the provider's endpoints come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// An Auth0 tenant: endpoints are fixed paths under `https://DOMAIN/`.
    Auth0 { domain: String },
    /// Any OpenID provider: endpoints come from its discovery document.
    Discovery,
}

/// How a provider is asked for a token for another API than the login's (`token --audience`),
/// beyond what `kind` says: the `provider` key, or the issuer's host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// RFC 8707: `resource` names the API (Auth0 profiles use `audience`, from `kind`).
    Standard,
    /// Microsoft Entra ID: no `resource` ("AADSTS901002"), the API is named in the scope as
    /// `API/.default` or `API/scope`.
    Entra,
}

/// OpenID Connect's own scopes, which Entra takes as they are beside an API's.
const OPENID_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "offline_access",
    "address",
    "phone",
];

/// An API's scope as Entra names it: `API/.default` (everything the client may have of it)
/// without a scope, `API/read` for `read`; a scope that already names its API, or an OpenID
/// one, as it is.
pub fn entra_scope(api: &str, scope: Option<&str>) -> String {
    let api = api.trim_end_matches('/');
    match scope {
        None => format!("{api}/.default"),
        Some(s) if s.contains('/') || OPENID_SCOPES.contains(&s) => s.to_owned(),
        Some(s) => format!("{api}/{s}"),
    }
}

/// What the token file is encrypted with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// latchkey's own X25519 identity, generated on first use in the data directory.
    Generated,
    /// An age identity file the user keeps (on removable media, say).
    IdentityFile(PathBuf),
    /// A passphrase (age's scrypt recipient) at this work factor (log2 N).
    Passphrase { work_factor: u8 },
}

/// Per-endpoint overrides from the profile; `None` means "from the domain or discovery".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    pub authorize: Option<Url>,
    pub token: Option<Url>,
    pub revocation: Option<Url>,
    pub device_authorization: Option<Url>,
}

/// A validated profile: everything the commands need, typed, checked once at the edge.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub kind: ProviderKind,
    /// The issuer identifier exactly as the provider states it (`https://DOMAIN/` for Auth0).
    pub issuer: Url,
    pub client_id: String,
    /// Only for providers that demand one from installed apps (Google's "Desktop app"
    /// clients): sent as the provider's metadata says (`oauth::client_auth`), never shown.
    pub client_secret: Option<crate::base::secret::ClientSecret>,
    pub audience: Option<String>,
    /// An Auth0 organization (`org_…` ID or name): sent to `/authorize` and checked against
    /// every ID token's `org_id` / `org_name` (`oauth::id_token`).
    pub organization: Option<String>,
    pub scopes: Vec<String>,
    /// 0 lets the OS pick a free port (for providers that accept any loopback port).
    pub redirect_port: u16,
    pub callback_path: String,
    pub paste_redirect_uri: Option<Url>,
    pub authorize_params: BTreeMap<String, String>,
    pub token_request_format: TokenRequestFormat,
    pub flow: Flow,
    pub endpoints: EndpointOverrides,
    pub key_source: KeySource,
    /// Longest a whole request to the provider may take.
    pub http_timeout: Duration,
    /// Longest making a connection may take (DNS, TCP, proxy, TLS); at most `http_timeout`.
    pub connect_timeout: Duration,
    /// Extra trusted certificate authorities (PEM), besides the system's and Mozilla's.
    pub ca_file: Option<PathBuf>,
    /// The profile's own proxy, or `none`; unset means the environment's (see [`crate::net::proxy`]).
    pub proxy: Option<crate::net::proxy::ProxySetting>,
    pub dialect: Dialect,
    /// The git servers and registries whose credential helpers this profile answers.
    pub hosts: Vec<hosts::HostEntry>,
    pub git_username: String,
    pub registry_username: String,
    /// `token` runs a login when no refresh token is usable and someone can answer it.
    pub login_if_needed: bool,
}

impl Profile {
    /// The `scope` a login asks for: the profile's scopes, and with Entra the audience's
    /// `/.default`, since Entra names the API in the scope and refuses `resource`.
    pub fn login_scope(&self) -> String {
        let mut scopes = self.scopes.clone();
        if let (Dialect::Entra, Some(audience)) = (self.dialect, &self.audience) {
            scopes.push(entra_scope(audience, None));
        }
        scopes.join(" ")
    }

    /// The `audience` a login sends: Auth0's parameter, which other providers ignore; never to
    /// Entra, whose API is in [`Profile::login_scope`].
    pub fn login_audience(&self) -> Option<&str> {
        match self.dialect {
            Dialect::Entra => None,
            Dialect::Standard => self.audience.as_deref(),
        }
    }

    /// The network settings of this profile's requests. `resend` decides whether POSTs are
    /// retried after the provider may have acted on them (see [`Resend`]).
    pub fn http_settings(&self, resend: Resend) -> HttpSettings {
        HttpSettings {
            http_timeout: self.http_timeout,
            connect_timeout: self.connect_timeout,
            ca_file: self.ca_file.clone(),
            proxy: self.proxy.clone(),
            resend,
        }
    }
}

impl TokenRequestFormat {
    /// The request body in this format: the profile decides for every token-endpoint request.
    pub fn body<'a>(self, pairs: &'a [(&'a str, &'a str)]) -> Body<'a> {
        match self {
            TokenRequestFormat::Form => Body::Form(pairs),
            TokenRequestFormat::Json => Body::Json(pairs),
        }
    }
}

pub fn env_var_for(field: &str) -> String {
    format!("LATCHKEY_{}", field.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_key_is_a_raw_field_and_every_raw_field_a_key() {
        // serde names every field it expects when it meets one it does not know.
        let unknown = serde_json::from_str::<raw::RawProfile>(r#"{"not_a_key": 1}"#)
            .unwrap_err()
            .to_string();
        let expected = unknown
            .split_once("expected one of ")
            .map(|(_, list)| list)
            .unwrap_or_default();
        let mut fields: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let mut keys = PROFILE_FIELDS.to_vec();
        fields.sort_unstable();
        keys.sort_unstable();
        assert_eq!(fields, keys, "{unknown}");
        assert_eq!(PROFILE_FIELDS.len(), ProfileKey::ALL.len());
    }

    #[test]
    fn the_example_file_shows_every_key() {
        let example = include_str!("../../profiles.example.toml");
        for key in PROFILE_FIELDS {
            let shown = example.lines().any(|line| {
                let line = line.trim_start_matches('#').trim_start();
                line.starts_with(&format!("{key} = ")) || line.ends_with(&format!(".{key}]"))
            });
            assert!(shown, "profiles.example.toml does not show `{key}`");
        }
    }
    use crate::base::error::Result;
    use crate::config::file::line_column;
    use crate::config::paths::ConfigOrigin;
    use crate::config::suggest::nearest;
    use std::fmt;
    use std::path::Path;

    fn parse(text: &str) -> Result<ProfilesFile> {
        ProfilesFile::parse(
            Path::new("/cfg/profiles.toml"),
            ConfigOrigin::Flag,
            text.to_owned(),
        )
    }

    fn message(result: Result<impl fmt::Debug>) -> String {
        let err = result.expect_err("an error was expected");
        assert_eq!(
            err.exit_code(),
            crate::base::error::ExitCode::Config,
            "{err:?}"
        );
        format!("{} | {}", err.message(), err.hint_text().unwrap_or(""))
    }

    const TWO: &str = r#"
default_profile = "dev"
[profiles.dev]
domain = "dev-abc.us.auth0.com"
client_id = "abc"
audience = "https://api/"
[profiles.local]
issuer = "http://127.0.0.1:3000"
client_id = "cli"
redirect_port = 0
"#;

    #[test]
    fn relative_paths_in_the_file_are_taken_from_its_directory() {
        let file = parse(
            r#"
[profiles.p]
issuer = "https://id.example.com"
client_id = "c"
ca_file = "certs/ca.pem"
identity_file = "keys/me.txt"
[profiles.abs]
issuer = "https://id.example.com"
client_id = "c"
ca_file = "/etc/ca.pem"
"#,
        )
        .unwrap();
        let (p, _) = file.resolve("p", &FlagOverrides::default()).unwrap();
        assert_eq!(p.ca_file.as_deref(), Some(Path::new("/cfg/certs/ca.pem")));
        assert_eq!(
            p.key_source,
            KeySource::IdentityFile(PathBuf::from("/cfg/keys/me.txt"))
        );
        let (abs, _) = file.resolve("abs", &FlagOverrides::default()).unwrap();
        assert_eq!(abs.ca_file.as_deref(), Some(Path::new("/etc/ca.pem")));
    }

    #[test]
    fn the_example_file_loads_and_every_profile_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles.example.toml");
        let file = ProfilesFile::load(&path, ConfigOrigin::Flag).unwrap();
        let names: Vec<_> = file.profile_names().collect();
        assert_eq!(names, ["dev", "entra", "local"]);
        for name in names {
            let (profile, _) = file.resolve(name, &FlagOverrides::default()).unwrap();
            assert!(!profile.client_id.is_empty());
        }
    }

    #[test]
    fn auth0_domain_gives_the_issuer_and_defaults_fill_the_rest() {
        let file = parse(TWO).unwrap();
        let (p, sources) = file.resolve("dev", &FlagOverrides::default()).unwrap();
        assert_eq!(p.issuer.to_string(), "https://dev-abc.us.auth0.com/");
        assert_eq!(
            p.kind,
            ProviderKind::Auth0 {
                domain: "dev-abc.us.auth0.com".into()
            }
        );
        assert_eq!(p.scopes, DEFAULT_SCOPES);
        assert_eq!(p.redirect_port, 8484);
        assert_eq!(p.callback_path, "/callback");
        let source = |f| {
            sources
                .iter()
                .find(|(k, _)| *k == f)
                .map(|(_, s)| s.to_string())
        };
        assert_eq!(source("client_id").as_deref(), Some("/cfg/profiles.toml:5"));
        assert_eq!(source("redirect_port").as_deref(), Some("default"));
    }

    #[test]
    fn issuer_is_kept_exactly_as_written() {
        let file = parse(TWO).unwrap();
        let (p, _) = file.resolve("local", &FlagOverrides::default()).unwrap();
        assert_eq!(p.issuer.to_string(), "http://127.0.0.1:3000");
        assert_eq!(p.kind, ProviderKind::Discovery);
        assert_eq!(p.redirect_port, 0);
    }

    #[test]
    fn flags_beat_the_file() {
        let file = parse(TWO).unwrap();
        let flags = FlagOverrides {
            audience: Some("https://flag/".into()),
            scopes: Some(vec!["openid".into()]),
            ..FlagOverrides::default()
        };
        let (p, sources) = file.resolve("dev", &flags).unwrap();
        assert_eq!(p.audience.as_deref(), Some("https://flag/"));
        assert_eq!(p.scopes, ["openid"]);
        assert!(sources.contains(&("audience", Source::Flag("--audience"))));
    }

    #[test]
    fn selection_order_without_environment() {
        let file = parse(TWO).unwrap();
        assert_eq!(file.select(Some("local")).unwrap().0, "local");
        assert_eq!(file.select(None).unwrap().0, "dev");
        let only = parse("[profiles.solo]\nissuer = \"https://x/\"\nclient_id = \"c\"\n").unwrap();
        assert_eq!(only.select(None).unwrap().0, "solo");
        let two = parse("[profiles.a]\n[profiles.b]\n").unwrap();
        let msg = message(two.select(None));
        assert!(
            msg.contains("several: a, b") && msg.contains("--profile"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_profile_lists_the_known_ones() {
        let file = parse(TWO).unwrap();
        let msg = message(file.select(Some("loca")));
        assert!(msg.contains("unknown profile `loca`"), "{msg}");
        assert!(msg.contains("known profiles: dev, local"), "{msg}");
        assert!(msg.contains("did you mean `local`?"), "{msg}");
    }

    #[test]
    fn malformed_toml_names_file_line_and_column() {
        let msg = message(parse(
            "default_profile = \"dev\"\n[profiles.dev]\nclient_id = \"abc\n",
        ));
        assert!(msg.starts_with("/cfg/profiles.toml:3:"), "{msg}");
        assert!(msg.contains("invalid TOML"), "{msg}");
    }

    #[test]
    fn keys_in_messages_keep_control_characters_escaped() {
        // Found by fuzzing: toml_edit's "duplicate key" message quotes the key as it is.
        let msg = message(parse(
            "[profiles.p]\n\"a\\u001b[2J\" = 1\n\"a\\u001b[2J\" = 2\n",
        ));
        assert!(msg.contains(r"a\u{1b}[2J"), "{msg}");
        let msg = message(parse("[profiles.p]\n\"a\\u001b[2J\" = 1\n"));
        assert!(
            msg.contains(r"unknown key in profile `p` `a\u{1b}[2J`"),
            "{msg}"
        );
        for msg in [
            msg,
            message(
                parse("default_profile = \"\\u0007\"\n[profiles.a]\n[profiles.b]\n")
                    .and_then(|f| f.select(None)),
            ),
        ] {
            assert!(!msg.chars().any(char::is_control), "{msg:?}");
        }
    }

    #[test]
    fn unknown_key_suggests_the_nearest() {
        let msg = message(parse(
            "[profiles.dev]\ndomain = \"x.auth0.com\"\nclientid = \"abc\"\n",
        ));
        assert!(
            msg.starts_with("/cfg/profiles.toml:3:1: unknown key in profile `dev` `clientid`"),
            "{msg}"
        );
        assert!(msg.contains("did you mean `client_id`?"), "{msg}");
        let msg = message(parse("default_profil = \"dev\"\n"));
        assert!(
            msg.contains("1:1") && msg.contains("did you mean `default_profile`?"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_type_names_key_place_and_expected_type() {
        let file = parse(
            "[profiles.dev]\ndomain = \"x.auth0.com\"\nclient_id = \"c\"\nredirect_port = \"80\"\n",
        )
        .unwrap();
        let msg = message(file.resolve("dev", &FlagOverrides::default()));
        assert!(msg.contains("/cfg/profiles.toml:4"), "{msg}");
        assert!(msg.contains("`redirect_port`"), "{msg}");
        assert!(
            msg.contains("expected i64") && msg.contains("string"),
            "{msg}"
        );
        let msg = message(parse("[profiles.dev.authorize_params]\nmax_age = 5\n"));
        assert!(
            msg.contains(":2:1:") && msg.contains("`authorize_params.max_age` must be a string"),
            "{msg}"
        );
    }

    #[test]
    fn domain_and_issuer_exactly_one() {
        let both = parse(
            "[profiles.p]\ndomain = \"a.auth0.com\"\nissuer = \"https://b/\"\nclient_id = \"c\"\n",
        )
        .unwrap();
        let msg = message(both.resolve("p", &FlagOverrides::default()));
        assert!(
            msg.contains("sets both `domain`") && msg.contains("/cfg/profiles.toml:2"),
            "{msg}"
        );
        let neither = parse("[profiles.p]\nclient_id = \"c\"\n").unwrap();
        let msg = message(neither.resolve("p", &FlagOverrides::default()));
        assert!(msg.contains("neither `domain` nor `issuer`"), "{msg}");
    }

    #[test]
    fn missing_client_id_says_so() {
        let file = parse("[profiles.p]\ndomain = \"a.auth0.com\"\n").unwrap();
        let msg = message(file.resolve("p", &FlagOverrides::default()));
        assert!(
            msg.contains("has no `client_id`") && msg.contains("LATCHKEY_CLIENT_ID"),
            "{msg}"
        );
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:3000",
            "http://localhost:8080/",
            "http://[::1]/",
            "https://idp.example.com/",
        ] {
            assert!(parse_endpoint(ok).is_ok(), "{ok}");
        }
        let file = parse("[profiles.p]\nissuer = \"http://idp.example.com\"\nclient_id = \"c\"\n")
            .unwrap();
        let msg = message(file.resolve("p", &FlagOverrides::default()));
        assert!(msg.contains("plain http on a non-loopback host"), "{msg}");
        assert!(msg.contains("/cfg/profiles.toml:2"), "{msg}");
        let file =
            parse("[profiles.p]\ndomain = \"http://x.auth0.com\"\nclient_id = \"c\"\n").unwrap();
        assert!(message(file.resolve("p", &FlagOverrides::default())).contains("uses http"));
    }

    #[test]
    fn ports_paths_and_formats_are_checked() {
        let with = |extra: &str| {
            let file = parse(&format!(
                "[profiles.p]\ndomain = \"a.auth0.com\"\nclient_id = \"c\"\n{extra}\n"
            ))
            .unwrap();
            message(file.resolve("p", &FlagOverrides::default()))
        };
        assert!(with("redirect_port = 70000").contains("70000 is not a port"));
        assert!(with("redirect_port = -1").contains("is not a port"));
        assert!(with("callback_path = \"cb\"").contains("must be a path starting with `/`"));
        // Found by fuzzing: control characters (and what a browser would percent-encode) in the
        // path could never match a request.
        for path in ["/c\\r\\nb", "/c\\bb", "/r\u{fc}ckruf", "/a b"] {
            let msg = with(&format!("callback_path = \"{path}\""));
            assert!(msg.contains("in printable ASCII"), "{msg}");
        }
        assert!(with("token_request_format = \"xml\"").contains("not one of"));
        assert!(with("scopes = []").contains("at least one scope"));
        assert!(
            with("[profiles.p.authorize_params]\nstate = \"x\"").contains("set by latchkey itself")
        );
    }

    #[test]
    fn a_client_secret_is_text_and_never_in_a_message_or_debug() {
        let with = |value: &str| {
            parse(&format!(
                "[profiles.p]\nissuer = \"https://id.example.com\"\nclient_id = \"c\"\nclient_secret = {value}\n"
            ))
            .unwrap()
            .resolve("p", &FlagOverrides::default())
        };
        let (p, sources) = with("\"GOCSPX-s3cr3t\"").unwrap();
        assert_eq!(
            p.client_secret.as_ref().map(|s| s.secret()),
            Some("GOCSPX-s3cr3t")
        );
        assert!(!format!("{p:?}").contains("s3cr3t"));
        let row = ProfileSettings::new(&p, sources)
            .rows
            .into_iter()
            .find(|r| r.key == "client_secret")
            .unwrap();
        assert_eq!(row.display.as_deref(), Some("(set, hidden)"));
        assert_eq!(row.json, "(set, hidden)");
        // A number is its digits; other non-strings are refused without repeating the value.
        let (p, _) = with("1234567").unwrap();
        assert_eq!(
            p.client_secret.as_ref().map(|s| s.secret()),
            Some("1234567")
        );
        for value in ["98.76", "true", "[\"s3cr3t\"]"] {
            let msg = message(with(value));
            assert!(msg.contains("`client_secret`"), "{msg}");
            assert!(!msg.contains("98.76") && !msg.contains("s3cr3t"), "{msg}");
        }
        // Empty is unset.
        let (p, _) = with("\"\"").unwrap();
        assert!(p.client_secret.is_none());
    }

    #[test]
    fn profile_names_must_be_file_names() {
        let msg = message(parse("[profiles.\"../evil\"]\n"));
        assert!(msg.contains("may use only letters"), "{msg}");
    }

    #[test]
    fn nearest_finds_typos_only() {
        assert_eq!(
            nearest("clientid", PROFILE_FIELDS.iter().copied()),
            Some("client_id")
        );
        assert_eq!(
            nearest("audiance", PROFILE_FIELDS.iter().copied()),
            Some("audience")
        );
        assert_eq!(nearest("zzzzzz", PROFILE_FIELDS.iter().copied()), None);
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("", 5), (1, 1));
    }

    #[test]
    fn an_organization_in_authorize_params_becomes_the_key_and_a_different_one_is_refused() {
        let resolve = |extra: &str| {
            parse(&format!(
                "[profiles.p]\ndomain = \"a.auth0.com\"\nclient_id = \"c\"\n{extra}"
            ))
            .unwrap()
            .resolve("p", &FlagOverrides::default())
        };
        let (p, _) = resolve("[profiles.p.authorize_params]\norganization = \"org_1\"\n").unwrap();
        assert_eq!(p.organization.as_deref(), Some("org_1"));
        assert!(!p.authorize_params.contains_key("organization"));
        let (p, _) = resolve(
            "organization = \" org_1 \"\n[profiles.p.authorize_params]\norganization = \"org_1\"\n",
        )
        .unwrap();
        assert_eq!(p.organization.as_deref(), Some("org_1"));
        let msg = message(resolve(
            "organization = \"org_1\"\n[profiles.p.authorize_params]\norganization = \"org_2\"\n",
        ));
        assert!(
            msg.contains("differs from `authorize_params.organization`"),
            "{msg}"
        );
        let msg = message(resolve("organization = \"ac\\u001bme\"\n"));
        assert!(
            msg.contains("`organization`") && msg.contains("printable"),
            "{msg}"
        );
        let (p, _) = resolve("organization = \"\"\n").unwrap();
        assert_eq!(p.organization, None);
    }

    #[test]
    fn the_organization_flag_beats_the_file() {
        let file = parse(
            "[profiles.p]\ndomain = \"a.auth0.com\"\nclient_id = \"c\"\norganization = \"acme\"\n",
        )
        .unwrap();
        let flags = FlagOverrides {
            organization: Some("org_globex".into()),
            ..FlagOverrides::default()
        };
        let (p, sources) = file.resolve("p", &flags).unwrap();
        assert_eq!(p.organization.as_deref(), Some("org_globex"));
        assert!(sources.contains(&("organization", Source::Flag("--organization"))));
    }

    /// README's Auth0 guide ends with a profile: it must load, and mean what the guide says.
    #[test]
    fn the_readme_auth0_guide_profile_loads_as_the_guide_describes() {
        let readme = include_str!("../../README.md");
        let marker = "<!-- auth0-guide-profile -->\n```toml\n";
        let start = readme
            .find(marker)
            .expect("README has the Auth0 guide's profile")
            + marker.len();
        let block = &readme[start..];
        let block = &block[..block.find("```").expect("the block ends")];
        let file = parse(block).unwrap();
        let (p, _) = file.resolve("acme", &FlagOverrides::default()).unwrap();
        assert_eq!(
            p.kind,
            ProviderKind::Auth0 {
                domain: "login.acme.example".into()
            }
        );
        assert_eq!(p.issuer.to_string(), "https://login.acme.example/");
        assert_eq!(p.redirect_port, 8484);
        assert_eq!(p.callback_path, "/callback");
        assert!(p.scopes.iter().any(|s| s == "offline_access"));
        assert_eq!(p.audience.as_deref(), Some("https://api.acme.example/"));
        assert_eq!(p.organization.as_deref(), Some("org_W3xAmPlE9"));
        assert_eq!(p.flow, Flow::Code);
        assert!(
            p.client_secret.is_none(),
            "a Native application has no secret"
        );
    }
}
