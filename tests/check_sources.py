#!/usr/bin/env python3
"""Every source the repository cites must be one a user can reach from a clone: a paper (with its arXiv id or
venue), a public repository or data set, a datasheet. The design notes beside the project (../shared/reference)
are not shipped, so citing them (papers.md, peers.md, hardware.md, "reference/...md") is an error here.

Usage: check_sources.py SOURCE_DIR   (exit 0 when no tracked text file cites them, 1 otherwise)
"""
import os
import re
import subprocess
import sys

PATTERN = re.compile(r"(papers|peers|hardware)\.md|shared/reference|reference/[\w./-]*\.md")


def main(src):
    try:
        files = subprocess.run(["git", "-C", src, "ls-files"], capture_output=True, text=True, check=True).stdout
        files = files.split()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the tree
        files = [os.path.relpath(os.path.join(d, f), src) for d, _, fs in os.walk(src) for f in fs]
    me = os.path.relpath(os.path.abspath(__file__), os.path.abspath(src))
    problems = 0
    for rel in files:
        if rel == me or rel.startswith(("build", ".git")) or not rel.endswith(
                (".cpp", ".hpp", ".yaml", ".md", ".py", ".sh", ".txt", ".in", ".cmake")):
            continue
        path = os.path.join(src, rel)
        if not os.path.isfile(path):
            continue
        for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
            if PATTERN.search(line):
                print(f"{rel}:{n}: cites a file users never get: {line.strip()[:120]}")
                problems += 1
    print(f"sources: {problems} citation(s) of unshipped reference notes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
