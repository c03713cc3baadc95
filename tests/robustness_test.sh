#!/usr/bin/env bash
# The promises of docs/ROBUSTNESS.md, checked end to end: output paths, full and read-only disks, signals, exit
# codes, memory refused at load, large configurations, degenerate runs.
# Usage: robustness_test.sh GREENFLEET_BINARY SOURCE_DIR
set -u
bin=$1
src=$2
tmp=$(mktemp -d)
mounts=()
cleanup() {
  for m in "${mounts[@]}"; do umount "$m" 2> /dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
passes=0
check() {  # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
skip() { echo "SKIP: $*"; }
no_temp() { ! compgen -G "$1.tmp-*" > /dev/null; }  # no PATH.tmp-PID left beside PATH

sed -e 's/requests: 20000/requests: 300/' -e "s#path: out/quickstart.h5#path: $tmp/q.h5#" \
  "$src/experiments/quickstart.yaml" > "$tmp/q.yaml"
# A run long enough to be signalled while it writes (minutes).
sed -e 's/requests: 20000/requests: 50000000/' -e "s#path: out/quickstart.h5#path: $tmp/long.h5#" \
  "$src/experiments/quickstart.yaml" > "$tmp/long.yaml"
cp "$tmp/q.yaml" "$tmp/q.orig"

# --- Output paths: checked before the simulation, exit 2, nothing replaced -------------------------------------
"$bin" run "$tmp/q.yaml" -q -o "" > /dev/null 2> "$tmp/err.txt"
check "-o '' exits 2" test $? -eq 2
check "-o '' is explained" grep -q "empty output path" "$tmp/err.txt"

mkdir "$tmp/adir"
"$bin" run "$tmp/q.yaml" -q -o "$tmp/adir" > /dev/null 2> "$tmp/err.txt"
check "-o DIRECTORY exits 2" test $? -eq 2
check "-o DIRECTORY is explained" grep -q "is a directory" "$tmp/err.txt"
check "-o DIRECTORY is left alone" test -d "$tmp/adir"
check "-o DIRECTORY leaves no temporary" no_temp "$tmp/adir"
"$bin" run "$tmp/q.yaml" -q -o "$tmp/newdir/" > /dev/null 2> /dev/null
check "-o NEWDIR/ exits 2" test $? -eq 2

"$bin" run "$tmp/q.yaml" -q -o /dev/null > /dev/null 2> "$tmp/err.txt"
check "-o /dev/null exits 2" test $? -eq 2
check "-o /dev/null is explained" grep -q "character device" "$tmp/err.txt"
check "/dev/null is still a device" test -c /dev/null
check "-o /dev/null leaves no temporary in /dev" no_temp /dev/null

"$bin" run "$tmp/q.yaml" -q -o "$tmp/q.yaml" > /dev/null 2> "$tmp/err.txt"
check "-o EXPERIMENT exits 2" test $? -eq 2
check "-o EXPERIMENT is explained" grep -q "one of the run's inputs" "$tmp/err.txt"
check "-o EXPERIMENT leaves the experiment intact" cmp -s "$tmp/q.yaml" "$tmp/q.orig"
ln -s "$tmp/q.yaml" "$tmp/link.h5"
"$bin" run "$tmp/q.yaml" -q -o "$tmp/link.h5" > /dev/null 2> /dev/null
check "-o a link to the experiment exits 2" test $? -eq 2
check "-o a link leaves the experiment intact" cmp -s "$tmp/q.yaml" "$tmp/q.orig"
# An existing file greenfleet did not write (not HDF5) is refused, not replaced; an earlier output and an empty
# file are replaced.
echo "notes" > "$tmp/notes.h5"
"$bin" run "$tmp/q.yaml" -q -o "$tmp/notes.h5" > /dev/null 2> "$tmp/err.txt"
check "-o a file greenfleet did not write exits 2" test $? -eq 2
check "-o a file greenfleet did not write is explained" grep -q "exists and is not one that greenfleet wrote" \
  "$tmp/err.txt"
check "-o a file greenfleet did not write leaves it as it was" test "$(cat "$tmp/notes.h5")" = "notes"
check "-o a file greenfleet did not write leaves no temporary" no_temp "$tmp/notes.h5"
# An HDF5 file from elsewhere begins like an output: without a run's greenfleet_version it is not replaced.
if /usr/bin/python3 -c "import h5py" 2> /dev/null; then
  /usr/bin/python3 -c "import h5py, sys; h5py.File(sys.argv[1], 'w').attrs['source'] = 'elsewhere'" "$tmp/data.h5"
  cp "$tmp/data.h5" "$tmp/data.orig"
  "$bin" run "$tmp/q.yaml" -q -o "$tmp/data.h5" > /dev/null 2> "$tmp/err.txt"
  check "-o an HDF5 file greenfleet did not write exits 2" test $? -eq 2
  check "-o an HDF5 file greenfleet did not write is explained" grep -q "is not a complete greenfleet output" \
    "$tmp/err.txt"
  check "-o an HDF5 file greenfleet did not write leaves it as it was" cmp -s "$tmp/data.h5" "$tmp/data.orig"
  # Nor is one with a /summary group read as a run's output (it used to print an empty table, exit 0).
  /usr/bin/python3 -c "import h5py, sys; h5py.File(sys.argv[1], 'w').create_group('summary').attrs['n'] = 1" \
    "$tmp/other.h5"
  "$bin" summary "$tmp/other.h5" > "$tmp/out.txt" 2> "$tmp/err.txt"
  check "summary of an HDF5 file greenfleet did not write exits 2" test $? -eq 2
  check "summary of an HDF5 file greenfleet did not write is explained" grep -q "other.h5: not a greenfleet output" \
    "$tmp/err.txt"
  check "summary of an HDF5 file greenfleet did not write prints nothing" test ! -s "$tmp/out.txt"
else
  skip "-o an HDF5 file greenfleet did not write (no h5py)"
fi
"$bin" run "$tmp/q.yaml" -q -o "$tmp/again.h5" > /dev/null 2>&1 && "$bin" run "$tmp/q.yaml" -q -o "$tmp/again.h5" \
  > /dev/null 2>&1
check "-o an earlier output replaces it" test $? -eq 0
cp "$tmp/again.h5" "$tmp/kept.h5" && chmod a-w "$tmp/kept.h5" && cp "$tmp/kept.h5" "$tmp/kept.orig"
"$bin" run "$tmp/q.yaml" -q --set seed=9 -o "$tmp/kept.h5" > /dev/null 2> "$tmp/err.txt"
check "-o a read-only earlier output exits 2" test $? -eq 2
check "-o a read-only earlier output is explained" grep -q "exists and is read-only (mode 0444)" "$tmp/err.txt"
check "-o a read-only earlier output is kept" cmp -s "$tmp/kept.h5" "$tmp/kept.orig"
head -c 3000 "$tmp/again.h5" > "$tmp/cut.h5"  # an output cut short: not one greenfleet left (it renames whole files)
"$bin" run "$tmp/q.yaml" -q -o "$tmp/cut.h5" > /dev/null 2> /dev/null
check "-o a truncated HDF5 file exits 2" test $? -eq 2
: > "$tmp/empty.h5"
"$bin" run "$tmp/q.yaml" -q -o "$tmp/empty.h5" > /dev/null 2>&1
check "-o an empty file replaces it" test $? -eq 0
# A carbon-intensity CSV is an input too.
printf 'datetime,carbon_intensity\n2023-01-01T00:00:00Z,100\n2023-01-01T01:00:00Z,200\n' > "$tmp/ci.csv"
cp "$tmp/ci.csv" "$tmp/ci.orig"
"$bin" run "$tmp/q.yaml" -q --set "sites=[{name: s, pue: 1.2, carbon_intensity: {kind: csv, file: $tmp/ci.csv, time_column: datetime, value_column: carbon_intensity}}]" \
  --set fleet.0.site=s -o "$tmp/ci.csv" > /dev/null 2> "$tmp/err.txt"
code=$?
if grep -q "one of the run's inputs" "$tmp/err.txt"; then
  check "-o CI_FILE exits 2" test "$code" -eq 2
  check "-o CI_FILE leaves the file intact" cmp -s "$tmp/ci.csv" "$tmp/ci.orig"
else
  skip "-o CI_FILE: the CSV site did not load here ($(head -c 200 "$tmp/err.txt"))"
fi

# The catalog is an input too (a copy, so a failure here cannot harm the source tree).
mkdir -p "$tmp/cat" && cp -r "$src/hardware_catalog" "$src/models" "$tmp/cat/"
gpus=$(find "$tmp/cat/hardware_catalog" -name '*.yaml' | head -1)
cp "$gpus" "$tmp/gpus.orig"
"$bin" run "$tmp/q.yaml" -q --catalog "$tmp/cat" -o "$gpus" > /dev/null 2> "$tmp/err.txt"
check "-o CATALOG_FILE exits 2" test $? -eq 2
check "-o CATALOG_FILE leaves the file intact" cmp -s "$gpus" "$tmp/gpus.orig"

printf 'x\n' > "$tmp/afile"
"$bin" run "$tmp/q.yaml" -q -o "$tmp/afile/out.h5" > /dev/null 2> /dev/null
check "-o under a regular file exits 2" test $? -eq 2

# A setting without effect in this configuration is named in a note on stderr, and the run goes on; -q (no
# progress line) prints it too: scripts pass -q.
note="^note: .*by_gpu.t4)\{0,1\}: no effect: no fleet entry of deployment 'chat' has t4 GPUs"
"$bin" run "$tmp/q.yaml" -o "$tmp/noted.h5" --set "deployments.0.perf_model.by_gpu={t4: roofline}" > /dev/null \
  2> "$tmp/err.txt"
check "by_gpu for a GPU kind the fleet lacks exits 0" test $? -eq 0
check "by_gpu for a GPU kind the fleet lacks is noted" grep -q "$note" "$tmp/err.txt"
"$bin" run "$tmp/q.yaml" -q -o "$tmp/noted.h5" --set "deployments.0.perf_model.by_gpu={t4: roofline}" > /dev/null \
  2> "$tmp/err.txt"
check "run -q prints the note too" grep -q "$note" "$tmp/err.txt"
# sweep: each distinct note once, before the runs (which print none), not once per run; with -q too.
cp "$tmp/q.yaml" "$tmp/noted_sweep.yaml"
printf 'sweep:\n  grid:\n    workload.synthetic.rate: [30, 40, 50]\n' >> "$tmp/noted_sweep.yaml"
"$bin" sweep "$tmp/noted_sweep.yaml" -o "$tmp/noted_sweep" --set "deployments.0.perf_model.by_gpu={t4: roofline}" \
  > /dev/null 2> "$tmp/err.txt"
check "sweep with a note exits 0" test $? -eq 0
check "sweep prints a note once, not once per run" test "$(grep -c "$note" "$tmp/err.txt")" -eq 1
"$bin" sweep "$tmp/noted_sweep.yaml" -q -o "$tmp/noted_sweep_q" \
  --set "deployments.0.perf_model.by_gpu={t4: roofline}" > /dev/null 2> "$tmp/err.txt"
check "sweep -q prints the note once" test "$(grep -c "$note" "$tmp/err.txt")" -eq 1
# theory prints them too (it fails afterwards here: the quick start has no disaggregated deployment).
"$bin" theory "$tmp/q.yaml" --set "deployments.0.perf_model.by_gpu={t4: roofline}" > /dev/null 2> "$tmp/err.txt"
check "theory prints the notes" grep -q "$note" "$tmp/err.txt"
# lifecycle: the base experiment's notes too, its by_gpu entries judged against the generations' GPUs (A100, H100
# and B200 here: a T4 entry is never used).
mkdir -p "$tmp/life"
sed 's/^    model: llama-3.1-8b$/    model: llama-3.1-8b\n    perf_model: {by_gpu: {t4: roofline, h100-sxm: roofline}}/' \
  "$src/experiments/lifecycle/week.yaml" > "$tmp/life/week.yaml"
cp "$src/experiments/lifecycle/recycle.yaml" "$tmp/life/"
"$bin" lifecycle "$tmp/life/recycle.yaml" --set horizon_years=1 -o "$tmp/life/out.csv" > /dev/null 2> "$tmp/err.txt"
check "lifecycle with a note exits 0" test $? -eq 0
check "lifecycle notes a by_gpu entry no generation uses" grep -q \
  "^note: .*week.yaml:[0-9]*:[0-9]*: deployments\[0\].perf_model.by_gpu.t4: no effect: none of the servers of .*recycle.yaml has t4 GPUs" \
  "$tmp/err.txt"
check "lifecycle does not note one a generation uses" bash -c "! grep -q 'by_gpu.h100-sxm' '$tmp/err.txt'"

# --- Red team, fourth round (docs/ROBUSTNESS.md): catalog copies, changed outputs, measurements, theory --------
# An output another program changed: an array where a number goes crashed summary and compare (a stack
# overrun), a column shorter than the others was read past its end.
if /usr/bin/python3 -c "import h5py" 2> /dev/null; then
  "$bin" run "$tmp/q.yaml" -q -o "$tmp/r4a.h5" > /dev/null 2>&1
  "$bin" run "$tmp/q.yaml" -q --set seed=2 -o "$tmp/r4b.h5" > /dev/null 2>&1
  changed() {  # changed NAME PYTHON: a copy of r4a.h5 changed by PYTHON (f: the open file)
    cp "$tmp/r4a.h5" "$tmp/$1.h5"
    /usr/bin/python3 -c "import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], 'r+')
$2" "$tmp/$1.h5"
  }
  changed arr "f['summary'].attrs['ttft_p50_s'] = np.array([1.0, 2.0])"
  "$bin" summary "$tmp/arr.h5" > /dev/null 2> "$tmp/err.txt"
  check "summary of an array attribute exits 2" test $? -eq 2
  check "summary of an array attribute is explained" grep -q "arr.h5: /summary: not a readable greenfleet output (an attribute holds 2 values" "$tmp/err.txt"
  "$bin" compare "$tmp/arr.h5" "$tmp/r4b.h5" > /dev/null 2> "$tmp/err.txt"
  check "compare of an array attribute exits 2" test $? -eq 2
  changed pair "f['summary'].attrs['ttft_p50_s'] = np.zeros((), dtype=[('a', '<f8'), ('b', '<f8')])"
  "$bin" summary "$tmp/pair.h5" > /dev/null 2> "$tmp/err.txt"
  check "summary of a compound where a number goes exits 2 (not 1)" test $? -eq 2
  # Labels of another count than the numbers (an attribute removed) were read past their buffer and put beside
  # the wrong numbers; they are left out (the bare keys are printed).
  changed fewer "del f['summary'].attrs['requests_arrived']"
  "$bin" summary "$tmp/fewer.h5" > "$tmp/out.txt" 2> "$tmp/err.txt"
  check "summary with a label too many exits 0" test $? -eq 0
  check "summary with a label too many prints the bare keys" grep -q "requests_completed " "$tmp/out.txt"
  changed short "a = f['requests/e2e_s'][:10]; del f['requests/e2e_s']; f['requests/e2e_s'] = a"
  "$bin" compare "$tmp/short.h5" "$tmp/r4b.h5" > /dev/null 2> "$tmp/err.txt"
  check "compare of a short column exits 2" test $? -eq 2
  check "compare of a short column names it" grep -q "short.h5: /requests/e2e_s has 10 rows, /requests/arrival_ns 300" "$tmp/err.txt"
  changed cube "del f['requests/e2e_s']; f['requests/e2e_s'] = np.zeros((2, 2, 75), 'f4')"
  "$bin" compare "$tmp/cube.h5" "$tmp/r4b.h5" > /dev/null 2> "$tmp/err.txt"
  check "compare of a 3-D column exits 2" test $? -eq 2
  check "compare of a 3-D column names it" grep -q "cube.h5: not a readable greenfleet output (dataset e2e_s has 3 dimensions, not 1)" "$tmp/err.txt"
  changed yaml "f.attrs['config_yaml'] = '{[:'"
  "$bin" compare "$tmp/yaml.h5" "$tmp/r4b.h5" > /dev/null 2> "$tmp/err.txt"
  check "compare of a broken stored configuration exits 2 (not 1)" test $? -eq 2
else
  skip "summary and compare of changed outputs (no h5py)"
fi
# A coefficient file whose keys and path differ (a copy, a hand edit) replaced another entry silently.
fresh_cat() { rm -rf "$tmp/cat4" && mkdir -p "$tmp/cat4" && cp -r "$src/hardware_catalog" "$src/models" "$tmp/cat4/"; }
coef="$tmp/cat4/models/calibration/h100-sxm/llama-3.1-8b-tp1.yaml"
fresh_cat && cp "$coef" "$tmp/cat4/models/calibration/h100-sxm/copy-tp1.yaml"
"$bin" list models --catalog "$tmp/cat4" > /dev/null 2> "$tmp/err.txt"
check "a coefficient file under another name exits 2" test $? -eq 2
check "a coefficient file under another name names its key" grep -q "copy-tp1.yaml:[0-9]*:[0-9]*: model: .*belongs in llama-3.1-8b-tp1.yaml" "$tmp/err.txt"
fresh_cat && sed -i 's/^tensor_parallel: 1/tensor_parallel: 2/' "$coef"
"$bin" list models --catalog "$tmp/cat4" > /dev/null 2> "$tmp/err.txt"
check "a coefficient file of another TP exits 2" test $? -eq 2
check "a coefficient file of another TP names tensor_parallel" grep -q "llama-3.1-8b-tp1.yaml:[0-9]*:[0-9]*: tensor_parallel:" "$tmp/err.txt"
fresh_cat && sed 's/^model: .*/model: gpt-99/' "$coef" > "$tmp/cat4/models/calibration/h100-sxm/gpt-99-tp1.yaml"
"$bin" list models --catalog "$tmp/cat4" > /dev/null 2> "$tmp/err.txt"
check "a coefficient file of an unknown model names its line" grep -q "gpt-99-tp1.yaml:[0-9]*:[0-9]*: model: unknown model 'gpt-99'" "$tmp/err.txt"
fresh_cat && : > "$coef"
"$bin" list models --catalog "$tmp/cat4" > /dev/null 2> "$tmp/err.txt"
check "an empty coefficient file names its start, not a --set" grep -q "llama-3.1-8b-tp1.yaml:1:1: gpu: required key is missing" "$tmp/err.txt"
fresh_cat && sed -i 's/^decode_w_saturated: .*/decode_w_saturated: 9000/' "$tmp/cat4/models/calibration/power/h100-sxm.yaml"
"$bin" list models --catalog "$tmp/cat4" > /dev/null 2> "$tmp/err.txt"
check "a decode power above the GPU's TDP exits 2" test $? -eq 2
check "a decode power above the GPU's TDP names its key" grep -q "h100-sxm.yaml:[0-9]*:[0-9]*: decode_w_saturated: 9000 W is above the GPU's tdp_w (700 W" "$tmp/err.txt"
# A coefficient file whose decode terms are all 0 loaded, and its runs took 1 ns steps.
fresh_cat && sed -i -e 's/^decode_floor_s: .*/decode_floor_s: 0/' -e 's/^decode_fixed_s: .*/decode_fixed_s: 0/' \
  -e 's/^per_decode_seq_s: .*/per_decode_seq_s: 0/' -e 's/^step_overhead_s: .*/step_overhead_s: 0/' "$coef"
"$bin" list models --catalog "$tmp/cat4" > /dev/null 2> "$tmp/err.txt"
check "a coefficient file whose decode step costs nothing exits 2" test $? -eq 2
check "a coefficient file whose decode step costs nothing names its key" grep -q "llama-3.1-8b-tp1.yaml:[0-9]*:[0-9]*: decode_fixed_s: a decode step of one sequence costs no time" "$tmp/err.txt"
# calibrate --measurements naming a GPU, model and TP measured already wrote one coefficient file twice; the second
# rename failed as if the disk were full (exit 3), after the first had replaced its file.
if [ -d "$src/../shared/data/profiling" ]; then
  fresh_cat
  head -5 "$src/models/calibration/measured/h100-sxm/h100-sxm-llama-3.1-8b-tp1.csv" > "$tmp/again.csv"
  cp "$coef" "$tmp/coef.orig"
  "$bin" calibrate --data-dir "$src/../shared/data" --catalog "$tmp/cat4" --measurements "$tmp/again.csv" \
    > /dev/null 2> "$tmp/err.txt"
  check "calibrate --measurements of a measured set exits 2" test $? -eq 2
  check "calibrate --measurements of a measured set is explained" grep -q "again.csv: rows of h100-sxm llama-3.1-8b tensor_parallel 1 are measured already" "$tmp/err.txt"
  check "calibrate --measurements of a measured set replaces nothing" cmp -s "$coef" "$tmp/coef.orig"
else
  skip "calibrate --measurements of a measured set: no public data"
fi
# theory --old-decode-batch 0 was taken as not given (0 stands for "as --decode-batch" inside).
"$bin" theory "$src/experiments/disaggregated.yaml" --old-decode-batch 0 > /dev/null 2> "$tmp/err.txt"
check "theory --old-decode-batch 0 exits 2" test $? -eq 2

# Reading a directory as a file is bad input.
"$bin" run "$tmp/adir" -q -o "$tmp/x.h5" > /dev/null 2> "$tmp/err.txt"
check "run DIRECTORY exits 2" test $? -eq 2
"$bin" summary "$tmp/adir" > /dev/null 2> /dev/null
check "summary DIRECTORY exits 2" test $? -eq 2

# --- Full disk: a file-size limit (everywhere), and a small tmpfs (root only) ------------------------------------
# At the end of the run (the tables), and in the middle (the streamed /requests, uncompressed).
(trap '' XFSZ; ulimit -f 8; exec "$bin" run "$tmp/q.yaml" -q -o "$tmp/full.h5") > "$tmp/out.txt" 2> "$tmp/err.txt"
code=$?
check "file-size limit at the end exits 3 (got $code)" test "$code" -eq 3
check "file-size limit is explained" grep -q "File too large" "$tmp/err.txt"
check "file-size limit keeps no output" test ! -e "$tmp/full.h5"
check "file-size limit keeps no temporary" no_temp "$tmp/full.h5"
# greenfleet ignores SIGXFSZ itself: without the trap the limit is still a write error, not a kill.
(ulimit -f 8; exec "$bin" run "$tmp/q.yaml" -q -o "$tmp/full.h5") > /dev/null 2> /dev/null
code=$?
check "file-size limit without ignoring SIGXFSZ exits 3 (got $code)" test "$code" -eq 3
check "file-size limit without ignoring SIGXFSZ keeps nothing" bash -c "test ! -e '$tmp/full.h5' && ! compgen -G '$tmp/full.h5.tmp-*'"
sed -e 's/requests: 300/requests: 200000/' -e 's/rate: 40 /rate: 4000 /' "$tmp/q.yaml" > "$tmp/mid.yaml"
(trap '' XFSZ; ulimit -f 1024; exec "$bin" run "$tmp/mid.yaml" -q --set output.compression=none \
  -o "$tmp/mid.h5") > /dev/null 2> "$tmp/err.txt"
code=$?
check "file-size limit mid-run exits 3 (got $code)" test "$code" -eq 3
check "file-size limit mid-run keeps no output" test ! -e "$tmp/mid.h5"
check "file-size limit mid-run keeps no temporary" no_temp "$tmp/mid.h5"
check "file-size limit mid-run is not an internal error" bash -c "! grep -q 'internal error' '$tmp/err.txt'"

can_mount=0
if [ "$(id -u)" = 0 ] && mkdir -p "$tmp/small" "$tmp/ro" && mount -t tmpfs -o size=128k tmpfs "$tmp/small" 2> /dev/null; then
  mounts+=("$tmp/small")
  if mount -t tmpfs -o ro,size=1m tmpfs "$tmp/ro" 2> /dev/null; then
    mounts+=("$tmp/ro")
    can_mount=1
  fi
fi
if [ "$can_mount" = 1 ]; then
  "$bin" run "$tmp/mid.yaml" -q -o "$tmp/small/out.h5" > /dev/null 2> "$tmp/err.txt"
  code=$?
  check "full tmpfs exits 3 (got $code)" test "$code" -eq 3
  check "full tmpfs is explained" grep -q "No space left on device" "$tmp/err.txt"
  check "full tmpfs keeps no output" test ! -e "$tmp/small/out.h5"
  check "full tmpfs keeps no temporary" no_temp "$tmp/small/out.h5"
  check "full tmpfs is empty again" test -z "$(ls -A "$tmp/small")"
  start=$(date +%s%N)
  "$bin" run "$tmp/long.yaml" -q -o "$tmp/ro/out.h5" > /dev/null 2> "$tmp/err.txt"
  code=$?
  elapsed_ms=$((($(date +%s%N) - start) / 1000000))
  check "read-only directory exits 3 (got $code)" test "$code" -eq 3
  check "read-only directory is explained" grep -q "Read-only file system" "$tmp/err.txt"
  check "read-only directory fails before simulating (${elapsed_ms} ms)" test "$elapsed_ms" -lt 3000
  # calibrate's coefficient files: the same promises (needs the public data).
  if [ -n "${GREENFLEET_DATA:-}" ] || [ -d "$src/../shared/data/profiling" ]; then
    "$bin" calibrate --out "$tmp/ro/proj" > /dev/null 2> "$tmp/err.txt"
    check "calibrate into a read-only directory exits 3" test $? -eq 3
    check "calibrate into a read-only directory is explained" grep -q "Read-only file system" "$tmp/err.txt"
    umount "$tmp/small" && mount -t tmpfs -o size=12k tmpfs "$tmp/small"
    "$bin" calibrate --out "$tmp/small/proj" > /dev/null 2> "$tmp/err.txt"
    code=$?
    check "calibrate on a full disk exits 3 (got $code)" test "$code" -eq 3
    check "calibrate on a full disk is explained" grep -q "No space left on device" "$tmp/err.txt"
    check "calibrate on a full disk replaces no file and leaves no temporary" \
      test -z "$(find "$tmp/small" -type f)"
  else
    skip "calibrate on read-only and full disks: no public data (GREENFLEET_DATA)"
  fi
else
  skip "full and read-only tmpfs: not root or cannot mount tmpfs here"
fi

# Standard output is part of the result.
if [ -w /dev/full ]; then
  "$bin" run "$tmp/q.yaml" -q -o "$tmp/stdout.h5" > /dev/full 2> "$tmp/err.txt"
  check "run > /dev/full exits 3" test $? -eq 3
  check "run > /dev/full keeps no output" test ! -e "$tmp/stdout.h5"
  check "run > /dev/full keeps no temporary" no_temp "$tmp/stdout.h5"
  "$bin" list gpus > /dev/full 2> /dev/null
  check "list > /dev/full exits 3" test $? -eq 3
else
  skip "/dev/full is not available"
fi

# --- Signals: every catchable fatal signal removes the temporary file --------------------------------------------
for sig in HUP USR1 ALRM PIPE TERM INT; do
  "$bin" run "$tmp/long.yaml" -q -o "$tmp/sig.h5" > /dev/null 2> "$tmp/err.txt" &
  pid=$!
  for _ in $(seq 100); do compgen -G "$tmp/sig.h5.tmp-*" > /dev/null && break; sleep 0.05; done
  sleep 0.3
  kill -s "$sig" "$pid"
  wait "$pid"
  code=$?
  case $sig in
    TERM | INT) check "SIG$sig exits 130 (got $code)" test "$code" -eq 130 ;;
    *) check "SIG$sig kills the run with 128+N (got $code)" test "$code" -eq $((128 + $(kill -l "$sig"))) ;;
  esac
  check "SIG$sig keeps no output" test ! -e "$tmp/sig.h5"
  check "SIG$sig keeps no temporary" no_temp "$tmp/sig.h5"
