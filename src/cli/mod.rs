//! Layer 8, the command line, declared once with argh: parsing, `--help`, and (through
//! `ArgsInfo`) the man page and shell completions all come from these structs; `usage` explains
//! mistakes. May use every layer below; the generators use this module, never the reverse.

pub mod completions;
pub mod man;
pub mod shell;
pub mod spec;
pub mod usage;

use crate::cli::shell::Shell;
use argh::{ArgsInfo, FromArgs};
use std::path::PathBuf;

/// Log in to an OAuth 2.0 / OpenID Connect provider from a terminal, over SSH or on a laptop,
/// with the Authorization Code flow and PKCE, and keep the tokens age-encrypted per profile.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    example = "latchkey --config profiles.example.toml profiles",
    example = "latchkey profiles show -p dev",
    note = "Settings are layered: built-in defaults < profiles file < LATCHKEY_<FIELD> environment variables < flags.",
    error_code(2, "usage: the command line could not be parsed"),
    error_code(3, "configuration: profiles file, profile or environment override"),
    error_code(4, "login required: no usable tokens, run `latchkey login`"),
    error_code(5, "the identity provider refused (an OAuth error, or any other 4xx)"),
    error_code(6, "network, TLS or timeout talking to the identity provider"),
    error_code(7, "token store: decrypt, permissions or file I/O"),
    error_code(
        8,
        "login timed out, was cancelled or was refused (`--same-user`), or another login is running"
    ),
    error_code(
        126,
        "`exec`: the command could not be run (otherwise `exec` exits with the command's own status)"
    ),
    error_code(127, "`exec`: the command was not found"),
    error_code(130, "interrupted (Ctrl-C)")
)]
pub struct Cli {
    /// the profile to use (default: $LATCHKEY_PROFILE, then default_profile, then the only one)
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// the profiles file (default: $LATCHKEY_CONFIG, then $XDG_CONFIG_HOME/latchkey/profiles.toml)
    #[argh(option, arg_name = "FILE")]
    pub config: Option<PathBuf>,

    /// print the version, the target it was built for and its source commit, then exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Command>,
}

#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(subcommand)]
pub enum Command {
    Login(LoginArgs),
    Token(TokenArgs),
    Status(StatusArgs),
    Logout(LogoutArgs),
    Profiles(ProfilesArgs),
    Doctor(DoctorArgs),
    Kubeconfig(KubeconfigArgs),
    Agent(AgentArgs),
    Exec(ExecArgs),
    GitCredential(GitCredentialArgs),
    DockerCredential(DockerCredentialArgs),
    Setup(SetupArgs),
    Completions(CompletionsArgs),
    Man(ManArgs),
}

/// Print a valid access token for scripts, refreshing it first when it is about to expire.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "token",
    example = "curl -H \"Authorization: Bearer $(latchkey token)\" https://api.example.com/",
    example = "latchkey token -p prod --format header",
    example = "latchkey token --id-token --format exec-credential   # kubectl exec plugin",
    example = "latchkey token --audience https://billing.example.com/ --scope read:invoices",
    example = "latchkey token --scope api://billing/.default   # Entra ID: another API by scope",
    note = "Not interactive unless asked: without a usable refresh token it exits 4 and says to run `latchkey login`, or with --login-if-needed (or the profile's login_if_needed) runs that login first when a terminal, an agent or kubectl's interactive mode can answer it (prompts on stderr, the token on stdout after it). No network while the token has more than --min-valid left; refreshes are single-flight across processes. Tokens obtained in the last 5 seconds (by a login or another process's refresh) count as fresh whatever --min-valid says, so that a provider's short lifetime cannot make every call refresh and burn a rotating refresh token. With --audience (or --scope alone), a token for that API (those scopes) is got with the login's refresh token under the same lock and kept beside the login's in the same encrypted file; Auth0 is asked with `audience`, Entra ID with the scope API/.default (never `resource`, which it refuses), other providers with RFC 8707 `resource`; a JWT whose `aud` lacks the API is refused (exit 5), as Auth0 answers an API outside the application's refresh-token policies with a token for the default one, and so is `invalid_grant` for that API (the login is kept). A refresh goes only to the token endpoint the login used, over TLS that trusts no certificate the profile's ca_file did not add at login: otherwise exit 3, nothing sent."
)]
pub struct TokenArgs {
    /// the profile whose token to print
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// refresh when less than this is left, as seconds or 90s, 5m (default 60s); tokens
    /// obtained in the last 5 s are not refreshed again
    #[argh(option, from_str_fn(parse_duration), arg_name = "DURATION")]
    pub min_valid: Option<std::time::Duration>,

