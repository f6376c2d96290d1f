#!/usr/bin/env bash
# What anomaly detection costs on the hot path: keep-alive /v1/sign
# throughput with the detector on (the default [anomaly]) and off
# ([anomaly] enabled = false), in the same run. The two daemons take turns,
# ROUNDS rounds each (off, on, off, on, ...), so drift in the machine's load
# falls on both; each one's median round is compared. On a busy machine
# that difference drowns in noise, so the detector's check is also timed
# alone (anomaly_bench: OnIssue, 2 threads) and given as a share of each
# request's CPU (nproc / throughput seconds). Each run's output
# first, then "anomaly.<figure> <value> <unit>" lines for bench/run.sh's
# table. Every process it starts is stopped on exit.
#   BUILD (build-rel), CONNECTIONS (64), DURATION (10), ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/start_ca.sh
BUILD=${BUILD:-build-rel}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAYFLY_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target mayfly-ca mayfly-load anomaly_bench >/dev/null

dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

# Two CAs, identical but for [anomaly]; both run throughout, one is loaded at a time.
limits='[limits]
sign_per_node_per_minute = 1000000
enroll_per_ip_per_minute = 1000000
max_connections_per_ip = 4096
[[entry]]
spiffe_id = "spiffe://example.org/load"
node = "load-*"'
declare -A apis
for variant in off on; do
  mkdir -p "$dir/$variant"
  extra=$limits
  [ "$variant" = off ] && extra="$limits
[anomaly]
enabled = false"
  write_ca_toml "$dir/$variant" "$extra"
  start_ca "$BUILD/daemon/mayfly-ca" "$dir/$variant"
  pids+=("$ca_pid")
  apis[$variant]=$api
done

for round in $(seq 1 "$ROUNDS"); do
  for variant in off on; do
    echo "== anomaly detection $variant, round $round"
    "$BUILD/bench/mayfly-load" --server "https://${apis[$variant]}" --admin-socket "$dir/$variant/admin.sock" \
      --ca-bundle "$dir/$variant/ca/root.pem" --duration "$DURATION" --connections "$CONNECTIONS" \
      --mode keepalive --route sign --node-prefix "load-$round-" | tee "$dir/$variant.$round.out"
  done
done

median() {  # median VARIANT: the median round's throughput
  for round in $(seq 1 "$ROUNDS"); do awk '/^throughput/ {print $2}' "$dir/$1.$round.out"; done |
    sort -n | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}
off=$(median off)
on=$(median on)
raised=$(grep -c 'audit type=anomaly' "$dir/on/ca.log" || true)
echo "anomaly.keepalive_off $off req/s"
echo "anomaly.keepalive_on $on req/s"
echo "anomaly.cost $(awk -v a="$off" -v b="$on" 'BEGIN {printf "%.1f", (a > 0 ? 100 * (a - b) / a : 0)}') %"
echo "anomaly.raised $raised anomalies"
"$BUILD/bench/anomaly_bench" --benchmark_filter='threads:2' | tee "$dir/check.out"
check_ns=$(awk '/^BM_OnIssue/ {print $(NF - 2)}' "$dir/check.out")
echo "anomaly.check_cpu $check_ns ns"
echo "anomaly.check_share $(awk -v c="$check_ns" -v r="$on" -v n="$(nproc)" 'BEGIN {printf "%.3f", 100 * c * r / (n * 1e9)}') %"
