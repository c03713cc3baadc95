#!/usr/bin/env python3
"""Golden outputs: every shipped experiment (and the 1M benchmark) against committed results.

For each experiment the golden file tests/golden/NAME.json holds the run's /summary (every number, exactly) and a
SHA-256 digest of each dataset and attribute under /requests and /carbon. A change that alters any of them fails
`check` with the names of what moved; after an intended change, `update` rewrites the files (say why in the
commit).

  golden.py check  BINARY SOURCE_DIR [NAME ...]   compare (exit 1 on a difference, 77 when everything skipped)
  golden.py update BINARY SOURCE_DIR [NAME ...]   regenerate the golden files

Experiments that read traces or carbon-intensity files are skipped, and say so, when the data directory
(../shared/data or $GREENFLEET_DATA) is absent.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

# Wall-clock values live in /run_info, never here; /summary holds only what the configuration determines.
DIGESTED_GROUPS = ("requests", "carbon")


def experiments(src):
    names = sorted(f[:-5] for f in os.listdir(os.path.join(src, "experiments")) if f.endswith(".yaml"))
    out = [(n, os.path.join(src, "experiments", n + ".yaml")) for n in names]
    out.append(("bench_throughput_1m", os.path.join(src, "bench", "throughput_1m.yaml")))
    return out


def needs_data(path):
    with open(path, encoding="utf-8") as f:
        return any(line.strip().startswith("file:") for line in f)


def data_dir(src):
    return os.environ.get("GREENFLEET_DATA") or os.path.join(os.path.dirname(os.path.abspath(src)), "shared", "data")


def digest_value(value):
    h = hashlib.sha256()
    if isinstance(value, (bytes, str)):
        h.update(value.encode() if isinstance(value, str) else value)
    else:
        arr = np.asarray(value)
        h.update(str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:32]


def digest_file(path):
    result = {"summary": {}, "digests": {}}
    with h5py.File(path, "r") as f:
        for key, value in f["summary"].attrs.items():
            if key == "title":
                continue
            v = float(value)
            result["summary"][key] = v if np.isfinite(v) else None
        for group in DIGESTED_GROUPS:
            if group not in f:
                continue

            def visit(name, obj, group=group):
                where = f"/{group}/{name}"
                if isinstance(obj, h5py.Dataset):
                    result["digests"][where] = digest_value(obj[()])
                for attr, value in obj.attrs.items():
                    result["digests"][f"{where}@{attr}"] = digest_value(value)

            for attr, value in f[group].attrs.items():
                result["digests"][f"/{group}@{attr}"] = digest_value(value)
            f[group].visititems(visit)
    result["digests"] = dict(sorted(result["digests"].items()))
    return result


def run(binary, exp_path, out_path, src):
    cmd = [binary, "run", exp_path, "-q", "-o", out_path, "--catalog", src]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")


def compare(name, want, got):
    problems = []
    for key in sorted(set(want["summary"]) | set(got["summary"])):
        a, b = want["summary"].get(key, "absent"), got["summary"].get(key, "absent")
        if a != b:
            problems.append(f"  /summary@{key}: golden {a!r}, now {b!r}")
    for key in sorted(set(want["digests"]) | set(got["digests"])):
        a, b = want["digests"].get(key, "absent"), got["digests"].get(key, "absent")
        if a != b:
            problems.append(f"  {key}: {'changed' if 'absent' not in (a, b) else f'golden {a}, now {b}'}")
    if problems:
        print(f"FAIL {name}: {len(problems)} difference(s)")
        print("\n".join(problems[:40]))
        if len(problems) > 40:
            print(f"  ... and {len(problems) - 40} more")
    return not problems


def main(argv):
    if len(argv) < 3 or argv[0] not in ("check", "update"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, binary, src = argv[0], os.path.abspath(argv[1]), os.path.abspath(argv[2])
    only = set(argv[3:])
    golden_dir = os.path.join(src, "tests", "golden")
    have_data = os.path.isdir(data_dir(src))
    ok = True
    checked, skipped = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in experiments(src):
            if only and name not in only:
                continue
            if needs_data(path) and not have_data:
                print(f"skipped {name}: needs the data directory ({data_dir(src)} is absent)")
                skipped += 1
                continue
            out = os.path.join(tmp, name + ".h5")
            run(binary, path, out, src)
            got = digest_file(out)
            os.remove(out)
            golden = os.path.join(golden_dir, name + ".json")
            if mode == "update":
                with open(golden, "w", encoding="utf-8") as g:
                    json.dump(got, g, indent=1)
                    g.write("\n")
                print(f"wrote {os.path.relpath(golden, src)}")
            elif not os.path.exists(golden):
                print(f"FAIL {name}: no golden file {os.path.relpath(golden, src)} (run tests/golden/update)")
                ok = False
            else:
                with open(golden, encoding="utf-8") as g:
                    same = compare(name, json.load(g), got)
                ok = ok and same
                if same:
                    print(f"ok {name}")
            checked += 1
    if mode == "check":
        print(f"golden outputs: {checked} checked, {skipped} skipped")
        if not ok:
            print("if the change is intended: bash tests/golden/update, and say why in the commit")
            return 1
        if checked == 0:
            return 77
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
