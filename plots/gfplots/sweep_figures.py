"""Figures of a sweep (index.csv): metrics against a swept key, one line per value of another, replicas
averaged with a band; heatmaps of a metric (or its change against a baseline) over two swept keys."""

import math

import numpy as np

from . import figure, skip
from .data import finite_float, key_label, metric_label, scaled, short, t_quantile_975
from .style import bottom_legend, new_figure

DEFAULT_METRICS = ("carbon_kg", "g_per_1k_tokens", "ttft_p90_s", "slo_attainment")
MAX_FACETS = 6


def _metrics(sweep, opts, limit=4):
    available = sweep.numeric_metrics()
    if getattr(opts, "metric", None):
        wanted = [m.strip() for m in opts.metric.split(",") if m.strip()]
        missing = [m for m in wanted if m not in available]
        if missing:
            skip(f"metric(s) {', '.join(missing)} not in {sweep.path} (has: {', '.join(available)})")
        return wanted
    chosen = [m for m in DEFAULT_METRICS if m in available]
    return (chosen or [m for m in available if m != "wall_seconds"])[:limit]


def _scale(sweep, metric):
    """(factor, label): the unit `scaled` picks for the metric's values over the whole sweep."""
    raw = np.array([finite_float(r.get(metric)) for r in sweep.rows])
    raw = raw[np.isfinite(raw) & (raw != 0)]
    values, label = scaled(metric, raw if raw.size else [1.0], metric_label(metric))
    return (float(values[0] / raw[0]) if raw.size else 1.0), label


def _check_key(sweep, key, what):
    if key not in sweep.keys:
        skip(f"{what} {key!r} is not a swept key of {sweep.path} (swept: {', '.join(sweep.keys)})")


def _key_text(key, value):
    return f"{key} = {short(value, 24)}"


def _averaged_note(sweep, used):
    rest = [k for k in sweep.dims() if k not in used]
    reps = len({r.get("replica") for r in sweep.rows})
    parts = []
    if reps > 1:
        parts.append(f"{reps} replicas")
    if rest:
        parts.append(", ".join(rest))
    return ("mean over " + " and ".join(parts)) if parts else "one replica"


@figure("sweep", "lines", "metrics against a numeric swept key, one line per value of another, with a band")
def sweep_lines(sweep, opts):
    dims = sweep.dims()
    if not dims:
        skip("no swept key takes more than one value")
    if opts.x:
        _check_key(sweep, opts.x, "--x")
        x_key = opts.x
    else:
        numeric = [k for k in dims if sweep.numeric(k)]
        x_key = max(numeric or dims, key=lambda k: len(sweep.values(k)))
    if opts.line:
        _check_key(sweep, opts.line, "--line")
        line_key = opts.line
    else:
        rest = [k for k in dims if k != x_key]
        line_key = min(rest, key=lambda k: len(sweep.values(k))) if rest else None
    metrics = _metrics(sweep, opts)
    xs = sweep.values(x_key)
    numeric_x = sweep.numeric(x_key)
    xpos = np.array([float(v) for v in xs]) if numeric_x else np.arange(len(xs), dtype=float)
    lines = sweep.values(line_key) if line_key else [None]
    band = getattr(opts, "band", "minmax")

    cols = 1 if len(metrics) == 1 else 2
    rows = math.ceil(len(metrics) / cols)
    fig, axes = new_figure(rows, cols, width=6.4 * cols + 1.6, height=4.2 * rows + 0.8)
    banded = False
    for ax, metric in zip(axes.flat, metrics):
        by = [x_key] + ([line_key] if line_key else [])
        groups = sweep.aggregate(metric, by)
        factor, label = _scale(sweep, metric)
        for j, lv in enumerate(lines):
            mean, lo, hi = [], [], []
            for xv in xs:
                v = groups.get((xv, lv) if line_key else (xv,))
                if v is None or v.size == 0:
                    mean.append(np.nan), lo.append(np.nan), hi.append(np.nan)
                    continue
                m = float(v.mean())
                mean.append(m)
                if band == "ci" and v.size > 1:
                    h = t_quantile_975(v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size)
                    lo.append(m - h), hi.append(m + h)
                else:
                    lo.append(float(v.min())), hi.append(float(v.max()))
            mean, lo, hi = (np.array(a) * factor for a in (mean, lo, hi))
            color = f"C{j % 10}"
            name = _key_text(line_key, lv) if line_key else metric_label(metric)
            ax.plot(xpos, mean, "o-", color=color, lw=1.8, ms=4, label=name)
            if band != "none" and np.any(hi > lo):
                ax.fill_between(xpos, lo, hi, color=color, alpha=0.18, lw=0)
                banded = True
        ax.set_title(short(label, 50))
        ax.set_ylabel(label)
        ax.set_xlabel(key_label(x_key))
        if not numeric_x:
            ax.set_xlim(-0.5, len(xs) - 0.5)
            ax.set_xticks(xpos)
            ax.set_xticklabels([short(v, 12) for v in xs], rotation=30 if len(xs) > 4 else 0, ha="right"
                               if len(xs) > 4 else "center")
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    handles, names = axes.flat[0].get_legend_handles_labels()
    band_text = {"minmax": "band: min to max", "ci": "band: 95% t-interval of the mean", "none": ""}[band]
    if band_text and banded:
        import matplotlib.patches as mpatches
        handles.append(mpatches.Patch(color="0.5", alpha=0.3))
        names.append(band_text + " over replicas" + (" and averaged keys" if len(dims) > 2 else ""))
    bottom_legend(fig, handles, names, ncol=min(4, len(handles)), fontsize="small")
    note = _averaged_note(sweep, [x_key, line_key])
    failed = f", {sweep.failed} failed row{'s' if sweep.failed != 1 else ''} left out" if sweep.failed else ""
    fig.suptitle(f"sweep {sweep.name}: metrics against {x_key}" + (f", one line per {line_key}" if line_key else "")
                 + f"\n({note}{failed})")
    return fig


