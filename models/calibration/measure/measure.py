#!/usr/bin/env python3
"""Time real prefill and decode steps of a greenfleet catalog model on one GPU.

Builds a decoder-only transformer with the shapes of models/llm/<id>.yaml and RANDOM weights (enough for
timing), times one batched prefill step and the decode steps that follow it with CUDA events, and writes a CSV
in SplitwiseSim's perf_model.csv schema that `greenfleet calibrate` reads. See README.md next to this file.

Only PyTorch is required (PyYAML and pynvml are used when importable). Nothing is downloaded.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import threading
import time

HEADER = ["model", "hardware", "prompt_size", "batch_size", "token_size", "peak_power", "average_power",
          "prompt_time", "token_time", "e2e_time", "tensor_parallel"]

DTYPES = {"fp16": "float16", "float16": "float16", "half": "float16",
          "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp32": "float32", "float32": "float32", "float": "float32"}

PROJECT_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Catalog reading

def _scalar(text):
    """Converts one YAML scalar of the catalog's flat files: quoted string, int, float, bool, or bare string."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return t[1:-1]
    low = t.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "~", ""):
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def _strip_comment(line):
    """Removes a trailing '# ...' comment that is not inside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def parse_flat_yaml(text):
    """Tiny parser for the flat `key: value  # comment` files of models/llm/ (used when PyYAML is missing)."""
    out = {}
    for raw in text.splitlines():
        line = _strip_comment(raw).rstrip()
        if not line.strip() or line.startswith((" ", "\t")):
            continue  # blank, comment-only, or nested (not used by the model files)
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        out[key.strip()] = _scalar(value)
    return out


def load_yaml_file(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        import yaml  # noqa: PLC0415
    except ImportError:
        return parse_flat_yaml(text)
    return yaml.safe_load(text)


def find_model_yaml(catalog, model_id):
    llm_dir = os.path.join(catalog, "models", "llm")
    direct = os.path.join(llm_dir, model_id + ".yaml")
    if os.path.isfile(direct):
        return direct
    ids = []
    if os.path.isdir(llm_dir):
        for name in sorted(os.listdir(llm_dir)):
            if name.endswith((".yaml", ".yml")):
                p = os.path.join(llm_dir, name)
                cfg = load_yaml_file(p) or {}
                ids.append(str(cfg.get("id", name.rsplit(".", 1)[0])))
                if str(cfg.get("id")) == model_id:
                    return p
    raise SystemExit("error: model '{}' not found under {} (known ids: {})".format(
        model_id, llm_dir, ", ".join(ids) or "none"))


def gpu_tdp_from_catalog(catalog, gpu_id):
    """tdp_w of hardware_catalog/gpus.yaml -> gpus -> <gpu_id>, or None."""
    path = os.path.join(catalog, "hardware_catalog", "gpus.yaml")
    if not os.path.isfile(path):
        return None
    try:
        import yaml  # noqa: PLC0415
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
        v = (doc.get("gpus") or {}).get(gpu_id, {}).get("tdp_w")
        return float(v) if v is not None else None
    except ImportError:
        pass
    # No PyYAML: find the "  <gpu_id>:" block and its first tdp_w line.
    inside = False
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = _strip_comment(raw).rstrip()
            if re.match(r"^  [A-Za-z0-9_.-]+:\s*$", line):
                inside = line.strip()[:-1] == gpu_id
            elif inside:
                m = re.match(r"^\s+tdp_w:\s*([0-9.]+)\s*$", line)
                if m:
                    return float(m.group(1))
    return None


def guess_gpu_id(device_name):
    """Best-effort catalog GPU id from torch.cuda.get_device_name(); the caller warns that it is a guess."""
    n = device_name.upper()
    pcie = "PCIE" in n
    if "H200" in n:
        return "h200-sxm"
    if "H100" in n:
        return "h100-pcie" if pcie else "h100-sxm"
    if "A100" in n:
        if "40GB" in n:
            return "a100-sxm-40gb"
        return "a100-pcie-80gb" if pcie else "a100-sxm-80gb"
    if "L40S" in n:
        return "l40s"
    if "V100" in n:
        return "v100-pcie-32gb" if pcie else "v100-sxm-32gb"
    if "MI300X" in n:
        return "mi300x"
    for token, gid in (("A40", "a40"), ("A10", "a10"), ("L4", "l4"), ("T4", "t4")):
        if re.search(r"\b" + token + r"\b", n):
            return gid
    return re.sub(r"[^a-z0-9]+", "-", device_name.lower()).strip("-") or "unknown-gpu"


# ---------------------------------------------------------------------------------------------------------------
# Shapes

class Shapes:
    """Per-shard shapes of one tensor-parallel rank (heads, kv heads, FFN and vocabulary divided by tp)."""

    def __init__(self, cfg, tp):
        def need(key):
            if key not in cfg or cfg[key] is None:
                raise SystemExit("error: model file lacks '{}'".format(key))
            return cfg[key]

        self.model_layers = int(need("layers"))
        self.hidden = int(need("hidden_size"))
        self.heads = int(need("heads"))
        self.kv_heads = int(cfg.get("kv_heads") or self.heads)
        self.head_dim = int(cfg.get("head_dim") or self.hidden // self.heads)
        self.ffn = int(need("ffn_size"))
        self.vocab = int(need("vocab_size"))
        self.mlp = str(cfg.get("mlp", "gated")).lower()
        if self.mlp not in ("gated", "plain"):
            raise SystemExit("error: mlp must be gated or plain, found '{}'".format(self.mlp))
        self.tied = bool(cfg.get("tied_embeddings", False))
        self.tp = tp
        if self.heads % tp:
            raise SystemExit("error: {} heads do not split over tp={}".format(self.heads, tp))
        self.heads_s = self.heads // tp
        if self.kv_heads >= tp:
            if self.kv_heads % tp:
                raise SystemExit("error: {} kv heads do not split over tp={}".format(self.kv_heads, tp))
            self.kv_s = self.kv_heads // tp
        else:
            self.kv_s = 1  # fewer KV heads than ranks: each rank keeps one replicated KV head (as vLLM does)
        if self.heads_s % self.kv_s:
            raise SystemExit("error: {} query heads per rank are not a multiple of {} kv heads per rank".format(
                self.heads_s, self.kv_s))
        self.group = self.heads_s // self.kv_s
        self.ffn_s = -(-self.ffn // tp)
        self.vocab_s = -(-self.vocab // tp)
        self.q_dim = self.heads_s * self.head_dim
        self.kv_dim = self.kv_s * self.head_dim

    def layer_params(self):
        attn = self.hidden * (self.q_dim + 2 * self.kv_dim) + self.q_dim * self.hidden
        mlp = (3 if self.mlp == "gated" else 2) * self.hidden * self.ffn_s
        return attn + mlp + 2 * self.hidden

    def fixed_params(self):
        return self.vocab_s * self.hidden * (1 if self.tied else 2) + self.hidden

    def kv_bytes_per_token_layer(self, elem):
        return 2 * self.kv_dim * elem

    def workspace_bytes(self, max_tokens, max_batch, max_prompt, elem, flash):
        """Rough peak of the transient activations of the largest prefill step (one layer at a time)."""
        per_tok = 4 * self.hidden + self.q_dim + 2 * self.kv_dim + 3 * self.q_dim + 4 * self.ffn_s
        ws = max_tokens * per_tok * elem + max_batch * self.vocab_s * 4
        if not flash:  # math attention materialises the score matrix (twice: scores and softmax)
            ws += 2 * max_batch * self.heads_s * max_prompt * max_prompt * 4
        return ws + (512 << 20)

    def as_dict(self):
        return {"layers": self.model_layers, "hidden_size": self.hidden, "heads": self.heads,
                "kv_heads": self.kv_heads, "head_dim": self.head_dim, "ffn_size": self.ffn,
                "vocab_size": self.vocab, "mlp": self.mlp, "tied_embeddings": self.tied,
                "per_shard": {"heads": self.heads_s, "kv_heads": self.kv_s, "ffn_size": self.ffn_s,
                              "vocab_size": self.vocab_s}}


# ---------------------------------------------------------------------------------------------------------------
# The model (imports torch lazily so --help works without it)

torch = None
F = None
HAVE_SDPA = False
HAVE_RMS_NORM = False


def import_torch():
    global torch, F, HAVE_SDPA, HAVE_RMS_NORM
    if torch is not None:
        return
    try:
        import torch as _torch  # noqa: PLC0415
        import torch.nn.functional as _F  # noqa: PLC0415
    except ImportError:
        raise SystemExit("error: PyTorch is not importable by {}".format(sys.executable))
    torch, F = _torch, _F
    HAVE_SDPA = hasattr(F, "scaled_dot_product_attention")
    HAVE_RMS_NORM = hasattr(F, "rms_norm")


def is_oom(exc):
    return "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"


class Stack:
    """Embedding, `n_layers` pre-norm decoder layers and LM head of one TP shard, with a static KV cache.

    Per layer: RMSNorm, fused QKV projection (GQA), attention (scaled_dot_product_attention), output projection,
    residual, RMSNorm, MLP (gated: fused gate+up matrix, SiLU, down; plain: up, ReLU, down), residual.
    Rotary position embedding is omitted (an elementwise op on q and k, negligible for timing).
    """

    def __init__(self, shp, n_layers, device, dtype, seed):
        self.s = shp
        self.n_layers = n_layers
        self.device = device
        self.dtype = dtype
        self.eps = 1e-5
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seed)
        self.split = [shp.q_dim, shp.kv_dim, shp.kv_dim]
        self.emb = self._w(shp.vocab_s, shp.hidden, std=1.0)
        self.lm_head = self.emb if shp.tied else self._w(shp.vocab_s, shp.hidden)
        self.ln_f = torch.ones(shp.hidden, device=device, dtype=dtype)
        mlp_in = 2 * shp.ffn_s if shp.mlp == "gated" else shp.ffn_s
        self.layers = []
        for _ in range(n_layers):
            self.layers.append({
                "ln1": torch.ones(shp.hidden, device=device, dtype=dtype),
                "wqkv": self._w(shp.q_dim + 2 * shp.kv_dim, shp.hidden),
                "wo": self._w(shp.hidden, shp.q_dim),
                "ln2": torch.ones(shp.hidden, device=device, dtype=dtype),
                "w_in": self._w(mlp_in, shp.hidden),
                "w_down": self._w(shp.hidden, shp.ffn_s),
            })
        self.k_cache = None
        self.v_cache = None
        self.attn_impl = self._pick_attention()

    def _w(self, out_f, in_f, std=None):
        std = in_f ** -0.5 if std is None else std
        w = torch.empty(out_f, in_f, device=self.device, dtype=self.dtype)
        try:
            w.normal_(0.0, std, generator=self.gen)
        except RuntimeError:  # normal_ not implemented for this dtype on this device
            w.copy_(torch.empty(out_f, in_f, device=self.device).normal_(0.0, std, generator=self.gen))
        return w

    # --- attention ---------------------------------------------------------------------------------------------

    def _pick_attention(self):
        if not HAVE_SDPA:
            return "manual"  # torch < 2.0: matmul + softmax (CPU testing only; use torch >= 2.0 on the GPU)
        if self.s.group == 1:
            return "sdpa"
        # enable_gqa (torch >= 2.5) runs only in the flash kernel (else the slow math one): use it only where
        # flash applies (CUDA, fp16/bf16, head_dim <= 256 and a multiple of 8); otherwise repeat K/V for prefill.
        flash_ok = (self.device.type == "cuda" and self.dtype in (torch.float16, torch.bfloat16)
                    and self.s.head_dim <= 256 and self.s.head_dim % 8 == 0)
        if flash_ok:
            try:
                q = torch.zeros(1, 2, 4, self.s.head_dim, device=self.device, dtype=self.dtype)
                k = torch.zeros(1, 1, 4, self.s.head_dim, device=self.device, dtype=self.dtype)
                F.scaled_dot_product_attention(q, k, k, is_causal=True, enable_gqa=True)
                return "sdpa+enable_gqa"
            except (TypeError, RuntimeError):
                pass
        return "sdpa+repeat_kv"  # prefill repeats K/V per query group; decode needs no copy (see layers_decode)

    def _attend(self, q, k, v, causal):
        if self.attn_impl == "manual":
            scores = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
            if causal:
                tq, tk = q.shape[-2], k.shape[-2]
                mask = torch.ones(tq, tk, dtype=torch.bool, device=q.device).triu(1 + tk - tq)
                scores = scores.masked_fill(mask, float("-inf"))
            return torch.matmul(scores.float().softmax(-1).to(q.dtype), v)
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def _attend_prefill(self, q, k, v):
        if self.s.group > 1:
            if self.attn_impl == "sdpa+enable_gqa":
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            k = k.repeat_interleave(self.s.group, dim=1)
            v = v.repeat_interleave(self.s.group, dim=1)
        return self._attend(q, k, v, causal=True)

    # --- pieces ------------------------------------------------------------------------------------------------

    def _norm(self, x, w):
        if HAVE_RMS_NORM:
            return F.rms_norm(x, (x.shape[-1],), w, self.eps)
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * w

    def _mlp(self, h, w):
        if self.s.mlp == "gated":
            gate, up = F.linear(h, w["w_in"]).chunk(2, dim=-1)
            return F.linear(F.silu(gate) * up, w["w_down"])
        return F.linear(F.relu(F.linear(h, w["w_in"])), w["w_down"])

    def alloc_cache(self, batch, positions):
        self.k_cache = self.v_cache = None
        shape = (self.n_layers, batch, self.s.kv_s, positions, self.s.head_dim)
        self.k_cache = torch.zeros(shape, device=self.device, dtype=self.dtype)
        self.v_cache = torch.zeros(shape, device=self.device, dtype=self.dtype)

    def free_cache(self):
        self.k_cache = self.v_cache = None

    def embed(self, tokens):
        return F.embedding(tokens, self.emb)

    def head(self, x):
        """Final norm and LM head on the last position of each sequence (logits of the next token only)."""
        return F.linear(self._norm(x[:, -1:, :], self.ln_f), self.lm_head)

    def layers_prefill(self, x):
        b, p, _ = x.shape
        s = self.s
        for i, w in enumerate(self.layers):
            h = self._norm(x, w["ln1"])
            q, k, v = F.linear(h, w["wqkv"]).split(self.split, dim=-1)
            q = q.reshape(b, p, s.heads_s, s.head_dim).transpose(1, 2)
            k = k.reshape(b, p, s.kv_s, s.head_dim).transpose(1, 2)
            v = v.reshape(b, p, s.kv_s, s.head_dim).transpose(1, 2)
            self.k_cache[i, :, :, :p] = k
            self.v_cache[i, :, :, :p] = v
            a = self._attend_prefill(q, k, v).transpose(1, 2).reshape(b, p, s.q_dim)
            x = x + F.linear(a, w["wo"])
            x = x + self._mlp(self._norm(x, w["ln2"]), w)
        return x

    def layers_decode(self, x, ctx):
        """One decode step: x is [B, 1, hidden]; `ctx` tokens are cached; the new token goes to position ctx."""
        b = x.shape[0]
        s = self.s
        for i, w in enumerate(self.layers):
            h = self._norm(x, w["ln1"])
            q, k, v = F.linear(h, w["wqkv"]).split(self.split, dim=-1)
            # GQA without copying K/V: the `group` query heads sharing one KV head become `group` query rows of
            # that KV head (no mask: one position attends to the whole cache).
            q = q.reshape(b, s.kv_s, s.group, s.head_dim)
            self.k_cache[i, :, :, ctx] = k.reshape(b, s.kv_s, s.head_dim)
            self.v_cache[i, :, :, ctx] = v.reshape(b, s.kv_s, s.head_dim)
            a = self._attend(q, self.k_cache[i, :, :, :ctx + 1], self.v_cache[i, :, :, :ctx + 1], causal=False)
            x = x + F.linear(a.reshape(b, 1, s.q_dim), w["wo"])
            x = x + self._mlp(self._norm(x, w["ln2"]), w)
        return x


# ---------------------------------------------------------------------------------------------------------------
# Timing

class Clock:
    """CUDA events on a GPU (elapsed GPU time between marks), perf_counter on the CPU (synchronous there)."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def mark(self):
        if self.cuda:
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            return e
        return time.perf_counter()

    def ms(self, a, b):
        return a.elapsed_time(b) if self.cuda else (b - a) * 1e3

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()


