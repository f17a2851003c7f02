//! `latchkey status`: per profile, logged in or not, as whom, until when, and how the tokens
//! are protected. Never a token value.

use super::{Globals, print_stdout};
use crate::base::clock::unix_now;
use crate::base::duration::{relative, rfc3339};
use crate::base::error::{Error, Result};
use crate::cli::StatusArgs;
use crate::config::Profile;
use crate::store::{StoredTokens, TokenStore, describe_source};
use serde_json::{Value, json};
use std::fmt::Write as _;

pub fn run(globals: &Globals, args: StatusArgs) -> Result<()> {
    let file = globals.load_profiles()?;
    let profiles = globals.profiles(&file, args.profile.as_deref(), args.all)?;
    let store = TokenStore::open()?;
    let mut reports = Vec::new();
    let mut worst: Option<Error> = None;
    for profile in &profiles {
        let loaded = store.load(&profile.name, || {
            store.key_for_reading(&profile.key_source, &profile.name)
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
    let text = if args.json {
        let doc = if args.all {
            json!(reports)
        } else {
            reports[0].clone()
        };
        format!("{doc:#}\n")
    } else {
        reports.iter().map(as_text).collect::<Vec<_>>().join("\n")
    };
    print_stdout(&text)?;
    if let Some(e) = worst {
        return Err(e);
    }
    let logged_out: Vec<&str> = reports
        .iter()
        .filter(|r| r["logged_in"] != true)
        .filter_map(|r| r["profile"].as_str())
        .collect();
    match logged_out.as_slice() {
        [] => Ok(()),
        [one] => Err(
            Error::login_required(format!("profile `{one}` is not logged in"))
                .hint(format!("run `latchkey login -p {one}`")),
        ),
        many => Err(
            Error::login_required(format!("not logged in: {}", many.join(", ")))
                .hint("run `latchkey login -p NAME` for each"),
        ),
    }
}

fn report(
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
    }
    let Some(tokens) = tokens else {
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
    doc["refresh_token"] = json!(tokens.refresh_token.is_some());
    doc["obtained_at"] = json!(rfc3339(tokens.obtained_at));
    doc
}

fn as_text(doc: &Value) -> String {
    let mut out = String::new();
    let get = |k: &str| doc[k].as_str().unwrap_or("-").to_owned();
    let profile = get("profile");
    if doc["logged_in"] != true {
        let why = doc["error"]
            .as_str()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        let _ = writeln!(out, "{profile}: not logged in{why}");
        let _ = writeln!(out, "  issuer      {}", get("issuer"));
        let _ = writeln!(
            out,
            "  token file  {}",
            doc["token_file"].as_str().unwrap_or("-")
        );
        return out;
    }
    let who = doc["email"]
        .as_str()
        .or(doc["name"].as_str())
        .unwrap_or("-");
    let _ = writeln!(out, "{profile}: logged in as {who}");
    let _ = writeln!(out, "  subject     {}", get("subject"));
    let _ = writeln!(out, "  issuer      {}", get("issuer"));
    let _ = writeln!(out, "  audience    {}", get("audience"));
    let scopes = doc["scopes"].as_array().map(|s| {
        s.iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    });
    let _ = writeln!(
        out,
        "  scopes      {}",
        scopes.unwrap_or_else(|| "-".into())
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
        _ => "not stated".into(),
    };
    let _ = writeln!(out, "  expires     {expiry}");
    let refresh = if doc["refresh_token"] == true {
        "yes"
    } else {
        "no"
    };
    let _ = writeln!(out, "  refresh     {refresh}");
    let _ = writeln!(
        out,
        "  token file  {}",
        doc["token_file"].as_str().unwrap_or("-")
    );
    let _ = writeln!(out, "  protection  {}", get("protection"));
    out
}
