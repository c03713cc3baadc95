#!/usr/bin/env python3
"""Lists the doctest cases of the unit-test binary as one ctest test each (run at build time).

doctest's own discovery splits names at ']' and runs a case with --test-case=NAME, a filter in which commas
separate patterns: a name with a comma then matches nothing and passes silently. Here every comma of the filter
becomes the single-character wildcard '?', and a run that matched no case fails (FAIL_REGULAR_EXPRESSION).
Usage: discover_tests.py TEST_BINARY OUT.cmake
"""
import subprocess
import sys


def main(binary, out):
    listing = subprocess.run([binary, "--list-test-cases", "--no-version=true"], capture_output=True, text=True,
                             check=True).stdout
    names = [line for line in listing.splitlines() if line and not line.startswith("[doctest]")
             and not line.startswith("=====")]
    lines = []
    for name in names:
        if "]==]" in name:
            sys.exit(f"discover_tests: test name contains ']==]': {name}")
        pattern = name.replace(",", "?")
        test = f"unit: {name}"
        lines.append(f"add_test([==[{test}]==] {binary} [==[--test-case={pattern}]==])")
        lines.append(f"set_tests_properties([==[{test}]==] PROPERTIES SKIP_RETURN_CODE 77 "
                     f"ENVIRONMENT GREENFLEET_TEST_EXIT_ON_SKIP=1 FAIL_REGULAR_EXPRESSION [==[test cases: +0 \\|]==])")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"discover_tests: {len(names)} unit test cases")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
