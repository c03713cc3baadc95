#!/usr/bin/env bash
# `greenfleet lifecycle` (docs/LIFECYCLE.md): exit codes and errors, the CSV written atomically and the same on
# every run, --csv on standard output, and the shipped example's yearly rows adding up to its cumulative column.
# Usage: lifecycle_test.sh GREENFLEET_BINARY SOURCE_DIR
set -u
bin=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
passes=0
check() {  # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
life="$src/experiments/lifecycle/recycle.yaml"

# 1. Usage and input errors: exit 2, file:line:col and the key, nothing written.
"$bin" lifecycle > /dev/null 2>&1
check "no file exits 2" test $? -eq 2
"$bin" lifecycle "$tmp/missing.yaml" > /dev/null 2>&1
check "a missing file exits 2" test $? -eq 2
"$bin" lifecycle "$src/experiments/lifecycle" > /dev/null 2>&1
check "a directory exits 2" test $? -eq 2
"$bin" lifecycle "$life" -q -o "$tmp/bad.csv" --set policies.0.gpu_refresh_years=0 > "$tmp/out.txt" 2> "$tmp/err.txt"
check "an out-of-range key exits 2" test $? -eq 2
check "the error names the key" grep -q "policies\[0\].gpu_refresh_years" "$tmp/err.txt"
check "nothing on stdout after an error" test ! -s "$tmp/out.txt"
check "no CSV after an error" test ! -e "$tmp/bad.csv"
cp "$src/experiments/lifecycle/week.yaml" "$tmp/"
sed 's/server: hgx-h100x8/server: hgx-h100x9/' "$life" > "$tmp/typo.yaml"
"$bin" lifecycle "$tmp/typo.yaml" -q > /dev/null 2> "$tmp/err.txt"
rc=$?
check "an unknown server exits 2" test $rc -eq 2
check "the unknown server's line and suggestion" \
  grep -q "typo.yaml:[0-9]*:[0-9]*: generations\[1\].server: unknown server SKU 'hgx-h100x9' (did you mean 'hgx-h100x8'?)" \
  "$tmp/err.txt"
"$bin" lifecycle "$life" -q -o "$life" > /dev/null 2>&1
check "the lifecycle file as output exits 2" test $? -eq 2
"$bin" lifecycle "$life" -q -o "" > "$tmp/out.txt" 2> "$tmp/err.txt"
check "an empty -o exits 2" test $? -eq 2
check "an empty -o is explained" grep -q "lifecycle: -o/--output: empty output path" "$tmp/err.txt"
check "an empty -o prints no table" test ! -s "$tmp/out.txt"
echo "keep" > "$tmp/keep.csv"
"$bin" lifecycle "$life" -q -o "$tmp/keep.csv" > /dev/null 2> "$tmp/err.txt"
check "-o a file lifecycle did not write exits 2" test $? -eq 2
check "-o a file lifecycle did not write is kept" test "$(cat "$tmp/keep.csv")" = "keep"

# 2. The example: the CSV twice, identical; --csv prints the same table.
"$bin" lifecycle "$life" -q -o "$tmp/a.csv" > "$tmp/table.txt"
check "the example runs" test $? -eq 0
"$bin" lifecycle "$life" -q -o "$tmp/b.csv" --csv > "$tmp/stdout.csv"
check "the example runs with --csv" test $? -eq 0
check "the CSV is the same on every run" cmp -s "$tmp/a.csv" "$tmp/b.csv"
"$bin" lifecycle "$life" -q -o "$tmp/b.csv" > /dev/null
check "an earlier CSV is replaced" test $? -eq 0
check "--csv prints the file's table" cmp -s "$tmp/a.csv" "$tmp/stdout.csv"
check "the table names the recycled server" grep -q "dgx-a100x8-80gb+dgx-b200x8" "$tmp/table.txt"
check "no temporary file left" test -z "$(ls "$tmp" | grep tmp-)"

# 3. Per policy, cumulative_t is the running sum of total_t, and total_t = operational + embodied.
/usr/bin/python3 - "$tmp/a.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 30, len(rows)
run = {}
for r in rows:
    total = float(r["operational_t"]) + float(r["embodied_gpu_t"]) + float(r["embodied_host_t"])
    assert abs(total - float(r["total_t"])) <= 1e-9 * total, r
    run[r["policy"]] = run.get(r["policy"], 0.0) + total
    assert abs(run[r["policy"]] - float(r["cumulative_t"])) <= 1e-9 * run[r["policy"]], r
    scale = 8760 * 3600 / float(r["run_seconds"])
    assert abs(float(r["run_operational_kg"]) * scale / 1000 - float(r["operational_t"])) <= 1e-9 * total, r
PY
check "yearly rows add up to the cumulative column" test $? -eq 0

echo "lifecycle_test: $passes passed, $fails failed"
test $fails -eq 0
