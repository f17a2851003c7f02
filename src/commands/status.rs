//! `latchkey status`: per profile, logged in or not, as whom, until when, and how the tokens
//! are protected. Never a token value.

use super::{Globals, print_stdout};
use crate::base::clock::unix_now;
use crate::base::duration::{relative, rfc3339};
use crate::base::error::{Error, Result};
use crate::base::text::{json_pretty, shown, shown_whole};
use crate::cli::StatusArgs;
use crate::config::Profile;
use crate::store::{StoredTokens, TokenStore, describe_source};
use serde_json::{Value, json};
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
            Ok(tokens) => report(profile, &store, tokens.as_ref(), None),
            Err(e) => {
                let r = report(profile, &store, None, Some(e.message()));
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
) -> Result<Vec<Value>> {
    if args.all && args.profile.is_some() {
        return Err(Error::usage("--all and --profile contradict each other"));
    }
    let answer = agent.ask(crate::agent::protocol::Request {
        op: "status".into(),
        profile: globals.agent_profile(args.profile.as_deref()),
        all: args.all,
        ..Default::default()
    })?;
    let Some(Value::Array(mut reports)) = answer.status.filter(|s| {
        s.as_array()
            .is_some_and(|r| r.iter().all(Value::is_object) && (args.all || r.len() == 1))
    }) else {
        return Err(Error::network(format!(
            "the agent at {} answered without a status",
            agent.path().display()
        )));
    };
    for report in &mut reports {
        report["agent"] = json!({ "socket": agent.path(), "pid": answer.pid });
    }
    Ok(reports)
}

/// Prints the reports and decides the exit status: 0 when every profile is logged in.
fn finish(args: &StatusArgs, reports: Vec<Value>, worst: Option<Error>) -> Result<()> {
    let text = if args.json {
        let doc = if args.all {
            json!(reports)
        } else {
            reports[0].clone()
        };
        format!("{}\n", json_pretty(&doc))
    } else {
        reports.iter().map(as_text).collect::<Vec<_>>().join("\n")
    };
    print_stdout(&text)?;
    if let Some(e) = worst {
        return Err(e);
    }
    let logged_out: Vec<&Value> = reports.iter().filter(|r| r["logged_in"] != true).collect();
    match logged_out.as_slice() {
        [] => Ok(()),
        [one] => {
            let name = one["profile"].as_str().unwrap_or_default();
            let message = if one["reason"] == REFRESH_TOKEN_REFUSED {
                format!(
                    "profile `{name}` must log in again: the provider refused its refresh token"
                )
            } else {
                format!("profile `{name}` is not logged in")
            };
            Err(Error::login_required(message).hint(format!("run `latchkey login -p {name}`")))
        }
        many => {
            let names: Vec<&str> = many.iter().filter_map(|r| r["profile"].as_str()).collect();
            Err(
                Error::login_required(format!("not logged in: {}", names.join(", ")))
                    .hint("run `latchkey login -p NAME` for each"),
            )
        }
    }
}

/// `reason` of a profile whose tokens are stored but whose refresh token the provider refused
/// (`invalid_grant`): it is not logged in any more, whatever its access token has left.
const REFRESH_TOKEN_REFUSED: &str = "refresh_token_refused";

