#!/usr/bin/env bash
# End-to-end checks of the greenfleet command line. Usage: cli_test.sh GREENFLEET_BINARY SOURCE_DIR
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

# A tiny experiment derived from the quick start.
sed -e 's/requests: 20000/requests: 300/' -e "s#path: out/quickstart.h5#path: $tmp/q.h5#" \
  "$src/experiments/quickstart.yaml" > "$tmp/q.yaml"

# 1. A misspelled key: exit 2, file:line:column, suggestion, and no output file.
sed -e 's/max_batched_tokens:/max_batched_tokenz:/' "$tmp/q.yaml" > "$tmp/typo.yaml"
"$bin" run "$tmp/typo.yaml" -o "$tmp/typo.h5" > "$tmp/out.txt" 2> "$tmp/err.txt"
code=$?
check "typo exits 2" test "$code" -eq 2
check "typo names file:line:col and key" grep -q "typo.yaml:[0-9]*:[0-9]*: deployments\[0\].scheduler.max_batched_tokenz: unknown key" "$tmp/err.txt"
check "typo suggests the right key" grep -q "did you mean 'max_batched_tokens'" "$tmp/err.txt"
check "typo leaves no output" test ! -e "$tmp/typo.h5"
check "typo leaves no temporary file" bash -c "! ls $tmp/typo.h5.tmp-* 2>/dev/null"

# 2. A bad --set value: exit 2.
"$bin" run "$tmp/q.yaml" -q --set workload.synthetic.rate=-1 -o "$tmp/neg.h5" 2> "$tmp/err.txt" > /dev/null
check "bad --set exits 2" test $? -eq 2
check "bad --set is explained" grep -q "(--set workload.synthetic.rate): value -1 is out of range" "$tmp/err.txt"
check "bad --set leaves no output" test ! -e "$tmp/neg.h5"

# 3. Two runs of the same experiment give identical request datasets.
"$bin" run "$tmp/q.yaml" -q -o "$tmp/a.h5" > "$tmp/a.txt"
check "run exits 0" test $? -eq 0
"$bin" run "$tmp/q.yaml" -q -o "$tmp/b.h5" > /dev/null
check "second run exits 0" test $? -eq 0
check "summary table printed" grep -q "requests completed .* 300" "$tmp/a.txt"
# Every dataset of /requests, /carbon and /summary compared value for value with Debian's h5py (no h5diff needed).
same_outputs() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
def items(f):
    out = {}
    for g in ("requests", "carbon", "summary"):
        f[g].visititems(lambda n, o: out.__setitem__(g + "/" + n, o[()]) if isinstance(o, h5py.Dataset) else None)
        for k, v in f[g].attrs.items(): out[g + "@" + k] = v
    return out
x, y = items(a), items(b)
def same(u, v):
    try:
        return np.array_equal(u, v, equal_nan=True)  # numbers: NaN (a metric with no denominator) equals NaN
    except TypeError:
        return np.array_equal(u, v)                  # strings
sys.exit(0 if x.keys() == y.keys() and all(same(x[k], y[k]) for k in x) and len(x) > 20 else 1)
PY
}
same_outputs "$tmp/a.h5" "$tmp/b.h5"
check "identical /requests, /carbon and /summary across runs" test $? -eq 0
# The resolved configuration stored in an output reruns to identical results.
/usr/bin/python3 -c "import h5py,sys; sys.stdout.write(h5py.File('$tmp/a.h5','r').attrs['config_yaml'].decode())" \
  > "$tmp/again.yaml"
"$bin" run "$tmp/again.yaml" -q -o "$tmp/again.h5" > /dev/null 2>&1
check "the stored configuration runs" test $? -eq 0
same_outputs "$tmp/a.h5" "$tmp/again.h5"
check "the stored configuration reproduces the run" test $? -eq 0
if command -v h5dump > /dev/null; then
  h5dump -H "$tmp/a.h5" > "$tmp/layout.txt"
  for path in 'GROUP "requests"' 'DATASET "ttft_s"' 'DATASET "tpot_s"' 'GROUP "instances"' 'GROUP "summary"' \
              'ATTRIBUTE "config_yaml"' 'ATTRIBUTE "git_revision"' 'ATTRIBUTE "seed"'; do
    check "layout has $path" grep -q "$path" "$tmp/layout.txt"
  done
