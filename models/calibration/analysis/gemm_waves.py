#!/usr/bin/env python3
"""Issue #17 item 3: would GEMM tile/wave quantisation help the Vidur operator path? (docs/MODELS.md)

Fits the per-layer linear-path time of each Vidur operator set (compute/<gpu>/<org>/<model>/mlp.csv: the
operators sim/calibration/vidur_data.cpp sums) against tokens two ways, on the shared hold-out rule (sorted
token counts, every third from the second held out), and prints the held-out absolute percentage errors:
  linear: max(floor, a + b x tokens), the form the derived coefficients use;
  waves:  max(floor, a + b x wave work + c x tokens), where the wave work of the four GEMMs of a layer (QKV,
          attention output, MLP up/gate, MLP down, one TP shard) is sum over GEMMs of
          ceil(ceil(M/128) ceil(N/128) / SMs) x SMs x 128 x 128 x K: whole waves of 128 x 128 output tiles.
Tile size 128 x 128 is ours (a common CUTLASS/cuBLAS tile for these shapes); SM counts from NVIDIA's
whitepapers: A100 108, H100 SXM 132, A40 84. The floor is fitted by trying every split of the training points.

Usage: gemm_waves.py [DATA_DIR]   (default ../shared/data beside the project)
"""
import csv
import collections
import glob
import math
import os
import statistics
import sys

import numpy as np

OPS = ["attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_act", "mlp_down_proj", "input_layernorm",
       "post_attention_layernorm", "attn_rope", "add"]
SMS = {"a100": 108, "h100": 132, "a40": 84}
TILE = 128


def load(path):
    times = collections.defaultdict(lambda: collections.defaultdict(list))
    shape = {}
    for r in csv.DictReader(open(path)):
        tp, m = int(r["num_tensor_parallel_workers"]), int(r["num_tokens"])
        times[tp][m].append(sum(max(0.0, float(r[f"time_stats.{o}.median"] or 0)) for o in OPS
                                if r.get(f"time_stats.{o}.median")))
        shape = dict(heads=int(r["n_head"]), kv=int(r["n_kv_head"]), embd=int(r["n_embd"]),
                     ffn=int(r["n_expanded_embd"]), gated=r["use_gated_mlp"].lower() == "true")
    return {tp: {m: float(np.median(v)) for m, v in d.items()} for tp, d in times.items()}, shape


def gemms(s, tp):  # (N, K) of one TP shard
    hd = s["embd"] // s["heads"]
    return [((s["heads"] + 2 * s["kv"]) * hd // tp, s["embd"]), (s["embd"], s["embd"] // tp),
            ((2 if s["gated"] else 1) * s["ffn"] // tp, s["embd"]), (s["embd"], s["ffn"] // tp)]


def wave_work(m, s, tp, sms):
    return sum(math.ceil(math.ceil(m / TILE) * math.ceil(n / TILE) / sms) * sms * TILE * TILE * k
               for n, k in gemms(s, tp))


def fit(x, y):
    best = None
    order = np.argsort(x[:, -1])
    for k in range(len(y) + 1):
        lo, hi = order[:k], order[k:]
        if len(hi) < x.shape[1] + 1:
            continue
        floor = float(np.mean(y[lo])) if k else 0.0
        c = np.maximum(np.linalg.lstsq(x[hi] / y[hi][:, None], np.ones(len(hi)), rcond=None)[0], 0)
        e = np.mean(np.abs(np.maximum(floor, x @ c) - y) / y)
        if best is None or e < best[0]:
            best = (e, floor, c)
    return best


def main(data):
    out = []
    for path in sorted(glob.glob(os.path.join(data, "profiling/vidur/compute/*/*/*/mlp.csv"))):
        gpu, model = path.split(os.sep)[-4], path.split(os.sep)[-2]
        sets, s = load(path)
        for tp, d in sorted(sets.items()):
            ms = sorted(d)
            train = [m for i, m in enumerate(ms) if i % 3 != 1]
            held = [m for i, m in enumerate(ms) if i % 3 == 1]
            forms = {"linear": lambda L: np.array([[1, m] for m in L], float),
                     "waves": lambda L: np.array([[1, wave_work(m, s, tp, SMS[gpu]) / 1e9, m] for m in L], float)}
            row = []
            for f in forms.values():
                b = fit(f(train), np.array([d[m] for m in train]))
                y = np.array([d[m] for m in held])
                e = np.abs(np.maximum(b[1], f(held) @ b[2]) - y) / y * 100
                row.append((float(np.median(e)), float(np.percentile(e, 90, method="inverted_cdf"))))
            out.append(row)
            print(f"{gpu:5} {model:26} tp{tp}  linear {row[0][0]:5.2f} {row[0][1]:6.2f}   "
                  f"waves {row[1][0]:5.2f} {row[1][1]:6.2f}")
    for i, name in enumerate(["linear", "waves"]):
        print(f"{name}: median of medians {statistics.median(r[i][0] for r in out):.2f}%, median of p90s "
              f"{statistics.median(r[i][1] for r in out):.2f}%, max p90 {max(r[i][1] for r in out):.2f}%, "
              f"median below linear's in {sum(r[i][0] < r[0][0] for r in out)} of {len(out)} sets")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "..", "shared", "data"))
