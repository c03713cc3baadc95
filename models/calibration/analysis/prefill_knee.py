#!/usr/bin/env python3
"""Issue #17 (step medians): the prefill knee of the SplitwiseSim entries, and where it could have been put.

Reads SplitwiseSim's profile (GREENFLEET_DATA or ../shared/data: profiling/splitwise_sim/perf_model.csv,
Llama-2-70B on A100 and H100 at TP 2, 4, 8) and rebuilds in Python what `greenfleet calibrate` does with it
(sim/calibration/splitwise_calibration.cpp): the median of the repeats per (prompt, batch, output), the batch-sweep
exclusions, the every-third hold-out rule, the floor-split non-negative relative least-squares prefill fit and the
held-out prefill errors. It prints per (GPU, TP) set:
  1. the marginal prefill cost per token between consecutive TRAINING steps (no held-out data) of the
     single-prompt sweep and of the batch sweep (B prompts of 512 tokens, whose attended positions per token do
     not grow): the rise that the knee models;
  2. the held-out prefill errors (signed %) with no knee and with a knee at 1,024, 2,048, 3,072 and 4,096 tokens,
     and each knee's training error (sum of squared relative errors): which knee the training points alone pick.
The committed entries use 2,048 (the batch cap of splitwise-sim's configs, docs/MODELS.md "Prefill knee"); the
decode fit is not repeated here (the knee does not touch it). A replica for analysis: `greenfleet validate`
prints the real held-out errors.
Usage: prefill_knee.py   (run from the project root)
"""
import csv
import itertools
import os
import statistics
from pathlib import Path

import numpy as np

GPUS = {"a100-80gb": "a100-sxm-80gb", "h100-80gb": "h100-sxm"}
KNEES = [None, 1024, 2048, 3072, 4096]


def data_dir():
    return Path(os.environ.get("GREENFLEET_DATA", "../shared/data"))


def load_sets():
    groups = {}
    with open(data_dir() / "profiling/splitwise_sim/perf_model.csv") as f:
        for r in csv.DictReader(f):
            if r["model"] != "llama2-70b" or r["hardware"] not in GPUS:
                continue
            key = (GPUS[r["hardware"]], int(r["tensor_parallel"]))
            shape = (int(r["prompt_size"]), int(r["batch_size"]), int(r["token_size"]))
            groups.setdefault(key, {}).setdefault(shape, []).append(float(r["prompt_time"]) / 1e3)
    sets = {}
    for key, shapes in sorted(groups.items()):
        pts = [dict(prompt=p, batch=b, output=o, prefill=statistics.median(v), excluded=False)
               for (p, b, o), v in sorted(shapes.items())]
        # The batch sweep's exclusion: a prefill that falls as the batch grows (same prompt and output).
        for j, p in enumerate(pts):
            for q in pts[:j]:
                if (q["prompt"] == p["prompt"] and q["output"] == p["output"] and q["batch"] < p["batch"] and
                        not q["excluded"] and p["prefill"] < q["prefill"]):
                    p["excluded"] = True
                    break
        i = 0
        for p in pts:
            p["held"] = False
            if not p["excluded"]:
                p["held"] = i % 3 == 1
                i += 1
        sets[key] = pts
    return sets


def features(p, knee):
    t = p["batch"] * p["prompt"]
    return [1.0, t, p["batch"] * p["prompt"] * (p["prompt"] + 1) / 2, max(0.0, t - knee) if knee else 0.0]


def nonnegative_relative_fit(rows, y):
    # Every subset of the features, the best non-negative least-squares fit on relative error (as least_squares.cpp).
    w = np.array(rows) / np.array(y)[:, None]
    best = None
    for mask in itertools.product([0, 1], repeat=w.shape[1]):
        idx = [i for i in range(w.shape[1]) if mask[i] and np.any(w[:, i])]
        if not idx or len(idx) > len(y) or len(idx) != sum(mask):
            continue
        sol = np.linalg.lstsq(w[:, idx], np.ones(len(y)), rcond=None)[0]
        if (sol < 0).any():
            continue
        c = np.zeros(w.shape[1])
        c[idx] = sol
        e = float(np.sum((w @ c - 1) ** 2))
        if best is None or e < best[0]:
            best = (e, c)
    return best[1]


def fit_prefill(train, knee):
    pts = sorted(train, key=lambda p: p["batch"] * p["prompt"])
    best = None
    for split in range(0, len(pts) - 2):
        low, line = pts[:split], pts[split:]
        floor = (sum(1 / p["prefill"] for p in low) / sum(1 / p["prefill"] ** 2 for p in low)) if low else 0.0
        c = nonnegative_relative_fit([features(p, knee) for p in line], [p["prefill"] for p in line])
        pred = lambda p, c=c, floor=floor: max(floor, float(np.dot(c, features(p, knee))))  # noqa: E731
        e = sum(((pred(p) - p["prefill"]) / p["prefill"]) ** 2 for p in pts)
        if best is None or e < best[0]:
            best = (e, pred)
    return best


def main():
    for (gpu, tp), pts in load_sets().items():
        train = [p for p in pts if not p["held"] and not p["excluded"]]
        held = [p for p in pts if p["held"] and not any(
            not q["held"] and not q["excluded"] and q["prompt"] == p["prompt"] and q["batch"] == p["batch"]
            for q in pts)]
        single = {p["prompt"]: p["prefill"] for p in train if p["batch"] == 1 and p["output"] == 128}
        sizes = sorted(single)
        marginal = ", ".join(f"{a}->{b}: {(single[b] - single[a]) / (b - a) * 1e6:.0f}"
                             for a, b in zip(sizes, sizes[1:]))
        batch = {p["batch"]: p["prefill"] for p in train if p["prompt"] == 512 and p["output"] == 128}
        bs = sorted(batch)
        batch_marginal = ", ".join(f"{a * 512}->{b * 512}: {(batch[b] - batch[a]) / ((b - a) * 512) * 1e6:.0f}"
                                   for a, b in zip(bs, bs[1:]))
        print(f"{gpu} TP {tp}")
        print(f"  training single prompts, marginal prefill cost per token (us): {marginal}")
        print(f"  training batch sweep (512-token prompts; attention per token constant), same (us): {batch_marginal}")
        for knee in KNEES:
            e, pred = fit_prefill(train, knee)
            errs = " ".join(f"{p['batch']}x{p['prompt']}: {(pred(p) / p['prefill'] - 1) * 100:+6.1f}" for p in held)
            print(f"  knee {str(knee):>5}: training error {e:.3f}; held-out prefills {errs}")


if __name__ == "__main__":
    main()
