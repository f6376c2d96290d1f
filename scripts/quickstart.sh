#!/usr/bin/env bash
# Mayfly's main job on one machine: installs the dependencies, builds, creates
# a CA in ./demo with config/ca.toml, starts the daemon, enrolls a node with a
# one-time join token and issues, renews and revokes workload certificates
# through the mTLS API. Safe to run again: each run starts from a fresh ./demo.
# The daemon keeps running until Ctrl-C (or pass --exit to stop at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAYFLY_BUILD_TESTS=OFF -DMAYFLY_BUILD_BENCH=OFF >/dev/null
cmake --build build-release -j "$(nproc)"
CA="./build-release/daemon/mayfly-ca --config config/ca.toml"
AGENT=./build-release/agent/mayfly-agent
API=https://127.0.0.1:8443
OUT=./demo/manual  # the curl + openssl walk-through; the agent writes ./demo/out

step() { printf '\n== %s\n' "$*"; }

rm -rf ./demo
step "mayfly-ca init"
$CA init

step "mayfly-ca serve (in the background; log in demo/ca.log)"
$CA serve > demo/ca.log 2>&1 &
DAEMON=$!
AGENT_PID=""
trap 'kill -TERM $AGENT_PID $DAEMON 2>/dev/null; wait 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q '^ready ' demo/ca.log && break; sleep 0.1; done
grep '^ready ' demo/ca.log

mkdir -p "$OUT"
TOKEN=$($CA --json token create --node demo-node | jq -r .token)
step "mayfly-ca token create --node demo-node -> a one-time join token"

step "enroll: the node makes its key and CSR, and trades the token for a node certificate"
openssl ecparam -genkey -name prime256v1 -noout -out "$OUT/node.key"
openssl req -new -key "$OUT/node.key" -subj / -out "$OUT/node.csr"
jq -n --arg token "$TOKEN" --rawfile csr "$OUT/node.csr" '{token:$token, csr:$csr}' |
  curl -sf --cacert demo/ca/root.pem --data @- $API/v1/enroll > "$OUT/node.json"
jq -r '.certificate + .chain' "$OUT/node.json" > "$OUT/node.pem"
jq -r '"  node certificate: \(.spiffe_id) serial \(.serial) until \(.not_after)"' "$OUT/node.json"

sign() {  # sign <name> <spiffe id> <dns>
  openssl ecparam -genkey -name prime256v1 -noout -out "$OUT/$1.key"
  openssl req -new -key "$OUT/$1.key" -subj / -addext "subjectAltName=URI:$2${3:+,DNS:$3}" -out "$OUT/$1.csr"
  jq -n --rawfile csr "$OUT/$1.csr" '{csr:$csr, ttl:"2m"}' |
    curl -sf --cacert demo/ca/root.pem --cert "$OUT/node.pem" --key "$OUT/node.key" --data @- $API/v1/sign > "$OUT/$1.json"
  jq -r '.certificate + .chain' "$OUT/$1.json" > "$OUT/$1.pem"
  jq -r '"  \(.spiffe_id) serial \(.serial) until \(.not_after)"' "$OUT/$1.json"
}
step "sign: workload certificates for the two demo entries of config/ca.toml"
sign web spiffe://example.org/demo/web web.demo.internal
sign api spiffe://example.org/demo/api
openssl verify -x509_strict -purpose sslserver -CAfile demo/ca/root.pem -untrusted demo/ca/intermediate.pem "$OUT/web.pem"

step "renew: the web workload gets a fresh key and certificate"
sign web spiffe://example.org/demo/web web.demo.internal

step "a name outside the entry is refused"
openssl ecparam -genkey -name prime256v1 -noout -out "$OUT/evil.key"
openssl req -new -key "$OUT/evil.key" -subj / -addext "subjectAltName=URI:spiffe://example.org/demo/db" -out "$OUT/evil.csr"
jq -n --rawfile csr "$OUT/evil.csr" '{csr:$csr}' |
  curl -s --cacert demo/ca/root.pem --cert "$OUT/node.pem" --key "$OUT/node.key" --data @- $API/v1/sign; echo

step "mayfly-ca revoke the api workload; the CRL lists it at once"
$CA revoke --serial "$(jq -r .serial "$OUT/api.json")" --reason keyCompromise
curl -sf --cacert demo/ca/root.pem "$API/v1/crl?format=pem" > "$OUT/crl.pem"
openssl verify -crl_check_all -CRLfile "$OUT/crl.pem" -CAfile demo/ca/root.pem -untrusted demo/ca/intermediate.pem "$OUT/api.pem" || true

step "mayfly-ca certs"
$CA certs
step "mayfly-ca audit --limit 8"
$CA audit --limit 8

step "mayfly-agent once: the host agent enrolls with its own join token and issues the two demo workloads"
$CA --json token create --node demo-node | jq -r .token > demo/join-token
$AGENT once --config config/agent.toml
$AGENT status --config config/agent.toml
ls -l demo/out/web.pem demo/out/web.key demo/out/api.pem demo/out/crl.pem demo/out/bundle.pem

if [ "${1:-}" = "--exit" ]; then exit 0; fi
step "mayfly-agent run: renews each 2-minute certificate at half its life; status every 30 s; Ctrl-C stops"
$AGENT run --config config/agent.toml > demo/agent.log 2>&1 &
AGENT_PID=$!
while sleep 30; do
  echo; date -u +%H:%M:%S; $AGENT status --config config/agent.toml
done