fi

# 4. summary reads back what the run printed.
"$bin" summary "$tmp/a.h5" > "$tmp/s.txt"
check "summary exits 0" test $? -eq 0
check "summary shows completed" grep -q "requests completed .* 300" "$tmp/s.txt"
"$bin" summary "$tmp/a.h5" --json > "$tmp/s.json"
check "summary --json exits 0" test $? -eq 0
check "summary --json parses" python3 -c "import json,sys; d=json.load(open('$tmp/s.json')); sys.exit(0 if d['requests_completed']==300 else 1)"
"$bin" summary "$tmp/missing.h5" 2> /dev/null
check "summary of a missing file exits 2" test $? -eq 2

# 4b. Workload classes: per-class summary keys, the workload_class column, /classes, and a rerun of the stored
# configuration; a bad class is exit 2 with file:line:column and key.
classes='[{name: short, length_bins: {max: 1000}, slo: {ttft: 200ms}}, {name: long, length_bins: {min: 1000}, kind: offline, deadline: 1h}]'
"$bin" run "$tmp/q.yaml" -q --set "workload.classes=$classes" -o "$tmp/c.h5" > "$tmp/c.txt" 2> "$tmp/err.txt"
check "classes run exits 0" test $? -eq 0
check "classes in the printed summary" grep -q "class short: TTFT <= 0.2s" "$tmp/c.txt"
"$bin" summary "$tmp/c.h5" > "$tmp/cs.txt"
check "summary of the classes run exits 0" test $? -eq 0
check "summary shows the classes" grep -q "class long: completed after the deadline" "$tmp/cs.txt"
"$bin" summary "$tmp/c.h5" --json > "$tmp/c.json"
check "summary --json of the classes run exits 0" test $? -eq 0
check "classes in summary --json, adding up" python3 -c "import json,sys; d=json.load(open('$tmp/c.json')); sys.exit(0 if d['class.short.requests_arrived'] + d['class.long.requests_arrived'] == 300 and d['requests_unclassified'] == 0 else 1)"
check "workload_class column and /classes" /usr/bin/python3 -c "
import h5py, sys
f = h5py.File('$tmp/c.h5', 'r')
c, p = f['requests/workload_class'][:], f['requests/prompt_tokens'][:]
names = [n.decode() for n in f['classes/name'][:]]
sys.exit(0 if names == ['short', 'long'] and ((c == 1) == (p >= 1000)).all() and 0 < c.sum() < 300 else 1)"
/usr/bin/python3 -c "import h5py,sys; sys.stdout.write(h5py.File('$tmp/c.h5','r').attrs['config_yaml'].decode())" \
  > "$tmp/c_again.yaml"
"$bin" run "$tmp/c_again.yaml" -q -o "$tmp/c_again.h5" > /dev/null 2>&1
check "the stored configuration with classes runs" test $? -eq 0
same_outputs "$tmp/c.h5" "$tmp/c_again.h5"
check "the stored configuration with classes reproduces the run" test $? -eq 0
sed -e 's/^  source: synthetic$/  source: synthetic\n  classes:\n    - {name: a, share: 0.5}\n    - {name: b, share: 0.6}/' \
  "$tmp/q.yaml" > "$tmp/badclass.yaml"
"$bin" run "$tmp/badclass.yaml" -q -o "$tmp/badclass.h5" > /dev/null 2> "$tmp/err.txt"
check "bad classes exit 2" test $? -eq 2
check "bad classes name file:line:col and key" grep -q "badclass.yaml:[0-9]*:[0-9]*: workload.classes: the classes' shares sum to 1.1; they must sum to 1" "$tmp/err.txt"
check "bad classes leave no output" test ! -e "$tmp/badclass.h5"

