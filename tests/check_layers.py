#!/usr/bin/env python3
"""Checks that the folders of sim/ are layers: the include graph between folders is acyclic and follows the
links declared in sim/CMakeLists.txt (greenfleet_layer(... DEPS ...)), no simulation links the calibration
library, and sim/perf/ holds no fitting code. The build already refuses an include across a missing link
(each layer sees only the headers of what it links); this names the offending include instead of a compiler
error, and catches what a build cannot: a cycle declared in CMake, or fitting code placed in perf.

Usage: check_layers.py SOURCE_DIR   (exit 0 when every rule holds, 1 otherwise)
"""
import os
import re
import sys


def declared_layers(src):
    text = open(os.path.join(src, "sim", "CMakeLists.txt"), encoding="utf-8").read()
    layers = {}
    for m in re.finditer(r"greenfleet_layer\((\w+)([^)]*)\)", text):
        deps = re.search(r"\bDEPS\s+([\w\s]+?)(?:\bLIBS\b|$)", m.group(2))
        layers[m.group(1)] = set(deps.group(1).split()) if deps else set()
    # The front end links what it names on target_link_libraries(greenfleet ...).
    cli = re.search(r"target_link_libraries\(greenfleet PRIVATE([^)]*)\)", text)
    layers["cli"] = {w[len("greenfleet_"):] for w in cli.group(1).split() if w.startswith("greenfleet_")}
    return layers


def closure(layers, name):
    seen, todo = set(), [name]
    while todo:
        for d in layers.get(todo.pop(), ()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def find_cycle(graph):
    state = {}

    def visit(n, path):
        state[n] = 1
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                return path + [n, d]
            if d not in state:
                found = visit(d, path + [n])
                if found:
                    return found
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n, [])
            if found:
                return found
    return None


def main(src):
    problems = []
    layers = declared_layers(src)
    sim = os.path.join(src, "sim")
    folders = sorted(d for d in os.listdir(sim) if os.path.isdir(os.path.join(sim, d)))
    for f in folders:
        if f not in layers:
            problems.append(f"sim/{f}/ is not a layer declared in sim/CMakeLists.txt")
    cycle = find_cycle(layers)
    if cycle:
        problems.append("declared layer links form a cycle: " + " -> ".join(cycle))
    includes = {}
    for folder in folders:
        for name in sorted(os.listdir(os.path.join(sim, folder))):
            if not name.endswith((".hpp", ".cpp")):
                continue
            path = os.path.join(sim, folder, name)
            for lineno, line in enumerate(open(path, encoding="utf-8"), 1):
                m = re.match(r'\s*#include "sim/(\w+)/', line)
                if not m or m.group(1) == folder:
                    continue
                includes.setdefault(folder, set()).add(m.group(1))
                if m.group(1) not in closure(layers, folder):
                    problems.append(f"sim/{folder}/{name}:{lineno}: includes sim/{m.group(1)}/, "
                                    f"which layer {folder} does not link")
    cycle = find_cycle(includes)
    if cycle:
        problems.append("includes between folders form a cycle: " + " -> ".join(cycle))
    if "calibration" in closure(layers, "runner"):
        problems.append("the runner (every simulation) links the calibration library")
    fitting = re.compile(r"least_squares|fit_(hinge|weighted|relative)|held_out")
    for name in sorted(os.listdir(os.path.join(sim, "perf"))):
        text = open(os.path.join(sim, "perf", name), encoding="utf-8").read()
        if fitting.search(text):
            problems.append(f"sim/perf/{name}: fitting code belongs in sim/calibration/")
    for p in problems:
        print(p)
    print(f"layers: {len(layers)} declared, {sum(len(v) for v in includes.values())} folder links used, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
