"""Readers for the inputs of plots/greenfleet_plots.py, and labels and units of the numbers they hold.

- `Run`: one HDF5 file written by `greenfleet run` (layout: docs/OUTPUT.md), read lazily group by group;
- `load_compare`: the JSON written by `greenfleet compare --format json`;
- `load_sweep`: a sweep's `index.csv` (one row per point and replica).

Everything here tolerates extra fields, groups and columns, so that newer files still plot.
"""

import csv
import functools
import json
import math
import os
import re

import h5py
import numpy as np

try:  # Debian's python3-yaml; without it the configuration is read with regular expressions only
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

STATUS_COMPLETED = 0
CLASS_OFFLINE = 1

_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0,
          "d": 86400.0, "y": 365 * 86400.0}


def text(value):
    """h5py returns fixed-length strings as bytes."""
    return value.decode() if isinstance(value, (bytes, np.bytes_)) else str(value)


def duration_seconds(value):
    """'500ms', '2s', '0.001s' or a bare number of seconds, as in experiment files; None if not a duration."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*([a-z]*)\s*", str(value))
    if not m or m.group(2) not in _UNITS:
        return None
    try:
        return float(m.group(1)) * _UNITS[m.group(2)]
    except ValueError:
        return None


def slo_targets(config_yaml):
    """(ttft_s, tpot_s) from the `slo:` block of the resolved configuration; None where not found."""
    block = re.search(r"^slo:\n((?:[ \t]+.*(?:\n|$))+)", config_yaml, re.MULTILINE)
    out = []
    for key in ("ttft", "tpot"):
        m = re.search(rf"^\s+{key}:\s*(\S+)", block.group(1), re.MULTILINE) if block else None
        out.append(duration_seconds(m.group(1)) if m else None)
    return tuple(out)


def flatten(node, prefix=""):
    """{'router': {'name': 'x'}, 'sites': [{'pue': 1}]} -> {'router.name': 'x', 'sites.0.pue': 1}."""
    out = {}
    if isinstance(node, dict):
        for k, v in node.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(node, list) and node and any(isinstance(v, (dict, list)) for v in node):
        for i, v in enumerate(node):
            out.update(flatten(v, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = node
    return out


def config_differences(configs, ignore=("output.path", "name", "description")):
    """Key paths whose values differ between flattened configurations: [(key, [value per config])]."""
    keys = []
    for c in configs:
        keys += [k for k in c if k not in keys]
    diffs = []
    for k in keys:
        if k in ignore:
            continue
        values = [c.get(k) for c in configs]
        if any(v != values[0] for v in values[1:]):
            diffs.append((k, values))
    return diffs


def short(value, width=18):
    """A value as a short tick or legend label."""
    if value is None:
        return "unset"
    if isinstance(value, float):
        s = f"{value:g}"
    else:
        s = str(value)
    return s if len(s) <= width else s[: width - 1] + "…"


# ---------------------------------------------------------------------------------------------------------------
# Metric labels and units (summary keys, docs/OUTPUT.md /summary). `scaled` picks a readable unit for a column.

METRIC_LABELS = {
    "carbon_kg": "total carbon (kgCO2e)",
    "operational_kg": "operational carbon (kgCO2e)",
    "embodied_kg": "embodied carbon (kgCO2e)",
    "idle_carbon_kg": "carbon of idle time (kgCO2e)",
    "g_per_1k_tokens": "carbon per 1k tokens (gCO2e)",
    "embodied_share": "embodied share of carbon",
    "energy_it_kwh": "IT energy (kWh)",
    "energy_gpu_kwh": "GPU energy (kWh)",
    "energy_host_kwh": "host energy (kWh)",
    "energy_facility_kwh": "facility energy (kWh)",
    "slo_attainment": "SLO attainment",
    "slo_attainment_online": "SLO attainment, online",
    "slo_attainment_offline": "SLO attainment, offline",
    "throughput_rps": "throughput (requests/s)",
    "goodput_rps": "goodput (requests/s)",
    "output_tokens_per_s": "output tokens/s",
    "instance_utilisation": "instance utilisation",
    "wall_seconds": "wall time (s)",
    "simulated_seconds": "simulated time (s)",
}
for _stat in ("p50", "p90", "p99", "mean"):
    for _what, _name in (("ttft", "TTFT"), ("tpot", "TPOT"), ("e2e", "end-to-end"), ("queue", "queueing")):
        METRIC_LABELS[f"{_what}_{_stat}_s"] = f"{_name} {_stat} (s)"

SHARE_KEYS = {"slo_attainment", "slo_attainment_online", "slo_attainment_offline", "embodied_share",
              "instance_utilisation"}


# Units of swept configuration keys, by the last part of the key path (docs/EXPERIMENTS.md).
KEY_UNITS = {"carbon_intensity": "gCO2e/kWh", "value": "gCO2e/kWh", "base": "gCO2e/kWh", "dip": "gCO2e/kWh",
             "rate": "requests/s", "rate_scale": "x", "requests": "requests", "count": "servers",
             "max_num_seqs": "sequences", "max_batched_tokens": "tokens", "tensor_parallel": "GPUs",
             "pue": "", "seed": "", "gpu_memory_utilization": "share"}


def key_label(key):
    """A swept key path as an axis label, with its unit when known: 'workload.synthetic.rate (requests/s)'."""
    unit = KEY_UNITS.get(key.split(".")[-1], "")
    if key.split(".")[-2:-1] == ["lifetimes"]:
        unit = "amortisation period"
    return f"{key} ({unit})" if unit else key


def metric_label(key, labels=None):
    """Human label with unit: from the file's /summary labels, the table above, or the key itself."""
    if labels and key in labels:
        return labels[key]
    return METRIC_LABELS.get(key, key)


