#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (address and undefined-behaviour sanitizers) in build-fuzz/, replays
# every file of tests/fuzz/regressions/<harness>/ (inputs that once failed: they must now pass), then fuzzes each
# harness for SECONDS (default 30) from its seed corpus tests/fuzz/corpus/<harness>/, with the dictionary
# tests/fuzz/<harness>.dict where there is one. New corpus entries go to build-fuzz/corpus/, crashes to
# build-fuzz/findings/; any finding fails the script.
#   bash tests/fuzz/run.sh [SECONDS] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
shift || true
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(fuzz_experiment fuzz_azure fuzz_mooncake fuzz_burstgpt fuzz_ci_csv)
build=build-fuzz
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DGREENFLEET_FUZZ=ON -DGREENFLEET_SANITIZE=ON -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${harnesses[@]}"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=0
for h in "${harnesses[@]}"; do
  bin="$build/tests/fuzz/$h"
  regress=tests/fuzz/regressions/$h
  if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
    echo "fuzz: $h: replaying $(ls "$regress" | wc -l) regression inputs"
    "$bin" -runs=0 "$regress"/* >"$build/$h.regress.log" 2>&1 || { echo "fuzz: $h: a regression input fails" >&2;
      tail -n 40 "$build/$h.regress.log" >&2; failed=1; }
  fi
  mkdir -p "$build/corpus/$h" "$build/findings/$h"
  echo "fuzz: $h: ${seconds}s"
  dict=(); [ -f "tests/fuzz/$h.dict" ] && dict=(-dict="tests/fuzz/$h.dict")
  if ! "$bin" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
       -artifact_prefix="$build/findings/$h/" "$build/corpus/$h" "tests/fuzz/corpus/$h" >"$build/$h.log" 2>&1; then
    echo "fuzz: $h: FINDING (input in $build/findings/$h/)" >&2
    tail -n 40 "$build/$h.log" >&2
    failed=1
  else
    grep -E "stat::number_of_executed_units" "$build/$h.log" | sed "s/^/fuzz: $h: /" || true
  fi
done
exit $failed
