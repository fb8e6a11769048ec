"""Import gates of the console commands: modules a command's process never needs.

Only :func:`linkgraph.cli.run` (the ``linkgraph`` console command, a process of its
own) turns them on, for a command that asks (``set_defaults(lean_imports=True)``);
``main()`` called from Python (tests, notebooks, a user's program) never does, so a
library user's process is left as it is.

- pandas: pyarrow imports it, when installed, on its first array conversion
  (0.14-0.39 s here); when that import fails, pyarrow works without its pandas
  integration.

:func:`run_console` also keeps OpenBLAS (numpy's BLAS) to one thread in every
console command unless ``OPENBLAS_NUM_THREADS`` is set: its worker threads spin after
numpy's import, 0.05-0.07 s of CPU here, and no linkgraph command calls BLAS.
"""

from __future__ import annotations

import importlib.abc
import os
import sys

#: True in a console command that asked for lean imports.
lean = False


class _Gate(importlib.abc.MetaPathFinder):
    """An import finder that says the ``names`` packages are not installed."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if any(fullname == name or fullname.startswith(name + ".") for name in self.names):
            raise ImportError(f"{fullname} is not imported by this linkgraph command")
        return None


def run_console() -> None:
    """At the start of a console command, before numpy's import: one BLAS thread."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def turn_on() -> None:
    """Make the process lean: pandas is never imported."""
    global lean
    lean = True
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _Gate("pandas"))