def scaled(key, values, label=None):
    """(values, label) in a readable unit: seconds below 1 s as ms, shares as %, kg below 1 kg as g."""
    values = np.asarray(values, dtype=float)
    label = label or metric_label(key)
    finite = values[np.isfinite(values)]
    top = float(np.max(np.abs(finite))) if finite.size else 0.0
    if key in SHARE_KEYS or key.startswith("slo_attainment"):
        return values * 100.0, re.sub(r"\s*\((share|fraction)[^)]*\)", "", label) + " (%)"
    if key.endswith("_s") and 0 < top < 1.0 and "(s)" in label:
        return values * 1e3, label.replace("(s)", "(ms)")
    if key.endswith("_kg") and 0 < top < 1.0:
        return values * 1e3, label.replace("kgCO2e", "gCO2e").replace("(kg", "(g")
    return values, label


def is_number(value):
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def finite_float(value):
    """float, or NaN for None, '', 'nan', 'n/a' and other non-numbers."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


# ---------------------------------------------------------------------------------------------------------------
# One run: an HDF5 file


class Run:
    """One `greenfleet run` output. Groups are read on first use; the file is opened once per group."""

    def __init__(self, path, label=None):
        self.path = path
        with h5py.File(path, "r") as f:
            self.experiment = text(f.attrs.get("experiment", "?"))
            self.seed = f.attrs.get("seed", "?")
            # The resolved configuration: a root attribute, or the dataset /config_yaml when over 60,000 bytes.
            config = f.attrs.get("config_yaml")
            if config is None and isinstance(f.get("config_yaml"), h5py.Dataset):
                config = f["config_yaml"][()]
            self.config_yaml = text(config if config is not None else "")
            self.groups = {k for k in f.keys() if isinstance(f[k], h5py.Group)}
        self.label = label or os.path.splitext(os.path.basename(path))[0]
        self.slo_ttft, self.slo_tpot = slo_targets(self.config_yaml)

    def _open(self):
        return h5py.File(self.path, "r")

    @functools.cached_property
    def config(self):
        """The resolved configuration as a flat {key.path: value} dict ({} without python3-yaml)."""
        if yaml is None or not self.config_yaml:
            return {}
        try:
            return flatten(yaml.safe_load(self.config_yaml) or {})
        except yaml.YAMLError:
            return {}

    @functools.cached_property
    def summary(self):
        """{key: float} from /summary attributes (title left out), in the file's order."""
        if "summary" not in self.groups:
            return {}
        with self._open() as f:
            return {k: float(v) for k, v in f["summary"].attrs.items() if k != "title" and np.ndim(v) == 0
                    and not isinstance(v, (bytes, str, np.bytes_))}

    @functools.cached_property
    def summary_labels(self):
        if "summary" not in self.groups:
            return {}
        with self._open() as f:
            s = f["summary"]
            if "keys" not in s or "labels" not in s:
                return {}
            return {text(k): text(v) for k, v in zip(s["keys"][:], s["labels"][:])}

    @functools.cached_property
    def carbon(self):
        """{'attrs': {...}, 'by_phase': {column: array}, 'by_site': ..., 'by_server': ...} or None."""
        if "carbon" not in self.groups:
            return None
        with self._open() as f:
            c = f["carbon"]
            out = {"attrs": {k: float(v) for k, v in c.attrs.items() if np.ndim(v) == 0}}
            for sub in c:
                if isinstance(c[sub], h5py.Group):
                    out[sub] = {k: (np.array([text(x) for x in d[:]]) if d.dtype.kind in "SO" else d[:])
                                for k, d in c[sub].items() if isinstance(d, h5py.Dataset) and d.ndim == 1}
            return out

    @functools.cached_property
    def sites(self):
        if "sites" not in self.groups:
            return None
        with self._open() as f:
            s = f["sites"]
            return {"name": [text(x) for x in s["name"][:]],
                    "pue": s["pue"][:] if "pue" in s else None,
                    "kind": [text(x) for x in s["carbon_intensity_kind"][:]] if "carbon_intensity_kind" in s
                    else None}

    @functools.cached_property
    def servers(self):
        if "servers" not in self.groups:
            return None
        with self._open() as f:
            s = f["servers"]
            n = s["site"].shape[0]
            return {"site": s["site"][:], "sku": [text(x) for x in s["sku"][:]],
                    "gpu_count": s["gpu_count"][:] if "gpu_count" in s else np.ones(n, dtype=int)}

    @functools.cached_property
    def timeseries(self):
        from . import overview  # the overview figure owns this reader
        if "timeseries" not in self.groups:
            return None
        with self._open() as f:
            ts = overview.read_timeseries(f)
            if ts is not None:
                t = f["timeseries"]
                ts["utilisation"] = t["utilisation"][:] if "utilisation" in t else None
                ts["energy"] = t["energy_j"][:] if "energy_j" in t else None
            return ts

    @functools.cached_property
    def requests(self):
        from . import overview
        if "requests" not in self.groups:
            return None
        with self._open() as f:
            return overview.read_requests(f)


