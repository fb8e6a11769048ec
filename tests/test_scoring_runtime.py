"""How a scoring run uses the process: malloc's settings, and how its compiled loops
are built and loaded."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest


_HEAP_CHECK = """
import ctypes, ctypes.util, sys
import numpy as np
from linkgraph.scoring import _memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
if not hasattr(libc, "mallinfo2"):
    sys.exit(77)
libc.mallinfo2.restype = MallInfo2
mallinfo = libc.mallinfo2
with _memory.lean_memory():
    before = mallinfo().hblkhd
    edge_sized = np.ones(_memory.MMAP_THRESHOLD // 8 + 1)
    assert mallinfo().hblkhd - before >= _memory.MMAP_THRESHOLD, "edge-sized not mmapped"
    del edge_sized
    assert mallinfo().hblkhd - before < _memory.MMAP_THRESHOLD, "mmapped block kept"

    before = mallinfo().hblkhd
    node_sized = np.ones(1 << 20)  # 8 MiB
    assert mallinfo().hblkhd == before, "node-sized block mmapped"
    del node_sized
    free = mallinfo().fordblks
    assert free >= 8 << 20, "freed node-sized block not kept in the heap"
    again = np.ones(1 << 20)  # reuses the freed block: the heap's free space shrinks
    assert mallinfo().fordblks <= free - (8 << 20), "freed block not reused"
    del again
    _memory.trim()
    assert mallinfo().keepcost < 8 << 20, "trim kept the free top"
"""


def test_edge_sized_blocks_are_mmapped_and_smaller_ones_reused():
    """Under lean_memory, a block of 32 MiB or more is mmapped (returned to the system
    when freed) and a node-sized one comes from the heap, where it stays free for the
    next allocation; trim() hands that free memory back.

    In a fresh interpreter, as a scoring run is: in the test process a big free chunk
    that an earlier test left in the heap serves the edge-sized block (seen once in CI).
    """
    result = subprocess.run([sys.executable, "-c", _HEAP_CHECK], capture_output=True,
                            text=True, timeout=120)
    if result.returncode == 77:
        pytest.skip("not glibc 2.33+")
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture
def fresh_source(tmp_path, monkeypatch):
    """The loops' source copied to ``tmp_path``, none of it built or loaded yet (the
    process's own library comes back after the test)."""
    from linkgraph.scoring import _kernels

    source = tmp_path / "_kernels.cpp"
    shutil.copy(_kernels.SOURCE, source)
    monkeypatch.setattr(_kernels, "SOURCE", source)
    monkeypatch.setattr(_kernels, "_lib", None)
    builds: list = []
    build = _kernels._build
    monkeypatch.setattr(_kernels, "_build", lambda path: (builds.append(path), build(path)))
    return source, builds


def test_loops_are_built_once_then_loaded(fresh_source, monkeypatch):
    """The first use builds the library beside its source; later loads (a new process)
    find it; a changed source (an upgrade) is built again under another name, and the
    old build removed."""
    from linkgraph.scoring import _kernels

    source, builds = fresh_source
    assert _kernels.order_descending(np.array([0.5, 2.0, 1.0, 2.0])).tolist() == [1, 3, 2, 0]
    assert builds == [_kernels.library_path()]
    assert builds[0].parent == source.parent / "__pycache__" and builds[0].exists()
    monkeypatch.setattr(_kernels, "_lib", None)
    _kernels.load()
    assert len(builds) == 1
    source.write_text(source.read_text() + "\n// changed\n")
    monkeypatch.setattr(_kernels, "_lib", None)
    _kernels.load()
    assert len(builds) == 2 and builds[1] != builds[0]
    # Nothing half-built or outdated is left behind.
    assert list(builds[0].parent.iterdir()) == [builds[1]]


def test_a_missing_or_failing_compiler_is_a_one_line_error(fresh_source, monkeypatch):
    """The CLI prints a UsageError as one line: what is missing and how to get it."""
    from linkgraph.errors import UsageError
    from linkgraph.scoring import _kernels

    monkeypatch.setenv("CXX", "/nonexistent/c++")
    with pytest.raises(UsageError, match=r"CXX=/nonexistent/c\+\+ was not found: install g\+\+"):
        _kernels.load()
    monkeypatch.setenv("CXX", "false")  # a compiler that fails
    with pytest.raises(UsageError, match=r"could not build its compiled loops: \S*false "
                                         r"exited with 1 \(no message\)"):
        _kernels.load()
    assert list((fresh_source[0].parent / "__pycache__").iterdir()) == []
