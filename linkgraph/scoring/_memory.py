"""Allocator settings for scoring: freed memory reused, peak RSS near the live data.

Scoring allocates and frees many arrays: edge-sized ones (40-80 MB each at 10M edges),
node-sized ones (4-8 MB at 1M nodes) and many short-lived buffers (decoded row groups,
table slices being encoded). glibc ``malloc`` (numpy's allocator, and Arrow's system
pool) is tuned here, once per process, with three settings:

- One arena (``M_ARENA_MAX``). Each pass runs on threads of its own, and by default
  each thread allocates from an arena of its own: memory one pass freed was of no use
  to the next, and stayed mapped (peak RSS ~1.07 GB on 10M edges while the live data
  never exceeded ~600 MB).
- Blocks of 32 MiB and more are mmapped (``M_MMAP_THRESHOLD``, fixed so that glibc
  does not raise it as blocks are freed): the edge-sized arrays go back to the system
  when freed, so the peak stays near the live data.
- Smaller blocks come from the heap, which keeps up to 256 MiB free at its top
  (``M_TRIM_THRESHOLD``): a node-sized vector or a slice's buffer freed by one pass is
  reused by the next instead of being returned and faulted in again. A page the
  process touches for the first time costs a fault and the kernel's zeroing; on this
  project's virtual machines (freed memory is reported to the host) that was 11-15% of
  a run's CPU. With a 1 MiB threshold and an arena per thread (the previous settings)
  a 10M-edge pages table took ~220K page faults; with these, ~80K, and its write went
  from 0.45 to 0.34 s (best of 10), for ~40 MB more peak RSS.

Arrow allocates from its system pool (malloc, so the same settings); its default
mimalloc pool purges and re-faults what it frees, which measured worse here.
Measured figures: benchmarks/score_scale.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa

log = logging.getLogger(__name__)

#: mallopt parameter numbers (glibc malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
#: Blocks at least this large are mmapped, so freeing them returns them to the system.
MMAP_THRESHOLD = 32 * 2**20
#: Free memory the heap keeps at its top for reuse before trimming.
TRIM_THRESHOLD = 256 * 2**20
#: Arenas: one, shared by every thread (see the module doc).
ARENA_MAX = 1

_mallopt_done = False
_malloc_trim = None


def _tune_malloc() -> None:
    # Process-wide and not undone (the settings suit any code that allocates large
    # arrays), and early: threads that already have an arena keep it. Not glibc (musl,
    # macOS): nothing to do.
    global _mallopt_done
    if _mallopt_done:
        return
    _mallopt_done = True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
        gnu = getattr(libc, "gnu_get_libc_version", None)
    except OSError:
        return
    if mallopt is None or gnu is None:
        return
    global _malloc_trim
    _malloc_trim = getattr(libc, "malloc_trim", None)
    for name, param, value in (("M_ARENA_MAX", _M_ARENA_MAX, ARENA_MAX),
                               ("M_MMAP_THRESHOLD", _M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                               ("M_TRIM_THRESHOLD", _M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        if not mallopt(param, value):
            log.debug("mallopt(%s) refused", name)


@contextmanager
def lean_memory() -> Iterator[None]:
    """Within the block, Arrow allocates from the system pool; malloc is tuned (see the
    module doc). Arrow's previous default pool is restored after."""
    _tune_malloc()
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def trim() -> None:
    """Hand the heap's free memory back to the system: before the phase of a run whose
    live data is the largest (HITS), so that memory kept for reuse does not add to the
    peak (~60 MB on 10M edges)."""
    if _malloc_trim is not None:
        _malloc_trim(0)
