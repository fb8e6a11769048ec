"""Import gates of the console commands: modules a command's process never needs.

Only :func:`linkgraph.cli.run` (the ``linkgraph`` console command, a process of its
own) turns them on, for a command that asks (``set_defaults(lean_imports=True)``);
``main()`` called from Python (tests, notebooks, a user's program) never does, so a
library user's process is left as it is.

- pandas: pyarrow imports it, when installed, on its first array conversion
  (0.14-0.39 s here); when that import fails, pyarrow works without its pandas
  integration.
- scipy, cffi and yaml while numba starts: numba imports scipy only to check its
  version (0.01 s) and, on its first compile or cache load, scipy.linalg (0.26 s,
  with numpy.f2py) only to learn whether ``np.dot`` can be compiled; cffi with its C
  parser (0.02 s) to type cffi functions; PyYAML (0.02 s) to read a
  ``.numba_config.yaml`` numba's developers may keep. No kernel of ours needs any of
  them, and the gate opens once numba has started (the site tables import
  scipy.sparse after it).
- Python's cyclic garbage collector is off until numba has started, then everything
  loaded so far is frozen (``gc.freeze``): numba's import and first cache load make
  millions of objects, and the collections they set off cost ~0.1 s of CPU (of 0.3 s)
  at the moment the Parquet reads need both cores; later collections then skip
  them.

:func:`run_console` also keeps OpenBLAS (numpy's BLAS) to one thread in every
console command unless ``OPENBLAS_NUM_THREADS`` is set: its worker threads spin after
numpy's import, 0.05-0.07 s of CPU here, and no linkgraph command calls BLAS.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.abc
import os
import sys
from collections.abc import Iterator

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
    """Make the process lean: pandas is never imported, and no garbage collection
    until numba has started (see the module doc)."""
    global lean
    lean = True
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _Gate("pandas"))
    gc.disable()


@contextlib.contextmanager
def numba_start() -> Iterator[None]:
    """Around numba's first use: in a lean process, without the scipy, cffi and yaml
    imports, and the garbage collector back on after it, with what is loaded frozen."""
    if not lean:
        yield
        return
    gate = None
    if "numba.np.arraymath" not in sys.modules:
        gate = _Gate(*(name for name in ("scipy", "cffi", "yaml") if name not in sys.modules))
        sys.meta_path.insert(0, gate)
    try:
        yield
    finally:
        if gate is not None:
            sys.meta_path.remove(gate)
        if not gc.isenabled():
            gc.freeze()
            gc.enable()
