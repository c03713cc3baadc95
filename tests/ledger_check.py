#!/usr/bin/env python3
"""The carbon ledger's output against an independent recomputation from the HDF5 file (docs/CARBON.md).

Runs a small two-site experiment (one site on an hourly CSV carbon-intensity series that starts mid-file and wraps
during the run, the other constant; GPU and host lifetimes of their own, sunk GPUs, a residual life, an always-off
server and a sleeping one) and checks, from the file alone and the CSV as written here:
- each slot's carbon intensity per site is the CSV's value for that hour of the run (start offset and wrap);
- per slot and server, operational carbon = energy x PUE x CI / 3.6e6 (slots are the CI's hours, so CI is
  constant within each);
- per server, embodied carbon = (GPUs x card kg / GPU amortisation + host kg / host lifetime) x run time,
  from /servers;
- /timeseries summed over slots equals /carbon/by_server, which sums to the /carbon totals, as do by_phase and
  by_site; the requests' carbon plus the idle lines equal the totals;
- an always-off server has no energy; power_w x slot length is energy_j.
Usage: ledger_check.py GREENFLEET_BINARY SOURCE_DIR. Exits 77 (skipped) without h5py.
"""
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError:
    print("ledger_check: needs h5py and numpy; skipped")
    sys.exit(77)

HOUR = 3600.0
YEAR = 8760 * HOUR
CI_ROWS = [100.0, 400.0, 50.0, 800.0, 250.0, 600.0]  # hourly from 2023-03-01 00:00 UTC
START_ROW = 2  # `start: 2023-03-01 02:00:00`: simulated time zero is the third row


def fail(msg):
    print(f"ledger_check: FAIL: {msg}")
    sys.exit(1)


def close(a, b, rel=1e-9, what=""):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    scale = np.maximum(np.abs(b), 1e-12 * max(1.0, float(np.max(np.abs(b))) if b.size else 1.0))
    err = np.max(np.abs(a - b) / scale) if a.size else 0.0
    if not np.all(np.isfinite(a)) or err > rel:
        fail(f"{what}: relative difference {err:.3g} (got {a}, expected {b})")


def main(binary, source):
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "ci.csv")
        with open(csv, "w") as f:
            f.write("timestamp,g_per_kwh\n")
            for i, v in enumerate(CI_ROWS):
                f.write(f"2023-03-01 {i:02d}:00:00,{v}\n")
        exp = os.path.join(tmp, "x.yaml")
        with open(exp, "w") as f:
            f.write(f"""name: ledger-check
seed: 3
sites:
  - {{name: a, pue: 1.3, carbon_intensity: {{kind: csv, file: {csv}, start: '2023-03-01 02:00:00'}}}}
  - {{name: b, pue: 1.1, carbon_intensity: 200}}
deployments:
  - {{name: d, model: llama-68m, tensor_parallel: 1}}
  - {{name: e, model: llama-68m, tensor_parallel: 3}}
fleet:
  - {{site: a, sku: hgx-h100x8, deployment: d, gpu_lifetime: 3y, host_lifetime: 10y}}
  - {{site: b, sku: pcie-l4x8, deployment: d, gpu_embodied: sunk}}
  - {{site: a, sku: pcie-l4x8, deployment: e, residual_life: 2y}}
  - {{site: b, sku: dgx-a100x8-80gb, deployment: d, powered: false}}
  - {{site: a, sku: pcie-a10x4, deployment: d, power: {{policy: off_when_idle, idle_timeout: 5min, boot_time: 30s}}}}
router: {{name: round_robin}}
carbon: {{slot: 1h}}
workload:
  source: synthetic
  synthetic: {{requests: 600, rate: 0.02, prompt_tokens: {{distribution: constant, value: 300}},
              output_tokens: {{distribution: constant, value: 40}}}}
""")
        out = os.path.join(tmp, "x.h5")
        env = dict(os.environ, GREENFLEET_HOME=source)
        p = subprocess.run([binary, "run", exp, "-q", "-o", out], env=env, capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"greenfleet run exited {p.returncode}: {p.stderr}")
        with h5py.File(out, "r") as h:
            check(h)
    print("ledger_check: ok")


