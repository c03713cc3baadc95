#!/usr/bin/env bash
# End-to-end checks of `greenfleet plan` (docs/PLANNING.md): exit codes, the printed tables, the plan file written
# atomically, the capacity cache. Usage: plan_test.sh GREENFLEET_BINARY SOURCE_DIR
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

# The shipped example, its capacity simulated from the quick start into a cache of its own, and shorter.
sed -e "s#cache: ../../out/capacity#cache: $tmp/cache#" -e "s#experiment: ../quickstart.yaml#experiment: $src/experiments/quickstart.yaml#" \
  -e 's/requests_per_instance: 400/requests_per_instance: 100/' -e 's/seeds: \[1, 2\]/seeds: [1]/' \
  -e "s#path: out/planning_day.plan.yaml#path: $tmp/day.plan.yaml#" "$src/experiments/planning/day.yaml" > "$tmp/day.yaml"

# 1. A plan: exit 0, capacity and plan tables, the comparison, the plan file (YAML with every plan), no temporary.
"$bin" plan "$tmp/day.yaml" -q > "$tmp/out.txt" 2> "$tmp/err.txt"
check "plan exits 0" test $? -eq 0
check "capacity table printed" grep -q "^chat .*hgx-h100x8 .* simulated" "$tmp/out.txt"
check "plan table printed" grep -q "^plan 'carbon': \(optimal\|within_gap\) | objective" "$tmp/out.txt"
check "comparison printed" grep -q "^cost  " "$tmp/out.txt"
check "plan file written" test -s "$tmp/day.plan.yaml"
check "plan file named" grep -q "^plan: $tmp/day.plan.yaml" "$tmp/out.txt"
check "no temporary file" bash -c "! ls $tmp/*.tmp* 2>/dev/null"
check "plan file is YAML with four plans" /usr/bin/python3 -c "
import sys, yaml
d = yaml.safe_load(open('$tmp/day.plan.yaml'))
assert [p['objective'] for p in d['plans']] == ['carbon', 'performance', 'energy', 'cost'], d['plans']
assert all(p['status'] in ('optimal', 'within_gap') and p['gap'] <= 0.01 for p in d['plans'])
assert all(p['bound'] <= p['objective_value'] * (1 + 1e-9) for p in d['plans'])
assert len(d['carbon_intensity']) == 24
"
check "capacity cached" test "$(ls "$tmp/cache" | wc -l)" -ge 6

# 2. Again: the capacity comes from the cache, and the plan file is the same but for the solve times.
"$bin" plan "$tmp/day.yaml" -q -o "$tmp/again.plan.yaml" > "$tmp/again.txt"
check "second plan exits 0" test $? -eq 0
check "capacity read from the cache" grep -q "^chat .*hgx-h100x8 .* cached" "$tmp/again.txt"
check "same plan from the cache" bash -c "diff <(grep -v 'solve_seconds\|planning_file' $tmp/day.plan.yaml | sed 's/source: simulated/source: cached/') <(grep -v 'solve_seconds\|planning_file' $tmp/again.plan.yaml)"
"$bin" plan "$tmp/day.yaml" -q --capacity-only --rebuild-capacity -o "$tmp/none.yaml" > "$tmp/rebuilt.txt"
check "capacity-only exits 0" test $? -eq 0
check "rebuild simulates again" grep -q "^chat .*hgx-h100x8 .* simulated" "$tmp/rebuilt.txt"
check "capacity-only writes no plan" test ! -e "$tmp/none.yaml"

# 3. Demand no plan can meet: exit 2, the slot and the class named, no plan file.
"$bin" plan "$tmp/day.yaml" -q --set 'servers=[{sku: hgx-h100x8, max_count: 1}]' --set classes.0.online.mean=300 -o "$tmp/inf.yaml" \
  > /dev/null 2> "$tmp/err.txt"
check "infeasible exits 2" test $? -eq 2
check "infeasible names slot and class" grep -q "infeasible demand in slot [0-9]* \[0d [0-9:]*, 0d [0-9:]*) for class 'chat'" "$tmp/err.txt"
check "infeasible writes no plan" test ! -e "$tmp/inf.yaml"

