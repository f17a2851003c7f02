#!/usr/bin/env bash
# Logs a latchkey binary in to a tests/idp provider by pasting, as scripts outside the Rust test
# suite need (benches/token.sh, .ci/release-checks): starts `BIN -p PROFILE login --no-loopback
# --no-browser`, completes the provider's pages with browser.js, pastes the redirect URL.
#
#   tests/idp/login.sh BIN PROFILE        (HOME / XDG_* / LATCHKEY_* as the caller set them)
set -euo pipefail
bin=$1 profile=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkfifo "$work/in"
"$bin" -p "$profile" login --no-loopback --no-browser < "$work/in" 2> "$work/err" &
pid=$!
exec 3> "$work/in"
url=""
for _ in $(seq 300); do
  url=$(grep -m1 -E '^https?://[^ ]*/auth\?' "$work/err" || true)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
[ -n "$url" ] || { echo "login.sh: latchkey printed no authorize URL:" >&2; cat "$work/err" >&2; exit 1; }
node "$here/browser.js" login "$url" --print >&3
exec 3>&-
wait "$pid" || { echo "login.sh: latchkey login failed:" >&2; cat "$work/err" >&2; exit 1; }
grep '^timing:' "$work/err" >&2 || true   # LATCHKEY_TIMING's line, for benches/token.sh
