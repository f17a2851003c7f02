//! `latchkey status`: per profile, logged in or not, as whom, until when, and how the tokens
//! are protected. Never a token value.

use super::{Globals, print_stdout};
use crate::base::clock::unix_now;
use crate::base::duration::relative;
use crate::base::error::{Error, Result};
use crate::base::text::{json_pretty, shown, shown_whole};
use crate::cli::StatusArgs;
use crate::store::TokenStore;
use crate::store::report::{NotLoggedIn, StatusReport, TokensReport};
use std::fmt::Write as _;

pub fn run(globals: &Globals, args: StatusArgs) -> Result<()> {
    #[cfg(unix)]
    if let Some(agent) = crate::agent::client::find(args.no_agent)? {
        let reports = from_agent(agent, globals, &args)?;
        return finish(&args, reports, None);
    }
    let file = globals.load_profiles()?;
    let profiles = globals.profiles(&file, args.profile.as_deref(), args.all)?;
    let store = TokenStore::open()?;
    let mut reports = Vec::new();
    let mut worst: Option<Error> = None;
    for profile in &profiles {
        let loaded = store
            .load(&profile.name, &profile.key_source)
            // Tokens from another provider or client than the profile names now are reported,
            // not shown as this profile's login.
            .and_then(|tokens| match tokens {
                Some(tokens) => tokens.check_bound_to(profile).map(|()| Some(tokens)),
                None => Ok(None),
            });
        let report = match loaded {
            Ok(tokens) => StatusReport::of(profile, &store, tokens.as_ref(), None),
            Err(e) => {
                let r = StatusReport::of(profile, &store, None, Some(e.message()));
                if worst.is_none() {
                    worst = Some(e);
                }
                r
            }
        };
        reports.push(report);
    }
    finish(&args, reports, worst)
}

/// The reports of the agent's profiles, each marked with the agent that gave it.
#[cfg(unix)]
fn from_agent(
    mut agent: crate::agent::client::Agent,
    globals: &Globals,
    args: &StatusArgs,
) -> Result<Vec<StatusReport>> {
    use crate::agent::protocol::{Request, StatusAnswer};
    if args.all && args.profile.is_some() {
        return Err(Error::usage("--all and --profile contradict each other"));
    }
    let answer: StatusAnswer = agent.ask(&Request::Status {
        profile: globals.agent_profile(args.profile.as_deref()),
        all: args.all,
    })?;
    let mut reports = answer.status;
    if reports.is_empty() || (!args.all && reports.len() != 1) {
        return Err(Error::network(format!(
            "the agent at {} answered without a status",
            agent.path().display()
        )));
    }
    for report in &mut reports {
        report.agent = Some(crate::store::report::AgentSource {
            socket: agent.path().display().to_string(),
            pid: Some(answer.pid),
        });
    }
    Ok(reports)
}

/// Prints the reports and decides the exit status: 0 when every profile is logged in.
fn finish(args: &StatusArgs, reports: Vec<StatusReport>, worst: Option<Error>) -> Result<()> {
    let text = if args.json {
        // Through a JSON value, whose keys come out sorted, as they always have.
        let doc = if args.all {
            serde_json::to_value(&reports)
        } else {
            serde_json::to_value(&reports[0])
        }
        .map_err(|e| Error::other(format!("cannot write the status as JSON: {e}")))?;
        format!("{}\n", json_pretty(&doc))
    } else {
        reports.iter().map(as_text).collect::<Vec<_>>().join("\n")
    };
    print_stdout(&text)?;
    if let Some(e) = worst {
        return Err(e);
    }
    let logged_out: Vec<&StatusReport> = reports.iter().filter(|r| !r.logged_in).collect();
    match logged_out.as_slice() {
        [] => Ok(()),
        [one] => {
            let name = &one.profile;
            let message = if one.reason == Some(NotLoggedIn::RefreshTokenRefused) {
                format!(
                    "profile `{name}` must log in again: the provider refused its refresh token"
                )
            } else {
                format!("profile `{name}` is not logged in")
            };
            Err(Error::login_required(message).hint(format!("run `latchkey login -p {name}`")))
        }
        many => {
            let names: Vec<&str> = many.iter().map(|r| r.profile.as_str()).collect();
            Err(
                Error::login_required(format!("not logged in: {}", names.join(", ")))
                    .hint("run `latchkey login -p NAME` for each"),
            )
        }
    }
}

