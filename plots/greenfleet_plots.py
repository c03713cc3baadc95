#!/usr/bin/env python3
"""Draw every greenfleet figure that fits the given inputs, one PNG per figure.

    /usr/bin/python3 plots/greenfleet_plots.py INPUT... -o DIR

Each INPUT is classified by its content:

  - one HDF5 output of `greenfleet run`              -> "run" figures (overview, carbon, sites_timeseries, ...)
  - two or more HDF5 outputs                          -> "runs" figures (side-by-side metrics, overlaid CDFs);
                                                         with --per-run also the "run" figures of each
  - a JSON from `greenfleet compare --format json`    -> "compare" figures (A/B bars with CI, relative changes)
  - a sweep's index.csv (or the folder holding it)    -> "sweep" figures (metric lines, heatmaps)

Figures come from the registry in plots/gfplots/__init__.py (FIGURES[kind][name]); `--list` prints it. Files
are named DIR/<input name>_<figure>.png (DIR/runs_<figure>.png for several runs). Exit status: 0 when every
figure that applies was drawn, 1 when one failed, 2 for unreadable inputs or bad options, 3 when this Python
lacks numpy, h5py or matplotlib (use Debian's /usr/bin/python3).
"""

import argparse
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gfplots.needs import require  # noqa: E402