def check(h):
    carbon = h["carbon"]
    ts = h["timeseries"]
    servers = h["servers"]
    sites = h["sites"]
    T = float(h["summary"].attrs["simulated_seconds"])
    if T < 6 * HOUR:
        fail(f"the run lasts {T:.0f} s: too short to wrap the 6-hour series")
    slot = float(ts.attrs["slot_seconds"])
    energy = ts["energy_j"][()]
    op = ts["operational_g"][()]
    emb = ts["embodied_g"][()]
    ci = ts["carbon_intensity"][()]
    slots, n_servers = energy.shape
    if slots != int(np.ceil(T / slot)):
        fail(f"{slots} slots for {T} s")
    site_of = servers["site"][()]
    pue = sites["pue"][()]

    # Carbon intensity per slot: the CSV's hour, from the start row, wrapping; site b constant.
    expected_ci = np.array([[CI_ROWS[(START_ROW + j) % len(CI_ROWS)], 200.0] for j in range(slots)])
    close(ci, expected_ci, 1e-12, "carbon intensity per slot and site")

    # Operational carbon per slot and server.
    expected_op = energy * pue[site_of][None, :] * expected_ci[:, site_of] / 3.6e6
    close(op, expected_op, 1e-9, "operational carbon per slot and server")

    # Embodied carbon per server over the run, from /servers.
    gpus = servers["gpu_count"][()]
    card = servers["gpu_card_embodied_kg"][()]
    host = servers["host_embodied_kg"][()]
    sunk = servers["gpu_embodied_sunk"][()]
    gpu_years = servers["gpu_amortisation_years"][()]
    host_years = servers["host_lifetime_years"][()]
    rate = np.where(sunk == 1, 0.0, gpus * card * 1000 / (gpu_years * YEAR)) + host * 1000 / (host_years * YEAR)
    by_server = carbon["by_server"]
    emb_server = by_server["embodied_gpu_g"][()] + by_server["embodied_host_g"][()]
    close(emb_server, rate * T, 1e-9, "embodied carbon per server")
    close(emb.sum(axis=0), rate * T, 1e-9, "embodied carbon per server from the slots")
    # The lifetimes reached the file as configured.
    close(gpu_years, [3, 4, 2, 4, 4], 1e-12, "GPU amortisation years")
    close(host_years, [10, 4, 4, 4, 4], 1e-12, "host lifetimes")

    # Slots add up to servers, servers and phases and sites to the totals.
    e_server = by_server["energy_gpu_j"][()] + by_server["energy_host_j"][()]
    op_server = by_server["operational_gpu_g"][()] + by_server["operational_host_g"][()]
    close(energy.sum(axis=0), e_server, 1e-9, "slot energy per server")
    close(op.sum(axis=0), op_server, 1e-9, "slot operational carbon per server")
    for group in ("by_phase", "by_site"):
        g = carbon[group]
        close(sum(g[c][()].sum() for c in ("energy_gpu_j", "energy_host_j")), carbon.attrs["energy_j"], 1e-9,
              f"{group} energy")
        close(sum(g[c][()].sum() for c in ("operational_gpu_g", "operational_host_g")),
              carbon.attrs["operational_g"], 1e-9, f"{group} operational")
        close(sum(g[c][()].sum() for c in ("embodied_gpu_g", "embodied_host_g")), carbon.attrs["embodied_g"],
              1e-9, f"{group} embodied")
    close(e_server.sum(), carbon.attrs["energy_j"], 1e-9, "servers' energy")
    for kind in ("energy_j", "operational_g", "embodied_g"):
        close(carbon.attrs["requests_" + kind] + carbon.attrs["idle_" + kind], carbon.attrs[kind], 1e-9,
              f"requests plus idle lines, {kind}")
    # /requests (float32) add up to the requests' exact total.
    req = h["requests"]
    for col, kind in (("energy_j", "energy_j"), ("operational_g", "operational_g"), ("embodied_g", "embodied_g")):
        close(req[col][()].astype(float).sum(), carbon.attrs["requests_" + kind], 1e-5, f"/requests {col}")

    # The always-off server: no energy, only embodied carbon.
    off = int(np.flatnonzero(servers["powered"][()] == 0)[0])
    if e_server[off] != 0 or emb_server[off] <= 0:
        fail("the always-off server has energy or no embodied carbon")
    # Mean power times the slot's length is its energy (the last slot ends with the run).
    lengths = np.minimum(slot, T - np.arange(slots) * slot)
    close(ts["power_w"][()] * lengths[:, None], energy, 1e-9, "power x slot length")
    if abs(float(h["summary"].attrs["carbon_conservation_error"])) > 1e-9:
        fail("conservation error above 1e-9")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
