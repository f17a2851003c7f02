//! `latchkey token`: a valid token on stdout for scripts and credential plugins. This is the
//! hot path: with a valid stored token it reads the config and one file, decrypts, prints.

use super::{Globals, print_stdout};
use crate::base::clock::unix_now;
use crate::base::duration::{format_remaining, rfc3339};
use crate::base::error::{Error, Result};
use crate::cli::{LoginArgs, TokenArgs, TokenFormat};
use crate::oauth::token_endpoint::ApiRequest;
use crate::store::refresh::{self, Need};
use crate::store::{StoredTokens, TokenStore};
use serde_json::json;
use std::time::Duration;

const DEFAULT_MIN_VALID: Duration = Duration::from_secs(60);

pub fn run(globals: &Globals, args: TokenArgs) -> Result<()> {
    let api = api_request(&args)?;
    // kubectl says, before anything is read, which answer it wants and whether it can prompt.
    let exec_info = match args.format {
        TokenFormat::ExecCredential => Some(ExecInfo::from_env()?),
        _ => None,
    };
    if exec_info.as_ref().is_some_and(|info| !info.interactive) {
        crate::store::passphrase::forbid_prompt();
    }
    let want = Want {
        profile: args.profile.as_deref(),
        id_token: args.id_token,
        api,
        min_valid: args.min_valid,
        no_agent: args.no_agent,
        relogin: Relogin {
            asked: args.login_if_needed,
            someone_answers: someone_answers(exec_info.as_ref()),
        },
    };
    let obtained = obtain(globals, &want)?;
    let printed = Printed {
        token: obtained.token.secret(),
        field: printed_field(args.id_token),
        expires_at: obtained.expires_at,
        token_type: &obtained.token_type,
        scope: obtained.scope.as_deref(),
    };
    print_stdout(&printed.render(args.format, exec_info))
}

/// What a command wants of `token`'s machinery.
pub(super) struct Want<'a> {
    /// `-p` after the command (the globals hold the one before it).
    pub profile: Option<&'a str>,
    pub id_token: bool,
    pub api: Option<ApiRequest>,
    pub min_valid: Option<Duration>,
    pub no_agent: bool,
    pub relogin: Relogin,
}

/// Whether a missing or dead login may be replaced by a login now (`--login-if-needed`, or the
/// profile's `login_if_needed`), and whether anyone is there to answer one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Relogin {
    /// `--login-if-needed`; the profile's key asks too, on the local path.
    pub asked: bool,
    pub someone_answers: bool,
}

impl Relogin {
    /// For commands that must never prompt (the credential helpers).
    pub const NEVER: Relogin = Relogin {
        asked: false,
        someone_answers: false,
    };
}

/// Someone can answer a login when kubectl says it passes the terminal on, or, without kubectl,
/// when stdin and stderr are a terminal (stdout may be captured: `$(latchkey token)`). An agent
/// answers for itself: the login then happens where it runs ([`obtain`]).
pub(super) fn someone_answers(exec_info: Option<&ExecInfo>) -> bool {
    match exec_info {
        Some(info) if info.from_kubectl => info.interactive,
        _ => {
            crate::terminal::style::stdin_is_terminal()
                && crate::terminal::style::stderr_is_terminal()
        }
    }
}

/// A token as `token` obtains it, for any command that prints or hands it on.
pub(super) struct Obtained {
    pub token: crate::base::secret::AccessToken,
    pub expires_at: Option<u64>,
    pub token_type: String,
    pub scope: Option<String>,
    /// The `hosts` the login recorded, for the login's own token from this host's store;
    /// `None` for one an agent served (its host keeps the record) or another API's.
    pub login_hosts: Option<Vec<String>>,
}

/// A valid token from the agent when one answers, else from this host's store, refreshed when it
/// has less than `min_valid` left; with [`Relogin`] allowing it, a login first when there is no
/// usable refresh token, then the token.
pub(super) fn obtain(globals: &Globals, want: &Want<'_>) -> Result<Obtained> {
    let error = match obtain_once(globals, want) {
        Ok(obtained) => return Ok(obtained),
        Err(error) => error,
    };
    if error.exit_code() != crate::base::error::ExitCode::LoginRequired {
        return Err(error);
    }
    let asked = want.relogin.asked || login_if_needed_in_profile(globals, want);
    let through_agent = agent_answers(want.no_agent);
    if !asked || !(want.relogin.someone_answers || through_agent) {
        return Err(error);
    }
    crate::debug!("no usable login: logging in first ({})", error.message());
    eprintln!(
        "{}",
        crate::base::text::escape_controls(&format!(
            "latchkey: {} — logging in first",
            error.message()
        ))
    );
    super::login::run(globals, LoginArgs::for_relogin(want.profile, want.no_agent))?;
    obtain_once(globals, want)
}

