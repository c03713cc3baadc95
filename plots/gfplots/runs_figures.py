"""Figures of several runs side by side: key /summary metrics as bars, TTFT/TPOT CDFs overlaid."""

import re

import numpy as np

from . import figure, skip
from .data import config_differences, kind_colors, kind_label, short
from .overview import cdf_panel
from .style import category_ticks, new_figure, no_data, stacked_bars, value_labels


def run_labels(runs):
    """Tick labels: the run's label, plus the values of up to two configuration keys that tell the runs apart."""
    diffs = config_differences([r.config for r in runs])
    # A component's parameters follow its name (router.name -> router.params.*): show the name only.
    named = [k[: -len("name")] for k, _ in diffs if k.endswith(".name")]
    main = [d for d in diffs if not any(d[0].startswith(p + "params.") for p in named)]
    shown = [d for d in main if d[0] != "seed"][:2] or main[:2]
    labels = []
    for i, r in enumerate(runs):
        extra = [short(values[i], 22) for _, values in shown if short(values[i], 22) not in r.label]
        labels.append("\n".join([r.label] + extra))
    return labels, main


def _diff_text(diffs):
    if not diffs:
        return "same configuration"
    keys = [k for k, _ in diffs]
    more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
    return "runs differ in " + ", ".join(keys[:3]) + more


def _summary_parts(runs):
    """[(kind, part, key)] for the carbon keys `operational_<part>_kg` / `embodied_<part>_kg` of the summaries."""
    keys = []
    for r in runs:
        keys += [k for k in r.summary if k not in keys]
    found = []
    for k in keys:
        m = re.fullmatch(r"(operational|embodied)_([a-z0-9]+)_kg", k)
        if m:
            found.append((m.group(1), m.group(2), k))
    order = {"gpu": 0, "host": 1, "network": 2}
    found.sort(key=lambda t: (t[0] != "operational", order.get(t[1], 9), t[1]))
    return found


def _get(runs, key):
    return np.array([r.summary.get(key, np.nan) for r in runs], dtype=float)


def _grouped(ax, labels, series, ylabel, title):
    """series: [(legend, values)] drawn as grouped bars with their values on top."""
    series = [(n, v) for n, v in series if np.isfinite(v).any()]
    if not series:
        no_data(ax, "not in these summaries")
        ax.set_title(title)
        return
    x = np.arange(len(labels))
    width = 0.8 / len(series)
    for j, (name, values) in enumerate(series):
        bars = ax.bar(x - 0.4 + width * (j + 0.5), values, width, label=name, color=f"C{j}")
        value_labels(ax, bars)
    top = np.nanmax([np.nanmax(v) for _, v in series])
    ax.set_ylim(0, max(1e-12, top) * 1.18)
    category_ticks(ax, labels)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if len(series) > 1:
        ax.legend(fontsize="small", loc="upper left", ncol=len(series))


