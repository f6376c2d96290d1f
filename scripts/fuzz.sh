#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for
# SECONDS (default 20) from a copy of its checked-in corpus, printing the
# executions per target. A crash fails the script and leaves the input in
# build-fuzz/crashes/<target>/: fix the bug and add the input to
# fuzz/corpus/<target>/, where the normal test suites replay it forever.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}

cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMAYFLY_FUZZ=ON -DMAYFLY_BUILD_TESTS=OFF -DMAYFLY_BUILD_BENCH=OFF -DCMAKE_UNITY_BUILD=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)"

status=0
for target in csr names config json_body http_request; do
  work=$(mktemp -d)
  cp fuzz/corpus/"$target"/* "$work"/
  mkdir -p build-fuzz/crashes/"$target"
  log=build-fuzz/fuzz_"$target".log
  if ./build-fuzz/fuzz/fuzz_"$target" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=1024 \
      -print_final_stats=1 -artifact_prefix=build-fuzz/crashes/"$target"/ "$work" > "$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    printf 'fuzz %-13s %10s executions in %ss, corpus %s -> %s inputs\n' "$target" "$runs" "$seconds" \
      "$(ls fuzz/corpus/"$target" | wc -l)" "$(ls "$work" | wc -l)"
  else
    echo "fuzz $target FAILED: see $log and build-fuzz/crashes/$target/"
    grep -E "ERROR|SUMMARY|runtime error" "$log" | head -20
    status=1
  fi
  rm -rf "$work"
done
exit $status
