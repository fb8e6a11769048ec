"""How a scoring run uses the process: malloc's settings and the compiled loops it loads."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys

import numpy as np
import pytest

from linkgraph.scoring import _memory
from scoring_fixtures import fixture_web


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _mallinfo():
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("not glibc 2.33+")
    libc.mallinfo2.restype = _MallInfo2
    return libc.mallinfo2


def test_edge_sized_blocks_are_mmapped_and_smaller_ones_reused():
    """Under lean_memory, a block of 32 MiB or more is mmapped (returned to the system
    when freed) and a node-sized one comes from the heap, where it stays free for the
    next allocation; trim() hands that free memory back."""
    mallinfo = _mallinfo()
    with _memory.lean_memory():
        before = mallinfo().hblkhd
        edge_sized = np.ones(_memory.MMAP_THRESHOLD // 8 + 1)
        assert mallinfo().hblkhd - before >= _memory.MMAP_THRESHOLD
        del edge_sized
        assert mallinfo().hblkhd - before < _memory.MMAP_THRESHOLD

        before = mallinfo().hblkhd
        node_sized = np.ones(1 << 20)  # 8 MiB
        assert mallinfo().hblkhd == before
        del node_sized
        free = mallinfo().fordblks
        assert free >= 8 << 20
        again = np.ones(1 << 20)  # reuses the freed block: the heap's free space shrinks
        assert mallinfo().fordblks <= free - (8 << 20)
        del again
        _memory.trim()
        assert mallinfo().keepcost < 8 << 20


def test_loops_are_loaded_while_the_reads_run(tmp_path):
    """A crawl scored with some options loads every compiled loop variant it calls in
    `warm_up(options)`, which runs beside the Parquet reads: no pass after that waits on
    numba's loader. Checked in a fresh process, by recording numba's compile calls
    (which also load a variant from the disk cache)."""
    root = fixture_web(tmp_path / "crawl")
    code = f"""
import numba.core.dispatcher as d
from linkgraph.scoring import ScoreOptions
from linkgraph.scoring import score

inside = [False]
calls, late = [], []
compile, warm_up = d.Dispatcher.compile, score.warm_up

def spy(self, sig):
    (calls if inside[0] else late).append(self.py_func.__name__)
    return compile(self, sig)

def warm(options=None):
    inside[0] = True
    try:
        warm_up(options)
    finally:
        inside[0] = False

d.Dispatcher.compile, score.warm_up = spy, warm
for options in (ScoreOptions(hits=False, sites=False), ScoreOptions()):
    score.score_crawl({str(root)!r}, options, {str(tmp_path / "out")!r})
print(len(calls), late)
"""
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert got.returncode == 0, got.stderr
    count, late = got.stdout.split(maxsplit=1)
    assert int(count) > 0  # the spy saw the loader at work
    assert late.strip() == "[]"