done

# --- A resolved configuration over 64 KiB is stored (as the dataset /config_yaml) --------------------------------
long=$(head -c 70000 /dev/zero | tr '\0' 'x')
printf 'description: "%s"\n' "$long" > "$tmp/desc.txt"
sed -e "/^description:/d" "$tmp/q.yaml" > "$tmp/big.yaml"
cat "$tmp/desc.txt" >> "$tmp/big.yaml"
"$bin" run "$tmp/big.yaml" -q -o "$tmp/big.h5" > /dev/null 2> "$tmp/err.txt"
check "large configuration runs (exit 0)" test $? -eq 0
if /usr/bin/python3 -c "import h5py" 2> /dev/null; then
  /usr/bin/python3 - "$tmp/big.h5" "$tmp/again.yaml" << 'EOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert "config_yaml" not in f.attrs, "large configuration also stored as an attribute"
text = f["config_yaml"][()].decode()
assert len(text) > 70000 and "x" * 70000 in text, len(text)
open(sys.argv[2], "w").write(text)
EOF
  check "large configuration is the dataset /config_yaml" test $? -eq 0
  "$bin" run "$tmp/again.yaml" -q -o "$tmp/again.h5" > /dev/null 2> /dev/null
  check "the stored large configuration runs again" test $? -eq 0
