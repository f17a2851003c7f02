# fish completion for latchkey, generated from latchkey's command-line definition by `latchkey completions fish`.
# Install as ~/.config/fish/completions/latchkey.fish.

# Profile names from the profiles file that --config (if typed) or LATCHKEY_CONFIG points at.
function __fish_latchkey_profiles
    set -l typed (commandline -opc)
    set -l config
    if set -l at (contains -i -- --config $typed)
        set config --config $typed[(math $at + 1)]
    end
    latchkey $config profiles --names 2>/dev/null
end

function __fish_latchkey_using_command
    set -l cmd (commandline -opc)
    set -e cmd[1]
    set -l target_cmd $argv

    set -l known_value_flags 'audience' 'client-id' 'config' 'domain' 'env' 'format' 'invitation' 'issuer' 'kubeconfig' 'lifetime' 'min-valid' 'organization' 'p' 'profile' 'redirect-port' 'scope' 'shell' 'socket' 'timeout' 'user' 

    set -l i 1
    set -l cleaned_cmd
    while test $i -le (count $cmd)
        set -l arg $cmd[$i]
        if string match -q -- "-*" $arg
            set -l pure_flag (string replace -r '^--?' '' -- $arg)
            if contains -- $pure_flag $known_value_flags
                set -l next_i (math $i + 1)
                if test $next_i -le (count $cmd)
                    if not string match -q -- "-*" $cmd[$next_i]
                        set i $next_i
                    end
                end
            end
        else
            set -a cleaned_cmd $arg
        end
        set i (math $i + 1)
    end

    set -l count_cleaned (count $cleaned_cmd)
    set -l count_target (count $target_cmd)
    
    if test $count_cleaned -ne $count_target
        return 1
    end
    
    for i in (seq $count_target)
        if test $cleaned_cmd[$i] != $target_cmd[$i]
            return 1
        end
    end
    
    return 0
end

