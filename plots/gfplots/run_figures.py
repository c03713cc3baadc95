"""Figures of one run (an HDF5 file): carbon breakdown, per-site time series, latency CDFs with the SLO."""

import os

import matplotlib.patches as mpatches
import numpy as np

from . import figure, skip
from .data import carbon_parts, kind_colors, kind_label, short
from .overview import cdf_panel, request_counts
from .style import bottom_legend, grams_unit, new_figure, no_data, stacked_bars, time_axis

MAX_SERVER_BARS = 16  # more servers than this are drawn as one bar per (site, SKU) group


def _title(run, what):
    return f"{what}: {run.experiment} (seed {run.seed}, {os.path.basename(run.path)})"


@figure("run", "carbon", "carbon by kind (operational/embodied x GPU/host/...): total, by phase, site, server")
def carbon_breakdown(run, opts):
    c = run.carbon
    groups = [g for g in ("by_phase", "by_site", "by_server") if c is not None and g in c]
    if not groups:
        skip("no /carbon breakdown (by_phase, by_site, by_server)")
    parts = carbon_parts(c[groups[0]].keys())
    if not parts:
        skip("no operational_*_g / embodied_*_g columns in /carbon")
    colors = kind_colors(parts)
    layer_colors = [colors[(k, p)] for k, p, _ in parts]
    base = c.get("by_server", c[groups[0]])
    totals = np.array([float(np.sum(base[col])) for _, _, col in parts])
    grand = float(totals.sum())
    div, unit = grams_unit(grand)

    fig, axes = new_figure(2, 2, width=13, height=8.6)
    # (a) fleet totals by kind
    ax = axes[0, 0]
    names = [kind_label(k, p) for k, p, _ in parts]
    y = np.arange(len(parts))[::-1]
    bars = ax.barh(y, totals / div, color=layer_colors, edgecolor="white")
    for b, t in zip(bars, totals):
        share = t / grand * 100 if grand > 0 else 0
        ax.annotate(f"{t / div:,.3g} ({share:.0f}%)", (b.get_width(), b.get_y() + b.get_height() / 2),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize="small")
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.set_xlim(0, max(1e-12, totals.max() / div) * 1.35)
    ax.set_xlabel(f"carbon ({unit})")
    op = sum(t for (k, _, _), t in zip(parts, totals) if k == "operational")
    ax.set_title(f"fleet total {grand / div:,.4g} {unit} ({op / grand * 100 if grand else 0:.0f}% operational)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_axisbelow(True)

    def stacked(ax, table, labels, title):
        layers = [(kind_label(k, p), np.asarray(table[col], dtype=float) / div) for k, p, col in parts]
        stacked_bars(ax, labels, layers, layer_colors)
        ax.set_ylabel(f"carbon ({unit})")
        ax.set_title(title)

    # (b) by phase
    if "by_phase" in c:
        phases = list(c["by_phase"].get("phase", [f"phase {i}" for i in range(len(c["by_phase"][parts[0][2]]))]))
        stacked(axes[0, 1], c["by_phase"], phases, "by phase (idle: instances between steps; off: powered off)")
    else:
        no_data(axes[0, 1], "no /carbon/by_phase")
    # (c) by site
    sites = run.sites["name"] if run.sites else None
    if "by_site" in c:
        n = len(c["by_site"][parts[0][2]])
        names = list(c["by_site"].get("site", sites or [f"site {i}" for i in range(n)]))
        stacked(axes[1, 0], c["by_site"], names, "by site")
    else:
        no_data(axes[1, 0], "no /carbon/by_site")
    # (d) by server, or by (site, SKU) group for large fleets
    if "by_server" in c and run.servers is not None:
        s = run.servers
        n = len(s["sku"])
        site_names = sites or [str(i) for i in range(int(max(s["site"], default=0)) + 1)]
        if n <= MAX_SERVER_BARS:
            labels = [f"{i}: {short(s['sku'][i], 12)}\n@{site_names[s['site'][i]]}" for i in range(n)]
            table = c["by_server"]
            title = "by server (index: SKU @ site)"
        else:
            keys = sorted({(int(s["site"][i]), s["sku"][i]) for i in range(n)})
            table = {}
            for _, _, col in parts:
                table[col] = [sum(c["by_server"][col][i] for i in range(n) if (s["site"][i], s["sku"][i]) == k)
                              for k in keys]
            labels = [f"{sum(1 for i in range(n) if (s['site'][i], s['sku'][i]) == k)}x {short(k[1], 12)}"
                      f"\n@{site_names[k[0]]}" for k in keys]
            title = f"by site and SKU ({n} servers)"
        stacked(axes[1, 1], table, labels, title)
    else:
        no_data(axes[1, 1], "no /carbon/by_server")

    handles = [mpatches.Patch(color=col) for col in layer_colors]
    bottom_legend(fig, handles, names_legend(parts), ncol=len(parts), title="carbon kind")
    fig.suptitle(_title(run, "carbon breakdown"))
    return fig


def names_legend(parts):
    return [kind_label(k, p) for k, p, _ in parts]


@figure("run", "sites_timeseries", "carbon intensity, IT power and GPU utilisation per site over time")
def sites_timeseries(run, opts):
    ts = run.timeseries
    if ts is None:
        skip("no /timeseries")
    sites = ts["site_names"]
    site_of = np.asarray(ts["server_site"])
    start, end = ts["start"], ts["end"]
    div, unit = time_axis(end[-1])
    edges = np.append(start, end[-1]) / div
    util = ts.get("utilisation")
    rows = 3 if util is not None else 2
    fig, axes = new_figure(rows, 1, width=11, height=2.9 * rows + 0.6, sharex=True)
    axes = axes[:, 0]
    gpus = run.servers["gpu_count"] if run.servers is not None else np.ones(site_of.size)
    pue = run.sites["pue"] if run.sites is not None and run.sites["pue"] is not None else None
    for i, name in enumerate(sites):
        color = f"C{i % 10}"
        members = np.flatnonzero(site_of == i)
        mean_ci = float(np.average(ts["ci"][:, i], weights=end - start))
        axes[0].stairs(ts["ci"][:, i], edges, baseline=None, color=color, lw=2, label=f"{name} (mean {mean_ci:,.0f})")
        kw = sum(ts["power"][:, m] for m in members) / 1000.0 if members.size else np.zeros(start.size)
        lab = f"{name}: {members.size} server{'s' if members.size != 1 else ''}"
        if pue is not None:
            lab += f", PUE {pue[i]:g}"
        axes[1].stairs(kw, edges, baseline=None, color=color, lw=2, label=lab)
        if util is not None:
            w = np.asarray(gpus, dtype=float)[members]
            u = (util[:, members] * w).sum(axis=1) / w.sum() if members.size and w.sum() > 0 else np.zeros(start.size)
            axes[2].stairs(u * 100.0, edges, baseline=None, color=color, lw=2, label=name)
    axes[0].set_ylabel("carbon intensity\n(gCO2e/kWh)")
    axes[0].set_title("grid carbon intensity (slot mean)")
    axes[1].set_ylabel("IT power (kW)")
    axes[1].set_title("IT power, sum over the site's servers (slot mean, without PUE)")
    if util is not None:
        axes[2].set_ylabel("GPU utilisation (%)")
        axes[2].set_title("GPU busy time over all the site's GPUs (slot mean)")
        axes[2].set_ylim(0, 105)
    for ax in axes:
        ax.set_xlim(edges[0], edges[-1])
        if ax is not axes[-1] or util is None:
            ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0)
    axes[0].set_ylim(0, max(1.0, float(np.nanmax(ts["ci"]))) * 1.1)
    axes[-1].set_xlabel(f"simulated time ({unit})")
    n = start.size
    slot = ts["slot"]
    slot_txt = f"{slot / 3600:g} h" if slot >= 3600 else f"{slot / 60:g} min" if slot >= 60 else f"{slot:g} s"
    fig.suptitle(_title(run, f"per-site time series, {n} slot{'s' if n != 1 else ''} of {slot_txt}"))
    return fig