    /// print the ID token instead of the access token
    #[argh(switch)]
    pub id_token: bool,

    /// an access token for another API from the same login (Auth0: audience on the refresh;
    /// other providers: RFC 8707 resource), cached per API
    #[argh(option, arg_name = "AUDIENCE")]
    pub audience: Option<String>,

    /// a scope to ask for, of the --audience API (default: what the provider grants for it)
    /// or, without --audience, of the login's own (a scope-only refresh, as Entra's
    /// api://X/.default); repeat or space-separate for several
    #[argh(option, arg_name = "SCOPE")]
    pub scope: Vec<String>,

    /// use the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)
    #[argh(switch)]
    pub no_agent: bool,

    /// when there is no usable login, log in first if someone can answer (a terminal, an
    /// agent, or kubectl passing its terminal on); otherwise exit 4 as without it
    #[argh(switch)]
    pub login_if_needed: bool,

    /// output: raw (default), header, json or exec-credential
    #[argh(
        option,
        from_str_fn(parse_token_format),
        default = "TokenFormat::Raw",
        arg_name = "FORMAT"
    )]
    pub format: TokenFormat,
}

/// Run a command with a valid access token in its environment (never in its arguments); its
/// exit status and signals are the command's own.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "exec",
    example = "latchkey exec -- sh -c 'curl -H \"Authorization: Bearer $LATCHKEY_TOKEN\" https://api.example.com/'",
    example = "latchkey exec -p prod --env VAULT_TOKEN -- terraform plan",
    note = "The token is refreshed first as `latchkey token` does (with --min-valid left) and put in $LATCHKEY_TOKEN, or the variable --env names; LATCHKEY_PASSPHRASE and LATCHKEY_CLIENT_SECRET are removed from the command's environment. On Linux and macOS latchkey becomes the command (exec), so Ctrl-C, other signals and the exit status are the command's: a shell reports a command killed by signal N as 128+N. On Windows latchkey waits for it and exits with its status. Exit 127 when the command is not found, 126 when it cannot be run."
)]
pub struct ExecArgs {
    /// the profile whose token to hand over
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// the environment variable to put the token in (default LATCHKEY_TOKEN)
    #[argh(option, arg_name = "VAR")]
    pub env: Option<String>,

    /// refresh when less than this is left, as seconds or 90s, 5m (default 60s)
    #[argh(option, from_str_fn(parse_duration), arg_name = "DURATION")]
    pub min_valid: Option<std::time::Duration>,

    /// hand over a token for this API instead of the login's (as `token --audience`)
    #[argh(option, arg_name = "AUDIENCE")]
    pub audience: Option<String>,

    /// use the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)
    #[argh(switch)]
    pub no_agent: bool,

    /// log in first when there is no usable login and a terminal or agent can answer
    #[argh(switch)]
    pub login_if_needed: bool,

    /// the command and its arguments, after `--`
    #[argh(positional, greedy, arg_name = "COMMAND")]
    pub command: Vec<String>,
}