@figure("sweep", "heatmap", "a metric, or its change (%) against --baseline KEY=VALUE, over two swept keys")
def sweep_heatmap(sweep, opts):
    dims = sweep.dims()
    base_key = base_value = None
    if getattr(opts, "baseline", None):
        if "=" not in opts.baseline:
            skip("--baseline wants KEY=VALUE")
        base_key, base_value = opts.baseline.split("=", 1)
        _check_key(sweep, base_key, "--baseline")
        if base_value not in sweep.values(base_key):
            skip(f"--baseline: {base_key} never takes the value {base_value!r} "
                 f"(values: {', '.join(sweep.values(base_key))})")
    candidates = [k for k in dims if k != base_key]
    if opts.heat:
        keys = [k.strip() for k in opts.heat.split(",")]
        if len(keys) != 2:
            skip("--heat wants X_KEY,Y_KEY")
        for k in keys:
            _check_key(sweep, k, "--heat")
        x_key, y_key = keys
    else:
        if len(candidates) < 2:
            skip("a heatmap needs two swept keys with several values each"
                 + (" besides the baseline key" if base_key else ""))
        ranked = sorted(candidates, key=lambda k: (-len(sweep.values(k)), not sweep.numeric(k)))
        x_key, y_key = ranked[0], ranked[1]
    metric = _metrics(sweep, opts, limit=1)[0]
    if base_key:
        facet_key = base_key
        facets = [v for v in sweep.values(base_key) if v != base_value]
    else:
        rest = [k for k in candidates if k not in (x_key, y_key)]
        facet_key = min(rest, key=lambda k: len(sweep.values(k))) if rest else None
        facets = sweep.values(facet_key) if facet_key else [None]
    facets = facets[:MAX_FACETS]
    xs, ys = sweep.values(x_key), sweep.values(y_key)
    by = [x_key, y_key] + ([facet_key] if facet_key else [])
    groups = sweep.aggregate(metric, by)
    factor, label = _scale(sweep, metric)

    grids = []
    for fv in facets:
        grid = np.full((len(ys), len(xs)), np.nan)
        for iy, yv in enumerate(ys):
            for ix, xv in enumerate(xs):
                key = (xv, yv) + ((fv,) if facet_key else ())
                v = groups.get(key)
                if v is None or not v.size:
                    continue
                if base_key:
                    b = groups.get((xv, yv, base_value))
                    if b is not None and b.size and b.mean() != 0:
                        grid[iy, ix] = (v.mean() - b.mean()) / abs(b.mean()) * 100.0
                else:
                    grid[iy, ix] = v.mean() * factor
        grids.append(grid)
    if all(np.isnan(g).all() for g in grids):
        skip(f"no {metric} values over {x_key} x {y_key}")

    cols = min(3, len(facets))
    rows = math.ceil(len(facets) / cols)
    fig, axes = new_figure(rows, cols, width=max(5.6, 0.9 * len(xs) + 2.8) * cols + 1.2,
                           height=max(3.8, 0.5 * len(ys) + 2.4) * rows + 0.8)
    finite = np.concatenate([g[np.isfinite(g)] for g in grids])
    if base_key:
        lim = max(1e-9, float(np.abs(finite).max()))
        cmap, vmin, vmax = "RdBu_r", -lim, lim
        cbar_label = f"change against {short(base_value, 24)} (%)"
    else:
        cmap, vmin, vmax = "viridis", float(finite.min()), float(finite.max())
        cbar_label = label
    im = None
    for ax, fv, grid in zip(axes.flat, facets, grids):
        im = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1, origin="lower",
                       aspect="auto")
        for iy in range(len(ys)):
            for ix in range(len(xs)):
                v = grid[iy, ix]
                if not np.isfinite(v):
                    continue
                frac = (v - vmin) / (vmax - vmin) if vmax > vmin else 0.5
                dark = frac < 0.45 if cmap == "viridis" else abs(frac - 0.5) > 0.25
                txt = f"{v:+.1f}%" if base_key else f"{v:.3g}"
                ax.text(ix, iy, txt, ha="center", va="center", fontsize="small",
                        color="white" if dark else "black")
        ax.set_xticks(np.arange(len(xs)))
        ax.set_xticklabels([short(v, 10) for v in xs], rotation=30 if len(xs) > 6 else 0,
                           ha="right" if len(xs) > 6 else "center")
        ax.set_yticks(np.arange(len(ys)))
        ax.set_yticklabels([short(v, 14) for v in ys])
        ax.set_xlabel(key_label(x_key))
        ax.set_ylabel(key_label(y_key))
        if facet_key:
            ax.set_title(_key_text(facet_key, fv))
    for ax in list(axes.flat)[len(facets):]:
        ax.set_visible(False)
    fig.colorbar(im, ax=axes.ravel().tolist(), label=short(cbar_label, 70), shrink=0.9)
    note = _averaged_note(sweep, [x_key, y_key, facet_key])
    if base_key:
        what = f"change (%) in {metric_label(metric).split(' (')[0]} against {base_key} = {short(base_value, 24)}"
    else:
        what = label
    fig.suptitle(f"sweep {sweep.name}: {what}\nover {x_key} x {y_key} ({note})")
    return fig
