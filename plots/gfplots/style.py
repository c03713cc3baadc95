"""Shared drawing helpers: figures with constrained layout, readable category ticks, stacked bars, units."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def new_figure(rows, cols, width=None, height=None, **kw):
    """A figure with constrained layout (no overlapping labels) and an array of axes."""
    fig, axes = plt.subplots(rows, cols, figsize=(width or 5.2 * cols, height or 3.9 * rows), squeeze=False,
                             layout="constrained", **kw)
    return fig, axes


def category_ticks(ax, labels, max_chars=14):
    """Category labels on the x axis, rotated when they are long or many."""
    ax.set_xticks(np.arange(len(labels)))
    longest = max((max(len(p) for p in str(lab).split("\n")) for lab in labels), default=0)
    if longest * len(labels) > 4 * max_chars:
        ax.set_xticklabels(labels, rotation=30, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticklabels(labels)


def grams_unit(total_g):
    """(divisor, unit) to show gram amounts: g, kg or t."""
    if total_g >= 5e6:
        return 1e6, "tCO2e"
    if total_g >= 5e3:
        return 1e3, "kgCO2e"
    if 0 < total_g < 0.5:
        return 1e-3, "mgCO2e"
    return 1.0, "gCO2e"


def stacked_bars(ax, labels, layers, colors, width=0.7, totals=True, fmt="{:,.3g}"):
    """layers: [(legend label, values)] stacked bottom-up; writes each bar's total above it."""
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for (name, values), color in zip(layers, colors):
        values = np.nan_to_num(np.asarray(values, dtype=float))
        ax.bar(x, values, width, bottom=bottom, label=name, color=color, edgecolor="white", lw=0.5)
        bottom += values
    if totals:
        for xi, t in zip(x, bottom):
            ax.annotate(fmt.format(t), (xi, t), xytext=(0, 2), textcoords="offset points", ha="center",
                        va="bottom", fontsize="small")
        ax.set_ylim(0, max(1e-12, bottom.max()) * 1.15)
    category_ticks(ax, labels)
    extra = max(0, 3 - len(labels)) / 2  # one or two bars keep a bar's width, not the whole panel
    ax.set_xlim(-0.5 - extra, len(labels) - 0.5 + extra)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return bottom


def value_labels(ax, bars, fmt="{:,.3g}", fontsize="x-small"):
    for b in bars:
        h = b.get_height()
        if np.isfinite(h):
            ax.annotate(fmt.format(h), (b.get_x() + b.get_width() / 2, h), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=fontsize)


def no_data(ax, message="no data"):
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def time_axis(end_s):
    """(divisor, unit) for a simulated-time axis: minutes, or hours for runs of three hours or more."""
    return (3600.0, "h") if end_s >= 3 * 3600 else (60.0, "min")


def bottom_legend(fig, handles, labels=None, ncol=4, **kw):
    """A figure legend hanging below the axes; the entry point saves with bbox_inches='tight', which takes it
    in (matplotlib 3.6 has no loc='outside ...' for constrained layout)."""
    if labels is None:
        labels = [h.get_label() for h in handles]
    return fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol,
                      frameon=False, **kw)
