#!/usr/bin/env bash
# `greenfleet theory` (docs/THEORY.md): exit codes and errors, the tables and the JSON with a given unit of work
# (no trace needed), and the closed form recomputed from the JSON's terms.
# Usage: theory_test.sh GREENFLEET_BINARY SOURCE_DIR
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

# A synthetic version of experiments/disaggregated.yaml: the same fleet and modes, no trace.
cat > "$tmp/split.yaml" <<'YAML'
name: split
seed: 1
sites:
  - {name: dc, pue: 1.2, carbon_intensity: 261}
deployments:
  - {name: new, model: llama-2-7b, modes: {disaggregated: {decode: old}}}
  - {name: old, model: llama-2-7b}
fleet:
  - {site: dc, sku: azure-nc24ads-a100-v4, count: 2, deployment: new}
  - {site: dc, sku: pcie-v100x8, count: 1, deployment: old, gpu_embodied: sunk}
network: {tor_switch: greensku-rack}
workload:
  source: synthetic
  deployment: new
  synthetic: {requests: 50, rate: 2, prompt_tokens: {distribution: constant, value: 800},
              output_tokens: {distribution: constant, value: 101}}
router: {name: least_outstanding_tokens}
mode_router: {name: always_disaggregated}
YAML

# 1. No disaggregated deployment: exit 2, file:line:col and the key.
sed -e 's/, modes: {disaggregated: {decode: old}}//' -e 's/always_disaggregated/unified/' "$tmp/split.yaml" \
  > "$tmp/whole.yaml"
"$bin" theory "$tmp/whole.yaml" > "$tmp/out.txt" 2> "$tmp/err.txt"
check "no split deployment exits 2" test $? -eq 2
check "no split deployment names file:line:col and key" \
  grep -q "whole.yaml:[0-9]*:[0-9]*: deployments: no deployment sets modes.disaggregated.decode" "$tmp/err.txt"
check "nothing on stdout after an error" test ! -s "$tmp/out.txt"

# 2. Usage errors: exit 2.
"$bin" theory > /dev/null 2>&1
check "missing file exits 2" test $? -eq 2
"$bin" theory "$tmp/split.yaml" --prompt 100 > /dev/null 2> "$tmp/err.txt"
check "--prompt without --output exits 2" test $? -eq 2
"$bin" theory "$tmp/split.yaml" --prompt inf --output 3 > "$tmp/out.txt" 2> "$tmp/err.txt"
check "--prompt inf exits 2" test $? -eq 2
check "--prompt inf is explained" grep -q "at most 10,000,000 tokens" "$tmp/err.txt"
check "--prompt inf prints no table" test ! -s "$tmp/out.txt"
"$bin" theory "$tmp/split.yaml" --decode-batch 0 > /dev/null 2> "$tmp/err.txt"
check "--decode-batch 0 exits 2" test $? -eq 2
"$bin" theory "$tmp/split.yaml" --no-such-option > /dev/null 2>&1
check "unknown option exits 2" test $? -eq 2
"$bin" theory "$tmp/nope.yaml" > /dev/null 2>&1
check "missing experiment exits 2" test $? -eq 2

# 3. Tables: the workload's means, the terms, the grid, the lifetimes.
"$bin" theory "$tmp/split.yaml" > "$tmp/table.txt"
check "table exits 0" test $? -eq 0
check "table: unit of work from the workload" \
  grep -q "800.0 prompt and 101.0 output tokens (means of the 50 of 50 requests within 4096 tokens)" "$tmp/table.txt"
check "table: the old GPU is sunk" grep -q "old: deployment old on v100-pcie-32gb x1 (.* sunk)" "$tmp/table.txt"
check "table: break-even line" grep -q "break-even CI\*:" "$tmp/table.txt"
rows=$(grep -cE '^ +[0-9]+ +[0-9.]+ +[0-9.]+ +-?[0-9.]+$' "$tmp/table.txt")
check "table: 17 grid rows (0-800 by 50)" test "$rows" -eq 17
check "table: lifetimes 3-7 years" test "$(grep -cE '^ +[3-7]\.0 ' "$tmp/table.txt")" -eq 5

