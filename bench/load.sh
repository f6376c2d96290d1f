#!/usr/bin/env bash
# A CA on this machine under mayfly-load: keep-alive and new-connection
# mTLS /v1/sign, then /v1/renew. Builds Release into BUILD (default
# build-rel) unless it is there, runs the daemon in a temporary directory on
# 127.0.0.1, and prints mayfly-load's figures for each case.
# CONNECTIONS (default 64) and DURATION (seconds, default 10) tune the load.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/start_ca.sh
BUILD=${BUILD:-build-rel}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-10}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAYFLY_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target mayfly-ca mayfly-load issuance_bench >/dev/null

# The limit measured in this run: in-process issuance (CSR check + sign, no
# store) on both cores, which issue 6 compares /v1/sign over keep-alive with.
bare=$("$BUILD/bench/issuance_bench" --benchmark_filter='BM_IssuanceWithoutCommit|BM_BareSignVerify' 2>/dev/null |
  awk '/^issuance without the store, 2 threads/ {for (i = 1; i <= NF; i++) if ($i == "certs/s") print $(i - 1)}')

dir=$(mktemp -d)
ca_pid=""
cleanup() {
  [ -n "$ca_pid" ] && kill -TERM "$ca_pid" 2>/dev/null && wait "$ca_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

cat > "$dir/ca.toml" <<TOML
trust_domain = "example.org"
state_dir = "$dir/ca"
listen = "127.0.0.1:0"
metrics_listen = "127.0.0.1:0"
admin_socket = "$dir/admin.sock"
server_names = ["127.0.0.1"]
[ca]
key_passphrase_file = "$dir/pass"
[limits]
sign_per_node_per_minute = 1000000
enroll_per_ip_per_minute = 1000000
[[entry]]
spiffe_id = "spiffe://example.org/load"
node = "load-*"
TOML
start_ca "$BUILD/daemon/mayfly-ca" "$dir"

run() {  # run <mode> <route> <node prefix>
  echo "== $1 $2"
  "$BUILD/bench/mayfly-load" --server "https://$api" --admin-socket "$dir/admin.sock" --ca-bundle "$dir/ca/root.pem" \
    --connections "$CONNECTIONS" --duration "$DURATION" --mode "$1" --route "$2" --node-prefix "$3" | tee "$dir/$1-$2.out"
}
run keepalive sign load-ka-
run new-connection sign load-nc-
run keepalive renew load-rn-

rate=$(awk '/^throughput/ {print $2}' "$dir/keepalive-sign.out")
printf '\n%-44s %10.0f/s\n' "in-process issuance, 2 threads (this run)" "$bare"
printf '%-44s %10.0f/s  %5.1f%% of it (issue 6 target: 50%%)\n' "/v1/sign keep-alive over mTLS" "$rate" \
  "$(awk -v a="$rate" -v b="$bare" 'BEGIN {print (b > 0 ? 100 * a / b : 0)}')"
