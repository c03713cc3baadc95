"""Overview figure of one greenfleet run: request latencies and, when present, power and carbon over time.

From /requests (layout: docs/OUTPUT.md):

  1. TTFT CDF of completed requests (online and offline drawn apart when the run has offline requests)
  2. TPOT CDF of completed requests with more than one output token (as in the summary table)
  3. end-to-end latency against prompt length (at most 20,000 points, sampled with a fixed seed)
  4. requests completed per minute of simulated time (finer bins, still per minute, for runs under 10 min)

From /timeseries (files written before it existed, or without it, simply get no such row):

  5. mean IT power of each server per time slot (servers grouped by site and SKU when there are more than 8)
  6. operational carbon per slot, stacked by site, with each site's mean carbon intensity on a second axis

The online SLO targets stored in the file's resolved configuration are drawn as dashed lines on the CDFs
(offline requests are judged on their deadline instead). Registered as the "run" figure `overview` of
plots/greenfleet_plots.py; plots/plot_requests.py draws it alone.
"""

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import figure, skip  # noqa: E402
from .data import CLASS_OFFLINE, STATUS_COMPLETED, slo_targets, text as _text  # noqa: E402,F401 (re-exported)

MAX_SCATTER_POINTS = 20_000
MAX_SERVER_LINES = 8  # more servers than this are drawn as one line per (site, SKU) group


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