complete -c latchkey -n '__fish_latchkey_using_command' -f -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command' -f -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'the profile to use (default: $LATCHKEY_PROFILE, then default_profile, then the only one)'
complete -c latchkey -n '__fish_latchkey_using_command' -l config -r -F -d 'the profiles file (default: $LATCHKEY_CONFIG, then $XDG_CONFIG_HOME/latchkey/profiles.toml)'
complete -c latchkey -n '__fish_latchkey_using_command' -f -l version -d 'print the version, the target it was built for and its source commit, then exit'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'login' -d 'Log in: open the provider\'s login page (or print its URL for any other device), take the response on a loopback port or pasted, and store the tokens encrypted.'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'token' -d 'Print a valid access token for scripts, refreshing it first when it is about to expire.'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'status' -d 'Show whether profiles are logged in, as whom, and until when (never a token value).'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'logout' -d 'Log out: revoke the refresh token (then the access token) at the provider and delete the stored tokens.'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'profiles' -d 'List the profiles in the profiles file, marking the default; `profiles show` shows one profile\'s settings and where each came from, `add`, `use` and `remove` change the file.'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'doctor' -d 'Check a profile\'s setup: each part a login and a token need, with ✓ or ✗ and the fix (nothing is refreshed or sent).'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'kubeconfig' -d 'Add a user to a kubeconfig whose exec credential plugin runs this latchkey, or update it: kubectl then gets its tokens from `latchkey token`. The rest of the file is kept as it is.'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'agent' -d 'Serve this host\'s profiles and tokens over a Unix socket, like ssh-agent: forward the socket over SSH and `token`, `status` and `login` on the remote host use it, with no token stored there.'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'exec' -d 'Run a command with a valid access token in its environment (never in its arguments); its exit status and signals are the command\'s own.'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'git-credential' -d 'git\'s credential helper: answers `get` with the access token of the profile whose `hosts` names the server (store and erase do nothing). Set up by `latchkey setup git`.'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'docker-credential' -d 'Docker\'s credential helper protocol (also as `docker-credential-latchkey`): `get` answers a registry that a profile\'s `hosts` names with its access token.'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'setup' -d 'Set up other programs to take latchkey\'s tokens.'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'completions' -d 'Print the completion script for a shell on stdout; -p/--profile completes the profile names in your profiles file.'
complete -c latchkey -n '__fish_latchkey_using_command' -f -a 'man' -d 'Print the man page, latchkey(1), as roff on stdout.'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'the profile to log in with'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l no-browser -d 'do not open a browser; only print the URL'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l browser -d 'open a browser even where latchkey would only print the URL (e.g. over SSH)'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l no-loopback -d 'do not listen on the loopback port; take the response only by paste'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l no-paste -d 'do not read a pasted response; wait only for the loopback callback'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l timeout -r -d 'how long to wait for the login, as seconds or 90s, 5m, 1h (default 5m)'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l audience -r -d 'the API to request a token for, overriding the profile\'s audience'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l scope -r -d 'a scope to request, replacing the profile\'s scopes; repeat or space-separate for several'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l organization -r -d 'the Auth0 organization to log in to (an org_ ID or a name), overriding the profile\'s'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l invitation -r -d 'accept an Auth0 organization invitation: the link from the invitation email'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l fresh -d 'ask the provider for a new login (prompt=login) even if the browser is still logged in'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l device -d 'use the device authorization grant (RFC 8628): confirm a code on any device'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l no-qr -d 'with --device, do not draw the QR code'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l no-agent -d 'log in here even when an agent answers (also LATCHKEY_NO_AGENT=1)'
complete -c latchkey -n '__fish_latchkey_using_command login' -f -l same-user -d 'replace the stored tokens only with the same user\'s: a login whose ID token names another user exits 8 and stores nothing (an agent adds it to the logins it runs)'
complete -c latchkey -n '__fish_latchkey_using_command token' -f -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command token' -f -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'the profile whose token to print'
complete -c latchkey -n '__fish_latchkey_using_command token' -f -l min-valid -r -d 'refresh when less than this is left, as seconds or 90s, 5m (default 60s); tokens obtained in the last 5 s are not refreshed again'
complete -c latchkey -n '__fish_latchkey_using_command token' -f -l id-token -d 'print the ID token instead of the access token'
complete -c latchkey -n '__fish_latchkey_using_command token' -f -l audience -r -d 'an access token for another API from the same login (Auth0: audience on the refresh; other providers: RFC 8707 resource), cached per API'
complete -c latchkey -n '__fish_latchkey_using_command token' -f -l scope -r -d 'a scope to ask for, of the --audience API (default: what the provider grants for it) or, without --audience, of the login\'s own (a scope-only refresh, as Entra\'s api://X/.default); repeat or space-separate for several'
complete -c latchkey -n '__fish_latchkey_using_command token' -f -l no-agent -d 'use the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)'
complete -c latchkey -n '__fish_latchkey_using_command token' -f -l login-if-needed -d 'when there is no usable login, log in first if someone can answer (a terminal, an agent, or kubectl passing its terminal on); otherwise exit 4 as without it'
complete -c latchkey -n '__fish_latchkey_using_command token' -f -l format -r -d 'output: raw (default), header, json or exec-credential'
complete -c latchkey -n '__fish_latchkey_using_command status' -f -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command status' -f -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'the profile to show'
complete -c latchkey -n '__fish_latchkey_using_command status' -f -l all -d 'show every profile in the profiles file'
complete -c latchkey -n '__fish_latchkey_using_command status' -f -l json -d 'print JSON instead of text'
complete -c latchkey -n '__fish_latchkey_using_command status' -f -l no-agent -d 'show the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)'
complete -c latchkey -n '__fish_latchkey_using_command logout' -f -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command logout' -f -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'the profile to log out'
complete -c latchkey -n '__fish_latchkey_using_command logout' -f -l all -d 'log out of every profile in the profiles file'
complete -c latchkey -n '__fish_latchkey_using_command logout' -f -l local -d 'only delete the local tokens; do not revoke them at the provider'
complete -c latchkey -n '__fish_latchkey_using_command logout' -f -l browser -d 'also end the provider\'s browser session (OpenID Connect RP-initiated logout, or Auth0\'s /v2/logout), so the next login may be someone else: the URL is opened here or printed'
complete -c latchkey -n '__fish_latchkey_using_command profiles' -f -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command profiles' -f -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'the profile to mark as selected (as the top-level --profile)'
complete -c latchkey -n '__fish_latchkey_using_command profiles' -f -l json -d 'print JSON instead of text'
complete -c latchkey -n '__fish_latchkey_using_command profiles' -f -a 'show' -d 'Print a profile\'s effective settings and where each value came from.'
complete -c latchkey -n '__fish_latchkey_using_command profiles' -f -a 'add' -d 'Add a profile to the profiles file (creating the file if needed), checked exactly as loading checks it; comments and layout in the file are kept.'
complete -c latchkey -n '__fish_latchkey_using_command profiles' -f -a 'use' -d 'Make a profile the default (`default_profile` in the profiles file).'
complete -c latchkey -n '__fish_latchkey_using_command profiles' -f -a 'remove' -d 'Remove a profile from the profiles file (its stored tokens stay unless --logout).'
complete -c latchkey -n '__fish_latchkey_using_command profiles show' -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command profiles show' -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'the profile to show, as the top-level --profile'
complete -c latchkey -n '__fish_latchkey_using_command profiles show' -l json -d 'print JSON instead of text'
complete -c latchkey -n '__fish_latchkey_using_command profiles add' -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command profiles add' -l domain -r -d 'an Auth0 tenant\'s domain, e.g. dev-abc123.us.auth0.com'
complete -c latchkey -n '__fish_latchkey_using_command profiles add' -l issuer -r -d 'any OpenID provider\'s issuer URL'
complete -c latchkey -n '__fish_latchkey_using_command profiles add' -l client-id -r -d 'the application\'s client ID'
complete -c latchkey -n '__fish_latchkey_using_command profiles add' -l audience -r -d 'the API (audience) to ask tokens for'
complete -c latchkey -n '__fish_latchkey_using_command profiles add' -l scope -r -d 'a scope to request (repeatable; default: openid profile email offline_access)'
complete -c latchkey -n '__fish_latchkey_using_command profiles add' -l redirect-port -r -d 'the loopback port registered with the provider (0: any free port)'
complete -c latchkey -n '__fish_latchkey_using_command profiles add' -l default -d 'make it the default profile'
complete -c latchkey -n '__fish_latchkey_using_command profiles add' -l force -d 'replace a profile of the same name'
complete -c latchkey -n '__fish_latchkey_using_command profiles use' -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command profiles remove' -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command profiles remove' -l logout -d 'log out first: revoke its tokens at the provider and delete them here'
complete -c latchkey -n '__fish_latchkey_using_command doctor' -f -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command doctor' -f -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'the profile to check'
complete -c latchkey -n '__fish_latchkey_using_command doctor' -f -l all -d 'check every profile in the profiles file'
complete -c latchkey -n '__fish_latchkey_using_command doctor' -f -l json -d 'print JSON instead of text'
complete -c latchkey -n '__fish_latchkey_using_command kubeconfig' -f -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command kubeconfig' -f -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'the profile whose tokens kubectl gets'
complete -c latchkey -n '__fish_latchkey_using_command kubeconfig' -f -l kubeconfig -r -d 'the kubeconfig to change (default: as kubectl picks it, from $KUBECONFIG or ~/.kube/config)'
complete -c latchkey -n '__fish_latchkey_using_command kubeconfig' -f -l user -r -d 'the kubeconfig user\'s name (default: latchkey-PROFILE)'
complete -c latchkey -n '__fish_latchkey_using_command kubeconfig' -f -l id-token -d 'give kubectl the ID token instead of the access token (what Kubernetes\' OIDC authentication takes)'
complete -c latchkey -n '__fish_latchkey_using_command kubeconfig' -f -l dry-run -d 'show the change as a diff and write nothing'
complete -c latchkey -n '__fish_latchkey_using_command agent' -f -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command agent' -f -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'serve only this profile; repeat for several (default: every profile)'
complete -c latchkey -n '__fish_latchkey_using_command agent' -f -l socket -r -d 'the socket to listen on (default: $LATCHKEY_AGENT_SOCK, then $XDG_RUNTIME_DIR/latchkey-agent.sock)'
complete -c latchkey -n '__fish_latchkey_using_command agent' -f -l no-login -d 'refuse logins through the agent'
complete -c latchkey -n '__fish_latchkey_using_command agent' -f -l confirm -d 'ask in the agent\'s terminal before answering each request (like ssh-add -c); a request not allowed within a minute is refused'
complete -c latchkey -n '__fish_latchkey_using_command agent' -f -l lifetime -r -d 'forget decrypted tokens and keys this long after opening them, as 30m, 8h (like ssh-agent -t)'
complete -c latchkey -n '__fish_latchkey_using_command agent' -f -l daemon -d 'run in the background and print the shell lines that point LATCHKEY_AGENT_SOCK at it'
complete -c latchkey -n '__fish_latchkey_using_command agent' -f -l shell -r -d 'with --daemon: print for this shell: sh, csh or fish (default: from $SHELL)'
complete -c latchkey -n '__fish_latchkey_using_command agent' -f -l stop -d 'stop the agent at the socket'
complete -c latchkey -n '__fish_latchkey_using_command agent' -f -l systemd-unit -d 'print a systemd user unit that runs the agent (save it as ~/.config/systemd/user/latchkey-agent.service)'
complete -c latchkey -n '__fish_latchkey_using_command exec' -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command exec' -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'the profile whose token to hand over'
complete -c latchkey -n '__fish_latchkey_using_command exec' -l env -r -d 'the environment variable to put the token in (default LATCHKEY_TOKEN)'
complete -c latchkey -n '__fish_latchkey_using_command exec' -l min-valid -r -d 'refresh when less than this is left, as seconds or 90s, 5m (default 60s)'
complete -c latchkey -n '__fish_latchkey_using_command exec' -l audience -r -d 'hand over a token for this API instead of the login\'s (as `token --audience`)'
complete -c latchkey -n '__fish_latchkey_using_command exec' -l no-agent -d 'use the local token store even when an agent answers (also LATCHKEY_NO_AGENT=1)'
complete -c latchkey -n '__fish_latchkey_using_command exec' -l login-if-needed -d 'log in first when there is no usable login and a terminal or agent can answer'
complete -c latchkey -n '__fish_latchkey_using_command git-credential' -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command git-credential' -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'answer only for this profile (its `hosts` must still name the server)'
complete -c latchkey -n '__fish_latchkey_using_command docker-credential' -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command docker-credential' -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'answer only for this profile (its `hosts` must still name the registry)'
complete -c latchkey -n '__fish_latchkey_using_command setup' -f -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command setup' -f -a 'git' -d 'Make git ask latchkey for the credentials of each host in the profile\'s `hosts`: writes `credential.<url>.helper` with `git config --global`, showing each command first.'
complete -c latchkey -n '__fish_latchkey_using_command setup git' -f -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command setup git' -f -l profile -s p -x -a '(__fish_latchkey_profiles)' -d 'the profile whose hosts to set up'
complete -c latchkey -n '__fish_latchkey_using_command setup git' -f -l dry-run -d 'only print the git commands'
complete -c latchkey -n '__fish_latchkey_using_command completions' -l help -d 'display usage information'
complete -c latchkey -n '__fish_latchkey_using_command man' -f -l help -d 'display usage information'
