#!/usr/bin/env bash
# Mayfly's main job on one machine: installs the dependencies, builds, creates
# a CA in ./demo with config/ca.toml and demonstrates issuance. Safe to run
# again: each run starts from a fresh ./demo.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAYFLY_BUILD_TESTS=OFF -DMAYFLY_BUILD_BENCH=OFF >/dev/null
cmake --build build-release -j "$(nproc)"
CA=./build-release/daemon/mayfly-ca

rm -rf ./demo
echo "== mayfly-ca init --config config/ca.toml"
"$CA" init --config config/ca.toml

echo
echo "== The first issued leaf (the admin credential), checked with openssl"
openssl x509 -in demo/ca/admin.pem -noout -subject -ext subjectAltName,keyUsage,extendedKeyUsage,basicConstraints -dates
openssl verify -x509_strict -purpose sslclient -CAfile demo/ca/root.pem -untrusted demo/ca/intermediate.pem demo/ca/admin.pem
