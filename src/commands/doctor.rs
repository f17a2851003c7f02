//! `latchkey doctor`: the checks a support engineer would run, one line each with ✓ or ✗ and the
//! fix — the profiles file, the provider's discovery and clock, TLS trust, the proxy, the
//! redirect port, what `login` would do about a browser, the token store, and the tokens —
//! without logging in, refreshing or sending a token anywhere.

use super::{Globals, print_stdout};
use crate::base::clock::unix_now;
use crate::base::duration::{format_remaining, parse_http_date, relative};
use crate::base::error::{Error, ExitCode, Result};
use crate::base::files::check_private;
use crate::base::text::{escape_controls, json_pretty, shown, shown_whole};
use crate::cli::DoctorArgs;
use crate::config::{Profile, ProfilesFile};
use crate::net::http::Http;
use crate::net::proxy;
use crate::net::retry::Resend;
use crate::net::tls::TrustStore;
use crate::oauth::endpoints::{discovery_url, parse_discovery};
use crate::store::TokenStore;
use crate::terminal::browser::{self, Decision, Preference};
use crate::terminal::style::Style;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// More clock difference than this makes expiry times wrong enough to matter.
const CLOCK_TOLERANCE_SECS: u64 = 60;

/// One check's outcome.
struct Check {
    profile: Option<String>,
    name: &'static str,
    ok: bool,
    detail: String,
    fix: Option<String>,
    /// The exit code a failure of this check stands for.
    code: ExitCode,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            profile: None,
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
            code: ExitCode::Failure,
        }
    }

    fn fail(name: &'static str, error: &Error) -> Check {
        Check {
            profile: None,
            name,
            ok: false,
            detail: error.message().to_owned(),
            fix: error.hint_text().map(str::to_owned),
            code: error.exit_code(),
        }
    }

    fn of(name: &'static str, result: Result<String>) -> Check {
        match result {
            Ok(detail) => Check::pass(name, detail),
            Err(e) => Check::fail(name, &e),
        }
    }
}

pub fn run(globals: &Globals, args: DoctorArgs) -> Result<()> {
    let mut checks = Vec::new();
    let file = match globals.load_profiles() {
        Ok(file) => {
            checks.push(Check::pass(
                "profiles file",
                format!("{} loads", shown_whole(&file.path.display().to_string())),
            ));
            Some(file)
        }
        Err(e) => {
            checks.push(Check::fail("profiles file", &e));
            None
        }
    };
    checks.push(browser_check());
    if let Some(file) = &file {
        for name in profile_names(globals, file, &args, &mut checks) {
            let mut of_profile = profile_checks(file, &name);
            for check in &mut of_profile {
                check.profile = Some(name.clone());
            }
            checks.extend(of_profile);
        }
    }
    let text = if args.json {
        let rows: Vec<_> = checks
            .iter()
            .map(|c| {
                json!({
                    "profile": c.profile, "check": c.name, "ok": c.ok,
                    "detail": c.detail, "fix": c.fix,
                })
            })
            .collect();
        format!("{}\n", json_pretty(&rows))
    } else {
        as_text(&checks)
    };
    print_stdout(&text)?;
    let failed = checks.iter().filter(|c| !c.ok).count();
    match checks.iter().find(|c| !c.ok) {
        None => Ok(()),
        Some(first) => Err(Error::new(
            first.code,
            format!(
                "{failed} of {} checks failed; the first: {}",
                checks.len(),
                first.name
            ),
        )
        .hint("each ✗ line above says what to do")),
    }
}

/// The profiles to check: `--all`, or the selected one (a selection problem is a failed check).
fn profile_names(
    globals: &Globals,
    file: &ProfilesFile,
    args: &DoctorArgs,
    checks: &mut Vec<Check>,
) -> Vec<String> {
    if args.all {
        return file.profile_names().map(str::to_owned).collect();
    }
    match file.select(globals.profile_name(args.profile.as_deref())) {
        Ok((name, _)) => vec![name],
        Err(e) => {
            checks.push(Check::fail("profile selected", &e));
            Vec::new()
        }
    }
}

