#!/usr/bin/env bash
# Benchmarks `latchkey token` through a local `latchkey agent` against the same command reading
# the token file itself (`--no-agent`) and against process start alone (`--version`, the
# floor): one hyperfine run of the three, then the same three interleaved run by run (a
# process that wakes the agent after others ran, as a script's occasional call does, and
# immune to the machine's speed drifting between hyperfine's phases). Prints the medians and
# each one's ratio to the floor; nothing is asserted (timing belongs in benchmarks).
#
#   benches/agent.sh                 # builds the static musl release binary first
#   LATCHKEY_BIN=path benches/agent.sh
#   RUNS=2000 benches/agent.sh       # runs of each (default 1000)
#
# Needs: hyperfine, node (tests/idp, started here for one real login), python3.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine node python3; do
  command -v "$tool" >/dev/null || { echo "benches/agent.sh: $tool is required (apt-get install hyperfine nodejs python3)" >&2; exit 1; }
done
RUNS=${RUNS:-1000}
. benches/world.sh
trap bench_cleanup EXIT
{
  echo 'default_profile = "bench"'
  bench_profile bench
} > "$XDG_CONFIG_HOME/latchkey/profiles.toml"
tests/idp/login.sh "$BIN" bench

export LATCHKEY_AGENT_SOCK="$work/agent.sock"
"$BIN" agent 2>/dev/null &
bench_pids+=($!)
for _ in $(seq 200); do [ -S "$LATCHKEY_AGENT_SOCK" ] && break; sleep 0.05; done
"$BIN" token >/dev/null

echo "latchkey token through a local agent — $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "binary: $BIN ($(stat -c %s "$BIN") bytes)"
hyperfine -N --warmup 100 --runs "$RUNS" --export-json "$work/h.json" \
  -n "floor: latchkey --version" "$BIN --version" \
  -n "direct: latchkey token --no-agent" "$BIN token --no-agent" \
  -n "agent: latchkey token" "$BIN token" >/dev/null
python3 - "$work/h.json" "$RUNS" "$BIN" <<'PY'
import json, os, statistics, sys, time
rows = json.load(open(sys.argv[1]))["results"]
floor = rows[0]["median"]
print(f"\nhyperfine, {sys.argv[2]} runs each:")
for r in rows:
    print(f"  {r['command']:<36} median {r['median'] * 1e3:.3f} ms  ({r['median'] / floor:.2f}x the floor)")
binary, runs = sys.argv[3], int(sys.argv[2])
commands = [[binary, "--version"], [binary, "token", "--no-agent"], [binary, "token"]]
devnull = os.open(os.devnull, os.O_WRONLY)
times = [[] for _ in commands]
for round_ in range(runs + 50):
    for at, argv in enumerate(commands):
        started = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, dict(os.environ),
                             file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
        os.waitpid(pid, 0)
        if round_ >= 50:
            times[at].append(time.perf_counter_ns() - started)
medians = [statistics.median(t) for t in times]
print(f"interleaved, {runs} rounds (spawn and wait from Python included in each):")
for row, median in zip(rows, medians):
    print(f"  {row['command']:<36} median {median / 1e6:.3f} ms  ({median / medians[0]:.2f}x the floor)")
PY
