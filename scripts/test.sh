#!/usr/bin/env bash
# Installs the dependencies, builds Mayfly twice (RelWithDebInfo, then with
# ASan + UBSan) and runs the whole GoogleTest suite through CTest in both.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc)
run_suite() {
  local dir=$1; shift
  echo "== build $dir ($*)"
  cmake -S . -B "$dir" -G Ninja -DMAYFLY_BUILD_BENCH=OFF "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 300
}

run_suite build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DMAYFLY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
