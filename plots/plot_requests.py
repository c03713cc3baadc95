#!/usr/bin/env python3
"""Four-panel overview of the per-request table of a greenfleet output file.

Reads /requests from an HDF5 file written by `greenfleet run` (layout: docs/OUTPUT.md) and writes one PNG:

  1. TTFT CDF of completed requests (online and offline drawn apart when the run has offline requests)
  2. TPOT CDF of completed requests with more than one output token (as in the summary table)
  3. end-to-end latency against prompt length (at most 20,000 points, sampled with a fixed seed)
  4. requests completed per minute of simulated time (finer bins, still per minute, for runs under 10 min)

The online SLO targets stored in the file's resolved configuration are drawn as dashed lines on the CDFs
(offline requests are judged on their deadline instead).
Needs only the Debian packages python3-h5py and python3-matplotlib.
"""

import argparse
import re
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STATUS_COMPLETED = 0
CLASS_OFFLINE = 1
MAX_SCATTER_POINTS = 20_000

_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _text(value):
    return value.decode() if isinstance(value, (bytes, np.bytes_)) else str(value)


def _duration_seconds(text):
    """'500ms', '2s', '0.001s' or a bare number of seconds, as in experiment files."""
    m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*([a-z]*)\s*", text)
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
        out.append(_duration_seconds(m.group(1)) if m else None)
    return tuple(out)


def cdf_panel(ax, series, slo, title):
    """series: list of (label, values); one CDF line per non-empty series."""
    drawn, smallest = 0, np.inf
    for label, values in series:
        values = np.sort(values[np.isfinite(values)])
        if values.size == 0:
            continue
        ax.plot(values, np.arange(1, values.size + 1) / values.size, lw=1.5, label=f"{label} ({values.size:,})")
        smallest = min(smallest, values[0])
        drawn += 1
    if drawn == 0:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    else:
        if smallest > 0:
            ax.set_xscale("log")
        for q in (0.5, 0.9, 0.99):
            ax.axhline(q, color="0.85", lw=0.8, zorder=0)
    if slo is not None:
        ax.axvline(slo, color="tab:red", ls="--", lw=1, label=f"online SLO {slo:g} s")
    if drawn > 1 or slo is not None:
        ax.legend(loc="lower right")
    ax.set_title(title)
    ax.set_xlabel("seconds")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.01)
    ax.grid(True, which="major", alpha=0.3)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Plot TTFT and TPOT CDFs, end-to-end latency against prompt length, and completions per "
        "minute from the /requests table of a greenfleet HDF5 output.",
        epilog="example: python3 plots/plot_requests.py out/quickstart.h5 -o out/quickstart.png",
    )
    parser.add_argument("h5", help="greenfleet output file (written by `greenfleet run`)")
    parser.add_argument("-o", "--output", help="PNG to write (default: the input path with .png)")
    parser.add_argument("--dpi", type=int, default=120, help="resolution of the PNG (default: 120)")
    args = parser.parse_args(argv)
    out_path = args.output or re.sub(r"\.h5$", "", args.h5) + ".png"

    try:
        f = h5py.File(args.h5, "r")
    except OSError as e:
        print(f"error: {args.h5}: cannot open as an HDF5 file ({e})", file=sys.stderr)
        return 2
    with f:
        if "requests" not in f:
            print(f"error: {args.h5}: no /requests table (was the run made with output.requests: false?)",
                  file=sys.stderr)
            return 2
        r = f["requests"]
        status = r["status"][:]
        done = status == STATUS_COMPLETED
        ttft = r["ttft_s"][:][done]
        tpot = r["tpot_s"][:][done]
        e2e = r["e2e_s"][:][done]
        prompt = r["prompt_tokens"][:][done]
        output = r["output_tokens"][:][done]
        completion_s = r["completion_ns"][:][done] * 1e-9
        # Older files have no class column: every request was online then.
        offline = (r["class"][:][done] == CLASS_OFFLINE) if "class" in r else np.zeros(done.sum(), dtype=bool)
        name = _text(f.attrs.get("experiment", "?"))
        seed = f.attrs.get("seed", "?")
        slo_ttft, slo_tpot = slo_targets(_text(f.attrs.get("config_yaml", "")))

    counts = np.bincount(status, minlength=3)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    fig.suptitle(f"greenfleet: {name} (seed {seed}) - {counts[0]:,} completed, {counts[1]:,} unfinished, "
                 f"{counts[2]:,} rejected")

    multi = bool(offline.any())

    def by_class(values, keep):
        if not multi:
            return [("completed", values[keep])]
        return [("online", values[keep & ~offline]), ("offline", values[keep & offline])]

    everyone = np.ones(ttft.size, dtype=bool)
    cdf_panel(axes[0, 0], by_class(ttft, everyone), slo_ttft, "TTFT (time to first token)")
    cdf_panel(axes[0, 1], by_class(tpot, output > 1), slo_tpot, "TPOT (time per output token after the first)")

    ax = axes[1, 0]
    if e2e.size:
        idx = np.arange(e2e.size)
        if idx.size > MAX_SCATTER_POINTS:
            idx = np.sort(np.random.default_rng(0).choice(idx, MAX_SCATTER_POINTS, replace=False))
        sc = ax.scatter(prompt[idx], e2e[idx], c=output[idx], s=3, alpha=0.5, cmap="viridis",
                        norm=matplotlib.colors.LogNorm(vmin=max(1, output.min()), vmax=max(2, output.max())))
        fig.colorbar(sc, ax=ax, label="output tokens")
        if e2e[idx].min() > 0:
            ax.set_yscale("log")
        ax.set_title(f"end-to-end latency vs prompt length\n({idx.size:,} of {e2e.size:,} completed requests shown)")
    else:
        ax.text(0.5, 0.5, "no completed requests", ha="center", va="center", transform=ax.transAxes)
        ax.set_title("end-to-end latency vs prompt length")
    ax.set_xlabel("prompt tokens")
    ax.set_ylabel("end-to-end latency (s)")
    ax.grid(True, alpha=0.3)

    ax = axes[1, 1]
    title = "requests completed per minute"
    if completion_s.size:
        span = completion_s.max()
        # One-minute bins, or finer ones (rates still per minute) when the run is shorter than ten minutes.
        width = 60.0 if span >= 600 else next((w for w in (1, 2, 5, 10, 15, 30) if span / w <= 60), 60.0)
        edges = np.arange(0.0, np.floor(span / width) + 2.0) * width
        counts_per_bin, _ = np.histogram(completion_s, bins=edges)
        ax.stairs(counts_per_bin * (60.0 / width), edges / 60.0, lw=1.5)
        ax.set_xlim(0, edges[-1] / 60.0)
        ax.set_ylim(bottom=0)
        title += f" ({width:g} s bins, last partial)"
    else:
        ax.text(0.5, 0.5, "no completed requests", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_xlabel("simulated time (min)")
    ax.set_ylabel("requests / min")
    ax.grid(True, alpha=0.3)

    fig.tight_layout()
    fig.savefig(out_path, dpi=args.dpi)
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