/// Whether an agent would answer (its socket is set and there); errors count as no.
fn agent_answers(no_agent: bool) -> bool {
    #[cfg(unix)]
    {
        matches!(crate::agent::client::find(no_agent), Ok(Some(_)))
    }
    #[cfg(not(unix))]
    {
        let _ = no_agent;
        false
    }
}

/// The profile's own `login_if_needed`, read only once a login is found missing (never on the
/// hot path); with an agent and no profiles file here, no.
fn login_if_needed_in_profile(globals: &Globals, want: &Want<'_>) -> bool {
    globals
        .load_profiles()
        .and_then(|file| globals.profile(&file, want.profile))
        .is_ok_and(|profile| profile.login_if_needed)
}

fn obtain_once(globals: &Globals, want: &Want<'_>) -> Result<Obtained> {
    #[cfg(unix)]
    if let Some(mut agent) = crate::agent::client::find(want.no_agent)? {
        let answer: crate::agent::protocol::TokenAnswer =
            agent.ask(&crate::agent::protocol::Request::Token {
                profile: globals.agent_profile(want.profile),
                id_token: want.id_token,
                min_valid: want.min_valid.map(|d| d.as_secs()),
                audience: want
                    .api
                    .as_ref()
                    .filter(|a| !a.is_scope_only())
                    .map(|a| a.audience.clone()),
                scopes: want
                    .api
                    .as_ref()
                    .map(|a| a.scopes.clone())
                    .unwrap_or_default(),
            })?;
        if answer.token.secret().is_empty() {
            return Err(Error::network(format!(
                "the agent at {} answered without a token",
                agent.path().display()
            )));
        }
        let obtained = Obtained {
            token: crate::base::secret::AccessToken::new(answer.token.secret()),
            expires_at: answer.expires_at,
            token_type: answer.token_type,
            scope: answer.scope,
            login_hosts: None,
        };
        return Ok(obtained);
    }
    let file = globals.load_profiles()?;
    let profile = globals.profile(&file, want.profile)?;
    let store = TokenStore::open()?;
    let min_valid = want.min_valid.unwrap_or(DEFAULT_MIN_VALID);
    // The login's own API with its own scopes is the login's token.
    let api = want.api.as_ref().filter(|api| {
        !api.scopes.is_empty()
            || (!api.is_scope_only() && Some(api.audience.as_str()) != profile.audience.as_deref())
    });
    if let Some(api) = api {
        let token = refresh::valid_api_token(&profile, &store, api, min_valid)?;
        let obtained = Obtained {
            token: token.access_token,
            expires_at: token.expires_at,
            token_type: token.token_type,
            scope: token.scope,
            login_hosts: None,
        };
        return Ok(obtained);
    }
    let need = if want.id_token {
        Need::IdToken
    } else {
        Need::AccessToken
    };
    let tokens = refresh::valid_tokens(&profile, &store, need, min_valid)?;
    let (token, expires_at) = if want.id_token {
        id_token_to_print(&tokens, &profile.name, unix_now())?
    } else {
        (tokens.access_token.secret(), tokens.expires_at)
    };
    let obtained = Obtained {
        token: crate::base::secret::AccessToken::new(token),
        expires_at,
        token_type: tokens.token_type.clone(),
        scope: tokens.scope.clone(),
        login_hosts: Some(tokens.hosts.clone().unwrap_or_default()),
    };
    Ok(obtained)
}

/// The JSON field a printed token goes under.
fn printed_field(id_token: bool) -> &'static str {
    if id_token { "id_token" } else { "access_token" }
}

/// `--audience` and `--scope`, checked before anything is read. `--scope` alone asks for other
/// scopes of the login's own API (a scope-only refresh, as Entra's `api://X/.default`).
fn api_request(args: &TokenArgs) -> Result<Option<ApiRequest>> {
    if args.id_token && (args.audience.is_some() || !args.scope.is_empty()) {
        return Err(Error::usage(
            "--audience and --scope ask for an access token; an ID token is only for this client",
        )
        .hint("drop --id-token, or --audience and --scope"));
    }
    match &args.audience {
        None if args.scope.iter().all(|s| s.trim().is_empty()) => Ok(None),
        None => Ok(Some(ApiRequest::new("", &args.scope))),
        Some(audience) => audience_request(audience, &args.scope).map(Some),
    }
}