/// The report as lines for a person. Nearly every value in it came from outside — claims and
/// scopes from the provider, the issuer from the file, paths from the environment — so each is
/// shown as outside text: claims cut short, URLs and paths whole.
fn as_text(report: &StatusReport) -> String {
    let mut out = match report
        .tokens
        .as_ref()
        .filter(|_| report.logged_in || report.reason == Some(NotLoggedIn::RefreshTokenRefused))
    {
        Some(tokens) => logged_in_text(report, tokens),
        None => logged_out_text(report),
    };
    agent_line(report, &mut out);
    out
}

/// A profile without usable tokens: why, where its provider and its token file are.
fn logged_out_text(report: &StatusReport) -> String {
    let mut out = String::new();
    let why = report
        .error
        .as_deref()
        .map(|e| format!(" ({})", shown_whole(e)))
        .unwrap_or_default();
    let _ = writeln!(out, "{}: not logged in{why}", shown(&report.profile));
    let _ = writeln!(out, "  issuer      {}", shown_whole(&report.issuer));
    let _ = writeln!(out, "  token file  {}", shown_whole(&report.token_file));
    out
}

/// A profile with tokens: who, what for, until when, and how they are kept.
fn logged_in_text(report: &StatusReport, tokens: &TokensReport) -> String {
    let mut out = String::new();
    let or_dash = |value: Option<&str>| value.map_or_else(|| "-".to_owned(), shown);
    let (profile, who) = (
        shown(&report.profile),
        or_dash(tokens.email.as_deref().or(tokens.name.as_deref())),
    );
    if tokens.refresh_token_refused.is_some() {
        let _ = writeln!(
            out,
            "{profile}: must log in again: the provider refused the refresh token (logged in as {who})"
        );
    } else {
        let _ = writeln!(out, "{profile}: logged in as {who}");
    }
    let _ = writeln!(out, "  subject     {}", or_dash(tokens.subject.as_deref()));
    let _ = writeln!(out, "  issuer      {}", shown_whole(&report.issuer));
    let _ = writeln!(out, "  audience    {}", or_dash(tokens.audience.as_deref()));
    if let Some(organization) = &tokens.organization {
        let _ = writeln!(out, "  org         {}", organization_shown(organization));
    }
    let scopes = tokens.scopes.as_ref().map(|s| s.join(" "));
    let _ = writeln!(
        out,
        "  scopes      {}",
        scopes.map_or_else(|| "-".into(), |s| shown_whole(&s))
    );
    let _ = writeln!(out, "  expires     {}", expiry(tokens));
    let _ = writeln!(out, "  refresh     {}", refresh(tokens));
    for api in &tokens.apis {
        let until = match &api.expires_at {
            Some(at) if api.expired => format!("expired {}", shown(at)),
            Some(at) => format!("until {}", shown(at)),
            None => "expiry unknown".to_owned(),
        };
        // A scope-only token is for the login's own API: named by its scopes.
        let name = match (api.audience.is_empty(), &api.scope) {
            (false, _) => shown_whole(&api.audience),
            (true, Some(scope)) => format!("scope {}", shown_whole(scope)),
            (true, None) => "other scopes".to_owned(),
        };
        let _ = writeln!(out, "  api         {name} ({until})");
    }
    let _ = writeln!(out, "  token file  {}", shown_whole(&report.token_file));
    let _ = writeln!(out, "  protection  {}", shown_whole(&report.protection));
    out
}

