#!/usr/bin/env bash
# Issue 6's scale targets on this machine: a CA whose store holds ROWS
# certificate rows (default 1 000 000), REVOKED of them revoked and unexpired
# (default 100 000), filled in by mayfly-populate. Measures
#   - daemon start-to-ready (launch of `mayfly-ca serve` to its `ready ` line),
#     once with 2 x REVOKED rows (half revoked) and once with ROWS rows;
#   - a revocation through the admin socket until the command returns (the
#     daemon signs the new CRL before it answers) and until a GET of the CRL,
#     fetched right after, lists the serial;
#   - GET /v1/crl requests/s over one keep-alive connection, that no CRL is
#     signed while serving them, and that If-None-Match answers 304;
#   - `mayfly-ca certs --node N --limit 100` and `--spiffe-id ID --limit 100`
#     wall time, and the daemon's own time for each (its request-latency sum).
# Builds Release into BUILD (default build-rel), runs everything on
# 127.0.0.1 in a temporary directory, and prints figure, value, unit,
# target, met. RUNS (default 5) repeats each timed command; the worst run counts.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/start_ca.sh
BUILD=${BUILD:-build-rel}
ROWS=${ROWS:-1000000}
REVOKED=${REVOKED:-100000}
RUNS=${RUNS:-5}
CRL_REQUESTS=${CRL_REQUESTS:-100}
(( ROWS >= 2 * REVOKED )) || { echo "scale.sh: ROWS must be at least 2 x REVOKED" >&2; exit 2; }

nice -n 19 cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAYFLY_BUILD_TESTS=OFF >/dev/null
nice -n 19 cmake --build "$BUILD" --target mayfly-ca mayfly-populate >/dev/null
CA="$BUILD/daemon/mayfly-ca"
POPULATE="$BUILD/bench/mayfly-populate"

dir=$(mktemp -d)
ca_pid=""
cleanup() {
  if [ -n "$ca_pid" ]; then kill -TERM "$ca_pid" 2>/dev/null || true; wait "$ca_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Microseconds since the epoch, without forking (bash 5).
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }

results=()
# row FIGURE VALUE UNIT TARGET MET
row() { results+=("$(printf '%-58s %10s %-6s %-10s %s' "$1" "$2" "$3" "$4" "$5")"); }
# meets VALUE LIMIT: "yes" when VALUE < LIMIT.
meets() { awk -v v="$1" -v l="$2" 'BEGIN {print (v < l ? "yes" : "no")}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us / 1000}'; }

# Starts the daemon and waits for its ready line; sets ca_pid, api, metrics
# and ready_us (launch to ready line, polled every ~5 ms).
start_daemon() {
  : > "$dir/ca.log"
  local t0
  t0=$(now_us)
  "$CA" serve --config "$dir/ca.toml" > "$dir/ca.log" 2>&1 &
  ca_pid=$!
  until grep -q '^ready ' "$dir/ca.log"; do
    kill -0 "$ca_pid" 2>/dev/null || { cat "$dir/ca.log" >&2; exit 1; }
    sleep 0.005
  done
  ready_us=$(( $(now_us) - t0 ))
  api=$(sed -n 's/^ready api=\([^ ]*\).*/\1/p' "$dir/ca.log")
  metrics=$(sed -n 's/^ready .* metrics=\([^ ]*\).*/\1/p' "$dir/ca.log")
}

stop_daemon() {
  kill -TERM "$ca_pid"
  wait "$ca_pid" || true
  ca_pid=""
}

# metric NAME: its current value on the daemon's /metrics.
metric() { curl -sf "http://$metrics/metrics" | awk -v n="$1" '$1 == n {print $2}'; }

populate() {  # populate COUNT REVOKED
  echo "== mayfly-populate --count $1 --revoked $2" >&2
  "$POPULATE" --state-dir "$dir/ca" --count "$1" --revoked "$2" | tee "$dir/populate.out" >&2
}

write_ca_toml "$dir"
"$CA" init --config "$dir/ca.toml" > /dev/null

# --- Start-to-ready with the revoked rows only, then with all ROWS.
populate $(( 2 * REVOKED )) "$REVOKED"
start_daemon
row "start-to-ready, $(( 2 * REVOKED )) rows, $REVOKED revoked" "$(ms "$ready_us")" ms "< 2000" "$(meets "$ready_us" 2000000)"
stop_daemon
populate $(( ROWS - 2 * REVOKED )) 0
total=$(awk '$1 == "total_rows" {print $2}' "$dir/populate.out")
start_daemon
row "start-to-ready, $total rows, $REVOKED revoked" "$(ms "$ready_us")" ms "< 2000" "$(meets "$ready_us" 2000000)"

# --- Revocation at scale: RUNS valid serials, one revoke each.
mapfile -t serials < <("$CA" certs --config "$dir/ca.toml" --status valid --limit "$RUNS" --json |
  grep -o '"serial":"[0-9a-f]*"' | cut -d'"' -f4)
