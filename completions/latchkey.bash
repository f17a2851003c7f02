# bash completion for latchkey, generated from latchkey's command-line definition by `latchkey completions bash`.
# Install as ~/.local/share/bash-completion/completions/latchkey (bash-completion loads it on
# first use), or source it from ~/.bashrc.

# Profile names from the profiles file that --config (if typed) or LATCHKEY_CONFIG points at.
_latchkey_profile_names() {
    local i
    local -a config=()
    for ((i = 1; i < COMP_CWORD - 1; i++)); do
        if [[ ${COMP_WORDS[i]} == --config ]]; then
            config=(--config "${COMP_WORDS[i + 1]}")
        fi
    done
    latchkey "${config[@]}" profiles --names 2>/dev/null
}

_latchkey() {
    local i cur prev opts cmds cmd
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    if [[ $COMP_CWORD -ge 1 ]]; then
        prev="${COMP_WORDS[COMP_CWORD-1]}"
    else
        prev=""
    fi
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"; do
        case "${i}" in
            latchkey | */latchkey)
                cmd="latchkey"
                ;;
            login)
                cmd="latchkey_login"
                ;;
            token)
                cmd="latchkey_token"
                ;;
            status)
                cmd="latchkey_status"
                ;;
            logout)
                cmd="latchkey_logout"
                ;;
            profiles)
                cmd="latchkey_profiles"
                ;;
            show)
                cmd="latchkey_profiles_show"
                ;;
            add)
                cmd="latchkey_profiles_add"
                ;;
            use)
                cmd="latchkey_profiles_use"
                ;;
            remove)
                cmd="latchkey_profiles_remove"
                ;;
            doctor)
                cmd="latchkey_doctor"
                ;;
            kubeconfig)
                cmd="latchkey_kubeconfig"
                ;;
            agent)
                cmd="latchkey_agent"
                ;;
            exec)
                cmd="latchkey_exec"
                ;;
            git-credential)
                cmd="latchkey_git-credential"
                ;;
            docker-credential)
                cmd="latchkey_docker-credential"
                ;;
            setup)
                cmd="latchkey_setup"
                ;;
            git)
                cmd="latchkey_setup_git"
                ;;
            completions)
                cmd="latchkey_completions"
                ;;
            man)
                cmd="latchkey_man"
                ;;
        esac
    done

    case "${cmd}" in
        latchkey)
            opts="--help --profile -p --config --version"
            cmds="login token status logout profiles doctor kubeconfig agent exec git-credential docker-credential setup completions man"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                --config)
                    COMPREPLY=()
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_login)
            opts="--help --profile -p --no-browser --browser --no-loopback --no-paste --timeout --audience --scope --organization --invitation --fresh --device --no-qr --no-agent --same-user"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=()
                    return 0
                    ;;
                --audience)
                    COMPREPLY=()
                    return 0
                    ;;
                --scope)
                    COMPREPLY=()
                    return 0
                    ;;
                --organization)
                    COMPREPLY=()
                    return 0
                    ;;
                --invitation)
                    COMPREPLY=()
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_token)
            opts="--help --profile -p --min-valid --id-token --audience --scope --no-agent --login-if-needed --format"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                --min-valid)
                    COMPREPLY=()
                    return 0
                    ;;
                --audience)
                    COMPREPLY=()
                    return 0
                    ;;
                --scope)
                    COMPREPLY=()
                    return 0
                    ;;
                --format)
                    COMPREPLY=()
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_status)
            opts="--help --profile -p --all --json --no-agent"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_logout)
            opts="--help --profile -p --all --local --browser"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_profiles)
            opts="--help --profile -p --json"
            cmds="show add use remove"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_profiles_show)
            opts="--help --profile -p --json"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_profiles_add)
            opts="--help --domain --issuer --client-id --audience --scope --redirect-port --default --force"
            case "${prev}" in
                --domain)
                    COMPREPLY=()
                    return 0
                    ;;
                --issuer)
                    COMPREPLY=()
                    return 0
                    ;;
                --client-id)
                    COMPREPLY=()
                    return 0
                    ;;
                --audience)
                    COMPREPLY=()
                    return 0
                    ;;
                --scope)
                    COMPREPLY=()
                    return 0
                    ;;
                --redirect-port)
                    COMPREPLY=()
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_profiles_use)
            opts="--help"
            case "${prev}" in
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_profiles_remove)
            opts="--help --logout"
            case "${prev}" in
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_doctor)
            opts="--help --profile -p --all --json"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_kubeconfig)
            opts="--help --profile -p --kubeconfig --user --id-token --dry-run"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                --kubeconfig)
                    COMPREPLY=()
                    return 0
                    ;;
                --user)
                    COMPREPLY=()
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_agent)
            opts="--help --profile -p --socket --no-login --confirm --lifetime --daemon --shell --stop --systemd-unit"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                --socket)
                    COMPREPLY=()
                    return 0
                    ;;
                --lifetime)
                    COMPREPLY=()
                    return 0
                    ;;
                --shell)
                    COMPREPLY=()
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_exec)
            opts="--help --profile -p --env --min-valid --audience --no-agent --login-if-needed"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                --env)
                    COMPREPLY=()
                    return 0
                    ;;
                --min-valid)
                    COMPREPLY=()
                    return 0
                    ;;
                --audience)
                    COMPREPLY=()
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_git-credential)
            opts="--help --profile -p"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_docker-credential)
            opts="--help --profile -p"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_setup)
            opts="--help"
            cmds="git"
            case "${prev}" in
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_setup_git)
            opts="--help --profile -p --dry-run"
            case "${prev}" in
                --profile | -p)
                    COMPREPLY=( $(compgen -W "$(_latchkey_profile_names)" -- "${cur}") )
                    return 0
                    ;;
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_completions)
            opts="--help"
            case "${prev}" in
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
        latchkey_man)
            opts="--help"
            case "${prev}" in
                *)
                    COMPREPLY=( $(compgen -W "${opts} ${cmds}" -- "${cur}") )
                    return 0
                    ;;
            esac
            ;;
    esac
}

complete -F _latchkey -o bashdefault -o default latchkey