/// git's credential helper: answers `get` with the access token of the profile whose `hosts`
/// names the server (store and erase do nothing). Set up by `latchkey setup git`.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "git-credential",
    example = "git config --global credential.https://git.example.com.helper '!latchkey git-credential'",
    note = "git writes `protocol=`, `host=` (and more) on stdin; `get` answers `username=` (the profile's git_username, default oauth2; GitHub wants x-access-token) and `password=` the access token, refreshed as `latchkey token` does. A host no profile's `hosts` names gets no answer (exit 0), so git asks its next helper; so does plain http to anything but a loopback host. Never a prompt: without a usable login it says to run `latchkey login` (exit 4)."
)]
pub struct GitCredentialArgs {
    /// answer only for this profile (its `hosts` must still name the server)
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// get, store or erase (git's words; any other is ignored, as git asks of helpers)
    #[argh(positional, arg_name = "OPERATION", from_str_fn(parse_git_operation))]
    pub operation: GitOperation,
}

/// What git asks a credential helper to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitOperation {
    Get,
    /// `store`, `erase`, and any operation a later git may add: accepted, nothing done.
    Ignored,
}

fn parse_git_operation(text: &str) -> Result<GitOperation, String> {
    Ok(match text {
        "get" => GitOperation::Get,
        _ => GitOperation::Ignored,
    })
}

/// Docker's credential helper protocol (also as `docker-credential-latchkey`): `get` answers a
/// registry that a profile's `hosts` names with its access token.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "docker-credential",
    example = "ln -s \"$(command -v latchkey)\" ~/.local/bin/docker-credential-latchkey",
    example = "echo registry.example.com | docker-credential-latchkey get",
    note = "In ~/.docker/config.json: \"credHelpers\": {{\"registry.example.com\": \"latchkey\"}}. `get` reads the server URL on stdin and prints a JSON object with ServerURL, Username (registry_username, default oauth2) and Secret (the access token); a registry no profile names gets docker's \"credentials not found in native keychain\" (exit 1). `list` prints every named registry; `store` and `erase` do nothing: the token comes from `latchkey login`."
)]
pub struct DockerCredentialArgs {
    /// answer only for this profile (its `hosts` must still name the registry)
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// get, store, erase, list or version
    #[argh(
        positional,
        arg_name = "OPERATION",
        from_str_fn(parse_docker_operation)
    )]
    pub operation: DockerOperation,
}

/// The operations of docker's credential-helper protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerOperation {
    Get,
    Store,
    Erase,
    List,
    Version,
}

fn parse_docker_operation(text: &str) -> Result<DockerOperation, String> {
    match text {
        "get" => Ok(DockerOperation::Get),
        "store" => Ok(DockerOperation::Store),
        "erase" => Ok(DockerOperation::Erase),
        "list" => Ok(DockerOperation::List),
        "version" => Ok(DockerOperation::Version),
        other => Err(format!(
            "{other:?} is not an operation of docker's credential helpers: use get, store, erase, list or version"
        )),
    }
}

/// Set up other programs to take latchkey's tokens.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(subcommand, name = "setup", example = "latchkey setup git -p corp")]
pub struct SetupArgs {
    #[argh(subcommand)]
    pub command: SetupCommand,
}

#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(subcommand)]
pub enum SetupCommand {
    Git(SetupGitArgs),
}

/// Make git ask latchkey for the credentials of each host in the profile's `hosts`: writes
/// `credential.<url>.helper` with `git config --global`, showing each command first.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "git",
    example = "latchkey setup git -p corp --dry-run",
    note = "For each host: an empty helper line (so that helpers set for every URL, such as a keychain, are not asked for this host) and `!'/path/to/latchkey' git-credential -p NAME`; running it again gives the same lines. https, or http for a loopback host; a host with a port gets that port."
)]
pub struct SetupGitArgs {
    /// the profile whose hosts to set up
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// only print the git commands
    #[argh(switch)]
    pub dry_run: bool,
}