@figure("run", "latency_cdf", "TTFT and TPOT CDFs with the SLO targets and p50/p90/p99 marked")
def latency_cdf(run, opts):
    req = run.requests
    if req is None:
        skip("no /requests table (output.requests: false)")
    offline = req["offline"]
    multi = bool(offline.any())

    def by_class(values, keep):
        if not multi:
            return [("completed", values[keep])]
        return [("online", values[keep & ~offline]), ("offline", values[keep & offline])]

    fig, axes = new_figure(1, 2, width=12.5, height=4.8)
    everyone = np.ones(req["ttft"].size, dtype=bool)
    for ax, values, keep, slo, name in (
            (axes[0, 0], req["ttft"], everyone, run.slo_ttft, "TTFT (time to first token)"),
            (axes[0, 1], req["tpot"], req["output"] > 1, run.slo_tpot, "TPOT (time per output token after the first)")):
        cdf_panel(ax, by_class(values, keep), slo, name)
        v = values[keep & ~offline] if multi else values[keep]
        v = v[np.isfinite(v)]
        if v.size:
            qs = [np.percentile(v, q) for q in (50, 90, 99)]
            ax.plot(qs, [0.5, 0.9, 0.99], "o", ms=4, color="k", zorder=5,
                    label=("online " if multi else "") + "p50 / p90 / p99: "
                    + " / ".join(f"{x * 1e3:,.3g}" for x in qs) + " ms")
            if slo is not None:
                within = f"within SLO: {np.mean(v <= slo) * 100:.1f}%"
                ax.plot([], [], ls="", label=("online " if multi else "") + within)
            ax.legend(loc="lower right", fontsize="small")
        ax.set_xlabel(ax.get_xlabel() + " (log scale)" if ax.get_xscale() == "log" else ax.get_xlabel())
    done, unfinished, rejected = request_counts(req)
    att = run.summary.get("slo_attainment")
    extra = f", SLO attainment {att * 100:.1f}% of arrivals" if att is not None and np.isfinite(att) else ""
    fig.suptitle(_title(run, f"latency CDFs of {done:,} completed requests{extra}"))
    return fig