fn profile_checks(file: &ProfilesFile, name: &str) -> Vec<Check> {
    let profile = match file.resolve_profile(name, &Default::default()) {
        Ok(profile) => profile,
        Err(e) => return vec![Check::fail("profile valid", &e)],
    };
    let mut checks = vec![Check::pass(
        "profile valid",
        format!(
            "issuer {}, client {}",
            shown_whole(&profile.issuer.to_string()),
            shown(&profile.client_id)
        ),
    )];
    checks.push(Check::of("proxy", proxy_check(&profile)));
    if !profile.hosts.is_empty() {
        checks.push(Check::of("hosts", hosts_check(file, &profile)));
    }
    if profile.issuer.scheme() == "https" {
        checks.push(Check::of(
            "TLS trust",
            TrustStore::load(profile.ca_file.as_deref()).map(|t| t.summary.describe()),
        ));
    }
    checks.extend(discovery_checks(&profile));
    checks.push(Check::of("redirect port", redirect_port_check(&profile)));
    checks.extend(store_checks(&profile));
    checks
}

/// The git servers and registries the helpers answer for with this profile's token, and
/// whether another profile names one of them too (then only -p or the default profile decides).
fn hosts_check(file: &ProfilesFile, profile: &Profile) -> Result<String> {
    let mut shared = Vec::new();
    for other in file.profile_names().filter(|name| *name != profile.name) {
        let Ok(other) = file.resolve_profile(other, &Default::default()) else {
            continue;
        };
        for host in &profile.hosts {
            if other.hosts.contains(host) {
                shared.push(format!("{host} (also in `{}`)", other.name));
            }
        }
    }
    if !shared.is_empty() {
        return Err(Error::config(format!(
            "another profile names the same host: {}",
            shown_whole(&shared.join(", "))
        ))
        .hint("a helper run without -p answers with the default profile's token, or not at all; keep each host in one profile"));
    }
    let names: Vec<String> = profile.hosts.iter().map(|h| h.to_string()).collect();
    Ok(format!(
        "git-credential and docker-credential answer for {} (git user {}, registry user {})",
        shown_whole(&names.join(", ")),
        shown(&profile.git_username),
        shown(&profile.registry_username)
    ))
}

fn proxy_check(profile: &Profile) -> Result<String> {
    let target = discovery_url(&profile.issuer);
    let env = |name: &str| std::env::var(name).ok();
    Ok(match proxy::route(&target, profile.proxy.as_ref(), &env)? {
        Some(route) => format!("requests go through {route}"),
        None if crate::net::url::is_loopback_host(target.host()) => {
            "direct (the provider is on this machine)".to_owned()
        }
        None => "direct (no proxy is set for this host)".to_owned(),
    })
}

/// The discovery document (reachable, this provider's), and the provider's clock against ours.
fn discovery_checks(profile: &Profile) -> Vec<Check> {
    let http = Http::new(profile.http_settings(Resend::Transient));
    let url = discovery_url(&profile.issuer);
    let response = match http.get(&url, "discovery") {
        Ok(response) => response,
        Err(e) => return vec![Check::fail("provider reachable", &e)],
    };
    let mut checks = Vec::new();
    let issuer = profile.issuer.to_string();
    checks.push(if !response.is_success() {
        Check::fail(
            "discovery",
            &Error::network(format!(
                "{} answered HTTP {}",
                shown_whole(&url.to_string()),
                response.status
            ))
            .hint(format!(
                "check `issuer` (or `domain`) in profile `{}`",
                profile.name
            )),
        )
    } else {
        Check::of(
            "discovery",
            parse_discovery(&response.body, &issuer)
                .map(|_| format!("{} names the issuer exactly", shown_whole(&url.to_string()))),
        )
    });
    checks.push(clock_check(response.date.as_deref()));
    checks
}