@figure("runs", "metrics", "carbon by kind, energy, TTFT/TPOT p50/p90, SLO attainment, gCO2e/1k tokens per run")
def runs_metrics(runs, opts):
    if not any(r.summary for r in runs):
        skip("no /summary in these files")
    labels, diffs = run_labels(runs)
    fig, axes = new_figure(2, 3, width=min(30, max(15, 0.8 * len(runs) * 3 + 4)), height=9.2)

    # carbon by kind, stacked
    ax = axes[0, 0]
    parts = _summary_parts(runs)
    if parts:
        colors = kind_colors(parts)
        layers = [(kind_label(k, p), _get(runs, key)) for k, p, key in parts]
        top = np.nansum([v for _, v in layers], axis=0).max()
        div, unit = (1.0, "kgCO2e") if top >= 1 else (1e-3, "gCO2e")
        tot = stacked_bars(ax, labels, [(n, v / div) for n, v in layers], [colors[(k, p)] for k, p, _ in parts])
        ax.set_ylim(0, max(1e-12, np.nanmax(tot)) * 1.45)  # room for the legend
        ax.set_ylabel(f"carbon ({unit})")
        ax.legend(fontsize="x-small", loc="upper center", ncol=2)
    else:
        no_data(ax, "no carbon in these summaries")
    ax.set_title("carbon by kind")

    # energy: GPU + host stacked, facility energy as a marker
    ax = axes[0, 1]
    gpu, host, fac = _get(runs, "energy_gpu_kwh"), _get(runs, "energy_host_kwh"), _get(runs, "energy_facility_kwh")
    if np.isfinite(gpu).any():
        tot = stacked_bars(ax, labels, [("GPU", gpu), ("host", host)], ["tab:green", "tab:olive"], totals=False)
        has_fac = np.isfinite(fac).any()
        if has_fac:
            ax.plot(np.arange(len(runs)), fac, "k_", ms=28, mew=2, label="facility (IT x PUE)")
        tops = np.fmax(tot, fac) if has_fac else tot
        for i, (t, f) in enumerate(zip(tot, fac)):  # labels above the bar and the facility mark
            text = f"{t:,.3g}" + (f"\n({f:,.3g})" if has_fac and np.isfinite(f) else "")
            ax.annotate(text, (i, tops[i]), xytext=(0, 4), textcoords="offset points", ha="center", va="bottom",
                        fontsize="x-small")
        ax.set_ylim(0, max(1e-12, np.nanmax(tops)) * 1.45)  # room for the labels and the legend
        ax.legend(fontsize="x-small", loc="upper center", ncol=3, markerscale=0.4,
                  title="labels: IT (facility) kWh" if has_fac else None, title_fontsize="x-small")
        ax.set_ylabel("energy (kWh)")
    else:
        no_data(ax, "no energy in these summaries")
    ax.set_title("IT energy (GPU + host) and facility energy")

    # latency percentiles
    for ax, what, name in ((axes[0, 2], "ttft", "TTFT"), (axes[1, 0], "tpot", "TPOT")):
        p50, p90 = _get(runs, f"{what}_p50_s"), _get(runs, f"{what}_p90_s")
        top = np.nanmax(np.append(p50, p90)) if np.isfinite(np.append(p50, p90)).any() else 0.0
        unit, k = ("ms", 1e3) if top < 1.0 else ("s", 1.0)
        _grouped(ax, labels, [("p50", p50 * k), ("p90", p90 * k)], f"{name} ({unit})", f"{name} p50 and p90")
        slo = [getattr(r, f"slo_{what}") for r in runs]
        if slo[0] is not None and all(s == slo[0] for s in slo) and np.isfinite(p90).any():
            if slo[0] * k <= 2.5 * np.nanmax(p90 * k):  # draw the target only where it does not squash the bars
                ax.axhline(slo[0] * k, color="tab:red", ls="--", lw=1, label=f"SLO {slo[0] * k:g} {unit}")
                ax.set_ylim(0, max(ax.get_ylim()[1], slo[0] * k * 1.25))
                ax.legend(fontsize="small", loc="upper left", ncol=3)
            else:
                ax.set_title(f"{name} p50 and p90 (SLO {slo[0] * k:g} {unit}, off the scale)")

    # SLO attainment
    series = [("all arrivals", _get(runs, "slo_attainment") * 100)]
    off = _get(runs, "requests_completed_offline")
    if np.nansum(off) > 0:
        series += [("online", _get(runs, "slo_attainment_online") * 100),
                   ("offline", _get(runs, "slo_attainment_offline") * 100)]
    _grouped(axes[1, 1], labels, series, "SLO attainment (%)", "SLO attainment")
    if np.isfinite(series[0][1]).any():
        axes[1, 1].set_ylim(0, 118)

    # carbon per token
    g = _get(runs, "g_per_1k_tokens")
    _grouped(axes[1, 2], labels, [("gCO2e / 1k tokens", g)], "carbon per 1k tokens (gCO2e)",
             "carbon per 1,000 prompt + output tokens")
    fig.suptitle(f"greenfleet: {len(runs)} runs side by side ({_diff_text(diffs)})")
    return fig


@figure("runs", "latency_cdf", "TTFT and TPOT CDFs of every run overlaid, with the SLO targets")
def runs_latency_cdf(runs, opts):
    reqs = [r.requests for r in runs]
    if all(q is None for q in reqs):
        skip("no /requests table in these files")
    labels, diffs = run_labels(runs)
    fig, axes = new_figure(1, 2, width=12.5, height=4.8)
    for ax, key, what, name in ((axes[0, 0], "ttft", "slo_ttft", "TTFT (time to first token)"),
                                (axes[0, 1], "tpot", "slo_tpot", "TPOT (time per output token after the first)")):
        series = []
        for r, q, lab in zip(runs, reqs, labels):
            if q is None:
                continue
            keep = q["output"] > 1 if key == "tpot" else np.ones(q[key].size, dtype=bool)
            series.append((lab.replace("\n", ", "), q[key][keep]))
        slos = {getattr(r, what) for r in runs}
        cdf_panel(ax, series, slos.pop() if len(slos) == 1 else None, name)
        ax.legend(loc="lower right", fontsize="small")
    fig.suptitle(f"latency CDFs of {len(runs)} runs ({_diff_text(diffs)})")
    return fig