/// Add a user to a kubeconfig whose exec credential plugin runs this latchkey, or update it:
/// kubectl then gets its tokens from `latchkey token`. The rest of the file is kept as it is.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "kubeconfig",
    example = "latchkey kubeconfig -p k8s --dry-run      # show the change, write nothing",
    example = "latchkey kubeconfig -p k8s --id-token     # Kubernetes' OIDC authentication",
    example = "kubectl config set-context --current --user=latchkey-k8s",
    note = "The file is --kubeconfig, else the one kubectl would write the user to: of the files in $KUBECONFIG, the one that already has the user, else the first that exists, else the last; without $KUBECONFIG, ~/.kube/config. It says first what it will do (adds or updates which user in which file). Only the user's entry changes, every other line (comments included) staying as it is; a kubeconfig it cannot edit so (JSON, a flow-style users list, tabs, several documents, anchors, two users of the name) is refused with exit 3, naming the line, and left as it was. The plugin is the absolute path of this latchkey, so run the command again after moving it. A new file is 0600 (and a new ~/.kube 0700); an existing one keeps its mode and is replaced atomically."
)]
pub struct KubeconfigArgs {
    /// the profile whose tokens kubectl gets
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// the kubeconfig to change (default: as kubectl picks it, from $KUBECONFIG or
    /// ~/.kube/config)
    #[argh(option, arg_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// the kubeconfig user's name (default: latchkey-PROFILE)
    #[argh(option, arg_name = "NAME")]
    pub user: Option<String>,

    /// give kubectl the ID token instead of the access token (what Kubernetes' OIDC
    /// authentication takes)
    #[argh(switch)]
    pub id_token: bool,

    /// show the change as a diff and write nothing
    #[argh(switch)]
    pub dry_run: bool,
}

/// Serve this host's profiles and tokens over a Unix socket, like ssh-agent: forward the socket
/// over SSH and `token`, `status` and `login` on the remote host use it, with no token stored
/// there.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "agent",
    example = "eval \"$(latchkey agent --daemon)\"        # start it in the background",
    example = "ssh -R /run/user/1000/latchkey-agent.sock:$LATCHKEY_AGENT_SOCK remote-host",
    example = "latchkey agent --profile dev --no-login --lifetime 8h",
    example = "latchkey agent --systemd-unit > ~/.config/systemd/user/latchkey-agent.service",
    note = "The socket is $LATCHKEY_AGENT_SOCK, or $XDG_RUNTIME_DIR/latchkey-agent.sock; the socket is 0600 in a directory that is yours and that no one else can write (one the agent makes is 0700; a symbolic link there is refused), and every connection must come from the agent's own user (SO_PEERCRED, getpeereid). Refresh tokens never leave the agent: it answers with access and ID tokens and their expiry. A login through the agent runs here with --same-user, so it can replace this host's tokens with the same user's only; --device and --invitation are refused through it. With --confirm, each request (--stop too) is asked about, naming the process and what the answer allows; keys typed before the question are discarded. Stop it with Ctrl-C, SIGTERM or `latchkey agent --stop`."
)]
pub struct AgentArgs {
    /// serve only this profile; repeat for several (default: every profile)
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Vec<String>,

    /// the socket to listen on (default: $LATCHKEY_AGENT_SOCK, then
    /// $XDG_RUNTIME_DIR/latchkey-agent.sock)
    #[argh(option, arg_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// refuse logins through the agent
    #[argh(switch)]
    pub no_login: bool,

    /// ask in the agent's terminal before answering each request (like ssh-add -c); a request
    /// not allowed within a minute is refused
    #[argh(switch)]
    pub confirm: bool,

    /// forget decrypted tokens and keys this long after opening them, as 30m, 8h (like
    /// ssh-agent -t)
    #[argh(option, from_str_fn(parse_duration), arg_name = "DURATION")]
    pub lifetime: Option<std::time::Duration>,

    /// run in the background and print the shell lines that point LATCHKEY_AGENT_SOCK at it
    #[argh(switch)]
    pub daemon: bool,

    /// with --daemon: print for this shell: sh, csh or fish (default: from $SHELL)
    #[argh(option, arg_name = "SHELL")]
    pub shell: Option<String>,

