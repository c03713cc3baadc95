#!/usr/bin/env bash
# greenfleet sweep: an 8-run sweep with -j 2, interrupted mid-way and resumed, gives the index of an
# uninterrupted run; a bad key or value fails before any run with file:line; `run` ignores the sweep block;
# under mpirun -np 2 the index equals the one-machine index (wall_seconds aside).
#   sweep_test.sh BINARY SOURCE_DIR [mpi|no-mpi]   (mpi: the binary was built with GREENFLEET_MPI; mpirun must exist)
set -euo pipefail
bin=$1
src=$2
mpi=${3:-no-mpi}
exp=$src/tests/study/sweep_small.yaml
tmp=$(mktemp -d /tmp/gf_sweep.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Index without its last column (wall_seconds).
strip_wall() { /usr/bin/python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0][-1] == "wall_seconds", rows[0]
for r in rows: print(",".join(r[:-1]))' "$1"; }

# 1. Uninterrupted.
"$bin" sweep "$exp" -j 2 -o "$tmp/full" 2> "$tmp/full.log" || fail "uninterrupted sweep: $(cat "$tmp/full.log")"
[ "$(ls "$tmp/full"/p*.h5 | wc -l)" -eq 8 ] || fail "expected 8 outputs"
head -1 "$tmp/full/index.csv" | grep -q '^point,replica,status,output,router.name,workload.synthetic.rate,workload.synthetic.requests,seed,requests_arrived,' ||
  fail "index header: $(head -1 "$tmp/full/index.csv")"
[ "$(wc -l < "$tmp/full/index.csv")" -eq 9 ] || fail "index rows"
grep -c ',ok,' "$tmp/full/index.csv" | grep -qx 8 || fail "not every run ok"

# 2. Interrupted after the first output appears, then resumed.
setsid "$bin" sweep "$exp" -j 2 -o "$tmp/part" 2> "$tmp/part.log" &
pid=$!
for _ in $(seq 1 2000); do
  ls "$tmp/part"/p*.h5 > /dev/null 2>&1 && break
  sleep 0.005
done
kill -INT -- "-$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 130 ] || fail "interrupted sweep exited $rc: $(cat "$tmp/part.log")"
[ ! -e "$tmp/part/index.csv" ] || fail "an interrupted sweep wrote an index"
ls "$tmp/part" | grep -q 'tmp-' && fail "temporary files left: $(ls "$tmp/part")"
kept=$(ls "$tmp/part"/p*.h5 | wc -l)
{ [ "$kept" -ge 1 ] && [ "$kept" -lt 8 ]; } || fail "interrupted sweep kept $kept of 8 outputs (not mid-way)"
"$bin" sweep "$exp" -j 2 -o "$tmp/part" 2> "$tmp/resume.log" || fail "resume: $(cat "$tmp/resume.log")"
reused=$(grep -c 'reused' "$tmp/resume.log" || true)
[ "$reused" -eq "$kept" ] || fail "resume reused $reused runs, $kept were complete"
diff <(strip_wall "$tmp/full/index.csv") <(strip_wall "$tmp/part/index.csv") > /dev/null ||
  fail "resumed index differs: $(diff <(strip_wall "$tmp/full/index.csv") <(strip_wall "$tmp/part/index.csv") | head)"
# A run with a different configuration (here: every run, through --set) is not reused.
"$bin" sweep "$exp" -j 2 -o "$tmp/part" --set slo.ttft=1s -q 2> "$tmp/again.log" || fail "re-run with --set"
grep -q reused "$tmp/again.log" && fail "a changed configuration reused outputs"

# 3. A bad key path or value fails before any run, naming file:line.
sed 's/    router.name: \[round_robin, least_outstanding_tokens\]/    router.nmae: [round_robin]/' "$exp" > "$tmp/bad_key.yaml"
rc=0
"$bin" sweep "$tmp/bad_key.yaml" -o "$tmp/bad" 2> "$tmp/bad.log" || rc=$?
[ "$rc" -eq 2 ] || fail "bad key exited $rc"
grep -q "bad_key.yaml:[0-9]*:[0-9]*: .*router.nmae" "$tmp/bad.log" || fail "bad key message: $(cat "$tmp/bad.log")"
[ ! -e "$tmp/bad" ] || fail "a bad sweep created its output directory"
sed 's/    workload.synthetic.rate: \[40, 80\]/    workload.synthetic.rate: [40, -3]/' "$exp" > "$tmp/bad_value.yaml"
line=$(grep -n 'workload.synthetic.rate: \[40, -3\]' "$tmp/bad_value.yaml" | cut -d: -f1)
rc=0
"$bin" sweep "$tmp/bad_value.yaml" -o "$tmp/bad" 2> "$tmp/bad.log" || rc=$?
[ "$rc" -eq 2 ] || fail "bad value exited $rc"
grep -q "bad_value.yaml:$line:[0-9]*: " "$tmp/bad.log" || fail "bad value message (line $line): $(cat "$tmp/bad.log")"
[ ! -e "$tmp/bad" ] || fail "a bad sweep created its output directory"
cat "$exp" | sed '/^sweep:/,$d' > "$tmp/bad_block.yaml"
printf 'sweep:\n  gird:\n    router.name: [random]\n' >> "$tmp/bad_block.yaml"
rc=0
"$bin" sweep "$tmp/bad_block.yaml" -o "$tmp/bad" 2> "$tmp/bad.log" || rc=$?
[ "$rc" -eq 2 ] && grep -q "bad_block.yaml:[0-9]*:[0-9]*: sweep.gird: unknown key (did you mean 'grid'?)" "$tmp/bad.log" ||
  fail "bad block ($rc): $(cat "$tmp/bad.log")"

# --dry-run validates and lists the runs, runs nothing.
rc=0
"$bin" sweep "$exp" -n -o "$tmp/dry" > "$tmp/dry.txt" 2> /dev/null || rc=$?
[ "$rc" -eq 0 ] || fail "dry run exited $rc"
[ "$(wc -l < "$tmp/dry.txt")" -eq 8 ] || fail "dry run does not list 8 runs"
[ ! -e "$tmp/dry" ] || fail "a dry run created its output directory"

# The output directory: empty, an existing file, under a file: exit 2 before any run, the file left alone;
# one that cannot be created (under /proc): exit 3, not an internal error.
printf 'x\n' > "$tmp/afile"
for case in "empty:" "file:$tmp/afile" "under a file:$tmp/afile/sub"; do
  rc=0
  "$bin" sweep "$exp" -q -o "${case#*:}" > /dev/null 2> "$tmp/bad.log" || rc=$?
  [ "$rc" -eq 2 ] || fail "sweep -o (${case%%:*}) exited $rc: $(cat "$tmp/bad.log")"
done
[ "$(cat "$tmp/afile")" = x ] || fail "sweep -o FILE changed the file"
grep -q "afile/sub: the sweep's output directory lies under a file" "$tmp/bad.log" || fail "under a file: $(cat "$tmp/bad.log")"
rc=0
"$bin" sweep "$exp" -q -o /proc/greenfleet-no-such/dir > /dev/null 2> "$tmp/bad.log" || rc=$?
[ "$rc" -eq 3 ] || fail "sweep -o under /proc exited $rc: $(cat "$tmp/bad.log")"
# Files in the directory that no sweep wrote (a run's name, index.csv): exit 2 before any run, left alone.
for name in p0001_r00.h5 index.csv; do
  mkdir -p "$tmp/foreign_$name"
  printf 'mine\n' > "$tmp/foreign_$name/$name"
  rc=0
  "$bin" sweep "$exp" -q -o "$tmp/foreign_$name" > /dev/null 2> "$tmp/bad.log" || rc=$?
  [ "$rc" -eq 2 ] || fail "sweep over a foreign $name exited $rc: $(cat "$tmp/bad.log")"
  grep -q "exists and is not one that greenfleet wrote" "$tmp/bad.log" || fail "foreign $name: $(cat "$tmp/bad.log")"
  [ "$(cat "$tmp/foreign_$name/$name")" = mine ] || fail "sweep replaced a foreign $name"
  [ "$(ls "$tmp/foreign_$name")" = "$name" ] || fail "sweep over a foreign $name ran points"
done
# An HDF5 file from elsewhere under a run's name: not a run's output (no greenfleet_version), refused too.
if /usr/bin/python3 -c "import h5py" 2> /dev/null; then
  mkdir -p "$tmp/foreign_h5"
  /usr/bin/python3 -c "import h5py, sys; h5py.File(sys.argv[1], 'w').attrs['source'] = 'elsewhere'" \
    "$tmp/foreign_h5/p0001_r00.h5"
  rc=0
  "$bin" sweep "$exp" -q -o "$tmp/foreign_h5" > /dev/null 2> "$tmp/bad.log" || rc=$?
  [ "$rc" -eq 2 ] || fail "sweep over a foreign HDF5 file exited $rc: $(cat "$tmp/bad.log")"
  [ "$(ls "$tmp/foreign_h5")" = p0001_r00.h5 ] || fail "sweep over a foreign HDF5 file ran points"
fi

# A read-only output that is up to date is reused, not replaced: the sweep resumes over it.
chmod a-w "$tmp/full/p0000_r00.h5"
"$bin" sweep "$exp" -j 2 -o "$tmp/full" 2> "$tmp/ro.log" || fail "resume over a read-only up-to-date output: $(cat "$tmp/ro.log")"
[ "$(grep -c reused "$tmp/ro.log")" -eq 8 ] || fail "resume over a read-only output reused $(grep -c reused "$tmp/ro.log") of 8"
chmod u+w "$tmp/full/p0000_r00.h5"

# A --set of a swept key would be dropped by every run: refused before any run. A --set seed with `seeds: N` is the
# base the replicas count from: it runs, each run taking its seed once (seeds 5 and 6).
rc=0
"$bin" sweep "$exp" -q -o "$tmp/set_swept" --set workload.synthetic.rate=10 > /dev/null 2> "$tmp/bad.log" || rc=$?
[ "$rc" -eq 2 ] || fail "--set of a swept key exited $rc"
grep -q "sweep sets workload.synthetic.rate at every run" "$tmp/bad.log" || fail "--set swept: $(cat "$tmp/bad.log")"
[ ! -e "$tmp/set_swept" ] || fail "a refused --set created the output directory"
sed -e 's/^  seeds: 2$/  seeds: [1, 2]/' "$exp" > "$tmp/seed_list.yaml"
rc=0
"$bin" sweep "$tmp/seed_list.yaml" -q -o "$tmp/set_seed" --set seed=9 > /dev/null 2> "$tmp/bad.log" || rc=$?
[ "$rc" -eq 2 ] || fail "--set seed with a list of seeds exited $rc"
"$bin" sweep "$exp" -q -j 2 -o "$tmp/base_seed" --set seed=5 2> "$tmp/seed.log" || fail "--set seed: $(cat "$tmp/seed.log")"
cut -d, -f8 "$tmp/base_seed/index.csv" | sort -u | tr '\n' ' ' | grep -qx "5 6 seed " ||
  fail "--set seed base: $(cut -d, -f8 "$tmp/base_seed/index.csv" | sort -u | tr '\n' ' ')"
# The same key twice on run's command line: refused, naming both.
rc=0
"$bin" run "$exp" -q -o "$tmp/twice.h5" --set seed=2 --set seed=3 > /dev/null 2> "$tmp/bad.log" || rc=$?
[ "$rc" -eq 2 ] || fail "--set twice exited $rc"
grep -q "seed=3'.*already set by --set 'seed=2'" "$tmp/bad.log" || fail "--set twice: $(cat "$tmp/bad.log")"

# The binary made unexecutable during a sweep: the next run cannot start, which is the environment's doing (exit 3,
# naming the binary and the system's reason), not a bug (exit 1).
mkdir -p "$tmp/copy"
cp "$bin" "$tmp/copy/greenfleet"
rc=0
GREENFLEET_HOME=$src setsid "$tmp/copy/greenfleet" sweep "$exp" -q -j 1 -o "$tmp/gone" \
  > /dev/null 2> "$tmp/gone.log" &
pid=$!
for _ in $(seq 1 4000); do
  pgrep -P "$pid" > /dev/null && break
  sleep 0.005
done
chmod a-x "$tmp/copy/greenfleet"
wait "$pid" || rc=$?
[ "$rc" -eq 3 ] || fail "a sweep whose binary became unexecutable exited $rc: $(cat "$tmp/gone.log")"
grep -q "cannot start .*copy/greenfleet: Permission denied" "$tmp/gone.log" || fail "unexecutable binary: $(cat "$tmp/gone.log")"

# 4. `run` on a file with a sweep block runs the base point.
"$bin" run "$exp" -q -o "$tmp/base.h5" > /dev/null || fail "run on a sweep file"

# 5. MPI: two ranks share the runs and gather the same index.
if [ "$mpi" = mpi ]; then
  command -v mpirun > /dev/null || fail "built with GREENFLEET_MPI but mpirun is missing (bash .ci/setup installs openmpi-bin)"
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
  mpirun -np 2 --allow-run-as-root --oversubscribe "$bin" sweep "$exp" -o "$tmp/mpi" > "$tmp/mpi.out" 2> "$tmp/mpi.log" ||
    fail "mpirun sweep: $(cat "$tmp/mpi.out" "$tmp/mpi.log")"
  grep -q 'rank 1' "$tmp/mpi.log" || fail "rank 1 ran nothing (built without GREENFLEET_MPI?): $(cat "$tmp/mpi.log")"
  diff <(strip_wall "$tmp/full/index.csv") <(strip_wall "$tmp/mpi/index.csv") > /dev/null || fail "MPI index differs"
  echo "mpi: 2 ranks, index equal; runs per rank: $(grep -c 'rank 0' "$tmp/mpi.log") + $(grep -c 'rank 1' "$tmp/mpi.log")"
  # Bad input under mpirun: every rank finds it, rank 0 alone reports it.
  rc=0
  mpirun -np 2 --allow-run-as-root --oversubscribe "$bin" sweep "$tmp/bad_key.yaml" -o "$tmp/mpi_bad" \
    > "$tmp/mpi_bad.out" 2> "$tmp/mpi_bad.log" || rc=$?
  [ "$rc" -ne 0 ] || fail "mpirun sweep of a bad file exited 0"
  [ "$(grep -c 'router.nmae' "$tmp/mpi_bad.log")" -eq 1 ] ||
    fail "mpirun: the bad key is not reported exactly once: $(cat "$tmp/mpi_bad.log")"
else
  echo "mpi: the binary was built without GREENFLEET_MPI; MPI check skipped"
fi
echo "sweep: 8 runs, interrupted with $kept done and resumed: same index; bad keys and values rejected before any run"