# 4. Bad input: a misspelled key (file:line:col, suggestion), a missing file, an output path that is a directory.
sed -e 's/relative_gap:/relative_gapp:/' "$tmp/day.yaml" > "$tmp/typo.yaml"
"$bin" plan "$tmp/typo.yaml" -q > /dev/null 2> "$tmp/err.txt"
check "typo exits 2" test $? -eq 2
check "typo names file:line:col" grep -q "typo.yaml:[0-9]*:[0-9]*: solver.relative_gapp: unknown key" "$tmp/err.txt"
"$bin" plan "$tmp/missing.yaml" > /dev/null 2>&1
check "missing file exits 2" test $? -eq 2
"$bin" plan > /dev/null 2>&1
check "no file exits 2" test $? -eq 2
mkdir "$tmp/dir.yaml"
"$bin" plan "$tmp/day.yaml" -q -o "$tmp/dir.yaml" > /dev/null 2> "$tmp/err.txt"
check "directory output exits 2" test $? -eq 2
echo "keep" > "$tmp/keep.yaml"
"$bin" plan "$tmp/day.yaml" -q -o "$tmp/keep.yaml" > /dev/null 2> "$tmp/err.txt"
check "a file plan did not write exits 2" test $? -eq 2
check "a file plan did not write is kept" test "$(cat "$tmp/keep.yaml")" = "keep"
"$bin" plan "$tmp/day.yaml" -q -o "$tmp/again.plan.yaml" > /dev/null
check "an earlier plan file is replaced" test $? -eq 0

# 5. The objectives are listed with their parameters.
"$bin" list policies > "$tmp/list.txt"
check "list policies exits 0" test $? -eq 0
check "list policies shows the planner objectives" grep -q "planner_objective carbon" "$tmp/list.txt"
check "list policies shows their parameters" grep -q "electricity_usd_per_kwh (number" "$tmp/list.txt"

# 6. Running the plan (greenfleet run --plan, docs/PLANNING.md "Executing a plan"), an hour of it with a smaller
# batch: exit 0, the report, servers on as planned per slot, the /plan tables and plan.* summary keys.
run_plan() {  # run_plan PLAN_FILE [ARGS...]: the day's run, one hour, 2,000 batch requests
  local plan=$1
  shift
  "$bin" run "$src/experiments/planning/day_run.yaml" --plan "$plan" -q --set horizon=1h \
    --set workload.classes.2.trace.synthetic.requests=2000 "$@"
}
run_plan "$tmp/day.plan.yaml" -o "$tmp/run.h5" > "$tmp/run.txt" 2> "$tmp/err.txt"
check "run --plan exits 0" test $? -eq 0
check "run --plan reports the plan" grep -q "^plan 'carbon' from $tmp/day.plan.yaml executed" "$tmp/run.txt"
check "run --plan reports attainment per class" grep -q "^  code  *online .*% *90%" "$tmp/run.txt"
check "run --plan: servers on as planned" grep -q "slot rows where servers on differ from the plan: 0 of" "$tmp/run.txt"
check "run --plan writes /plan" /usr/bin/python3 -c "
import h5py
f = h5py.File('$tmp/run.h5', 'r')
s = f['plan/slots']
assert len(s['slot']) >= 1 and (s['planned'][:] == s['on_at_start'][:]).all()
assert [n.decode() for n in f['plan/classes/name'][:]] == ['chat', 'code', 'batch']
keys = [k.decode() for k in f['summary/keys'][:]]
assert 'plan.class.chat.attainment' in keys and 'plan.slot_rows_differing' in keys
"
run_plan "$tmp/day.plan.yaml" --plan-objective energy -o "$tmp/run_energy.h5" > "$tmp/run_energy.txt"
check "run --plan-objective energy exits 0" test $? -eq 0
check "run --plan-objective energy" grep -q "^plan 'energy' from" "$tmp/run_energy.txt"
check "energy plan: servers on as planned" grep -q "slot rows where servers on differ from the plan: 0 of" \
  "$tmp/run_energy.txt"

# 7. Bad plans: a server type the catalog lacks, a plan for another experiment, an unknown objective, and the
# plan-following policy without a plan: exit 2 with file:line and key, no output.
sed -e 's/sku: pcie-l40sx4, gpus/sku: no-such-server, gpus/' "$tmp/day.plan.yaml" > "$tmp/bad.plan.yaml"
run_plan "$tmp/bad.plan.yaml" -o "$tmp/bad.h5" > /dev/null 2> "$tmp/err.txt"
check "unknown server type exits 2" test $? -eq 2
check "unknown server type names file:line and key" \
  grep -q "bad.plan.yaml:[0-9]*:[0-9]*: server_types\[[0-9]\].sku: server type 'no-such-server'" "$tmp/err.txt"
check "bad plan writes no output" test ! -e "$tmp/bad.h5"
"$bin" run "$src/experiments/workload_classes.yaml" --plan "$tmp/day.plan.yaml" -q -o "$tmp/other.h5" \
  > /dev/null 2> "$tmp/err.txt"
