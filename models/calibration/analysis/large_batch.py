#!/usr/bin/env python3
"""Issue #17 (large batches): what do the ML.ENERGY v3 chat rows above batch 64 need that the GPU terms lack?

For the *training* models' TP 1 rows (chat and GPQA) of ML.ENERGY v3 on the H100 (Llama-3.1-8B, Qwen3-8B, Qwen3-32B: the
held-out models, Qwen3-14B and Llama-3.3-70B, are not read), decomposes the measured median ITL at each mean
batch B into the per-step GPU terms the roofline prices, at the efficiencies the simulator carries to these rows
(docs/MODELS.md: H100 single-GPU measured entries, bandwidth 0.80 and compute 0.58 of peak, 1 ms overhead; the
decode KV read at 0.828 of peak, fitted to ML.ENERGY's GPQA/chat pairs):
  W  weights read once per step;        K  KV cache read (B x (256 + output / 2) tokens of context);
  C  GEMM FLOPs of B tokens + LM head;  P  the prompts that replace finished requests, B / output per step,
                                           each 256 tokens of prefill compute (the replay's assumption)
and prints, per row, the measured ITL, the two bounds (perfect overlap: 1 ms + max(C, W + K) + P; no overlap:
1 ms + C + W + K + P) and what is left per sequence over each bound, (ITL - bound) / B. GPQA's outputs (about
7,000 tokens) make P negligible, so a chat row and a GPQA row at the same batch separate the prompts from the rest.
A constant residual per sequence points to per-sequence work outside these GPU terms; one that grows past a
crossover, to compute that stops overlapping.
Usage: large_batch.py [DATA_DIR]   (default ../shared/data beside the project; run from the project root)
"""
import csv
import os
import sys

import yaml

H100_BW, H100_FLOPS = 3350e9, 989.4e12           # hardware_catalog/gpus.yaml (NVIDIA datasheet)
EFF_BW, EFF_COMP, EFF_KV, OVERHEAD = 0.80, 0.58, 0.828, 1e-3
PROMPT = 256
MODELS = {"meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b", "Qwen/Qwen3-8B": "qwen3-8b",
          "Qwen/Qwen3-32B": "qwen3-32b"}


def shape(model):
    m = yaml.safe_load(open(f"models/llm/{model}.yaml"))
    h, L, d = m["hidden_size"], m["layers"], m["head_dim"] if "head_dim" in m else m["hidden_size"] // m["heads"]
    attn = h * d * (m["heads"] + 2 * m["kv_heads"]) + m["heads"] * d * h
    mlp = (3 if m["mlp"] == "gated" else 2) * h * m["ffn_size"]
    layer_params = L * (attn + mlp)
    head = m["vocab_size"] * h
    weights = 2 * (layer_params + head * (1 if m["tied_embeddings"] else 2))
    kv_per_token = 2 * L * m["kv_heads"] * d * 2
    return layer_params, head, weights, kv_per_token


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join("..", "shared", "data")
    rows = csv.DictReader(open(os.path.join(data, "profiling/ml_energy/mlenergy_v3_llm_configs.csv")))
    rows = [r for r in rows if r["gpu_model"] == "H100" and r["model_id"] in MODELS and r["tensor_parallel"] == "1"
            and r["data_parallel"] == "1"]
    print(f"{'model':34s} {'task':5s} {'B':>6s} {'ITL ms':>7s} {'W':>6s} {'K':>6s} {'C':>6s} {'P':>6s} {'overlap':>8s} "
          f"{'none':>6s} {'left/seq us':>11s} {'over none':>9s}")
    for r in sorted(rows, key=lambda r: (r["model_id"], r["task"], float(r["avg_batch_size"]))):
        layer_params, head, weights, kv = shape(MODELS[r["model_id"]])
        b, out, itl = float(r["avg_batch_size"]), float(r["avg_output_len"]), float(r["median_itl_ms"]) / 1e3
        w = weights / (H100_BW * EFF_BW)
        k = b * (PROMPT + out / 2) * kv / (H100_BW * EFF_KV)
        c = 2 * (layer_params + head) * b / (H100_FLOPS * EFF_COMP)
        p = b / out * 2 * layer_params * PROMPT / (H100_FLOPS * EFF_COMP)
        overlap = OVERHEAD + max(c, w + k) + p
        none = OVERHEAD + c + w + k + p
        print(f"{r['model_id']:34s} {r['task'][:5]:5s} {b:6.1f} {itl * 1e3:7.2f} {w * 1e3:6.2f} {k * 1e3:6.2f} {c * 1e3:6.2f} "
              f"{p * 1e3:6.2f} {overlap * 1e3:8.2f} {none * 1e3:6.2f} {(itl - overlap) / b * 1e6:11.1f} {(itl - none) / b * 1e6:9.1f}")


if __name__ == "__main__":
    main()
