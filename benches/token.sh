#!/usr/bin/env bash
# Benchmarks the hot path: `latchkey token` with a valid cached token (default key, and
# passphrase mode at several scrypt work factors), plus startup (`--help`, `profiles`).
# Figures are printed as a table; nothing is asserted (timing belongs in benchmarks, not tests).
#
#   benches/token.sh                 # builds the static musl release binary first
#   LATCHKEY_BIN=path benches/token.sh
#
# Needs: hyperfine, GNU time (/usr/bin/time), node (for tests/idp, which the script starts to log
# in for real once). On Debian: apt-get install hyperfine time nodejs.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine /usr/bin/time node; do
  command -v "$tool" >/dev/null || { echo "benches/token.sh: $tool is required (apt-get install hyperfine time nodejs)" >&2; exit 1; }
done
if [ -z "${LATCHKEY_BIN:-}" ]; then
  cargo build --release --locked --target x86_64-unknown-linux-musl >&2
  LATCHKEY_BIN=target/x86_64-unknown-linux-musl/release/latchkey
fi
BIN=$(realpath "$LATCHKEY_BIN")
[ -d tests/idp/node_modules/oidc-provider ] || npm ci --prefix tests/idp --no-audit --no-fund >&2

work=$(mktemp -d)
idp_pid=
cleanup() { [ -n "$idp_pid" ] && kill "$idp_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The provider, for one real login per key mode.
mkfifo "$work/ready"
node tests/idp/server.js > "$work/ready" 2>/dev/null &
idp_pid=$!
read -r ready < "$work/ready"
issuer=$(sed -E 's/.*"issuer":"([^"]+)".*/\1/' <<<"$ready")

export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_DATA_HOME="$work/home/.local/share"
mkdir -p "$XDG_CONFIG_HOME/latchkey"
{
  echo 'default_profile = "bench"'
  for p in bench pass10 pass14 pass16 pass18; do
    echo "[profiles.$p]"
    echo "issuer = \"$issuer\""
    echo 'client_id = "latchkey-test"'
    echo "paste_redirect_uri = \"$issuer/show-code\""
    case $p in pass*) echo "use_passphrase = true"; echo "scrypt_work_factor = ${p#pass}";; esac
  done
} > "$XDG_CONFIG_HOME/latchkey/profiles.toml"
export LATCHKEY_PASSPHRASE="benchmark passphrase"

login() {
  local profile=$1 url redirect line
  coproc LOGIN { "$BIN" -p "$profile" login --no-loopback --no-browser 2>&1; }
  while IFS= read -r line <&"${LOGIN[0]}"; do
    case $line in "$issuer/auth?"*) url=$line; break ;; esac
  done
  redirect=$(node tests/idp/browser.js login "$url" --print)
  echo "$redirect" >&"${LOGIN[1]}"
  cat <&"${LOGIN[0]}" >/dev/null
  wait "$LOGIN_PID"
}
for p in bench pass10 pass14 pass16 pass18; do login "$p"; done
"$BIN" token >/dev/null  # a valid token is there

echo
echo "latchkey token benchmarks — $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "binary: $BIN ($(stat -c %s "$BIN") bytes)"
echo
hyperfine -N --warmup 20 --min-runs 200 --export-markdown "$work/hot.md" \
  -n "latchkey token" "$BIN token" \
  -n "latchkey --help" "$BIN --help" \
  -n "latchkey profiles" "$BIN profiles" >/dev/null
hyperfine -N --warmup 2 --min-runs 10 --export-markdown "$work/pass.md" \
  -n "token, passphrase log2 N=10" "$BIN -p pass10 token" \
  -n "token, passphrase log2 N=14" "$BIN -p pass14 token" \
  -n "token, passphrase log2 N=16" "$BIN -p pass16 token" \
  -n "token, passphrase log2 N=18" "$BIN -p pass18 token" >/dev/null
cat "$work/hot.md"
echo
cat "$work/pass.md"
echo
rss=$(/usr/bin/time -f %M "$BIN" token 2>&1 >/dev/null | tail -1)
echo "peak RSS of latchkey token: ${rss} KiB"
