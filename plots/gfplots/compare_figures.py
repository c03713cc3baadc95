"""Figures of a comparison (`greenfleet compare --format json`): A/B bars with confidence intervals, and the
relative change of every metric against the baseline."""

import math

import matplotlib.patches as mpatches
import numpy as np
from matplotlib.lines import Line2D

from . import figure, skip
from .data import scaled, short
from .style import bottom_legend, category_ticks, new_figure

MAX_PANELS = 16


def _ci_caption(cmp):
    """'95% CI of the difference to the baseline (block-bootstrap)' from the diffs present."""
    methods, levels = [], set()
    for m in cmp["metrics"]:
        for d in m["diffs"]:
            if d and math.isfinite(d["low"]) and math.isfinite(d["high"]):
                levels.add(d["level"])
                if d["method"] and d["method"] not in methods:
                    methods.append(d["method"])
    if not levels:
        return None
    level = "/".join(f"{lv * 100:g}%" for lv in sorted(levels))
    return f"{level} CI of the difference to the baseline" + (f" ({', '.join(methods)})" if methods else "")


def _config_caption(cmp, width=110, lines=3):
    """One line per configuration difference ('router.name: a vs b'), at most `lines`."""
    parts = []
    for d in cmp["config_differences"][:lines]:
        values = d.get("values") or []
        parts.append(short(f"{d.get('key', '?')}: " + " vs ".join(short(v, 28) for v in values), width))
    more = len(cmp["config_differences"]) - lines
    if more > 0:
        parts[-1] += f" (and {more} more difference{'s' if more > 1 else ''})"
    return "\n".join(parts)


def _title(cmp):
    base = cmp["labels"][cmp["baseline"]]
    t = f"comparison {short(cmp['path'].split('/')[-1], 40)}: {len(cmp['runs'])} runs, baseline {base}"
    cfg = _config_caption(cmp)
    return t + (f"\n{cfg}" if cfg else "")


def _run_colors(cmp):
    out, j = [], 0
    for i in range(len(cmp["runs"])):
        if i == cmp["baseline"]:
            out.append("0.65")
        else:
            out.append(f"C{j % 10}")
            j += 1
    return out


@figure("compare", "ab_bars", "each metric's value per run, with the CI of the difference to the baseline")
def ab_bars(cmp, opts):
    metrics = [m for m in cmp["metrics"] if any(math.isfinite(v) for v in m["values"])]
    if not metrics:
        skip("no metric with a value")
    metrics = metrics[:MAX_PANELS]
    n = len(metrics)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    runs = cmp["labels"]
    fig, axes = new_figure(rows, cols, width=max(6.0, 3.6 * cols, 1.1 * len(runs) * cols), height=3.5 * rows + 1.0)
    colors = _run_colors(cmp)
    b = cmp["baseline"]
    for ax, m in zip(axes.flat, metrics):
        raw = np.array(m["values"], dtype=float)
        values, label = scaled(m["key"], raw, m["label"])
        k = values[np.isfinite(raw) & (raw != 0)][0] / raw[np.isfinite(raw) & (raw != 0)][0] \
            if (np.isfinite(raw) & (raw != 0)).any() else 1.0
        x = np.arange(len(runs))
        bars = ax.bar(x, np.nan_to_num(values), 0.65, color=colors, edgecolor="k", lw=0.4)
        bars[b].set_hatch("//")
        base = raw[b]
        tops = list(values[np.isfinite(values)])
        for i in np.flatnonzero(~np.isfinite(values)):
            ax.annotate("n/a", (i, 0), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                        color="0.4", fontsize="small")
        for i, d in enumerate(m["diffs"]):
            if i == b or d is None:
                continue
            lo, hi = (base + d["low"]) * k, (base + d["high"]) * k
            v = values[i]
            if math.isfinite(lo) and math.isfinite(hi) and math.isfinite(v):
                ax.errorbar([i], [v], yerr=[[max(0.0, v - lo)], [max(0.0, hi - v)]], fmt="none", ecolor="k",
                            capsize=5, lw=1.2)
                tops.append(hi)
            if math.isfinite(d["rel"]):
                sig = ""
                if math.isfinite(d["rel_low"]) and math.isfinite(d["rel_high"]):
                    sig = "*" if d["rel_low"] > 0 or d["rel_high"] < 0 else ""
                top = max(v, hi * 1.0 if math.isfinite(hi) else v)
                ax.annotate(f"{d['rel'] * 100:+.1f}%{sig}", (i, top), xytext=(0, 3), textcoords="offset points",
                            ha="center", va="bottom", fontsize="small", fontweight="bold" if sig else "normal")
        lo_y = min(0.0, min(tops, default=0.0))
        hi_y = max(tops, default=1.0)
        ax.set_ylim(lo_y * 1.2, hi_y * 1.22 if hi_y > 0 else 1.0)
        category_ticks(ax, [short(r, 16) for r in runs], max_chars=10)
        ax.set_title(short(label, 44), fontsize="medium")
        ax.set_ylabel(label.split("(")[-1].rstrip(")") if "(" in label else "")
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles = [mpatches.Patch(facecolor="0.65", edgecolor="k", hatch="//", label=f"baseline ({runs[b]})")]
    handles += [mpatches.Patch(color=c, label=r) for i, (r, c) in enumerate(zip(runs, colors)) if i != b]
    caption = _ci_caption(cmp)
    if caption:
        handles.append(Line2D([], [], color="k", marker="_", ms=10, lw=1.2, label="error bar: " + caption))
    bottom_legend(fig, handles, ncol=len(handles), fontsize="small",
                  title="numbers above the bars: change against the baseline (* where the CI excludes 0)",
                  title_fontsize="small")
    fig.suptitle(_title(cmp))
    return fig


