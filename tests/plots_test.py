#!/usr/bin/python3
"""End-to-end check of plots/greenfleet_plots.py: every registered figure is drawn from real runs or fixtures and
written as a valid, non-blank PNG. Usage: plots_test.py GREENFLEET_BINARY SOURCE_DIR (run by ctest as `plots`).

Inputs: three small runs made here (the quick start at 2,000 requests with two routers, and a two-site fleet
with a solar carbon intensity, offline requests and a server that starts off), the comparison fixture
tests/plots/compare.json, the sweep fixtures tests/plots/ci_lifetime_sweep/index.csv and
tests/plots/greenllm_theory (a CI x mode sweep with `greenfleet theory --json` output beside it), and, when
the binary has a `compare` command, its JSON output for the two quick-start runs. Needs Debian's python3-h5py and
python3-matplotlib; exits 77 (skipped) without them.
"""

import os
import subprocess
import sys
import tempfile
import time

try:
    import h5py  # noqa: F401
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import numpy as np
except ImportError as e:
    print(f"SKIP: {e} (install python3-h5py and python3-matplotlib, or run with /usr/bin/python3)")
    sys.exit(77)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

TWO_SITES = """name: two_sites
seed: 7
sites:
  - {name: eu-north, pue: 1.12, carbon_intensity: 17}
  - name: us-solar
    pue: 1.3
    carbon_intensity: {kind: solar, base: 450, dip: 300, start_time_of_day: 10h}
deployments:
  - {name: chat, model: llama-3.1-8b, tensor_parallel: 1}
fleet:
  - {site: eu-north, sku: hgx-h100x8, count: 1}
  - {site: us-solar, sku: pcie-l4x8, count: 1, gpu_embodied_sunk: true}
  - {site: us-solar, sku: pcie-a10x4, count: 1, powered: false,
     power: {policy: off_when_idle, idle_timeout: 5min, boot_time: 2min}}
workload:
  source: synthetic
  synthetic:
    requests: 3000
    rate: 1.5
    arrivals: poisson
    prompt_tokens: {distribution: lognormal, mean: 1000, sigma: 0.9, max: 8192}
    output_tokens: {distribution: lognormal, mean: 200, sigma: 0.9, max: 2048}
  offline: {share: 0.2, deadline: 10min}
router: {name: least_outstanding_tokens}
slo: {ttft: 500ms, tpot: 100ms}
carbon: {slot: 2min}
"""

fails = []


def check(name, ok, detail=""):
    if not ok:
        fails.append(name)
        print(f"FAIL: {name}" + (f": {detail}" if detail else ""))


