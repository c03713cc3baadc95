#!/usr/bin/env python3
"""EcoServe reproduction: runs experiments/paper/ecoserve/ and writes docs/REPRODUCTION.md's EcoServe section.

Usage:
  /usr/bin/python3 docs/reproduce_ecoserve.py [GREENFLEET_BINARY] [--check | --smoke]
  /usr/bin/python3 docs/reproduce_ecoserve.py [GREENFLEET_BINARY] --table NAME [--mix conv|code] [--share S]

--table prints one table (claims, designs, settings, recycle, observations) from the same cached runs, and with
--mix/--share only that setting's rows: one command per table, each runnable alone on two cores.

Every choice comes from experiments/paper/ecoserve/study.yaml (fixed before any result). Plans (`greenfleet
plan`), the Reuse measurement (`greenfleet run`) and the Recycle studies (`greenfleet lifecycle`) are cached under
out/ecoserve/ by a hash of their arguments, the binary's version and the configuration files, so a second run only
reads them. The text between `<!-- ecoserve:begin -->` and `<!-- ecoserve:end -->` of docs/REPRODUCTION.md is
rewritten, and the 4R waterfall goes to docs/figures/ecoserve_waterfall.png.

--smoke (ctest reproduce_ecoserve, under a minute): the planning files build their capacity tables (with the CPU
instances' entry when study.yaml's reuse.source is `planner`), the Reuse measurement runs, and the Recycle and observation tables regenerate as committed. --check changes nothing and exits 1 when the section differs from what the
runs give now (the figure is not compared).
"""
import argparse
import csv
import hashlib
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "experiments" / "paper" / "ecoserve"
OUT = ROOT / "out" / "ecoserve"
DOC = ROOT / "docs" / "REPRODUCTION.md"
FIG = ROOT / "docs" / "figures" / "ecoserve_waterfall.png"
BEGIN, END = "<!-- ecoserve:begin -->", "<!-- ecoserve:end -->"
WEEK_DAYS = 7