# 5. Help, version, list: each command's exit code checked exactly, then what it printed.
exits() {  # exits CODE NAME COMMAND...: runs COMMAND with its output in $tmp/out.txt, checks the exact exit code
  local want=$1 name=$2
  shift 2
  "$@" > "$tmp/out.txt" 2> "$tmp/err.txt"
  local code=$?
  check "$name exits $want (got $code)" test "$code" -eq "$want"
}
exits 0 "--help" "$bin" --help
check "--help lists run" grep -q "run EXP.yaml" "$tmp/out.txt"
check "--help names every kind list takes" grep -q "list \[components|policies|presets|gpus|cpus|servers|models\]" \
  "$tmp/out.txt"
exits 0 "run --help" "$bin" run --help
check "run --help lists --set" grep -q -- "--set" "$tmp/out.txt"
exits 0 "--version" "$bin" --version
check "--version names greenfleet" grep -q "greenfleet" "$tmp/out.txt"
exits 0 "list policies" "$bin" list policies
check "list policies has power_of_two" grep -q "power_of_two" "$tmp/out.txt"
check "list policies has power policies" grep -q "power_policy off_when_idle" "$tmp/out.txt"
"$bin" list > "$tmp/list.txt"; check "list exits 0" test $? -eq 0
for entry in "workload_source burstgpt_csv" "perf_model calibrated" "power_policy always_on" "router random"; do
  check "list shows $entry" grep -q "$entry" "$tmp/list.txt"
done
check "list shows parameters with ranges" grep -q "idle_timeout (duration, default 600s, >= 1ns)" "$tmp/list.txt"
exits 0 "list --markdown" "$bin" list --markdown
check "list --markdown has the router table" grep -q "<!-- generated:router -->" "$tmp/out.txt"
exits 2 "list gpus --markdown" "$bin" list gpus --markdown
exits 0 "list gpus" "$bin" list gpus
check "list gpus shows h100-sxm" grep -q "h100-sxm" "$tmp/out.txt"
exits 0 "list servers --embodied" "$bin" list servers --embodied
check "list servers --embodied shows the H100 server's totals" grep -q "hgx-h100x8 .* 103.0 .* 3355.4" "$tmp/out.txt"
exits 2 "list of an unknown kind" "$bin" list nothing
exits 0 "calibrate --help" "$bin" calibrate --help
check "calibrate --help lists --data-dir" grep -q -- "--data-dir" "$tmp/out.txt"
exits 2 "validate without data" "$bin" validate --data-dir /nonexistent
"$bin" frobnicate 2> /dev/null; check "unknown command exits 2" test $? -eq 2
exits 2 "a misspelled command" "$bin" rnu "$tmp/q.yaml"
check "a misspelled command names the command it resembles, in one line" \
  bash -c "grep -q \"^error: unknown command 'rnu' (did you mean 'run'?); expected one of: run, list\" '$tmp/err.txt' && test \$(wc -l < '$tmp/err.txt') -eq 1"
exits 0 "help run" "$bin" help run
check "help run is run --help" grep -q "greenfleet run EXP.yaml \[options\]" "$tmp/out.txt"
# Every command's --help: exit 0, its exit codes, and a name for each option's value (never boost's bare "arg").
for c in run list summary compare sweep plan theory lifecycle calibrate validate; do
  exits 0 "$c --help" "$bin" $c --help
  check "$c --help gives the exit codes" grep -q "Exit codes: 0 ok" "$tmp/out.txt"
  check "$c --help names every option's value" bash -c "! grep -qE -- '--[a-z-]+ arg( |\$)' '$tmp/out.txt'"
done
exits 0 "run --help" "$bin" run --help
check "run --help documents --plan with its value" grep -q -- "--plan PLAN_OUT.yaml" "$tmp/out.txt"
for c in run sweep plan theory lifecycle calibrate validate; do
  "$bin" $c --help 2>&1 | tr -s ' \n' ' ' > "$tmp/out.txt"   # as one line: the option table wraps its texts
  check "$c --help gives the --data-dir default" grep -q "default: \$GREENFLEET_DATA, else ../shared/data" "$tmp/out.txt"
done
# The catalog tables stay aligned: every row's year column starts where the header's does.
for kind in gpus cpus; do
  "$bin" list $kind > "$tmp/out.txt"
  check "list $kind columns aligned" /usr/bin/python3 -c "
import sys
lines = open('$tmp/out.txt').read().splitlines()
end = lines[0].index('year') + 4
sys.exit(0 if len(lines) > 3 and all(l[end - 4:end].strip().isdigit() and l[end] == ' ' for l in lines[1:]) else 1)"
done