def carbon_parts(columns):
    """Split column names like 'operational_gpu_g' into [(kind, part, column)] for kind operational/embodied,
    part gpu/host/network/... in a stable order (gpu, host, network, then the rest alphabetically)."""
    found = []
    for col in columns:
        m = re.fullmatch(r"(operational|embodied)_([a-z0-9]+)_(g|kg)", col)
        if m:
            found.append((m.group(1), m.group(2), col))
    order = {"gpu": 0, "host": 1, "network": 2}
    found.sort(key=lambda t: (t[0] != "operational", order.get(t[1], 9), t[1]))
    return found


PART_NAMES = {"gpu": "GPU", "host": "host", "network": "network"}


def kind_label(kind, part):
    return f"{kind} {PART_NAMES.get(part, part)}"


def kind_colors(parts):
    """One colour per (kind, part): blues for operational, oranges for embodied, darker for the GPU."""
    import matplotlib

    out = {}
    for kind, cmap in (("operational", "Blues"), ("embodied", "Oranges")):
        mine = [p for k, p, *_ in parts if k == kind]
        for i, p in enumerate(mine):
            shade = 0.8 - 0.45 * (i / max(1, len(mine) - 1)) if len(mine) > 1 else 0.7
            out[(kind, p)] = matplotlib.colormaps[cmap](shade)
    return out


# ---------------------------------------------------------------------------------------------------------------
# `greenfleet compare --format json`