require("plots/greenfleet_plots.py")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import gfplots  # noqa: E402
from gfplots import FIGURES, KINDS, Skip  # noqa: E402
from gfplots.data import Run, load_compare, load_sweep  # noqa: E402

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def classify(path):
    """'h5', 'compare' or 'sweep' for one input path (a folder means its index.csv, or its *.h5 files)."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "index.csv")):
            return [("sweep", os.path.join(path, "index.csv"))]
        h5s = sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".h5"))
        if not h5s:
            raise ValueError("a folder without index.csv or *.h5 files")
        return [("h5", p) for p in h5s]
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(HDF5_SIGNATURE):
        return [("h5", path)]
    stripped = head.lstrip()
    if stripped.startswith(b"{") or path.endswith(".json"):
        return [("compare", path)]
    if path.endswith(".csv") or stripped.startswith(b"point,"):
        return [("sweep", path)]
    raise ValueError("neither an HDF5 file, a comparison JSON nor a sweep index.csv")


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Draw the greenfleet figures that fit the inputs: one run (.h5), several runs (.h5 ...), a "
        "comparison (`greenfleet compare --format json`) or a sweep (index.csv).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plots/greenfleet_plots.py out/quickstart.h5 -o out/fig\n"
        "  plots/greenfleet_plots.py out/rr.h5 out/lot.h5 --labels round-robin,least-tokens -o out/fig\n"
        "  plots/greenfleet_plots.py out/ab.json -o out/fig\n"
        "  plots/greenfleet_plots.py out/sweep/index.csv --metric carbon_kg --x workload.synthetic.rate\n"
        "  plots/greenfleet_plots.py out/sweep --heat carbon.lifetimes.gpu,sites.0.carbon_intensity "
        "--baseline router.name=round_robin\n"
        "  plots/greenfleet_plots.py --list")
    p.add_argument("inputs", nargs="*", help="HDF5 outputs, comparison JSON files, sweep index.csv files or folders")
    p.add_argument("-o", "--outdir", help="folder for the figures (created; default: the first input's folder)")
    p.add_argument("--only", help="comma-separated figure names to draw (default: all that apply)")
    p.add_argument("--skip", help="comma-separated figure names not to draw")
    p.add_argument("--list", action="store_true", help="list the registered figures by input kind and exit")
    p.add_argument("--per-run", action="store_true", help="with several runs, also draw each run's own figures")
    p.add_argument("--labels", help="comma-separated labels of the runs (default: file names)")
    p.add_argument("--metric", help="sweep (and runs): comma-separated summary keys to plot "
                   "(default: carbon_kg, g_per_1k_tokens, ttft_p90_s, slo_attainment where present)")
    p.add_argument("--x", help="sweep lines: the numeric swept key on the x axis (default: the one with most values)")
    p.add_argument("--line", help="sweep lines: the swept key giving one line per value (default: the other key "
                   "with fewest values)")
    p.add_argument("--heat", help="sweep heatmap: X_KEY,Y_KEY (default: the two swept keys with most values)")
    p.add_argument("--baseline", help="sweep heatmap: KEY=VALUE; show the change (%%) against the rows with that value")
    p.add_argument("--band", choices=("minmax", "ci", "none"), default="minmax",
                   help="sweep lines: band over replicas, min-max or 95%% t-interval of the mean (default minmax)")
    p.add_argument("--format", default="png", choices=("png", "pdf", "svg"), help="file format (default png)")
    p.add_argument("--dpi", type=int, default=120, help="resolution of PNGs (default 120)")
    p.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                   help="also import this Python file, whose @gfplots.figure functions join the registry "
                   "(repeatable; for trying figures before they move into plots/gfplots/)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    return p.parse_intermixed_args(argv)  # inputs may come before and after options


def listing():
    lines = []
    for kind in KINDS:
        lines.append(f"{kind}:")
        for name, (_, desc) in FIGURES[kind].items():
            lines.append(f"  {name:18s} {desc}")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    gfplots.load_all()
    for path in args.plugin:
        try:
            gfplots.load_file(path)
        except Exception as e:  # noqa: BLE001 (any error in the plugin itself)
            print(f"error: --plugin {path}: {e}", file=sys.stderr)
            return 2
    if args.list:
        print(listing())
        return 0
    if not args.inputs:
        print("error: no inputs (see --help)", file=sys.stderr)
        return 2
    only = set(filter(None, (args.only or "").split(",")))
    unknown = only - {n for k in KINDS for n in FIGURES[k]}
    if unknown:
        print(f"error: --only: unknown figure(s) {', '.join(sorted(unknown))}\n{listing()}", file=sys.stderr)
        return 2
    skipped = set(filter(None, (args.skip or "").split(",")))

    h5s, jobs = [], []  # jobs: (kind, data, name prefix)
    for path in args.inputs:
        try:
            for kind, p in classify(path):
                if kind == "h5":
                    h5s.append(p)
                elif kind == "compare":
                    jobs.append(("compare", load_compare(p), os.path.splitext(os.path.basename(p))[0]))
                else:
                    sweep = load_sweep(p)
                    jobs.append(("sweep", sweep, sweep.name))
        except (OSError, ValueError, json.JSONDecodeError, UnicodeDecodeError) as e:
            print(f"error: {path}: {e}", file=sys.stderr)
            return 2
    labels = args.labels.split(",") if args.labels else []
    if labels and len(labels) != len(h5s):
        print(f"error: --labels has {len(labels)} names for {len(h5s)} runs", file=sys.stderr)
        return 2
    runs = []
    for i, p in enumerate(h5s):
        try:
            runs.append(Run(p, label=labels[i] if labels else None))
        except OSError as e:
            print(f"error: {p}: cannot open as an HDF5 file ({e})", file=sys.stderr)
            return 2
    if not labels and len({r.label for r in runs}) < len(runs):  # same file names in different folders
        for r in runs:
            r.label = os.path.relpath(os.path.splitext(r.path)[0])
    if len(runs) == 1 or args.per_run:
        jobs = [("run", r, r.label) for r in runs] + jobs
    if len(runs) > 1:
        jobs = [("runs", runs, "runs")] + jobs

    outdir = args.outdir or os.path.dirname(os.path.abspath(args.inputs[0] if not os.path.isdir(args.inputs[0])
                                                           else os.path.join(args.inputs[0], "x")))
    os.makedirs(outdir, exist_ok=True)
    failures = written = 0
    for kind, data, prefix in jobs:
        for name, (fn, _) in FIGURES[kind].items():
            if (only and name not in only) or name in skipped:
                continue
            try:
                fig = fn(data, args)
            except Skip as e:
                if not args.quiet:
                    print(f"skipped {prefix}_{name}: {e}")
                continue
            except Exception:  # one broken figure must not cost the others
                print(f"error: figure {kind}/{name} of {prefix} failed:\n{traceback.format_exc()}", file=sys.stderr)
                failures += 1
                plt.close("all")
                continue
            if fig is None:
                continue
            out = os.path.join(outdir, f"{prefix.replace(os.sep, '_')}_{name}.{args.format}")
            fig.savefig(out, dpi=args.dpi, bbox_inches="tight", pad_inches=0.15)
            plt.close(fig)
            written += 1
            if not args.quiet:
                print(f"wrote {out}")
    if written == 0 and failures == 0:
        print("error: no figure applies to these inputs", file=sys.stderr)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
