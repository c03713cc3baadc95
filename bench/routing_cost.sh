#!/usr/bin/env bash
# Routing cost per arrival (docs/PERFORMANCE.md): the instructions spent inside Router::route (inclusive: the
# index's reads of instances and its tree work, or the scan), divided by the arrivals, counted by callgrind.
# Usage: bash bench/routing_cost.sh [BINARY] [REQUESTS]   (default build/greenfleet and each experiment's own
# request count: 1M and 500k, about 15 minutes in all; 100000 takes 3 and reads the 10k fleet before it is in
# steady state)
# Instruction counts do not depend on the machine's load, so they compare fleet sizes and builds exactly.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/greenfleet}
n=${2:-}
command -v valgrind >/dev/null || { echo "routing_cost: needs valgrind (callgrind)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '| fleet | router | requests | instructions in route() per arrival |\n|---|---|---|---|\n'
for exp in bench/throughput_1m.yaml bench/routing_10k.yaml; do
  for router in least_outstanding_tokens least_kv_usage; do
    args=(--set output.compression=none --set router.name="$router")
    [ -n "$n" ] && args+=(--set workload.synthetic.requests="$n")
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$bin" run "$exp" -q -o "$tmp/out.h5" "${args[@]}" \
      > "$tmp/summary" 2> "$tmp/log"
    arrivals=$(awk '/requests arrived|requests completed  /{print $3; exit}' "$tmp/summary")
    # Inclusive cost of the router's route(); recursion-free, so one line per router class.
    ir=$(callgrind_annotate --inclusive=yes "$tmp/cg.out" 2> /dev/null |
      awk '/::route\(greenfleet::serving::RequestState const&/ {gsub(",", "", $1); s += $1} END {print s + 0}')
    awk -v e="$exp" -v r="$router" -v n="$arrivals" -v ir="$ir" 'BEGIN{printf "| %s | %s | %d | %.0f |\n", e, r, n, ir / n}'
  done
done