def load_compare(path):
    """Reads and normalises a comparison: {'baseline', 'runs', 'labels', 'metrics': [{key, label, values, diffs}],
    'config_differences': [{key, values}]}. Unknown fields are kept but ignored; missing optional ones defaulted."""
    with open(path) as fh:
        doc = json.load(fh)
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), list):
        raise ValueError("not a greenfleet comparison (no 'metrics' list)")
    doc["metrics"] = [_from_runs(m) if isinstance(m, dict) and "runs" in m and "values" not in m else m
                      for m in doc["metrics"]]
    metrics = [m for m in doc["metrics"] if isinstance(m, dict) and "values" in m]
    n = max([len(m["values"]) for m in metrics] + [len(doc.get("runs") or [])])
    runs = [_run_name(r) for r in doc.get("runs") or []]  # paths, or objects with a path/label/name
    runs += [f"run {i}" for i in range(len(runs), n)]
    baseline = doc.get("baseline", runs[0] if runs else None)
    if isinstance(baseline, int) and not isinstance(baseline, bool) and 0 <= baseline < len(runs):
        base_index = baseline
    else:
        baseline = _run_name(baseline)
        base_index = runs.index(baseline) if baseline in runs else 0
    out = []
    for m in metrics:
        values = [finite_float(v) for v in m["values"]] + [math.nan] * (n - len(m["values"]))
        diffs = list(m.get("diffs") or []) + [None] * (n - len(m.get("diffs") or []))
        key = str(m.get("key", m.get("label", "?")))
        base = values[base_index] if base_index < len(values) else math.nan
        # A missing diff is derived from the values (without a CI) so that every run still shows its change.
        diffs = [d if isinstance(d, dict) or i == base_index or not math.isfinite(values[i]) or not
                 math.isfinite(base) else {"abs": values[i] - base} for i, d in enumerate(diffs)]
        out.append({"key": key, "label": str(m.get("label") or metric_label(key)), "values": values,
                    "diffs": [normalise_diff(d, base) if isinstance(d, dict) else None for d in diffs]})
    labels = [os.path.splitext(os.path.basename(str(r)))[0] for r in runs]
    if len(set(labels)) < len(labels):
        labels = [str(r) for r in runs]
    return {"path": path, "baseline": base_index, "runs": runs, "labels": labels, "metrics": out,
            "config_differences": [d for d in doc.get("config_differences") or [] if isinstance(d, dict)],
            "raw": doc}


def _from_runs(m):
    """`greenfleet compare --format json` lists per metric one entry per run (group): value, diff with its interval
    (diff_lo, diff_hi), rel with its interval (rel_lo, rel_hi) and method ("baseline" for the baseline)."""
    values, diffs = [], []
    for r in m.get("runs") or []:
        r = r if isinstance(r, dict) else {}
        values.append(r.get("value"))
        if r.get("method") == "baseline":
            diffs.append(None)
            continue
        diffs.append({"abs": r.get("diff"), "rel": r.get("rel"), "ci_low": r.get("diff_lo"),
                      "ci_high": r.get("diff_hi"), "rel_low": r.get("rel_lo"), "rel_high": r.get("rel_hi"),
                      "method": r.get("method") or ""})
    return {"key": m.get("key"), "label": m.get("label"), "values": values, "diffs": diffs}


def _run_name(run):
    if isinstance(run, dict):
        return str(run.get("label") or run.get("path") or run.get("name") or run.get("file") or "?")
    return str(run)


def normalise_diff(d, base):
    """{abs, rel, low, high, rel_low, rel_high, method, level}: the CI both absolute and relative to the baseline.

    `ci_low`/`ci_high` are taken as absolute differences when they bracket `abs`, as relative ones when they
    bracket `rel` only (the schema leaves this open); `ci_level` (or `level`) defaults to 0.95."""
    a, r = finite_float(d.get("abs")), finite_float(d.get("rel"))
    if math.isnan(a) and not math.isnan(r) and math.isfinite(base):
        a = r * base
    if math.isnan(r) and not math.isnan(a) and math.isfinite(base) and base != 0:
        r = a / base
    lo, hi = finite_float(d.get("ci_low")), finite_float(d.get("ci_high"))
    rel_ci = bool(d.get("ci_relative")) or str(d.get("ci_kind", "")).startswith("rel")
    if not rel_ci and not (math.isnan(lo) or math.isnan(hi) or math.isnan(a) or math.isnan(r)):
        rel_ci = not (lo <= a <= hi) and (lo <= r <= hi)
    if rel_ci:
        rlo, rhi = lo, hi
        alo, ahi = (lo * base, hi * base) if math.isfinite(base) else (math.nan, math.nan)
    else:
        alo, ahi = lo, hi
        ok = math.isfinite(base) and base != 0
        rlo, rhi = (lo / base, hi / base) if ok else (math.nan, math.nan)
        if ok and base < 0:
            rlo, rhi = rhi, rlo
    # Intervals given both ways (greenfleet compare's JSON) are taken as given.
    if "rel_low" in d or "rel_high" in d:
        alo, ahi = lo, hi
        rlo, rhi = finite_float(d.get("rel_low")), finite_float(d.get("rel_high"))
    level = finite_float(d.get("ci_level", d.get("level", 0.95)))
    if level > 1:
        level /= 100.0
    return {"abs": a, "rel": r, "low": alo, "high": ahi, "rel_low": rlo, "rel_high": rhi,
            "method": str(d.get("method") or ""), "level": 0.95 if math.isnan(level) else level}


