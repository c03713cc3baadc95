#!/usr/bin/env python3
"""Issue #17 (step p90): are the harness's short eager prefills consistent enough to fit? (docs/MODELS.md)

Reads the committed harness tables (models/calibration/measured/h100-sxm/*.csv, one row per repeat, in the
order the harness measured them) and the committed calibrated entries fitted to them
(models/calibration/h100-sxm/<model>-tp1.yaml), and prints:
  1. per prefill shape of at most 1,024 tokens: the repeats in measurement order, their spread
     ((max - min) / median) and the shape's place in the measurement order;
  2. the signed errors of the committed entry on the training prefills of at most 1,024 tokens, and per held-out
     point (perf::is_held_out over the sorted distinct (prompt, batch) points: index 1, 4, 7, ...),
     the signed error of the committed entry on its prefill and mean decode step, as `greenfleet validate`
     computes them (calibration::held_out_step_errors), and the held-out median and p90 (nearest rank) with and
     without the held-out prefills of the first-measured shapes;
  3. the monotone bound: how far below the training median of the 128-token prefill any model that does not get
     cheaper with more tokens must go to be within 15% on the held-out 256-token prefill.
Usage: short_prefill.py   (run from the project root)
"""
import csv
import math
import statistics

import yaml

TABLES = [("llama-2-7b", True), ("llama-3.1-8b", True), ("mistral-7b", False)]


def load(model):
    rows = list(csv.DictReader(open(f"models/calibration/measured/h100-sxm/h100-sxm-{model}-tp1.csv")))
    order, reps = [], {}
    for r in rows:
        key = (int(r["prompt_size"]), int(r["batch_size"]))
        if key not in reps:
            order.append(key)
            reps[key] = dict(prefill=[], decode=[], output=int(r["token_size"]))
        reps[key]["prefill"].append(float(r["prompt_time"]) / 1e3)
        reps[key]["decode"].append(float(r["token_time"]) / 1e3)
    return order, reps


def prefill_s(c, prompt, batch):
    tokens = prompt * batch
    positions = batch * prompt * (prompt + 1) / 2
    above = max(0.0, tokens - c.get("prefill_knee_tokens", 0.0))   # tokens beyond the prefill knee
    return max(c["prefill_floor_s"],
               c["prefill_fixed_s"] + c["per_prefill_token_s"] * tokens + c["per_attn_ctx_s"] * positions +
               c.get("per_prefill_token_above_knee_s", 0.0) * above)


def mean_decode_s(c, prompt, batch, output):
    # output - 1 decode iterations after the prefill; the first at context batch x (prompt + 1), each adding batch.
    total = 0.0
    for k in range(output - 1):
        ctx = batch * (prompt + 1 + k)
        total += max(c["decode_floor_s"], c["decode_fixed_s"] + c["per_decode_seq_s"] * batch) + \
            c["per_decode_ctx_s"] * ctx
    return total / (output - 1)


def p90(v):
    v = sorted(v)
    return v[max(0, math.ceil(0.9 * len(v)) - 1)] if v else 0.0


def main():
    for model, fitted in TABLES:
        order, reps = load(model)
        print(f"== {model} (h100-sxm, tp 1){'' if fitted else ': not fitted'}")
        print("  prefill repeats (ms, measurement order), spread, place in the measurement order:")
        for key in sorted(reps):
            if key[0] * key[1] > 1024:
                continue
            p = reps[key]["prefill"]
            med = statistics.median(p)
            print(f"    prompt {key[0]:5d} batch {key[1]:2d}: " + " ".join(f"{x * 1e3:7.2f}" for x in p) +
                  f"   median {med * 1e3:6.2f}  spread {100 * (max(p) - min(p)) / med:5.1f}%"
                  f"  measured {order.index(key) + 1} of {len(order)}")
        if not fitted:
            continue
        c = yaml.safe_load(open(f"models/calibration/h100-sxm/{model}-tp1.yaml"))
        points = sorted(reps)
        held = [k for i, k in enumerate(points) if i % 3 == 1]
        errors, first = [], order[:2]
        print("  training prefills of at most 1,024 tokens, signed error of the committed entry (%):")
        for i, key in enumerate(points):
            if i % 3 == 1 or key[0] * key[1] > 1024:
                continue
            med = statistics.median(reps[key]["prefill"])
            print(f"    prompt {key[0]:5d} batch {key[1]:2d}: prefill {100 * (prefill_s(c, *key) - med) / med:+6.1f}"
                  f"   ({'floor' if prefill_s(c, *key) == c['prefill_floor_s'] else 'line'})")
        print("  held-out points, signed error of the committed entry (%):")
        for key in held:
            r = reps[key]
            pre_m, dec_m = statistics.median(r["prefill"]), statistics.median(r["decode"])
            pre = 100 * (prefill_s(c, *key) - pre_m) / pre_m
            dec = 100 * (mean_decode_s(c, key[0], key[1], r["output"]) - dec_m) / dec_m
            errors.append((key, "prefill", pre))
            errors.append((key, "decode", dec))
            print(f"    prompt {key[0]:5d} batch {key[1]:2d}: prefill {pre:+6.1f}  decode {dec:+6.1f}")
        ape = [abs(e) for _, _, e in errors]
        kept = [abs(e) for k, what, e in errors if not (what == "prefill" and k in first)]
        print(f"  held-out steps: median {statistics.median(ape):.2f}%  p90 {p90(ape):.2f}% ({len(ape)} steps); "
              f"without the prefills of the first two shapes measured {first}: median "
              f"{statistics.median(kept):.2f}%  p90 {p90(kept):.2f}% ({len(kept)} steps)")
        m128, m256 = statistics.median(reps[(128, 1)]["prefill"]), statistics.median(reps[(256, 1)]["prefill"])
        bound = 100 * (m128 - 1.15 * m256) / m128
        print(f"  monotone bound: 128 tokens {m128 * 1e3:.2f} ms, 256 tokens {m256 * 1e3:.2f} ms; a model within 15% "
              f"on 256 tokens that is not cheaper with more tokens is at least {max(0.0, bound):.1f}% below the "
              "128-token training median")


if __name__ == "__main__":
    main()
