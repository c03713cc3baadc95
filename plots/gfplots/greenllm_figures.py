"""GreenLLM (arXiv 2412.20322): its closed-form carbon savings beside the savings simulated by full runs.

Input: the index.csv of a sweep over `sites.0.carbon_intensity` x `mode_router.name` (unified vs
always_disaggregated; experiments/theory/disaggregated_ci_sweep.yaml) with `greenfleet theory --json` output saved
as theory.json beside it (docs/theory.py writes both); with the runs' files and theory_measured.json (the closed
form at the batches the runs measured) there too, also the comparison on the closed form's scope (GPU steps).
Simulated savings come from the runs' ledgers only (`carbon_kg` or /carbon/by_phase, replicas averaged); the
closed form is drawn from the JSON files, never mixed into them."""

import json
import os

import h5py
import numpy as np

from . import figure, skip
from .data import finite_float
from .style import COLORS, new_figure

CI_KEY = "sites.0.carbon_intensity"
MODE_KEY = "mode_router.name"


def simulated_savings(sweep, metric="carbon_kg"):
    """[(ci, savings %)] from a sweep's rows: 1 - metric(always_disaggregated) / metric(unified) per CI."""
    if CI_KEY not in sweep.keys or MODE_KEY not in sweep.keys:
        return []
    sums = {}
    for r in sweep.rows:
        ci, mode, v = finite_float(r.get(CI_KEY)), r.get(MODE_KEY), finite_float(r.get(metric))
        if ci is None or v is None or mode not in ("unified", "always_disaggregated"):
            continue
        s = sums.setdefault(ci, {}).setdefault(mode, [0.0, 0])
        s[0] += v
        s[1] += 1
    out = []
    for ci in sorted(sums):
        m = sums[ci]
        if "unified" in m and "always_disaggregated" in m:
            base = m["unified"][0] / m["unified"][1]
            green = m["always_disaggregated"][0] / m["always_disaggregated"][1]
            if base > 0:
                out.append((ci, 100.0 * (1.0 - green / base)))
    return out


def gpu_step_carbon(path):
    """GPU carbon (g) of a run's prefill and decode steps (/carbon/by_phase): the closed form's scope."""
    with h5py.File(path, "r") as f:
        ph = f["carbon"]["by_phase"]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in ph["phase"][()]]
        return sum(float(ph["operational_gpu_g"][i]) + float(ph["embodied_gpu_g"][i])
                   for i, n in enumerate(names) if n in ("prefill", "decode"))


def simulated_step_savings(sweep):
    """[(ci, savings %)] over the GPU-step carbon of the runs, when every run's file sits beside the index."""
    base_dir = os.path.dirname(os.path.abspath(sweep.path))
    by_ci = {}
    for r in sweep.rows:
        ci, mode = finite_float(r.get(CI_KEY)), r.get(MODE_KEY)
        path = os.path.join(base_dir, r.get("output") or "")
        if ci is None or mode not in ("unified", "always_disaggregated") or not os.path.isfile(path):
            return []
        by_ci.setdefault(ci, {}).setdefault(mode, []).append(gpu_step_carbon(path))
    out = []
    for ci in sorted(by_ci):
        m = by_ci[ci]
        if "unified" in m and "always_disaggregated" in m:
            base, green = np.mean(m["unified"]), np.mean(m["always_disaggregated"])
            if base > 0:
                out.append((ci, 100.0 * (1.0 - green / base)))
    return out


@figure("sweep", "greenllm_theory", "GreenLLM: closed-form vs simulated carbon savings over grid CI")
def greenllm_theory(sweep, opts):
    sim = simulated_savings(sweep)
    if not sim:
        skip(f"not a sweep of {CI_KEY} x {MODE_KEY} (unified, always_disaggregated)")
    path = os.path.join(os.path.dirname(os.path.abspath(sweep.path)), "theory.json")
    if not os.path.isfile(path):
        skip("no theory.json (greenfleet theory --json) beside the index")
    with open(path) as fh:
        theory = json.load(fh)
    grid = [(p["ci"], p["savings_percent"]) for p in theory["ci_grid"] if p["savings_percent"] is not None]
    fig, axes = new_figure(1, 2, width=11, height=4.2)
    ax, ax2 = axes[0]

    tx, ty = np.array([g[0] for g in grid]), np.array([g[1] for g in grid])
    sx, sy = np.array([s[0] for s in sim]), np.array([s[1] for s in sim])
    setup = theory.get("setup", {})
    batches = f"B={setup.get('decode_batch', '?')}/{setup.get('old_decode_batch', setup.get('decode_batch', '?'))}"
    ax.plot(tx, ty, color=COLORS[0], lw=2, label=f"closed form (greenfleet theory, {batches})")
    ax.plot(sx, sy, "o--", color=COLORS[1], lw=1.2, label="simulated: fleet carbon_kg of full runs")
    # With the runs' files and the closed form at the batches they measured (docs/theory.py writes
    # theory_measured.json): the comparison on the closed form's scope, GPU steps only.
    steps = simulated_step_savings(sweep)
    measured_path = os.path.join(os.path.dirname(path), "theory_measured.json")
    if steps and os.path.isfile(measured_path):
        with open(measured_path) as fh:
            measured = json.load(fh)
        ms = measured["setup"]
        mx = np.array([p["ci"] for p in measured["ci_grid"] if p["savings_percent"] is not None])
        my = np.array([p["savings_percent"] for p in measured["ci_grid"] if p["savings_percent"] is not None])
        ax.plot(mx, my, color=COLORS[2], lw=2,
                label=f"closed form at the measured B={ms['decode_batch']}/{ms['old_decode_batch']}")
        ax.plot([p[0] for p in steps], [p[1] for p in steps], "s--", color=COLORS[3], lw=1.2,
                label="simulated: GPU prefill + decode steps")
    ax.axhline(0, color="0.5", lw=0.8)
    be = theory.get("break_even_ci")
    if be is not None and tx.size and tx.min() <= be <= tx.max():
        ax.axvline(be, color=COLORS[0], ls=":", lw=1)
        ax.annotate(f"CI* = {be:.0f}", (be, ax.get_ylim()[0]), xytext=(3, 4), textcoords="offset points",
                    fontsize="small", color=COLORS[0])
    ax.set_xlabel("grid carbon intensity (gCO2e/kWh)")
    ax.set_ylabel("carbon savings vs new GPUs only (%)")
    ax.set_title("savings: closed form and simulation")
    ax.legend(fontsize="small")

    # The closed form's sensitivity to the new GPUs' lifetime (3-7 years), the simulated points for reference.
    for i, row in enumerate(theory.get("new_gpu_lifetime", [])):
        ys = np.array([np.nan if v is None else v for v in row["savings_percent"]], dtype=float)
        xs = np.array([p["ci"] for p in theory["ci_grid"]])
        ax2.plot(xs, ys, color=COLORS[(i + 2) % len(COLORS)], lw=1.4, label=f"LTn = {row['years']:g} y")
    ax2.plot(sx, sy, "o", color=COLORS[1], ms=4, label="simulated, fleet")
    ax2.axhline(0, color="0.5", lw=0.8)
    ax2.set_xlabel("grid carbon intensity (gCO2e/kWh)")
    pair = f"{setup.get('new_gpu', 'new')} / {setup.get('old_gpu', 'old')}"
    ax2.set_title(f"closed form vs new-GPU lifetime ({pair})")
    ax2.legend(fontsize="x-small", ncol=2)
    return fig