# ---------------------------------------------------------------------------------------------------------------
# A sweep's index.csv

FIXED_COLUMNS = ("point", "replica", "status", "output")
KNOWN_SUMMARY = set(METRIC_LABELS) | {"requests_arrived", "requests_completed", "requests_rejected",
                                      "requests_unfinished", "trace_rows_skipped", "preemptions", "instances"}
FAILED_STATUS = re.compile(r"fail|error|crash|timeout|skip|invalid", re.IGNORECASE)


class Sweep:
    """Rows of index.csv with the swept key paths told apart from the summary metrics."""

    def __init__(self, path):
        self.path = path
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            self.columns = [c for c in (reader.fieldnames or []) if c is not None]
            rows = [r for r in reader]
        if "point" not in self.columns:
            raise ValueError("not a sweep index (no 'point' column)")
        d = os.path.dirname(os.path.abspath(path))
        stem = os.path.splitext(os.path.basename(path))[0]
        self.name = os.path.basename(d) if stem == "index" else stem
        # Swept keys sit between the fixed columns and the first summary key (requests_arrived in every
        # version); when that is missing, key paths are told by their dots (or are `seed`).
        rest = [c for c in self.columns if c not in FIXED_COLUMNS]
        first_metric = next((i for i, c in enumerate(rest) if c in KNOWN_SUMMARY), None)
        if first_metric is None:
            self.keys = [c for c in rest if "." in c or c == "seed"]
        else:
            self.keys = rest[:first_metric]
        self.metrics = [c for c in rest if c not in self.keys]
        status_ok = [not FAILED_STATUS.search(r.get("status") or "") for r in rows]
        self.failed = len(rows) - sum(status_ok)
        self.rows = [r for r, ok in zip(rows, status_ok) if ok]

    def values(self, key):
        """Distinct values of a swept key in first-seen order (numbers sorted when all are numeric)."""
        seen = []
        for r in self.rows:
            v = r.get(key, "")
            if v not in seen:
                seen.append(v)
        if seen and all(is_number(v) for v in seen):
            seen.sort(key=float)
        elif seen and all(duration_seconds(v) is not None for v in seen):  # '2y', '4y', '500ms'
            seen.sort(key=duration_seconds)
        return seen

    def numeric(self, key):
        vals = self.values(key)
        return bool(vals) and all(is_number(v) for v in vals)

    def dims(self):
        """Swept keys that vary, except the seed (which goes with replicas)."""
        return [k for k in self.keys if k != "seed" and len(self.values(k)) > 1]

    def numeric_metrics(self):
        out = []
        for m in self.metrics:
            vals = [finite_float(r.get(m)) for r in self.rows]
            if any(math.isfinite(v) for v in vals):
                out.append(m)
        return out

    def aggregate(self, metric, by):
        """{tuple(values of `by`): array of the metric over matching rows (replicas and other keys)}."""
        out = {}
        for r in self.rows:
            v = finite_float(r.get(metric))
            if math.isfinite(v):
                out.setdefault(tuple(r.get(k, "") for k in by), []).append(v)
        return {k: np.array(v) for k, v in out.items()}


def load_sweep(path):
    return Sweep(path)


def t_quantile_975(dof):
    """Two-sided 95% Student t quantile (no scipy): exact table for small dof, normal beyond."""
    table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
             2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
             2.045, 2.042]
    return table[dof - 1] if 1 <= dof <= len(table) else 1.96