else
  skip "large configuration readback: no h5py"
fi
"$bin" summary "$tmp/big.h5" > /dev/null
check "summary of a large-configuration file" test $? -eq 0

# --- Memory that follows the configuration is refused at load ----------------------------------------------------
start=$(date +%s%N)
"$bin" run "$tmp/q.yaml" -q --set fleet.0.count=2000 --set deployments.0.scheduler.max_num_seqs=65536 \
  --set deployments.0.scheduler.max_batched_tokens=65536 -o "$tmp/mem.h5" > /dev/null 2> "$tmp/err.txt"
code=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check "instance tables over budget exit 2 (got $code)" test "$code" -eq 2
check "instance tables over budget name the key" grep -q "(--set deployments\[0\].scheduler.max_num_seqs): the per-instance tables .* GiB, above the memory budget of 8 GiB" "$tmp/err.txt"
check "instance tables refused at load (${elapsed_ms} ms)" test "$elapsed_ms" -lt 5000
check "instance tables over budget keep no output" test ! -e "$tmp/mem.h5"
"$bin" run "$tmp/q.yaml" -q --set horizon=3650d --set carbon.slot=1s --set fleet.0.count=10 \
  -o "$tmp/mem.h5" > /dev/null 2> "$tmp/err.txt"
check "timeseries over budget exits 2" test $? -eq 2
check "timeseries over budget names carbon.slot" grep -q "(--set carbon.slot): the /timeseries tables need" "$tmp/err.txt"
# Set in the file, the key is named with its line and column.
sed -e 's/max_num_seqs: [0-9]*/max_num_seqs: 65536/' -e 's/max_batched_tokens: [0-9]*/max_batched_tokens: 65536/' \
  "$tmp/q.yaml" > "$tmp/wide.yaml"
