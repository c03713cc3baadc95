#!/usr/bin/env python3
"""`greenfleet compare` against an independent implementation of its documented block bootstrap.

  compare_test.py BINARY SOURCE_DIR

Runs a small quick start twice with one router and once with another, then checks that
- two runs of one configuration compare with zero differences and zero-width intervals;
- the intervals between the two routers equal those of the block bootstrap written out below from the rule in
  docs/OUTPUT.md ("Comparing runs": blocks, splitmix64 draws, nearest-rank percentiles, order statistics);
- seed-replica groups get the t interval of docs/OUTPUT.md.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

M64 = (1 << 64) - 1


def splitmix64(state):
    while True:
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        yield z ^ (z >> 31)


def multiplicities(seed, resamples, k):
    rng = splitmix64(seed)
    out = []
    for _ in range(resamples):
        m = [0] * k
        for _ in range(k):
            m[next(rng) % k] += 1
        out.append(m)
    return out


class Run:
    def __init__(self, path, k):
        with h5py.File(path, "r") as f:
            self.digest = f.attrs["workload_digest"].decode()
            self.summary = {key: float(v) for key, v in f["summary"].attrs.items() if key != "title"}
            r = {c: f["requests"][c][:] for c in f["requests"]}
            ts = f["timeseries"]
            slots = ts["slot_start_s"][:]
            slot_sums = {c: ts[c][:].sum(axis=1) for c in ("energy_j", "operational_g", "embodied_g")}
            idle = {c: float(f["carbon"].attrs["idle_" + c]) for c in ("energy_j", "operational_g", "embodied_g")}
        self.T = self.summary["simulated_seconds"]
        arrival = r["arrival_ns"].astype(object)
        span = max(int(a) for a in arrival) + 1
        self.block = np.array([min(int(a) * k // span, k - 1) for a in arrival])
        done = r["status"] == 0
        self.done = done
        self.r = r
        self.k = k

        def bsum(mask, w):
            return np.bincount(self.block[mask], weights=np.asarray(w, dtype=np.float64)[mask], minlength=k)

        one = np.ones(len(done))
        self.sums = {
            "arrivals": bsum(np.ones(len(done), bool), one),
            "done": bsum(done, one),
            "met": bsum(done, r["slo_met"]),
            "out": bsum(done, r["output_tokens"]),
            "tokens": bsum(done, r["prompt_tokens"].astype(np.float64) + r["output_tokens"]),
            "done_on": bsum(done & (r["class"] == 0), one),
            "met_on": bsum(done & (r["class"] == 0), r["slo_met"]),
        }
        if len(slots) >= k:
            sb = np.array([min(int(round(s * 1e9)) * k // span, k - 1) for s in slots])
            for c in ("energy_j", "operational_g", "embodied_g"):
                self.sums[c] = np.bincount(sb, weights=slot_sums[c], minlength=k)
        else:
            allr = np.ones(len(done), bool)
            for c in ("energy_j", "operational_g", "embodied_g"):
                self.sums[c] = bsum(allr, r[c]) + idle[c] / k
        self.vals = {}
        for name, col in (("ttft", "ttft_s"), ("tpot", "tpot_s"), ("e2e", "e2e_s")):
            keep = done & (r["output_tokens"] > 1) if name == "tpot" else done
            self.vals[name] = [r[col][keep & (self.block == b)].astype(np.float64) for b in range(k)]

    def stat(self, key, m):
        cache = self.__dict__.setdefault("_sums_of_draw", {})
        if tuple(m) not in cache:  # the drawn blocks' sums, once per draw (summed in block order, as compare does)
            cache[tuple(m)] = {name: sum(m[b] * v[b] for b in range(self.k)) for name, v in self.sums.items()}
        s = cache[tuple(m)]
        div = lambda a, b: a / b if b != 0 else float("nan")
        if key.endswith("_s") and key[:4] in ("ttft", "tpot", "e2e_"):
            name, pct = key.split("_")[0], int(key.split("_")[1][1:])
            v = np.concatenate([np.repeat(self.vals[name][b], m[b]) for b in range(self.k)])
            n = len(v)
            rank = max((pct * n + 99) // 100, 1) - 1  # nearest rank, 0-based
            return float(np.partition(v, rank)[rank]) if n else float("nan")
        return {
            "carbon_kg": lambda: (s["operational_g"] + s["embodied_g"]) / 1000,
            "operational_kg": lambda: s["operational_g"] / 1000,
            "embodied_kg": lambda: s["embodied_g"] / 1000,
            "energy_it_kwh": lambda: s["energy_j"] / 3.6e6,
            "g_per_1k_tokens": lambda: div(s["operational_g"] + s["embodied_g"], s["tokens"] / 1000),
            "slo_attainment": lambda: div(s["met"], s["arrivals"]),
            "slo_attainment_online": lambda: div(s["met_on"], s["done_on"]),
            "goodput_rps": lambda: div(s["met"], self.T),
            "throughput_rps": lambda: div(s["done"], self.T),
            "output_tokens_per_s": lambda: div(s["out"], self.T),
        }[key]()


def interval(values):
    if any(not math.isfinite(v) for v in values):
        return (None, None)
    v = sorted(values)
    n = len(v)
    return (v[(25 * n) // 1000], v[(975 * n + 999) // 1000 - 1])


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 1e-12


def check_bootstrap(res, a, b, R, K, SEED, method, what, failures):
    ra, rb = Run(a, K), Run(b, K)
    paired = ra.digest == rb.digest
    if paired != (method == "paired-block-bootstrap"):
        failures.append(f"{what}: workload digests equal: {paired}")
    draws_a = multiplicities(SEED, R, K)
    draws_b = draws_a if paired else multiplicities(SEED + 1, R, K)
    checked = 0
    for m in res["metrics"]:
        c = m["runs"][1]
        if c["method"] == "none":
            continue
        if c["method"] != method:
            failures.append(f"{what}: {m['key']} method {c['method']}")
            continue
        base = [ra.stat(m["key"], d) for d in draws_a]
        other = [rb.stat(m["key"], d) for d in draws_b]
        lo, hi = interval([y - x for x, y in zip(base, other)])
        rlo, rhi = interval([(y - x) / x if x != 0 else float("nan") for x, y in zip(base, other)])
        if not (close(lo, c["diff_lo"]) and close(hi, c["diff_hi"])):
            failures.append(f"{what}: {m['key']} diff interval {c['diff_lo']}, {c['diff_hi']} != {lo}, {hi}")
        if not (close(rlo, c["rel_lo"]) and close(rhi, c["rel_hi"])):
            failures.append(f"{what}: {m['key']} rel interval {c['rel_lo']}, {c['rel_hi']} != {rlo}, {rhi}")
        summary_diff = rb.summary[m["key"]] - ra.summary[m["key"]]
        if not close(summary_diff, c["diff"]):
            failures.append(f"{what}: {m['key']} diff {c['diff']} != {summary_diff}")
        checked += 1
    if checked < 15:
        failures.append(f"{what}: only {checked} metrics had a bootstrap interval")
    return checked


def main(binary, src):
    tmp = tempfile.mkdtemp(prefix="gf_compare_")
    exp = os.path.join(src, "experiments", "quickstart.yaml")
    common = ["--set", "workload.synthetic.requests=3000", "--set", "workload.synthetic.rate=70", "-q"]

    def run(name, *extra):
        path = os.path.join(tmp, name + ".h5")
        subprocess.run([binary, "run", exp, "-o", path, *common, *extra], check=True, stdout=subprocess.DEVNULL)
        return path

    def compare(*args):
        out = subprocess.run([binary, "compare", *args, "--format", "json"], check=True, capture_output=True,
                             text=True).stdout
        return json.loads(out)

    a = run("a", "--set", "router.name=round_robin")
    a2 = run("a2", "--set", "router.name=round_robin")
    b = run("b")  # least_outstanding_tokens
    failures = []

    # Same configuration twice: zero differences, zero-width intervals.
    same = compare(a, a2)
    for m in same["metrics"]:
        c = m["runs"][1]
        if c["diff"] not in (0, None) or (c["method"] != "none" and (c["diff_lo"], c["diff_hi"]) != (0, 0)):
            failures.append(f"same config: {m['key']} {c}")
    if same["config_differences"]:
        failures.append(f"same config: config differences {same['config_differences']}")

    # Two routers: the documented bootstrap, recomputed here.
    R, K, SEED = 400, 20, 20250101
    res = compare(a, b, "--resamples", str(R))
    keys = {d["key"] for d in res["config_differences"]}
    if "router.name" not in keys or any(not k.startswith("router.") for k in keys):
        failures.append(f"routers: config differences {keys}")
    checked = check_bootstrap(res, a, b, R, K, SEED, "paired-block-bootstrap", "routers", failures)
    # Different seeds: different requests, so independent draws (seed + 1 for the second run).
    c = run("c", "--set", "router.name=round_robin", "--set", "seed=44")
    res = compare(a, c, "--resamples", str(R))
    check_bootstrap(res, a, c, R, K, SEED, "block-bootstrap", "unpaired", failures)

    # One-second /timeseries slots (at least K of them): energy and carbon blocks come from the slots.
    s1 = run("s1", "--set", "router.name=round_robin", "--set", "carbon.slot=1s")
    s2 = run("s2", "--set", "carbon.slot=1s")
    with h5py.File(s1, "r") as f:
        if len(f["timeseries/slot_start_s"]) < K:
            failures.append("slots: too few /timeseries slots to test the slot path")
    res = compare(s1, s2, "--resamples", str(R))
    check_bootstrap(res, s1, s2, R, K, SEED, "paired-block-bootstrap", "slots", failures)

    # Seed replicas, paired by seed: mean difference +- t(0.975, n-1) * sd / sqrt(n).
    a3 = run("a3", "--set", "router.name=round_robin", "--set", "seed=43")
    b3 = run("b3", "--set", "seed=43")
    grp = compare(a, a3, "--", b, b3)
    for m in grp["metrics"]:
        c = m["runs"][1]
        if m["key"] != "carbon_kg":
            continue
        va = [h5py.File(p, "r")["summary"].attrs["carbon_kg"] for p in (a, a3)]
        vb = [h5py.File(p, "r")["summary"].attrs["carbon_kg"] for p in (b, b3)]
        d = [y - x for x, y in zip(va, vb)]
        mean = sum(d) / 2
        half = 12.706 * math.sqrt(sum((x - mean) ** 2 for x in d) / 1) / math.sqrt(2)
        if c["method"] != "paired-replicas-t" or not (close(c["diff_lo"], mean - half) and close(c["diff_hi"], mean + half)):
            failures.append(f"replicas: carbon_kg {c} != {mean - half}, {mean + half}")

    # Every format runs.
    for fmt in ("table", "markdown", "csv"):
        subprocess.run([binary, "compare", a, b, "--format", fmt, "--resamples", "50"], check=True,
                       stdout=subprocess.DEVNULL)
    # Bad input is exit code 2 with a message.
    # Replicas with one seed (the same file twice, or two runs of seed 42) are one run counted twice. One block or
    # one resample gives a zero-width interval whatever the runs; an option given twice would keep one value; a
    # device is not a run.
    for args in ([a, os.path.join(tmp, "missing.h5")], [a, exp], [a], [a, b, "--format", "xml"], [a, b, "--blocks", "0"],
                 [a, a, "--", b, b3], [a, a2, "--", b, b3], [a, a3, "--", b, b], [a, b, "--blocks", "1"],
                 [a, b, "--resamples", "1"], [a, b, "--format", "json", "--format", "csv"],
                 [a, b, "--seed", "1", "--seed", "2"], [a, "/dev/null"]):
        r = subprocess.run([binary, "compare", *args], capture_output=True, text=True)
        if r.returncode != 2 or not r.stderr.startswith("error: "):
            failures.append(f"compare {args}: exit {r.returncode}, {r.stderr.strip()}")
    for args, says in (([a, "/dev/null"], "/dev/null: not a regular file"),
                       ([a, b, "--blocks", "3", "--blocks", "4"], "--blocks given twice (3 and 4)"),
                       ([a, b, "--format", "json", "--format", "json"], "--format json given twice; give it once"),
                       ([a, b, "--blocks", "1"], "expected an integer in [2, 1000000] (one block is the whole run"),
                       ([a, b, "--resamples", "1"], "[2, 1000000] (one resample gives an interval of zero width")):
        r = subprocess.run([binary, "compare", *args], capture_output=True, text=True)
        if says not in r.stderr:
            failures.append(f"compare {args}: {r.stderr.strip()} does not say '{says}'")
    if failures:
        print("\n".join(failures))
        return 1
    print(f"compare: identical runs zero; {checked} bootstrap intervals match the independent implementation; replicas ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