/// The organization as its ID token names it (name and id), else what the login asked for.
fn organization_shown(organization: &crate::store::report::OrganizationReport) -> String {
    match (&organization.name, &organization.id) {
        (Some(name), Some(id)) => format!("{} ({})", shown(name), shown(id)),
        (name, id) => shown(
            name.as_deref()
                .or(id.as_deref())
                .unwrap_or(&organization.requested),
        ),
    }
}

/// Whether a refresh token is stored, or when and why the provider refused it.
fn refresh(tokens: &TokensReport) -> String {
    match &tokens.refresh_token_refused {
        Some(refused) => format!(
            "refused at {} ({}); not sent again",
            shown(&refused.at),
            shown(&refused.provider_said)
        ),
        None if tokens.refresh_token => "yes".to_owned(),
        None => "no".to_owned(),
    }
}

/// When the access token expires, and how long from now; or that nobody said.
fn expiry(tokens: &TokensReport) -> String {
    match (
        &tokens.access_token_expires_at,
        tokens.access_token_expires_in,
    ) {
        (Some(at), Some(left)) => {
            let now = unix_now();
            let at_unix =
                u64::try_from(i64::try_from(now).unwrap_or(i64::MAX).saturating_add(left))
                    .unwrap_or(0);
            format!("{} ({})", shown(at), relative(at_unix, now))
        }
        // Neither an expires_in nor a JWT's exp said: `token` serves it whatever --min-valid
        // asks, until a login replaces it.
        _ => "unknown (the provider did not say)".into(),
    }
}

