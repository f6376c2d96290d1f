#!/usr/bin/env bash
# The peer CA: Debian's `cfssl serve` (golang-cfssl) with mutual TLS on
# 127.0.0.1, driven by the same mayfly-load as Mayfly's rows: the same
# connections, duration and CSR load (fresh P-256 keys, one URI SAN), every
# certificate it returns verified after the clock stops.
#   - keep-alive: CONNECTIONS connections, each posting /api/v1/cfssl/sign;
#   - new connection per request: the same, a new mutual TLS handshake each.
# cfssl gets the same shape of PKI as a Mayfly CA, made here with openssl:
# a P-256 root, an intermediate that signs (TLS 1.3, client chains verified
# to the root), a server certificate for 127.0.0.1 and one client
# certificate every connection presents with its intermediate (cfssl has no
# enrollment). Each run's output first, with cfssl's CPU time per
# certificate, then "cfssl.<figure> <value> <unit>" lines for bench/run.sh's
# table. Every process it starts is stopped on exit.
#   BUILD (build-rel), CONNECTIONS (64), DURATION (10).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/start_ca.sh  # cpu_ticks_of, cpu_ms_per_answer
BUILD=${BUILD:-build-rel}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-10}
LOAD=$BUILD/bench/mayfly-load
command -v cfssl >/dev/null || { echo "cfssl.sh: cfssl is not installed (scripts/install-deps.sh installs golang-cfssl)" >&2; exit 1; }
if [ ! -x "$LOAD" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAYFLY_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" --target mayfly-load >/dev/null
fi

dir=$(mktemp -d)
cfssl_pid=""
cleanup() {
  [ -n "$cfssl_pid" ] && kill -TERM "$cfssl_pid" 2>/dev/null && wait "$cfssl_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# issue NAME SUBJECT SIGNER EXTENSIONS: NAME.key (P-256) and NAME.pem, signed
# by SIGNER's key (itself when SIGNER is "self").
issue() {
  local name=$1 subject=$2 signer=$3 ext=$4
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name.key" 2>/dev/null
  printf '[ext]\n%s\n' "$ext" > "$dir/$name.ext"
  if [ "$signer" = self ]; then
    openssl req -new -x509 -key "$dir/$name.key" -subj "$subject" -days 2 -sha256 \
      -extensions ext -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n'; cat "$dir/$name.ext") \
      -out "$dir/$name.pem" 2>/dev/null
  else
    openssl req -new -key "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr" 2>/dev/null
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$signer.pem" -CAkey "$dir/$signer.key" -CAcreateserial \
      -days 1 -sha256 -extfile "$dir/$name.ext" -extensions ext -out "$dir/$name.pem" 2>/dev/null
  fi
}
issue root "/O=cfssl bench/CN=root" self \
  "basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash"
issue int "/O=cfssl bench/CN=intermediate" root \
  "basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
issue server "/CN=127.0.0.1" int \
  "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1"
issue client "/CN=load" int \
  "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=URI:spiffe://example.org/load"
cat "$dir/server.pem" "$dir/int.pem" > "$dir/server-chain.pem"
cat "$dir/client.pem" "$dir/int.pem" > "$dir/client-chain.pem"
# The signing profile: short-lived leaves for clients and servers, as
# Mayfly's.
cat > "$dir/cfssl.json" <<'JSON'
{"signing": {"default": {"expiry": "1h", "usages": ["digital signature", "client auth", "server auth"]}}}
JSON

# cfssl takes a fixed port: try free-looking ones until one is bound.
for _ in $(seq 1 20); do
  port=$((20000 + RANDOM % 40000))
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue  # something listens there
  cfssl serve -address 127.0.0.1 -port "$port" -ca "$dir/int.pem" -ca-key "$dir/int.key" \
    -tls-cert "$dir/server-chain.pem" -tls-key "$dir/server.key" -mutual-tls-ca "$dir/root.pem" \
    -config "$dir/cfssl.json" > "$dir/cfssl.log" 2>&1 &
  cfssl_pid=$!
  # cfssl logs "Now listening" before it binds: ready is when it accepts.
  listening=""
  for _ in $(seq 1 200); do
    kill -0 "$cfssl_pid" 2>/dev/null || break
    if grep -q 'Now listening' "$dir/cfssl.log" && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      listening=yes
      break
    fi
    sleep 0.05
  done
  [ -n "$listening" ] && kill -0 "$cfssl_pid" 2>/dev/null && break
  kill -TERM "$cfssl_pid" 2>/dev/null && wait "$cfssl_pid" 2>/dev/null || true
  cfssl_pid=""
done
[ -n "$cfssl_pid" ] || { cat "$dir/cfssl.log" >&2; exit 1; }
echo "cfssl $(dpkg-query -W -f='${Version}' golang-cfssl 2>/dev/null || echo '?') serving on 127.0.0.1:$port"

load() {  # load NAME MODE
  local before
  echo "== cfssl $1"
  before=$(cpu_ticks_of "$cfssl_pid")
  "$LOAD" --peer cfssl --server "https://127.0.0.1:$port" --ca-bundle "$dir/root.pem" \
    --client-cert "$dir/client-chain.pem" --client-key "$dir/client.key" --connections "$CONNECTIONS" \
    --duration "$DURATION" --mode "$2" | tee "$dir/$1.out"
  echo "cfssl cpu per answer $(cpu_ms_per_answer "$cfssl_pid" "$before" "$dir/$1.out") ms" | tee -a "$dir/$1.out"
}
load keepalive keepalive
load new-connection new-connection

field() { awk -v label="$2" 'index($0, label) == 1 {print $2; exit}' "$dir/$1.out"; }
echo "cfssl.keepalive $(field keepalive throughput) req/s"
echo "cfssl.keepalive_p99 $(awk '/^latency p99 / {print $3}' "$dir/keepalive.out") ms"
# Errors and certificates that do not verify, together: either makes a rate
# worthless.
failures() { awk '/^errors/ {e = $2} /^not verifying/ {b = $3} END {print e + b}' "$dir/$1.out"; }
echo "cfssl.keepalive_failures $(failures keepalive)"
echo "cfssl.new_connection $(field new-connection throughput) req/s"
cpu() { awk '/^cfssl cpu per answer/ {print $(NF - 1)}' "$dir/$1.out"; }
echo "cfssl.keepalive_cpu $(cpu keepalive) ms"
echo "cfssl.new_connection_cpu $(cpu new-connection) ms"
echo "cfssl.new_connection_failures $(failures new-connection)"
