#!/usr/bin/env python3
"""Self-test of measure.py that needs no GPU: `python3 test_measure.py` (with an interpreter that has PyTorch).

Runs measure.py on the CPU with a tiny temporary model (2 layers, hidden 64, 4 heads, 2 KV heads, head_dim 16,
FFN 128, vocabulary 256) and small sweeps, and checks the CSV header, row count, positive times, the e2e
convention and the metadata sidecar; also checks the KV-cache decode path against a longer prefill, the
decode interpolation, and the fallback YAML parser against PyYAML on the real catalog files.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the repository
import measure  # noqa: E402

MEASURE = os.path.join(HERE, "measure.py")

TINY_YAML = """\
# Tiny test model for test_measure.py (not a real model).
id: tiny-test
name: "Tiny test model"
layers: 2                  # comment after a value
hidden_size: 64
heads: 4
kv_heads: 2
head_dim: 16
ffn_size: 128
vocab_size: 256
max_context: 4096
mlp: gated
tied_embeddings: false
dtype: bf16
parameters_b: 0.0001
"""

PLAIN_YAML = TINY_YAML.replace("id: tiny-test", "id: tiny-plain").replace("mlp: gated", "mlp: plain") \
    .replace("tied_embeddings: false", "tied_embeddings: true")


class MeasureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="measure-test-")
        llm = os.path.join(cls.tmp, "models", "llm")
        os.makedirs(llm)
        with open(os.path.join(llm, "tiny-test.yaml"), "w") as f:
            f.write(TINY_YAML)
        with open(os.path.join(llm, "tiny-plain.yaml"), "w") as f:
            f.write(PLAIN_YAML)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_measure(self, name, *extra):
        out = os.path.join(self.tmp, name + ".csv")
        cmd = [sys.executable, MEASURE, "--catalog", self.tmp, "--device", "cpu", "--repeats", "3",
               "--warmup", "1", "-o", out] + list(extra)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        sys.stderr.write("\n$ " + " ".join(cmd[1:]) + "\n" + r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, newline="") as f:
            rows = list(csv.reader(f))
        with open(out + ".meta.json") as f:
            meta = json.load(f)
        return rows, meta

    def check_rows(self, rows, expected_points, repeats, model, tp=1):
        self.assertEqual(rows[0], measure.HEADER)
        self.assertEqual(",".join(rows[0]), "model,hardware,prompt_size,batch_size,token_size,peak_power,"
                                            "average_power,prompt_time,token_time,e2e_time,tensor_parallel")
        body = rows[1:]
        self.assertEqual(len(body), len(expected_points) * repeats)
        seen = []
        for row in body:
            self.assertEqual(len(row), len(measure.HEADER))
            d = dict(zip(measure.HEADER, row))
            self.assertEqual(d["model"], model)
            self.assertEqual(d["hardware"], "cpu")
            self.assertEqual(int(d["tensor_parallel"]), tp)
            self.assertEqual(float(d["peak_power"]), 0.0)
            self.assertEqual(float(d["average_power"]), 0.0)
            pre, tok, e2e = float(d["prompt_time"]), float(d["token_time"]), float(d["e2e_time"])
            self.assertGreater(pre, 0)
            self.assertGreater(tok, 0)
            n = int(d["token_size"])
            # e2e = prefill + (N - 1) decode steps (the prefill yields the first token).
            self.assertAlmostEqual(e2e, pre + (n - 1) * tok, delta=1e-3 + 1e-6 * e2e)
            seen.append((int(d["prompt_size"]), int(d["batch_size"]), n))
        self.assertEqual(sorted(set(seen)), sorted(expected_points))
        for p in expected_points:
            self.assertEqual(seen.count(p), repeats)

    def test_cli_tiny_model(self):
        rows, meta = self.run_measure("tiny", "--model", "tiny-test", "--dtype", "fp32", "--prompts", "8,16,32",
                                      "--batches", "1,2,4", "--base-prompt", "16", "--outputs", "6,12",
                                      "--decode-stride", "4")
        points = [(8, 1, 6), (16, 1, 6), (32, 1, 6), (16, 2, 6), (16, 4, 6), (16, 1, 12)]
        self.check_rows(rows, points, 3, "tiny-test")
        self.assertTrue(meta["complete"])
        self.assertEqual(meta["layers_measured"], 2)
        self.assertEqual(meta["model_layers"], 2)
        self.assertEqual(meta["layer_scale"], 1.0)
        self.assertEqual(meta["dtype"], "float32")
        self.assertEqual(meta["rows"], len(points) * 3)
        for key in ("date_utc", "command_line", "environment", "timing", "sweeps", "simplifications",
                    "attention"):
            self.assertIn(key, meta)
        for key in ("torch_version", "gpu_name", "driver_version", "cuda_version"):
            self.assertIn(key, meta["environment"])

    def test_layer_scaling_tp_and_bf16(self):
        rows, meta = self.run_measure("scaled", "--model", "tiny-test", "--dtype", "bf16", "--layers", "1",
                                      "--tp", "2", "--prompts", "8", "--batches", "1,2", "--base-prompt", "8",
                                      "--outputs", "4", "--decode-stride", "1", "--gpu-id", "cpu")
        self.check_rows(rows, [(8, 1, 4), (8, 2, 4)], 3, "tiny-test", tp=2)
        self.assertEqual(meta["layers_measured"], 1)
        self.assertEqual(meta["model_layers"], 2)
        self.assertEqual(meta["layer_scale"], 2.0)
        self.assertEqual(meta["model_shapes"]["per_shard"],
                         {"heads": 2, "kv_heads": 1, "ffn_size": 64, "vocab_size": 128})

    def test_plain_mlp_tied_default_dtype(self):
        # Model dtype bf16 (from the file), plain ReLU MLP, tied embeddings, one output token (no decode step).
        rows, meta = self.run_measure("plain", "--model", "tiny-plain", "--prompts", "8", "--batches", "1",
                                      "--base-prompt", "8", "--outputs", "1")
        self.check_rows(rows, [(8, 1, 1)], 3, "tiny-plain")
        self.assertEqual(meta["dtype"], "bfloat16")

    def test_unknown_model_and_dry_run(self):
        r = subprocess.run([sys.executable, MEASURE, "--catalog", self.tmp, "--model", "nope", "--device", "cpu",
                            "-o", os.path.join(self.tmp, "x.csv")], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("tiny-test", r.stderr)
        r = subprocess.run([sys.executable, MEASURE, "--catalog", self.tmp, "--model", "tiny-test", "--device",
                            "cpu", "--dry-run", "-o", os.path.join(self.tmp, "dry.csv")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "dry.csv")))

    def test_decode_matches_prefill(self):
        # The last-token logits of a prefill of P+1 tokens must equal those of a prefill of P tokens followed by
        # one decode step: checks the KV cache, the GQA head grouping and the causal mask, for every attention
        # path. Where PyTorch < 2.0 lacks scaled_dot_product_attention, a reference stand-in with its semantics
        # (top-left causal mask, enable_gqa repeating K/V) exercises the SDPA code paths.
        measure.import_torch()
        torch, F = measure.torch, measure.F
        shim = not measure.HAVE_SDPA
        if shim:
            def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
                if enable_gqa:
                    k = k.repeat_interleave(q.shape[-3] // k.shape[-3], dim=-3)
                    v = v.repeat_interleave(q.shape[-3] // v.shape[-3], dim=-3)
                if q.shape[-3] != k.shape[-3]:
                    raise RuntimeError("query and key head counts differ without enable_gqa")
                s = torch.matmul(q, k.transpose(-1, -2)) * (scale or q.shape[-1] ** -0.5)
                if is_causal:
                    keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
                    s = s.masked_fill(~keep, float("-inf"))
                return torch.matmul(s.softmax(-1), v)
            F.scaled_dot_product_attention = sdpa
            measure.HAVE_SDPA = True
        try:
            gqa = measure.parse_flat_yaml(TINY_YAML)
            mha = dict(gqa, kv_heads=4)
            for cfg, tp, group in ((gqa, 1, 2), (gqa, 2, 2), (mha, 1, 1), (mha, 4, 1)):
                shp = measure.Shapes(cfg, tp)
                self.assertEqual(shp.group, group)
                m = measure.Stack(shp, 2, torch.device("cpu"), torch.float32, seed=3)
                self.assertEqual(m.attn_impl, "sdpa+repeat_kv" if group > 1 else "sdpa")
                for impl in ("manual", "sdpa", "sdpa+repeat_kv", "sdpa+enable_gqa"):
                    m.attn_impl = impl
                    tokens = torch.randint(0, shp.vocab_s, (2, 9), generator=torch.Generator().manual_seed(1))
                    m.alloc_cache(2, 12)
                    full = m.head(m.layers_prefill(m.embed(tokens)))
                    m.alloc_cache(2, 12)
                    m.layers_prefill(m.embed(tokens[:, :8]))
                    step = m.head(m.layers_decode(m.embed(tokens[:, 8:9]), 8))
                    self.assertEqual(tuple(step.shape), (2, 1, shp.vocab_s))
                    self.assertTrue(torch.allclose(full, step, atol=1e-4, rtol=1e-4),
                                    "tp={} attention={}: max diff {}".format(tp, impl, (full - step).abs().max()))
        finally:
            if shim:
                del F.scaled_dot_product_attention
                measure.HAVE_SDPA = False

    def test_mean_interpolated(self):
        for n in (1, 2, 7, 16, 17, 100, 129):
            for stride in (1, 3, 16):
                idx = measure.sample_indices(n, stride)
                self.assertEqual(idx[0], 0)
                self.assertEqual(idx[-1], n - 1)
                t = [5.0 + 0.25 * i for i in idx]  # linear in the step: interpolation is exact
                exact = sum(5.0 + 0.25 * i for i in range(n)) / n
                self.assertAlmostEqual(measure.mean_interpolated(idx, t, n), exact, places=9)

    def test_points(self):
        a = measure.build_parser().parse_args(["--model", "x", "-o", "y"])
        pts = measure.make_points(a)
        self.assertEqual(len(pts), 7 + 7 - 1)  # (512, 1, 128) is in both sweeps, measured once
        self.assertIn((8192, 1, 128), pts)
        self.assertIn((512, 64, 128), pts)

    def test_flat_yaml_parser(self):
        cfg = measure.parse_flat_yaml(TINY_YAML)
        self.assertEqual(cfg["layers"], 2)
        self.assertEqual(cfg["name"], "Tiny test model")
        self.assertIs(cfg["tied_embeddings"], False)
        self.assertEqual(cfg["mlp"], "gated")
        try:
            import yaml
        except ImportError:
            return
        catalog = os.path.join(measure.PROJECT_ROOT, "models", "llm")
        files = [f for f in sorted(os.listdir(catalog)) if f.endswith(".yaml")] if os.path.isdir(catalog) else []
        for name in files:
            with open(os.path.join(catalog, name)) as f:
                text = f.read()
            self.assertEqual(measure.parse_flat_yaml(text), yaml.safe_load(text), name)
        tdp = measure.gpu_tdp_from_catalog(measure.PROJECT_ROOT, "h100-sxm")
        if tdp is not None:
            self.assertEqual(tdp, 700.0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