fn clock_check(date: Option<&str>) -> Check {
    let Some(theirs) = date.and_then(parse_http_date) else {
        return Check::pass("clock", "the provider sent no Date to compare with");
    };
    let ours = unix_now();
    let skew = theirs.abs_diff(ours);
    if skew <= CLOCK_TOLERANCE_SECS {
        return Check::pass("clock", format!("within {skew}s of the provider's"));
    }
    let direction = if theirs > ours { "behind" } else { "ahead of" };
    Check::fail(
        "clock",
        &Error::new(
            ExitCode::Failure,
            format!(
                "this host's clock is {} {direction} the provider's",
                format_remaining(Duration::from_secs(skew))
            ),
        )
        .hint("synchronise it (NTP: `timedatectl set-ntp true`); token expiry times are off until then"),
    )
}

fn redirect_port_check(profile: &Profile) -> Result<String> {
    if profile.redirect_port == 0 {
        return Ok("any free port (redirect_port = 0)".to_owned());
    }
    let port = profile.redirect_port;
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(format!("127.0.0.1:{port} is free for the loopback listener")),
        Err(e) => Err(Error::config(format!("127.0.0.1:{port} cannot be listened on: {e}"))
            .hint(format!(
                "stop what uses it (`ss -ltnp 'sport = :{port}'`), or log in with --no-loopback and paste"
            ))),
    }
}

/// What `login` would do about a browser here, and why.
fn browser_check() -> Check {
    match browser::decide(&browser::Environment::detect(), Preference::Auto) {
        Decision::Open { why, .. } => Check::pass("browser", format!("login opens one: {why}")),
        Decision::Print { why } => Check::pass(
            "browser",
            format!("login prints the URL for another device: {why}"),
        ),
    }
}

/// The store's files (yours, private) and the profile's tokens: present, bound to this
/// profile's provider, expiry, refresh token. Nothing is refreshed or sent.
fn store_checks(profile: &Profile) -> Vec<Check> {
    let store = match private_store() {
        Ok(store) => store,
        Err(e) => return vec![Check::fail("token store", &e)],
    };
    let mut checks = vec![Check::pass(
        "token store",
        "the data and tokens directories are yours and private",
    )];
    let tokens = match stored_tokens(profile, &store) {
        Ok(Opened::Tokens(tokens)) => tokens,
        Ok(Opened::Sealed(check)) => {
            checks.push(check);
            return checks;
        }
        Err(e) => {
            checks.push(Check::fail("tokens", &e));
            return checks;
        }
    };
    checks.push(Check::pass("tokens", expiry(&tokens, unix_now())));
    checks.extend(refresh_checks(profile, &tokens));
    checks
}

/// The store, once its data and tokens directories are found to be the user's and private.
fn private_store() -> Result<TokenStore> {
    let store = TokenStore::open()?;
    let token_path = store.token_path("profile");
    let dirs = [
        token_path.parent().and_then(Path::parent),
        token_path.parent(),
    ];
    for dir in dirs.into_iter().flatten() {
        check_private(dir, true)?;
    }
    Ok(store)
}

/// What is known of a profile's stored tokens without refreshing them.
enum Opened {
    Tokens(Box<crate::store::StoredTokens>),
    /// As far as doctor can look: the tokens check, passed.
    Sealed(Check),
}

/// The profile's stored tokens, opened and checked to be this profile's provider's; a
/// passphrase-protected file is opened only with `LATCHKEY_PASSPHRASE` (doctor asks nothing).
fn stored_tokens(profile: &Profile, store: &TokenStore) -> Result<Opened> {
    if !store.exists(&profile.name) {
        return Err(
            Error::login_required(format!("profile `{}` is not logged in", profile.name))
                .hint(format!("run `latchkey login -p {}`", profile.name)),
        );
    }
    if matches!(
        profile.key_source,
        crate::config::KeySource::Passphrase { .. }
    ) && std::env::var_os("LATCHKEY_PASSPHRASE").is_none()
    {
        return Ok(Opened::Sealed(Check::pass(
            "tokens",
            "stored, passphrase-protected (set LATCHKEY_PASSPHRASE to check inside)",
        )));
    }
    let tokens = store
        .load(&profile.name, &profile.key_source)?
        .ok_or_else(|| Error::login_required("no tokens"))?;
    tokens.check_bound_to(profile)?;
    Ok(Opened::Tokens(Box::new(tokens)))
}

