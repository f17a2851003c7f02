# Sourced by the benchmarks: the binary to measure, an isolated HOME under $work, and the test
# provider (tests/idp) started for real logins. Sets BIN, work and issuer; the caller's EXIT
# trap runs `bench_cleanup`.

if [ -z "${LATCHKEY_BIN:-}" ]; then
  cargo build --release --locked --target x86_64-unknown-linux-musl >&2
  LATCHKEY_BIN=target/x86_64-unknown-linux-musl/release/latchkey
fi
BIN=$(realpath "$LATCHKEY_BIN")
[ -d tests/idp/node_modules/oidc-provider ] || npm ci --prefix tests/idp --no-audit --no-fund >&2

work=$(mktemp -d)
bench_pids=()
bench_cleanup() {
  [ ${#bench_pids[@]} -gt 0 ] && kill "${bench_pids[@]}" 2>/dev/null
  rm -rf "$work"
}

mkfifo "$work/ready"
node tests/idp/server.js > "$work/ready" 2>/dev/null &
bench_pids+=($!)
read -r ready < "$work/ready"
issuer=$(sed -E 's/.*"issuer":"([^"]+)".*/\1/' <<<"$ready")

export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_DATA_HOME="$work/home/.local/share"
mkdir -p "$XDG_CONFIG_HOME/latchkey"

# One profile for the provider, with `extra` lines: `bench_profile NAME [EXTRA...]`.
bench_profile() {
  local name=$1
  shift
  echo "[profiles.$name]"
  echo "issuer = \"$issuer\""
  echo 'client_id = "latchkey-test"'
  echo "paste_redirect_uri = \"$issuer/show-code\""
  printf '%s\n' "$@"
}