pub(super) fn report(
    profile: &Profile,
    store: &TokenStore,
    tokens: Option<&StoredTokens>,
    error: Option<&str>,
) -> Value {
    let path = store.token_path(&profile.name);
    let mut doc = json!({
        "profile": profile.name,
        "logged_in": tokens.is_some(),
        "issuer": profile.issuer.to_string(),
        "token_file": path,
        "protection": describe_source(store, &profile.key_source),
    });
    if let Some(error) = error {
        doc["error"] = json!(error);
        doc["reason"] = json!("error");
    }
    let Some(tokens) = tokens else {
        if error.is_none() {
            doc["reason"] = json!("no_tokens");
        }
        return doc;
    };
    let claims = tokens
        .id_token
        .as_ref()
        .and_then(|t| crate::oauth::jwt::unverified_claims(t.secret()).ok())
        .unwrap_or_default();
    let now = unix_now();
    doc["issuer"] = json!(tokens.issuer);
    doc["subject"] = json!(claims.sub);
    doc["email"] = json!(claims.email);
    doc["name"] = json!(claims.name);
    doc["audience"] = json!(tokens.audience);
    doc["organization"] = json!(tokens.organization.as_ref().map(|asked| {
        json!({ "requested": asked, "id": claims.org_id, "name": claims.org_name })
    }));
    doc["apis"] = tokens
        .apis
        .iter()
        .map(|token| {
            json!({
                "audience": token.audience,
                "expires_at": token.expires_at.map(rfc3339),
                "expired": token.expires_at.is_some_and(|at| at <= now),
                "scope": token.scope,
            })
        })
        .collect();
    doc["scopes"] = json!(
        tokens
            .scope
            .as_deref()
            .map(|s| s.split_whitespace().collect::<Vec<_>>())
    );
    doc["access_token_expires_at"] = json!(tokens.expires_at.map(rfc3339));
    // Saturating: an absurd expires_in from a provider must not overflow.
    let signed = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
    doc["access_token_expires_in"] = json!(
        tokens
            .expires_at
            .map(|at| signed(at).saturating_sub(signed(now)))
    );
    doc["access_token_expired"] = json!(tokens.expires_at.is_some_and(|at| at <= now));
    doc["refresh_token"] =
        json!(tokens.refresh_token.is_some() && tokens.refresh_refused.is_none());
    doc["refresh_token_refused"] =
        json!(tokens.refresh_refused.as_ref().map(|refused| {
            json!({ "at": rfc3339(refused.at), "provider_said": refused.said })
        }));
    if tokens.refresh_refused.is_some() {
        // Stored tokens, but no session: the access token may serve out its time, and then
        // only a login helps. Scripts that branch on `logged_in` should log in now.
        doc["logged_in"] = json!(false);
        doc["reason"] = json!(REFRESH_TOKEN_REFUSED);
    }
    doc["obtained_at"] = json!(rfc3339(tokens.obtained_at));
    doc
}

/// The report as lines for a person. Nearly every value in it came from outside — claims and
/// scopes from the provider, the issuer from the file, paths from the environment — so each is
/// shown as outside text: claims cut short, URLs and paths whole.
fn as_text(doc: &Value) -> String {
    let mut out = String::new();
    let get = |k: &str| doc[k].as_str().map_or_else(|| "-".to_owned(), shown);
    let whole = |k: &str| doc[k].as_str().map_or_else(|| "-".to_owned(), shown_whole);
    let profile = get("profile");
    let refused = doc["refresh_token_refused"].is_object();
    if doc["logged_in"] != true && !refused {
        let why = doc["error"]
            .as_str()
            .map(|e| format!(" ({})", shown_whole(e)))
            .unwrap_or_default();
        let _ = writeln!(out, "{profile}: not logged in{why}");
        let _ = writeln!(out, "  issuer      {}", whole("issuer"));
        let _ = writeln!(out, "  token file  {}", whole("token_file"));
        agent_line(doc, &mut out);
        return out;
    }
    let who = doc["email"]
        .as_str()
        .or(doc["name"].as_str())
        .map_or_else(|| "-".to_owned(), shown);
    if refused {
        let _ = writeln!(
            out,
            "{profile}: must log in again: the provider refused the refresh token (logged in as {who})"
        );
    } else {
        let _ = writeln!(out, "{profile}: logged in as {who}");
    }
    let _ = writeln!(out, "  subject     {}", get("subject"));
    let _ = writeln!(out, "  issuer      {}", whole("issuer"));
    let _ = writeln!(out, "  audience    {}", get("audience"));
    let organization = &doc["organization"];
    if organization.is_object() {
        let part = |k: &str| organization[k].as_str().map(shown);
        let shown = match (part("name"), part("id")) {
            (Some(name), Some(id)) => format!("{name} ({id})"),
            (name, id) => name.or(id).or(part("requested")).unwrap_or_default(),
        };
        let _ = writeln!(out, "  org         {shown}");
    }
    let scopes = doc["scopes"].as_array().map(|s| {
        s.iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    });
    let _ = writeln!(
        out,
        "  scopes      {}",
        scopes.map_or_else(|| "-".into(), |s| shown_whole(&s))
    );
    let expiry = match (
        doc["access_token_expires_at"].as_str(),
        doc["access_token_expires_in"].as_i64(),
    ) {
        (Some(at), Some(left)) => {
            let now = unix_now();
            let at_unix =
                u64::try_from(i64::try_from(now).unwrap_or(i64::MAX).saturating_add(left))
                    .unwrap_or(0);
            format!("{at} ({})", relative(at_unix, now))
        }
        // Neither an expires_in nor a JWT's exp said: `token` serves it whatever --min-valid
        // asks, until a login replaces it.
        _ => "unknown (the provider did not say)".into(),
    };
    let _ = writeln!(out, "  expires     {expiry}");
    let refresh = match &doc["refresh_token_refused"] {
        Value::Object(refused) => format!(
            "refused at {} ({}); not sent again",
            refused
                .get("at")
                .and_then(Value::as_str)
                .map_or_else(|| "-".to_owned(), shown),
            refused
                .get("provider_said")
                .and_then(Value::as_str)
                .map_or_else(|| "-".to_owned(), shown)
        ),
        _ if doc["refresh_token"] == true => "yes".to_owned(),
        _ => "no".to_owned(),
    };
    let _ = writeln!(out, "  refresh     {refresh}");
    for api in doc["apis"].as_array().into_iter().flatten() {
        let audience = api["audience"]
            .as_str()
            .map_or_else(|| "-".to_owned(), shown_whole);
        let until = match api["expires_at"].as_str() {
            Some(at) if api["expired"] == true => format!("expired {}", shown(at)),
            Some(at) => format!("until {}", shown(at)),
            None => "expiry unknown".to_owned(),
        };
        let _ = writeln!(out, "  api         {audience} ({until})");
    }
    let _ = writeln!(out, "  token file  {}", whole("token_file"));
    let _ = writeln!(out, "  protection  {}", whole("protection"));
    agent_line(doc, &mut out);
    out
}