# 6. Ctrl-C leaves nothing behind (a long run interrupted after a moment).
sed -e 's/requests: 300/requests: 50000000/' "$tmp/q.yaml" > "$tmp/long.yaml"
"$bin" run "$tmp/long.yaml" -q -o "$tmp/long.h5" > /dev/null 2>&1 &
pid=$!
sleep 1
kill -INT $pid
wait $pid
code=$?
check "interrupted run exits 130" test "$code" -eq 130
check "interrupted run leaves no output" test ! -e "$tmp/long.h5"
check "interrupted run leaves no temporary file" bash -c "! ls $tmp/long.h5.tmp-* 2>/dev/null"
# On a terminal (script(1) gives the run one) a run of more than a second draws a progress line, which counts the
# arrivals towards a synthetic workload's total.
if command -v script > /dev/null; then
  timeout -s INT 5 script -qc "'$bin' run '$tmp/long.yaml' -o '$tmp/progress.h5' > /dev/null" /dev/null \
    > "$tmp/progress.txt" 2>&1
  check "progress line counts arrivals towards the synthetic total" \
    grep -qE "sim [0-9:]+ \| [0-9]+ of 50000000 arrived \| [0-9]+ done" "$tmp/progress.txt"
fi

# 7. calibrate stops with exit 2, naming the file, when it cannot write its coefficient files (a file stands
#    where models/ should be). It needs the public data (../shared/data or $GREENFLEET_DATA).
if [ -n "${GREENFLEET_DATA:-}" ] || [ -d "$src/../shared/data/profiling" ]; then
  mkdir -p "$tmp/blocked" && touch "$tmp/blocked/models"
  "$bin" calibrate --out "$tmp/blocked" > /dev/null 2> "$tmp/err.txt"
  check "calibrate that cannot write exits 2" test $? -eq 2
  check "calibrate names the file it cannot write" grep -q "$tmp/blocked/models/calibration/.*yaml: cannot create" "$tmp/err.txt"
  # A bad row in the last data set read (ML.ENERGY) stops it before anything is written.
  data=${GREENFLEET_DATA:-$src/../shared/data}
  mkdir -p "$tmp/data/profiling/ml_energy"
  for d in splitwise_sim vidur; do ln -s "$(cd "$data/profiling/$d" && pwd)" "$tmp/data/profiling/$d"; done
  ln -s "$(cd "$data/profiling/ml_energy/legacy_2023" && pwd)" "$tmp/data/profiling/ml_energy/legacy_2023"
  { cat "$data/profiling/ml_energy/mlenergy_v3_llm_configs.csv"; echo "short,row"; } \
    > "$tmp/data/profiling/ml_energy/mlenergy_v3_llm_configs.csv"
  "$bin" calibrate --data-dir "$tmp/data" --out "$tmp/badcal" > /dev/null 2> "$tmp/err.txt"
  check "calibrate on a bad data row exits 2" test $? -eq 2
  check "calibrate names the bad row" grep -q "mlenergy_v3_llm_configs.csv:567: expected 22 columns" "$tmp/err.txt"
  check "calibrate on bad data writes nothing" test ! -e "$tmp/badcal"
  # validate --measurements: a row no step can have (tensor_parallel 0, a NaN time) is bad input naming its line,
  # and a measured set without a committed entry is a catalog to regenerate (exit 2), not a bug.
  hdr="model,hardware,prompt_size,batch_size,token_size,prompt_time,token_time,e2e_time,tensor_parallel"
  printf '%s\nllama-2-7b,h100-sxm,512,1,128,20,7,900,0\n' "$hdr" > "$tmp/tp0.csv"
  "$bin" validate --measurements "$tmp/tp0.csv" > /dev/null 2> "$tmp/err.txt"
  check "validate on a tensor_parallel 0 row exits 2" test $? -eq 2
  check "validate names the tensor_parallel 0 row" grep -q "tp0.csv:2: .*tensor_parallel 1 to 64" "$tmp/err.txt"
  printf '%s\nllama-2-7b,h100-sxm,512,1,128,nan,7,900,1\n' "$hdr" > "$tmp/nan.csv"
  "$bin" validate --measurements "$tmp/nan.csv" > /dev/null 2> "$tmp/err.txt"
  check "validate on a NaN time exits 2" test $? -eq 2
  check "validate names the NaN row" grep -q "nan.csv:2: .*positive finite" "$tmp/err.txt"
  { echo "$hdr"; for b in 1 2 4 8 16; do echo "phi-2,a40,512,$b,128,$((20 * b)),7,$((900 + 20 * b)),2"; done; } \
    > "$tmp/nofile.csv"
  "$bin" validate --measurements "$tmp/nofile.csv" > "$tmp/out.txt" 2> "$tmp/err.txt"
  check "validate without a committed entry exits 2" test $? -eq 2
  check "validate says to run calibrate" grep -q "missing from .*run greenfleet calibrate with the same --measurements" \
    "$tmp/err.txt"