    /// stop the agent at the socket
    #[argh(switch)]
    pub stop: bool,

    /// print a systemd user unit that runs the agent (save it as
    /// ~/.config/systemd/user/latchkey-agent.service)
    #[argh(switch)]
    pub systemd_unit: bool,
}

/// How `latchkey token` prints the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// The token and a newline.
    Raw,
    /// `Authorization: Bearer TOKEN`
    Header,
    /// A JSON object with the token, its expiry, type and scope.
    Json,
    /// A kubectl `client.authentication.k8s.io/v1` ExecCredential.
    ExecCredential,
}

fn parse_token_format(text: &str) -> Result<TokenFormat, String> {
    match text {
        "raw" => Ok(TokenFormat::Raw),
        "header" => Ok(TokenFormat::Header),
        "json" => Ok(TokenFormat::Json),
        "exec-credential" => Ok(TokenFormat::ExecCredential),
        other => Err(format!(
            "{other:?} is not a format: use raw, header, json or exec-credential"
        )),
    }
}

/// Show whether profiles are logged in, as whom, and until when (never a token value).
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "status",
    example = "latchkey status",
    example = "latchkey status --all --json",
    note = "Exits 0 when the profile (with --all: every profile) is logged in, 4 when not."
)]
pub struct StatusArgs {
    /// the profile to show
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// show every profile in the profiles file
    #[argh(switch)]
    pub all: bool,

    /// print JSON instead of text
    #[argh(switch)]
    pub json: bool,

    /// show the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)
    #[argh(switch)]
    pub no_agent: bool,
}

/// Log out: revoke the refresh token (then the access token) at the provider and delete the
/// stored tokens.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "logout",
    example = "latchkey logout -p dev",
    example = "latchkey logout --all --local",
    example = "latchkey logout --browser            # then log in as someone else",
    note = "The local file is deleted whatever the provider answers (but nothing is sent or deleted, exit 3, when the profile now names another provider or client, or its ca_file adds a certificate the login did not trust: see `logout --local`). Once the refresh token is revoked, logout exits 0, also when the provider will not revoke the access token (Auth0 cannot revoke its JWTs): it then says until when that stays valid. Only when the refresh token could not be revoked does it say the provider still holds a live one, with why (a provider that requires client authentication for revocation is named), and exit 5 (refused) or 6 (network). --browser then also ends the session the browser holds at the provider, which would otherwise log the same person in again: it opens (or, over SSH, prints) the provider's end_session_endpoint with id_token_hint and client_id, or for an Auth0 `domain` profile https://DOMAIN/v2/logout?client_id=…; a provider that names no end_session_endpoint is exit 3."
)]
pub struct LogoutArgs {
    /// the profile to log out
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// log out of every profile in the profiles file
    #[argh(switch)]
    pub all: bool,

    /// only delete the local tokens; do not revoke them at the provider
    #[argh(switch)]
    pub local: bool,

    /// also end the provider's browser session (OpenID Connect RP-initiated logout, or Auth0's
    /// /v2/logout), so the next login may be someone else: the URL is opened here or printed
    #[argh(switch)]
    pub browser: bool,
}

/// Log in: open the provider's login page (or print its URL for any other device), take the
/// response on a loopback port or pasted, and store the tokens encrypted.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "login",
    example = "latchkey login -p dev",
    example = "ssh -L 8484:127.0.0.1:8484 remote-host   # then, on remote-host: latchkey login",
    example = "latchkey login --no-loopback             # paste the code or redirect URL",
    example = "latchkey login --device                  # confirm a code on your phone",
    example = "latchkey login --fresh                   # log in as someone else",
    example = "latchkey login --invitation 'https://app.example.com/login?invitation=…&organization=org_…'",
    note = "The authorize URL is always printed on stderr. A browser is opened only where one can be seen: never in an SSH session without a forwarded display. The response is accepted from the loopback listener on 127.0.0.1 or pasted on stdin, whichever comes first. With an organization (the profile's `organization`, --organization or an invitation), every ID token must name it: `org_id` for an `org_…` ID, otherwise `org_name` (any case); a login answered for another organization exits 5 and stores nothing."
)]
pub struct LoginArgs {
    /// the profile to log in with
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// do not open a browser; only print the URL
    #[argh(switch)]
    pub no_browser: bool,