/// Through an agent: which one, so that a remote host says where its tokens come from.
fn agent_line(doc: &Value, out: &mut String) {
    if let Some(socket) = doc["agent"]["socket"].as_str() {
        let pid = doc["agent"]["pid"]
            .as_u64()
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  agent       {}{pid}", shown_whole(socket));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::text::is_unsafe;

    fn assert_inert(text: &str) {
        assert!(
            !text.chars().any(|c| is_unsafe(c) && c != '\n'),
            "outside text reached the terminal raw: {text:?}"
        );
    }

    /// A report whose every outside value carries an escape, a bell, a C1 CSI or a bidi override.
    fn hostile() -> Value {
        json!({
            "profile": "dev",
            "logged_in": true,
            "issuer": "https://idp.example/\u{202e}lave",
            "token_file": "/home/u/\u{1b}]0;TITLE\u{7}/dev.age",
            "protection": "age X25519, your key /k\u{9b}2J",
            "subject": "sub\u{7}",
            "email": null,
            "name": "\u{1b}[31mMallory",
            "audience": "api\u{200b}",
            "scopes": ["openid", "evil\u{1b}[2J"],
            "access_token_expires_at": null,
            "access_token_expires_in": null,
            "refresh_token": true,
        })
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
        let mut doc = hostile();
        doc["logged_in"] = json!(false);
        doc["error"] = json!("cannot read \u{1b}[2J");
        let text = as_text(&doc);
        assert_inert(&text);
        assert!(
            text.starts_with(r"dev: not logged in (cannot read \u{1b}[2J)"),
            "{text}"
        );
    }

    #[test]
    fn a_refused_refresh_token_reads_as_a_login_needed_and_why() {
        let mut doc = hostile();
        doc["logged_in"] = json!(false);
        doc["reason"] = json!(REFRESH_TOKEN_REFUSED);
        doc["refresh_token"] = json!(false);
        doc["refresh_token_refused"] = json!({
            "at": "2026-01-02T03:04:05Z",
            "provider_said": "invalid_grant: grant revoked\u{1b}[2J",
        });
        let text = as_text(&doc);
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
        let doc = hostile();
        let text = json_pretty(&doc);
        assert_inert(&text);
        assert!(text.contains(r#""name": "\u001b[31mMallory""#), "{text}");
        assert!(
            text.contains(r#""protection": "age X25519, your key /k\u009b2J""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
    }

    #[test]
    fn the_organization_and_other_apis_are_listed_escaped() {
        let mut doc = hostile();
        doc["organization"] = json!({
            "requested": "acme", "id": "org_acme123", "name": "ac\u{1b}[2Jme"
        });
        doc["apis"] = json!([
            { "audience": "https://billing.example.com/", "expires_at": "2030-01-01T00:00:00Z", "expired": false, "scope": "read" },
            { "audience": "https://old/\u{7}", "expires_at": "2020-01-01T00:00:00Z", "expired": true, "scope": null },
        ]);
        let text = as_text(&doc);
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
        doc["organization"] = json!({ "requested": "acme", "id": null, "name": null });
        assert!(as_text(&doc).contains("  org         acme\n"));
    }
}
