#!/usr/bin/env bash
# Regenerates the generated parts of docs/EXPERIMENTS.md: the tables of pluggable components (workload sources,
# perf models, power policies, routers) and their parameters, and the engine presets' table, written by
# `greenfleet list --markdown` from the declarations in sim/ (core::ParamSpec in each registry,
# experiment::engine_presets()), between <!-- generated:NAME --> and
# <!-- end generated:NAME --> markers. Edit the declarations, not the tables.
#
# Usage: docs/generate.sh [--check] [GREENFLEET_BINARY]   (default binary: build/greenfleet)
#   --check  change nothing; exit 1 with a diff when the committed docs differ from the declarations (ctest `docs`)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
bin=${1:-$here/../build/greenfleet}
generated=$("$bin" list --markdown)
GENERATED="$generated" CHECK=$check DOC="$here/EXPERIMENTS.md" /usr/bin/python3 - <<'PY'
import difflib, os, re, sys

doc_path, check = os.environ["DOC"], os.environ["CHECK"] == "1"
block = re.compile(r"<!-- generated:(\w+) -->\n(.*?)<!-- end generated:\1 -->\n", re.S)
blocks = {m.group(1): m.group(0) for m in block.finditer(os.environ["GENERATED"] + "\n")}
doc = open(doc_path, encoding="utf-8").read()
found = set()

def replace(m):
    name = m.group(1)
    if name not in blocks:
        sys.exit(f"{doc_path}: generated block '{name}' is no longer produced by `greenfleet list --markdown`; "
                 "remove its markers")
    found.add(name)
    return blocks[name]

new = block.sub(replace, doc)
missing = sorted(set(blocks) - found)
if missing:
    sys.exit(f"{doc_path}: no markers for {', '.join(missing)}; add <!-- generated:NAME --> and "
             "<!-- end generated:NAME --> lines where each table belongs")
if new == doc:
    sys.exit(0)
if check:
    sys.stdout.writelines(difflib.unified_diff(doc.splitlines(True), new.splitlines(True), "docs/EXPERIMENTS.md",
                                               "generated from the declarations"))
    sys.exit("docs/EXPERIMENTS.md differs from the component declarations in sim/; regenerate it with "
             "`docs/generate.sh` (after building) and commit the result")
open(doc_path, "w", encoding="utf-8").write(new)
print(f"updated {doc_path}")
PY
