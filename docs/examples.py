#!/usr/bin/env python3
"""Regenerates every number in README.md, docs/*.md and traces/README.md that the greenfleet binary prints.

Each such passage sits between <!-- example:NAME --> and <!-- end example:NAME --> markers (around a code block
the markers are on their own lines outside the fences; inside a sentence they wrap just the number or phrase). A
producer below, one per NAME, runs the binary (or the Python snippet quoted in docs/OUTPUT.md, taken from the doc
itself) and formats exactly the text that belongs there. A NAME may appear in several places; all get the same
text. docs/PERFORMANCE.md (machine-dependent) and the component tables of docs/EXPERIMENTS.md (docs/generate.sh)
are not handled here.

Usage: /usr/bin/python3 docs/examples.py [--check] [GREENFLEET_BINARY]   (default binary: build/greenfleet)
  (default)  rewrite the docs in place
  --check    change nothing; print a unified diff and exit 1 when a passage differs from what the binary prints
             now (ctest `examples`). Producers that need the public data (../shared/data, or $GREENFLEET_DATA)
             print "skipped NAME: needs ..." when it is absent and leave their passages alone.
  --slow     also the passages that take minutes (docs/PLANNING.md: "Executing a plan", four runs of a simulated
             day; the cost plan's search of the Reduce menu, 20,000 nodes); without it they are left alone and
             named as skipped. ctest `examples_slow` checks them.
Needs h5py and numpy (Debian's /usr/bin/python3 has them); exits 77 (skipped, for ctest) without them.
"""
import argparse
import difflib
import functools
import json
import itertools
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", "docs/ARCHITECTURE.md", "docs/CARBON.md", "docs/CPU_MODEL.md", "docs/EXPERIMENTS.md",
        "docs/MODELS.md", "docs/OUTPUT.md", "docs/LIFECYCLE.md", "docs/PLANNING.md", "traces/README.md"]
MARKER = re.compile(r"<!-- example:([\w.-]+) -->(.*?)<!-- end example:\1 -->", re.S)
BIN = None
TMP = None
DATA = None          # the data directory as the docs name it when it is the default, else its absolute path
DATA_PATH = None     # the same as a Path, for existence checks

PRODUCERS = {}       # name -> (function, needs_data)
SLOW = set()         # producers that run only with --slow (minutes of simulation)
RUNS = itertools.count()


class Skip(Exception):
    pass


def producer(name, data=False, slow=False):
    def register(fn):
        PRODUCERS[name] = (functools.cache(fn), data)
        if slow:
            SLOW.add(name)
        return fn
    return register


# ---------------------------------------------------------------------------------------------------------------
# Running the binary