check "plan for another experiment exits 2" test $? -eq 2
check "plan for another experiment says so" grep -q "day.plan.yaml:[0-9]*:[0-9]*: classes\[0\].name: .*another experiment" \
  "$tmp/err.txt"
run_plan "$tmp/day.plan.yaml" --plan-objective nope -o "$tmp/nope.h5" > /dev/null 2> "$tmp/err.txt"
check "unknown objective exits 2" test $? -eq 2
"$bin" run "$src/experiments/planning/day_run.yaml" -q -o "$tmp/noplan.h5" > /dev/null 2> "$tmp/err.txt"
check "follow_plan without a plan exits 2" test $? -eq 2
check "follow_plan without a plan names the key" grep -q "fleet\[0\].power.policy: follow_plan needs a plan" "$tmp/err.txt"
check "follow_plan without a plan names its line" grep -q "day_run.yaml:19:[0-9]*: fleet\[0\].power.policy" "$tmp/err.txt"
"$bin" list policies > "$tmp/list.txt"
check "list policies exits 0 (again)" test $? -eq 0
check "list policies shows follow_plan" grep -q "power_policy follow_plan" "$tmp/list.txt"
check "list policies shows its boot time" bash -c "grep -A3 'power_policy follow_plan' $tmp/list.txt | grep -q 'boot_time (duration'"

# 8. Hand-edited plans (docs/PLANNING.md, "Executing a plan"): a misspelled key, a value out of range, an entry
# listed twice, instances where no server is on. Each is exit 2 naming the plan's line and key; an output file
# that existed before is left as it was.
printf 'kept\n' > "$tmp/keep.h5"
cp "$tmp/keep.h5" "$tmp/keep.orig"
bad_plan() {  # bad_plan NAME PATTERN SED_EXPRESSION: the carbon plan edited, run, exit 2 and PATTERN in the error
  local name=$1 pattern=$2 expr=$3
  sed -e "$expr" "$tmp/day.plan.yaml" > "$tmp/edited.plan.yaml"
  if cmp -s "$tmp/edited.plan.yaml" "$tmp/day.plan.yaml"; then
    check "$name: the edit applies" false
    return
  fi
  run_plan "$tmp/edited.plan.yaml" -o "$tmp/keep.h5" > "$tmp/out.txt" 2> "$tmp/err.txt"
  local code=$?
  check "$name exits 2 (got $code)" test "$code" -eq 2
  check "$name names file:line and key" grep -q "edited.plan.yaml:[0-9]*:[0-9]*: $pattern" "$tmp/err.txt"
  check "$name leaves the existing output" cmp -s "$tmp/keep.h5" "$tmp/keep.orig"
}
bad_plan "misspelled host key" "plans\[0\].servers\[0\].hots: unknown key (did you mean 'host'?)" \
  '0,/bought: 1, on:/s/bought: 1, on:/bought: 1, hots: reduced, on:/'
bad_plan "misspelled instance key" "plans\[0\].instances\[0\].rol: unknown key (did you mean 'role'?)" \
  '0,/role: unified, per_slot/s/role: unified, per_slot/rol: decode, per_slot/'
bad_plan "negative ttft_s" "classes\[0\].ttft_s: value -0.5 is out of range" 's/ttft_s: 0.5$/ttft_s: -0.5/'
bad_plan "negative batch requests" "classes\[2\].batches\[0\].requests: value -400000 is out of range" \
  's/requests: 400000,/requests: -400000,/'
bad_plan "a second plan for one objective" "plans\[1\].objective: a second plan for objective 'carbon'" \
  's/objective: performance/objective: carbon/'
bad_plan "a class listed twice" "classes\[1\].name: class 'chat' is listed twice" 's/name: "code"/name: "chat"/'
bad_plan "a server type listed twice" "plans\[0\].servers\[1\].sku: server type 'hgx-h100x8' (default host) is listed twice" \
  '0,/^      - {sku: hgx-h100x8, bought: 1, on: /s/^\(      - {sku: hgx-h100x8, bought: 1, on: .*}\)$/\1\n\1/'
bad_plan "instances with no server on" "plans\[0\].instances\[0\].per_slot: .* instances in slot 0 on server type 'hgx-h100x8', which has no server on" \
  '0,/bought: 1, on: \[1,/s/bought: 1, on: \[1,/bought: 1, on: [0,/'

echo "plan_test: $passes passed, $fails failed"
test "$fails" -eq 0