"$bin" run "$tmp/wide.yaml" -q --set fleet.0.count=2000 -o "$tmp/mem.h5" > /dev/null 2> "$tmp/err.txt"
check "instance tables over budget exit 2 (key in the file)" test $? -eq 2
check "instance tables over budget give file:line:col" grep -q "wide.yaml:[0-9]*:[0-9]*: deployments\[0\].scheduler.max_num_seqs: the per-instance tables" "$tmp/err.txt"
# Without a horizon the run's length is unknown: the ledger stops when the tables would pass the budget.
# 100,000 requests at 40/s last 2,500 simulated seconds: 1-second slots pass the budget of about 100 KiB
# (12 KiB of instance tables) at about 900 s.
sed -e 's/requests: 300/requests: 100000/' "$tmp/q.yaml" > "$tmp/grow.yaml"
"$bin" run "$tmp/grow.yaml" -q --set carbon.slot=1s --set deployments.0.scheduler.max_num_seqs=16 \
  --memory-budget 0.0001 -o "$tmp/mem.h5" > /dev/null 2> "$tmp/err.txt"
check "timeseries growth over budget exits 2" test $? -eq 2
check "timeseries growth over budget names carbon.slot" grep -q "(--set carbon.slot): the /timeseries tables would grow" "$tmp/err.txt"
check "timeseries growth over budget keeps no output" test ! -e "$tmp/mem.h5"
check "timeseries growth over budget keeps no temporary" no_temp "$tmp/mem.h5"
# A fleet that cannot keep up holds ever more requests: the run stops at the budget, naming what to change.
"$bin" run "$tmp/long.yaml" -q --set workload.synthetic.rate=20000 --memory-budget 0.02 -o "$tmp/mem.h5" \
  > /dev/null 2> "$tmp/err.txt"
