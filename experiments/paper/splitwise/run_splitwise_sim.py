#!/usr/bin/env python3
"""Runs splitwise-sim itself (GitHub Mutinifni/splitwise-sim) on the configurations of this folder, for the
cross-check in docs/REPRODUCTION.md (Splitwise section), and prints what docs/reproduce_splitwise.py quotes.

splitwise-sim composes its configuration with Hydra; this script composes the same files by hand, as its scripts
ask (scripts/run_baseline_a.sh, scripts/run_splitwise_ha.sh with the issue's server counts), and stands in for the
two Hydra functions its code calls (`hydra.utils.instantiate`, recursive with the default conversion, and
`get_original_cwd`). Nothing of splitwise-sim is copied: it runs from the checkout given.

  Baseline-A100  cluster half_half with 40 dgx-a100 and 0 dgx-h100, start_state baseline, scheduler token_jsq
  Splitwise-HA   cluster half_half with 20 dgx-a100 and 20 dgx-h100, start_state splitwise (split_type
                 heterogeneous), scheduler mixed_pool
  both           application llama2-70b / llama2-70b-fp16, performance_model db, seed 0, and the Azure LLM
                 inference 2023 conversation trace at its own arrival times (seconds after the first row, plus
                 1 ms: splitwise-sim runs an event due at time 0 while it loads the trace, before any instance
                 exists)

Usage: /usr/bin/python3 experiments/paper/splitwise/run_splitwise_sim.py SPLITWISE_SIM_CHECKOUT [--data-dir DIR]
                                                                          [--out DIR]
Needs splitwise-sim's dependencies: pandas, scipy, networkx and omegaconf (Debian: python3-networkx,
python3-omegaconf). Checked with its commit 8f99e7dc9b407f4ce2488d03dd44c0b8b946dab0; each run takes 1-2 minutes.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RUNS = {"baseline_a100": ("baseline", 40, 0), "splitwise_ha": ("splitwise", 20, 20)}

HYDRA_UTILS = '''\
import importlib
import os

from omegaconf import DictConfig, ListConfig, OmegaConf


def get_original_cwd():
    return os.environ["SPLITWISE_SIM_DIR"]


def to_absolute_path(p):
    return p if os.path.isabs(p) else os.path.join(get_original_cwd(), p)


def _value(node):
    if isinstance(node, DictConfig) and "_target_" in node:
        return instantiate(node)
    if isinstance(node, ListConfig):
        return OmegaConf.create([_value(v) for v in node])
    return node


def instantiate(cfg, **kwargs):
    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(cfg)
    module, _, name = cfg["_target_"].rpartition(".")
    args = {k: _value(cfg[k]) for k in cfg if k not in ("_target_", "defaults")}
    args.update(kwargs)
    return getattr(importlib.import_module(module), name)(**args)
'''
HYDRA_INIT = '''\
def main(**_kwargs):
    return lambda fn: fn
'''


def convert_trace(data, path):
    import pandas as pd
    src = pd.read_csv(Path(data) / "traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv")
    t = pd.to_datetime(src["TIMESTAMP"])
    pd.DataFrame({"request_id": range(len(src)), "request_type": 2, "application_id": 0,
                  "arrival_timestamp": (t - t.iloc[0]).dt.total_seconds() + 1e-3, "batch_size": 1,
                  "prompt_size": src["ContextTokens"], "token_size": src["GeneratedTokens"]}).to_csv(path, index=False)


def run_one(kind, a100, h100, trace, out):
    """In a process of its own (splitwise-sim keeps its simulator in module globals)."""
    from omegaconf import OmegaConf
    import run  # splitwise-sim's run.py: registers its `eval` resolver, provides run_simulation

    def load(rel):
        return OmegaConf.load(os.path.join(os.environ["SPLITWISE_SIM_DIR"], "configs", rel))

    cluster = load("cluster/half_half.yaml")
    cluster.servers[0].count, cluster.servers[1].count = a100, h100
    router = load("router/noop.yaml")
    router.overheads = load("router/overheads/zero.yaml")
    apps = load("applications/solo.yaml")
    apps[0].model_architecture, apps[0].model_size = "llama2-70b", "llama2-70b-fp16"
    apps[0].scheduler = "token_jsq" if kind == "baseline" else "mixed_pool"
    start = load(f"start_state/{kind}.yaml")
    if kind == "splitwise":
        start.split_type = "heterogeneous"
    cfg = OmegaConf.create({
        "cluster": cluster, "router": router, "arbiter": load("arbiter/noop.yaml"),
        "hardware_repo": load("hardware_repo/default.yaml"), "model_repo": load("model_repo/default.yaml"),
        "orchestrator_repo": load("orchestrator_repo/default.yaml"),
        "performance_model": load("performance_model/db.yaml"), "power_model": load("power_model/constant.yaml"),
        "applications": apps, "trace": {"dir": os.path.dirname(trace), "filename": "azure_conv", "path": trace},
        "start_state": start, "end_time": 86400, "debug": False, "seed": 0})
    OmegaConf.resolve(cfg)
    os.makedirs(out, exist_ok=True)
    os.chdir(out)
    import random
    random.seed(cfg.seed)
    run.run_simulation(cfg)


def report(name, out, trace):
    """The summary's numbers and, from its per-node table, how requests met their instances."""
    import numpy as np
    import pandas as pd
    s = pd.read_csv(Path(out) / "summary.csv")
    nodes = pd.read_csv(Path(out) / "request_nodes.csv")
    arrival = pd.read_csv(trace).set_index("request_id")["arrival_timestamp"]
    nodes["request_id"] = nodes["request_id"].astype(int)
    prompt = nodes[nodes.node_type == "PROMPT"].set_index("request_id")
    token = nodes[nodes.node_type == "TOKEN"].set_index("request_id")
    split = (nodes.node_type == "KVCacheTransfer").any()
    inst = prompt["runner"]
    leave = prompt["completion_timestamp"] if split else token["completion_timestamp"]
    arr = arrival.loc[inst.index]
    idle = 0
    for _, ids in inst.groupby(inst).groups.items():
        a = arr.loc[ids].sort_values(kind="stable")
        busy_until = -1.0
        for rid, t in a.items():
            idle += t >= busy_until
            busy_until = max(busy_until, leave.loc[rid])
    number = inst.str.rsplit("_", n=1).str[1].astype(int)
    print(f"{name}: TTFT p50 {s['ttft_times_p50'].iloc[0]:.4f} s, p99 {s['ttft_times_p99'].iloc[0]:.4f} s, "
          f"TBT p50 {s['tbt_times_p50'].iloc[0] * 1000:.2f} ms; {len(prompt)} requests; "
          f"{idle / len(inst):.1%} arrive at an idle (prefill) instance; "
          f"{inst.nunique()} prefill instances used; "
          f"{np.mean(number < number.min() + 10):.1%} of prompts on the 10 lowest-numbered")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        _, _, kind, a100, h100, trace, out = sys.argv
        run_one(kind, int(a100), int(h100), trace, out)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", help="a checkout of GitHub Mutinifni/splitwise-sim")
    ap.add_argument("--data-dir", default=os.environ.get("GREENFLEET_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", help="keep splitwise-sim's outputs here (default: a temporary folder)")
    a = ap.parse_args()
    checkout = str(Path(a.checkout).resolve())
    with tempfile.TemporaryDirectory(prefix="splitwise-sim-") as tmp:
        out = Path(a.out).resolve() if a.out else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        shim = Path(tmp) / "shim" / "hydra"
        shim.mkdir(parents=True)
        (shim / "__init__.py").write_text(HYDRA_INIT)
        (shim / "utils.py").write_text(HYDRA_UTILS)
        trace = str(out / "azure_conv.csv")
        convert_trace(a.data_dir, trace)
        env = dict(os.environ, SPLITWISE_SIM_DIR=checkout,
                   PYTHONPATH=os.pathsep.join([str(shim.parent), checkout]))
        for name, (kind, a100, h100) in RUNS.items():
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--one", kind, str(a100), str(h100), trace,
                            str(out / name)], env=env, check=True, cwd=checkout)
            report(name, out / name, trace)


if __name__ == "__main__":
    main()
