#!/usr/bin/env bash
# Try latchkey without an Auth0 tenant: starts the local test OpenID provider, writes a
# throwaway profiles file, and runs `latchkey login` against it (if a latchkey binary that
# has `login` is found); otherwise keeps the provider running until Ctrl-C.
#
#   tests/idp/tryout.sh [extra server.js flags, e.g. --https]
#   LATCHKEY_BIN=/path/to/latchkey tests/idp/tryout.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

command -v node >/dev/null || { echo "tryout: node (>= 20) is required" >&2; exit 1; }
if [ ! -d "$here/node_modules/oidc-provider" ]; then
  echo "tryout: installing the test provider's dependencies (npm ci)..." >&2
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-tryout.XXXXXX")"
idp_pid=""
cleanup() {
  if [ -n "$idp_pid" ] && kill -0 "$idp_pid" 2>/dev/null; then
    kill -TERM "$idp_pid" 2>/dev/null || true
    wait "$idp_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Start the provider. Its stdin is a pipe held open by this shell (fd 3), so with
# --exit-on-stdin-eof it also goes away if this script is killed without running the trap.
exec 3> >(exec node "$here/server.js" --exit-on-stdin-eof "$@" >"$tmp/ready.json" 2>"$tmp/idp.log")
idp_pid=$!
ready=""
for _ in $(seq 1 150); do
  ready="$(head -n 1 "$tmp/ready.json" 2>/dev/null || true)"
  [ -n "$ready" ] && break
  kill -0 "$idp_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "tryout: the provider failed to start:" >&2
  cat "$tmp/idp.log" >&2
  exit 1
fi
field() { node -e 'const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; process.stdout.write(v==null?"":String(v))' "$ready" "$1"; }
issuer="$(field issuer)"
ca="$(field ca)"

config="$tmp/profiles.toml"
cat >"$config" <<EOF
# written by tests/idp/tryout.sh
default_profile = "tryout"

[profiles.tryout]
issuer = "$issuer"
client_id = "latchkey-test"
scopes = ["openid", "profile", "email", "offline_access"]
redirect_port = 0
paste_redirect_uri = "$issuer/show-code"
EOF

cat <<EOF
Local test OpenID provider is running.
  issuer:        $issuer
  discovery:     $issuer/.well-known/openid-configuration
  test user:     alice / wonderland
  client_id:     latchkey-test
  profiles file: $config
EOF
if [ -n "$ca" ]; then
  echo "  TLS CA:        $ca   (export SSL_CERT_FILE / NODE_EXTRA_CA_CERTS to trust it)"
fi
echo

# Find latchkey: $LATCHKEY_BIN, then the debug build in this repo, then PATH.
bin="${LATCHKEY_BIN:-}"
if [ -z "$bin" ] && [ -x "$repo/target/debug/latchkey" ]; then bin="$repo/target/debug/latchkey"; fi
if [ -z "$bin" ]; then bin="$(command -v latchkey || true)"; fi

wait_for_ctrl_c() {
  echo "Provider stays up until Ctrl-C (log: $tmp/idp.log); discovery: $issuer/.well-known/openid-configuration"
  while kill -0 "$idp_pid" 2>/dev/null; do sleep 1; done
}

help_text=""
if [ -n "$bin" ]; then help_text="$("$bin" help 2>&1 || "$bin" --help 2>&1 || true)"; fi
if [ -n "$bin" ] && grep -qw login <<<"$help_text"; then
  echo "Running: $bin --config $config -p tryout login"
  echo
  set +e
  "$bin" --config "$config" -p tryout login
  rc=$?
  set -e
  echo
  echo "latchkey login exited with status $rc."
  if [ -t 0 ]; then
    echo "Try more commands with: $bin --config $config -p tryout ..."
    wait_for_ctrl_c
  fi
  exit "$rc"
fi

if [ -n "$bin" ]; then
  echo "($bin has no 'login' command yet.)"
else
  echo "(No latchkey binary found: set LATCHKEY_BIN or run 'cargo build'.)"
fi
wait_for_ctrl_c
