"""Keep peak RSS close to the live data: allocators that hand freed memory back.

Scoring allocates and frees many edge-sized arrays (40-80 MB each at 10M edges). Two
allocator defaults keep that memory mapped after it is freed, so the peak RSS measured
on 10M edges was ~1.07 GB while the live data never exceeded ~600 MB:

- glibc ``malloc`` (numpy's allocator) raises its mmap threshold each time a large
  mmapped block is freed, so later large arrays come from the heap, which is rarely
  trimmed, and blocks freed by one thread stay in that thread's arena. A fixed
  threshold of 1 MiB keeps every array of a node or edge size, and the few-MB buffers
  of an output slice built on a side thread, mmapped (returned to the system when
  freed). On 10M edges: peak 824-826 MiB for all tables and 645-665 MiB for the pages
  table alone, against 961-1009 and 745-771 MiB at 16 MiB, with no measurable cost, because
  the iterations reuse their vectors (an earlier PageRank that allocated every
  iteration paid ~1 s of page faults at 128 KiB).
- Arrow's default mimalloc pool keeps freed pages for reuse; its system pool (malloc,
  so the same threshold) returns them.

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

#: mallopt parameter number of M_MMAP_THRESHOLD (glibc malloc.h).
_M_MMAP_THRESHOLD = -3
#: Blocks at least this large are mmapped, so freeing them returns them to the system.
MMAP_THRESHOLD = 2**20

_mallopt_done = False


def _fix_mmap_threshold() -> None:
    # Process-wide and not undone: a fixed threshold only stops glibc from raising it,
    # which costs other code nothing measurable. Not glibc (musl, macOS): nothing to do.
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
    if not mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD):
        log.debug("mallopt(M_MMAP_THRESHOLD) refused")


@contextmanager
def lean_memory() -> Iterator[None]:
    """Within the block, Arrow allocates from the system pool; malloc's mmap threshold
    is fixed (see the module doc). Arrow's previous default pool is restored after."""
    _fix_mmap_threshold()
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)
