//! What stored tokens are bound to, and the checks made before they are used or sent: the
//! provider and client they came from, the profile whose file holds them, and the network path
//! their login trusted (what `ca_file` added to the trusted roots; never a proxy in the clear).
//! Whatever the profiles file or `LATCHKEY_*` say now, a refresh token goes nowhere else.

use super::StoredTokens;
use crate::base::error::{Error, Result};
use crate::base::text::{escape_controls, shown_whole};
use crate::config::Profile;
use crate::net::http::Http;
use crate::net::tls::AddedRoots;
use crate::net::url::Url;
use std::path::Path;

impl StoredTokens {
    /// Refuses to use tokens for a profile that now names another provider or client than the
    /// one they came from: a profiles file or `LATCHKEY_*` variable must never be able to
    /// send a profile's refresh token, or hand out its access token, somewhere else.
    pub fn check_bound_to(&self, profile: &Profile) -> Result<()> {
        let issuer = profile.issuer.to_string();
        if self.issuer == issuer && self.client_id == profile.client_id {
            return Ok(());
        }
        let shown = |issuer: &str, client: &str| {
            format!(
                "{} (client {})",
                escape_controls(issuer),
                escape_controls(client)
            )
        };
        Err(Error::config(format!(
            "profile `{}` now points at {}, but its tokens came from {}; they are not used or sent anywhere",
            profile.name,
            shown(&issuer, &profile.client_id),
            shown(&self.issuer, &self.client_id)
        ))
        .hint(format!(
            "run `latchkey login -p {0}` to log in to the provider it names now, or put the profile back as it was (`latchkey logout --local -p {0}` deletes the old tokens without sending them)",
            profile.name
        )))
    }

    /// Refuses a token file that holds another profile's tokens (copied or renamed over this
    /// one's): each profile's tokens are only ever served as that profile's. Files written
    /// before the name was recorded carry none, and get it with their next write.
    pub fn check_file_of(&self, profile: &str, path: &Path) -> Result<()> {
        match self.profile.as_deref() {
            Some(name) if name != profile => Err(Error::store(format!(
                "{} holds the tokens of profile `{}`, not of `{profile}` (copied or renamed from another profile's file?); they are not used",
                path.display(),
                escape_controls(name)
            ))
            .hint(format!(
                "move it back to where it came from, or run `latchkey logout --local -p {profile}` and log in"
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses to send these tokens to `url` over a path their login did not trust, before
    /// anything is sent: over TLS, trusting a certificate that `ca_file` did not add at login
    /// (a profile or `LATCHKEY_CA_FILE` naming an interceptor's CA would let it read the
    /// refresh token); in the clear (`http`, loopback only), through any proxy. A proxy that
    /// only tunnels TLS reads nothing, so a new network's proxy is fine.
    pub fn check_path(&self, profile: &str, http: &Http, url: &Url) -> Result<()> {
        if url.scheme() != "https" {
            return match http.route(url)? {
                Some(route) => Err(Error::config(format!(
                    "profile `{profile}` would send its tokens to {} in clear text through {route}, which could read them; nothing was sent",
                    shown_whole(&url.redacted())
                ))
                .hint(format!(
                    "a plain-http provider on this machine is reached directly: set `proxy = \"none\"` in profile `{profile}` (or unset LATCHKEY_PROXY)"
                ))),
                None => Ok(()),
            };
        }
        check_roots(self.added_roots.as_deref(), &http.added_roots()?, profile)
    }
}

/// Whether every certificate `ca_file` adds now was added when the tokens were obtained
/// (`recorded`; `None` for files written before it was recorded, which trusted nothing more
/// than latchkey can vouch for: the system's and Mozilla's roots).
fn check_roots(recorded: Option<&[String]>, now: &AddedRoots, profile: &str) -> Result<()> {
    let known = recorded.unwrap_or_default();
    let beyond: Vec<&String> = now
        .fingerprints
        .iter()
        .filter(|fingerprint| !known.contains(fingerprint))
        .collect();
    if beyond.is_empty() {
        return Ok(());
    }
    let from = now
        .ca_file
        .as_deref()
        .map(|path| format!(" from ca_file {}", shown_whole(&path.display().to_string())))
        .unwrap_or_default();
    let listed: Vec<&str> = beyond.iter().take(2).map(|f| f.as_str()).collect();
    let more = match beyond.len() {
        n if n > 2 => format!(" and {} more", n - 2),
        _ => String::new(),
    };
    let then = match recorded {
        None => "what latchkey vouches for (the login was stored before latchkey recorded what it trusted)".to_owned(),
        Some([]) => "no ca_file".to_owned(),
        Some([_]) => "1 certificate from ca_file".to_owned(),
        Some(all) => format!("{} certificates from ca_file", all.len()),
    };
    Err(Error::config(format!(
        "profile `{profile}` now trusts {} that its tokens were not obtained with (SHA-256 {}{more}){from}, but they were obtained trusting {then}; nothing was sent",
        if beyond.len() == 1 { "a certificate".to_owned() } else { format!("{} certificates", beyond.len()) },
        listed.join(", "),
    ))
    .hint(format!(
        "a certificate authority trusted later could read what is sent (a TLS-inspecting proxy would take the refresh token). If you trust it, run `latchkey login -p {profile}` to accept it; otherwise put `ca_file` back as it was (check the profiles file, --config and LATCHKEY_CA_FILE)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn added(fingerprints: &[&str]) -> AddedRoots {
        AddedRoots {
            ca_file: Some(PathBuf::from("/repo/ca.pem")),
            fingerprints: fingerprints.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn only_certificates_the_login_trusted_may_carry_its_tokens() {
        let login = ["aa".to_owned(), "bb".to_owned()];
        // The same, fewer, or none: nothing more can read the traffic.
        for now in [&["aa", "bb"][..], &["bb"], &[]] {
            check_roots(Some(&login), &added(now), "dev").unwrap();
        }
        check_roots(Some(&[]), &AddedRoots::default(), "dev").unwrap();
        check_roots(None, &AddedRoots::default(), "dev").unwrap();
        // One more, or any for a login that trusted none, or for a file from before.
        let e = check_roots(Some(&login), &added(&["aa", "cc"]), "dev").unwrap_err();
        assert_eq!(e.exit_code(), crate::base::error::ExitCode::Config);
        assert_eq!(
            e.message(),
            "profile `dev` now trusts a certificate that its tokens were not obtained with (SHA-256 cc) from ca_file /repo/ca.pem, but they were obtained trusting 2 certificates from ca_file; nothing was sent"
        );
        assert!(
            e.hint_text()
                .unwrap()
                .contains("run `latchkey login -p dev` to accept it")
        );
        let e = check_roots(Some(&[]), &added(&["c1", "c2", "c3"]), "dev").unwrap_err();
        assert!(
            e.message().contains(
                "3 certificates that its tokens were not obtained with (SHA-256 c1, c2 and 1 more)"
            ) && e
                .message()
                .ends_with("trusting no ca_file; nothing was sent"),
            "{}",
            e.message()
        );
        let e = check_roots(None, &added(&["c1"]), "dev").unwrap_err();
        assert!(
            e.message().contains("before latchkey recorded"),
            "{}",
            e.message()
        );
    }
}