/// Through an agent: which one, so that a remote host says where its tokens come from.
fn agent_line(report: &StatusReport, out: &mut String) {
    if let Some(agent) = &report.agent {
        let pid = agent.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
        let _ = writeln!(out, "  agent       {}{pid}", shown_whole(&agent.socket));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::text::is_unsafe;
    use crate::store::report::{ApiReport, OrganizationReport, RefusedReport};

    fn assert_inert(text: &str) {
        assert!(
            !text.chars().any(|c| is_unsafe(c) && c != '\n'),
            "outside text reached the terminal raw: {text:?}"
        );
    }

    /// A report whose every outside value carries an escape, a bell, a C1 CSI or a bidi override.
    fn hostile() -> StatusReport {
        StatusReport {
            profile: "dev".into(),
            logged_in: true,
            issuer: "https://idp.example/\u{202e}lave".into(),
            token_file: "/home/u/\u{1b}]0;TITLE\u{7}/dev.age".into(),
            protection: "age X25519, your key /k\u{9b}2J".into(),
            error: None,
            reason: None,
            tokens: Some(TokensReport {
                subject: Some("sub\u{7}".into()),
                email: None,
                name: Some("\u{1b}[31mMallory".into()),
                audience: Some("api\u{200b}".into()),
                organization: None,
                apis: Vec::new(),
                scopes: Some(vec!["openid".into(), "evil\u{1b}[2J".into()]),
                access_token_expires_at: None,
                access_token_expires_in: None,
                access_token_expired: false,
                refresh_token: true,
                refresh_token_refused: None,
                obtained_at: "2026-01-01T00:00:00Z".into(),
            }),
            agent: None,
        }
    }

    fn tokens_of(report: &mut StatusReport) -> &mut TokensReport {
        report.tokens.as_mut().unwrap()
    }

    #[test]
    fn status_shows_claims_and_paths_escaped() {
        let text = as_text(&hostile());
        assert_inert(&text);
        for line in [
            r"dev: logged in as \u{1b}[31mMallory",
            r"  subject     sub\u{7}",
            r"  issuer      https://idp.example/\u{202e}lave",
            r"  audience    api\u{200b}",
            r"  scopes      openid evil\u{1b}[2J",
            r"  token file  /home/u/\u{1b}]0;TITLE\u{7}/dev.age",
            r"  protection  age X25519, your key /k\u{9b}2J",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn status_when_logged_out_shows_the_error_escaped() {
        let mut report = hostile();
        report.logged_in = false;
        report.tokens = None;
        report.reason = Some(NotLoggedIn::Error);
        report.error = Some("cannot read \u{1b}[2J".into());
        let text = as_text(&report);
        assert_inert(&text);
        assert!(
            text.starts_with(r"dev: not logged in (cannot read \u{1b}[2J)"),
            "{text}"
        );
    }

    #[test]
    fn a_refused_refresh_token_reads_as_a_login_needed_and_why() {
        let mut report = hostile();
        report.logged_in = false;
        report.reason = Some(NotLoggedIn::RefreshTokenRefused);
        let tokens = tokens_of(&mut report);
        tokens.refresh_token = false;
        tokens.refresh_token_refused = Some(RefusedReport {
            at: "2026-01-02T03:04:05Z".into(),
            provider_said: "invalid_grant: grant revoked\u{1b}[2J".into(),
        });
        let text = as_text(&report);
        assert_inert(&text);
        for line in [
            r"dev: must log in again: the provider refused the refresh token (logged in as \u{1b}[31mMallory)",
            r"  refresh     refused at 2026-01-02T03:04:05Z (invalid_grant: grant revoked\u{1b}[2J); not sent again",
            r"  expires     unknown (the provider did not say)",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn status_json_keeps_the_values_and_escapes_them() {
        let report = hostile();
        let text = json_pretty(&serde_json::to_value(&report).unwrap());
        assert_inert(&text);
        assert!(text.contains(r#""name": "\u001b[31mMallory""#), "{text}");
        assert!(
            text.contains(r#""protection": "age X25519, your key /k\u009b2J""#),
            "{text}"
        );
        // What `status --json` and the agent write reads back as the same report.
        assert_eq!(serde_json::from_str::<StatusReport>(&text).unwrap(), report);
        // Without tokens, the token fields are left out, not null.
        let mut logged_out = report.clone();
        logged_out.tokens = None;
        logged_out.logged_in = false;
        logged_out.reason = Some(NotLoggedIn::NoTokens);
        let doc = serde_json::to_value(&logged_out).unwrap();
        assert!(
            doc.get("subject").is_none() && doc["reason"] == "no_tokens",
            "{doc}"
        );
        assert_eq!(
            serde_json::from_value::<StatusReport>(doc).unwrap(),
            logged_out
        );
    }

    #[test]
    fn the_organization_and_other_apis_are_listed_escaped() {
        let mut report = hostile();
        let tokens = tokens_of(&mut report);
        tokens.organization = Some(OrganizationReport {
            requested: "acme".into(),
            id: Some("org_acme123".into()),
            name: Some("ac\u{1b}[2Jme".into()),
        });
        tokens.apis = vec![
            ApiReport {
                audience: "https://billing.example.com/".into(),
                expires_at: Some("2030-01-01T00:00:00Z".into()),
                expired: false,
                scope: Some("read".into()),
            },
            ApiReport {
                audience: "https://old/\u{7}".into(),
                expires_at: Some("2020-01-01T00:00:00Z".into()),
                expired: true,
                scope: None,
            },
        ];
        let text = as_text(&report);
        assert_inert(&text);
        assert!(
            text.contains("  org         ac\\u{1b}[2Jme (org_acme123)\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  api         https://billing.example.com/ (until 2030-01-01T00:00:00Z)\n"
            ),
            "{text}"
        );
        assert!(text.contains("(expired 2020-01-01T00:00:00Z)"), "{text}");
        // Only what the token does not name falls back to what the login asked for.
        tokens_of(&mut report).organization = Some(OrganizationReport {
            requested: "acme".into(),
            id: None,
            name: None,
        });
        assert!(as_text(&report).contains("  org         acme\n"));
    }
}
