#!/usr/bin/env bash
# Installs the dependencies, starts a throw-away PostgreSQL cluster for the
# store's PostgreSQL cases, builds Mayfly twice (RelWithDebInfo, then with
# ASan + UBSan) and runs the whole GoogleTest suite through CTest in both,
# runs the libca, net and daemon suites under ThreadSanitizer, then each fuzz
# target for 10 s.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

# The store's conformance suite runs every case on SQLite and on PostgreSQL;
# here the PostgreSQL cases must run (MAYFLY_TEST_PG_REQUIRED makes a missing
# cluster a failure, not a skip), so a cluster that cannot start stops the run.
export MAYFLY_PG_TEST_DIR=${MAYFLY_PG_TEST_DIR:-$(mktemp -u /tmp/mayfly-pg-test.XXXXXX)}
trap './scripts/pg-test-cluster.sh stop' EXIT
pg_env=$(./scripts/pg-test-cluster.sh start)  # an assignment, so set -e sees a failed start
eval "$pg_env"
export MAYFLY_TEST_PG_REQUIRED=1

jobs=$(nproc)
# ccache (when present) keys on paths relative to the checkout, so a fresh
# clone of the same sources reuses earlier compilations.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
run_suite() {
  local dir=$1; shift
  local start=$SECONDS
  echo "== build $dir ($*)"
  # Unity batches: most compile time is parsing the same Boost, OpenSSL and
  # CLI11 headers again in every file. Builds by hand stay one file per unit.
  cmake -S . -B "$dir" -G Ninja -DMAYFLY_BUILD_BENCH=OFF -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 \
    "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== test $dir (built in $((SECONDS - start)) s)"
  start=$SECONDS
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 300
  echo "== $dir: tests ran in $((SECONDS - start)) s"
}

run_suite build
# LeakSanitizer is on: a leak in the tests, or at the exit of a mayfly-ca or
# mayfly-agent process a test starts (which inherits these options), fails.
# Debug (-O0): Beast's templates take many minutes to compile with ASan at -O2.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DMAYFLY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug

# ThreadSanitizer over the suites that run in one process: libca's (the
# store, the commit queue, WAL checkpoints), the network stack's (servers and
# clients on several threads) and the daemon's (the API driven from many
# threads at once: signing while a node is banned and the CA rotates). Debug:
# at -O2 the TSan build of Beast's templates takes several times as long.
start=$SECONDS
echo "== build build-tsan (libca, net and daemon suites, -DMAYFLY_TSAN=ON)"
cmake -S . -B build-tsan -G Ninja -DMAYFLY_TSAN=ON -DCMAKE_BUILD_TYPE=Debug -DMAYFLY_BUILD_BENCH=OFF \
  -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 >/dev/null
cmake --build build-tsan -j "$jobs" --target libca_tests net_tests daemon_tests
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build-tsan -L '^(libca|net|daemon)$' --output-on-failure -j "$jobs" --timeout 300
echo "== build-tsan: built and tested in $((SECONDS - start)) s"

# Each libFuzzer target for a short fixed time (clang 16, ASan + UBSan).
start=$SECONDS
./scripts/fuzz.sh 10
echo "== fuzzing took $((SECONDS - start)) s"