worst_revoke=0 worst_listed=0
for s in "${serials[@]}"; do
  t0=$(now_us)
  "$CA" revoke --config "$dir/ca.toml" --serial "$s" > /dev/null
  t1=$(now_us)
  curl -sf --cacert "$dir/ca/root.pem" -o "$dir/crl.pem" "https://$api/v1/crl?format=pem"
  t2=$(now_us)
  openssl crl -noout -text -in "$dir/crl.pem" | grep -Eqi "Serial Number: 0*$s\$" ||
    { echo "scale.sh: serial $s is not on the CRL fetched after its revocation" >&2; exit 1; }
  if (( t1 - t0 > worst_revoke )); then worst_revoke=$(( t1 - t0 )); fi
  if (( t2 - t0 > worst_listed )); then worst_listed=$(( t2 - t0 )); fi
done
revoked_now=$(( REVOKED + ${#serials[@]} ))
row "revoke --serial returns (new CRL signed), worst of ${#serials[@]}" "$(ms "$worst_revoke")" ms "< 1000" "$(meets "$worst_revoke" 1000000)"
row "revoke start to CRL (PEM) listing it, worst of ${#serials[@]}" "$(ms "$worst_listed")" ms "< 1000" "$(meets "$worst_listed" 1000000)"

# --- The CRL is served from memory: a keep-alive loop, no signing meanwhile.
crl_bytes=$(curl -sf --cacert "$dir/ca/root.pem" "https://$api/v1/crl" | wc -c)
etag=$(curl -sf --cacert "$dir/ca/root.pem" -D - -o /dev/null "https://$api/v1/crl" | tr -d '\r' |
  awk -F': ' 'tolower($1) == "etag" {print $2}')
signed_before=$(metric mayfly_crl_regenerations_total)
# loop EXTRA_CURL_ARGS...: CRL_REQUESTS GETs on one connection (one curl);
# prints req/s and the status codes seen, as COUNTxCODE[,COUNTxCODE...].
loop() {
  local urls=() t0 codes
  for _ in $(seq "$CRL_REQUESTS"); do urls+=(-o /dev/null "https://$api/v1/crl"); done
  t0=$(now_us)
  codes=$(curl -s --cacert "$dir/ca/root.pem" -w '%{http_code}\n' "$@" "${urls[@]}" |
    sort | uniq -c | awk '{printf "%s%sx%s", sep, $1, $2; sep = ","}')
  awk -v n="$CRL_REQUESTS" -v us="$(( $(now_us) - t0 ))" -v c="$codes" 'BEGIN {printf "%.0f %s\n", n * 1e6 / us, c}'
}
read -r full_rate full_codes < <(loop)
read -r cond_rate cond_codes < <(loop -H "If-None-Match: $etag")
signed_after=$(metric mayfly_crl_regenerations_total)
row "CRL size (DER), $revoked_now entries" "$(( crl_bytes / 1024 ))" KiB "-" "-"
row "GET /v1/crl (DER), 1 keep-alive connection [$full_codes]" "$full_rate" req/s "-" "-"
row "GET /v1/crl If-None-Match: etag [$cond_codes]" "$cond_rate" req/s "304" \
  "$([ "$cond_codes" = "${CRL_REQUESTS}x304" ] && echo yes || echo no)"
row "CRLs signed during the $(( 2 * CRL_REQUESTS )) GETs" "$(( signed_after - signed_before ))" "" "0" \
  "$([ "$signed_after" = "$signed_before" ] && echo yes || echo no)"

# --- Paged listings: a different node / identity each run (not a warm page).
list() {  # list LABEL FLAG NAME_FN: times RUNS `mayfly-ca certs FLAG $(NAME_FN i)` calls
  local label=$1 worst=0 worst_server=0 i t0 t1 s0 s1 server rows
  for i in $(seq "$RUNS"); do
    s0=$(metric mayfly_request_duration_seconds_sum)
    t0=$(now_us)
    "$CA" certs --config "$dir/ca.toml" "$2" "$("$3" "$i")" --limit 100 > "$dir/list.out"
    t1=$(now_us)
    s1=$(metric mayfly_request_duration_seconds_sum)
    rows=$(grep -c '^[0-9a-f]' "$dir/list.out" || true)
    server=$(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.0f", (b - a) * 1e6}')
    if (( t1 - t0 > worst )); then worst=$(( t1 - t0 )); fi
    if (( server > worst_server )); then worst_server=$server; fi
  done
  row "certs $label --limit 100 ($rows rows), worst of $RUNS" "$(ms "$worst")" ms "< 50" "$(meets "$worst" 50000)"
  row "  of which the daemon (request latency), worst" "$(ms "$worst_server")" ms "-" "-"
}
node_name() { printf 'node-%05d' $(( $1 * 1777 % 10000 )); }
id_name() { printf 'spiffe://example.org/svc/%04d' $(( $1 * 277 % 1000 )); }
list "--node NAME" --node node_name
list "--spiffe-id ID" --spiffe-id id_name

stop_daemon
printf '\n%-58s %10s %-6s %-10s %s\n' figure value unit target met
printf '%s\n' "${results[@]}"