fi

# Input robustness (issue #18): nothing the user wrote is silently changed; each case exits 2 and says why.
sed -e 's/^seed: 42/seed: 42\nseed: 7/' "$tmp/q.yaml" > "$tmp/dup.yaml"
"$bin" run "$tmp/dup.yaml" -q -o "$tmp/dup.h5" > /dev/null 2> "$tmp/err.txt"
check "duplicate key exits 2" test $? -eq 2
check "duplicate key names both lines" grep -q "dup.yaml:[0-9]*:1: duplicate key 'seed' (first at line [0-9]*)" "$tmp/err.txt"
awk '/^fleet:/{print; print "  - &srv"; getline; sub(/^  - /, "    "); print; next} {print}' "$tmp/q.yaml" \
  | sed -e 's/^    count: 1$/    count: 1\n  - *srv/' > "$tmp/alias.yaml"
"$bin" run "$tmp/alias.yaml" --set fleet.1.count=2 -o "$tmp/alias.h5" > "$tmp/alias.txt" 2> "$tmp/err.txt"
check "--set through an alias runs" test $? -eq 0
check "--set through an alias changes only that entry (1 + 2 servers of 8 GPUs)" \
  grep -q "^  instances  *24$" "$tmp/alias.txt"
"$bin" run "$tmp/q.yaml" -q --set deployments.0.perf_model.step_overhead=100y -o "$tmp/so.h5" > /dev/null 2> "$tmp/err.txt"
check "100y step overhead exits 2" test $? -eq 2
check "100y step overhead names the key" grep -q "(--set deployments\[0\].perf_model.step_overhead): duration .* is out of range (max 10s" "$tmp/err.txt"
"$bin" run "$tmp/q.yaml" -q --set 'deployments.0.scheduler={max_num_seqs: 1, bogus: 2}' -o "$tmp/s.h5" > /dev/null 2> "$tmp/err.txt"
check "unknown key inside a --set value exits 2" test $? -eq 2
check "unknown key inside a --set value names the --set key" grep -q "q.yaml (--set deployments\[0\].scheduler.bogus): unknown key" "$tmp/err.txt"
printf '\xEF\xBB\xBFtimestamp,g_per_kwh\n2024-01-01 00:00:00,10\n' > "$tmp/bom.csv"
"$bin" run "$tmp/q.yaml" -q --set "sites.0.carbon_intensity={kind: csv, file: $tmp/bom.csv}" -o "$tmp/bom.h5" > /dev/null 2> "$tmp/err.txt"
check "BOM in a CI file exits 2" test $? -eq 2
check "BOM in a CI file is reported as such" grep -q "byte-order mark (BOM)" "$tmp/err.txt"
printf 'timestamp,g_per_kwh\n2023-02-29 00:00:00,10\n' > "$tmp/feb.csv"
"$bin" run "$tmp/q.yaml" -q --set "sites.0.carbon_intensity={kind: csv, file: $tmp/feb.csv}" -o "$tmp/feb.h5" > /dev/null 2> "$tmp/err.txt"
check "impossible date in a CI file exits 2" test $? -eq 2
check "impossible date in a CI file names the row" grep -q "feb.csv:2: '2023-02-29 00:00:00': day 29 does not exist" "$tmp/err.txt"
printf 'timestamp,g_per_kwh\n2023-01-01 00:00:00,nan\n' > "$tmp/nan.csv"
"$bin" run "$tmp/q.yaml" -q --set "sites.0.carbon_intensity={kind: csv, file: $tmp/nan.csv}" -o "$tmp/nan.h5" > /dev/null 2> "$tmp/err.txt"
check "NaN carbon intensity exits 2" test $? -eq 2
check "NaN carbon intensity is out of range" grep -q "nan.csv:2: g_per_kwh 'nan' is out of range" "$tmp/err.txt"

