#!/usr/bin/env python3
"""GreenLLM reproduction: runs the sweeps over experiments/paper/greenllm/ and writes docs/REPRODUCTION.md's section.

One command, a few minutes on two cores:
  /usr/bin/python3 docs/reproduce_greenllm.py [GREENFLEET_BINARY] [-o DIR] [-j N] [--check]

For each of the six configurations (application x old GPU) it runs, with `greenfleet sweep` (DIR/<config>/...):
  sizing    new-only runs (mode_router unified) at 1-12 A100 VMs: the sizing rule of the configs' README
  paper     mode x CI 0-800 x new-GPU lifetime 3-7 y, paper scope (ACT die+memory embodied, PUE 1)
  full      the same in greenfleet's full scope (EcoServe card and host embodied, site PUE, hosts, network)
  sens      split modes x CI at the old GPUs' step time and power x0.7 and x1.3 (paper scope, 5-year lifetime)
  residual  split modes x CI with the old GPUs amortised over a 3-year residual life instead of sunk
and tries the speculative configurations (`*_spec.yaml`): a file that does not load is reported as pending.
It reads every run's ledger (HDF5) and writes the text between `<!-- greenllm:begin -->` and
`<!-- greenllm:end -->` of docs/REPRODUCTION.md (creating the file if absent) and three figures under
docs/figures/. Savings are 1 - C(mode) / C(new-only) of the same scope, CI and lifetime; every carbon number is
a ledger total of a run, nothing is fitted or tuned.

Scopes:
  paper          GPU energy of prefill and decode steps x CI (no PUE, no idle) + ACT embodied of the GPUs by their
                 busy time (the ledger's prefill and decode phases): GreenLLM's accounting (arXiv 2412.20322; ACT, Gupta et al., ISCA 2022)
  full, by use   the ledger's attribution to requests: GPU and host energy of their steps with PUE, KV transfers,
                 GPU card and host embodied by the time their steps take (no idle lines)
  full, fleet    the fleet's totals: everything above plus idle GPUs and hosts, powered-off servers' embodied carbon,
                 switches, embodied carbon by wall time
--check changes nothing and exits 1 when the section differs from what the runs give now (figures not compared).
Needs the Azure 2023 and Mooncake traces (../shared/data or $GREENFLEET_DATA) and h5py, matplotlib, yaml.
"""
import argparse
import csv
import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "REPRODUCTION.md"
FIGS = ROOT / "docs" / "figures"
CONF_DIR = ROOT / "experiments" / "paper" / "greenllm"
BEGIN, END = "<!-- greenllm:begin -->", "<!-- greenllm:end -->"

CONFIGS = [("chatbot", "v100"), ("chatbot", "t4"), ("code", "v100"), ("code", "t4"), ("summarisation", "v100"),
           ("summarisation", "t4")]
CIS = [0, 25, 50, 100, 200, 300, 400, 500, 600, 700, 800]
LIFETIMES = [3, 4, 5, 6, 7]
MODES = ["unified", "always_disaggregated", "greenllm"]
SPEC_MODES = ["unified", "always_disaggregated", "always_speculative", "greenllm"]
SIZES = [1, 2, 3, 4, 5, 6, 8, 10, 12]
SCOPES = {"paper": ["carbon.gpu_method=act", "sites.0.pue=1"], "full": []}
# Old-GPU sensitivity, one knob at a time (step time, power): the +-30% of issue #14.
VARIANTS = [("step x0.7", 0.7, 1.0), ("step x1.3", 1.3, 1.0), ("power x0.7", 1.0, 0.7), ("power x1.3", 1.0, 1.3)]
RESIDUAL = ["fleet.1.gpu_embodied=amortised", "fleet.1.residual_life=3y"]
PAPER_CLAIM = 40.6