    /// open a browser even where latchkey would only print the URL (e.g. over SSH)
    #[argh(switch)]
    pub browser: bool,

    /// do not listen on the loopback port; take the response only by paste
    #[argh(switch)]
    pub no_loopback: bool,

    /// do not read a pasted response; wait only for the loopback callback
    #[argh(switch)]
    pub no_paste: bool,

    /// how long to wait for the login, as seconds or 90s, 5m, 1h (default 5m)
    #[argh(option, from_str_fn(parse_duration), arg_name = "DURATION")]
    pub timeout: Option<std::time::Duration>,

    /// the API to request a token for, overriding the profile's audience
    #[argh(option, arg_name = "AUDIENCE")]
    pub audience: Option<String>,

    /// a scope to request, replacing the profile's scopes; repeat or space-separate for several
    #[argh(option, arg_name = "SCOPE")]
    pub scope: Vec<String>,

    /// the Auth0 organization to log in to (an org_ ID or a name), overriding the profile's
    #[argh(option, arg_name = "ORG")]
    pub organization: Option<String>,

    /// accept an Auth0 organization invitation: the link from the invitation email
    #[argh(option, arg_name = "URL")]
    pub invitation: Option<String>,

    /// ask the provider for a new login (prompt=login) even if the browser is still logged in
    #[argh(switch)]
    pub fresh: bool,

    /// use the device authorization grant (RFC 8628): confirm a code on any device
    #[argh(switch)]
    pub device: bool,

    /// with --device, do not draw the QR code
    #[argh(switch)]
    pub no_qr: bool,

    /// log in here even when an agent answers (also LATCHKEY_NO_AGENT=1)
    #[argh(switch)]
    pub no_agent: bool,

    /// replace the stored tokens only with the same user's: a login whose ID token names
    /// another user exits 8 and stores nothing (an agent adds it to the logins it runs)
    #[argh(switch)]
    pub same_user: bool,
}

impl LoginArgs {
    /// The login `token --login-if-needed` runs: the profile's own settings, nothing else.
    pub fn for_relogin(profile: Option<&str>, no_agent: bool) -> LoginArgs {
        LoginArgs {
            profile: profile.map(str::to_owned),
            no_browser: false,
            browser: false,
            no_loopback: false,
            no_paste: false,
            timeout: None,
            audience: None,
            scope: Vec::new(),
            organization: None,
            invitation: None,
            fresh: false,
            device: false,
            no_qr: false,
            no_agent,
            same_user: false,
        }
    }
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::base::duration::parse_duration(text)
}

/// List the profiles in the profiles file, marking the default; `profiles show` shows one
/// profile's settings and where each came from, `add`, `use` and `remove` change the file.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "profiles",
    example = "latchkey profiles",
    example = "latchkey profiles show dev --json",
    example = "latchkey profiles add dev --domain dev-abc123.us.auth0.com --client-id Xyz --default",
    example = "latchkey profiles use prod"
)]
pub struct ProfilesArgs {
    /// the profile to mark as selected (as the top-level --profile)
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// print JSON instead of text
    #[argh(switch)]
    pub json: bool,

    /// print only the profile names, one a line, and nothing at all on any error (for the
    /// shell completions)
    #[argh(switch, hidden_help)]
    pub names: bool,

    #[argh(subcommand)]
    pub command: Option<ProfilesCommand>,
}

#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(subcommand)]
pub enum ProfilesCommand {
    Show(ProfilesShowArgs),
    Add(ProfilesAddArgs),
    Use(ProfilesUseArgs),
    Remove(ProfilesRemoveArgs),
}

