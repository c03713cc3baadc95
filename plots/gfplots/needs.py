"""The Python packages the figures need, checked before anything imports them.

Another `python3` earlier on the PATH than Debian's (pyenv, a virtual environment) often lacks h5py: instead of a
traceback from deep inside a reader, the entry points stop with one line naming what is missing and the
interpreter that has it, exit status 3 (the environment, as for greenfleet itself).
"""

import importlib
import sys

PACKAGES = ("numpy", "h5py", "matplotlib")


def require(program):
    """Exits with status 3 and one line on stderr when a package of PACKAGES cannot be imported."""
    missing = []
    for name in PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        print(f"error: {program} needs the Python packages {', '.join(PACKAGES)}; {sys.executable} lacks "
              f"{', '.join(missing)}. Run it with /usr/bin/python3 (Debian's python3-h5py and python3-matplotlib, "
              "which `bash .ci/setup` installs), or install them for this Python", file=sys.stderr)
        sys.exit(3)
