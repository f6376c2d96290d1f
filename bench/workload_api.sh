#!/usr/bin/env bash
# The SPIFFE Workload API under load: a CA and `mayfly-agent run` serving
# the Workload API for 100 identities whose entries select this user
# (unix:uid), then bench/workload_load.cc's workloads calling FetchJWTSVID
# from the agent's cache for DURATION seconds (default 10) on THREADS
# connections (default 4). Prints the load's figures, then the memory
# (RSS) of mayfly-agent and of its mayfly-workload-api process, each
# holding the 100 X.509-SVIDs and the 100 cached JWT-SVIDs, as
# "workload.<key> <value>" lines for bench/run.sh's table.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/start_ca.sh
BUILD=${BUILD:-build-rel}
DURATION=${DURATION:-10}
THREADS=${THREADS:-4}
IDENTITIES=${IDENTITIES:-100}
CA_BIN=$BUILD/daemon/mayfly-ca
AGENT_BIN=$BUILD/agent/mayfly-agent
LOAD_BIN=$BUILD/bench/workload-load
for b in "$CA_BIN" "$AGENT_BIN" "$LOAD_BIN"; do
  [ -x "$b" ] || { echo "build $BUILD first: $b is missing" >&2; exit 2; }
done

dir=$(mktemp -d)
ca_pid="" agent_pid=""
cleanup() {
  kill -TERM $agent_pid $ca_pid 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

entries=$(for i in $(seq 1 "$IDENTITIES"); do
  printf '[[entry]]\nspiffe_id = "spiffe://example.org/bench/wl%d"\nnode = "bench-node"\nttl = "1h"\n' "$i"
  printf 'selectors = ["unix:uid:%d"]\n' "$(id -u)"
done)
write_ca_toml "$dir" "$entries"
start_ca "$CA_BIN" "$dir"
write_join_token "$CA_BIN" "$dir" bench-node
cat > "$dir/agent.toml" <<TOML
server = "https://$api"
ca_fingerprint = "$ca_fingerprint"
join_token_file = "$dir/token"
state_dir = "$dir/agent"
workload_api_socket = "$dir/agent.sock"
refresh = "1m"
TOML
"$AGENT_BIN" run --config "$dir/agent.toml" > "$dir/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 600); do
  [ "$(grep -c 'workload API: issued ' "$dir/agent.log")" -ge "$IDENTITIES" ] && break
  sleep 0.05
done
[ "$(grep -c 'workload API: issued ' "$dir/agent.log")" -ge "$IDENTITIES" ] || { cat "$dir/agent.log" >&2; exit 1; }

"$LOAD_BIN" --socket "$dir/agent.sock" --threads "$THREADS" --duration "$DURATION" | tee "$dir/load.out"

helper_pid=$(pgrep -P "$agent_pid" -f mayfly-workload-api | head -1)
kib() { awk -v k="$2" '$1 == k ":" {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
pick() { awk -v label="$1" 'index($0, label) == 1 {print $(NF - 1); exit}' "$dir/load.out"; }
echo "workload.calls $(pick throughput)"
echo "workload.p99 $(pick 'latency p99')"
echo "workload.failures $(awk '/^errors/ {e = $2} /^not verifying/ {b = $3} END {print e + b}' "$dir/load.out")"
echo "workload.agent_rss $(mib "$(kib "$agent_pid" VmRSS)")"
echo "workload.agent_anon $(mib "$(kib "$agent_pid" RssAnon)")"
echo "workload.agent_pss $(mib "$(pss "$agent_pid")")"
echo "workload.api_rss $(mib "$(kib "$helper_pid" VmRSS)")"
echo "workload.api_anon $(mib "$(kib "$helper_pid" RssAnon)")"
echo "workload.api_pss $(mib "$(pss "$helper_pid")")"