def run(cmd, ok=(0,)):
    r = subprocess.run([str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True)
    if r.returncode not in ok:
        sys.exit(f"error: {' '.join(map(str, cmd))} exited {r.returncode}:\n{r.stderr[-3000:]}")
    return r


def label(app, old):
    return f"{app}, {old.upper()}"


def with_sweep(src, dst, grid, zip_=None):
    """`src` with a sweep block appended (the configurations carry none), written to `dst`."""
    lines = ["", "sweep:", "  grid:"]
    lines += [f"    {k}: [{', '.join(map(str, v))}]" for k, v in grid.items()]
    if zip_:
        lines.append("  zip:")
        lines += [f"    {k}: [{', '.join(map(str, v))}]" for k, v in zip_.items()]
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(src.read_text() + "\n".join(lines) + "\n")
    return dst


def sweep(binary, src, out, grid, jobs, sets=(), zip_=None):
    """Runs one sweep (reusing finished runs); returns the index rows with their ledgers read."""
    path = with_sweep(src, out / "sweep.yaml", grid, zip_)
    cmd = [binary, "sweep", path, "-j", jobs, "-o", out, "-q"]
    for s in sets:
        cmd += ["--set", s]
    run(cmd)
    with open(out / "index.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh)]
    for r in rows:
        if r["status"] != "ok":
            sys.exit(f"error: {out}: run {r['output']} failed")
        r.update(ledger(out / r["output"]))
    return rows


def ledger(path):
    with h5py.File(path, "r") as f:
        s, c = f["summary"].attrs, f["carbon"].attrs
        ph = f["carbon"]["by_phase"]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in ph["phase"][()]]
        busy_g = sum(float(ph["operational_gpu_g"][i]) + float(ph["embodied_gpu_g"][i])
                   for i, n in enumerate(names) if n in ("prefill", "decode"))
        arrived = float(s["requests_arrived"])
        e = {n: float(ph["energy_gpu_j"][i]) for i, n in enumerate(names)}
        dep = [d.decode() if isinstance(d, bytes) else str(d) for d in f["servers"]["deployment"][()]]
        inst = f["instances"]
        busy = {"new": 0.0, "old": 0.0}
        tok = {"new": 0.0, "old": 0.0}
        sq = {"new": 0.0, "old": 0.0}
        hist = inst["batch_size_iterations"][()]
        for i, server in enumerate(inst["server"][()]):
            d = dep[int(server)]
            busy[d] = busy.get(d, 0.0) + float(inst["busy_s"][i]) * float(inst["tensor_parallel"][i])
            for b, n in enumerate(hist[i]):  # the batch a token sees: sum b^2 n_b / sum b n_b
                tok[d] = tok.get(d, 0.0) + b * float(n)
                sq[d] = sq.get(d, 0.0) + b * b * float(n)
        return {
            "j_prefill": e["prefill"], "j_decode": e["decode"],
            "gpu_s_new": busy["new"], "gpu_s_old": busy["old"],
            "batch_new": sq["new"] / tok["new"] if tok["new"] else float("nan"),
            "batch_old": sq["old"] / tok["old"] if tok["old"] else float("nan"),
            "kv_wait": float(s["kv_wait_mean_s"]) if "kv_wait_mean_s" in s else float("nan"),
            "tpot_err": float(s["prediction_tpot_error_p50"]) if "prediction_tpot_error_p50" in s else float("nan"),
            "busy_gpu_g": busy_g,
            "fleet_g": float(s["carbon_kg"]) * 1000,
            "requests_g": float(c["requests_operational_g"]) + float(c["requests_embodied_g"]),
            "slo": float(s["slo_attainment"]),
            "split": float(s["requests_split"]) / arrived if arrived else float("nan"),
            "fallback": float(s["mode_slo_fallbacks"]) / arrived if arrived else float("nan"),
            "completed": float(s["requests_completed"]),
            "arrived": arrived,
            "spec": float(s["mode_speculative"]) / arrived if "mode_speculative" in s and arrived else 0.0,
            "tpot_p50": float(s["tpot_p50_s"]),
            "gpu_s_draft": busy.get("draft", 0.0),
            "tokens_per_round": float(s["spec_tokens_per_round"]) if "spec_tokens_per_round" in s else float("nan"),
        }


def pct(base, other):
    return 100.0 * (1.0 - other / base) if base > 0 else float("nan")


def crossing(xs, ys):
    """The x where the piecewise-linear y first crosses zero from above (None if it never does)."""
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if y0 > 0 >= y1:
            return x0 + (x1 - x0) * y0 / (y0 - y1)
    return None


def f1(v):
    return "n/a" if v != v else f"{v:.1f}%"


def nz(v):
    return "-" if v != v else f"{v:.1f}"


class Config:
    def __init__(self, app, old):
        self.app, self.old = app, old
        self.stem = f"{app}_{old}"
        self.path = CONF_DIR / f"{self.stem}.yaml"
        self.spec_path = CONF_DIR / f"{self.stem}_spec.yaml"
        y = yaml.safe_load(self.path.read_text())
        self.model = y["deployments"][0]["model"]
        self.count = int(y["fleet"][0]["count"])
        self.old_sku = y["fleet"][1]["sku"]
        self.requests = int(y["workload"]["max_requests"])
        self.trace = Path(y["workload"]["file"]).name
        self.slo = (y["slo"]["ttft"], y["slo"]["tpot"])
        self.label = label(app, old)


def run_all(binary, out, jobs):
    res = {}
    for app, old in CONFIGS:
        c = Config(app, old)
        d = out / c.stem
        r = {"config": c}
        rows = sweep(binary, c.path, d / "sizing", {"fleet.0.count": SIZES}, jobs, ["mode_router.name=unified"])
        r["sizing"] = {int(x["fleet.0.count"]): x for x in rows}
        grid = {"mode_router.name": MODES, "sites.0.carbon_intensity": CIS,
                "fleet.0.gpu_lifetime": [f"{y}y" for y in LIFETIMES]}
        for scope, sets in SCOPES.items():
            rows = sweep(binary, c.path, d / scope, grid, jobs, sets)
            r[scope] = {(x["mode_router.name"], float(x["sites.0.carbon_intensity"]),
                         int(x["fleet.0.gpu_lifetime"].rstrip("y"))): x for x in rows}
        sens_grid = {"mode_router.name": MODES[1:], "sites.0.carbon_intensity": CIS}
        rows = sweep(binary, c.path, d / "sens", sens_grid, jobs, SCOPES["paper"],
                     {"deployments.1.perf_model.step_time_scale": [v[1] for v in VARIANTS],
                      "fleet.1.gpu_power_scale": [v[2] for v in VARIANTS]})
        r["sens"] = {}
        for x in rows:
            name = next(v[0] for v in VARIANTS if float(x["deployments.1.perf_model.step_time_scale"]) == v[1]
                        and float(x["fleet.1.gpu_power_scale"]) == v[2])
            r["sens"][(name, x["mode_router.name"], float(x["sites.0.carbon_intensity"]))] = x
        rows = sweep(binary, c.path, d / "residual", sens_grid, jobs, SCOPES["paper"] + RESIDUAL)
        for x in rows:
            r["sens"][("residual 3 y", x["mode_router.name"], float(x["sites.0.carbon_intensity"]))] = x
        # Speculative decoding: one more configuration and mode; pending while its file does not load.
        spec_sweep = with_sweep(c.spec_path, d / "spec" / "sweep.yaml",
                                {"mode_router.name": SPEC_MODES, "sites.0.carbon_intensity": CIS})
        chk = run([binary, "sweep", spec_sweep, "-n", "-o", d / "spec"], ok=(0, 1, 2))
        if chk.returncode != 0:
            err = chk.stderr.strip().splitlines()
            msg = err[0] if err else f"exit {chk.returncode}"
            r["spec"] = ("pending", re.split(r"\.yaml:\d+:\d+: ", msg)[-1].split(";")[0])
        else:
            rows = sweep(binary, c.spec_path, d / "spec", {"mode_router.name": SPEC_MODES,
                                                          "sites.0.carbon_intensity": CIS}, jobs, SCOPES["paper"])
            r["spec"] = ("ok", {(x["mode_router.name"], float(x["sites.0.carbon_intensity"])): x for x in rows})
        res[c.stem] = r
        print(f"{c.label}: done", file=sys.stderr)
    return res


# ---- derived numbers -------------------------------------------------------------------------------------------

def savings(r, scope, measure, mode, ci, lt):
    t = r[scope]
    return pct(t[("unified", ci, lt)][measure], t[(mode, ci, lt)][measure])


def sens_savings(r, variant, mode, ci):
    if variant == "base":
        return savings(r, "paper", "busy_gpu_g", mode, ci, 5)
    # The new-only baseline never touches the old GPUs: the base run's unified point is the baseline.
    return pct(r["paper"][("unified", ci, 5)]["busy_gpu_g"], r["sens"][(variant, mode, ci)]["busy_gpu_g"])


def sizing_choice(r):
    att = {n: x["slo"] for n, x in r["sizing"].items()}
    meets = [n for n in SIZES if att[n] >= 0.9]
    if meets:
        return meets[0], True
    best = max(att.values())
    return next(n for n in SIZES if att[n] >= best - 0.01), False


# ---- text ------------------------------------------------------------------------------------------------------

def explanations(res, cfgs, best, best_real, be):
    """The differences from the paper, explained; numbers from the runs (the prose was written against them)."""
    R = {r["config"].label: r for r in cfgs}

    def per(r, m, k, ci=0):
        x = r["paper"][(m, ci, 5)]
        return x[k] / x["completed"]

    v100 = [r for r in cfgs if r["config"].old == "v100"]
    be_v = [be[r["config"].label] for r in v100 if be[r["config"].label] is not None]
    sens_be = [crossing(CIS, [sens_savings(r, v[0], "always_disaggregated", ci) for ci in CIS])
               for r in v100 for v in VARIANTS]
    sens_be = [b for b in sens_be if b is not None]
    cv, ct, kt, st, sv = (R["chatbot, V100"], R["chatbot, T4"], R["code, T4"], R["summarisation, T4"],
                          R["summarisation, V100"])
    keep = next((ci for ci in CIS if cv["paper"][("greenllm", ci, 5)]["split"] == 0), None)
    ct_split = min(ct["paper"][("greenllm", ci, 5)]["split"] for ci in CIS)
    kc, kv_ = R["code, T4"], R["code, V100"]

    def sv_(r, m, ci, scope="paper", measure="busy_gpu_g", lt=5):
        return savings(r, scope, measure, m, ci, lt)

    L = ["### The differences, explained", "",
         f"- **Scope, and savings above 40.6% at zero CI.** With no grid carbon only embodied carbon is left, and with "
         "the old GPUs sunk a split request is charged only for its A100 time: the saving is the share of A100 "
         "GPU-seconds per request that moving the decode frees (energy table below: chatbot, V100 "
         f"{per(cv, 'unified', 'gpu_s_new'):.3f} -> {per(cv, 'always_disaggregated', 'gpu_s_new'):.3f} s), up to "
         f"{best[0]:.1f}% here. GreenLLM reports 40.6% as its largest saving over its own grid of CIs, lifetimes "
         "and applications, whose points, models and traces are not public (GreenLLM has no public code). From "
         f"{CIS[1]} gCO2e/kWh on, the largest saving of GreenLLM's scheduler here is {best_real[0]:.1f}% "
         f"({best_real[1]}), below the paper's.",
         "- **Savings turn negative at a few tens of gCO2e/kWh.** A decode step of the same model costs more energy "
         "on the old GPU than on the A100 (the V100 takes about twice the A100's time per step at about 1.3x its "
         "decode power; "
         "the T4 about six times at a quarter of the power), so moving decodes pays only where the old GPUs run "
         "much larger batches. Splitting every request breaks even at "
         + "; ".join(f"{k}: {'never' if v is None else f'{v:.0f}'}" for k, v in be.items()) +
         " gCO2e/kWh (5-year A100s), as docs/THEORY.md's closed form predicts for Llama-2-7B on the V100. GreenLLM "
         "reports savings that shrink and may turn negative only at high CI. The old GPUs' step times (roofline "
         "defaults) and powers (fractions of TDP; the V100's decode curve from ML.ENERGY 2023's power line, "
         "docs/MODELS.md) are our "
         "reconstructions, which is why they are swept: at +-30% of either, splitting onto the V100 breaks even "
         f"between {min(sens_be):.0f} and {max(sens_be):.0f} gCO2e/kWh (sensitivity table), nowhere near the "
         "high CIs. Savings that last at every CI need old GPUs that spend less energy per token than the new one, "
         "which these models give only where the split pools small batches (next point).",
         f"- **Where splitting saves at every CI: code on the T4s.** Azure code requests have short outputs and the "
         f"{kt['config'].count} A100s sized for the TTFT decode them in small batches (a token sees "
         f"{kt['paper'][('unified', 0, 5)]['batch_new']:.1f} sequences); split, the four T4s pool them "
         f"({kt['paper'][('always_disaggregated', 0, 5)]['batch_old']:.1f} per token) at a T4's power, and the "
         f"decode energy per request drops from {per(kt, 'unified', 'j_decode'):.1f} to "
         f"{per(kt, 'always_disaggregated', 'j_decode'):.1f} J: splitting every request saves "
         f"{sv_(kt, 'always_disaggregated', 800):.1f}% at 800 gCO2e/kWh in the paper scope and "
         f"{sv_(kt, 'always_disaggregated', 800, 'full', 'requests_g'):.1f}% in the full scope by use. This is a "
         "batching effect of the fleet's sizing, not an efficiency of the T4.",
         "- **GreenLLM's scheduler** keeps the modes predicted within the SLO and picks the least predicted carbon. "
         "On the V100 it splits at zero CI (only the A100's embodied carbon is priced; the V100's is sunk) and "
         f"keeps every request whole from {keep} gCO2e/kWh on, so its savings go to 0% where splitting everything "
         "loses: the claim's \"shrinking\" savings, with the SLO-aware fallback. On chatbot with the T4s it splits "
         f"{'all' if ct_split >= 0.995 else f'at least {100 * ct_split:.0f}%'} of the requests at every CI "
         "although that loses "
         f"{-sv_(ct, 'greenllm', 800):.1f}% at 800 gCO2e/kWh: its prices are per request and marginal (one more "
         "sequence on each instance's current batch), and once decodes have moved, the A100 runs prefills and "
         f"almost no decodes (a token sees {ct['paper'][('greenllm', 0, 5)]['batch_new']:.1f} sequences), so "
         "keeping a request whole is priced at a near-empty batch and each new request follows the split. In the "
         f"new-only fleet the A100 decodes at a batch of {ct['paper'][('unified', 0, 5)]['batch_new']:.1f} for "
         f"{per(ct, 'unified', 'j_decode'):.1f} J per request; split, the T4s decode at "
         f"{ct['paper'][('always_disaggregated', 0, 5)]['batch_old']:.1f} for "
         f"{per(ct, 'always_disaggregated', 'j_decode'):.1f} J. A per-request greedy choice need not find the "
         "fleet's cheapest state.",
         f"- **SLO attainment.** Chatbot meets the 90% target in every mode (new-only "
         f"{cv['paper'][('unified', 0, 5)]['slo']:.3f} on the V100 configuration, "
         f"{ct['paper'][('unified', 0, 5)]['slo']:.3f} on the T4 one). Code cannot: DistServe's 0.125 s TTFT was "
         "set for HumanEval's short prompts, and the Azure code prompts (about 2,000 tokens) take about that long "
         f"to prefill on an A100, so even new-only reaches {kv_['paper'][('unified', 0, 5)]['slo']:.3f} "
         f"(Llama-3.1-8B) and {kc['paper'][('unified', 0, 5)]['slo']:.3f} (Llama-3.2-3B) at the sizing rule's "
         "counts: a consequence of the SLO mapping, the same in every mode. Long prompts hold about 1.5 GB of KV "
         "each on the old GPU, so split requests wait for KV blocks there (mean "
         f"{sv['paper'][('always_disaggregated', 0, 5)]['kv_wait']:.0f} s on the V100s, "
         f"{st['paper'][('always_disaggregated', 0, 5)]['kv_wait']:.0f} s on the four T4s) and attainment falls "
         f"from {sv['paper'][('unified', 0, 5)]['slo']:.3f} to "
         f"{sv['paper'][('always_disaggregated', 0, 5)]['slo']:.3f} (V100) and from "
         f"{st['paper'][('unified', 0, 5)]['slo']:.3f} to "
         f"{st['paper'][('always_disaggregated', 0, 5)]['slo']:.3f} (T4) when every request is split. GreenLLM's "
         "TPOT predictor prices one decode iteration of the decode instance's running batch plus the transfer, "
         "not the wait for its blocks (median TPOT prediction error "
         f"{100 * st['paper'][('greenllm', 0, 5)]['tpot_err']:.0f}% on the T4s), so the scheduler also counts a "
         "split infeasible while the decode instance has requests queued or too few free blocks for the request "
         "(the paper: a mode becomes infeasible when its queue grows). With that rule, at zero CI its attainment is "
         f"{st['paper'][('greenllm', 0, 5)]['slo']:.3f} (T4) and {sv['paper'][('greenllm', 0, 5)]['slo']:.3f} "
         "(V100): it stops splitting where the old GPUs have no room.",
         "- **Full scope.** By use, each split decode also carries its old server's host power and embodied carbon "
         "for the longer time it runs on the old GPU (the V100 server's host has two Xeon sockets and 768 GB of "
         "DRAM for eight GPUs) and the site's PUE, so at zero CI chatbot on the V100s goes from "
         f"{sv_(cv, 'always_disaggregated', 0):.1f}% (paper scope) to "
         f"{sv_(cv, 'always_disaggregated', 0, 'full', 'requests_g'):.1f}% when every request is split. The fleet "
         "totals never show a saving here because the fleet is fixed: the A100s' embodied carbon is paid by wall "
         "time whether they work or not, they idle when their decodes leave, and the old server draws host and "
         "idle power once booted. GreenLLM's embodied saving reaches a fleet only if it buys fewer new GPUs "
         "(provisioning, docs/PLANNING.md), which this reproduction does not simulate.",
         "- **Lifetimes.** At zero CI the savings do not depend on the A100 lifetime (both sides scale with its "
         "inverse); between, a shorter lifetime raises them a little, as GreenLLM describes (chatbot on the T4s "
         f"at {CIS[3]} gCO2e/kWh: {sv_(ct, 'greenllm', CIS[3], lt=3):.1f}% at 3 years, "
         f"{sv_(ct, 'greenllm', CIS[3], lt=7):.1f}% at 7). The A100's ACT die and memory embodied carbon is small "
         "beside its operational carbon above a few tens of gCO2e/kWh, so the lifetime moves little.",
         "- **Not known, not modelled.** GreenLLM's models, GPU counts, traces (ShareGPT, HumanEval, LongBench), "
         "measured old-GPU powers and its scheduler's predictors are not public; ours are stated in the "
         "configurations' README. Speculative-decoding disaggregation is pending (below).", ""]
    return L


def section(res):
    L = []
    cfgs = [res[f"{a}_{o}"] for a, o in CONFIGS]

    # Claims side by side.
    best = max(((savings(r, "paper", "busy_gpu_g", "greenllm", ci, lt), r["config"].label, ci, lt)
                for r in cfgs for ci in CIS for lt in LIFETIMES), key=lambda t: t[0])
    best_split = max(((savings(r, "paper", "busy_gpu_g", "always_disaggregated", ci, lt), r["config"].label, ci, lt)
                      for r in cfgs for ci in CIS for lt in LIFETIMES), key=lambda t: t[0])
    best_use = max(((savings(r, "full", "requests_g", "greenllm", ci, lt), r["config"].label, ci, lt)
                    for r in cfgs for ci in CIS for lt in LIFETIMES), key=lambda t: t[0])
    best_fleet = max(((savings(r, "full", "fleet_g", "greenllm", ci, lt), r["config"].label, ci, lt)
                      for r in cfgs for ci in CIS for lt in LIFETIMES), key=lambda t: t[0])
    best_real = max(((savings(r, "paper", "busy_gpu_g", "greenllm", ci, lt), r["config"].label, ci, lt)
                     for r in cfgs for ci in CIS[1:] for lt in LIFETIMES), key=lambda t: t[0])
    att_g = [r["paper"][("greenllm", ci, lt)]["slo"] for r in cfgs for ci in CIS for lt in LIFETIMES]
    att_u = [r["paper"][("unified", CIS[0], 5)]["slo"] for r in cfgs]
    meets = [r["config"].label for r in cfgs
             if min(r["paper"][("greenllm", ci, lt)]["slo"] for ci in CIS for lt in LIFETIMES) >= 0.9]
    be = {r["config"].label: crossing(CIS, [savings(r, "paper", "busy_gpu_g", "always_disaggregated", ci, 5)
                                             for ci in CIS]) for r in cfgs}
    g800 = [savings(r, "paper", "busy_gpu_g", "greenllm", 800, 5) for r in cfgs]
    a800 = [savings(r, "paper", "busy_gpu_g", "always_disaggregated", 800, 5) for r in cfgs]

    def where(t):
        return f"{t[1]}, CI {t[2]}, {t[3]}-year A100s"

    runs = sum(len(r[k]) for r in cfgs for k in ("sizing", "paper", "full", "sens"))
    L += ["Generated by `/usr/bin/python3 docs/reproduce_greenllm.py build/greenfleet` "
          f"({runs:,} runs of a few thousand requests each, minutes on two cores; `--check` verifies this text). "
          "The configurations, and why each choice, are in experiments/paper/greenllm/README.md; they were "
          "committed before any run that splits a request, and nothing in them was chosen to match a paper number. "
          "Three modes run on the same fleet: new GPUs only (`unified`: the old server never powers on), every "
          "request that fits an old GPU split (`always_disaggregated`), and GreenLLM's scheduler (`greenllm`, "
          "reconstructed: docs/EXPERIMENTS.md, mode_router). Savings are 1 - C(mode) / C(new GPUs only) at the same "
          "CI, lifetime and scope, from the runs' carbon ledgers, in three scopes:", "",
          "- **paper scope**: GPU energy of the prefill and decode steps times the CI (no PUE, no idle time) plus the "
          "GPUs' ACT die, package and memory embodied carbon charged by the time their steps take (GreenLLM's "
          "accounting, arXiv 2412.20322, with ACT's die model, Gupta et al., ISCA 2022; runs with "
          "`carbon.gpu_method: act` and PUE 1);",
          "- **full scope by use**: what the ledger charges to requests: GPU and host energy of their steps with "
          "the site's PUE, KV transfers, EcoServe's GPU card and host embodied carbon by step time (no idle lines);",
          "- **fleet totals**: the whole fixed fleet over the run, idle GPUs and hosts, powered-off servers, "
          "switches and embodied carbon by wall time included.", "",
          "### GreenLLM's claims and ours", "",
          "| claim (GreenLLM) | paper | greenfleet |", "|---|---|---|",
          f"| carbon saved against new GPUs only, GreenLLM's scheduler | up to {PAPER_CLAIM}% | paper scope: up to "
          f"{best[0]:.1f}% ({where(best)}), up to {best_real[0]:.1f}% at {CIS[1]} gCO2e/kWh or more "
          f"({where(best_real)}); full scope by use: up to {best_use[0]:.1f}% ({where(best_use)}); "
          f"fleet totals: up to {best_fleet[0]:.1f}% ({where(best_fleet)}) |",
          f"| the same, every request split (paper scope) | (not claimed) | up to {best_split[0]:.1f}% "
          f"({where(best_split)}) |",
          f"| requests within SLO | over 90% | GreenLLM's scheduler {min(att_g):.3f}-{max(att_g):.3f} over every "
          f"configuration, CI and lifetime (>= 0.9 everywhere in: {'; '.join(meets) if meets else 'none'}); "
          f"new-only {min(att_u):.3f}-{max(att_u):.3f} |",
          "| savings shrink or turn negative at high CI | yes | every request split, paper scope, 5-year A100s: "
          "break-even CI " + "; ".join(f"{k}: {'none' if v is None else f'{v:.0f}'}" for k, v in be.items()) +
          f" gCO2e/kWh; at 800 gCO2e/kWh {min(a800):.1f}% to {max(a800):.1f}% (every request split) and "
          f"{min(g800):.1f}% to {max(g800):.1f}% (GreenLLM's scheduler) |", ""]

    L += explanations(res, cfgs, best, best_real, be)

    # Setup and sizing.
    L += ["### Setup", "",
          "| configuration | model | trace (requests) | SLO TTFT / TPOT | A100 VMs | old server |",
          "|---|---|---|---|---|---|"]
    for r in cfgs:
        c = r["config"]
        L.append(f"| {c.label} | {c.model} | {c.trace} ({c.requests:,}) | {c.slo[0]} / {c.slo[1]} | {c.count} "
                 f"| {c.old_sku} |")
    L += ["", "Sizing (new-only runs; SLO attainment by A100 VMs; the rule of "
          "experiments/paper/greenllm/README.md picks the count):", "",
          "| configuration | " + " | ".join(str(n) for n in SIZES) + " | rule gives | in the file |",
          "|---|" + "---|" * (len(SIZES) + 2)]
    for r in cfgs:
        n, met = sizing_choice(r)
        L.append(f"| {r['config'].label} | " + " | ".join(f"{r['sizing'][s]['slo']:.3f}" for s in SIZES) +
                 f" | {n}{'' if met else ' (none reaches 0.9)'} | {r['config'].count} |")
    L.append("")

    # Where the energy and the GPU time go (independent of CI: the CI-0 runs).
    L += ["### Where each request's GPU energy and GPU time go", "",
          "Per completed request, in the runs at CI 0 with 5-year A100s (new-only and every request split run the "
          "same at every CI; GreenLLM's scheduler's row is its choice at CI 0): GPU energy of prefill and decode "
          "steps (the ledger's phases, no idle), GPU-seconds of steps on the A100s and on the old GPUs (what "
          "embodied carbon by use is charged on), the mean time a split request's KV waited for blocks on the old "
          "GPU, and the scheduler's median TPOT prediction error; and the batch a token sees on each side (sum of "
          "b^2 over sum of b over the iterations run with b sequences, prefill chunks included).", "",
          "| configuration | mode | prefill J | decode J | A100 GPU-s | old GPU-s | batch, A100 | batch, old "
          "| KV wait (s) | TPOT pred. err. |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in cfgs:
        for m in MODES:
            x = r["paper"][(m, 0, 5)]
            n = x["completed"] or float("nan")
            wait = "-" if x["kv_wait"] != x["kv_wait"] else f"{x['kv_wait']:.2f}"
            err = "-" if x["tpot_err"] != x["tpot_err"] else f"{100 * x['tpot_err']:.0f}%"
            L.append(f"| {r['config'].label} | {m} | {x['j_prefill'] / n:.1f} | {x['j_decode'] / n:.1f} "
                     f"| {x['gpu_s_new'] / n:.3f} | {x['gpu_s_old'] / n:.3f} | {nz(x['batch_new'])} "
                     f"| {nz(x['batch_old'])} | {wait} | {err} |")
    L.append("")

    # Per configuration over CI at the default lifetime.
    L += ["### Savings and SLO attainment over carbon intensity (5-year A100s)", "",
          "Savings against the new-only run of the same CI and scope; `split`: share of requests GreenLLM's "
          "scheduler split; attainment: requests within both SLOs over all arrivals (new-only / every request "
          "split / GreenLLM's scheduler).", ""]
    for r in cfgs:
        L += [f"**{r['config'].label}**", "",
              "| CI | split | attainment | paper: all split | paper: GreenLLM | full by use: all split "
              "| full by use: GreenLLM | fleet: all split | fleet: GreenLLM |",
              "|---|---|---|---|---|---|---|---|---|"]
        for ci in CIS:
            p = r["paper"]
            att = "/".join(f"{p[(m, ci, 5)]['slo']:.3f}" for m in MODES)
            cells = [savings(r, s, m_, mode, ci, 5) for s, m_ in (("paper", "busy_gpu_g"), ("full", "requests_g"),
                                                                   ("full", "fleet_g"))
                     for mode in ("always_disaggregated", "greenllm")]
            L.append(f"| {ci} | {100 * p[('greenllm', ci, 5)]['split']:.0f}% | {att} | " +
                     " | ".join(f1(v) for v in cells) + " |")
        L.append("")

    # CI x lifetime.
    show = [0, 100, 200, 300, 500, 800]
    L += ["### GreenLLM's scheduler over CI and new-GPU lifetime (paper scope)", "",
          "| configuration | A100 lifetime | " + " | ".join(f"CI {c}" for c in show) + " |",
          "|---|---|" + "---|" * len(show)]
    for r in cfgs:
        for lt in (3, 5, 7):
            L.append(f"| {r['config'].label} | {lt} y | " +
                     " | ".join(f1(savings(r, "paper", "busy_gpu_g", "greenllm", ci, lt)) for ci in show) + " |")
    L += ["", "![Savings over CI and lifetime](figures/greenllm_savings_ci_lifetime.png)", ""]

    # Sensitivity.
    L += ["### Old GPUs' step time and power +-30%, and their embodied carbon (paper scope, 5-year A100s)", "",
          "Savings of every request split and of GreenLLM's scheduler at CI 0, 100 and 300 gCO2e/kWh, and the "
          "break-even CI of splitting every request, with the old GPUs' step times or power scaled (one at a time) "
          "or their embodied carbon amortised over a 3-year residual life instead of sunk.", "",
          "| configuration | old GPUs | all split, CI 0 | CI 100 | CI 300 | break-even | GreenLLM, CI 0 | CI 100 "
          "| CI 300 | split at CI 100 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in cfgs:
        for v in ["base"] + [x[0] for x in VARIANTS] + ["residual 3 y"]:
            a = [sens_savings(r, v, "always_disaggregated", ci) for ci in CIS]
            g = [sens_savings(r, v, "greenllm", ci) for ci in (0, 100, 300)]
            b = crossing(CIS, a)
            split = (r["paper"][("greenllm", 100, 5)] if v == "base" else r["sens"][(v, "greenllm", 100)])["split"]
            L.append(f"| {r['config'].label} | {'as modelled' if v == 'base' else v} | {f1(a[0])} | {f1(a[1])} "
                     f"| {f1(a[3])} | {'none' if b is None else f'{b:.0f}'} | " + " | ".join(f1(x) for x in g) +
                     f" | {100 * split:.0f}% |")
    L += ["", "![Sensitivity](figures/greenllm_sensitivity.png)", ""]

    # Mode share.
    L += ["### Mode share", "",
          "![Mode share](figures/greenllm_mode_share.png)", "",
          "Share of requests GreenLLM's scheduler splits, by CI (5-year A100s), in each scope (the scheduler prices "
          "carbon with the run's embodied model and PUE), and the share it keeps whole because no mode was "
          "predicted within the SLO:", "",
          "| configuration | scope | " + " | ".join(f"CI {c}" for c in CIS) + " | SLO fallbacks, CI 0 |",
          "|---|---|" + "---|" * (len(CIS) + 1)]
    for r in cfgs:
        for scope in SCOPES:
            t = r[scope]
            L.append(f"| {r['config'].label} | {scope} | " +
                     " | ".join(f"{100 * t[('greenllm', ci, 5)]['split']:.0f}%" for ci in CIS) +
                     f" | {100 * t[('greenllm', 0, 5)]['fallback']:.0f}% |")
    L.append("")

    # Speculative decoding.
    L += ["### Speculative decoding", ""]
    spec_rows = []
    for r in cfgs:
        st, v = r["spec"]
        if st == "pending":
            L.append(f"- {r['config'].label}: speculative: pending (`{r['config'].spec_path.relative_to(ROOT)}` does "
                     f"not load yet: `{v.replace(str(ROOT) + '/', '')}`)")
        else:
            spec_rows.append((r, v))
    if spec_rows:
        L += ["The same applications with a Llama-3.2-1B draft on the old GPUs (one draft instance per A100 instance, "
              "gamma 4, acceptance 0.7: ours, experiments/paper/greenllm/README.md), the `*_spec.yaml` "
              "configurations. Savings in the paper scope against new GPUs only (`unified`), SLO attainment, TPOT "
              "p50, A100 and draft GPU-seconds per request, and the share of requests the mode ran speculatively "
              "(greenllm: of its three modes):", "",
              "| configuration | mode | saving CI 0 | CI 300 | CI 800 | SLO attainment | TPOT p50 (ms) | "
              "A100 s / request | draft GPU s / request | speculative |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r, v in spec_rows:
            for m in SPEC_MODES:
                x = v[(m, 300)]
                sav = [f1(pct(v[('unified', ci)]['busy_gpu_g'], v[(m, ci)]['busy_gpu_g'])) if m != "unified" else "-"
                       for ci in (0, 300, 800)]
                n = x["completed"] or float("nan")
                L.append(f"| {r['config'].label} | `{m}` | " + " | ".join(sav) +
                         f" | {x['slo']:.3f} | {1000 * x['tpot_p50']:.1f} | {x['gpu_s_new'] / n:.3f} | "
                         f"{x['gpu_s_draft'] / n:.3f} | {100 * x['spec']:.0f}% |")
        L.append("")
        sp = {r["config"].label: v for r, v in spec_rows}
        L += ["Why (numbers from the runs at 300 gCO2e/kWh):", ""]
        for label, v in sp.items():
            u, a = v[("unified", 300)], v[("always_speculative", 300)]
            nu, na = u["completed"] or float("nan"), a["completed"] or float("nan")
            L.append(f"- {label}: a round emits {a['tokens_per_round']:.2f} tokens; the A100's GPU time per request "
                     f"goes from {u['gpu_s_new'] / nu:.3f} to {a['gpu_s_new'] / na:.3f} s and the draft adds "
                     f"{a['gpu_s_draft'] / na:.3f} s on the old GPU (TPOT p50 {1000 * u['tpot_p50']:.1f} -> "
                     f"{1000 * a['tpot_p50']:.1f} ms).")
        L += ["", "Speculation saves carbon only where the verify rounds free more A100 energy than the drafts cost "
              "on the old GPU. They free little here: a verify chunk of gamma + 1 tokens per request is priced like "
              "a prefill chunk, so a round costs the A100 about what the 2.7 plain iterations it replaces cost, and "
              "every A100 step waits for its drafts, so the requests stay longer and more of them share each step "
              "(the table's A100 seconds per request). Decoding slows down "
              "wherever gamma drafting iterations on the old GPU take longer than the target's own iterations "
              "(docs/ARCHITECTURE.md, \"Speculative decoding across devices\"), which costs SLO attainment.",
              "", "GreenLLM reports speculative disaggregation as its second use case without separate numbers we "
              "could set beside these; the scheduler here predicts it (docs/EXPERIMENTS.md, mode_router) and picks it "
              "only where its predicted carbon is the least of the three modes within the SLO.", ""]
    L.append("")
    return "\n".join(L), {"best": best, "be": be}


# ---- figures ---------------------------------------------------------------------------------------------------

def figures(res):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    FIGS.mkdir(parents=True, exist_ok=True)
    cfgs = [res[f"{a}_{o}"] for a, o in CONFIGS]

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, r in enumerate(cfgs):
        for scope, ls in (("paper", "-"), ("full", "--")):
            ax.plot(CIS, [100 * r[scope][("greenllm", ci, 5)]["split"] for ci in CIS], ls, color=f"C{i}",
                    marker="o", ms=3, label=f"{r['config'].label} ({scope})")
    ax.set_xlabel("grid carbon intensity (gCO2e/kWh)")
    ax.set_ylabel("requests split onto old GPUs (%)")
    ax.set_title("GreenLLM's scheduler: mode share (5-year A100s)")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(FIGS / "greenllm_mode_share.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(2, 3, figsize=(11, 5.5), sharex=True, sharey=True)
    for ax, r in zip(axes.T.flat, cfgs):
        z = [[savings(r, "paper", "busy_gpu_g", "greenllm", ci, lt) for ci in CIS] for lt in LIFETIMES]
        lim = max(1.0, max(abs(v) for row in z for v in row))
        im = ax.imshow(z, origin="lower", aspect="auto", cmap="RdBu", vmin=-lim, vmax=lim,
                       extent=(CIS[0] - 50, CIS[-1] + 50, LIFETIMES[0] - 0.5, LIFETIMES[-1] + 0.5))
        for j, lt in enumerate(LIFETIMES):
            for k, ci in enumerate(CIS):
                ax.text(ci, lt, f"{z[j][k]:.0f}", ha="center", va="center", fontsize=6)
        ax.set_title(r["config"].label, fontsize=9)
        fig.colorbar(im, ax=ax, label="saved (%)")
    for ax in axes[-1]:
        ax.set_xlabel("CI (gCO2e/kWh)")
    for ax in axes[:, 0]:
        ax.set_ylabel("A100 lifetime (y)")
    fig.suptitle("GreenLLM's scheduler vs new GPUs only, paper scope (GPU energy + ACT embodied by use)")
    fig.tight_layout()
    fig.savefig(FIGS / "greenllm_savings_ci_lifetime.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(2, 3, figsize=(11, 5.5), sharex=True)
    for ax, r in zip(axes.T.flat, cfgs):
        for i, v in enumerate(["base"] + [x[0] for x in VARIANTS] + ["residual 3 y"]):
            ax.plot(CIS, [sens_savings(r, v, "always_disaggregated", ci) for ci in CIS], color=f"C{i}",
                    label=("as modelled" if v == "base" else v) + ", all split")
            ax.plot(CIS, [sens_savings(r, v, "greenllm", ci) for ci in CIS], ":", color=f"C{i}")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(r["config"].label, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("CI (gCO2e/kWh)")
    for ax in axes[:, 0]:
        ax.set_ylabel("saved (%)")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle("Old GPUs' step time and power +-30% (solid: every request split; dotted: GreenLLM's scheduler)")
    fig.tight_layout()
    fig.savefig(FIGS / "greenllm_sensitivity.png", dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?", default=str(ROOT / "build" / "greenfleet"))
    ap.add_argument("-o", "--out", default=str(ROOT / "out" / "greenllm"))
    ap.add_argument("-j", "--jobs", default="2")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    binary, out = os.path.abspath(a.binary), Path(a.out).resolve()
    res = run_all(binary, out, a.jobs)
    body, _ = section(res)
    text = DOC.read_text() if DOC.exists() else (
        "# Reproductions\n\nHow greenfleet's results compare with the papers it is built to reproduce. Each "
        "section is generated by the script it names.\n\n")
    block = f"{BEGIN}\n{body}{END}"
    if BEGIN in text and END in text:
        new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        new = text.rstrip("\n") + "\n\n## GreenLLM\n\n" + block + "\n"
    if a.check:
        if new != text:
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), new.splitlines(True),
                                                       "docs/REPRODUCTION.md", "generated"))
            return 1
        return 0
    DOC.write_text(new)
    figures(res)
    print(f"wrote {DOC.relative_to(ROOT)} and docs/figures/greenllm_*.png (runs in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
