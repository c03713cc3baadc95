#!/usr/bin/env bash
# Wall time of the load-based routers against round_robin on the 1M case (uncompressed output), in interleaved
# rounds so that a shared machine's changing load falls on all three alike (docs/PERFORMANCE.md, "Routing").
# Not a test: it prints measured numbers. Usage: bash bench/router_wall.sh [BINARY] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/greenfleet}
rounds=${2:-15}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
routers=(round_robin least_kv_usage least_outstanding_tokens)
for ((r = 1; r <= rounds; ++r)); do
  for router in "${routers[@]}"; do
    /usr/bin/time -f "%e %U" -o "$tmp/time" "$bin" run bench/throughput_1m.yaml -q -o "$tmp/$router.h5" \
      --set output.compression=none --set router.name="$router" > /dev/null
    rm -f "$tmp/$router.h5"
    echo "$r $router $(cat "$tmp/time") $(cut -d' ' -f1 /proc/loadavg)" >> "$tmp/rows"
  done
done
# Per router: best and median wall (and user CPU) seconds, and the median over rounds of its wall time / round_robin's
# in the same round.
awk '
  function median(a, n,    i, j, t) {
    for (i = 2; i <= n; ++i) for (j = i; j > 1 && a[j - 1] > a[j]; --j) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { wall[$2, $1] = $3; user[$2, $1] = $4; if (!lo || $5 < lo) lo = $5; if ($5 > hi) hi = $5; n = $1 }
  END {
    split("round_robin least_kv_usage least_outstanding_tokens", rs, " ")
    printf "| router | wall s best | median | user s best | median | wall / round_robin, median of rounds |\n"
    printf "|---|---|---|---|---|---|\n"
    for (k = 1; k <= 3; ++k) {
      r = rs[k]; best = ubest = 0
      for (i = 1; i <= n; ++i) {
        w[i] = wall[r, i]; u[i] = user[r, i]; q[i] = wall[r, i] / wall["round_robin", i]
        if (!best || w[i] < best) best = w[i]; if (!ubest || u[i] < ubest) ubest = u[i]
      }
      printf "| `%s` | %.2f | %.2f | %.2f | %.2f | %+.1f%% |\n", r, best, median(w, n), ubest, median(u, n), (median(q, n) - 1) * 100
    }
    printf "\n%d rounds; load average %.2f-%.2f during them\n", n, lo, hi
  }' "$tmp/rows"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "binary: $("$bin" --version)"