check "requests held over budget exit 2" test $? -eq 2
check "requests held over budget are explained" grep -q "requests held at once .* the fleet cannot keep up" "$tmp/err.txt"
check "requests held over budget keep no output" test ! -e "$tmp/mem.h5"
"$bin" run "$tmp/q.yaml" -q --memory-budget 0 -o "$tmp/mem.h5" > /dev/null 2> /dev/null
check "--memory-budget 0 exits 2" test $? -eq 2
for budget in inf 1e-300; do  # neither may become a budget of 0 bytes (infinity's conversion is undefined)
  "$bin" run "$tmp/q.yaml" -q --memory-budget $budget -o "$tmp/mem.h5" > /dev/null 2> "$tmp/err.txt"
  check "--memory-budget $budget exits 2" test $? -eq 2
  check "--memory-budget $budget is explained" grep -q "must be a positive number of GiB, at most 1e9" "$tmp/err.txt"
done
# Out of memory is the environment's failure: exit 3, with advice. A sanitizer build reserves terabytes of
# address space for its shadow memory, so a `ulimit -v` stops it before main: the case is skipped there.
if ldd "$bin" 2> /dev/null | grep -q libasan; then
  echo "skipped: out of memory (a sanitizer build cannot run under ulimit -v)"
else
  (ulimit -v 1000000; exec "$bin" run "$tmp/q.yaml" -q --memory-budget 1000 --set fleet.0.count=300 \
    --set deployments.0.scheduler.max_num_seqs=65536 --set deployments.0.scheduler.max_batched_tokens=65536 \
    -o "$tmp/oom.h5") > /dev/null 2> "$tmp/err.txt"
  code=$?
  check "out of memory exits 3 (got $code)" test "$code" -eq 3
  check "out of memory is explained" grep -q "out of memory" "$tmp/err.txt"
  check "out of memory keeps no output" test ! -e "$tmp/oom.h5"
fi

# --- Degenerate runs say so ---------------------------------------------------------------------------------------
"$bin" run "$tmp/q.yaml" -q --set workload.window.start=100000s -o "$tmp/empty.h5" > "$tmp/out.txt" 2> "$tmp/err.txt"
check "empty run exits 0" test $? -eq 0
check "empty run warns" grep -q "warning: no requests arrived" "$tmp/err.txt"
check "empty run: gCO2e per 1k tokens is n/a" grep -q "gCO2e per 1k tokens .* n/a" "$tmp/out.txt"
check "empty run: TTFT p50 is n/a" grep -q "ttft p50 (s) .* n/a" "$tmp/out.txt"
check "empty run: SLO attainment is n/a" grep -q "SLO attainment (all arrivals) .* n/a" "$tmp/out.txt"
"$bin" summary "$tmp/empty.h5" --json > "$tmp/empty.json"
check "empty run: summary --json exits 0" test $? -eq 0
check "empty run: --json has null ratios" /usr/bin/python3 -c "
import json, sys
d = json.load(open('$tmp/empty.json'))
sys.exit(0 if d['requests_arrived'] == 0 and d['g_per_1k_tokens'] is None and d['ttft_p50_s'] is None else 1)"

echo "robustness: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