def gf(*args, cwd=ROOT, expect=0):
    """Runs greenfleet; returns (stdout, stderr). The catalog is this checkout's."""
    env = dict(os.environ, GREENFLEET_HOME=str(ROOT))
    env.pop("GREENFLEET_DATA", None)
    p = subprocess.run([BIN, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if p.returncode != expect:
        sys.exit(f"examples.py: `greenfleet {' '.join(map(str, args))}` exited {p.returncode}, expected {expect}:\n"
                 f"{p.stderr}")
    return p.stdout, p.stderr


@functools.cache
def run(exp, *sets):
    """Runs an experiment of experiments/ with --set overrides; returns the output file's path."""
    out = Path(TMP) / f"run{next(RUNS)}.h5"
    args = ["run", f"experiments/{exp}.yaml", "-q", "-o", out, "--data-dir", DATA]
    for s in sets:
        args += ["--set", s]
    gf(*args)
    return out


def h5(path):
    import h5py
    return h5py.File(path, "r")


def summary(exp, *sets):
    with h5(run(exp, *sets)) as f:
        return {k: v for k, v in f["summary"].attrs.items()}


def error(*args, cwd=ROOT):
    """The first line greenfleet prints on standard error for an invalid run (exit code 2)."""
    _, err = gf("run", *args, "-q", "-o", Path(TMP) / "never.h5", cwd=cwd, expect=2)
    return err.splitlines()[0]


# ---------------------------------------------------------------------------------------------------------------
# Formatting


def fence(text):
    """A code block whose markers stand on their own lines outside the fences."""
    return "\n```\n" + text.rstrip("\n") + "\n```\n"


def thousands(n):
    return f"{int(n):,}"


def sci(x, digits=1):
    """1.1e-07 -> 1.1e-7."""
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def magnitude(x):
    """The power of ten nearest x (in log scale), as 1e-7."""
    return f"1e{round(math.log10(x))}" if x > 0 else "0"


def span(values, digits=1):
    values = list(values)
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}%"


def plural(n, word):
    return f"{n:.0f} {word}" + ("" if n == 1 else "s")


def relative(a, b):
    return abs(a - b) / abs(b)


# ---------------------------------------------------------------------------------------------------------------
# greenfleet validate, parsed once


@functools.cache
def validate():
    out, err = gf("validate", "--data-dir", DATA)
    paragraphs = [p.strip("\n") for p in out.split("\n\n") if p.strip()]
    return paragraphs, err


def paragraph(predicate):
    found = [p for p in validate()[0] if predicate(p)]
    if len(found) != 1:
        sys.exit(f"examples.py: expected one such paragraph in `greenfleet validate`, found {len(found)}")
    return found[0]


def kind(p):
    first = p.splitlines()[0]
    if "whole runs" in first:
        return "wholerun"
    if "Vidur operator path" in first or first.startswith("arch ") or "operator model vs SplitwiseSim" in first:
        return "vidur"
    if first.startswith("cpu "):
        return "cpu"
    if "ML.ENERGY v3 replay" in first or "ML.ENERGY 2023" in first or first.endswith("2023 engine"):
        return "mlenergy"
    if first.startswith("roofline fallback"):
        return "fallback"
    if first.startswith("decode power"):
        return "power"
    if first.startswith("gpu "):
        return "splitwise"
    return "footer"


def rows(p):
    return [line.split() for line in p.splitlines()[1:] if line and not line.startswith(" ")
            and len(line.split()) > 3 and line.split()[2].isdigit()]


def splitwise_rows():
    return rows(paragraph(lambda p: kind(p) == "splitwise"))


def fallback_rows():
    return rows(paragraph(lambda p: kind(p) == "fallback").split("\n", 1)[1])


def opmodel_rows():
    return rows(paragraph(lambda p: "operator model vs SplitwiseSim" in p.splitlines()[0]))


def vidur_rows():
    """(gpu, model, tp, status, ops median, ops p90, ar median or None, ar p90, approx median or None, p90)."""
    table = []
    for r in rows(paragraph(lambda p: "Vidur operator path" in p.splitlines()[0])):
        gpu, model, tp, status, _ops, med, p90, *rest = r
        ar = approx = (None, None)
        if rest and rest[0] not in ("-", "ring"):
            ar, rest = (float(rest[1]), float(rest[2])), rest[3:]
        else:
            rest = rest[1:]
        if rest:
            approx = (float(rest[0]), float(rest[1]))
        table.append((gpu, model, int(tp), status, float(med), float(p90), *ar, *approx))
    return table


def stack_rows():
    return {r[0]: [float(x) for x in r[1:]] for r in
            (line.split() for line in paragraph(lambda p: p.startswith("arch ")).splitlines()[1:3])}


def cpu_summary():
    p = paragraph(lambda p: kind(p) == "cpu" and "in range" in p.splitlines()[0])
    return p.splitlines()[1].split()


# ---------------------------------------------------------------------------------------------------------------
# docs/MODELS.md and docs/CPU_MODEL.md: `greenfleet validate`


@producer("validate-splitwise", data=True)
def _():
    parts, elided = [], None
    notes = {"vidur": '[... the Vidur operator path\'s tables: under "Calibration from Vidur operator timings" below ...]',
             "mlenergy": '[... the ML.ENERGY v3 and 2023 replays: under "ML.ENERGY v3 replay" and "Old GPUs" below ...]',
             "wholerun": '[... whole runs through the full simulator: under "Whole runs" below ...]',
             "cpu": "[... the CPU inference model's tables: docs/CPU_MODEL.md ...]"}
    for p in validate()[0]:
        k = kind(p)
        if k in notes:
            if elided != k:
                parts.append(notes[k])
            elided = k
        else:
            parts.append(p)
            elided = None
    return fence("\n\n".join(parts))


@producer("validate-vidur", data=True)
def _():
    return fence("\n\n".join(p for p in validate()[0] if kind(p) == "vidur"))


@producer("validate-mlenergy", data=True)
def _():
    return fence(paragraph(lambda p: "ML.ENERGY v3 replay" in p.splitlines()[0]))


@producer("validate-mlenergy-2023", data=True)
def _():
    return fence(paragraph(lambda p: "ML.ENERGY 2023" in p.splitlines()[0]))


@producer("validate-engine-2023", data=True)
def _():
    return fence(paragraph(lambda p: p.splitlines()[0].endswith("2023 engine")))


@producer("engine2023-j-span", data=True)
def _():
    rows = paragraph(lambda p: p.splitlines()[0].endswith("2023 engine")).splitlines()[1:]
    j = [float(l.split()[8]) for l in rows if len(l.split()) == 12]
    return f"{min(j):+.1f}% to {max(j):+.1f}%"


@producer("validate-engine-2023-whole", data=True)
def _():
    return fence(paragraph(lambda p: p.splitlines()[0].endswith("preset fastchat-hf-2023")))


def _whole_2023_span(column):
    rows = paragraph(lambda p: p.splitlines()[0].endswith("preset fastchat-hf-2023")).splitlines()[1:]
    v = [float(l.split()[column]) for l in rows if len(l.split()) == 12]
    return f"{min(v):+.1f}% to {max(v):+.1f}%"


@producer("engine2023-whole-j-span", data=True)
def _():
    return _whole_2023_span(8)


@producer("engine2023-whole-itl-span", data=True)
def _():
    return _whole_2023_span(5)


@producer("engine2023-whole-w-span", data=True)
def _():
    return _whole_2023_span(11)


@producer("mlenergy-held-count", data=True)
def _():
    line = next(l for l in paragraph(lambda p: "ML.ENERGY v3 replay" in p.splitlines()[0]).splitlines() if l.startswith("all held-out"))
    return line.split()[4]


@producer("mlenergy-held-w", data=True)
def _():
    line = next(l for l in paragraph(lambda p: "ML.ENERGY v3 replay" in p.splitlines()[0]).splitlines() if l.startswith("all held-out"))
    return f"{float(line.split()[-2]):.1f}%"


@producer("mlenergy-held-itl", data=True)
def _():
    line = next(l for l in paragraph(lambda p: "ML.ENERGY v3 replay" in p.splitlines()[0]).splitlines() if l.startswith("all held-out"))
    return f"{float(line.split()[5]):.1f}%"


@producer("mlenergy-held-j", data=True)
def _():
    line = next(l for l in paragraph(lambda p: "ML.ENERGY v3 replay" in p.splitlines()[0]).splitlines() if l.startswith("all held-out"))
    return f"{float(line.split()[9]):.1f}%"


@producer("validate-whole-runs", data=True)
def _():
    return fence("\n\n".join(p for p in validate()[0] if kind(p) == "wholerun"))


def whole_run_splitwise_rows():
    return rows(paragraph(lambda p: "whole runs, SplitwiseSim" in p.splitlines()[0]))


@producer("wholerun-splitwise-median", data=True)
def _():
    return span(float(r[4]) for r in whole_run_splitwise_rows())


@producer("wholerun-mlenergy-held", data=True)
def _():
    line = next(l for l in paragraph(lambda p: "whole runs, ML.ENERGY" in p.splitlines()[0]).splitlines()
                if l.startswith("all held-out"))
    f = line.split()
    return f"ITL {float(f[5]):.1f}%, throughput {float(f[8]):.1f}%"


@producer("validate-cpu", data=True)
def _():
    return fence("\n\n".join(p for p in validate()[0] if kind(p) == "cpu"))


@producer("splitwise-step-median", data=True)
def _():
    return span(float(r[4]) for r in splitwise_rows())


@producer("splitwise-step-p90", data=True)
def _():
    return span((float(r[5]) for r in splitwise_rows()), 0)


@producer("splitwise-e2e-median", data=True)
def _():
    return span(float(r[7]) for r in splitwise_rows())


@producer("splitwise-e2e-p90-max", data=True)
def _():
    return f"{max(float(r[8]) for r in splitwise_rows()):.0f}%"


GPU_LABELS = {"a100-sxm-80gb": "A100", "h100-sxm": "H100"}
WORDS = "no one two three four five six seven eight nine ten eleven twelve".split()


def entries(rows):
    """A100 TP 2 and H100 TP 2 and 4."""
    by_gpu = {}
    for r in rows:
        by_gpu.setdefault(GPU_LABELS.get(r[0], r[0]), []).append(r[2])
    return " and ".join(f"{gpu} TP {' and '.join(tps)}" for gpu, tps in by_gpu.items())


def target(rows, met, only_word=True):
    hit, miss = [r for r in rows if met(r)], [r for r in rows if not met(r)]
    if not miss:
        return "met for all"
    if not hit:
        return "met for none"
    if len(hit) == 1 and only_word:
        return f"met for {entries(hit)} only"
    return f"met for {entries(hit)}; {entries(miss)} miss it"


@producer("splitwise-median-target", data=True)
def _():
    return target(splitwise_rows(), lambda r: float(r[4]) <= 5)


@producer("splitwise-p90-target", data=True)
def _():
    return target(splitwise_rows(), lambda r: float(r[5]) <= 15)


@producer("splitwise-target-counts", data=True)
def _():
    t = splitwise_rows()
    p90 = sum(float(r[5]) <= 15 for r in t)
    median = sum(float(r[4]) <= 5 for r in t)
    return (f"p90 <= 15% is met for {WORDS[p90]} {'entry' if p90 == 1 else 'entries'} of {WORDS[len(t)]}, "
            f"median <= 5%\n  for {WORDS[median]}")


@producer("fallback-step-median", data=True)
def _():
    return span(float(r[4]) for r in fallback_rows())


@producer("fallback-e2e-median", data=True)
def _():
    return span(float(r[7]) for r in fallback_rows())


@producer("fallback-p90-max", data=True)
def _():
    return f"{max(max(float(r[5]), float(r[8])) for r in fallback_rows()):.0f}%"


@producer("vidur-ops-median", data=True)
def _():
    return span(r[4] for r in vidur_rows())


@producer("vidur-ops-p90", data=True)
def _():
    return span((r[5] for r in vidur_rows()), 0)


@producer("vidur-ops-p90-written-max", data=True)
def _():
    return f"{max(r[5] for r in vidur_rows() if r[3] == 'written'):.1f}%"


@producer("vidur-allreduce", data=True)
def _():
    ar = [r for r in vidur_rows() if r[6] is not None]
    return f"median {span(r[6] for r in ar)}, p90 {span((r[7] for r in ar), 0)}"


@producer("vidur-approx", data=True)
def _():
    ap = [r for r in vidur_rows() if r[8] is not None]
    ceil = lambda x: math.ceil(x * 10 - 1e-9) / 10  # noqa: E731
    return f"median under {ceil(max(r[8] for r in ap)):.1f}%, p90 under {ceil(max(r[9] for r in ap)):.1f}%"


@producer("vidur-written-count", data=True)
def _():
    return str(sum(1 for r in vidur_rows() if r[3] == "written"))


@producer("vidur-allreduce-skipped", data=True)
def _():
    m = re.search(r"note: (\d+) Vidur rows skipped: profiling/vidur/network/a100_dgx/", validate()[1])
    if not m:
        sys.exit("examples.py: `greenfleet validate` no longer notes the skipped a100_dgx all-reduce rows")
    return thousands(m.group(1))


@producer("stack-attention", data=True)
def _():
    s = stack_rows()
    a, h = s["ampere"], s["hopper"]
    return f"{a[2]:.2f} (compute) and {a[3]:.2f} (bandwidth) on Ampere, {h[2]:.2f} and {h[3]:.2f} on Hopper"


@producer("stack-terms", data=True)
def _():
    s = stack_rows()
    a, h = s["ampere"], s["hopper"]
    ms = lambda x: "0" if round(x, 1) == 0 else f"{x:.1f}"  # noqa: E731
    return (f"{ms(a[1])} and {ms(h[1])} ms step overhead, {a[4]:.1f} and {h[4]:.1f} us per ring step, "
            f"{a[5]:.1f} and {h[5]:.1f} x")


@producer("opmodel-step-median", data=True)
def _():
    return span(float(r[4]) for r in opmodel_rows())


@producer("opmodel-e2e-median", data=True)
def _():
    return span(float(r[7]) for r in opmodel_rows())


@producer("power-h100-heldout", data=True)
def _():
    m = re.search(r"h100-sxm\s+power median ([\d.]+)%\s+p90 ([\d.]+)%",
                  paragraph(lambda p: kind(p) == "power"))
    return f"median {float(m.group(1)):.1f}%, p90 {float(m.group(2)):.1f}%"


@producer("mlenergy2023-j-span", data=True)
def _():
    rows = paragraph(lambda p: "ML.ENERGY 2023" in p.splitlines()[0]).splitlines()[1:]
    j = [float(l.split()[8]) for l in rows if len(l.split()) == 12]
    return f"{min(j):+.1f}% to {max(j):+.1f}%"


@producer("power-2023-heldout", data=True)
def _():
    m = re.findall(r"\S+\s+power median ([\d.]+)%.*2023 power vs utilisation", paragraph(lambda p: kind(p) == "power"))
    return f"{min(map(float, m)):.1f}-{max(map(float, m)):.1f}%"


@producer("power-h100-median", data=True)
def _():
    m = re.search(r"h100-sxm\s+power median ([\d.]+)%", paragraph(lambda p: kind(p) == "power"))
    return f"{float(m.group(1)):.1f}%"


@producer("cpu-heldout", data=True)
def _():
    s = cpu_summary()
    return f"median {float(s[3]):.1f}%, p90 {float(s[4]):.1f}% over {s[2]} points"


@producer("cpu-in-range", data=True)
def _():
    inside, total = cpu_summary()[5].split("/")
    return f"{inside} of {total}"


@producer("cpu-power", data=True)
def _():
    s = cpu_summary()
    return f"median {float(s[7]):.1f}%, p90 {float(s[8]):.1f}% over the {s[6]} range ends"


def cpu_points():
    """The CPU detail table: dicts of threads, phase, batch, measured, model, err, amx, held_out."""
    p = paragraph(lambda p: kind(p) == "cpu" and "threads phase" in p.splitlines()[0])
    points = []
    for line in p.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 8 or not parts[2].isdigit():
            continue
        batch = parts[4] if parts[3] == "decode" else None
        rest = parts[5:] if batch else parts[4:]
        points.append(dict(threads=int(parts[2]), phase=parts[3], batch=batch, measured=rest[0],
                           model=float(rest[1]), err=float(rest[2]), amx=float(rest[3]),
                           held_out=line.rstrip().endswith("held out")))
    return points


@producer("cpu-single-values-missed", data=True)
def _():
    single = [p for p in cpu_points() if p["held_out"] and "-" not in p["measured"]]
    return " and ".join(f"{p['err']:.1f}%" for p in single)


@producer("cpu-single-values", data=True)
def _():
    single = [p for p in cpu_points() if p["held_out"] and "-" not in p["measured"]]
    return " and ".join(p["measured"] for p in single)


@producer("cpu-worst-point", data=True)
def _():
    worst = max(cpu_points(), key=lambda p: p["err"])
    return f"within {worst['err']:.1f}% of the middle of its range; the worst is the\n  " + (
        f"{'held-out ' if worst['held_out'] else ''}{worst['threads']}-thread {worst['phase']} "
        f"({worst['model']:.1f} against {worst['measured']}")


@producer("cpu-amx-single", data=True)
def _():
    p = next(p for p in cpu_points() if p["threads"] == 64 and p["batch"] == "1")
    return f"{p['amx'] / p['model']:.2f}x ({p['amx']:.1f} vs {p['model']:.1f} tok/s at 64 threads)"


@producer("cpu-amx-batch32", data=True)
def _():
    p = next(p for p in cpu_points() if p["threads"] == 112 and p["batch"] == "32")
    return f"{p['amx'] / p['model']:.2f}x"


@producer("vidur-ops-counts", data=True)
def _():
    counts = {}
    for r in rows(paragraph(lambda p: "Vidur operator path" in p.splitlines()[0])):
        counts.setdefault(int(r[4]), set()).add(r[1])
    common = max(counts, key=lambda n: len(counts[n]))
    others = [f"{n} for {', '.join(sorted(m))}" for n, m in sorted(counts.items()) if n != common]
    return f"{common} held-out token counts per entry" + (f" ({'; '.join(others)})" if others else "")


# ---------------------------------------------------------------------------------------------------------------
# Files `greenfleet calibrate` writes (committed; tests check that calibrate regenerates them bit for bit)


def yaml_number(path, key):
    m = re.search(rf"^\s*{key}:\s*([-\d.e]+)", (ROOT / path).read_text(), re.M)
    if not m:
        sys.exit(f"examples.py: no '{key}:' in {path}")
    return float(m.group(1))


@producer("power-h100-fit")
def _():
    f = "models/calibration/power/h100-sxm.yaml"
    return (f"{yaml_number(f, 'decode_w_small'):.0f} W small-batch, {yaml_number(f, 'decode_w_saturated'):.0f} W "
            f"saturated, scale {yaml_number(f, 'batch_scale'):.0f} sequences")


@producer("power-h100-rows")
def _():
    f = "models/calibration/power/h100-sxm.yaml"
    return str(int(yaml_number(f, "training_points") + yaml_number(f, "held_out_points")))


CPU_FILE = "models/calibration/cpu/xeon-8480c/llama-3.1-8b.yaml"
AMX = 3.67   # EcoServe's speed-up, the CpuInferenceModel default (an input, not fitted)


def cpu(key):
    return yaml_number(CPU_FILE, key)


def cpu_g(threads):
    """Amdahl's factor of docs/CPU_MODEL.md: serial_fraction + (1 - serial_fraction) / threads."""
    return cpu("serial_fraction") + (1 - cpu("serial_fraction")) / threads


def cpu_hinge(threads, amx):
    """The decode batch where the streaming and compute lines meet."""
    return cpu("floor_s") * amx / (cpu_g(threads) * (cpu("compute_per_seq_1t_s") - cpu("stream_per_seq_1t_s")))


@producer("cpu-parameters")
def _():
    """The table of fitted CPU parameters, from the file `greenfleet calibrate` writes, with what they imply."""
    g64, g112 = cpu_g(64), cpu_g(112)
    ms = lambda key, g: f"{g * cpu(key) * 1e3:.1f} ms"  # noqa: E731
    floor, compute = cpu("floor_s"), cpu("compute_per_seq_1t_s")
    watts = lambda n: cpu("power_base_w") + cpu("power_per_thread_w") * n  # noqa: E731
    rows = [
        ("floor_s", f"{floor:.5f} s", "fit (weight read per step; Q4_K_M weights are ~4.9 GB (our estimate: ~4.9 bits "
         f"per weight x 8.03 B), i.e. ~{4.9 / floor:.0f} GB/s)"),
        ("stream_per_seq_1t_s", f"{cpu('stream_per_seq_1t_s'):.4f} s",
         f"fit ({ms('stream_per_seq_1t_s', g112)} per sequence at 112 threads, "
         f"{ms('stream_per_seq_1t_s', g64)[:-3]} ms at 64)"),
        ("compute_per_seq_1t_s", f"{compute:.4f} s",
         f"fit ({ms('compute_per_seq_1t_s', g112)} at 112 threads: plateau {1 / (g112 * compute):.1f} tok/s; "
         f"{ms('compute_per_seq_1t_s', g64)} at 64: {1 / (g64 * compute):.1f} tok/s)"),
        ("per_prefill_token_1t_s", f"{cpu('per_prefill_token_1t_s'):.4f} s",
         f"fit ({ms('per_prefill_token_1t_s', g112)} per token at 112 threads, {ms('per_prefill_token_1t_s', g64)} "
         "at 64)"),
        ("serial_fraction", f"{cpu('serial_fraction'):.5g}",
         f"fit (64 -> 112 threads is {g64 / g112:.2f}x faster, against {112 / 64:.2f}x for perfect scaling)"),
        ("power_base_w", f"{cpu('power_base_w'):.1f} W",
         "fit (intercept of the line; not an idle power: no idle point was measured)"),
        ("power_per_thread_w", f"{cpu('power_per_thread_w'):.3f} W",
         f"fit ({watts(64):.1f} W at 64 threads, {watts(112):.1f} W at 112)"),
        ("amx_speedup", f"{AMX} (default)", "EcoServe's reported speed-up of its CPU stack over this llama.cpp baseline "
         "(EcoServe, arXiv 2502.05043, Reuse); 1.0 = the measured baseline; a constructor argument, not fitted"),
    ]
    return "\n| parameter | value | source |\n|---|---|---|\n" + "".join(
        f"| `{name}` | {value} | {source} |\n" for name, value, source in rows)


@producer("cpu-hinge")
def _():
    return f"batch {cpu_hinge(64, 1):.1f} at 64 threads, {cpu_hinge(112, 1):.1f} at 112"


@producer("cpu-hinge-amx")
def _():
    return f"{cpu_hinge(64, AMX):.0f} at 64 threads, {cpu_hinge(112, AMX):.0f} at 112"


# ---------------------------------------------------------------------------------------------------------------
# docs/PLANNING.md: experiments/planning/day.yaml, on default hosts and with every SKU's Reduce menu


def plan_file(path):
    """A plan file, parsed (YAML 1.1 reads the key `on` of its server rows as true: restored here)."""
    import yaml
    with open(path, encoding="utf-8") as f:
        p = yaml.safe_load(f)
    for plan in p.get("plans", []):
        for row in plan["servers"]:
            if True in row:
                row["on"] = row.pop(True)
    return p


def capacity_counts(stderr, plan):
    """(entries, simulations) of a plan whose capacity was simulated from an empty cache."""
    sims = [int(n) for n in re.findall(r"^  capacity: .*\((\d+) simulations\)$", stderr, re.M)]
    if not sims or "(cached)" in stderr:
        sys.exit("examples.py: capacity counts need a run from an empty cache")
    return len(plan["capacity"]), sum(sims)


@functools.cache
def day_plans(menu):
    """({objective: {status, energy, op, emb, total, gap}}, {objective: (variables, integers, constraints)},
    (entries, simulations) of the capacity table, built from an empty cache by the first (default hosts) run)."""
    if menu:
        day_plans(False)
    out = Path(TMP) / f"day{'-menu' if menu else ''}.plan.yaml"
    args = ["plan", "experiments/planning/day.yaml", "-o", out, "--set", f"capacity.cache={TMP}/capacity-day"]
    if menu:  # the cost baseline's search of the menu runs to the node limit: left out
        args += ["--set", "baselines=[{name: performance}]"]
        for n in range(4):
            args += ["--set", f"servers.{n}.hosts=[default, reduced]"]
    text, err = gf(*args)
    (Path(TMP) / f"day{'-menu' if menu else ''}.out").write_text(text, encoding="utf-8")
    lines = text.splitlines()
    sizes = {}
    for line in lines:
        m = re.match(r"plan '(\w+)': .*\| ([\d,]+) variables \((\d+) integer\), (\d+) constraints$", line)
        if m:
            sizes[m.group(1)] = m.group(2, 3, 4)
    head = next(i for i, line in enumerate(lines) if line.split()[:3] == ["plan", "status", "GPUs"])
    plans = {}
    for line in lines[head + 1:]:
        p = line.split()
        if len(p) != 10:
            break
        plans[p[0]] = dict(status=p[1], energy=float(p[3]), op=float(p[4]), emb=float(p[5]), total=float(p[6]),
                           gap=float(p[9]))
    return plans, sizes, None if menu else capacity_counts(err, plan_file(out))


@producer("planning-day-size")
def _():
    variables, integers, constraints = day_plans(False)[1]["carbon"]
    status = day_plans(False)[0]["carbon"]["status"]
    return (f"{variables} variables ({integers} integer), {constraints} constraints, the carbon plan "
            f"{'solved to optimality' if status == 'optimal' else f'ending with status {status}'}")


@producer("planning-day-capacity")
def _():
    entries, sims = day_plans(False)[2]
    return f"{entries} entries ({sims} simulations)"


@functools.cache
def week_plan():
    """bench/planner_week.yaml's carbon plan (the baselines left out) from an empty cache: (plan file, stderr)."""
    out = Path(TMP) / "week.plan.yaml"
    _, err = gf("plan", "bench/planner_week.yaml", "-o", out, "--set", f"capacity.cache={TMP}/capacity-week",
                "--set", "baselines=[]")
    return plan_file(out), err


@producer("planning-week-capacity")
def _():
    entries, sims = capacity_counts(week_plan()[1], week_plan()[0])
    return f"{entries} entries ({sims} simulations)"


@producer("planning-week-size")
def _():
    p = week_plan()[0]["plans"][0]
    return (f"{thousands(p['variables'])} variables ({thousands(p['integer_variables'])} integer), "
            f"{thousands(p['constraints'])} constraints")


@producer("planning-error")
def _():
    day_plans(False)  # fills the cache (its capacity counts need an empty one)
    _, err = gf("plan", "experiments/planning/day.yaml", "-q", "-o", Path(TMP) / "never.plan.yaml", "--set",
                f"capacity.cache={TMP}/capacity-day", "--set", "servers=[{sku: hgx-h100x8, max_count: 1}]", "--set",
                "classes.0.online.mean=300", expect=2)
    return fence(err.splitlines()[-1])


@producer("planning-reduce-day")
def _():
    a, b = day_plans(False)[0]["carbon"], day_plans(True)[0]["carbon"]
    return (f"{b['total']:.2f} instead of {a['total']:.2f} kgCO2e ({100 * (b['total'] / a['total'] - 1):.1f}%: "
            f"embodied {a['emb']:.2f} -> {b['emb']:.2f} kg, operational {a['op']:.2f} -> {b['op']:.2f} kg)")


@producer("planning-reduce-host")
def _():
    day_plans(True)
    p = plan_file(Path(TMP) / "day-menu.plan.yaml")
    a = plan_file(Path(TMP) / "day.plan.yaml")["plans"][0]["servers"]
    b = p["plans"][0]["servers"]
    same = [(s["sku"], s["bought"]) for s in a] == [(s["sku"], s["bought"]) for s in b]
    hosts = {s.get("host", "default") for s in b}
    if not same or len(b) != 1 or hosts != {"reduced"}:
        return "not the same servers: " + ", ".join(f"{s['bought']} {s['sku']} ({s.get('host', 'default')} host)"
                                                   for s in b)
    t = next(t for t in p["server_types"] if t["sku"] == b[0]["sku"] and t.get("host") == "reduced")
    return (f"the same {'single ' if b[0]['bought'] == 1 else ''}`{t['sku']}`, on its reduced host "
            f"({t['dram_gb']:.0f} GB DRAM, {t['ssd_gb']:.0f} GB SSD)")


@producer("planning-reuse-dram")
def _():
    p = reuse_plan("servers.0.hosts=[default, reduced]")
    default, reduced = (next(t for t in p["server_types"] if t["sku"] == "hgx-h100x8" and t.get("host") == h)
                        for h in (None, "reduced"))
    c = reduced["cpu_instances"]
    os_gb, swap_gb = 32, 4 * reduced["gpus"]
    weights = reduced["dram_gb"] - c["dram_gb"] - os_gb - swap_gb
    fit = int(c["dram_gb"] // c["dram_gb_each"])
    cores = (c["host_cores"] - c["reserved_cores"]) // c["cores_each"]
    dimms = "16 channels x 16 GB = " if reduced["dram_gb"] == 256 else ""
    full = default["cpu_instances"]["dram_gb"] + weights + os_gb + swap_gb
    return (f"{weights:.2f} + {swap_gb} + {os_gb} = {weights + swap_gb + os_gb:.2f} GB rounded to {dimms}"
            f"{reduced['dram_gb']:.0f} GB, {c['dram_gb']:.2f} GB for CPU instances ({WORDS.get(fit, fit)} of "
            f"{c['dram_gb_each']} GB where the cores allow {WORDS.get(cores, cores)}), against "
            f"{default['cpu_instances']['dram_gb']:,.2f} GB on the {full:,.0f} GB default host")


@functools.cache
def day_cost(menu):
    """day.yaml's cost plan alone, on default hosts or with every SKU's Reduce menu: its plan file's report."""
    day_plans(False)
    out = Path(TMP) / f"day-cost{'-menu' if menu else ''}.plan.yaml"
    args = ["plan", "experiments/planning/day.yaml", "-q", "-o", out, "--set", f"capacity.cache={TMP}/capacity-day",
            "--set", "objective={name: cost}", "--set", "baselines=[]"]
    if menu:
        for n in range(4):
            args += ["--set", f"servers.{n}.hosts=[default, reduced]"]
    gf(*args)
    return plan_file(out)["plans"][0]


@producer("planning-reduce-cost", slow=True)
def _():
    a, b = day_cost(True), day_cost(False)
    stop = {"node_limit": f"stops at the node limit ({thousands(a['nodes'])} nodes)",
            "optimal": "is solved to optimality"}.get(a["status"], f"ends with status {a['status']}")
    return (f"its search {stop} with a {100 * a['gap']:.1f}% gap (the same plan without the menu: "
            f"{'solved to optimality' if b['status'] == 'optimal' else b['status']}, {thousands(b['nodes'])} nodes)")


@producer("planning-reduce-performance")
def _():
    a, b = day_plans(False)[0]["performance"], day_plans(True)[0]["performance"]
    return f"{b['total']:.2f} kg, {'unchanged' if b['total'] == a['total'] else 'changed'}"


@functools.cache
def split_plan(only, short=False):
    """experiments/planning/split.yaml (with `split: only` if `only`; 200 requests per instance and a warm-up of 20
    if `short`): ({(sku, role): (rate, watts)}, {objective: total kg})."""
    out = Path(TMP) / f"split{'-only' if only else ''}{'-short' if short else ''}.plan.yaml"
    args = ["plan", "experiments/planning/split.yaml", "-q", "-o", out, "--set", f"capacity.cache={TMP}/capacity"]
    if only:
        args += ["--set", "classes.0.split=only"]
    if short:
        args += ["--set", "capacity.requests_per_instance=200", "--set", "capacity.warmup_per_instance=20"]
    text, _ = gf(*args)
    lines = text.splitlines()
    capacity = {}
    head = next(i for i, line in enumerate(lines) if line.split()[:4] == ["class", "server", "tp", "role"])
    for line in lines[head + 1:]:
        p = line.split()
        if len(p) != 7:
            break
        capacity[(p[1], p[3])] = (float(p[4]), float(p[5]))
    head = next(i for i, line in enumerate(lines) if line.split()[:3] == ["plan", "status", "GPUs"])
    totals = {}
    for line in lines[head + 1:]:
        p = line.split()
        if len(p) != 10:
            break
        totals[p[0]] = float(p[6])
    return capacity, totals


SPLIT_TYPES = [("hgx-h100x8", "H100"), ("dgx-a100x8-80gb", "A100"), ("pcie-l40sx4", "L40S"), ("dgx1-v100x8", "V100")]


@producer("planning-split-capacity")
def _():
    c = split_plan(False)[0]
    return ", ".join(f"{label} " + " / ".join(f"{c[(sku, role)][0]:.1f}" for role in ("unified", "prefill", "decode"))
                     for sku, label in SPLIT_TYPES)


@producer("planning-split-short")
def _():
    c = split_plan(False, True)[0]
    h100, v100 = ([c[(sku, role)][0] for role in ("unified", "prefill", "decode")] for sku in ("hgx-h100x8",
                                                                                               "dgx1-v100x8"))
    return (f"on an HGX H100 server a unified instance {h100[0]:.1f} requests/s, prefill {h100[1]:.1f}, decode "
            f"{h100[2]:.1f}; on a DGX-1 V100 unified {v100[0]:.1f}, prefill {v100[1]:.1f}, decode {v100[2]:.1f} "
            "requests/s")


@producer("planning-split-h100")
def _():
    c = split_plan(False)[0]
    u, p, d = (c[("hgx-h100x8", role)][0] for role in ("unified", "prefill", "decode"))
    return f"the H100's unified entry is {u:.1f} requests/s, its prefill entry {p:.1f} and its decode entry {d:.1f}"


@producer("planning-split-watts")
def _():
    c = split_plan(False)[0]
    (u, wu), (p, wp), (d, wd) = (c[("hgx-h100x8", role)] for role in ("unified", "prefill", "decode"))
    return (f"{wu:.0f} W / {u:.1f} = {wu / u:.0f} W per request/s, a prefill plus a decode instance "
            f"{wp:.0f} / {p:.1f} + {wd:.0f} / {d:.1f} = {wp / p + wd / d:.0f} W")


@producer("planning-split-carbon")
def _():
    return f"{split_plan(False)[1]['carbon']:.2f} kgCO2e"


@producer("planning-split-only")
def _():
    a, b = split_plan(False)[1]["carbon"], split_plan(True)[1]["carbon"]
    return f"{b:.2f} kgCO2e ({100 * (b / a - 1):+.1f}%)"


# ---------------------------------------------------------------------------------------------------------------
# docs/PLANNING.md, "Executing a plan": experiments/planning/day_run.yaml run on each plan of day.yaml (slow: four
# runs of a simulated day, 8 million requests each)

RUN_PLANS = ("carbon", "energy", "cost")
NO_BATCH = "workload.classes.2.trace.synthetic.requests=1"


@functools.cache
def day_run(objective, *sets):
    """`greenfleet run day_run.yaml --plan` on day.yaml's plan: ({class: (arrived, achieved %, met)}, unplanned
    boots, differing rows, rows)."""
    day_plans(False)
    out = Path(TMP) / f"day-run{next(RUNS)}.h5"
    args = ["run", "experiments/planning/day_run.yaml", "-o", out, "--plan", Path(TMP) / "day.plan.yaml",
            "--plan-objective", objective]
    for s in sets:
        args += ["--set", s]
    text, _ = gf(*args)
    classes = {m.group(1): (int(m.group(2)), float(m.group(3)), m.group(4) == "met") for m in re.finditer(
        r"^  (\S+) +(?:online|offline) .* (\d+) +\d+ +([\d.]+)% +\d+% +(met|NOT MET)$", text, re.M)}
    m = re.search(r"servers on differ from the plan: (\d+) of (\d+); unplanned boots: (\d+)$", text, re.M)
    if not classes or not m:
        sys.exit(f"examples.py: no plan report in the output of greenfleet {' '.join(map(str, args))}")
    return classes, int(m.group(3)), int(m.group(1)), int(m.group(2))


def day_plan(objective):
    return next(p for p in plan_file(Path(TMP) / "day.plan.yaml")["plans"] if p["objective"] == objective)


def plan_servers(plan):
    rows = []
    for s in plan["servers"]:
        on = s["on"]
        when = "on all day" if min(on) == max(on) == s["bought"] else f"{sum(on) / len(on):.2f} on on average"
        rows.append(f"{s['bought']} {s['sku']}" + (f" ({s['host']} host)" if "host" in s else "") + f", {when}")
    return "; ".join(rows)


def attainment(c):
    achieved, met = c[1], c[2]
    return f"{achieved:.2f}%" if met else f"**{achieved:.2f}%**"


@producer("planning-run-table", slow=True)
def _():
    head = ("| plan | servers | chat (promised 90%) | code (90%) | batch (100%) | unplanned boots |\n"
            "|---|---|---|---|---|---|\n")
    rows = []
    for o in RUN_PLANS:
        classes, boots, _, _ = day_run(o)
        cells = " | ".join(attainment(classes[c]) for c in ("chat", "code", "batch"))
        rows.append(f"| {o} | {plan_servers(day_plan(o))} | {cells} | {boots} |")
    return "\n" + head + "\n".join(rows) + "\n"


@producer("planning-run-rows", slow=True)
def _():
    runs = [day_run(o) for o in RUN_PLANS]
    requests = sum(n for n, _, _ in runs[0][0].values())
    differing = {r[2] for r in runs}
    rows = sorted({r[3] for r in runs})
    return (f"{requests / 1e6:.1f} million requests. Every plan's servers on at each slot's start "
            f"{'equal' if differing == {0} else 'differ from'} the plan's ({'/'.join(map(str, sorted(differing)))} "
            f"differing rows of {' or '.join(map(str, rows))})")


@producer("planning-run-cost", slow=True)
def _():
    full, nobatch = day_run("cost")[0], day_run("cost", NO_BATCH)
    missed = [c for c in ("chat", "code") if not full[c][2]]
    boots = nobatch[1]
    return (f"The cost plan misses 90% for {' and '.join(missed) if missed else 'no online class'}"
            f" ({', '.join(f'{c} {full[c][1]:.2f}%' for c in ('chat', 'code'))}). Why, measured: without the batch "
            f"(`--set {NO_BATCH}`) chat reaches {nobatch[0]['chat'][1]:.2f}% and code "
            f"{nobatch[0]['code'][1]:.2f}% ({plural(boots, 'unplanned boot')}), so the batch backlog sharing the "
            f"instances costs code {nobatch[0]['code'][1] - full['code'][1]:.1f} points and chat "
            f"{nobatch[0]['chat'][1] - full['chat'][1]:.1f}")


@producer("planning-run-spare", slow=True)
def _():
    plan = day_plan("cost")
    p = plan_file(Path(TMP) / "day.plan.yaml")
    gpus = {t["sku"]: t["gpus"] for t in p["server_types"]}
    slots = p["slots"]
    on = sum(sum(s["on"]) for s in plan["servers"]) / slots
    gpus_on = sum(sum(s["on"]) * gpus[s["sku"]] for s in plan["servers"]) / slots
    used = sum(gpu_instances(p, plan)) / slots
    bought = sum(s["bought"] for s in plan["servers"])
    return f"{on:.2f} servers on of {bought} on average, whose {gpus_on:.1f} GPUs hold {used:.1f} GPU instances"


@producer("planning-run-forecast", slow=True)
def _():
    text = (Path(TMP) / "day.out").read_text(encoding="utf-8")
    m = re.search(r"class 'chat': actual demand above the planned capacity in (\d+) of (\d+) slots", text)
    return f"{m.group(1)} of {m.group(2)} slots"


# ---------------------------------------------------------------------------------------------------------------
# docs/PLANNING.md, "CPU instances (Reuse)": experiments/planning/reuse.yaml, as given and at ten times the demand

WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
REUSE_10X = ("classes.0.online.mean=600", "classes.1.offline.requests=574177", "classes.1.offline.period=1h",
             "classes.1.offline.deadline=1h")


@functools.cache
def reuse_plan(*sets):
    """experiments/planning/reuse.yaml with --set overrides: the plan file, parsed."""
    out = Path(TMP) / f"reuse{next(RUNS)}.plan.yaml"
    args = ["plan", "experiments/planning/reuse.yaml", "-q", "-o", out, "--set",
            f"capacity.cache={TMP}/capacity-reuse"]
    for s in sets:
        args += ["--set", s]
    gf(*args)
    return plan_file(out)


def reuse_entries(p):
    """(CPU entry, the batch's GPU entry on hgx-h100x8, hgx-h100x8's type) of a reuse plan file."""
    cpu = next(e for e in p["capacity"] if e.get("device") == "cpu")
    gpu = next(e for e in p["capacity"] if e["class"] == "batch" and e["sku"] == "hgx-h100x8" and "device" not in e)
    h100 = next(t for t in p["server_types"] if t["sku"] == "hgx-h100x8")
    return cpu, gpu, h100


def cpu_per_server(h100):
    c = h100["cpu_instances"]
    return min((c["host_cores"] - c["reserved_cores"]) // c["cores_each"], int(c["dram_gb"] // c["dram_gb_each"]))


def cpu_requests(plan):
    return plan.get("cpu_offline_requests", 0)


def servers(plan):
    return ", ".join(f"{WORDS.get(s['bought'], s['bought'])} {s['sku']}" for s in plan["servers"])


def gpu_instances(p, plan):
    """Per slot, the GPU instances (all classes) of a plan: their GPUs over the types' GPUs per server."""
    slots = [0.0] * p["slots"]
    for i in plan["instances"]:
        if i.get("device") != "cpu":
            for t, y in enumerate(i["per_slot"]):
                slots[t] += y * i["tensor_parallel"]
    return slots


@producer("planning-reuse-cpu")
def _():
    cpu, gpu, h100 = reuse_entries(reuse_plan())
    k = cpu_per_server(h100)
    w_cpu, w_gpu = cpu["active_w"] / cpu["rate"], gpu["active_w"] / gpu["rate"]
    return (f"{cpu['rate']:.4g} requests/s per {cpu['cores']}-core CPU instance at {cpu['active_w']:.0f} W, i.e. "
            f"{w_cpu:.0f} W per request/s, against {gpu['active_w']:.0f} W / {gpu['rate']:.1f} = {w_gpu:.1f} W per "
            f"request/s for the batch on an H100 GPU instance: {w_cpu / w_gpu:.0f} times the energy per request, "
            f"and the {WORDS.get(k, k)} CPU instances of a server add {k * cpu['rate']:.2f} requests/s beside its "
            f"GPUs' {h100['gpus'] * gpu['rate']:.0f}")


@producer("planning-reuse-day")
def _():
    p, g = reuse_plan(), reuse_plan("classes.1.device=gpu")
    using = sum(cpu_requests(plan) > 0 for plan in p["plans"])
    a, b = p["plans"][0], g["plans"][0]
    total = f"{a['operational_kg'] + a['embodied_kg']:.2f}"
    same = servers(a) == servers(b) and total == f"{b['operational_kg'] + b['embodied_kg']:.2f}"
    all_day = all(min(s["on"]) == max(s["on"]) == s["bought"] for s in a["servers"])
    uses = f"{using} of {len(p['plans'])} plans use them" if using else "No plan uses them"
    return (f"{uses}: "
            f"the carbon plan is {servers(a)} server{'s' if sum(x['bought'] for x in a['servers']) > 1 else ''}"
            f"{' on all day' if all_day else ''} ({total} kgCO2e), "
            f"{'the same' if same else 'not the same'} with `--set classes.1.device=gpu`")


@producer("planning-reuse-10x")
def _():
    p, g = reuse_plan(*REUSE_10X), reuse_plan(*REUSE_10X, "classes.1.device=gpu")
    cpu, gpu, h100 = reuse_entries(p)
    peak = max(gpu_instances(g, g["plans"][0]))
    bought = {name: sum(s["bought"] for s in f["plans"][0]["servers"]) for name, f in (("with", p), ("without", g))}
    n = bought["without"]
    sliver = (peak - h100["gpus"] * (n - 1)) * gpu["rate"]
    same = "with or without Reuse" if bought["with"] == n else f"({bought['with']} with Reuse)"
    return (f"the peak needs {peak:.1f} GPU instances: {WORDS.get(n, n)} servers {same} (saving the "
            f"{'sixth' if n == 6 else f'{n}th'} would take {sliver:.0f} requests/s from the CPU instances of "
            f"{WORDS.get(n - 1, n - 1)} servers, {(n - 1) * cpu_per_server(h100) * cpu['rate']:.1f} are there)")


@producer("planning-reuse-10x-sliver")
def _():
    p, g = reuse_plan(*REUSE_10X), reuse_plan(*REUSE_10X, "classes.1.device=gpu")
    a, b = p["plans"][0], g["plans"][0]
    cpu_slots = [t for t in range(p["slots"]) if any(i["per_slot"][t] > 0 for i in a["instances"]
                                                   if i.get("device") == "cpu")]
    gpus = gpu_instances(p, a)
    on = lambda plan, t: sum(s["on"][t] for s in plan["servers"])
    ta, tb = (x["operational_kg"] + x["embodied_kg"] for x in (a, b))
    need = gpu_instances(g, b)
    slots = "; ".join(
        f"slot {t}: {need[t]:.2f} GPU instances on {on(b, t)} servers without Reuse, {gpus[t]:.2f} GPU and "
        f"{sum(i['per_slot'][t] for i in a['instances'] if i.get('device') == 'cpu'):.2f} CPU instances on "
        f"{on(a, t)} with it" for t in cpu_slots)
    bound = "the same bound" if f"{a['bound']:.6g}" == f"{b['bound']:.6g}" else "different bounds"
    return (f"{len(cpu_slots)} of its {p['slots']} slots ({slots}), {cpu_requests(a):.0f} requests in all; "
            f"{ta:.2f} kgCO2e against {tb:.2f} without Reuse ({100 * (ta / tb - 1):+.1f}%, with gaps of "
            f"{100 * a['gap']:.2f}% and {100 * b['gap']:.2f}% to {bound})")


@producer("planning-reuse-ratio")
def _():
    gpus = [f["plans"][0]["gpus_bought"] for f in (reuse_plan(*REUSE_10X), reuse_plan(*REUSE_10X,
                                                                                   "classes.1.device=gpu"))]
    return f"{gpus[1] / gpus[0]:.2f}x"


@producer("planning-reuse-tokens")
def _():
    import yaml
    base = yaml.safe_load((ROOT / "experiments/quickstart.yaml").read_text(encoding="utf-8"))
    out = base["workload"]["synthetic"]["output_tokens"]
    if out["distribution"] != "lognormal":
        sys.exit("examples.py: planning-reuse-tokens reads a lognormal mean from experiments/quickstart.yaml")
    cpu = reuse_entries(reuse_plan())[0]
    return f"{cpu['rate'] * out['mean']:.0f} tokens/s"


# ---------------------------------------------------------------------------------------------------------------
# docs/CARBON.md: `greenfleet list servers --embodied`


@functools.cache
def embodied():
    """{sku: {column: value}} and {sku: gpu} from the two server listings."""
    text, _ = gf("list", "servers", "--embodied")
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("id "))
    if lines[head].split() != ["id", "card", "x", "GPUs", "SSD", "DRAM", "CPU", "board", "other", "host", "total",
                               "host", "%", "ACT/card"]:
        sys.exit(f"examples.py: the columns of `greenfleet list servers --embodied` changed: {lines[head]}")
    columns = ["card", "gpus", "ssd", "dram", "cpu", "board", "other", "host", "total", "host_share", "act"]
    table = {}
    for line in lines[head + 1:]:
        if not line.strip():
            break
        parts = line.split()
        table[parts[0]] = dict(zip(columns, (float(x.rstrip("%")) for x in parts[1:])))
    listing, _ = gf("list", "servers")
    gpus = {p[0]: p[1] for p in (line.split() for line in listing.splitlines()[1:]) if p}
    return table, gpus


def card(gpu):
    table, gpus = embodied()
    values = {table[sku]["card"] for sku, g in gpus.items() if g == gpu}
    if len(values) != 1:
        sys.exit(f"examples.py: GPU {gpu} has card values {values} in `greenfleet list servers --embodied`")
    return values.pop()


@producer("embodied-cards")
def _():
    names = [("h100-sxm", "H100 SXM"), ("a100-sxm-80gb", "A100 SXM"), ("t4", "T4"), ("l4", "L4"),
             ("h100-pcie", "H100 PCIe"), ("a40", "A40"), ("v100-pcie-32gb", "V100 PCIe")]
    return ", ".join(f"{label} {card(gpu):.1f}" for gpu, label in names) + " kg"


@producer("embodied-act-h100")
def _():
    table, _ = embodied()
    return f"H100: {table['hgx-h100x8']['act']:.1f} vs {table['hgx-h100x8']['card']:.1f} kg"


@producer("embodied-host-fixed")
def _():
    table, _ = embodied()
    fixed = {r["cpu"] + r["board"] + r["other"] for r in table.values()}
    if len(fixed) != 1:
        sys.exit(f"examples.py: hosts differ in their fixed part: {fixed}")
    return f"{fixed.pop():.1f} kg"


@producer("embodied-hgx-host")
def _():
    r = embodied()[0]["hgx-h100x8"]
    return f"H100 HGX host {thousands(round(r['host']))} kg ({r['host_share']:.0f}% of the 8-GPU node"


@producer("embodied-azure-hosts")
def _():
    t = embodied()[0]
    kg = lambda sku: thousands(round(t[sku]["host"]))  # noqa: E731
    return (f"Azure NDm A100 v4 {kg('azure-ndm-a100-v4')} kg, ND96asr {kg('azure-nd96asr-a100-v4')}, "
            f"NC24ads {kg('azure-nc24ads-a100-v4')}, NC4as T4 {kg('azure-nc4as-t4-v3')}, "
            f"NC64as T4 {kg('azure-nc64as-t4-v3')}")


# ---------------------------------------------------------------------------------------------------------------
# docs/EXPERIMENTS.md: fleet[].host (EcoServe's Reduce)


@producer("reduce-quickstart")
def _():
    full, reduced = summary("quickstart"), summary("quickstart", "fleet.0.host=reduced")
    with h5(run("quickstart", "fleet.0.host=reduced")) as f:
        dram, ssd = f["servers/host_dram_gb"][0], f["servers/host_ssd_gb"][0]
    lines = [f"host: {dram:,.0f} GB DRAM, {ssd:,.0f} GB SSD (default 2,000 and 22,720)"]
    for key, label in [("embodied_host_kg", "host embodied kg"), ("energy_host_kwh", "host energy kWh"),
                       ("carbon_kg", "total carbon kg"), ("embodied_share", "embodied share"),
                       ("g_per_1k_tokens", "gCO2e per 1,000 tokens")]:
        a, b = full[key], reduced[key]
        lines.append(f"{label:<24} {a:.4g} -> {b:.4g} ({100 * (b - a) / a:+.1f}%)")
    return fence("\n".join(lines))


# ---------------------------------------------------------------------------------------------------------------
# docs/ARCHITECTURE.md: fast-forward against the reference mode, KV capacity


REFERENCE = "engine.fast_forward=false"
L4_OVERLOAD = ("fleet.0.sku=pcie-l4x8", "workload.synthetic.rate=60", "workload.synthetic.requests=5000")


@producer("ff-events-quickstart")
def _():
    return (f"{thousands(summary('quickstart')['events'])} against "
            f"{thousands(summary('quickstart', REFERENCE)['events'])}")


@producer("ff-l4-preemptions")
def _():
    a, b = summary("quickstart", *L4_OVERLOAD), summary("quickstart", *L4_OVERLOAD, REFERENCE)
    if a["preemptions"] != b["preemptions"]:
        sys.exit("examples.py: the L4 overload preempts differently in the two modes")
    return f"{thousands(a['requests_arrived'])} requests, {thousands(a['preemptions'])} preemptions"


@producer("ff-l4-events")
def _():
    return (f"{thousands(summary('quickstart', *L4_OVERLOAD)['events'])} against "
            f"{thousands(summary('quickstart', *L4_OVERLOAD, REFERENCE)['events'])} events")


def by_id(path, column):
    import numpy as np
    with h5(path) as f:
        order = np.argsort(f["requests/id"][:])
        return f[f"requests/{column}"][:].astype(np.float64)[order]


@producer("ff-request-energy")
def _():
    import numpy as np
    a, b = by_id(run("quickstart"), "energy_j"), by_id(run("quickstart", REFERENCE), "energy_j")
    return magnitude(float(np.max(np.abs(a - b) / b)))


def gpu_energy_difference(exp):
    with h5(run(exp)) as a, h5(run(exp, REFERENCE)) as b:
        return relative(a["carbon/by_server/energy_gpu_j"][:].sum(), b["carbon/by_server/energy_gpu_j"][:].sum())


@producer("ff-gpu-energy-quickstart")
def _():
    return sci(gpu_energy_difference("quickstart"))


@producer("ff-gpu-energy-azure-conv", data=True)
def _():
    return sci(gpu_energy_difference("azure_conv_2023"))


@producer("ff-identical-times", data=True)
def _():
    """Every shipped experiment in both modes: the largest difference of any request's times."""
    import numpy as np
    worst = 0
    for exp in sorted(p.stem for p in (ROOT / "experiments").glob("*.yaml")):
        for column in ("first_scheduled_ns", "first_token_ns", "completion_ns"):
            a, b = by_id(run(exp), column), by_id(run(exp, REFERENCE), column)
            worst = max(worst, int(np.max(np.abs(a - b))) if a.size else 0)
    if worst == 0:
        return "identical first-token, completion and scheduling times in both modes, to the nanosecond"
    return f"first-token, completion and scheduling times within {worst:,} ns of each other in the two modes"


@producer("kv-capacity-quickstart")
def _():
    """The worked KV-capacity example, by the formula the doc states, checked against the binary's /instances."""
    model = (ROOT / "models/llm/llama-3.1-8b.yaml").read_text()
    get = lambda key: int(re.search(rf"^{key}:\s*(\d+)", model, re.M).group(1))  # noqa: E731
    h, heads, kv_heads, d, layers = get("hidden_size"), get("heads"), get("kv_heads"), get("head_dim"), get("layers")
    params = layers * (2 * h * heads * d + 2 * h * kv_heads * d + 3 * h * get("ffn_size")) + get("vocab_size") * h * 2
    usable = 80 * 2**30 * 0.9 - 1.0 * 1e9  # HBM: the datasheet's 80 GB are GiB
    per_token = 2 * layers * kv_heads * d * 2
    tokens = math.floor((usable - params * 2) / per_token)
    with h5(run("quickstart")) as f:
        blocks = set(int(b) for b in f["instances/kv_blocks"][:])
    if blocks != {tokens // 16}:
        sys.exit(f"examples.py: the KV formula of docs/ARCHITECTURE.md gives {tokens // 16} blocks, the binary {blocks}")
    return (f"{usable / 1e9:.0f} GB usable, {params * 2 / 1e9:.2f} GB of weights and\n"
            f"{per_token // 1024} KiB of KV per token, so {thousands(tokens)} tokens = {thousands(blocks.pop())} blocks")


# ---------------------------------------------------------------------------------------------------------------
# docs/OUTPUT.md


@producer("output-sizes")
def _():
    mb = lambda c: f"{os.path.getsize(run('quickstart', f'output.compression={c}')) / 1e6:.1f} MB"  # noqa: E731
    return f"{mb('szip')} with `szip`, {mb('deflate')} with `deflate`, {mb('none')} with `none`"


@producer("conservation-quickstart")
def _():
    return sci(summary("quickstart")["carbon_conservation_error"])


@producer("carbon-sites-end", data=True)
def _():
    s = summary("carbon_sites")
    with h5(run("carbon_sites")) as f:
        last = f["requests/completion_ns"][:].max() / 1e9
    return (f"{s['simulated_seconds']:,.1f} s, its last completion at {last:,.1f} s, with "
            f"{plural(s['server_boots'], 'boot')} and {plural(s['server_shutdowns'], 'shutdown')}")


@producer("carbon-sites-power", data=True)
def _():
    s = summary("carbon_sites")
    return f"{plural(s['server_boots'], 'boot')}, {plural(s['server_shutdowns'], 'shutdown')}"


@producer("speculative-vs-unified", data=True)
def _():
    """experiments/speculative.yaml against its new-GPU-only baseline."""
    a, b = summary("speculative", "mode_router.name=unified"), summary("speculative")
    return (f"TPOT p50 {b['tpot_p50_s'] * 1000:.1f} ms against {a['tpot_p50_s'] * 1000:.1f} ms on the A100s alone, "
            f"TTFT p50 {b['ttft_p50_s'] * 1000:.0f} ms against {a['ttft_p50_s'] * 1000:.0f} ms, "
            f"{b['spec_tokens_per_round']:.2f} tokens per round, GPU energy "
            f"{(b['energy_gpu_kwh'] / a['energy_gpu_kwh'] - 1) * 100:+.1f}% and total carbon "
            f"{(b['carbon_kg'] / a['carbon_kg'] - 1) * 100:+.1f}%")


@producer("disaggregated-greenllm", data=True)
def _():
    """docs/EXPERIMENTS.md, mode_router: GreenLLM's scheduler on experiments/disaggregated.yaml at 261 and 0 g/kWh."""
    high = summary("disaggregated", "mode_router.name=greenllm")
    low = summary("disaggregated", "mode_router.name=greenllm", "sites.0.carbon_intensity=0")
    every = summary("disaggregated")
    return (f"splits {thousands(high['requests_split'])} of its {thousands(high['requests_arrived'])} requests at "
            f"261 g/kWh and {thousands(low['requests_split'])} at 0 g/kWh, where `always_disaggregated` splits the "
            f"{thousands(every['requests_split'])} that fit a V100")


@producer("cpu-offline", data=True)
def _():
    """experiments/cpu_offline.yaml with carbon_deferral (release at the slot's start, paced) and without."""
    import numpy as np
    rows = ["| router | offline requests deferred | offline requests: operational gCO2e each | energy each (J) | "
            "embodied gCO2e each | completed after the deadline |", "|---|---|---|---|---|---|"]
    runs = (("`carbon_deferral`", ()),
            ("`carbon_deferral`, `release: paced`", ("router.params.release=paced",)),
            ("`least_outstanding_tokens`", ("router.name=least_outstanding_tokens",)))
    for label, sets in runs:
        with h5(run("cpu_offline", *sets)) as f:
            s = f["summary"].attrs
            r = f["requests"]
            offline = r["class"][()] == 1
            op = float(np.mean(r["operational_g"][()][offline].astype(np.float64)))
            joules = float(np.mean(r["energy_j"][()][offline].astype(np.float64)))
            emb = float(np.mean(r["embodied_g"][()][offline].astype(np.float64)))
            late = int(s["requests_completed_offline"] - round(s["slo_attainment_offline"] *
                                                                s["requests_completed_offline"]))
            deferred = int(s["requests_deferred"]) if "requests_deferred" in s else 0
            rows.append(f"| {label} | {thousands(deferred)} of {thousands(int(offline.sum()))} | {op:.4f} | "
                        f"{joules:,.0f} | {emb:.4f} | {late} |")
    return "\n" + "\n".join(rows) + "\n"


@producer("cpu-offline-saving", data=True)
def _():
    import numpy as np
    ops = []
    for sets in ((), ("router.name=least_outstanding_tokens",)):
        with h5(run("cpu_offline", *sets)) as f:
            r = f["requests"]
            ops.append(float(np.mean(r["operational_g"][()][r["class"][()] == 1].astype(np.float64))))
    return f"{(1 - ops[0] / ops[1]) * 100:.0f}%"


@producer("python-example")
def _():
    """Runs the snippet of docs/OUTPUT.md, taken from the doc, on a fresh quick-start output."""
    doc = (ROOT / "docs/OUTPUT.md").read_text()
    m = re.search(r"## Reading the file from Python.*?```python\n(.*?)```", doc, re.S)
    work = Path(TMP) / "python-example"
    (work / "out").mkdir(parents=True)
    shutil.copy(run("quickstart"), work / "out/quickstart.h5")
    p = subprocess.run([sys.executable, "-c", m.group(1)], cwd=work, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        sys.exit(f"examples.py: the Python example of docs/OUTPUT.md failed:\n{p.stderr}")
    first, rest = p.stdout.split("\n", 1)
    first = re.sub(r" git \S+$", " git <revision of your build>", first)
    return fence(first + "\n" + rest)


# ---------------------------------------------------------------------------------------------------------------
# Comparing two runs (docs/OUTPUT.md): the pandas snippet's output and `greenfleet compare` on the same two runs


def rr_and_lot():
    """The quick start with round-robin (A) and with its own router, least outstanding tokens (B)."""
    return run("quickstart", "router.name=round_robin"), run("quickstart")


@producer("compare-two-runs-output")
def _():
    """Runs the pandas snippet of docs/OUTPUT.md, taken from the doc, on the two runs it names."""
    doc = (ROOT / "docs/OUTPUT.md").read_text()
    m = re.search(r"<!-- example: compare-two-runs -->\s*```python\n(.*?)```", doc, re.S)
    work = Path(TMP) / "compare-two-runs"
    (work / "out").mkdir(parents=True)
    a, b = rr_and_lot()
    shutil.copy(a, work / "out/rr.h5")
    shutil.copy(b, work / "out/lot.h5")
    p = subprocess.run([sys.executable, "-c", m.group(1)], cwd=work, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        sys.exit(f"examples.py: the pandas example of docs/OUTPUT.md failed:\n{p.stderr}")
    return fence(p.stdout)


@producer("compare-two-runs-cis")
def _():
    a, b = rr_and_lot()
    out, _ = gf("compare", a, b, "--format", "json")
    metrics = {m["key"]: m["runs"][1] for m in json.loads(out)["metrics"]}

    def pct(key, label):
        r = metrics[key]
        return f"{label} {r['rel'] * 100:+.3g}% [{r['rel_lo'] * 100:+.3g}%, {r['rel_hi'] * 100:+.3g}%]"

    method = metrics["carbon_kg"]["method"].replace("-", " ")
    return (f"{pct('tpot_p99_s', 'TPOT p99')}, {pct('ttft_p99_s', 'TTFT p99')}, "
            f"{pct('carbon_kg', 'total carbon')} ({method})")


# ---------------------------------------------------------------------------------------------------------------
# Sizes of the shipped trace experiments (README.md)


@producer("requests-azure-conv", data=True)
def _():
    return thousands(summary("azure_conv_2023")["requests_arrived"])


@producer("requests-azure-code", data=True)
def _():
    return thousands(summary("azure_code_2023")["requests_arrived"])


@producer("requests-mooncake", data=True)
def _():
    return thousands(summary("mooncake_conversation")["requests_arrived"])


@producer("tpot-roofline-calibrated", data=True)
def _():
    base = ("deployments.0.model=llama-2-70b",)
    roof = summary("azure_conv_2023", *base)["tpot_mean_s"]
    cal = summary("azure_conv_2023", *base, "deployments.0.perf_model.kind=calibrated")["tpot_mean_s"]
    return f"TPOT {roof * 1e3:.0f} vs {cal * 1e3:.0f} ms"


# ---------------------------------------------------------------------------------------------------------------
# Error messages (README.md, docs/EXPERIMENTS.md)


def typo_copy(name, source, old, new, count=1):
    """A copy of an experiment with one edit, in a scratch folder shown as /tmp; returns its path."""
    folder = Path(TMP) / "errors"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text((ROOT / source).read_text().replace(old, new, count))
    return path


def shown(line):
    return line.replace(str(Path(TMP) / "errors"), "/tmp")


@producer("error-typo-quickstart")
def _():
    path = typo_copy("quickstart_typo.yaml", "experiments/quickstart.yaml", "max_batched_tokens: 2048",
                     "max_batched_tokns: 2048")
    return fence("$ cp experiments/quickstart.yaml /tmp/quickstart_typo.yaml\n"
                 "$ sed -i 's/max_batched_tokens: 2048/max_batched_tokns: 2048/' /tmp/quickstart_typo.yaml\n"
                 "$ ./build/greenfleet run /tmp/quickstart_typo.yaml\n"
                 f"{shown(error(path))}\n$ echo $?\n2")


@producer("error-typo-carbon", data=True)
def _():
    path = typo_copy("carbon_typo.yaml", "experiments/carbon_sites.yaml", "format: electricitymaps",
                     "format: electricitymap")
    return fence("$ cp experiments/carbon_sites.yaml /tmp/carbon_typo.yaml\n"
                 "$ sed -i '0,/format: electricitymaps/s//format: electricitymap/' /tmp/carbon_typo.yaml\n"
                 "$ ./build/greenfleet run /tmp/carbon_typo.yaml\n"
                 f"{shown(error(path, '--data-dir', DATA))}")


def typo_line(name):
    error_line = next(x for x in PRODUCERS[name][0]().splitlines() if x.startswith("error:"))
    return re.match(r"error: [^:]+:(\d+):", error_line).group(1)


@producer("error-typo-quickstart-line")
def _():
    return typo_line("error-typo-quickstart")


@producer("error-typo-carbon-line", data=True)
def _():
    return typo_line("error-typo-carbon")


@producer("error-sku-line")
def _():
    line = error("experiments/quickstart.yaml", "--set", QUICKSTART_ERRORS[0])
    return re.match(r"error: experiments/quickstart.yaml:(\d+):\d+: fleet\[0\].sku:", line).group(1)


@producer("error-set-model")
def _():
    return fence("$ ./build/greenfleet run experiments/quickstart.yaml --set deployments.0.model=llama-3.1-80b\n"
                 + error("experiments/quickstart.yaml", "--set", "deployments.0.model=llama-3.1-80b"))


@producer("error-set-malformed")
def _():
    return fence("\n".join(error("experiments/quickstart.yaml", "--set", s) for s in ("fleet.3.count=2",
                                                                                      "slo.ttft.x=1")))


# docs/EXPERIMENTS.md, "Sweeps": tests/study/sweep_small.yaml copied as sweep.yaml with one edit each, checked by
# `greenfleet sweep -n` from the copy's folder (so the file shows as sweep.yaml).
SWEEP_ERRORS = [("    router.name: [", "    router.nmae: ["),
                ("    workload.synthetic.rate: [40, 80]", "    workload.synthetic.rate: [40, -3]"),
                ("  grid:", "  gird:")]


@producer("error-sweep")
def _():
    lines = []
    for i, (old, new) in enumerate(SWEEP_ERRORS):
        folder = Path(TMP) / f"sweep_error{i}"
        folder.mkdir()
        source = (ROOT / "tests/study/sweep_small.yaml").read_text()
        if source.count(old) != 1:
            sys.exit(f"examples.py: tests/study/sweep_small.yaml no longer has '{old.strip()}' once")
        (folder / "sweep.yaml").write_text(source.replace(old, new))
        _, err = gf("sweep", "sweep.yaml", "-n", "-o", folder / "never", cwd=folder, expect=2)
        lines.append(next(x for x in err.splitlines() if x.startswith("error:")))
    return fence("\n".join(lines))


# traces/README.md: a trace that is in neither the data directory nor beside the experiment.
@producer("error-data-missing")
def _():
    return fence(error("experiments/azure_conv_2023.yaml", "--data-dir", "/nonexistent"))


QUICKSTART_ERRORS = ["deployments.0.model=llama-3.1-70b", "workload.synthetic.arrivals=gama",
                     "workload.synthetic.rate=-1", "slo.ttft=500 ms",
                     ("workload.synthetic.arrivals=gamma", "workload.synthetic.diurnal.amplitude=0.5"),
                     "fleet.0.power.policy=sleep", "fleet.0.bogus=1",
                     "deployments.0.scheduler.max_batched_tokens=100", "fleet.0.count=100000",
                     "sites.0.carbon_intensity={kind: solar, base: 300, dip: 400}"]


@producer("error-more")
def _():
    lines = []
    for sets in QUICKSTART_ERRORS:
        args = ["experiments/quickstart.yaml"]
        for s in (sets,) if isinstance(sets, str) else sets:
            args += ["--set", s]
        lines.append(error(*args))
    bad = Path(TMP) / "errors"
    bad.mkdir(exist_ok=True)
    (bad / "syn.yaml").write_text(SYNTAX_ERROR)
    lines.append(shown(error(bad / "syn.yaml")))
    return fence("\n".join(lines))


SYNTAX_ERROR = "name: syn\nseed: 1\nsites:\n  - name: a\n    pue: 1.0\n carbon_intensity: 10\n"


@producer("error-syntax-file")
def _():
    return fence(SYNTAX_ERROR)


@producer("error-more-data", data=True)
def _():
    return fence("\n".join(error("experiments/carbon_sites.yaml", "--data-dir", DATA, "--set", s)
                           for s in ("carbon.lifetimes.gpu=30min", "sites.1.carbon_intensity.format=eia930")))


@producer("readme-errors")
def _():
    typo = PRODUCERS["error-typo-quickstart"][0]()
    line = next(x for x in typo.splitlines() if x.startswith("error:"))
    line = line[:line.index("expected one of: ") + len("expected one of: ")] + "..."
    return fence(line + "\n" + error("experiments/quickstart.yaml", "--set", "fleet.0.power.policy=sleep"))


# ---------------------------------------------------------------------------------------------------------------
# The lifecycle study (docs/LIFECYCLE.md): experiments/lifecycle/recycle.yaml at its own grid and at 17 g/kWh


@functools.cache
def lifecycle(*sets):
    """(the printed table without the `wrote` line, the CSV rows as dicts) of the worked example."""
    import csv
    out = Path(TMP) / f"lifecycle{next(RUNS)}.csv"
    args = ["lifecycle", "experiments/lifecycle/recycle.yaml", "-q", "-o", out]
    for s in sets:
        args += ["--set", s]
    text, _ = gf(*args)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    return "\n".join(line for line in text.splitlines() if not line.startswith("wrote ")).rstrip() + "\n", rows


LOW_CI = "carbon_intensity=17"


def lifecycle_totals(*sets):
    totals = {}
    for r in lifecycle(*sets)[1]:
        t = totals.setdefault(r["policy"], {"op": 0.0, "emb": 0.0, "total": 0.0, "bought": 0.0})
        t["op"] += float(r["operational_t"])
        t["emb"] += float(r["embodied_gpu_t"]) + float(r["embodied_host_t"])
        t["total"] += float(r["total_t"])
        t["bought"] += float(r["bought_t"])
    return totals


def lifecycle_saving(*sets, against="homogeneous-4y", key="total"):
    t = lifecycle_totals(*sets)
    return f"{100 * (1 - t['recycle'][key] / t[against][key]):.1f}%"


@producer("lifecycle-table")
def _():
    return fence(lifecycle()[0])


@producer("lifecycle-table-17")
def _():
    text = lifecycle(LOW_CI)[0]
    return fence(text[text.rindex("\npolicy ") + 1:])


@producer("lifecycle-change-261")
def _():
    t = lifecycle_totals()
    change = 100 * (t["recycle"]["total"] / t["homogeneous-4y"]["total"] - 1)
    return f"{abs(change):.1f}% {'more' if change > 0 else 'less'}"


@producer("lifecycle-saving-17")
def _():
    return lifecycle_saving(LOW_CI)


@producer("lifecycle-saving-3y-261")
def _():
    return lifecycle_saving(against="homogeneous-3y")


@producer("lifecycle-saving-3y-17")
def _():
    return lifecycle_saving(LOW_CI, against="homogeneous-3y")


@producer("lifecycle-embodied-saving")
def _():
    return lifecycle_saving(key="emb")


@producer("lifecycle-bought")
def _():
    t = lifecycle_totals()
    return f"{t['recycle']['bought']:.1f} t against {t['homogeneous-4y']['bought']:.1f} t"


@producer("lifecycle-simulations")
def _():
    return lifecycle()[0].splitlines()[0].split(", ")[-1]


# ---------------------------------------------------------------------------------------------------------------


def warm(has_data, slow):
    """Starts the slow runs side by side, so that the producers find them done (the caches are per argument)."""
    from concurrent.futures import ThreadPoolExecutor
    if slow:
        day_plans(False)  # the plan file the runs read
    calls = [(run, "quickstart"), (run, "quickstart", REFERENCE), (run, "quickstart", *L4_OVERLOAD),
             (run, "quickstart", *L4_OVERLOAD, REFERENCE), (embodied,), (week_plan,), (reuse_plan,)]
    calls += [(run, "quickstart", f"output.compression={c}") for c in ("szip", "deflate", "none")]
    if has_data:
        base = ("deployments.0.model=llama-2-70b",)
        calls += [(validate,), (run, "azure_conv_2023", *base),
                  (run, "azure_conv_2023", *base, "deployments.0.perf_model.kind=calibrated")]
        calls += [(run, p.stem, *mode) for p in (ROOT / "experiments").glob("*.yaml") if p.stem != "quickstart"
                  for mode in ((), (REFERENCE,))]
    if slow:
        calls += [(day_run, o) for o in RUN_PLANS] + [(day_run, "cost", NO_BATCH)]
        calls += [(day_cost, True), (day_cost, False)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(fn, *args) for fn, *args in calls]:
            future.result()


def main():
    global BIN, TMP, DATA, DATA_PATH
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 with a diff when the docs differ")
    ap.add_argument("--slow", action="store_true",
                    help="also the passages that take minutes of simulation (docs/PLANNING.md's executed plans)")
    ap.add_argument("binary", nargs="?", default=str(ROOT / "build/greenfleet"))
    args = ap.parse_args()
    try:
        import h5py  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:
        print(f"skipped: {e} (Debian's /usr/bin/python3 has h5py and numpy)")
        sys.exit(77)
    BIN = os.path.abspath(args.binary)
    if not os.access(BIN, os.X_OK):
        sys.exit(f"examples.py: no greenfleet binary at {BIN}; build it first (README.md)")
    if os.environ.get("GREENFLEET_DATA"):
        DATA_PATH = Path(os.environ["GREENFLEET_DATA"]).resolve()
        DATA = str(DATA_PATH)
    else:
        DATA_PATH = (ROOT / "../shared/data").resolve()
        DATA = "../shared/data"
    has_data = DATA_PATH.is_dir()

    docs = {name: (ROOT / name).read_text(encoding="utf-8") for name in DOCS}
    used = {m.group(1) for text in docs.values() for m in MARKER.finditer(text)}
    unknown = sorted(used - set(PRODUCERS))
    unused = sorted(set(PRODUCERS) - used)
    if unknown or unused:
        sys.exit("examples.py: " + "; ".join(
            ([f"markers without a producer: {', '.join(unknown)}"] if unknown else []) +
            ([f"producers without markers: {', '.join(unused)}"] if unused else [])))

    TMP = tempfile.mkdtemp(prefix="greenfleet-examples-")
    try:
        warm(has_data, args.slow)
        texts, skipped, slow = {}, [], []
        for name in sorted(used):
            fn, needs_data = PRODUCERS[name]
            if needs_data and not has_data:
                skipped.append(name)
                continue
            if name in SLOW and not args.slow:
                slow.append(name)
                continue
            texts[name] = fn()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    for name in skipped:
        print(f"skipped {name}: needs {DATA} (the public data; traces/README.md)")
    if slow:
        print(f"skipped {', '.join(slow)}: slow (--slow runs them)")

    def replace(m):
        name = m.group(1)
        if name not in texts:
            return m.group(0)
        return f"<!-- example:{name} -->{texts[name]}<!-- end example:{name} -->"

    differ = False
    for name, text in docs.items():
        new = MARKER.sub(replace, text)
        if new == text:
            continue
        if args.check:
            differ = True
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), new.splitlines(True), name,
                                                       f"{name} (as the binary prints it now)"))
        else:
            (ROOT / name).write_text(new, encoding="utf-8")
            print(f"updated {name}")
    if differ:
        sys.exit("the docs differ from what the binary prints; regenerate them with "
                 "`/usr/bin/python3 docs/examples.py` (after building) and commit the result")
    print(f"examples: {len(texts)} passages checked" if args.check else f"examples: {len(texts)} passages written")


if __name__ == "__main__":
    main()