def png_problem(path):
    """None if `path` is a readable, non-trivial, non-blank PNG, else what is wrong with it."""
    if not os.path.isfile(path):
        return "missing"
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head != PNG_SIGNATURE:
        return "no PNG signature"
    size = os.path.getsize(path)
    if size < 10_000:
        return f"only {size} bytes"
    try:
        img = mpimg.imread(path)
    except Exception as e:  # noqa: BLE001
        return f"does not decode ({e})"
    if img.ndim != 3 or img.shape[0] < 250 or img.shape[1] < 400:
        return f"odd shape {img.shape}"
    rgb = img[..., :3]
    if float(rgb.std()) < 0.01:
        return "a single flat colour"
    if len(np.unique((rgb.reshape(-1, 3)[::7] * 255).astype(np.uint8), axis=0)) < 16:
        return "fewer than 16 colours"
    return None


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    py = sys.executable
    entry = os.path.join(src, "plots", "greenfleet_plots.py")
    sys.path.insert(0, os.path.join(src, "plots"))
    import gfplots

    registry = gfplots.load_all()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        # 1. small runs (about 0.2 s each)
        quick = os.path.join(src, "experiments", "quickstart.yaml")
        two_yaml = os.path.join(tmp, "two.yaml")
        with open(two_yaml, "w") as fh:
            fh.write(TWO_SITES)
        runs = {
            "rr": [quick, "--set", "router.name=round_robin"],
            "lot": [quick, "--set", "router.name=least_outstanding_tokens"],
            "two": [two_yaml],
        }
        for name, args in runs.items():
            cmd = [binary, "run", *args, "-q", "-o", os.path.join(tmp, f"{name}.h5")]
            if name != "two":
                cmd += ["--set", "workload.synthetic.requests=2000", "--set", "carbon.slot=10s"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            check(f"run {name}", r.returncode == 0, r.stderr[-500:])
        h5 = {n: os.path.join(tmp, f"{n}.h5") for n in runs}

        # 2. a comparison JSON from the binary, when it has the command (being added alongside)
        inputs_compare = [os.path.join(src, "tests", "plots", "compare.json")]
        probe = subprocess.run([binary, "compare", "--help"], capture_output=True, text=True)
        if probe.returncode == 0 and "--format" in probe.stdout + probe.stderr:
            real = os.path.join(tmp, "real_compare.json")
            with open(real, "w") as fh:
                r = subprocess.run([binary, "compare", h5["rr"], h5["lot"], "--format", "json"], stdout=fh,
                                   stderr=subprocess.PIPE, text=True)
            if r.returncode == 0:
                inputs_compare.append(real)
            else:
                print(f"note: greenfleet compare failed, its JSON is not plotted: {r.stderr[-300:]}")

        # 3. the entry point, in parallel invocations (each pays matplotlib's start-up once)
        out = os.path.join(tmp, "fig")
        sweep = os.path.join(src, "tests", "plots", "ci_lifetime_sweep")
        greenllm = os.path.join(src, "tests", "plots", "greenllm_theory")
        jobs = {
            "runs+compare+sweep": [h5["rr"], h5["lot"], *inputs_compare, sweep, greenllm,
                                   "--labels", "round-robin,least-tokens", "-o", out],
            "one run": [h5["two"], "-o", out],
            "options": [os.path.join(sweep, "index.csv"), "--baseline", "router.name=round_robin",
                        "--only", "heatmap,lines,carbon", "--metric", "g_per_1k_tokens,ttft_p90_s", "--band", "ci",
                        h5["rr"], h5["lot"], "--per-run", "-o", os.path.join(tmp, "fig_options")],
        }
        # --dpi 80 keeps the test quick; the figures' layout does not depend on it
        procs = {n: subprocess.Popen([py, entry, *a, "--dpi", "80"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True) for n, a in jobs.items()}
        legacy = subprocess.run([py, os.path.join(src, "plots", "plot_requests.py"), h5["rr"], "--dpi", "80", "-o",
                                 os.path.join(tmp, "legacy.png")], capture_output=True, text=True)
        check("plot_requests.py exits 0", legacy.returncode == 0, legacy.stderr[-800:])
        problem = png_problem(os.path.join(tmp, "legacy.png"))
        check("plot_requests.py PNG", problem is None, problem)
        for n, p in procs.items():
            text, _ = p.communicate()
            check(f"greenfleet_plots.py ({n}) exits 0", p.returncode == 0, text[-1500:])

        # 4. every figure of every kind was drawn and is a real picture
        expected = [os.path.join(out, f"two_{f}.png") for f in registry["run"]]
        expected += [os.path.join(out, f"runs_{f}.png") for f in registry["runs"]]
        for c in inputs_compare:
            stem = os.path.splitext(os.path.basename(c))[0]
            expected += [os.path.join(out, f"{stem}_{f}.png") for f in registry["compare"]]
        # the GreenLLM figure needs a CI x mode sweep with theory.json: drawn from its own fixture only
        expected += [os.path.join(out, f"ci_lifetime_sweep_{f}.png") for f in registry["sweep"]
                     if f != "greenllm_theory"]
        expected += [os.path.join(out, f"greenllm_theory_{f}.png") for f in registry["sweep"]]
        expected += [os.path.join(tmp, "fig_options", f) for f in ("ci_lifetime_sweep_heatmap.png",
                     "ci_lifetime_sweep_lines.png", "rr_carbon.png", "lot_carbon.png")]
        for path in expected:
            problem = png_problem(path)
            check(f"figure {os.path.relpath(path, tmp)}", problem is None, problem)
        drawn = [os.path.join(d, f) for d in (out, os.path.join(tmp, "fig_options")) if os.path.isdir(d)
                 for f in os.listdir(d)]
        extra = [os.path.relpath(d, tmp) for d in drawn if d not in expected]
        check("no unexpected files", not extra, ", ".join(extra))

        # 5. listing and errors
        r = subprocess.run([py, entry, "--list"], capture_output=True, text=True)
        check("--list names every kind", r.returncode == 0 and all(f"{k}:" in r.stdout for k in gfplots.KINDS),
              r.stdout + r.stderr)
        bad = os.path.join(tmp, "bad.txt")
        with open(bad, "w") as fh:
            fh.write("not a greenfleet file\n")
        r = subprocess.run([py, entry, bad, "-o", out], capture_output=True, text=True)
        check("unreadable input exits 2", r.returncode == 2, r.stdout + r.stderr)
        r = subprocess.run([py, entry, h5["rr"], "--only", "no_such_figure", "-o", out], capture_output=True,
                           text=True)
        check("unknown --only exits 2", r.returncode == 2, r.stdout + r.stderr)
        # A Python without h5py (another python3 first on the PATH): one line naming it and the way out, exit 3,
        # from both entry points, instead of a traceback.
        fake = os.path.join(tmp, "no_h5py", "h5py")
        os.makedirs(fake)
        with open(os.path.join(fake, "__init__.py"), "w") as fh:
            fh.write("raise ImportError('h5py hidden by plots_test.py')\n")
        env = dict(os.environ, PYTHONPATH=os.path.dirname(fake))
        for script in (entry, os.path.join(src, "plots", "plot_requests.py")):
            r = subprocess.run([py, script, h5["rr"], "-o", os.path.join(tmp, "never")], capture_output=True,
                               text=True, env=env)
            name = os.path.basename(script)
            check(f"{name} without h5py exits 3", r.returncode == 3, r.stdout + r.stderr)
            check(f"{name} without h5py says what to run", "lacks h5py. Run it with /usr/bin/python3" in r.stderr
                  and "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr)
        n = len(expected) + 1
    print(f"{n} figures checked in {time.monotonic() - t0:.1f} s; {len(fails)} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