/// Add a profile to the profiles file (creating the file if needed), checked exactly as loading
/// checks it; comments and layout in the file are kept.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "add",
    example = "latchkey profiles add dev --domain dev-abc123.us.auth0.com --client-id Xyz --default",
    example = "latchkey profiles add corp --issuer https://login.example.com --client-id cli --scope openid --scope offline_access",
    note = "Exactly one of --domain (an Auth0 tenant) and --issuer (any OpenID provider) is required."
)]
pub struct ProfilesAddArgs {
    /// the new profile's name (letters, digits, `-` and `_`)
    #[argh(positional, arg_name = "NAME")]
    pub name: String,

    /// an Auth0 tenant's domain, e.g. dev-abc123.us.auth0.com
    #[argh(option, arg_name = "DOMAIN")]
    pub domain: Option<String>,

    /// any OpenID provider's issuer URL
    #[argh(option, arg_name = "URL")]
    pub issuer: Option<String>,

    /// the application's client ID
    #[argh(option, arg_name = "ID")]
    pub client_id: Option<String>,

    /// the API (audience) to ask tokens for
    #[argh(option, arg_name = "AUDIENCE")]
    pub audience: Option<String>,

    /// a scope to request (repeatable; default: openid profile email offline_access)
    #[argh(option, arg_name = "SCOPE")]
    pub scope: Vec<String>,

    /// the loopback port registered with the provider (0: any free port)
    #[argh(option, arg_name = "PORT")]
    pub redirect_port: Option<u16>,

    /// make it the default profile
    #[argh(switch)]
    pub default: bool,

    /// replace a profile of the same name
    #[argh(switch)]
    pub force: bool,
}

/// Make a profile the default (`default_profile` in the profiles file).
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(subcommand, name = "use", example = "latchkey profiles use prod")]
pub struct ProfilesUseArgs {
    /// the profile to use by default
    #[argh(positional, arg_name = "NAME")]
    pub name: String,
}

/// Remove a profile from the profiles file (its stored tokens stay unless --logout).
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "remove",
    example = "latchkey profiles remove old --logout"
)]
pub struct ProfilesRemoveArgs {
    /// the profile to remove
    #[argh(positional, arg_name = "NAME")]
    pub name: String,

    /// log out first: revoke its tokens at the provider and delete them here
    #[argh(switch)]
    pub logout: bool,
}

/// Print a profile's effective settings and where each value came from.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(subcommand, name = "show", example = "latchkey profiles show dev")]
pub struct ProfilesShowArgs {
    /// the profile to show (default: the selected profile)
    #[argh(positional, arg_name = "NAME")]
    pub name: Option<String>,

    /// the profile to show, as the top-level --profile
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// print JSON instead of text
    #[argh(switch)]
    pub json: bool,
}

/// Check a profile's setup: each part a login and a token need, with ✓ or ✗ and the fix
/// (nothing is refreshed or sent).
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "doctor",
    example = "latchkey doctor",
    example = "latchkey doctor --all --json",
    note = "Exits 0 when every check passes, else with the exit code of the first failed check (3 configuration, 4 login required, 6 network, 7 token store, 1 other)."
)]
pub struct DoctorArgs {
    /// the profile to check
    #[argh(option, short = 'p', arg_name = "NAME")]
    pub profile: Option<String>,

    /// check every profile in the profiles file
    #[argh(switch)]
    pub all: bool,

    /// print JSON instead of text
    #[argh(switch)]
    pub json: bool,
}

/// Print the completion script for a shell on stdout; -p/--profile completes the profile names
/// in your profiles file.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "completions",
    example = "latchkey completions bash > ~/.local/share/bash-completion/completions/latchkey",
    example = "latchkey completions zsh > ~/.zfunc/_latchkey   # a directory on $fpath",
    example = "latchkey completions fish > ~/.config/fish/completions/latchkey.fish",
    note = "The scripts list profile names by running `latchkey profiles --names`, so latchkey must be on PATH."
)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, nushell, powershell or elvish
    #[argh(positional, arg_name = "SHELL", from_str_fn(parse_shell))]
    pub shell: Shell,
}

