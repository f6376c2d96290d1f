#!/usr/bin/env bash
# Mayfly on PostgreSQL: two `mayfly-ca serve` instances (A and B) on one
# database of a throw-away PostgreSQL 15 cluster (scripts/pg-test-cluster.sh,
# fsync off), everything on 127.0.0.1 and on the cores the SQLite cases use.
#   - /v1/sign keep-alive, CONNECTIONS conns, DURATION s, against A alone;
#   - the same load split over A and B: two mayfly-load processes, half the
#     connections each, clocks started together, throughputs summed;
#   - the renewal storm, STORM nodes, half through each instance;
#   - from `mayfly-ca revoke --serial S` on A to S in the CRL B serves
#     (GET /v1/crl polled every 20 ms).
# Each program's output first, then "pg.<figure> <value> <unit>" lines, which
# bench/run.sh puts in its table. About two minutes with the defaults; every
# process it starts, and the cluster, are stopped on exit.
#   BUILD (build-rel), CONNECTIONS (64), DURATION (10), STORM (10000).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/start_ca.sh
BUILD=${BUILD:-build-rel}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-10}
STORM=${STORM:-10000}
CA=$BUILD/daemon/mayfly-ca
LOAD=$BUILD/bench/mayfly-load
if [ ! -x "$CA" ] || [ ! -x "$LOAD" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAYFLY_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" --target mayfly-ca mayfly-load >/dev/null
fi

dir=$(mktemp -d)
# Its own cluster, never the test suite's; under /tmp so that the
# `postgres` user it runs as can reach it.
pgdir=$(mktemp -u /tmp/mayfly-bench-pg.XXXXXX)
pids=()  # the two instances
ca_pid="" load_a="" load_b=""
cleanup() {
  local p
  for p in "${pids[@]}" $ca_pid $load_a $load_b; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  MAYFLY_PG_TEST_DIR=$pgdir scripts/pg-test-cluster.sh stop 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

echo "== PostgreSQL: a throw-away cluster, two instances on one database"
MAYFLY_PG_TEST_DIR=$pgdir scripts/pg-test-cluster.sh start >/dev/null
. "$pgdir/env"
# Both instances: the same [store] and passphrase file contents, their own
# state directory, admin socket and ports.
config='[limits]
sign_per_node_per_minute = 1000000
enroll_per_ip_per_minute = 1000000
max_connections_per_ip = 4096
[store]
backend = "postgresql"
url = "'$MAYFLY_TEST_PG_URL'"
password_file = "'$MAYFLY_TEST_PG_PASSWORD_FILE'"
[[entry]]
spiffe_id = "spiffe://example.org/load"
node = "load-*"'
mkdir "$dir/a" "$dir/b"
write_ca_toml "$dir/a" "$config"
start_ca "$CA" "$dir/a"  # init makes the CA and the passphrase
pids+=("$ca_pid")
a_api=$api
cp -p "$dir/a/pass" "$dir/b/pass"
write_ca_toml "$dir/b" "$config"
start_ca "$CA" "$dir/b"  # init finds the CA: a no-op
pids+=("$ca_pid")
b_api=$api
ca_pid=""
root=$dir/a/ca/root.pem

# load NAME INSTANCE ARGS...: mayfly-load against instance a or b, output in
# $dir/NAME.out; in the background when START (a file) is set, waiting for it.
load() {
  local name=$1 instance=$2 api_var=${2}_api
  shift 2
  "$LOAD" --server "https://${!api_var}" --admin-socket "$dir/$instance/admin.sock" --ca-bundle "$root" \
    --duration "$DURATION" --node-prefix "load-pg$name-" ${START:+--start-file "$START"} "$@" > "$dir/$name.out"
}
# pair NAME ARGS...: the same load through A and B at once, each preparing
# (enrolling, connecting) at its own pace, then both clocks started together.
# Failures are reported in the figures, not fatal.
pair() {
  local name=$1
  shift
  START=$dir/start-$name load "$name-a" a "$@" & load_a=$!
  START=$dir/start-$name load "$name-b" b "$@" & load_b=$!
  for _ in $(seq 1 6000); do
    grep -q '^ready; waiting' "$dir/$name-a.out" && grep -q '^ready; waiting' "$dir/$name-b.out" && break
    kill -0 "$load_a" 2>/dev/null && kill -0 "$load_b" 2>/dev/null || break
    sleep 0.05
  done
  touch "$dir/start-$name"
  wait "$load_a" || echo "mayfly-load through A failed" >&2
  load_a=""
  wait "$load_b" || echo "mayfly-load through B failed" >&2
  load_b=""
  cat "$dir/$name-a.out" "$dir/$name-b.out"
}
field() {  # field NAME KEY: the last number on the line of $dir/NAME.out starting with KEY ("" when absent)
  awk -v k="$2" 'index($0, k) == 1 {for (i = NF; i > 0; i--) if ($i ~ /^[0-9.]+$/) {print $i; exit}}' "$dir/$1.out"
}

echo "== /v1/sign keep-alive, $CONNECTIONS conns, one instance"
load one a --connections "$CONNECTIONS" --mode keepalive --route sign || echo "mayfly-load failed" >&2
cat "$dir/one.out"

echo "== /v1/sign keep-alive, $CONNECTIONS conns split over two instances"
pair two --connections $((CONNECTIONS / 2)) --mode keepalive --route sign

echo "== renewal storm, $STORM nodes, half through each instance"
pair storm --connections $((CONNECTIONS / 2)) --mode storm --nodes $((STORM / 2))

echo "== revocation on A until B's CRL lists it"
# A node enrolled at A (token from A's admin CLI), one certificate signed.
openssl ecparam -genkey -name prime256v1 -noout -out "$dir/node.key"
openssl req -new -key "$dir/node.key" -subj / -out "$dir/node.csr"
openssl req -new -key "$dir/node.key" -subj / -addext subjectAltName=URI:spiffe://example.org/load \
  -out "$dir/leaf.csr"
token=$("$CA" --config "$dir/a/ca.toml" --json token create --node load-pgrevoke | jq -r .token)
jq -n --arg token "$token" --rawfile csr "$dir/node.csr" '{token: $token, csr: $csr}' > "$dir/enroll.json"
curl -sf --cacert "$root" --data @"$dir/enroll.json" "https://$a_api/v1/enroll" |
  jq -r '.certificate + .chain' > "$dir/node.pem"
jq -n --rawfile csr "$dir/leaf.csr" '{csr: $csr}' > "$dir/sign.json"
serial=$(curl -sf --cacert "$root" --cert "$dir/node.pem" --key "$dir/node.key" --data @"$dir/sign.json" \
  "https://$b_api/v1/sign" | jq -r .serial)
crl_lists() {  # crl_lists SERIAL: B's CRL, fetched now, lists it
  curl -sf --cacert "$root" -o "$dir/b.crl" "https://$b_api/v1/crl" &&
    openssl crl -inform DER -noout -text -in "$dir/b.crl" | grep -Eqi "Serial Number: 0*$1\$"
}
crl_lists "$serial" && { echo "B's CRL lists $serial before it is revoked" >&2; exit 1; }
t0=$(date +%s%N)
"$CA" --config "$dir/a/ca.toml" revoke --serial "$serial" > /dev/null
t_returned=$(date +%s%N)
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", (b - a) / 1e6}'; }
listed=timeout
for _ in $(seq 1 500); do  # 10 s at most
  if crl_lists "$serial"; then listed=$(ms "$t0" "$(date +%s%N)"); break; fi
  sleep 0.02
done
echo "serial $serial: revoke on A returned after $(ms "$t0" "$t_returned") ms, B's CRL lists it after $listed ms"

# Of the two processes' figures; "-" when either has none (it failed).
max() { awk -v a="$1" -v b="$2" 'BEGIN {print (a == "" || b == "") ? "-" : (a + 0 > b + 0) ? a : b}'; }
sum() { awk -v a="$1" -v b="$2" 'BEGIN {print (a == "" || b == "") ? "-" : a + b}'; }
echo "== PostgreSQL figures"
echo "pg.sign_one $(field one throughput) req/s"
echo "pg.sign_one_p99 $(field one 'latency p99 ') ms"
echo "pg.sign_two $(sum "$(field two-a throughput)" "$(field two-b throughput)") req/s"
echo "pg.sign_two_p99 $(max "$(field two-a 'latency p99 ')" "$(field two-b 'latency p99 ')") ms"
echo "pg.storm $(max "$(field storm-a 'renewal storm')" "$(field storm-b 'renewal storm')") s"
echo "pg.storm_max $(max "$(field storm-a 'latency max ')" "$(field storm-b 'latency max ')") ms"
echo "pg.storm_errors $(sum "$(field storm-a errors)" "$(field storm-b errors)")"
echo "pg.storm_certs $(sum "$(field storm-a certificates)" "$(field storm-b certificates)")"
echo "pg.revoke_returns $(ms "$t0" "$t_returned") ms"
echo "pg.revoke_to_other_crl $listed ms"