# 8. Arguments of the newer commands and options (docs/ROBUSTNESS.md, "Input"): an empty or stray argument, a
#    directory where a file is expected, is exit 2 naming it, never ignored; no file is written.
exits 2 "run --plan ''" "$bin" run "$tmp/q.yaml" -q --plan "" -o "$tmp/noplan.h5"
check "run --plan '' is explained" grep -q "run: --plan: empty path" "$tmp/err.txt"
check "run --plan '' writes nothing" test ! -e "$tmp/noplan.h5"
exits 2 "run --plan-objective ''" "$bin" run "$tmp/q.yaml" -q --plan-objective "" -o "$tmp/noplan.h5"
mkdir -p "$tmp/adir"
exits 2 "run --plan DIRECTORY" "$bin" run "$tmp/q.yaml" -q --plan "$tmp/adir" -o "$tmp/noplan.h5"
check "run --plan DIRECTORY says so" grep -q "$tmp/adir: is a directory" "$tmp/err.txt"
check "run --plan DIRECTORY writes nothing" test ! -e "$tmp/noplan.h5"
exits 2 "compare DIRECTORY" "$bin" compare "$tmp/adir" "$tmp/a.h5"
check "compare DIRECTORY says so" grep -q "$tmp/adir: is a directory" "$tmp/err.txt"
exits 2 "calibrate with a stray argument" "$bin" calibrate "$tmp/stray" --out "$tmp/stray_out"
check "calibrate with a stray argument is explained" grep -q "calibrate: too many positional options" "$tmp/err.txt"
check "calibrate with a stray argument writes nothing" test ! -e "$tmp/stray_out"
exits 2 "validate with a stray argument" "$bin" validate "$tmp/stray"
exits 2 "a trace given as a directory" "$bin" run "$tmp/q.yaml" -q --set workload.source=azure_csv \
  --set "workload.file=$tmp/adir" -o "$tmp/noplan.h5"
check "a trace given as a directory says so" grep -q "(--set workload.file): $tmp/adir is a directory, not a file" "$tmp/err.txt"

# plan: the capacity runs' notes (a class's `set` cv under the forced Poisson arrivals) on stderr, naming the
# planning file's `set`, -q or not (-q hides progress only). Every capacity entry is given: no simulation runs.
cat > "$tmp/cvplan.yaml" << EOF
name: t
horizon: 2h
carbon_intensity: {kind: constant, value: 100}
servers:
  - sku: pcie-t4x4
classes:
  - name: chat
    model: llama-3.1-8b
    online: {kind: values, values: [4, 8]}
    slo: {ttft: 1s, tpot: 100ms}
    set: ["workload.synthetic.cv=2"]
capacity:
  experiment: q.yaml
  entries:
    - {class: chat, sku: pcie-t4x4, rate: 2}
objective: {name: carbon}
output: {path: $tmp/cvplan.plan.yaml}
EOF
exits 0 "plan with a class's cv" "$bin" plan "$tmp/cvplan.yaml"
check "plan prints the capacity runs' notes" grep -q "^note: $tmp/cvplan.yaml:11:10: classes\\[0\\].set: $tmp/q.yaml (--set workload.synthetic.cv): no effect with arrivals: poisson" "$tmp/err.txt"
exits 0 "plan -q with a class's cv" "$bin" plan "$tmp/cvplan.yaml" -q -o "$tmp/cvplan2.plan.yaml"
check "plan -q prints the note too" grep -q "^note: .*classes\\[0\\].set: .*(--set workload.synthetic.cv)" "$tmp/err.txt"

echo "$passes passed, $fails failed"
test "$fails" -eq 0
