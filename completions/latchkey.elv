# elvish completion for latchkey, generated from latchkey's command-line definition by `latchkey completions elvish`.
# Save it as ~/.config/elvish/lib/latchkey.elv and add `use latchkey` to rc.elv.

# Per command: its subcommands, its flags, and the flags whose next word is their value.
var commands = [
  &'latchkey'=[
    &subcommands=[
      ['login' 'Log in: open the provider''s login page (or print its URL for any other device), take the response on a loopback port or pasted, and store the tokens encrypted.']
      ['token' 'Print a valid access token for scripts, refreshing it first when it is about to expire.']
      ['status' 'Show whether profiles are logged in, as whom, and until when (never a token value).']
      ['logout' 'Log out: revoke the refresh token (then the access token) at the provider and delete the stored tokens.']
      ['profiles' 'List the profiles in the profiles file, marking the default; `profiles show` shows one profile''s settings and where each came from, `add`, `use` and `remove` change the file.']
      ['doctor' 'Check a profile''s setup: each part a login and a token need, with ✓ or ✗ and the fix (nothing is refreshed or sent).']
      ['kubeconfig' 'Add a user to a kubeconfig whose exec credential plugin runs this latchkey, or update it: kubectl then gets its tokens from `latchkey token`. The rest of the file is kept as it is.']
      ['agent' 'Serve this host''s profiles and tokens over a Unix socket, like ssh-agent: forward the socket over SSH and `token`, `status` and `login` on the remote host use it, with no token stored there.']
      ['exec' 'Run a command with a valid access token in its environment (never in its arguments); its exit status and signals are the command''s own.']
      ['git-credential' 'git''s credential helper: answers `get` with the access token of the profile whose `hosts` names the server (store and erase do nothing). Set up by `latchkey setup git`.']
      ['docker-credential' 'Docker''s credential helper protocol (also as `docker-credential-latchkey`): `get` answers a registry that a profile''s `hosts` names with its access token.']
      ['setup' 'Set up other programs to take latchkey''s tokens.']
      ['completions' 'Print the completion script for a shell on stdout; -p/--profile completes the profile names in your profiles file.']
      ['man' 'Print the man page, latchkey(1), as roff on stdout.']
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'the profile to use (default: $LATCHKEY_PROFILE, then default_profile, then the only one)']
      ['-p' 'the profile to use (default: $LATCHKEY_PROFILE, then default_profile, then the only one)']
      ['--config' 'the profiles file (default: $LATCHKEY_CONFIG, then $XDG_CONFIG_HOME/latchkey/profiles.toml)']
      ['--version' 'print the version, the target it was built for and its source commit, then exit']
    ]
    &values=['--profile' '-p' '--config']
  ]
  &'latchkey login'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'the profile to log in with']
      ['-p' 'the profile to log in with']
      ['--no-browser' 'do not open a browser; only print the URL']
      ['--browser' 'open a browser even where latchkey would only print the URL (e.g. over SSH)']
      ['--no-loopback' 'do not listen on the loopback port; take the response only by paste']
      ['--no-paste' 'do not read a pasted response; wait only for the loopback callback']
      ['--timeout' 'how long to wait for the login, as seconds or 90s, 5m, 1h (default 5m)']
      ['--audience' 'the API to request a token for, overriding the profile''s audience']
      ['--scope' 'a scope to request, replacing the profile''s scopes; repeat or space-separate for several']
      ['--organization' 'the Auth0 organization to log in to (an org_ ID or a name), overriding the profile''s']
      ['--invitation' 'accept an Auth0 organization invitation: the link from the invitation email']
      ['--fresh' 'ask the provider for a new login (prompt=login) even if the browser is still logged in']
      ['--device' 'use the device authorization grant (RFC 8628): confirm a code on any device']
      ['--no-qr' 'with --device, do not draw the QR code']
      ['--no-agent' 'log in here even when an agent answers (also LATCHKEY_NO_AGENT=1)']
      ['--same-user' 'replace the stored tokens only with the same user''s: a login whose ID token names another user exits 8 and stores nothing (an agent adds it to the logins it runs)']
    ]
    &values=['--profile' '-p' '--timeout' '--audience' '--scope' '--organization' '--invitation']
  ]
  &'latchkey token'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'the profile whose token to print']
      ['-p' 'the profile whose token to print']
      ['--min-valid' 'refresh when less than this is left, as seconds or 90s, 5m (default 60s); tokens obtained in the last 5 s are not refreshed again']
      ['--id-token' 'print the ID token instead of the access token']
      ['--audience' 'an access token for another API from the same login (Auth0: audience on the refresh; other providers: RFC 8707 resource), cached per API']
      ['--scope' 'a scope to ask for, of the --audience API (default: what the provider grants for it) or, without --audience, of the login''s own (a scope-only refresh, as Entra''s api://X/.default); repeat or space-separate for several']
      ['--no-agent' 'use the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)']
      ['--login-if-needed' 'when there is no usable login, log in first if someone can answer (a terminal, an agent, or kubectl passing its terminal on); otherwise exit 4 as without it']
      ['--format' 'output: raw (default), header, json or exec-credential']
    ]
    &values=['--profile' '-p' '--min-valid' '--audience' '--scope' '--format']
  ]
  &'latchkey status'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'the profile to show']
      ['-p' 'the profile to show']
      ['--all' 'show every profile in the profiles file']
      ['--json' 'print JSON instead of text']
      ['--no-agent' 'show the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)']
    ]
    &values=['--profile' '-p']
  ]
  &'latchkey logout'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'the profile to log out']
      ['-p' 'the profile to log out']
      ['--all' 'log out of every profile in the profiles file']
      ['--local' 'only delete the local tokens; do not revoke them at the provider']
      ['--browser' 'also end the provider''s browser session (OpenID Connect RP-initiated logout, or Auth0''s /v2/logout), so the next login may be someone else: the URL is opened here or printed']
    ]
    &values=['--profile' '-p']
  ]
  &'latchkey profiles'=[
    &subcommands=[
      ['show' 'Print a profile''s effective settings and where each value came from.']
      ['add' 'Add a profile to the profiles file (creating the file if needed), checked exactly as loading checks it; comments and layout in the file are kept.']
      ['use' 'Make a profile the default (`default_profile` in the profiles file).']
      ['remove' 'Remove a profile from the profiles file (its stored tokens stay unless --logout).']
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'the profile to mark as selected (as the top-level --profile)']
      ['-p' 'the profile to mark as selected (as the top-level --profile)']
      ['--json' 'print JSON instead of text']
    ]
    &values=['--profile' '-p']
  ]
  &'latchkey profiles show'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'the profile to show, as the top-level --profile']
      ['-p' 'the profile to show, as the top-level --profile']
      ['--json' 'print JSON instead of text']
    ]
    &values=['--profile' '-p']
  ]
  &'latchkey profiles add'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--domain' 'an Auth0 tenant''s domain, e.g. dev-abc123.us.auth0.com']
      ['--issuer' 'any OpenID provider''s issuer URL']
      ['--client-id' 'the application''s client ID']
      ['--audience' 'the API (audience) to ask tokens for']
      ['--scope' 'a scope to request (repeatable; default: openid profile email offline_access)']
      ['--redirect-port' 'the loopback port registered with the provider (0: any free port)']
      ['--default' 'make it the default profile']
      ['--force' 'replace a profile of the same name']
    ]
    &values=['--domain' '--issuer' '--client-id' '--audience' '--scope' '--redirect-port']
  ]
  &'latchkey profiles use'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
    ]
    &values=[]
  ]
  &'latchkey profiles remove'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--logout' 'log out first: revoke its tokens at the provider and delete them here']
    ]
    &values=[]
  ]
  &'latchkey doctor'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'the profile to check']
      ['-p' 'the profile to check']
      ['--all' 'check every profile in the profiles file']
      ['--json' 'print JSON instead of text']
    ]
    &values=['--profile' '-p']
  ]
  &'latchkey kubeconfig'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'the profile whose tokens kubectl gets']
      ['-p' 'the profile whose tokens kubectl gets']
      ['--kubeconfig' 'the kubeconfig to change (default: as kubectl picks it, from $KUBECONFIG or ~/.kube/config)']
      ['--user' 'the kubeconfig user''s name (default: latchkey-PROFILE)']
      ['--id-token' 'give kubectl the ID token instead of the access token (what Kubernetes'' OIDC authentication takes)']
      ['--dry-run' 'show the change as a diff and write nothing']
    ]
    &values=['--profile' '-p' '--kubeconfig' '--user']
  ]
  &'latchkey agent'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'serve only this profile; repeat for several (default: every profile)']
      ['-p' 'serve only this profile; repeat for several (default: every profile)']
      ['--socket' 'the socket to listen on (default: $LATCHKEY_AGENT_SOCK, then $XDG_RUNTIME_DIR/latchkey-agent.sock)']
      ['--no-login' 'refuse logins through the agent']
      ['--confirm' 'ask in the agent''s terminal before answering each request (like ssh-add -c); a request not allowed within a minute is refused']
      ['--lifetime' 'forget decrypted tokens and keys this long after opening them, as 30m, 8h (like ssh-agent -t)']
      ['--daemon' 'run in the background and print the shell lines that point LATCHKEY_AGENT_SOCK at it']
      ['--shell' 'with --daemon: print for this shell: sh, csh or fish (default: from $SHELL)']
      ['--stop' 'stop the agent at the socket']
      ['--systemd-unit' 'print a systemd user unit that runs the agent (save it as ~/.config/systemd/user/latchkey-agent.service)']
    ]
    &values=['--profile' '-p' '--socket' '--lifetime' '--shell']
  ]
  &'latchkey exec'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'the profile whose token to hand over']
      ['-p' 'the profile whose token to hand over']
      ['--env' 'the environment variable to put the token in (default LATCHKEY_TOKEN)']
      ['--min-valid' 'refresh when less than this is left, as seconds or 90s, 5m (default 60s)']
      ['--audience' 'hand over a token for this API instead of the login''s (as `token --audience`)']
      ['--no-agent' 'use the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)']
      ['--login-if-needed' 'log in first when there is no usable login and a terminal or agent can answer']
    ]
    &values=['--profile' '-p' '--env' '--min-valid' '--audience']
  ]
  &'latchkey git-credential'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'answer only for this profile (its `hosts` must still name the server)']
      ['-p' 'answer only for this profile (its `hosts` must still name the server)']
    ]
    &values=['--profile' '-p']
  ]
  &'latchkey docker-credential'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'answer only for this profile (its `hosts` must still name the registry)']
      ['-p' 'answer only for this profile (its `hosts` must still name the registry)']
    ]
    &values=['--profile' '-p']
  ]
  &'latchkey setup'=[
    &subcommands=[
      ['git' 'Make git ask latchkey for the credentials of each host in the profile''s `hosts`: writes `credential.<url>.helper` with `git config --global`, showing each command first.']
    ]
    &flags=[
      ['--help' 'display usage information']
    ]
    &values=[]
  ]
  &'latchkey setup git'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
      ['--profile' 'the profile whose hosts to set up']
      ['-p' 'the profile whose hosts to set up']
      ['--dry-run' 'only print the git commands']
    ]
    &values=['--profile' '-p']
  ]
  &'latchkey completions'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
    ]
    &values=[]
  ]
  &'latchkey man'=[
    &subcommands=[
    ]
    &flags=[
      ['--help' 'display usage information']
    ]
    &values=[]
  ]
]

set edit:completion:arg-completer[latchkey] = {|@words|
  # Walk the words before the one being completed (the last): a subcommand name steps into
  # it, a flag that takes a value makes the next word its value.
  var command = 'latchkey'
  var value-of = ''
  var config = []
  for word $words[1..(- (count $words) 1)] {
    if (not-eq $value-of '') {
      if (eq $value-of '--config') {
        set config = ['--config' $word]
      }
      set value-of = ''
    } elif (has-value $commands[$command][values] $word) {
      set value-of = $word
    } elif (has-key $commands $command' '$word) {
      set command = $command' '$word
    }
  }

  if (not-eq $value-of '') {
    # A value is being typed: profile names for -p/--profile, nothing for the others.
    if (has-value ['-p' '--profile'] $value-of) {
      try {
        e:latchkey $@config profiles --names 2>/dev/null | from-lines
      } catch { }
    }
  } else {
    for pair $commands[$command][subcommands] {
      edit:complex-candidate $pair[0] &display=$pair[0]' - '$pair[1]
    }
    for pair $commands[$command][flags] {
      edit:complex-candidate $pair[0] &display=$pair[0]' - '$pair[1]
    }
  }
}