/// `--audience A` (with `--scope`s) as a request, refused when A names no API.
pub(super) fn audience_request(audience: &str, scopes: &[String]) -> Result<ApiRequest> {
    if audience.trim().is_empty() || audience.chars().any(char::is_control) {
        return Err(Error::usage(
            "--audience needs an API identifier, such as https://api.example.com/",
        ));
    }
    Ok(ApiRequest::new(audience, scopes))
}

/// A token as it is printed, in any format.
struct Printed<'a> {
    token: &'a str,
    /// Its name in JSON: `access_token` or `id_token`.
    field: &'static str,
    expires_at: Option<u64>,
    token_type: &'a str,
    scope: Option<&'a str>,
}

impl Printed<'_> {
    fn render(&self, format: TokenFormat, exec_info: Option<ExecInfo>) -> String {
        let token = self.token;
        let expiry = self.expires_at.map(rfc3339);
        match format {
            TokenFormat::Raw => format!("{token}\n"),
            TokenFormat::Header => format!("Authorization: Bearer {token}\n"),
            TokenFormat::Json => {
                let mut doc = json!({
                    "token_type": self.token_type,
                    "expires_at": expiry,
                    "scope": self.scope,
                });
                doc[self.field] = json!(token);
                format!("{doc}\n")
            }
            TokenFormat::ExecCredential => {
                // kubectl's client-go credential plugin protocol, in the version it asked for.
                let mut status = json!({ "token": token });
                if let Some(expiry) = expiry {
                    status["expirationTimestamp"] = json!(expiry);
                }
                let api_version = exec_info.map_or(EXEC_V1, |info| info.api_version);
                let doc = json!({
                    "apiVersion": api_version,
                    "kind": "ExecCredential",
                    "status": status,
                });
                format!("{doc}\n")
            }
        }
    }
}

const EXEC_V1: &str = "client.authentication.k8s.io/v1";
const EXEC_V1BETA1: &str = "client.authentication.k8s.io/v1beta1";
/// `KUBERNETES_EXEC_INFO` is a small JSON object; anything larger is not kubectl's.
const MAX_EXEC_INFO: usize = 64 * 1024;

/// What kubectl passes a credential plugin in `KUBERNETES_EXEC_INFO`: the API version its
/// kubeconfig names, and whether the plugin may talk to the user.
pub(super) struct ExecInfo {
    api_version: &'static str,
    interactive: bool,
    /// Whether kubectl set `KUBERNETES_EXEC_INFO` (else a terminal decided `interactive`).
    from_kubectl: bool,
}

impl ExecInfo {
    /// Without the variable (kubectl before 1.22, or a person running the command), v1 and,
    /// when there is a terminal to ask on, interactive.
    fn from_env() -> Result<ExecInfo> {
        match std::env::var("KUBERNETES_EXEC_INFO") {
            Ok(text) if !text.trim().is_empty() => ExecInfo::parse(&text),
            _ => Ok(ExecInfo {
                api_version: EXEC_V1,
                interactive: crate::terminal::style::stdin_is_terminal(),
                from_kubectl: false,
            }),
        }
    }

    fn parse(text: &str) -> Result<ExecInfo> {
        let bad = |why: &str| {
            Error::config(format!("KUBERNETES_EXEC_INFO {why}"))
                .hint("kubectl sets it for exec credential plugins; unset it when running latchkey yourself")
        };
        if text.len() > MAX_EXEC_INFO {
            return Err(bad("is too large to be kubectl's"));
        }
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|_| bad("is not JSON"))?;
        let api_version = match doc.get("apiVersion").and_then(|v| v.as_str()) {
            Some(EXEC_V1) | None => EXEC_V1,
            Some(EXEC_V1BETA1) => EXEC_V1BETA1,
            Some(other) => {
                return Err(Error::config(format!(
                    "kubectl asked for an ExecCredential of {}; latchkey answers {EXEC_V1} and {EXEC_V1BETA1}",
                    crate::base::text::quoted(other)
                ))
                .hint(format!(
                    "set `apiVersion: {EXEC_V1}` in the kubeconfig's exec section"
                )));
            }
        };
        // v1 always says; v1beta1 may leave it out, and then a terminal decides.
        let interactive = doc
            .get("spec")
            .and_then(|spec| spec.get("interactive"))
            .and_then(|v| v.as_bool())
            .unwrap_or_else(crate::terminal::style::stdin_is_terminal);
        Ok(ExecInfo {
            api_version,
            interactive,
            from_kubectl: true,
        })
    }
}

