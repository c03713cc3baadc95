#!/usr/bin/env python3
"""Runs the pandas example of docs/OUTPUT.md ("Comparing two runs with pandas") on two small runs.

  output_example_test.py BINARY SOURCE_DIR
"""
import os
import re
import subprocess
import sys
import tempfile


def main(binary, src):
    text = open(os.path.join(src, "docs", "OUTPUT.md"), encoding="utf-8").read()
    m = re.search(r"<!-- example: compare-two-runs -->\s*```python\n(.*?)```", text, re.S)
    if not m:
        print("docs/OUTPUT.md: the compare-two-runs example is missing")
        return 1
    tmp = tempfile.mkdtemp(prefix="gf_example_")
    os.makedirs(os.path.join(tmp, "out"))
    exp = os.path.join(src, "experiments", "quickstart.yaml")
    small = ["-q", "--set", "workload.synthetic.requests=2000"]
    for name, extra in (("rr", ["--set", "router.name=round_robin"]), ("lot", [])):
        subprocess.run([binary, "run", exp, "-o", os.path.join(tmp, "out", name + ".h5"), *small, *extra],
                       check=True, stdout=subprocess.DEVNULL)
    r = subprocess.run(["/usr/bin/python3", "-c", m.group(1)], cwd=tmp, capture_output=True, text=True)
    print(r.stdout, r.stderr)
    if r.returncode != 0 or "same requests: True" not in r.stdout or "decode" not in r.stdout:
        print("the example failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
