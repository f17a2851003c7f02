# nushell completion for latchkey, generated from latchkey's command-line definition by `latchkey completions nushell`.
# Save it and add `use /path/to/latchkey.nu *` to your config.nu.

# Profile names from the profiles file that LATCHKEY_CONFIG (or the default) points at.
def "nu-complete latchkey profiles" [] {
    try { ^latchkey profiles --names | lines } catch { [] }
}

export extern "latchkey" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # the profile to use (default: $LATCHKEY_PROFILE, then default_profile, then the only one)
    --config: string # the profiles file (default: $LATCHKEY_CONFIG, then $XDG_CONFIG_HOME/latchkey/profiles.toml)
    --version # print the version, the target it was built for and its source commit, then exit
]

export extern "latchkey login" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # the profile to log in with
    --no-browser # do not open a browser; only print the URL
    --browser # open a browser even where latchkey would only print the URL (e.g. over SSH)
    --no-loopback # do not listen on the loopback port; take the response only by paste
    --no-paste # do not read a pasted response; wait only for the loopback callback
    --timeout: string # how long to wait for the login, as seconds or 90s, 5m, 1h (default 5m)
    --audience: string # the API to request a token for, overriding the profile's audience
    --scope: string # a scope to request, replacing the profile's scopes; repeat or space-separate for several
    --organization: string # the Auth0 organization to log in to (an org_ ID or a name), overriding the profile's
    --invitation: string # accept an Auth0 organization invitation: the link from the invitation email
    --fresh # ask the provider for a new login (prompt=login) even if the browser is still logged in
    --device # use the device authorization grant (RFC 8628): confirm a code on any device
    --no-qr # with --device, do not draw the QR code
    --no-agent # log in here even when an agent answers (also LATCHKEY_NO_AGENT=1)
    --same-user # replace the stored tokens only with the same user's: a login whose ID token names another user exits 8 and stores nothing (an agent adds it to the logins it runs)
]

export extern "latchkey token" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # the profile whose token to print
    --min-valid: string # refresh when less than this is left, as seconds or 90s, 5m (default 60s); tokens obtained in the last 5 s are not refreshed again
    --id-token # print the ID token instead of the access token
    --audience: string # an access token for another API from the same login (Auth0: audience on the refresh; other providers: RFC 8707 resource), cached per API
    --scope: string # a scope to ask for, of the --audience API (default: what the provider grants for it) or, without --audience, of the login's own (a scope-only refresh, as Entra's api://X/.default); repeat or space-separate for several
    --no-agent # use the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)
    --login-if-needed # when there is no usable login, log in first if someone can answer (a terminal, an agent, or kubectl passing its terminal on); otherwise exit 4 as without it
    --format: string # output: raw (default), header, json or exec-credential
]

export extern "latchkey status" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # the profile to show
    --all # show every profile in the profiles file
    --json # print JSON instead of text
    --no-agent # show the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)
]

export extern "latchkey logout" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # the profile to log out
    --all # log out of every profile in the profiles file
    --local # only delete the local tokens; do not revoke them at the provider
    --browser # also end the provider's browser session (OpenID Connect RP-initiated logout, or Auth0's /v2/logout), so the next login may be someone else: the URL is opened here or printed
]

export extern "latchkey profiles" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # the profile to mark as selected (as the top-level --profile)
    --json # print JSON instead of text
]

export extern "latchkey profiles show" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # the profile to show, as the top-level --profile
    --json # print JSON instead of text
    NAME?: string # the profile to show (default: the selected profile)
]

export extern "latchkey profiles add" [
    --help # display usage information
    --domain: string # an Auth0 tenant's domain, e.g. dev-abc123.us.auth0.com
    --issuer: string # any OpenID provider's issuer URL
    --client-id: string # the application's client ID
    --audience: string # the API (audience) to ask tokens for
    --scope: string # a scope to request (repeatable; default: openid profile email offline_access)
    --redirect-port: string # the loopback port registered with the provider (0: any free port)
    --default # make it the default profile
    --force # replace a profile of the same name
    NAME: string # the new profile's name (letters, digits, `-` and `_`)
]

export extern "latchkey profiles use" [
    --help # display usage information
    NAME: string # the profile to use by default
]

export extern "latchkey profiles remove" [
    --help # display usage information
    --logout # log out first: revoke its tokens at the provider and delete them here
    NAME: string # the profile to remove
]

export extern "latchkey doctor" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # the profile to check
    --all # check every profile in the profiles file
    --json # print JSON instead of text
]

export extern "latchkey kubeconfig" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # the profile whose tokens kubectl gets
    --kubeconfig: string # the kubeconfig to change (default: as kubectl picks it, from $KUBECONFIG or ~/.kube/config)
    --user: string # the kubeconfig user's name (default: latchkey-PROFILE)
    --id-token # give kubectl the ID token instead of the access token (what Kubernetes' OIDC authentication takes)
    --dry-run # show the change as a diff and write nothing
]

export extern "latchkey agent" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # serve only this profile; repeat for several (default: every profile)
    --socket: string # the socket to listen on (default: $LATCHKEY_AGENT_SOCK, then $XDG_RUNTIME_DIR/latchkey-agent.sock)
    --no-login # refuse logins through the agent
    --confirm # ask in the agent's terminal before answering each request (like ssh-add -c); a request not allowed within a minute is refused
    --lifetime: string # forget decrypted tokens and keys this long after opening them, as 30m, 8h (like ssh-agent -t)
    --daemon # run in the background and print the shell lines that point LATCHKEY_AGENT_SOCK at it
    --shell: string # with --daemon: print for this shell: sh, csh or fish (default: from $SHELL)
    --stop # stop the agent at the socket
    --systemd-unit # print a systemd user unit that runs the agent (save it as ~/.config/systemd/user/latchkey-agent.service)
]

export extern "latchkey exec" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # the profile whose token to hand over
    --env: string # the environment variable to put the token in (default LATCHKEY_TOKEN)
    --min-valid: string # refresh when less than this is left, as seconds or 90s, 5m (default 60s)
    --audience: string # hand over a token for this API instead of the login's (as `token --audience`)
    --no-agent # use the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)
    --login-if-needed # log in first when there is no usable login and a terminal or agent can answer
    ...COMMAND: string # the command and its arguments, after `--`
]

export extern "latchkey git-credential" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # answer only for this profile (its `hosts` must still name the server)
    OPERATION: string # get, store or erase (git's words; any other is ignored, as git asks of helpers)
]

export extern "latchkey docker-credential" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # answer only for this profile (its `hosts` must still name the registry)
    OPERATION: string # get, store, erase, list or version
]

export extern "latchkey setup" [
    --help # display usage information
]

export extern "latchkey setup git" [
    --help # display usage information
    --profile(-p): string@"nu-complete latchkey profiles" # the profile whose hosts to set up
    --dry-run # only print the git commands
]

export extern "latchkey completions" [
    --help # display usage information
    SHELL: string # bash, zsh, fish, nushell, powershell or elvish
]

export extern "latchkey man" [
    --help # display usage information
]

