#!/usr/bin/env bash
# An idle mayfly-agent with 10 workloads: its memory (RSS) and what it does
# while nothing is due. Starts a CA and an agent from BUILD (default
# build-release) in a temporary directory, waits until all 10 certificates
# are written, then watches the agent for WINDOW seconds (default 60).
# Prints: RSS, peak RSS, CPU seconds used in the window, wake-ups (context
# switches) in the window, and the refresh interval they are explained by.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/start_ca.sh
BUILD=${BUILD:-build-release}
WINDOW=${WINDOW:-60}
REFRESH=${REFRESH:-30s}
CA_BIN=$BUILD/daemon/mayfly-ca
AGENT_BIN=$BUILD/agent/mayfly-agent
[ -x "$CA_BIN" ] && [ -x "$AGENT_BIN" ] || { echo "build $BUILD first (cmake --build $BUILD)" >&2; exit 2; }

dir=$(mktemp -d)
ca_pid="" agent_pid=""
cleanup() {
  kill -TERM $agent_pid $ca_pid 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

{
  echo "trust_domain = \"example.org\""
  echo "state_dir = \"$dir/ca\""
  echo "listen = \"127.0.0.1:0\""
  echo "metrics_listen = \"127.0.0.1:0\""
  echo "admin_socket = \"$dir/admin.sock\""
  echo "server_names = [\"127.0.0.1\"]"
  echo "[ca]"
  echo "key_passphrase_file = \"$dir/pass\""
  for i in $(seq 0 9); do
    printf '[[entry]]\nspiffe_id = "spiffe://example.org/bench/w%d"\nnode = "bench-node"\nttl = "1h"\n' "$i"
  done
} > "$dir/ca.toml"
start_ca "$CA_BIN" "$dir"
write_join_token "$CA_BIN" "$dir" bench-node
{
  echo "server = \"https://$api\""
  echo "ca_fingerprint = \"$ca_fingerprint\""
  echo "join_token_file = \"$dir/token\""
  echo "state_dir = \"$dir/agent\""
  echo "crl_path = \"$dir/out/crl.pem\""
  echo "bundle_path = \"$dir/out/bundle.pem\""
  echo "refresh = \"$REFRESH\""
  for i in $(seq 0 9); do
    printf '[[workload]]\nspiffe_id = "spiffe://example.org/bench/w%d"\nttl = "1h"\ncert = "%s"\nkey = "%s"\n' \
      "$i" "$dir/out/w$i.pem" "$dir/out/w$i.key"
  done
} > "$dir/agent.toml"
mkdir -p "$dir/out"
"$AGENT_BIN" run --config "$dir/agent.toml" > "$dir/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 400); do
  [ "$(ls "$dir"/out/w*.pem 2>/dev/null | wc -l)" -eq 10 ] && [ -f "$dir/out/crl.pem" ] && break
  sleep 0.05
done
[ "$(ls "$dir"/out/w*.pem 2>/dev/null | wc -l)" -eq 10 ] || { cat "$dir/agent.log" >&2; exit 1; }
# The status file is written at the end of a pass: the first pass is over.
for _ in $(seq 1 400); do [ -f "$dir/agent/status.json" ] && break; sleep 0.05; done

ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$agent_pid/stat"; }  # its own CPU and its reaped pass processes
switches() { awk '/ctxt_switches/ {s += $2} END {print s}' /proc/$agent_pid/task/*/status; }
hz=$(getconf CLK_TCK)
t0=$(ticks) s0=$(switches)
sleep "$WINDOW"
t1=$(ticks) s1=$(switches)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent_pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$agent_pid/status")
anon=$(awk '/RssAnon/ {print $2}' "/proc/$agent_pid/status")
file=$(awk '/RssFile/ {print $2}' "/proc/$agent_pid/status")
threads=$(ls /proc/$agent_pid/task | wc -l)
# PSS divides each shared page among the processes mapping it (here the CA
# daemon maps the same libraries); the biggest file mappings say which.
pss=$(awk '/^Pss:/ {print $2}' "/proc/$agent_pid/smaps_rollup")
biggest=$(awk '/^[0-9a-f]+-[0-9a-f]+ / {file = $6} /^Rss:/ {if (file != "") rss[file] += $2}
  END {for (f in rss) printf "%d %s\n", rss[f], f}' "/proc/$agent_pid/smaps" | sort -rn | head -4 |
  awk '{n = split($2, p, "/"); printf "%s%s %.1f", (NR > 1 ? ", " : ""), p[n], $1 / 1024}')
printf '%-34s %10s %-8s %s\n' figure value unit limit
printf '%-34s %10.1f %-8s %s\n' "agent RSS (10 workloads, idle)" "$(awk -v k="$rss" 'BEGIN {print k / 1024}')" MiB "8 MiB (issue 6)"
printf '%-34s %10.1f %-8s %s\n' "  of which heap and stacks" "$(awk -v k="$anon" 'BEGIN {print k / 1024}')" MiB "RssAnon"
printf '%-34s %10.1f %-8s %s\n' "  of which mapped files" "$(awk -v k="$file" 'BEGIN {print k / 1024}')" MiB "RssFile: shared libraries, shared with other processes"
printf '%-34s %10s %-8s %s\n' "  largest file mappings (MiB)" "" "" "$biggest"
printf '%-34s %10.1f %-8s %s\n' "agent PSS" "$(awk -v k="$pss" 'BEGIN {print k / 1024}')" MiB "shared pages divided among the processes mapping them"
printf '%-34s %10.1f %-8s\n' "agent peak RSS" "$(awk -v k="$hwm" 'BEGIN {print k / 1024}')" MiB
printf '%-34s %10.3f %-8s %s\n' "agent CPU over ${WINDOW}s idle" "$(awk -v t="$((t1 - t0))" -v hz="$hz" 'BEGIN {print t / hz}')" s "~0"
printf '%-34s %10d %-8s %s\n' "agent wake-ups over ${WINDOW}s" "$((s1 - s0))" switches "refresh every $REFRESH, $threads thread(s)"