def mean_interpolated(sample_idx, sample_t, n):
    """Mean over i = 0..n-1 of t(i), t linear between the samples (sample_idx sorted, first 0, last n-1)."""
    if n <= 0:
        return 0.0
    if len(sample_idx) == 1:
        return sample_t[0]
    total = 0.0
    for (a, ta), (b, tb) in zip(zip(sample_idx, sample_t), zip(sample_idx[1:], sample_t[1:])):
        total += (b - a) * ta + (tb - ta) * (b - a - 1) / 2.0
    total += sample_t[-1]
    return total / n


def sample_indices(n, stride):
    if n <= 1:
        return [0]
    idx = list(range(0, n, max(1, stride)))
    if idx[-1] != n - 1:
        idx.append(n - 1)
    return idx


class PowerMeter:
    """Samples board power in a background thread: NVML (pynvml) when importable, else `nvidia-smi -lms`."""

    def __init__(self, device_index, interval_ms):
        self.interval = interval_ms / 1e3
        self.samples = []
        self.lock = threading.Lock()
        self.running = False
        self.backend = None
        self.nvml = None
        self.handle = None
        self.proc = None
        self.smi_id = str(device_index)
        try:
            import pynvml  # noqa: PLC0415
            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handle = self._nvml_handle(pynvml, device_index)
            self.backend = "nvml"
            self.field = getattr(pynvml, "NVML_FI_DEV_POWER_INSTANT", None)
            if self.field is not None:
                try:
                    inst = self._nvml_read_instant()
                    avg = pynvml.nvmlDeviceGetPowerUsage(self.handle) / 1e3
                    if not 0.2 * avg <= inst <= 5 * avg:  # unexpected units: keep the averaged reading
                        raise RuntimeError("instant power {} W vs average {} W".format(inst, avg))
                    self.backend = "nvml-instant"
                except Exception:  # noqa: BLE001
                    self.field = None
        except Exception:  # noqa: BLE001
            self.nvml = None
            self.backend = "nvidia-smi"
            phys = physical_index(device_index)
            self.smi_id = phys if phys is not None else str(device_index)

    @staticmethod
    def _nvml_handle(pynvml, device_index):
        uuid = getattr(torch.cuda.get_device_properties(device_index), "uuid", None)
        if uuid is not None:
            try:
                u = str(uuid)
                return pynvml.nvmlDeviceGetHandleByUUID(u if u.startswith("GPU-") else "GPU-" + u)
            except Exception:  # noqa: BLE001
                pass
        phys = physical_index(device_index)
        if phys is not None and phys.startswith("GPU-"):
            return pynvml.nvmlDeviceGetHandleByUUID(phys)
        return pynvml.nvmlDeviceGetHandleByIndex(int(phys) if phys is not None else device_index)

    def _nvml_read_instant(self):
        v = self.nvml.nvmlDeviceGetFieldValues(self.handle, [self.field])[0]
        if getattr(v, "nvmlReturn", 0) != 0:
            raise RuntimeError("field not supported")
        return float(v.value.uiVal) / 1e3

    def read_w(self):
        if self.field is not None:
            return self._nvml_read_instant()
        return self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1e3

    def limit_w(self):
        if self.nvml is None:
            return None
        try:
            return self.nvml.nvmlDeviceGetPowerManagementDefaultLimit(self.handle) / 1e3
        except Exception:  # noqa: BLE001
            return None

    def _loop_nvml(self):
        while self.running:
            try:
                w = self.read_w()
                with self.lock:
                    self.samples.append((time.perf_counter(), w))
            except Exception:  # noqa: BLE001
                pass
            time.sleep(self.interval)

    def _loop_smi(self):
        for line in self.proc.stdout:
            try:
                w = float(line.strip())
            except ValueError:
                continue
            with self.lock:
                self.samples.append((time.perf_counter(), w))

    def start(self):
        with self.lock:
            self.samples = []
        self.running = True
        if self.nvml is not None:
            self.thread = threading.Thread(target=self._loop_nvml, daemon=True)
        else:
            self.proc = subprocess.Popen(
                ["nvidia-smi", "--id=" + self.smi_id, "--query-gpu=power.draw", "--format=csv,noheader,nounits",
                 "-lms", str(max(1, int(self.interval * 1e3)))],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.thread = threading.Thread(target=self._loop_smi, daemon=True)
        self.t0 = time.perf_counter()
        self.thread.start()

    def stop(self, skip_fraction):
        """Stops sampling; returns (peak W, mean W, samples) over samples after the first skip_fraction."""
        self.running = False
        t1 = time.perf_counter()
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None
        self.thread.join(timeout=5)
        with self.lock:
            s = [w for t, w in self.samples if t >= self.t0 + skip_fraction * (t1 - self.t0)]
        if not s:
            with self.lock:
                s = [w for _, w in self.samples]
        if not s:
            return 0.0, 0.0, 0
        return max(s), sum(s) / len(s), len(s)


def physical_index(device_index):
    """The CUDA_VISIBLE_DEVICES entry behind torch's device index (an index or a UUID string), or None."""
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    if not cvd:
        return None
    parts = [p.strip() for p in cvd.split(",") if p.strip()]
    return parts[device_index] if device_index < len(parts) else None


class Measurer:
    def __init__(self, stack, clock, args, scale):
        self.m = stack
        self.clock = clock
        self.args = args
        self.scale = scale  # model layers / measured layers
        self.use_graphs = args.cuda_graphs and clock.cuda
        self.graph_failed = None

    def _total(self, marks):
        c = self.clock
        return c.ms(marks[0], marks[1]) + self.scale * c.ms(marks[1], marks[2]) + c.ms(marks[2], marks[3])

    def prefill_once(self, tokens):
        c = self.clock
        m0 = c.mark()
        x = self.m.embed(tokens)
        m1 = c.mark()
        x = self.m.layers_prefill(x)
        m2 = c.mark()
        self.m.head(x)
        m3 = c.mark()
        return (m0, m1, m2, m3)

    def decode_once(self, tok, ctx):
        c = self.clock
        m0 = c.mark()
        x = self.m.embed(tok)
        m1 = c.mark()
        x = self.m.layers_decode(x, ctx)
        m2 = c.mark()
        self.m.head(x)
        m3 = c.mark()
        return (m0, m1, m2, m3)

    def prefill_times(self, tokens):
        a = self.args
        for _ in range(a.warmup):
            self.prefill_once(tokens)
        marks = []
        for _ in range(a.repeats):
            self.clock.sync()  # each prefill starts on an idle GPU
            marks.append(self.prefill_once(tokens))
        self.clock.sync()
        return [self._total(m) for m in marks]

    def _decode_graphs(self, tok, ctx):
        """Captures embed / layers / head of one decode step at context ctx as three CUDA graphs."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                self.m.head(self.m.layers_decode(self.m.embed(tok), ctx))
        torch.cuda.current_stream().wait_stream(side)
        pool = torch.cuda.graph_pool_handle()
        g_e, g_l, g_h = torch.cuda.CUDAGraph(), torch.cuda.CUDAGraph(), torch.cuda.CUDAGraph()
        with torch.cuda.graph(g_e, pool=pool):
            x = self.m.embed(tok)
        with torch.cuda.graph(g_l, pool=pool):
            y = self.m.layers_decode(x, ctx)
        with torch.cuda.graph(g_h, pool=pool):
            z = self.m.head(y)
        return (g_e, g_l, g_h), (x, y, z)

    def _replay_once(self, graphs):
        c = self.clock
        m0 = c.mark()
        graphs[0].replay()
        m1 = c.mark()
        graphs[1].replay()
        m2 = c.mark()
        graphs[2].replay()
        m3 = c.mark()
        return (m0, m1, m2, m3)

    def decode_times(self, tok, prompt, n_steps):
        """Per repeat: the mean decode step time over n_steps steps with contexts prompt .. prompt+n_steps-1."""
        a = self.args
        idx = sample_indices(n_steps, a.decode_stride)
        for _ in range(a.warmup):
            self.decode_once(tok, prompt)
            self.decode_once(tok, prompt + idx[-1])
        times = [[0.0] * len(idx) for _ in range(a.repeats)]
        if self.use_graphs:
            for j, i in enumerate(idx):
                try:
                    graphs, keep = self._decode_graphs(tok, prompt + i)
                except Exception as exc:  # noqa: BLE001
                    if is_oom(exc):
                        raise
                    self.graph_failed = "{}: {}".format(type(exc).__name__, exc)
                    log("warning: CUDA graph capture failed ({}); timing decode eagerly".format(self.graph_failed))
                    self.use_graphs = False
                    torch.cuda.synchronize()
                    return self.decode_times(tok, prompt, n_steps)
                for g in graphs:  # warm-up replay
                    g.replay()
                marks = [self._replay_once(graphs) for _ in range(a.repeats)]
                self.clock.sync()
                for r in range(a.repeats):
                    times[r][j] = self._total(marks[r])
                del graphs, keep, marks
        else:
            marks = [[self.decode_once(tok, prompt + i) for i in idx] for _ in range(a.repeats)]
            self.clock.sync()
            times = [[self._total(m) for m in row] for row in marks]
        return [mean_interpolated(idx, row, n_steps) for row in times], idx

    def power_loop(self, fn, window_s):
        """Runs fn repeatedly for at least window_s seconds (power sampling runs meanwhile)."""
        t0 = time.perf_counter()
        n = 0
        while True:
            fn()
            n += 1
            if n % 4 == 0:
                self.clock.sync()
                if time.perf_counter() - t0 >= window_s:
                    break
        self.clock.sync()


# ---------------------------------------------------------------------------------------------------------------
# CLI

def int_list(text):
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers, got '{}'".format(text))
    if not vals or any(v <= 0 for v in vals):
        raise argparse.ArgumentTypeError("expected positive integers, got '{}'".format(text))
    return vals


def build_parser():
    p = argparse.ArgumentParser(
        prog="measure.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Time prefill and decode steps of a greenfleet catalog model (models/llm/<id>.yaml) with random\n"
            "weights in plain PyTorch, and write a SplitwiseSim-schema CSV for `greenfleet calibrate`.\n\n"
            "Points: a prompt sweep (--prompts) at batch --base-batch, a batch sweep (--batches) at prompt\n"
            "--base-prompt, both with the first --outputs value; further --outputs values add an output sweep\n"
            "at (--base-prompt, --base-batch). Duplicate points are measured once. One CSV row per repeat."),
        epilog=(
            "Times are milliseconds. prompt_time: one batched prefill step of B prompts of P tokens.\n"
            "token_time: mean decode step over the generation (B sequences, KV cache growing from P).\n"
            "e2e_time: prompt_time + (N-1) x token_time (the prefill yields the first token; SplitwiseSim's and\n"
            "greenfleet's convention; --e2e-decode-steps n gives N x token_time).\n"
            "Not measured: tensor-parallel all-reduce (greenfleet adds it from the link bandwidth).\n\n"
            "example: python3 measure.py --model llama-3.1-8b --gpu-id h100-sxm -o h100-llama-3.1-8b-tp1.csv"))
    p.add_argument("--model", required=True, help="catalog model id (models/llm/<id>.yaml), e.g. llama-3.1-8b")
    p.add_argument("--catalog", default=PROJECT_ROOT,
                   help="greenfleet project root holding models/llm/ and hardware_catalog/ (default: %(default)s)")
    p.add_argument("--gpu-id", default=None,
                   help="catalog GPU id written to the 'hardware' column, e.g. h100-sxm (default: guessed from "
                        "the device name, with a warning; 'cpu' on --device cpu)")
    p.add_argument("--tp", type=int, default=1,
                   help="tensor-parallel degree to emulate: heads, KV heads, FFN and vocabulary are divided by tp "
                        "and ONE shard is timed; no all-reduce is measured (default: 1)")
    p.add_argument("--dtype", default=None, choices=sorted(DTYPES),
                   help="weight/activation dtype (default: the model file's dtype)")
    p.add_argument("--prompts", type=int_list, default=[128, 256, 512, 1024, 2048, 4096, 8192],
                   help="prompt sweep at batch --base-batch (default: 128,...,8192)")
    p.add_argument("--batches", type=int_list, default=[1, 2, 4, 8, 16, 32, 64],
                   help="batch sweep at prompt --base-prompt (default: 1,2,...,64)")
    p.add_argument("--outputs", type=int_list, default=[128],
                   help="output tokens N; the first is used by the prompt and batch sweeps, further values form an "
                        "output sweep at (--base-prompt, --base-batch) (default: 128)")
    p.add_argument("--base-prompt", type=int, default=512, help="prompt size of the batch sweep (default: 512)")
    p.add_argument("--base-batch", type=int, default=1, help="batch size of the prompt sweep (default: 1)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per point, one CSV row each (default: 5)")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up runs per point and phase (default: 3)")
    p.add_argument("--decode-stride", type=int, default=16,
                   help="time every k-th decode step (plus the last) and interpolate linearly between them; "
                        "1 times every step (default: 16)")
    p.add_argument("--e2e-decode-steps", choices=["n-1", "n"], default="n-1",
                   help="decode iterations after the prefill: N-1 (the prefill yields token 1; SplitwiseSim and "
                        "greenfleet) or N (default: n-1)")
    p.add_argument("--layers", type=int, default=None,
                   help="decoder layers to build and time; the layer-stack time is scaled by model_layers/layers "
                        "(default: all layers if they fit, else the most that fit in --memory-fraction of free "
                        "GPU memory)")
    p.add_argument("--memory-fraction", type=float, default=0.9,
                   help="fraction of free GPU memory the default --layers may plan for (default: 0.9)")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="replay decode steps as CUDA graphs (as vLLM does) instead of eager launches; falls back "
                        "to eager if capture fails")
    p.add_argument("--power", action="store_true",
                   help="also sample board power (pynvml if importable, else nvidia-smi) in a steady loop of each "
                        "phase and write peak/average power divided by the GPU's TDP")
    p.add_argument("--tdp-w", type=float, default=None,
                   help="TDP for --power normalisation (default: tdp_w of --gpu-id in hardware_catalog/gpus.yaml, "
                        "else the NVML default power limit)")
    p.add_argument("--power-window-s", type=float, default=3.0,
                   help="seconds of steady prefill and of steady decode per point under --power (default: 3)")
    p.add_argument("--power-interval-ms", type=int, default=20, help="power sampling interval (default: 20)")
    p.add_argument("--device", default="cuda", help="torch device: cuda, cuda:N, or cpu for testing (default: cuda)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and tokens (default: 0)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (points, layers, memory) and exit")
    p.add_argument("-o", "--output", required=True, help="CSV to write; metadata goes to OUTPUT.meta.json")
    return p


def make_points(a):
    base_out = a.outputs[0]
    pts = [(pr, a.base_batch, base_out) for pr in a.prompts]
    pts += [(a.base_prompt, b, base_out) for b in a.batches]
    pts += [(a.base_prompt, a.base_batch, n) for n in a.outputs[1:]]
    seen, out = set(), []
    for p in pts:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def decode_steps(a, n_out):
    return n_out - 1 if a.e2e_decode_steps == "n-1" else n_out


def smi_query(fields, index):
    try:
        r = subprocess.run(["nvidia-smi", "--id=" + str(index), "--query-gpu=" + ",".join(fields),
                            "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
        if r.returncode == 0 and r.stdout.strip():
            return dict(zip(fields, [v.strip() for v in r.stdout.strip().splitlines()[0].split(",")]))
    except (OSError, subprocess.SubprocessError):
        pass
    return {}


def environment(device):
    env = {"torch_version": torch.__version__, "python_version": platform.python_version(),
           "platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
           "cuda_version": getattr(torch.version, "cuda", None),
           "hip_version": getattr(torch.version, "hip", None)}
    try:
        env["cudnn_version"] = torch.backends.cudnn.version()
    except Exception:  # noqa: BLE001
        env["cudnn_version"] = None
    sdp = {}
    for name in ("flash_sdp_enabled", "mem_efficient_sdp_enabled", "math_sdp_enabled", "cudnn_sdp_enabled"):
        fn = getattr(torch.backends.cuda, name, None)
        if fn is not None:
            try:
                sdp[name] = bool(fn())
            except Exception:  # noqa: BLE001
                pass
    env["sdpa_backends_enabled"] = sdp
    if device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(idx)
        env["gpu_name"] = torch.cuda.get_device_name(idx)
        env["gpu_memory_bytes"] = props.total_memory
        env["gpu_compute_capability"] = "{}.{}".format(props.major, props.minor)
        env["gpu_multiprocessors"] = props.multi_processor_count
        phys = physical_index(idx)
        smi = smi_query(["driver_version", "power.limit", "power.default_limit", "clocks.max.sm",
                         "clocks.max.memory", "pci.bus_id"], phys if phys is not None else idx)
        env["driver_version"] = smi.get("driver_version")
        env["nvidia_smi"] = smi
        if env["driver_version"] is None:
            try:
                import pynvml  # noqa: PLC0415
                pynvml.nvmlInit()
                v = pynvml.nvmlSystemGetDriverVersion()
                env["driver_version"] = v.decode() if isinstance(v, bytes) else v
            except Exception:  # noqa: BLE001
                pass
    else:
        env["gpu_name"] = None
        env["driver_version"] = None
    return env


def git_commit(path):
    try:
        r = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or None if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def write_meta(path, meta):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def fmt_ms(v):
    return "{:.6f}".format(v)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    a = build_parser().parse_args(argv)
    if a.tp < 1 or a.repeats < 1 or a.warmup < 0 or a.decode_stride < 1:
        raise SystemExit("error: --tp, --repeats and --decode-stride must be >= 1, --warmup >= 0")

    model_path = find_model_yaml(a.catalog, a.model)
    cfg = load_yaml_file(model_path) or {}
    shp = Shapes(cfg, a.tp)
    dtype_key = (a.dtype or str(cfg.get("dtype", "bf16"))).lower()
    dtype_name = DTYPES.get(dtype_key)
    if dtype_name is None:
        raise SystemExit("error: model dtype '{}' is not one of {}; pass --dtype".format(cfg.get("dtype"),
                                                                                          sorted(DTYPES)))
    points = make_points(a)
    max_ctx = cfg.get("max_context")
    if max_ctx:
        over = [p for p in points if p[0] + p[2] > int(max_ctx)]
        if over:
            log("warning: {} point(s) exceed the model's max_context {} (timed anyway: shapes only)".format(
                len(over), max_ctx))

    import_torch()
    device = torch.device(a.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("error: CUDA is not available to this PyTorch ({}); use --device cpu to test".format(
                torch.__version__))
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(device)
    dtype = getattr(torch, dtype_name)
    elem = torch.empty((), dtype=dtype).element_size()
    try:
        F.linear(torch.ones(2, 2, device=device, dtype=dtype), torch.ones(2, 2, device=device, dtype=dtype))
    except RuntimeError as exc:
        raise SystemExit("error: {} matmul unsupported on {} ({}); try --dtype fp32 (or bf16) on CPU".format(
            dtype_name, device, exc))

    gpu_id = a.gpu_id
    gpu_id_guessed = False
    if gpu_id is None:
        gpu_id = guess_gpu_id(torch.cuda.get_device_name(device)) if device.type == "cuda" else "cpu"
        gpu_id_guessed = device.type == "cuda"
        if gpu_id_guessed:
            log("warning: --gpu-id not given; guessed '{}' from '{}'. Pass --gpu-id to be explicit.".format(
                gpu_id, torch.cuda.get_device_name(device)))

    # How many layers to build.
    n_dec = {p: decode_steps(a, p[2]) for p in points}
    max_kv_tokens = max(b * (pr + max(n, 1) + 1) for (pr, b, _), n in n_dec.items())
    max_tokens = max(pr * b for pr, b, _ in points)
    flash = HAVE_SDPA and device.type == "cuda" and dtype_name in ("float16", "bfloat16")
    per_layer = shp.layer_params() * elem + shp.kv_bytes_per_token_layer(elem) * max_kv_tokens
    fixed = shp.fixed_params() * elem + shp.workspace_bytes(max_tokens, max(b for _, b, _ in points),
                                                            max(pr for pr, _, _ in points), elem, flash)
    free_b = total_b = None
    if device.type == "cuda":
        free_b, total_b = torch.cuda.mem_get_info(device)
    if a.layers is not None:
        if not 1 <= a.layers <= shp.model_layers:
            raise SystemExit("error: --layers must be in 1..{}".format(shp.model_layers))
        n_layers = a.layers
        layers_reason = "--layers"
    elif free_b is None:
        n_layers, layers_reason = shp.model_layers, "all (CPU: no memory check)"
    else:
        fit = int((a.memory_fraction * free_b - fixed) // per_layer)
        if fit < 1:
            raise SystemExit("error: not even one layer fits: {:.1f} GiB free x {} < {:.1f} GiB fixed + {:.2f} GiB "
                             "per layer; raise --tp or shrink the sweeps".format(
                                 free_b / 2**30, a.memory_fraction, fixed / 2**30, per_layer / 2**30))
        n_layers = min(fit, shp.model_layers)
        layers_reason = "all layers fit" if n_layers == shp.model_layers else \
            "most that fit in {:.0%} of free memory".format(a.memory_fraction)
    scale = shp.model_layers / n_layers

    plan = {"model": a.model, "model_file": os.path.abspath(model_path), "hardware": gpu_id, "tp": a.tp,
            "dtype": dtype_name, "device": str(device), "points": len(points),
            "rows": len(points) * a.repeats, "layers_measured": n_layers, "model_layers": shp.model_layers,
            "layer_scale": scale, "layers_reason": layers_reason,
            "estimated_bytes": int(fixed + per_layer * n_layers),
            "free_bytes": free_b}
    log("plan: " + json.dumps(plan))
    if a.dry_run:
        for p in points:
            log("  point prompt={} batch={} output={}".format(*p))
        return 0

    meta_path = a.output + ".meta.json"
    meta = {
        "schema": "SplitwiseSim perf_model.csv (times in ms); one row per repeat",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command_line": " ".join(shlex.quote(x) for x in [sys.executable, os.path.abspath(__file__)] + argv),
        "complete": False,
        "model": a.model, "model_file": os.path.abspath(model_path), "model_shapes": shp.as_dict(),
        "catalog_git_commit": git_commit(a.catalog),
        "hardware": gpu_id, "hardware_guessed_from_device_name": gpu_id_guessed,
        "tensor_parallel": a.tp, "dtype": dtype_name,
        "layers_measured": n_layers, "model_layers": shp.model_layers, "layer_scale": scale,
        "layers_reason": layers_reason,
        "timing": {"clock": "torch.cuda.Event" if device.type == "cuda" else "time.perf_counter",
                   "warmup": a.warmup, "repeats": a.repeats, "decode_stride": a.decode_stride,
                   "decode_mode": "cuda-graphs" if (a.cuda_graphs and device.type == "cuda") else "eager",
                   "e2e_decode_steps": a.e2e_decode_steps, "seed": a.seed},
        "sweeps": {"prompts": a.prompts, "batches": a.batches, "outputs": a.outputs,
                   "base_prompt": a.base_prompt, "base_batch": a.base_batch,
                   "points": [list(p) for p in points]},
        "simplifications": [
            "random weights (timing only)",
            "no rotary position embedding (elementwise, negligible)",
            "RMSNorm for every model (OPT's LayerNorm and biases omitted)",
            "QKV and gate+up projections fused into one GEMM each (as vLLM does)",
            "LM head on the last position of each sequence only; no sampling",
            "tensor parallelism emulated by timing one shard (heads, KV heads, FFN, vocabulary / tp); "
            "all-reduce NOT measured",
            "layer-stack time scaled by model_layers / layers_measured; embedding and LM head timed once",
            "decode timed every decode_stride-th step (and the last), linear interpolation between",
        ],
        "environment": environment(device),
        "memory": {"free_bytes_at_start": free_b, "total_bytes": total_b,
                   "estimated_bytes": int(fixed + per_layer * n_layers)},
    }
    write_meta(meta_path, meta)

    torch.manual_seed(a.seed)
    try:
        stack = Stack(shp, n_layers, device, dtype, a.seed)
    except RuntimeError as exc:
        if is_oom(exc):
            raise SystemExit("error: out of memory building {} layers; pass a smaller --layers".format(n_layers))
        raise
    meta["attention"] = stack.attn_impl
    log("model built: {} of {} layers (x{:.3g}), attention {}, dtype {}".format(
        n_layers, shp.model_layers, scale, stack.attn_impl, dtype_name))

    clock = Clock(device)
    measurer = Measurer(stack, clock, a, scale)

    power = None
    tdp = tdp_src = None
    if a.power:
        if device.type != "cuda":
            raise SystemExit("error: --power needs a CUDA device")
        power = PowerMeter(device.index, a.power_interval_ms)
        if a.tdp_w:
            tdp, tdp_src = a.tdp_w, "--tdp-w"
        else:
            tdp = gpu_tdp_from_catalog(a.catalog, gpu_id)
            tdp_src = "hardware_catalog/gpus.yaml tdp_w of " + gpu_id
            if tdp is None:
                tdp, tdp_src = power.limit_w(), "NVML default power limit"
        if not tdp:
            raise SystemExit("error: no TDP for --power normalisation; pass --tdp-w")
        meta["power"] = {"backend": power.backend, "tdp_w": tdp, "tdp_source": tdp_src,
                         "window_s": a.power_window_s, "interval_ms": a.power_interval_ms,
                         "note": "sampled in a separate steady loop per phase; e2e average weighted by phase time"}
        log("power: {} sampling, TDP {} W ({})".format(power.backend, tdp, tdp_src))

    gen = torch.Generator(device=device)
    gen.manual_seed(a.seed + 1)
    results = []
    with open(a.output, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        f.flush()
        for k, (prompt, batch, n_out) in enumerate(points):
            n_steps = n_dec[(prompt, batch, n_out)]
            t_start = time.perf_counter()
            try:
                stack.alloc_cache(batch, prompt + max(n_steps, 1) + 1)
                tokens = torch.randint(0, shp.vocab_s, (batch, prompt), device=device, generator=gen)
                tok = torch.randint(0, shp.vocab_s, (batch, 1), device=device, generator=gen)
                pre = measurer.prefill_times(tokens)
                dec, idx = measurer.decode_times(tok, prompt, max(n_steps, 1))
                pk = avg = 0.0
                if power is not None:
                    power.start()
                    measurer.power_loop(lambda: measurer.prefill_once(tokens), a.power_window_s)
                    pk_p, avg_p, ns_p = power.stop(0.3)
                    ctxs = [prompt + i for i in idx]
                    state = {"j": 0}

                    def one_decode():
                        measurer.decode_once(tok, ctxs[state["j"] % len(ctxs)])
                        state["j"] += 1

                    power.start()
                    measurer.power_loop(one_decode, a.power_window_s)
                    pk_d, avg_d, ns_d = power.stop(0.3)
                    t_p = sorted(pre)[len(pre) // 2]
                    t_d = n_steps * sorted(dec)[len(dec) // 2]
                    avg_w = (avg_p * t_p + avg_d * t_d) / (t_p + t_d) if t_p + t_d > 0 else avg_p
                    pk, avg = max(pk_p, pk_d) / tdp, avg_w / tdp
                    if ns_p == 0 or ns_d == 0:
                        log("warning: no power samples for a phase of point {}".format((prompt, batch, n_out)))
            except RuntimeError as exc:
                if is_oom(exc):
                    stack.free_cache()
                    raise SystemExit("error: out of memory at prompt={} batch={} output={} with {} layers; pass a "
                                     "smaller --layers (rows so far are in {})".format(prompt, batch, n_out,
                                                                                      n_layers, a.output))
                raise
            finally:
                stack.free_cache()
            for r in range(a.repeats):
                e2e = pre[r] + n_steps * dec[r]
                w.writerow([a.model, gpu_id, prompt, batch, n_out, "{:.6g}".format(pk), "{:.6g}".format(avg),
                            fmt_ms(pre[r]), fmt_ms(dec[r]), fmt_ms(e2e), a.tp])
                results.append((prompt, batch, n_out, pre[r], dec[r], e2e))
            f.flush()
            med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
            log("[{}/{}] prompt={} batch={} output={}: prefill {:.3f} ms, decode {:.3f} ms/step ({} of {} steps "
                "timed), e2e {:.1f} ms  ({:.1f} s)".format(
                    k + 1, len(points), prompt, batch, n_out, med(pre), med(dec), len(idx), max(n_steps, 1),
                    med(pre) + n_steps * med(dec), time.perf_counter() - t_start))

    if measurer.graph_failed:
        meta["timing"]["decode_mode"] = "eager (cuda-graph capture failed: {})".format(measurer.graph_failed)
    meta["complete"] = True
    meta["rows"] = len(results)
    meta["finished_utc"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    if device.type == "cuda":
        meta["memory"]["max_allocated_bytes"] = torch.cuda.max_memory_allocated(device)
    write_meta(meta_path, meta)
    log("wrote {} rows to {} and {}".format(len(results), a.output, meta_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