def _slot_text(seconds):
    """900 -> '15 min', 3600 -> '1 h', 30 -> '30 s'."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def read_requests(f):
    """The /requests columns the request panels need, or None when the file has no /requests table."""
    if "requests" not in f:
        return None
    r = f["requests"]
    status = r["status"][:]
    done = status == STATUS_COMPLETED
    return {
        "status": status,
        "ttft": r["ttft_s"][:][done],
        "tpot": r["tpot_s"][:][done],
        "e2e": r["e2e_s"][:][done],
        "prompt": r["prompt_tokens"][:][done],
        "output": r["output_tokens"][:][done],
        "completion_s": r["completion_ns"][:][done] * 1e-9,
        # Older files have no class column: every request was online then.
        "offline": (r["class"][:][done] == CLASS_OFFLINE) if "class" in r else np.zeros(done.sum(), dtype=bool),
    }


def read_timeseries(f):
    """Per-slot tables from /timeseries with the server and site names they need, or None when absent."""
    if "timeseries" not in f or "servers" not in f or "sites" not in f:
        return None
    ts = f["timeseries"]
    needed = ("slot_start_s", "power_w", "operational_g", "carbon_intensity")
    if any(k not in ts for k in needed) or ts["slot_start_s"].shape[0] == 0:
        return None
    start = ts["slot_start_s"][:]
    slot = float(ts.attrs.get("slot_seconds", start[1] - start[0] if start.size > 1 else 3600.0))
    end = start + slot
    # The last slot stops at the end of the run (its power is a mean over that part).
    span = f["summary"].attrs.get("simulated_seconds") if "summary" in f else None
    if span is not None and np.isfinite(span) and start[-1] < span < end[-1]:
        end[-1] = span
    return {
        "slot": slot,
        "start": start,
        "end": end,
        "power": ts["power_w"][:],
        "operational": ts["operational_g"][:],
        "embodied": ts["embodied_g"][:] if "embodied_g" in ts else None,
        "ci": ts["carbon_intensity"][:],
        "server_site": f["servers"]["site"][:],
        "server_sku": [_text(s) for s in f["servers"]["sku"][:]],
        "site_names": [_text(s) for s in f["sites"]["name"][:]],
    }


def request_panels(fig, axes, req, slo_ttft, slo_tpot):
    """The four request panels on a 2 x 2 block of axes."""
    ttft, tpot, e2e, prompt, output = req["ttft"], req["tpot"], req["e2e"], req["prompt"], req["output"]
    offline, completion_s = req["offline"], req["completion_s"]
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


def timeseries_panels(ax_power, ax_carbon, ts):
    """Power per server and operational carbon per slot with the sites' carbon intensity."""
    start, end = ts["start"], ts["end"]
    hours = end[-1] >= 3 * 3600
    scale, unit = (3600.0, "h") if hours else (60.0, "min")
    edges = np.append(start, end[-1]) / scale
    sites, site_of, skus = ts["site_names"], ts["server_site"], ts["server_sku"]
    n_servers = ts["power"].shape[1]

    # 5. power: one line per server, or per (site, SKU) group for larger fleets
    if n_servers <= MAX_SERVER_LINES:
        groups = [([s], f"server {s}: {skus[s]} @ {sites[site_of[s]]}") for s in range(n_servers)]
        title = "IT power per server (mean over each slot)"
    else:
        keys = sorted({(int(site_of[s]), skus[s]) for s in range(n_servers)})
        groups = []
        for site, sku in keys:
            members = [s for s in range(n_servers) if site_of[s] == site and skus[s] == sku]
            groups.append((members, f"{len(members)} x {sku} @ {sites[site]}"))
        title = "IT power per site and SKU (sum over servers, mean over each slot)"
    for members, label in groups:
        ax_power.stairs(ts["power"][:, members].sum(axis=1) / 1000.0, edges, lw=1.5, label=label)
    ax_power.set_xlim(edges[0], edges[-1])
    ax_power.set_ylim(bottom=0)
    ax_power.set_title(title)
    ax_power.set_xlabel(f"simulated time ({unit})")
    ax_power.set_ylabel("kW (IT, without PUE)")
    ax_power.legend(loc="lower left", fontsize="small")
    ax_power.grid(True, alpha=0.3)

    # 6. operational carbon per slot, stacked by site, and each site's carbon intensity
    x0, width = start / scale, (end - start) / scale
    bottom = np.zeros(start.size)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, name in enumerate(sites):
        members = [s for s in range(n_servers) if site_of[s] == i]
        grams = ts["operational"][:, members].sum(axis=1) if members else np.zeros(start.size)
        ax_carbon.bar(x0, grams, width=width, bottom=bottom, align="edge", color=colors[i % len(colors)],
                      alpha=0.45, edgecolor="white", lw=0.5, label=f"{name}: {grams.sum():,.1f} g")
        bottom += grams
    ax_carbon.set_xlim(edges[0], edges[-1])
    ax_carbon.set_xlabel(f"simulated time ({unit})")
    ax_carbon.set_ylabel("operational carbon per slot (gCO2e)")
    total_emb = ts["embodied"].sum() if ts["embodied"] is not None else None
    title = f"operational carbon per {_slot_text(ts['slot'])} slot ({start.size:,} slot{'s' if start.size > 1 else ''})"
    if total_emb is not None:
        title += f"\n(total {bottom.sum():,.1f} g operational, {total_emb:,.1f} g embodied)"
    ax_carbon.set_title(title)
    ax_carbon.grid(True, axis="y", alpha=0.3)
    ci_ax = ax_carbon.twinx()
    for i, name in enumerate(sites):
        ci_ax.stairs(ts["ci"][:, i], edges, color=colors[i % len(colors)], lw=2, label=f"{name} CI")
    ci_ax.set_ylabel("carbon intensity, slot mean (gCO2e/kWh)")
    ci_ax.set_ylim(bottom=0, top=max(1.0, float(np.nanmax(ts["ci"])) * 1.15))
    handles = ax_carbon.get_legend_handles_labels()
    ci_handles = ci_ax.get_legend_handles_labels()
    ci_ax.legend(handles[0] + ci_handles[0], handles[1] + ci_handles[1], loc="lower left", fontsize="small")


def request_counts(req):
    """(completed, unfinished, rejected)."""
    return tuple(int(c) for c in np.bincount(req["status"], minlength=3)[:3])


@figure("run", "overview", "TTFT/TPOT CDFs, latency vs prompt, completions per minute, power and carbon per slot")
def overview_figure(run, opts=None):
    """The overview figure of a data.Run (what plot_requests.py draws)."""
    req, ts = run.requests, run.timeseries
    if req is None and ts is None:
        skip("neither a /requests table (was the run made with output.requests: false?) nor /timeseries")
    rows = (2 if req is not None else 0) + (1 if ts is not None else 0)
    fig, axes = plt.subplots(rows, 2, figsize=(12, 4.25 * rows), squeeze=False)
    title = f"greenfleet: {run.experiment} (seed {run.seed})"
    if req is not None:
        done, unfinished, rejected = request_counts(req)
        title += f" - {done:,} completed, {unfinished:,} unfinished, {rejected:,} rejected"
        request_panels(fig, axes[0:2], req, run.slo_ttft, run.slo_tpot)
    else:
        title += " - no /requests table (output.requests: false)"
    fig.suptitle(title)
    if ts is not None:
        timeseries_panels(axes[rows - 1, 0], axes[rows - 1, 1], ts)
    fig.tight_layout()
    return fig