@figure("compare", "ab_change", "relative change of every metric against the baseline, with its CI")
def ab_change(cmp, opts):
    b = cmp["baseline"]
    rows = [m for m in cmp["metrics"] if any(d and math.isfinite(d["rel"]) for d in m["diffs"])]
    if not rows:
        skip("no relative differences to the baseline")
    others = [i for i in range(len(cmp["runs"])) if i != b]
    colors = _run_colors(cmp)
    height = max(3.0, 1.1 + 0.42 * len(rows) * max(1, len(others) * 0.6))
    fig, axes = new_figure(1, 1, width=10.5, height=height)
    ax = axes[0, 0]
    y = np.arange(len(rows))[::-1].astype(float)
    step = 0.7 / max(1, len(others))
    for j, i in enumerate(others):
        yy = y + 0.35 - step * (j + 0.5) if len(others) > 1 else y
        for yk, m in zip(yy, rows):
            d = m["diffs"][i]
            if not d or not math.isfinite(d["rel"]):
                continue
            r = d["rel"] * 100
            lo, hi = d["rel_low"] * 100, d["rel_high"] * 100
            has_ci = math.isfinite(lo) and math.isfinite(hi)
            sig = has_ci and (lo > 0 or hi < 0)
            ax.errorbar([r], [yk], xerr=[[max(0, r - lo)], [max(0, hi - r)]] if has_ci else None, fmt="o",
                        color=colors[i], mfc=colors[i] if sig or not has_ci else "white", capsize=4, ms=6)
            txt = f"{r:+.1f}%" + (f" [{lo:+.1f}, {hi:+.1f}]" if has_ci else "")
            ax.annotate(txt, (hi if has_ci else r, yk), xytext=(6, 0), textcoords="offset points", va="center",
                        fontsize="x-small", color=colors[i])
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([short(m["label"], 40) for m in rows])
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo - 0.05 * (hi - lo), hi + 0.35 * (hi - lo))  # room for the value labels
    ax.set_xlabel(f"change against baseline {cmp['labels'][b]} (%)")
    ax.grid(True, axis="x", alpha=0.3)
    handles = [Line2D([], [], color=colors[i], marker="o", ls="", label=cmp["labels"][i]) for i in others]
    caption = _ci_caption(cmp)
    if caption:
        handles.append(Line2D([], [], color="k", marker="|", ls="-", label="whiskers: " + caption))
        handles.append(Line2D([], [], color="k", marker="o", mfc="white", ls="", label="hollow: CI includes 0"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.08 - 0.25 / max(1, len(rows))),
              ncol=2, fontsize="small", frameon=False)
    fig.suptitle(_title(cmp))
    return fig