class Runner:
    def __init__(self, binary):
        self.binary = str(Path(binary).resolve())
        version = subprocess.run([self.binary, "--version"], capture_output=True, text=True).stdout
        h = hashlib.sha256(version.encode())
        for p in sorted(CONF.glob("*.yaml")):  # their content, not their comments
            h.update(json.dumps(yaml.safe_load(p.read_text()), sort_keys=True).encode())
        self.salt = h.hexdigest()
        self.runs = 0
        self.plan_status = {}  # (plan file, objective) -> the solver's status (docs/PLANNING.md, "Solver")

    def _key(self, args):
        return hashlib.sha256((self.salt + "\0".join(args)).encode()).hexdigest()[:16]

    def _call(self, args):
        r = subprocess.run([self.binary] + args, cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"greenfleet {' '.join(args)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
        return r

    def _cached(self, command, conf, sets, kind, suffix):
        """`greenfleet COMMAND CONF -q --set ... -o OUT`, unless OUT (named by a hash of the arguments) exists."""
        self.runs += 1
        args = [command, str(CONF / conf), "-q"] + [a for s in sets for a in ("--set", s)]
        out = OUT / kind / f"{self._key(args)}{suffix}"
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            self._call(args + ["-o", str(out)])
        return out

    def plan(self, planfile, sets):
        out = self._cached("plan", planfile, sets, "plans", ".plan.yaml")
        parsed = yaml.safe_load(out.read_text())
        for p in parsed["plans"]:
            self.plan_status[(out.name, p["objective"])] = p["status"]
        return yaml.load(out.read_text(), Loader=yaml.BaseLoader), parsed

    def run(self, experiment, sets):
        out = self._cached("run", experiment, sets, "runs", ".h5")
        s = subprocess.run([self.binary, "summary", str(out), "--json"], capture_output=True, text=True, check=True)
        return out, json.loads(s.stdout)

    def lifecycle(self, sets):
        out = self._cached("lifecycle", STUDY["recycle"]["lifecycle"], sets, "lifecycle", ".csv")
        return list(csv.DictReader(io.StringIO(out.read_text())))


# study.yaml's keys, each with its type (a dict: a mapping with exactly those keys; MIX: any name -> that dict).
STUDY_SCHEMA = {
    "carbon_intensities": list, "offline_shares": list, "rate_scale": (int, float),
    "mixes": {"*": {"plan": str, "recycle": str, "trace_requests": int, "trace_span_s": (int, float)}},
    "reuse": {"source": str, "experiment": str, "host_sku": str, "interference_slowdown": (int, float),
              "iterations": int},
    "recycle": {"lifecycle": str, "policy": str, "baseline": str, "gpu_life_years": (int, float),
                "host_life_years": (int, float)},
    "observations": {"node_sku": str},
    "baselines": {"performance": str, "energy": str, "cost": str, "request_weights": str},
}


def load_study(path):
    """study.yaml checked like the binary checks its inputs: a missing, unknown, repeated or mistyped key exits 2
    with file:line and key (a typo must not silently fall back to another value)."""
    def fail(node, key, why):
        sys.stderr.write(f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: {key}: {why}\n")
        sys.exit(2)

    def check(node, schema, where):
        if isinstance(schema, dict):
            if not isinstance(node, yaml.MappingNode):
                fail(node, where, "expected a mapping")
            seen = {}
            for k, v in node.value:
                key = f"{where}.{k.value}" if where else k.value
                if k.value in seen:
                    fail(k, key, f"given twice (first on line {seen[k.value]})")
                seen[k.value] = k.start_mark.line + 1
                sub = schema.get("*", schema.get(k.value))
                if sub is None:
                    fail(k, key, f"unknown key (expected one of: {', '.join(schema)})")
                check(v, sub, key)
            for k in schema:
                if k != "*" and k not in seen:
                    fail(node, f"{where}.{k}" if where else k, "required key missing")
        else:
            value = yaml.safe_load(yaml.serialize(node))
            if isinstance(value, bool) or not isinstance(value, schema):
                fail(node, where, f"expected {getattr(schema, '__name__', 'a number')}, got {value!r}")

    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        sys.stderr.write(f"{path}: {e}\n")
        sys.exit(2)
    check(node, STUDY_SCHEMA, "")
    return yaml.safe_load(text)


STUDY = load_study(CONF / "study.yaml")
ALL_MIXES = dict(STUDY["mixes"])
# reuse.source: `planner` (the planner places offline work on CPU instances) or `fixed` (CPU instances of
# reuse_cpu.yaml on every H100 host, their volume taken off the GPUs by hand, before the planner placed CPU work)
PLANNER = STUDY["reuse"]["source"] == "planner"


def pct(x):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def saving(base, x):
    return None if x is None or base is None else (base - x) / base


class Setting:
    """One (mix, offline share): the planning file and its demand overrides."""

    def __init__(self, runner, mix, share):
        self.r, self.mix, self.share = runner, mix, share
        m = STUDY["mixes"][mix]
        self.planfile = m["plan"]
        self.conf = yaml.safe_load((CONF / self.planfile).read_text())
        total = m["trace_requests"] / m["trace_span_s"] * STUDY["rate_scale"]
        self.online_mean = total * (1 - share)
        self.offline_per_day = round(total * share * 86400)
        self.demand = [f"classes.0.online.mean={self.online_mean:.6f}"]
        self.sets_len = self.conf["classes"][0]["set"]
        self.first, self.table = None, None

    def plan(self, objective, servers, ci=261, offline=None, slowdown=False, extra=()):
        off = self.offline_per_day if offline is None else offline
        sets = self.demand + [f"classes.1.offline.requests={max(1, int(off))}", f"objective.name={objective}",
                              "baselines=[]", f"carbon_intensity.value={ci}",
                              "servers=" + json.dumps(servers)] + list(extra)
        if slowdown:
            scale = 1 + STUDY["reuse"]["interference_slowdown"]
            extra = self.sets_len + [f"deployments.0.perf_model.step_time_scale={scale}"]
            sets += ["classes.0.set=" + json.dumps(extra), "classes.1.set=" + json.dumps(extra)]
        raw, p = self.r.plan(self.planfile, sets)
        if self.table is None:
            self.table = p
        return p

    def carbon(self, plan, ci, extra_kwh=0.0, embodied=None):
        """Plan totals priced at a constant CI (the plan's energy is facility energy: exact at any constant CI)."""
        pl = plan["plans"][0]
        e = pl["energy_kwh"] + extra_kwh
        emb = pl["embodied_kg"] if embodied is None else embodied
        return {"energy": e, "op": e * ci / 1000, "emb": emb, "total": e * ci / 1000 + emb,
                "gpus": pl["gpus_bought"]}


def per_request_figures(setting):
    """Energy (J) and dollars per request of each type at its capacity, weighted by the classes' weekly requests."""
    t = setting.table
    types = {s["sku"]: s for s in t["server_types"]}
    weights = {"online": setting.online_mean * 86400, "offline": setting.offline_per_day}
    out = {}
    for sku, st in types.items():
        ej, usd, ok = 0.0, 0.0, True
        for cls, w in weights.items():
            ents = [e for e in t["capacity"] if e["class"] == cls and e["sku"] == sku]
            if not ents:
                ok = False
                break
            e = max(ents, key=lambda e: e["rate"] / e["tensor_parallel"])
            g = e["tensor_parallel"]
            ej += w * (st["idle_w"] * g / st["gpus"] + e["active_w"]) / e["rate"]
            usd += w * st["usd_per_hour"] * g / st["gpus"] / (e["rate"] * 3600)
        if ok:
            out[sku] = (ej / sum(weights.values()), usd / sum(weights.values()))
    return out


def cpu_reuse(runner, setting):
    """Throughput (req/s per host) and CPU energy per request (J) of the CPU instances, for the setting's lengths."""
    exp = yaml.safe_load((CONF / STUDY["reuse"]["experiment"]).read_text())
    out, summ = runner.run(STUDY["reuse"]["experiment"], list(setting.sets_len))
    import h5py
    cal = yaml.safe_load((ROOT / "models/calibration/cpu/xeon-8480c/llama-3.1-8b.yaml").read_text())
    cores = exp["fleet"][0]["cpu_instances"]["cores_each"]
    with h5py.File(out) as f:
        inst = f["instances"]
        tp = inst["tensor_parallel"][:]
        busy = float(sum(b for b, t in zip(inst["busy_s"][:], tp) if t == 0))
        dram = float(f["servers"]["host_dram_gb"][0])
    done = summ["requests_completed"]
    j_per_req = busy * cal["power_per_thread_w"] * cores / done
    return {"rps": summ["throughput_rps"], "j_per_req": j_per_req, "host_dram_reuse_default": dram}


def reduced_host_with_cpu(runner, setting):
    """Host embodied (kg) and DRAM (GB) of the Reduce rule's H100 host when it also holds the CPU instances."""
    out, _ = runner.run(STUDY["reuse"]["experiment"], setting.sets_len + ["fleet.0.host=reduced"])
    import h5py
    with h5py.File(out) as f:
        return float(f["servers"]["host_embodied_kg"][0]), float(f["servers"]["host_dram_gb"][0])


def with_reuse(setting, objective, servers, ci, cpu, host_sku):
    """Reuse: CPU instances on every host_sku server of the plan take offline work off the GPUs. The offline volume
    left to the GPUs is solved again until the hosts the plan keeps on can serve what was taken off."""
    days = WEEK_DAYS
    best = None
    removed = 0.0
    for _ in range(STUDY["reuse"]["iterations"]):
        p = setting.plan(objective, servers, ci, offline=setting.offline_per_day - removed, slowdown=True)
        pl = p["plans"][0]
        on_hours = [0.0] * days
        for s in pl["servers"]:
            if s["sku"] == host_sku:
                series = s.get(True) or s.get("on")
                for t, n in enumerate(series):
                    on_hours[t // 24] += n
        can = min(on_hours) * 3600 * cpu["rps"]
        if can + 1e-6 >= removed:
            extra = removed * days * cpu["j_per_req"] / 3.6e6 * setting.conf["pue"]
            c = setting.carbon(p, ci, extra_kwh=extra)
            c["removed_per_day"], c["plan"] = removed, p
            # Reuse uses the CPUs: the plan that moves the most offline work onto them (on the Sapphire Rapids
            # host a CPU request costs far more energy than on the GPUs, so "least carbon" would mean "no CPUs")
            if best is None or removed > best["removed_per_day"] or (
                    removed == best["removed_per_day"] and c["total"] < best["total"]):
                best = c
        nxt = min(setting.offline_per_day, can)
        if abs(nxt - removed) < 1:
            break
        removed = nxt
    return best


def cpu_offer():
    """The planner's CPU instances on the calibrated host: reuse_cpu.yaml's fleet[0].cpu_instances settings."""
    exp = yaml.safe_load((CONF / STUDY["reuse"]["experiment"]).read_text())
    ci = exp["fleet"][0]["cpu_instances"]
    dep = next(d for d in exp["deployments"] if d["name"] == ci["deployment"])
    offer = {k: ci[k] for k in ("cores_each", "reserved_cores", "dram_gb_each", "amx_speedup") if k in ci}
    if "scheduler" in dep and "max_num_seqs" in dep["scheduler"]:
        offer["max_num_seqs"] = dep["scheduler"]["max_num_seqs"]
    return offer


def planner_reuse(setting, objective, servers, ci, host_sku, without):
    """Reuse from the planner (study.yaml reuse.source: planner): the host_sku entries of `servers` offer CPU
    instances and the planner places offline work on them (the performance design through its `cpu_offline`
    option). GPU capacity is measured with the interference slowdown. A plan that runs no CPU instance has no
    interference: it is the plan `without` them."""
    menu = [dict(s, cpu_instances=cpu_offer()) if s["sku"] == host_sku else s for s in servers]
    extra = ["objective.cpu_offline=true"] if objective == "performance" else []
    p = setting.plan(objective, menu, ci, slowdown=True, extra=extra)
    pl = p["plans"][0]
    cpu_req = float(pl.get("cpu_offline_requests", 0) or 0)
    offline = [e for e in p["capacity"] if e["class"] == "offline" and e["sku"] == host_sku]
    cpu_e = next((e for e in offline if e.get("device") == "cpu"), None)
    gpu_e = max((e for e in offline if e.get("device", "gpu") == "gpu"),
                key=lambda e: e["rate"] / e["tensor_parallel"], default=None)
    room = {t.get("host", "default"): t["cpu_instances"] for t in p["server_types"]
            if t["sku"] == host_sku and "cpu_instances" in t}
    solved = p
    if cpu_req <= 0:
        p = without
    c = setting.carbon(p, ci)
    c["removed_per_day"], c["plan"], c["solved"] = cpu_req / WEEK_DAYS, p, solved
    c["cpu_entry"], c["gpu_entry"], c["cpu_room"] = cpu_e, gpu_e, room
    c["cpu_instances_peak"] = max((max(r["instances"]) for r in pl.get("cpu_offline", [])), default=0.0)
    return c


def planner_reuse_text(rows, cpu_share, gpu_j, spared):
    """The Reuse bullet when the planner places the CPU work (reuse.source: planner)."""
    cis = STUDY["carbon_intensities"]
    perf = [r["ci"][ci][("reuse", "performance")] for r in rows for ci in cis if r["ci"][ci][("reuse", "performance")]]
    alls = [r["ci"][ci]["3r"] for r in rows for ci in cis]
    cpu_e = [c["cpu_entry"] for c in perf + alls if c.get("cpu_entry")]
    gpu_e = [c["gpu_entry"] for c in perf if c.get("gpu_entry")]
    all_share = [r["ci"][ci].get("all_cpu_share", 0.0) for r in rows for ci in cis]
    used = [c for c in perf + alls if c["removed_per_day"] > 0]
    room = next((c["cpu_room"] for c in alls if c.get("cpu_room")), {})
    red = room.get("reduced", {})
    cpu_w = [e["active_w"] / e["rate"] for e in cpu_e]
    gpu_w = [e["active_w"] / e["rate"] for e in gpu_e]
    per_host = [3 * e["rate"] for e in cpu_e]
    gpus_host = [8 * e["rate"] / e["tensor_parallel"] for e in gpu_e]
    rng = lambda v, f: f"{f(min(v))}" if f(min(v)) == f(max(v)) else f"{f(min(v))}-{f(max(v))}"
    reduced_room = (f" On the reduced H100 host of all four the DRAM beside the GPU serving stack, "
                    f"{red.get('dram_gb', 0):,.2f} GB, holds {int(red.get('dram_gb', 0) // red.get('dram_gb_each', 64))} "
                    f"CPU instances of {red.get('dram_gb_each', 64):g} GB where the cores allow three (docs/PLANNING.md, "
                    "\"CPU instances\")." if red else "")
    return (
        "- **Reuse** is not reproduced. The planner may place the offline work on the CPU instances of the H100 "
        "hosts (`servers[].cpu_instances` with reuse_cpu.yaml's settings: three of 32 cores per host beside 16 "
        "reserved; the performance design with `objective.cpu_offline`, all four with the carbon objective; GPU "
        "capacity measured 3% slower, the interference input, where CPU instances are offered). A CPU instance "
        f"serves {rng([e['rate'] for e in cpu_e], lambda x: f'{x:.3f}')} offline requests/s at "
        f"{rng([e['active_w'] for e in cpu_e], lambda x: f'{x:.0f}')} W busy, "
        f"{rng(cpu_w, lambda x: f'{x:,.0f}')} W per request/s, where an H100 GPU instance serves "
        f"{rng([e['rate'] for e in gpu_e], lambda x: f'{x:.1f}')} at {rng(gpu_w, lambda x: f'{x:.1f}')} W per "
        f"request/s (plus the server's idle power either way); the three CPU instances of a host add "
        f"{rng(per_host, lambda x: f'{x:.2f}')} requests/s beside its GPUs' {rng(gpus_host, lambda x: f'{x:.0f}')}. "
        f"The planner puts {fmt_range(cpu_share)} of the offline work on CPUs in the "
        f"performance design and {fmt_range(all_share)} in all four "
        f"({len(used)} of {len(perf) + len(alls)} plans use them), sparing {spared} of the GPUs bought: a CPU "
        "request costs more energy than a GPU one, and the CPUs' capacity is too small to save a server, so every "
        "objective leaves them idle, and a plan that runs no CPU instance has no interference (it is the design "
        "without Reuse). EcoServe's 25.4% and 1.32x fewer offline GPUs need the host CPUs to carry a material share "
        "of the offline work: a service small against its hosts (a lower `rate_scale`), CPU throughput several "
        "times ours, or offline work lighter than these lengths; none was tuned here." + reduced_room)


def offline_gpus_peak(plan):
    pl = plan["plans"][0]
    per_slot = None
    for i in pl["instances"]:
        if i["class"] != "offline":
            continue
        vals = [v * i["tensor_parallel"] for v in i["per_slot"]]
        per_slot = vals if per_slot is None else [a + b for a, b in zip(per_slot, vals)]
    return max(per_slot) if per_slot else 0.0


def card_embodied(runner):
    r = subprocess.run([runner.binary, "list", "servers", "--embodied"], capture_output=True, text=True, check=True)
    cards, host_pct = {}, {}
    for line in r.stdout.splitlines()[2:]:
        f = line.split()
        if len(f) == 12 and f[10].endswith("%"):
            cards[f[0]] = float(f[2])
            host_pct[f[0]] = float(f[10].rstrip("%")) / 100
    return cards, host_pct


def recycle_embodied(plan, cards, gpu_years, host_years):
    """The plan's purchases amortised over Recycle's lifetimes instead of one server lifetime."""
    t = plan
    types = {(s["sku"], s.get("host", "default")): s for s in t["server_types"]}
    hours = t["slots"] * t["slot_s"] / 3600
    emb = 0.0
    for s in t["plans"][0]["servers"]:
        st = types.get((s["sku"], s.get("host", "default"))) or next(
            v for k, v in types.items() if k[0] == s["sku"])
        gpu = cards[s["sku"]]
        emb += s["bought"] * (gpu / gpu_years + (st["embodied_kg"] - gpu) / host_years) * hours / 8760
    return emb


def study(runner):
    cis = STUDY["carbon_intensities"]
    cards, host_pct = card_embodied(runner)
    res = {"rows": [], "cards": cards, "host_pct": host_pct}
    host_sku = STUDY["reuse"]["host_sku"]
    menu = [{"sku": s["sku"]} for s in yaml.safe_load((CONF / "week_conv.yaml").read_text())["servers"]]
    for mix in STUDY["mixes"]:
        for share in STUDY["offline_shares"]:
            st = Setting(runner, mix, share)
            perf_full = st.plan("performance", menu)
            perf_sku = perf_full["plans"][0]["servers"][0]["sku"]
            figs = per_request_figures(st)
            designs = {"performance": perf_sku, "energy": min(figs, key=lambda k: figs[k][0]),
                       "cost": min(figs, key=lambda k: figs[k][1])}
            cpu = cpu_reuse(runner, st)
            row = {"mix": mix, "share": share, "designs": designs, "cpu": cpu, "ci": {}, "figs": figs}
            base_plans = {b: st.plan("performance", [{"sku": sku}]) for b, sku in designs.items()}
            red_plans = {b: st.plan("performance", [{"sku": sku, "hosts": ["reduced"]}]) for b, sku in designs.items()}
            row["offline_gpus_peak"] = {"performance": offline_gpus_peak(base_plans["performance"])}
            row["perf_servers"] = sum(x["bought"] for x in base_plans["performance"]["plans"][0]["servers"])
            row["host_types"] = {"default": base_plans["performance"]["server_types"][0],
                                 "reduced": red_plans["performance"]["server_types"][0]}
            if not PLANNER:
                reuse_host_emb, reuse_host_dram = reduced_host_with_cpu(runner, st)
            for ci in cis:
                c = {}
                for b in designs:
                    c[("base", b)] = st.carbon(base_plans[b], ci)
                    c[("reduce", b)] = st.carbon(red_plans[b], ci)
                    if designs[b] == host_sku:
                        ru = (planner_reuse(st, "performance", [{"sku": designs[b]}], ci, host_sku, base_plans[b])
                              if PLANNER else with_reuse(st, "performance", [{"sku": designs[b]}], ci, cpu,
                                                         host_sku))
                        c[("reuse", b)] = ru
                        if b == "performance":
                            row["offline_gpus_peak"]["reuse"] = offline_gpus_peak(ru["plan"])
                            row["removed_per_day"] = ru["removed_per_day"]
                    else:
                        c[("reuse", b)] = None
                rs = st.plan("carbon", menu, ci)
                c["rightsize"] = st.carbon(rs, ci)
                c["rightsize_types"] = {s["sku"]: s["bought"] for s in rs["plans"][0]["servers"] if s["bought"]}
                red_menu = [{"sku": m["sku"], "hosts": ["reduced"]} for m in menu]
                rr = st.plan("carbon", red_menu, ci)
                c["rightsize+reduce"] = st.carbon(rr, ci)
                if PLANNER:
                    # the planner's reduced hosts offer CPU instances in the DRAM the GPU serving stack leaves
                    al = planner_reuse(st, "carbon", red_menu, ci, host_sku, rr)
                    c["all_cpu_share"] = al["removed_per_day"] / st.offline_per_day
                    c["all_cpu_peak"] = al["cpu_instances_peak"]
                    p = al["plan"]
                    h100 = None
                else:
                    al = with_reuse(st, "carbon", red_menu, ci, cpu, host_sku)
                    # the reduced H100 host must also hold the CPU instances' DRAM: its embodied and DRAM power
                    p = al["plan"]
                    h100 = next((s for s in p["server_types"]
                                 if s["sku"] == host_sku and s.get("host") == "reduced"), None)
                bought = sum(s["bought"] for s in p["plans"][0]["servers"] if s["sku"] == host_sku)
                hours = p["slots"] * p["slot_s"] / 3600
                if h100 is not None and bought:
                    d_emb = reuse_host_emb - (h100["embodied_kg"] - cards[host_sku])
                    d_dram = reuse_host_dram - h100.get("dram_gb", reuse_host_dram)
                    on_h = sum(sum(s.get(True) or s.get("on")) for s in p["plans"][0]["servers"]
                               if s["sku"] == host_sku)
                    mem = yaml.safe_load((ROOT / "hardware_catalog/memory.yaml").read_text())
                    w_gb = mem["memory_kinds"]["ddr5"]["power_w_per_gb"]
                    d_kwh = d_dram * w_gb * on_h / 1000 * p["pue"]
                    al["energy"] += d_kwh
                    al["op"] += d_kwh * ci / 1000
                    al["emb"] += bought * d_emb * hours / (p["server_types"][0]["lifetime_years"] * 8760)
                    for s in p["server_types"]:
                        if s["sku"] == host_sku and s.get("host") == "reduced":
                            s["embodied_kg"] += d_emb
                al["total"] = al["op"] + al["emb"]
                c["3r"] = dict(al)
                emb_rec = recycle_embodied(p, cards, STUDY["recycle"]["gpu_life_years"],
                                           STUDY["recycle"]["host_life_years"])
                c["all"] = dict(al, emb=emb_rec, total=al["op"] + emb_rec)
                c["all_types"] = {s["sku"]: s["bought"] for s in p["plans"][0]["servers"] if s["bought"]}
                row["ci"][ci] = c
            res["rows"].append(row)
    res.update(study_small(runner))
    return res


def study_small(runner):
    """Recycle alone (the lifecycle study per mix and CI) and the observations' run."""
    cis = STUDY["carbon_intensities"]
    cards, host_pct = card_embodied(runner)
    res = {"cards": cards, "host_pct": host_pct, "recycle": {}}
    for mix, m in STUDY["mixes"].items():
        for ci in cis:
            rows = runner.lifecycle([f"experiment={m['recycle']}", f"carbon_intensity={ci}"])
            tot, mwh = {}, {}
            for r in rows:
                tot[r["policy"]] = tot.get(r["policy"], 0.0) + float(r[TOTAL_COL(r)])
                mwh[r["policy"]] = mwh.get(r["policy"], 0.0) + float(r["energy_mwh"])
            res["recycle"][(mix, ci)] = tot
            res.setdefault("recycle_mwh", {})[(mix, ci)] = mwh
    # Observations (EcoServe's motivation and carbon model) from a run: the conv hour on one HGX H100 at 17 g/kWh
    _, s = runner.run(ALL_MIXES["conv"]["recycle"], [f"fleet.0.sku={STUDY['observations']['node_sku']}",
                                                          "sites.0.carbon_intensity=17"])
    res["obs_run"] = s
    return res


def TOTAL_COL(r):
    for k in ("total_t", "total_kg", "total"):
        if k in r:
            return k
    sys.exit(f"lifecycle CSV: no total column among {list(r)}")


def fmt_range(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    lo, hi = min(vals), max(vals)
    return pct(lo) if abs(hi - lo) < 5e-4 else f"{pct(lo)} to {pct(hi)}"


def span_word(values, lo, hi):
    values = list(values)
    return "lies inside" if min(values) <= lo and hi <= max(values) else "lies outside"


def explanations(res):
    cis = STUDY["carbon_intensities"]
    rows = res["rows"]
    L = []
    r0 = next((r for r in rows if r["mix"] == "conv" and abs(r["share"] - 0.45) < 1e-9), rows[0])
    d, rd = r0["host_types"]["default"], r0["host_types"]["reduced"]
    red = {ci: saving(r0["ci"][ci][("base", "performance")]["total"], r0["ci"][ci][("reduce", "performance")]["total"])
           for ci in cis}
    emb = {ci: r0["ci"][ci][("base", "performance")]["emb"] / r0["ci"][ci][("base", "performance")]["total"]
           for ci in cis}
    L.append(
        f"- **Reduce** follows the embodied share. The reduced {d['sku']} host ({rd.get('dram_gb', 0):,.0f} GB DRAM, "
        f"{rd.get('ssd_gb', 0):,.0f} GB SSD, the Reduce rule's least host for Llama-3.1-8B) takes the server's embodied "
        f"carbon from {d['embodied_kg']:,.0f} to {rd['embodied_kg']:,.0f} kg and its idle power from "
        f"{d['idle_w']:,.0f} to {rd['idle_w']:,.0f} W. In the {r0['mix']} week with {r0['share']:.0%} offline the "
        "performance design's embodied share is " + ", ".join(f"{pct(emb[ci])} at {ci}" for ci in cis) +
        " g/kWh, and Reduce saves " + ", ".join(f"{pct(red[ci])}" for ci in cis) + " of its total. EcoServe's "
        f"12.4-28.6% {span_word(red.values(), 0.124, 0.286)} that span; the paper's setting (CI, utilisation) "
        "behind its range is not public.")
    cpu_share = [r.get("removed_per_day", 0) / r["offline_per_day"] for r in rows]
    gpu_j = [r["figs"][r["designs"]["performance"]][0] for r in rows]
    fewer = [r["ci"][ci][("base", "performance")]["gpus"] - r["ci"][ci][("reuse", "performance")]["gpus"]
             for r in rows for ci in cis if r["ci"][ci][("reuse", "performance")]]
    spared = "none" if max(fewer) == 0 else f"{min(fewer)}-{max(fewer)}"
    if PLANNER:
        L.append(planner_reuse_text(rows, cpu_share, gpu_j, spared))
    else:
        L.append(
            f"- **Reuse** is not reproduced. The three CPU instances of an H100 host serve "
            f"{min(r['cpu']['rps'] for r in rows):.2f}-{max(r['cpu']['rps'] for r in rows):.2f} offline requests/s "
            f"(the CPU model with EcoServe's 3.67x AMX speed-up, docs/CPU_MODEL.md) at "
            f"{min(r['cpu']['j_per_req'] for r in rows):,.0f}-{max(r['cpu']['j_per_req'] for r in rows):,.0f} J of CPU "
            f"energy per request, where the H100 design spends {min(gpu_j):,.0f}-{max(gpu_j):,.0f} J per request, idle "
            f"share included. In a week whose offline volume is millions of requests a day, the CPUs of the design's "
            f"hosts take {pct(min(cpu_share))}-{pct(max(cpu_share))} of it: they spare {spared} of the GPUs bought, "
            "add energy, and the GPU steps of every host with CPU instances are 3% slower (the interference input), so Reuse costs "
            "carbon here. EcoServe's 25.4% and 1.32x fewer offline GPUs need the host CPUs to carry a material share "
            "of the offline work: a service small against its hosts (a lower `rate_scale`), or offline work lighter "
            "than these lengths; neither was tuned here.")
    rs_perf = [saving(r["ci"][ci][("base", "performance")]["total"], r["ci"][ci]["rightsize"]["total"])
               for r in rows for ci in cis]
    rs_cost = [saving(r["ci"][ci][("base", "cost")]["total"], r["ci"][ci]["rightsize"]["total"])
               for r in rows for ci in cis]
    cj = [r["figs"][r["designs"]["cost"]][0] for r in rows]
    types = sorted({t for r in rows for ci in cis for t in r["ci"][ci]["rightsize_types"]})
    L.append(
        f"- **Rightsize** (the planner's carbon objective) buys {', '.join(types)} and saves {fmt_range(rs_perf)} "
        "against the performance design by keeping fewer servers on in the troughs of the daily cycle and by "
        "moving the offline batch into them (the designs keep every server on); against the cost design "
        f"({', '.join(sorted({r['designs']['cost'] for r in rows}))}: the least dollars per request, at "
        f"{min(cj):,.0f}-{max(cj):,.0f} J per request) it saves {fmt_range(rs_cost)}. EcoServe's 15.2-30.3% comes from SLO "
        "slack and load variability too; our daily cycle (amplitude 0.5) and 24 h offline deadline are the only "
        f"variability here, and against the H100 design {sum(1 for v in rs_perf if 0.152 <= v <= 0.303)} of "
        f"{len(rs_perf)} settings fall in that range (the others below it).")
    rec = {k: (t["homogeneous-4y"] - t["recycle"]) / t["homogeneous-4y"] for k, t in res["recycle"].items()}
    more = [m["recycle"] / m["homogeneous-4y"] - 1 for m in res["recycle_mwh"].values()]
    L.append(
        "- **Recycle** (ten years, GPUs every 3 years in hosts kept 10, against whole servers every 4) saves "
        + ", ".join(f"{pct(v)} ({k[0]}, {k[1]} g/kWh)" for k, v in rec.items()) + ". Keeping hosts cuts the "
        f"decade's embodied carbon; its energy differs from the whole-server refresh's by {fmt_range(more)} (it "
        "runs the newer generations earlier, whose power for the same work differs at this load, "
        "docs/LIFECYCLE.md), and the embodied share, hence the saving, shrinks as the CI grows. EcoServe's 16.8% "
        "(its setting unpublished) "
        f"{span_word(rec.values(), 0.168, 0.168)} the span.")
    al = [saving(r["ci"][ci][("base", b)]["total"], r["ci"][ci]["all"]["total"])
          for r in rows for ci in cis for b in ("performance", "energy", "cost")]
    alp = [saving(r["ci"][ci][("base", "performance")]["total"], r["ci"][ci]["all"]["total"])
           for r in rows for ci in cis]
    L.append(
        f"- **All four** (the carbon objective with reduced hosts and Reuse, embodied carbon over Recycle's "
        f"lifetimes) saves {fmt_range(alp)} against the performance design and up to {pct(max(al))} against any "
        "design. The largest savings are against the cost design at low CI, where its larger fleet of less "
        "efficient GPUs carries both more energy and more embodied carbon; EcoServe's \"up to 47%\" is one "
        "number whose baseline and CI are not given.")
    worse = [ci for r in rows for ci in cis if r["ci"][ci]["all"]["total"] > r["ci"][ci]["rightsize"]["total"]]
    if worse:
        L.append(
            f"- All four save less than Rightsize alone in {len(worse)} of {len(rows) * len(cis)} settings (at "
            f"{', '.join(str(c) for c in sorted(set(worse)))} g/kWh): " + (
                "there the reduced hosts' plan buys or keeps on differently from Rightsize's (the carbon objective "
                "on another menu), and Recycle's longer host life does not make up for it." if PLANNER else
                "there Reuse's energy and interference cost more than the smaller hosts and their longer life "
                "save."))
    L.append(
        "- **Offline share.** The week's total rate is fixed and the offline share only moves requests from the "
        "online cycle into daily batches of the same lengths. The performance design is sized by the online peak "
        "plus the batch spread over the day; its servers by share: " + "; ".join(
            f"{mix} " + ", ".join(f"{r['share']:.0%}: {r['perf_servers']}" for r in rows if r["mix"] == mix)
            for mix in dict.fromkeys(r["mix"] for r in rows)) + " (the rows with the same count have nearly the "
        "same totals: a higher online share raises the peak, not the work).")
    L.append(
        "- **Performance within 3%** is assumed, not reproduced: the CPU instances slow the co-located GPU steps "
        "by the `interference_slowdown` input (0.03, EcoServe's figure), and every plan meets the same p90 TTFT "
        "and TPOT targets by construction of its capacity tables (docs/PLANNING.md).")
    return L


def stopping(status):
    """What stopped the plans' searches (docs/PLANNING.md, "Solver"): the gap or the node count, the same on any
    machine, or the CPU time limit, which may differ on another."""
    solver = yaml.safe_load((CONF / "week_conv.yaml").read_text())["solver"]
    counts = {k: sum(1 for v in status.values() if v == k) for k in ("node_limit", "time_limit")}
    text = (f"Each plan's search stops at a {solver['relative_gap']:.1%} gap or after {solver['max_nodes']:,} "
            f"branch-and-bound nodes ({counts['node_limit']} of {len(status)} plans stop on the node count), "
            "so the plans are the same on any machine")
    if counts["time_limit"]:
        return text + (f", except {counts['time_limit']} stopped by the {solver['time_limit']} CPU time limit "
                       "(their status says so), which may differ on another machine.")
    return text + f" (the {solver['time_limit']} CPU time limit, a safety net, stopped none)."


def section(res, runs):
    cis = STUDY["carbon_intensities"]
    rows = res["rows"]
    L = []
    a = L.append
    a("Generated by `/usr/bin/python3 docs/reproduce_ecoserve.py build/greenfleet` from experiments/paper/ecoserve/ "
      "(its README says how the week is built and what each strategy is in greenfleet; `study.yaml` holds every "
      f"choice). {runs} greenfleet calls (plans, runs, lifecycle studies), cached under out/ecoserve (a fresh run took about 13 minutes of wall time "
      "on the project's two-core machine under a load average of about 4, and 23 under heavier load, most of "
      "it CBC solves of the carbon objective; cached, the script rereads everything in about a minute; `--check` "
      "compares this text, `--smoke`, the ctest, regenerates the Recycle and observation tables in under a "
      f"minute). {stopping(res.get('plan_status', {}))} Savings are (baseline - strategy) / baseline of the week's "
      "carbon (operational at the constant CI, PUE 1.12, plus embodied amortised over 4 years unless said).")
    a("")
    # summary table
    def col(key, base="performance"):
        return [saving(r["ci"][ci][("base", base)]["total"],
                       (r["ci"][ci][(key, base)] or {}).get("total") if r["ci"][ci][(key, base)] else None)
                for r in rows for ci in cis]

    def vs_all(key):
        out = []
        for r in rows:
            for ci in cis:
                for b in ("performance", "energy", "cost"):
                    out.append(saving(r["ci"][ci][("base", b)]["total"], r["ci"][ci][key]["total"]))
        return out
    rec = [(t["homogeneous-4y"] - t["recycle"]) / t["homogeneous-4y"] for t in res["recycle"].values()]
    perf_gpus = [r["offline_gpus_peak"]["performance"] / r["offline_gpus_peak"]["reuse"]
                 for r in rows if r["offline_gpus_peak"].get("reuse")]
    a("| strategy | reported (EcoServe, arXiv 2502.05043) | ours: range over mixes, offline shares and CIs | status |")
    a("|---|---|---|---|")
    a(f"| Reduce | 12.4-28.6% (online) | {fmt_range(col('reduce'))} vs the performance design; "
      f"{fmt_range(col('reduce', 'energy') + col('reduce', 'cost'))} vs the energy and cost designs | below |")
    a(f"| Reuse | 25.4% | {fmt_range(col('reuse'))} vs the performance design (the only design with a calibrated "
      "host CPU) | not reproduced (below) |")
    gpus_range = (f"{min(perf_gpus):.3f}x" if f"{min(perf_gpus):.3f}" == f"{max(perf_gpus):.3f}" else
                  f"{min(perf_gpus):.3f}x to {max(perf_gpus):.3f}x") if perf_gpus else ""
    a(f"| Reuse: GPUs for offline at peak | 1.32x fewer | {gpus_range} "
      "fewer | not reproduced (below) |" if perf_gpus else "| Reuse: GPUs for offline at peak | 1.32x | n/a | |")
    a(f"| Rightsize | 15.2-30.3% | {fmt_range(vs_all('rightsize'))} vs the three designs | below |")
    a(f"| Recycle | 16.8% | {fmt_range(rec)} vs whole servers every 4 years | below |")
    a(f"| all four | up to 47% | {fmt_range(vs_all('all'))} vs the three designs (up to "
      f"{pct(max(v for v in vs_all('all') if v is not None))}) | below |")
    a("| performance within 3% | ~3% | 3% | **assumed**: the CPU instances' interference is an input "
      "(`interference_slowdown` 0.03), and every plan meets the same p90 SLO by construction |")
    a("")
    a("### Why the numbers differ")
    a("")
    for line in explanations(res):
        a(line)
    a("")
    a("### Baseline designs")
    a("")
    a("| mix | offline | performance | energy | cost | CPU offline req/s per H100 host | CPU J/request | "
      "offline req/day on CPUs (perf. design) |")
    a("|---|---|---|---|---|---|---|---|")
    for r in rows:
        d = r["designs"]
        a(f"| {r['mix']} | {r['share']:.0%} | {d['performance']} | {d['energy']} | {d['cost']} | "
          f"{r['cpu']['rps']:.3f} | {r['cpu']['j_per_req']:.0f} | {r.get('removed_per_day', 0):,.0f} of "
          f"{r['offline_per_day']:,.0f} |")
    a("")
    a("### Each strategy alone and all four, by setting")
    a("")
    a("Savings against the performance / energy / cost designs (Reuse: performance design only; Recycle: the "
      "lifecycle study below). Week totals of the performance design in kgCO2e.")
    a("")
    a("| mix | offline | CI | perf. design kg | embodied share | Reduce | Reuse | Rightsize | all four | "
      "Rightsize buys | all four buys |")
    a("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        for ci in cis:
            c = r["ci"][ci]
            b = {k: c[("base", k)]["total"] for k in ("performance", "energy", "cost")}

            def tri(x):
                if isinstance(x, str):
                    return "/".join(pct(saving(b[k], (c[(x, k)] or {}).get("total") if c[(x, k)] else None))
                                    for k in b)
                return "/".join(pct(saving(b[k], x["total"])) for k in b)
            base = c[("base", "performance")]
            buys = lambda d: ", ".join(f"{n} {s}" for s, n in d.items())
            a(f"| {r['mix']} | {r['share']:.0%} | {ci} | {base['total']:,.0f} | {base['emb'] / base['total']:.1%} | "
              f"{tri('reduce')} | {pct(saving(b['performance'], c[('reuse', 'performance')]['total']) if c[('reuse', 'performance')] else None)} | "
              f"{tri(c['rightsize'])} | {tri(c['all'])} | {buys(c['rightsize_types'])} | {buys(c['all_types'])} |")
    a("")
    L += small_tables(res)
    shares = [r["ci"][17][("base", "performance")]["emb"] / r["ci"][17][("base", "performance")]["total"]
              for r in rows]
    a(f"In the performance designs' weeks at 17 g/kWh (the plans), embodied carbon is {fmt_range(shares)} of the "
      "total.")
    a("")
    a("![4R waterfall](figures/ecoserve_waterfall.png)")
    return "\n".join(L) + "\n"


def small_tables(res):
    """The Recycle and observation tables: cheap to regenerate (the --smoke test compares them)."""
    L = []
    a = L.append
    a("### Recycle: ten years, one 8-GPU server, the trace's hour as recorded each year")
    a("")
    a("| mix | CI | recycle t | whole servers every 4 years t | every 3 years t | saving vs 4 years | vs 3 years |")
    a("|---|---|---|---|---|---|---|")
    for (mix, ci), t in res["recycle"].items():
        a(f"| {mix} | {ci} | {t['recycle']:.2f} | {t['homogeneous-4y']:.2f} | {t['homogeneous-3y']:.2f} | "
          f"{pct((t['homogeneous-4y'] - t['recycle']) / t['homogeneous-4y'])} | "
          f"{pct((t['homogeneous-3y'] - t['recycle']) / t['homogeneous-3y'])} |")
    a("")
    s = res["obs_run"]
    node = STUDY["observations"]["node_sku"]
    cross = s["embodied_kg"] * 1000 / s["energy_facility_kwh"]
    hp = res["host_pct"]
    shares = list(hp.values())
    a("### Observations (EcoServe's motivation and carbon model)")
    a("")
    a("| observation | reported | ours | from |")
    a("|---|---|---|---|")
    a(f"| host share of the node's embodied carbon | ~73-80% (H100 HGX) | {hp[node]:.1%} ({node}); "
      f"{min(shares):.1%} to {max(shares):.1%} over the catalog's SKUs | `greenfleet list servers --embodied` |")
    a(f"| embodied share at 17 g/kWh | ~60% (utilisation 0.8, 4 years) | {s['embodied_share']:.1%} (the conv "
      f"hour on one {node}, instance utilisation {s['instance_utilisation']:.2f}) | a run's ledger |")
    a(f"| crossover CI (operational = embodied) | ~25 g/kWh | {cross:.1f} g/kWh | that run: embodied kg / facility "
      "kWh (exact: its energy does not depend on a constant CI) |")
    a("")
    return L


def waterfall(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cis = STUDY["carbon_intensities"]
    fig, axes = plt.subplots(1, len(cis), figsize=(4 * len(cis), 3.6))
    r = next(r for r in res["rows"] if r["mix"] == "conv" and abs(r["share"] - 0.45) < 1e-9) if any(
        r["mix"] == "conv" for r in res["rows"]) else res["rows"][0]
    for ax, ci in zip(axes, cis):
        c = r["ci"][ci]
        steps = [("performance\ndesign", c[("base", "performance")]["total"]),
                 ("Rightsize", c["rightsize"]["total"]), ("+Reduce", c["rightsize+reduce"]["total"]),
                 ("+Reuse", c["3r"]["total"]), ("+Recycle", c["all"]["total"])]
        prev = None
        for i, (name, v) in enumerate(steps):
            if prev is None:
                ax.bar(i, v, color="0.5")
            else:
                ax.bar(i, v - prev, bottom=prev, color="tab:green" if v <= prev else "tab:red")
            prev = v
        ax.bar(len(steps), prev, color="tab:blue")
        ax.set_xticks(range(len(steps) + 1), [s[0] for s in steps] + ["all four"], rotation=45, fontsize=7)
        ax.set_title(f"{ci} gCO2e/kWh", fontsize=9)
        ax.set_ylabel("kgCO2e per week", fontsize=8)
    fig.suptitle(f"EcoServe's 4R, {r['mix']} mix, {r['share']:.0%} offline (greenfleet)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


# --table NAME: the heading a table follows in the section (None: the summary table at its top)
TABLES = {"claims": None, "designs": "### Baseline designs", "settings": "### Each strategy alone",
          "recycle": "### Recycle", "observations": "### Observations"}


def one_table(lines, heading):
    """The first Markdown table after `heading` (or the first table at all), with the heading."""
    start = 0
    if heading is not None:
        start = next(i for i, l in enumerate(lines) if l.startswith(heading))
    first = next(i for i in range(start, len(lines)) if lines[i].startswith("|"))
    end = next((i for i in range(first, len(lines)) if not lines[i].startswith("|")), len(lines))
    return ([lines[start], ""] if heading is not None else []) + lines[first:end]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?", default=str(ROOT / "build" / "greenfleet"))
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--smoke", action="store_true",
                    help="the test's quick check: the planning files build their capacity tables, the Reuse "
                         "measurement runs, and the Recycle and observation tables regenerate as committed")
    ap.add_argument("--table", choices=sorted(TABLES),
                    help="print one table to stdout instead of writing the section (docs/REPRODUCTION.md unchanged); "
                         "recycle and observations run only what they need, the others the study's plans")
    ap.add_argument("--mix", choices=sorted(ALL_MIXES), help="with --table: only this length mix")
    ap.add_argument("--share", type=float, help="with --table: only this offline share (one of study.yaml's)")
    args = ap.parse_args()
    if (args.mix or args.share is not None) and not args.table:
        ap.error("--mix and --share select rows of one --table")
    if args.share is not None and args.share not in STUDY["offline_shares"]:
        ap.error(f"--share must be one of study.yaml's offline_shares {STUDY['offline_shares']}")
    data = Path(os.environ.get("GREENFLEET_DATA", ROOT.parent / "shared" / "data"))
    try:
        import h5py  # noqa: F401
    except ImportError:
        print("skipped: needs h5py")
        return 77
    if not (data / "traces" / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv").exists():
        print(f"skipped: needs the Azure LLM inference 2023 traces under {data} (traces/README.md)")
        return 77
    if STUDY["reuse"]["source"] not in ("fixed", "planner"):
        print(f"study.yaml reuse.source: {STUDY['reuse']['source']!r}: expected 'planner' or 'fixed'")
        return 2
    runner = Runner(args.binary)
    if args.smoke:
        for m in STUDY["mixes"].values():
            runner._call(["plan", str(CONF / m["plan"]), "-q", "--capacity-only"])
            if PLANNER:  # and the CPU instances' entry the planner places Reuse with
                host = [{"sku": STUDY["reuse"]["host_sku"], "cpu_instances": cpu_offer()}]
                runner._call(["plan", str(CONF / m["plan"]), "-q", "--capacity-only", "--set",
                              "servers=" + json.dumps(host)])
        for mix in STUDY["mixes"]:
            cpu = cpu_reuse(runner, Setting(runner, mix, STUDY["offline_shares"][0]))
            if not cpu["rps"] > 0 or not cpu["j_per_req"] > 0:
                print(f"Reuse measurement of {mix}: no CPU throughput or energy: {cpu}")
                return 1
        block = "\n".join(small_tables(study_small(runner)))
        if block not in DOC.read_text():
            print("the Recycle and observation tables differ from docs/REPRODUCTION.md's; now:\n" + block)
            return 1
        print("ok: capacity tables, Reuse measurement, Recycle and observation tables as committed")
        return 0
    if args.table:
        if args.mix:
            STUDY["mixes"] = {args.mix: ALL_MIXES[args.mix]}
        if args.share is not None:
            STUDY["offline_shares"] = [args.share]
        if args.table in ("recycle", "observations"):
            lines = small_tables(study_small(runner))
        else:
            res = study(runner)
            for r in res["rows"]:
                r["offline_per_day"] = Setting(runner, r["mix"], r["share"]).offline_per_day
            res["plan_status"] = runner.plan_status
            lines = section(res, runner.runs).splitlines()
        print("\n".join(one_table(lines, TABLES[args.table])))
        return 0
    res = study(runner)
    for r in res["rows"]:
        r["offline_per_day"] = Setting(runner, r["mix"], r["share"]).offline_per_day
    res["plan_status"] = runner.plan_status
    text = section(res, runner.runs)
    doc = DOC.read_text()
    if BEGIN in doc:
        head, rest = doc.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
    else:
        head, tail = doc.rstrip("\n") + "\n\n## EcoServe\n\n", "\n"
    new = head + BEGIN + "\n" + text + END + tail
    if args.check:
        if new != doc:
            import difflib
            sys.stdout.writelines(difflib.unified_diff(doc.splitlines(True), new.splitlines(True), "committed",
                                                       "now"))
            return 1
        return 0
    DOC.write_text(new)
    waterfall(res, FIG)
    print(f"wrote {DOC.relative_to(ROOT)} and {FIG.relative_to(ROOT)} ({runner.runs} greenfleet calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