/// The ID token `--id-token` prints, with its expiry; never one that has expired (exit 4).
///
/// A refresh need not bring a new ID token (OpenID Connect Core §12.2), and then the stored one
/// is kept (`store::refresh`): it may be past its `exp` while the access token is fresh. Printing
/// it would hand kubectl, or any script, a token every server refuses — with exit 0 and, for
/// `exec-credential`, an `expirationTimestamp` in the past. Only a login gets a new one.
pub(super) fn id_token_to_print<'a>(
    tokens: &'a StoredTokens,
    profile: &str,
    now: u64,
) -> Result<(&'a str, Option<u64>)> {
    let id_token = tokens.id_token.as_ref().ok_or_else(|| {
        Error::login_required(format!("no ID token is stored for profile `{profile}`")).hint(
            format!(
                "include `openid` in the profile's scopes and run `latchkey login -p {profile}`"
            ),
        )
    })?;
    let exp = crate::oauth::jwt::unverified_claims(id_token.secret())
        .ok()
        .and_then(|c| c.exp)
        .and_then(|e| u64::try_from(e).ok());
    if let Some(exp) = exp
        && exp <= now
    {
        return Err(Error::login_required(format!(
            "the ID token of profile `{profile}` expired at {} ({} ago), and the provider sent no new one with the latest tokens",
            rfc3339(exp),
            format_remaining(Duration::from_secs(now - exp))
        ))
        .hint(format!(
            "run `latchkey login -p {profile}` for a new ID token (a refresh does not renew it with this provider)"
        )));
    }
    Ok((id_token.secret(), exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::ExitCode;
    use crate::base::secret::{AccessToken, IdToken};
    use base64::Engine;

    fn id_token(exp: Option<u64>) -> IdToken {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let claims = match exp {
            Some(exp) => format!(r#"{{"sub":"alice","exp":{exp}}}"#),
            None => r#"{"sub":"alice"}"#.to_owned(),
        };
        IdToken::new(format!(
            "{}.{}.c2ln",
            enc(r#"{"alg":"RS256"}"#),
            enc(&claims)
        ))
    }

    /// Tokens as a refresh that brought no new ID token leaves them: a fresh access token, the
    /// old ID token.
    fn tokens(id_token: Option<IdToken>) -> StoredTokens {
        let mut tokens: StoredTokens = serde_json::from_value(serde_json::json!({
            "version": 1, "access_token": "a", "refresh_token": "r", "id_token": null,
            "expires_at": 10_000, "scope": "openid", "token_type": "Bearer",
            "issuer": "https://idp.example", "client_id": "c", "audience": null,
            "obtained_at": 1_000
        }))
        .unwrap();
        tokens.access_token = AccessToken::new("a");
        tokens.id_token = id_token;
        tokens
    }

    #[test]
    fn an_expired_id_token_is_never_printed() {
        let now = 5_000;
        for exp in [now, now - 1, now - 3_600, 0] {
            let stored = tokens(Some(id_token(Some(exp))));
            let err = id_token_to_print(&stored, "k8s", now).unwrap_err();
            assert_eq!(err.exit_code(), ExitCode::LoginRequired, "exp {exp}");
            assert!(err.message().contains("expired"), "{}", err.message());
            assert!(
                err.hint_text()
                    .is_some_and(|h| h.contains("latchkey login -p k8s")),
                "{:?}",
                err.hint_text()
            );
        }
    }

    #[test]
    fn a_live_id_token_is_printed_with_its_expiry() {
        let stored = tokens(Some(id_token(Some(5_001))));
        let (token, exp) = id_token_to_print(&stored, "k8s", 5_000).unwrap();
        assert_eq!(token, stored.id_token.as_ref().unwrap().secret());
        assert_eq!(exp, Some(5_001));
    }

    #[test]
    fn no_id_token_is_login_required() {
        let err = id_token_to_print(&tokens(None), "k8s", 5_000).unwrap_err();
        assert_eq!(err.exit_code(), ExitCode::LoginRequired);
        assert!(err.message().contains("no ID token"), "{}", err.message());
    }

    #[test]
    fn kubectl_gets_the_exec_credential_version_it_asks_for() {
        let v1beta1 = ExecInfo::parse(
            r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}"#,
        )
        .unwrap();
        assert_eq!(v1beta1.api_version, EXEC_V1BETA1);
        assert!(!v1beta1.interactive);
        let v1 = ExecInfo::parse(
            r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":true,"cluster":{"server":"https://k"}}}"#,
        )
        .unwrap();
        assert_eq!(v1.api_version, EXEC_V1);
        assert!(v1.interactive);
        let old = ExecInfo::parse(r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#);
        assert_eq!(old.err().unwrap().exit_code(), ExitCode::Config);
        assert!(ExecInfo::parse("not json").is_err());
        assert!(ExecInfo::parse(&" ".repeat(MAX_EXEC_INFO + 1)).is_err());
    }
}
