#!/usr/bin/env python3
"""GreenLLM's closed form beside simulated savings over a CI grid: regenerates the tables of docs/THEORY.md.

Runs, with the given binary:
  1. `greenfleet theory experiments/disaggregated.yaml --json --ci-step 100`          -> DIR/theory.json
  2. `greenfleet sweep experiments/theory/disaggregated_ci_sweep.yaml -o DIR`          -> DIR/index.csv, runs
     (9 CIs x {unified with the V100 server never powered, always_disaggregated}: 18 full runs)
  3. reads each run's ledger totals (/summary, /carbon) and writes the tables between the markers
     <!-- theory:NAME --> and <!-- end theory:NAME --> of docs/THEORY.md.
  4. draws the registered figure `greenllm_theory` (plots/greenfleet_plots.py DIR --only greenllm_theory).
Simulated savings come from the runs' ledgers only; the closed form is never used to fill them.

Usage: /usr/bin/python3 docs/theory.py [GREENFLEET_BINARY] [-o DIR] [-j N] [--check]
  --check  change nothing; exit 1 when docs/THEORY.md differs from what the runs give now.
Needs the Azure 2023 conversation trace (../shared/data or $GREENFLEET_DATA) and h5py.
"""
import argparse
import csv
import difflib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "THEORY.md"
EXPERIMENT = "experiments/disaggregated.yaml"
SWEEP = "experiments/theory/disaggregated_ci_sweep.yaml"
MARKER = re.compile(r"(<!-- theory:([\w.-]+) -->\n)(.*?)(<!-- end theory:\2 -->)", re.S)


def run(cmd, **kw):
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"error: {' '.join(map(str, cmd))} exited {r.returncode}:\n{r.stderr[-2000:]}")
    return r.stdout


def ledger(path):
    """The ledger's totals of one run (g): the fleet, its GPUs, the GPUs' prefill and decode phases (busy steps
    only: no idle lines, no host, no transfers), and the requests' attribution (steps with their host share)."""
    with h5py.File(path, "r") as f:
        s, c = f["summary"].attrs, f["carbon"].attrs
        ph = f["carbon"]["by_phase"]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in ph["phase"][()]]
        busy = sum(float(ph["operational_gpu_g"][i]) + float(ph["embodied_gpu_g"][i])
                   for i, n in enumerate(names) if n in ("prefill", "decode"))
        e = {n: float(ph["energy_gpu_j"][i]) for i, n in enumerate(names)}
        return {
            "busy_gpu": busy,
            "j_prefill": e["prefill"], "j_decode": e["decode"], "j_idle": e["idle"],
            "j_host": float(s["energy_host_kwh"]) * 3.6e6,
            "j_network": float(c["network_energy_j"]) if "network_energy_j" in c else 0.0,
            "total": float(s["carbon_kg"]) * 1000,
            "gpu": (float(s["operational_gpu_kg"]) + float(s["embodied_gpu_kg"])) * 1000,
            "requests": float(c["requests_operational_g"]) + float(c["requests_embodied_g"]),
            "idle": float(s["idle_carbon_kg"]) * 1000,
            "completed": float(s["requests_completed"]),
            "slo": float(s["slo_attainment"]),
            "split": float(s["requests_split"]) if "requests_split" in s else 0.0,
            "batch_new": decode_batch(f, "new"),
            "batch_old": decode_batch(f, "old"),
        }


def decode_batch(f, deployment):
    """The batch a token sees on the instances of `deployment`: sum b^2 n_b / sum b n_b over the iterations run
    with b sequences (prefill iterations included; a split run's old GPUs run decode iterations only)."""
    inst, servers = f["instances"], f["servers"]
    dep = [d.decode() if isinstance(d, bytes) else str(d) for d in servers["deployment"][()]]
    hist = inst["batch_size_iterations"][()]
    tokens = weighted = 0.0
    for i, server in enumerate(inst["server"][()]):
        if dep[int(server)] != deployment:
            continue
        for b, n in enumerate(hist[i]):
            tokens += b * float(n)
            weighted += b * b * float(n)
    return weighted / tokens if tokens > 0 else float("nan")


def pct(base, green):
    return 100.0 * (1.0 - green / base) if base > 0 else float("nan")


def crossing(xs, ys):
    """The x where the piecewise-linear y crosses zero first (None when it keeps its sign)."""
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if y0 == 0:
            return x0
        if (y0 > 0) != (y1 > 0):
            return x0 + (x1 - x0) * y0 / (y0 - y1)
    return None


