#!/usr/bin/env python3
"""Overview figure of a greenfleet output file: request latencies and, when present, power and carbon over time.

Reads an HDF5 file written by `greenfleet run` (layout: docs/OUTPUT.md) and writes one PNG: TTFT and TPOT CDFs
with the SLO targets, end-to-end latency against prompt length and completions per minute from /requests, and
power per server and operational carbon per slot from /timeseries. The figure is drawn by
gfplots/overview.py, the `overview` figure of plots/greenfleet_plots.py, which draws it with all the others.
Needs only the Debian packages python3-h5py and python3-matplotlib.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gfplots.needs import require  # noqa: E402

require("plots/plot_requests.py")
from gfplots import Skip  # noqa: E402
from gfplots.data import Run  # noqa: E402
from gfplots.overview import overview_figure  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Plot TTFT and TPOT CDFs, end-to-end latency against prompt length and completions per "
        "minute from /requests, and power and operational carbon over time from /timeseries, of a greenfleet "
        "HDF5 output.",
        epilog="example: /usr/bin/python3 plots/plot_requests.py out/quickstart.h5 -o out/quickstart.png "
        "(plots/greenfleet_plots.py draws this figure and the others)",
    )
    parser.add_argument("h5", help="greenfleet output file (written by `greenfleet run`)")
    parser.add_argument("-o", "--output", help="PNG to write (default: the input path with .png)")
    parser.add_argument("--dpi", type=int, default=120, help="resolution of the PNG (default: 120)")
    args = parser.parse_args(argv)
    out_path = args.output or re.sub(r"\.h5$", "", args.h5) + ".png"

    try:
        run = Run(args.h5)
    except OSError as e:
        print(f"error: {args.h5}: cannot open as an HDF5 file ({e})", file=sys.stderr)
        return 2
    try:
        fig = overview_figure(run)
    except Skip as e:
        print(f"error: {args.h5}: {e}", file=sys.stderr)
        return 2
    fig.savefig(out_path, dpi=args.dpi)
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