# 4. JSON with a given unit of work: the closed form recomputed from its terms, the break-even CI, the lifetimes.
"$bin" theory "$tmp/split.yaml" --json --prompt 500 --output 50 --decode-batch 8 --ci-step 100 > "$tmp/t.json"
check "json exits 0" test $? -eq 0
/usr/bin/python3 - "$tmp/t.json" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
t, s = d["terms"], d["setup"]
assert s["prompt_tokens"] == 500 and s["output_tokens"] == 50 and s["requests_read"] == 0, s
assert s["decode_batch"] == 8 and s["old_decode_batch"] == 8 and s["old_sunk"] and t["ro_g_per_s"] == 0, s
assert [p["ci"] for p in d["ci_grid"]] == [0, 100, 200, 300, 400, 500, 600, 700, 800]
k = t["pue"] / 3.6e6
for p in d["ci_grid"]:
    base = p["ci"] * k * t["pn_w"] * t["tn_s"] + t["rn_g_per_s"] * t["tn_s"]
    green = (p["ci"] * k * (t["pn_prefill_w"] * t["tn_prefill_s"] + t["po_w"] * t["to_s"]) +
             t["rn_g_per_s"] * t["tn_prefill_s"] + t["ro_g_per_s"] * t["to_s"])
    assert math.isclose(p["c_base_g"], base, rel_tol=1e-6) and math.isclose(p["c_green_g"], green, rel_tol=1e-6), p
    assert math.isclose(p["savings_percent"], 100 * (1 - green / base), rel_tol=1e-6, abs_tol=1e-9), p
be = ((t["rn_g_per_s"] * (t["tn_s"] - t["tn_prefill_s"]) - t["ro_g_per_s"] * t["to_s"]) /
      (k * (t["pn_prefill_w"] * t["tn_prefill_s"] + t["po_w"] * t["to_s"] - t["pn_w"] * t["tn_s"])))
assert math.isclose(d["break_even_ci"], be, rel_tol=1e-6), (d["break_even_ci"], be)
years = [r["years"] for r in d["new_gpu_lifetime"]]
assert years == [3, 4, 5, 6, 7], years
rates = [r["rn_g_per_s"] for r in d["new_gpu_lifetime"]]
assert all(a > b for a, b in zip(rates, rates[1:])) and math.isclose(rates[1], t["rn_g_per_s"], rel_tol=1e-6)
PY
check "json: closed form, break-even and lifetimes agree with the terms" test $? -eq 0

# 5. Requests longer than the model's context are left out of the means, as a run rejects them.
sed -e 's/prompt_tokens: {distribution: constant, value: 800}/prompt_tokens: {distribution: uniform, min: 100, max: 8000}/' \
  "$tmp/split.yaml" > "$tmp/long.yaml"
"$bin" theory "$tmp/long.yaml" --json > "$tmp/l.json"
check "long prompts exit 0" test $? -eq 0
check "long prompts left out" /usr/bin/python3 -c "import json, sys; s = json.load(open('$tmp/l.json'))['setup'];
sys.exit(not (s['requests_read'] == 50 and 0 < s['requests_used'] < 50 and s['prompt_tokens'] + 101 <= 4096))"

# 6. The old GPU amortised instead of sunk (--set): its rate appears in the terms.
"$bin" theory "$tmp/split.yaml" --json --set fleet.1.gpu_embodied=amortised --set fleet.1.residual_life=2y \
  > "$tmp/a.json" 2> "$tmp/err.txt"
check "amortised exits 0" test $? -eq 0
check "amortised: ECo/LTo > 0" /usr/bin/python3 -c "import json, sys; d = json.load(open('$tmp/a.json'));
sys.exit(not (d['terms']['ro_g_per_s'] > 0 and not d['setup']['old_sunk']))"

echo "theory_test: $passes passed, $fails failed"
test "$fails" -eq 0