def tables(out_dir, measured):
    """`measured`: the closed form re-evaluated at the decode batch the split runs measured."""
    theory = json.loads((out_dir / "theory.json").read_text())
    with open(out_dir / "index.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] == "ok"]
    runs = {}
    for r in rows:
        runs[(float(r["sites.0.carbon_intensity"]), r["mode_router.name"])] = ledger(out_dir / r["output"])
    closed = {p["ci"]: p["savings_percent"] for p in theory["ci_grid"]}
    cis = sorted({ci for ci, _ in runs})
    t, s = theory["terms"], theory["setup"]

    out = {}
    lines = ["| term | value | meaning |", "|---|---|---|"]
    lines += [f"| Tn | {t['tn_s']:.4f} s | whole request on one {s['new_gpu']} |",
              f"| Tn' | {t['tn_prefill_s']:.4f} s | its prefill on the {s['new_gpu']} |",
              f"| To | {t['to_s']:.4f} s | its decode on one {s['old_gpu']} |",
              f"| Pn | {t['pn_w']:.1f} W | {s['new_gpu']} over Tn |",
              f"| Pn' | {t['pn_prefill_w']:.1f} W | {s['new_gpu']} over Tn' |",
              f"| Po | {t['po_w']:.1f} W | {s['old_gpu']} over To |",
              f"| ECn/LTn | {t['rn_g_per_s'] * 3600:.3f} g/h | {s['new_card_kg']:.1f} kgCO2e over "
              f"{s['new_life_years']:.0f} years |",
              f"| ECo/LTo | {t['ro_g_per_s'] * 3600:.3f} g/h | {'sunk' if s['old_sunk'] else 'amortised'} |",
              f"| PUE | {t['pue']:.2f} | the site's |"]
    be = theory["break_even_ci"]
    out["terms"] = "\n".join(lines) + (
        f"\n\nUnit of work: {s['prompt_tokens']:.1f} prompt and {s['output_tokens']:.1f} output tokens (the means "
        f"of the {s['requests_used']:,} of {s['requests_read']:,} requests within {s['max_tokens']:,} tokens, "
        f"which runs can serve), {s['prefill_batch']} prompt per prefill "
        f"step, {s['decode_batch']} sequences per decode step. Break-even CI* = "
        f"{'none' if be is None else f'{be:.0f} gCO2e/kWh'}.\n")

    at_b = {p["ci"]: p["savings_percent"] for p in measured["ci_grid"]}
    bn, bo = measured["setup"]["decode_batch"], measured["setup"]["old_decode_batch"]
    lines = [f"| CI (g/kWh) | closed form, B={s['decode_batch']} | closed form, B={bn}/{bo} "
             "| simulated, fleet | simulated, GPUs | simulated, GPU steps | simulated, requests "
             "| GPU steps - closed, measured B (pp) | sign | within 10% |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    sim_fleet, sim_steps = [], []
    for ci in cis:
        base, green = runs.get((ci, "unified")), runs.get((ci, "always_disaggregated"))
        if not base or not green or ci not in closed:
            continue
        c = closed[ci]
        f, g, b, q = (pct(base[k], green[k]) for k in ("total", "gpu", "busy_gpu", "requests"))
        m = at_b[ci]
        sim_fleet.append(f)
        sim_steps.append(b)
        same_sign = (m > 0) == (b > 0)
        within = abs(b - m) <= 0.1 * abs(m)
        lines.append(f"| {ci:.0f} | {c:.1f}% | {m:.1f}% | {f:.1f}% | {g:.1f}% | {b:.1f}% | {q:.1f}% "
                     f"| {b - m:+.1f} | {'same' if same_sign else 'differs'} | {'yes' if within else 'no'} |")
    sim_be, steps_be = crossing(cis, sim_fleet), crossing(cis, sim_steps)
    b0, g0 = runs[(cis[0], "unified")], runs[(cis[0], "always_disaggregated")]
    bm = measured["break_even_ci"]
    out["savings"] = "\n".join(lines) + (
        f"\n\nBreak-even CI: closed form {'none' if be is None else f'{be:.0f}'} (B={s['decode_batch']}), "
        f"{'none' if bm is None else f'{bm:.0f}'} (B={bn}/{bo}); simulated, interpolated: "
        f"{'none in the grid' if sim_be is None else f'{sim_be:.0f}'} (fleet), "
        f"{'none in the grid' if steps_be is None else f'{steps_be:.0f}'} (GPU steps) gCO2e/kWh. Runs: "
        f"{b0['completed']:.0f} requests completed in each; SLO attainment {b0['slo']:.3f} (unified) and "
        f"{g0['slo']:.3f} "
        f"(disaggregated, {g0['split']:.0f} requests split); idle lines at CI {cis[0]:.0f}: "
        f"{b0['idle']:.1f} g (unified), {g0['idle']:.1f} g (disaggregated). Decode batch per token, measured: "
        f"{b0['batch_new']:.1f} on the A100s (unified), {g0['batch_old']:.1f} on the V100s (split).\n")

    # Energy per completed request by where it goes (J, IT energy before PUE; the same at every CI).
    tm = measured["terms"]
    rows = [("GPU, prefill steps", "j_prefill", tm["pn_prefill_w"] * tm["tn_prefill_s"],
             tm["pn_prefill_w"] * tm["tn_prefill_s"]),
            ("GPU, decode steps", "j_decode", tm["pn_w"] * tm["tn_s"] - tm["pn_prefill_w"] * tm["tn_prefill_s"],
             tm["po_w"] * tm["to_s"]),
            ("GPU, idle lines", "j_idle", 0.0, 0.0),
            ("hosts (static, busy CPU)", "j_host", 0.0, 0.0),
            ("network (switches, KV transfers)", "j_network", 0.0, 0.0)]
    lines = [f"| energy per request (J) | closed form B={bn}/{bo}, baseline | simulated, baseline "
             "| closed form, split | simulated, split |", "|---|---|---|---|---|"]
    for label, key, tb, tg in rows:
        lines.append(f"| {label} | {tb:.1f} | {b0[key] / b0['completed']:.1f} | {tg:.1f} "
                     f"| {g0[key] / g0['completed']:.1f} |")
    out["energy"] = "\n".join(lines) + "\n"

    years = [r["years"] for r in theory["new_gpu_lifetime"]]
    grid = [p["ci"] for p in theory["ci_grid"]]
    show = [ci for ci in grid if ci in (0, 200, 400, 600, 800)]
    lines = ["| LTn (years) | " + " | ".join(f"CI {ci:.0f}" for ci in show) + " | CI* |",
             "|---|" + "---|" * (len(show) + 1)]
    for r in theory["new_gpu_lifetime"]:
        vals = [r["savings_percent"][grid.index(ci)] for ci in show]
        b = r["break_even_ci"]
        lines.append(f"| {r['years']:g} | " + " | ".join(f"{v:.1f}%" for v in vals) +
                     f" | {'none' if b is None else f'{b:.0f}'} |")
    out["lifetimes"] = "\n".join(lines) + "\n"
    del years
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?", default=str(ROOT / "build" / "greenfleet"))
    ap.add_argument("-o", "--out", default=str(ROOT / "out" / "theory"))
    ap.add_argument("-j", "--jobs", default="2")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    binary, out_dir = os.path.abspath(a.binary), Path(a.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "theory.json").write_text(run([binary, "theory", EXPERIMENT, "--json", "--ci-step", "25"]))
    run([binary, "sweep", SWEEP, "-j", a.jobs, "-o", str(out_dir), "-q"])
    # The closed form again at the decode batches the runs measured: the A100s' in the unified runs, the V100s' in
    # the split runs (the same at every CI).
    with open(out_dir / "index.csv", newline="") as fh:
        first = {}
        for r in csv.DictReader(fh):
            first.setdefault(r["mode_router.name"], r)
    bn = max(1, round(ledger(out_dir / first["unified"]["output"])["batch_new"]))
    bo = max(1, round(ledger(out_dir / first["always_disaggregated"]["output"])["batch_old"]))
    measured = json.loads(run([binary, "theory", EXPERIMENT, "--json", "--ci-step", "100", "--decode-batch",
                               str(bn), "--old-decode-batch", str(bo)]))
    (out_dir / "theory_measured.json").write_text(json.dumps(measured, indent=1) + "\n")
    parts = tables(out_dir, measured)
    text = DOC.read_text()

    def fill(m):
        if m.group(2) not in parts:
            sys.exit(f"error: docs/THEORY.md: no table named {m.group(2)}")
        return m.group(1) + parts[m.group(2)] + m.group(4)

    new = MARKER.sub(fill, text)
    if a.check:
        if new != text:
            diff = difflib.unified_diff(text.splitlines(True), new.splitlines(True), "docs/THEORY.md", "generated")
            sys.stdout.writelines(diff)
            return 1
        return 0
    DOC.write_text(new)
    r = subprocess.run([sys.executable, str(ROOT / "plots" / "greenfleet_plots.py"), str(out_dir), "--only",
                        "greenllm_theory", "-o", str(out_dir), "-q"], capture_output=True, text=True)
    print(f"wrote docs/THEORY.md; figure: {'ok' if r.returncode == 0 else r.stderr[-500:]} in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
