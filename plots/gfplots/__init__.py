"""greenfleet figures: a registry of figure functions by input kind, used by plots/greenfleet_plots.py.

Input kinds and what a figure function of that kind receives (readers in gfplots/data.py):

  "run"      one HDF5 output file          -> data.Run
  "runs"     two or more HDF5 output files  -> list of data.Run
  "compare"  `greenfleet compare --format json` output -> dict from data.load_compare
  "sweep"    a sweep's index.csv            -> data.Sweep

A figure function has the signature `fn(data, opts) -> matplotlib.figure.Figure | None`, where `opts` is the
entry point's argparse namespace (metric, x, line, heat, baseline, band, ...). Returning None means "this input
has nothing for this figure" (say why with `skip(...)`); the entry point then writes no file for it.

To add figures (GreenLLM, EcoServe, ...), put a module in this package; every module here is imported when the
entry point starts, and registering is one decorator:

    from gfplots import figure

    @figure("run", "greenllm_reuse", "embodied carbon saved by reusing old GPUs")
    def reuse(run, opts):
        ...
        return fig

The figure is then written as DIR/<input name>_greenllm_reuse.png, listed by `--list`, and selectable with
`--only greenllm_reuse`. Names must be unique within a kind. A file elsewhere can be tried first with
`greenfleet_plots.py --plugin my_figures.py ...`.
"""

import importlib
import importlib.util
import os
import pkgutil

KINDS = ("run", "runs", "compare", "sweep")

# FIGURES[kind][name] = (function, description), in registration order (modules import alphabetically).
FIGURES = {kind: {} for kind in KINDS}


class Skip(Exception):
    """Raised by a figure function (via skip()) when its input lacks what the figure needs."""


def skip(reason):
    raise Skip(reason)


def figure(kind, name, description=""):
    """Decorator: register `fn` as figure `name` for inputs of `kind`."""
    if kind not in FIGURES:
        raise ValueError(f"unknown input kind {kind!r} (one of {', '.join(KINDS)})")

    def register(fn):
        if name in FIGURES[kind] and FIGURES[kind][name][0] is not fn:
            raise ValueError(f"figure {kind}/{name} registered twice")
        FIGURES[kind][name] = (fn, description or (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return register


def load_all():
    """Import every module of this package so that their @figure decorators run. Returns FIGURES."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}")
    return FIGURES


def load_file(path):
    """Import one Python file outside the package (the entry point's --plugin) so that its figures register."""
    name = "gfplots_plugin_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
