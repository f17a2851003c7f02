#!/usr/bin/env bash
# Benchmarks the hot path: `latchkey token` with a valid cached token (default key, and
# passphrase mode at several scrypt work factors), plus startup (`--help`, `profiles`).
# Figures are printed as a table; nothing is asserted (timing belongs in benchmarks, not tests).
#
#   benches/token.sh                 # builds the static musl release binary first
#   LATCHKEY_BIN=path benches/token.sh
#
# Needs: hyperfine, GNU time (/usr/bin/time), node (for tests/idp, which the script starts to log
# in for real), python3, and GitHub's gh as the peer to compare with. On Debian:
# apt-get install hyperfine time nodejs python3 gh.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine /usr/bin/time node python3 gh; do
  command -v "$tool" >/dev/null || { echo "benches/token.sh: $tool is required (apt-get install hyperfine time nodejs python3 gh)" >&2; exit 1; }
done
. benches/world.sh
trap bench_cleanup EXIT

# One profile per key mode, each logged in for real.
{
  echo 'default_profile = "bench"'
  bench_profile bench
  for n in 10 14 16 18; do
    bench_profile "pass$n" "use_passphrase = true" "scrypt_work_factor = $n"
  done
} > "$XDG_CONFIG_HOME/latchkey/profiles.toml"
export LATCHKEY_PASSPHRASE="benchmark passphrase"

for p in bench pass10 pass14 pass16 pass18; do tests/idp/login.sh "$BIN" "$p"; done
"$BIN" token >/dev/null  # a valid token is there

echo
echo "latchkey token benchmarks — $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "binary: $BIN ($(stat -c %s "$BIN") bytes)"
echo
# The peer: gh serving a token from its config file, as latchkey serves one from its store.
export GH_CONFIG_DIR="$work/gh"
mkdir -p "$GH_CONFIG_DIR"
printf 'github.com:\n    oauth_token: gho_%036d\n    user: bench\n    git_protocol: https\n' 0 > "$GH_CONFIG_DIR/hosts.yml"
gh auth token >/dev/null

hyperfine -N --warmup 20 --min-runs 300 --export-json "$work/hot.json" \
  -n "latchkey token" "$BIN token" \
  -n "gh auth token" "gh auth token" \
  -n "latchkey --help" "$BIN --help" \
  -n "latchkey profiles" "$BIN profiles" >/dev/null
hyperfine -N --warmup 2 --min-runs 10 --export-json "$work/pass.json" \
  -n "token, passphrase log2 N=10" "$BIN -p pass10 token" \
  -n "token, passphrase log2 N=14" "$BIN -p pass14 token" \
  -n "token, passphrase log2 N=16" "$BIN -p pass16 token" \
  -n "token, passphrase log2 N=18" "$BIN -p pass18 token" >/dev/null
# A table with the median, which the budget (<= 2 ms for `token`) is stated in.
table() {
  python3 - "$1" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
print("| command | median [ms] | mean ± σ [ms] | min [ms] |")
print("|:---|---:|---:|---:|")
for r in rows:
    ms = lambda v: f"{v * 1000:.2f}"
    print(f"| `{r['command']}` | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['min'])} |")
PY
}
table "$work/hot.json"
echo
table "$work/pass.json"
echo
rss=$(/usr/bin/time -f %M "$BIN" token 2>&1 >/dev/null | tail -1)
echo "peak RSS of latchkey token: ${rss} KiB"

# Login client overhead: latchkey's own work from the response's arrival to the token file in
# place, less the time waiting on the provider (LATCHKEY_TIMING prints both), over 20 logins.
for _ in $(seq 20); do
  LATCHKEY_TIMING=1 tests/idp/login.sh "$BIN" bench 2>&1 | sed -n 's/.*, \([0-9.]*\) ms latchkey.s own work/\1/p'
done > "$work/login.txt"
python3 - "$work/login.txt" <<'PY'
import statistics, sys
values = [float(v) for v in open(sys.argv[1]).read().split()]
print(f"login client overhead (callback/paste to token file in place, less the provider's time), "
      f"{len(values)} logins: median {statistics.median(values):.2f} ms, max {max(values):.2f} ms")
PY