fn parse_shell(text: &str) -> Result<Shell, String> {
    Shell::from_name(text).ok_or_else(|| {
        format!(
            "{text:?} is not a shell latchkey completes: use {}",
            crate::cli::shell::shell_names()
        )
    })
}

/// Print the man page, latchkey(1), as roff on stdout.
#[derive(FromArgs, ArgsInfo, Debug, PartialEq)]
#[argh(
    subcommand,
    name = "man",
    example = "latchkey man | man -l -",
    example = "latchkey man > ~/.local/share/man/man1/latchkey.1"
)]
pub struct ManArgs {}

impl Cli {
    /// Parses arguments (without the program name); `Err` carries argh's text and whether it is
    /// help (exit 0) or a usage error (exit 2).
    pub fn parse(args: &[&str]) -> Result<Cli, argh::EarlyExit> {
        Cli::from_args(&["latchkey"], args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_is_accepted_before_and_after_the_command() {
        let before = Cli::parse(&["-p", "prod", "profiles"]).unwrap();
        assert_eq!(before.profile.as_deref(), Some("prod"));
        let after = Cli::parse(&["profiles", "-p", "prod"]).unwrap();
        let Some(Command::Profiles(args)) = after.command else {
            panic!("profiles expected")
        };
        assert_eq!(args.profile.as_deref(), Some("prod"));
    }

    #[test]
    fn show_takes_a_name_and_json() {
        let cli = Cli::parse(&["--config", "x.toml", "profiles", "show", "dev", "--json"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
        let Some(Command::Profiles(ProfilesArgs {
            command: Some(ProfilesCommand::Show(show)),
            ..
        })) = cli.command
        else {
            panic!("profiles show expected")
        };
        assert_eq!(show.name.as_deref(), Some("dev"));
        assert!(show.json);
    }

    #[test]
    fn login_flags() {
        let cli = Cli::parse(&[
            "login",
            "-p",
            "dev",
            "--no-browser",
            "--timeout",
            "90s",
            "--scope",
            "openid",
            "--scope",
            "email",
        ])
        .unwrap();
        let Some(Command::Login(login)) = cli.command else {
            panic!("login expected")
        };
        assert_eq!(login.profile.as_deref(), Some("dev"));
        assert!(login.no_browser && !login.browser);
        assert_eq!(login.timeout, Some(std::time::Duration::from_secs(90)));
        assert_eq!(login.scope, ["openid", "email"]);
        let err = Cli::parse(&["login", "--timeout", "soon"]).unwrap_err();
        assert!(err.output.contains("not a duration"), "{}", err.output);
    }

    #[test]
    fn token_flags() {
        let cli = Cli::parse(&[
            "token",
            "--format",
            "exec-credential",
            "--min-valid",
            "5m",
            "--id-token",
        ])
        .unwrap();
        let Some(Command::Token(token)) = cli.command else {
            panic!("token expected")
        };
        assert_eq!(token.format, TokenFormat::ExecCredential);
        assert_eq!(token.min_valid, Some(std::time::Duration::from_secs(300)));
        assert!(token.id_token);
        let err = Cli::parse(&["token", "--format", "yaml"]).unwrap_err();
        assert!(
            err.output.contains("raw, header, json or exec-credential"),
            "{}",
            err.output
        );
        let Some(Command::Token(plain)) = Cli::parse(&["token"]).unwrap().command else {
            panic!("token expected")
        };
        assert_eq!(plain.format, TokenFormat::Raw);
    }

    #[test]
    fn unknown_flags_are_usage_errors() {
        let err = Cli::parse(&["profiles", "--bogus"]).unwrap_err();
        assert!(err.status.is_err());
        assert!(err.output.contains("--bogus"), "{}", err.output);
    }
}