/// The access token's expiry, in words.
fn expiry(tokens: &crate::store::StoredTokens, now: u64) -> String {
    match tokens.expires_at {
        Some(at) if at > now => format!("access token valid, expires {}", relative(at, now)),
        Some(at) => format!("access token expired {}", relative(at, now)),
        None => "access token expiry unknown (the provider did not say)".to_owned(),
    }
}

/// The refresh token: refused by the provider, missing, or stored and with a path its login
/// trusted.
fn refresh_checks(profile: &Profile, tokens: &crate::store::StoredTokens) -> Vec<Check> {
    // Dropped when the provider refused it: adding a scope would not help, a login does.
    if let Some(refused) = &tokens.refresh_refused {
        return vec![Check::fail(
            "refresh token",
            &Error::login_required(format!(
                "the provider refused it at {} ({}); it is not sent again",
                crate::base::duration::rfc3339(refused.at),
                crate::base::text::shown(&refused.said)
            ))
            .hint(format!("run `latchkey login -p {}`", profile.name)),
        )];
    }
    match &tokens.refresh_token {
        Some(_) => vec![
            refresh_path_check(profile, tokens),
            Check::pass(
                "refresh token",
                "stored; `latchkey token` renews the access token with it (not used by doctor)",
            ),
        ],
        None => vec![Check::fail(
            "refresh token",
            &Error::login_required("no refresh token is stored: when the access token expires, a new login is needed")
                .hint("add offline_access to the profile's scopes (and allow it at the provider), then log in again"),
        )],
    }
}

/// Where a refresh would send the refresh token, and whether the way there is one its login
/// trusted (the same check a refresh makes before it sends anything; see `store::binding`).
fn refresh_path_check(profile: &Profile, tokens: &crate::store::StoredTokens) -> Check {
    let http = Http::new(profile.http_settings(Resend::Transient));
    // Files from before the endpoint was recorded refresh at their issuer's: its scheme tells.
    let url = tokens
        .token_endpoint
        .as_deref()
        .and_then(|url| crate::config::parse_endpoint(url).ok())
        .unwrap_or_else(|| profile.issuer.clone());
    match tokens.check_path(&profile.name, &http, &url) {
        Ok(()) if url.scheme() == "https" => Check::pass(
            "refresh path",
            format!(
                "to {} over TLS that trusts no certificate authority beyond what its login trusted",
                shown_whole(&url.redacted())
            ),
        ),
        Ok(()) => Check::pass(
            "refresh path",
            format!(
                "to {} directly, on this machine",
                shown_whole(&url.redacted())
            ),
        ),
        Err(e) => Check::fail("refresh path", &e),
    }
}

fn as_text(checks: &[Check]) -> String {
    let style = Style::for_stdout();
    let mut out = String::new();
    let mut profile: Option<&str> = None;
    for check in checks {
        if check.profile.as_deref() != profile {
            profile = check.profile.as_deref();
            if let Some(name) = profile {
                out.push_str(&format!("\nprofile `{name}`\n"));
            }
        }
        let mark = if check.ok {
            style.ok("✓")
        } else {
            style.error("✗")
        };
        // Details quote errors, paths and provider words: escaped like every outside text.
        out.push_str(&format!(
            "{mark} {}: {}\n",
            check.name,
            escape_controls(&check.detail)
        ));
        if let Some(fix) = check.fix.as_deref().filter(|_| !check.ok) {
            out.push_str(&format!("    fix: {}\n", escape_controls(fix)));
        }
    }
    out
}
