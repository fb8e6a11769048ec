"""Compiled loops over edge arrays: graph building, sparse products, sorting, and
``linkgraph diff``'s link matching (:func:`link_order`, :func:`match_links`,
:func:`count_pairs`).

Why compiled loops and not scipy: on a 10M-edge graph a scipy product ``A.T @ x`` is a
scatter (``y[col] += w * x[row]``) that also streams the 80 MB float64 weight array,
and building a CSR sorts every row. A pull over in-edge lists
(``y[v] = sum of x[u] over in-edges``) writes each output once, runs on all cores
without atomics, and skips the weights when they are all 1 (the default graph): on
this machine 9-12 ms per product on 10M edges on two cores (float32 / float64
vectors), against 20-28 ms for scipy's scatter. A counting sort by target builds those
lists in one pass over the edges, and the same passes give every link count.

The loops are C++ (``_kernels.cpp``), built once per install by the machine's C++
compiler (``CXX``, else ``c++``; ~1.5 s; ``scripts/setup.sh`` does it ahead) into
``__pycache__`` beside this file (or ``~/.cache/linkgraph`` when that is read-only),
for this CPU, with no fast-math and no FMA contraction (every sum in the order
written: the same bits on every run and any thread count). They are called through
ctypes, which releases the GIL for the length of a call, so Python threads run them
side by side on ranges of rows. Loading the library takes ~3 ms: they were numba
functions before, whose start (its import, its cache load, its runtime's compile)
took 0.25-0.44 s of CPU under the GIL while the Parquet reads needed both cores
(benchmarks/score_scale.md).

Each function takes and returns numpy arrays; the array types pick the compiled
instance (int32 or int64 offsets and indices, float32 or float64 vectors).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from linkgraph.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

SOURCE = Path(__file__).with_name("_kernels.cpp")
#: Compiler flags: the loops are built for the CPU they run on (like a JIT), and no
#: flag may reorder floating-point sums (see the module doc).
FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-std=c++17", "-fPIC", "-shared")

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None

_P, _I8, _F8, _B = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double, ctypes.c_bool
_SUFFIX = {np.dtype(np.int32): "i4", np.dtype(np.int64): "i8",
           np.dtype(np.float32): "f4", np.dtype(np.float64): "f8"}


def _compiler() -> str:
    named = os.environ.get("CXX")
    compiler = shutil.which(named) if named else shutil.which("c++") or shutil.which("g++")
    if not compiler:
        found = f"CXX={named} was not found" if named else "none was found"
        raise UsageError(f"linkgraph builds its compiled loops once with a C++ "
                         f"compiler, and {found}: install g++ (Debian: apt-get install "
                         f"g++) or set CXX")
    return compiler


def _cpu() -> str:
    """What ``-march=native`` depends on: the CPU's flags."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return next((line for line in info if line.startswith("flags")), "")
    except OSError:
        return os.uname().machine


def library_path() -> Path:
    """Where this source, built with these flags for this CPU, lives."""
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode()
                         + _cpu().encode()).hexdigest()[:16]
    name = f"_kernels.{key}.so"
    cache = SOURCE.parent / "__pycache__"
    try:
        cache.mkdir(exist_ok=True)
        if os.access(cache, os.W_OK) or (cache / name).exists():
            return cache / name
    except OSError:
        pass
    return Path.home() / ".cache" / "linkgraph" / name


def _build(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Built under a name of its own, then renamed: a process loading the library
    # never sees half a file, and two processes building at once both succeed.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    command = [_compiler(), *FLAGS, "-o", str(tmp), str(SOURCE)]
    try:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            said = " ".join(done.stderr.split()[-40:]) or "no message"
            raise UsageError(f"linkgraph could not build its compiled loops: "
                             f"{command[0]} exited with {done.returncode} ({said}); "
                             f"install g++ or set CXX to a working C++17 compiler")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    # Builds of an older source (before an upgrade) are of no further use; a process
    # that still has one loaded keeps its mapping.
    for old in path.parent.glob("_kernels.*.so"):
        if old != path:
            old.unlink(missing_ok=True)


def load() -> ctypes.CDLL:
    """The compiled library, built first if this install has not built it yet."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                path = library_path()
                if not path.exists():
                    _build(path)
                _lib = _declare(ctypes.CDLL(str(path)))
    return _lib


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Argument and result types of every exported function."""
    def sig(name: str, restype: object, *argtypes: object) -> None:
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = list(argtypes)

    for c in ("i4", "i8"):
        sig(f"count_targets_{c}", None, _P, _P, _P, _I8, _B, _P, _P, _I8, _I8)
        sig(f"scatter_targets_{c}", None, _P, _P, _P, _I8, _P, _I8, _B, _P, _P, _P, _I8, _I8)
        sig(f"dedupe_targets_{c}", _I8, _P, _P, _P, _I8, _B, _P, _I8, _I8, _I8, _I8, _P, _P,
            _I8, _P, _P, _P, _P)
    for p in ("i4", "i8"):
        for i in ("i4", "i8"):
            sig(f"transpose_{p}_{i}", None, _P, _P, _I8, _P, _B, _I8, _I8, _P, _P, _P)
            for x in ("f4", "f8"):
                for y in ("f4", "f8"):
                    sig(f"pull_{p}_{i}_{x}_{y}", None, _P, _P, _P, _B, _P, _P, _I8, _I8)
                sig(f"pagerank_sweep_{p}_{i}_{x}", None, _P, _P, _P, _B, _P, _P, _P, _F8, _F8,
                    _P, _I8, _P, _P, _I8, _I8, _P)
            sig(f"collapse_rows_{p}_{i}", _I8, _P, _P, _P, _I8, _I8, _P, _P)
            sig(f"harmonic_level_{p}_{i}", _I8, _P, _P, _P, _P, _P, _P, _I8, _I8, _I8)
    sig("extrapolate", _F8, _P, _P, _P, _P, _P, _P, _I8)
    sig("order_descending", None, _P, _I8, _P)
    sig("vote_rows", None, _P, _P, _P, _P, _P, _P, _P, _I8, _B, _B, _B, _I8, _P)
    sig("strtab_new", _P)
    sig("strtab_free", None, _P)
    for c in ("i4", "i8"):
        sig(f"strtab_add_{c}", _I8, _P, _P, _P, _I8, _P)
    sig("first_appearance", _I8, _P, _I8, _P, _P, _I8)
    sig("strtab_export", _I8, _P, _P, _I8, _P, _P)
    sig("strtab_bytes", _I8, _P)
    sig("link_order", _I8, _P, _P, _P, _P, _I8, _I8, _P)
    sig("match_links", _I8, *[_P] * 8, _I8, _I8, *[_P] * 8, _I8, _I8, _P, _I8, _P, _P, _P, _P)
    sig("count_pairs", None, _P, _P, _I8, _I8, _P, _I8, _I8, _P, _I8, _P)
    return lib


def _in(a: np.ndarray, dtype: type | None = None) -> np.ndarray:
    """An input array, C-contiguous (and of ``dtype``): a view when it already is."""
    return np.ascontiguousarray(a, dtype)


def _out(a: np.ndarray, dtype: type | None = None) -> np.ndarray:
    """An array the loop writes: it must be written in place, so it must already fit."""
    if not (a.flags.c_contiguous and a.flags.writeable) or (dtype and a.dtype != dtype):
        raise TypeError(f"output array must be writable, C-contiguous"
                        f"{f' {np.dtype(dtype)}' if dtype else ''}; got {a.dtype} {a.flags}")
    return a


def _ptr(a: np.ndarray) -> int | None:
    return a.ctypes.data


def _kind(*arrays: np.ndarray) -> str:
    try:
        return "_".join(_SUFFIX[a.dtype] for a in arrays)
    except KeyError:
        raise TypeError(f"no compiled loop for {[str(a.dtype) for a in arrays]}") from None


def _index(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR offsets and indices as int32 or int64 arrays (other integer types widened)."""
    def one(a: np.ndarray) -> np.ndarray:
        return _in(a) if a.dtype in (np.int32, np.int64) else _in(a, np.int64)
    return one(indptr), one(indices)


def _vec(a: np.ndarray) -> np.ndarray:
    return _in(a) if a.dtype in (np.float32, np.float64) else _in(a, np.float64)


def count_targets(src: np.ndarray, dst: np.ndarray, vote: np.ndarray, drop_self: bool,
                  counts: np.ndarray, out_links: np.ndarray, i0: int, i1: int) -> None:
    """Over rows ``i0..i1``: add the rows kept per target (at ``counts[v + 1]``) and
    the link rows out of each node (self-links are never links; a self-loop row is
    kept only when it votes and ``drop_self`` is False). The caller's zeroed arrays
    are int32 below 2**31 rows: half the memory for an increment at a random target
    per row."""
    src, dst, vote = _in(src, np.int32), _in(dst, np.int32), _in(vote, np.bool_)
    _out(counts), _out(out_links, counts.dtype)
    getattr(load(), f"count_targets_{_kind(counts)}")(
        _ptr(src), _ptr(dst), _ptr(vote), len(vote), drop_self, _ptr(counts),
        _ptr(out_links), i0, i1)


def scatter_targets(src: np.ndarray, dst: np.ndarray, vote: np.ndarray, weight: np.ndarray,
                    drop_self: bool, pos: np.ndarray, ind: np.ndarray, data: np.ndarray,
                    i0: int, i1: int) -> None:
    """Write the source of each kept row ``i0..i1`` at ``pos[target]`` (advanced), as
    ``~source`` when the row does not vote, and its weight into ``data`` if any."""
    src, dst, vote = _in(src, np.int32), _in(dst, np.int32), _in(vote, np.bool_)
    weight = _in(weight, np.float64)
    _out(pos), _out(ind, np.int32), _out(data, np.float64)
    getattr(load(), f"scatter_targets_{_kind(pos)}")(
        _ptr(src), _ptr(dst), _ptr(vote), len(vote), _ptr(weight), len(weight), drop_self,
        _ptr(pos), _ptr(ind), _ptr(data), i0, i1)


def dedupe_targets(start: np.ndarray, ind: np.ndarray, data: np.ndarray, mode: int,
                   one_marker: bool, group: np.ndarray, n_groups: int, v0: int, v1: int,
                   ptr: np.ndarray, out_count: np.ndarray, in_links: np.ndarray,
                   referring: np.ndarray, referring_groups: np.ndarray,
                   followed_groups: np.ndarray) -> int:
    """Deduplicate the sources of targets ``v0..v1`` (scattered at
    ``ind[start[v]:start[v+1]]``), compacting them in place from ``start[v0]``; return
    where the block ends. ``ptr[v + 1]`` gets each target's end.

    ``mode``: 0 a repeated pair is one edge of weight 1, 1 its weight counts its rows,
    2 it sums their ``data``. ``one_marker``: every row votes and there are no
    self-loops, so "first link from s" and "first edge from s" are one test.
    ``out_count`` gets the weight of the edges out of each source in modes 0 and 1,
    a whole number (the caller's int32 array for this range of targets: half the
    memory of a float64 one for an increment at a random source per edge, 20-30%
    of this pass); in mode 2 the caller sums the weights in one pass. Per target:
    ``in_links`` (link rows), ``referring`` (distinct sources) and
    ``referring_groups`` (their distinct groups other than the target's own; 0
    without ``group``), ``followed_groups`` (the same, of voting rows only). A last-seen
    marker per source and per group: no sort and no hash table.
    """
    start, group = _in(start, np.int64), _in(group, np.int32)
    _out(ind, np.int32), _out(data, np.float64), _out(ptr, np.int64), _out(out_count)
    for a in (in_links, referring, referring_groups, followed_groups):
        _out(a, np.int64)
    return int(getattr(load(), f"dedupe_targets_{_kind(out_count)}")(
        _ptr(start), _ptr(ind), _ptr(data), mode, one_marker, _ptr(group), len(group),
        n_groups, v0, v1, _ptr(ptr), _ptr(out_count), len(out_count), _ptr(in_links),
        _ptr(referring), _ptr(referring_groups), _ptr(followed_groups)))


def transpose(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, unit: bool,
              n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of the transpose by a counting sort (``unit``: weights all 1, not copied;
    the returned data is then empty). Each output row's indices come out sorted."""
    indptr, indices = _index(indptr, indices)
    data = _in(data, np.float64)
    m = len(indices)
    tptr = np.empty(n_cols + 1, np.int64)
    tind = np.empty(m, np.int32)
    tdata = np.empty(0 if unit else m, np.float64)
    getattr(load(), f"transpose_{_kind(indptr, indices)}")(
        _ptr(indptr), _ptr(indices), m, _ptr(data), unit, len(indptr) - 1, n_cols,
        _ptr(tptr), _ptr(tind), _ptr(tdata))
    return tptr, tind, tdata


def pull(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, unit: bool,
         x: np.ndarray, y: np.ndarray, r0: int, r1: int) -> None:
    """``y[r] = sum of data[j] * x[indices[j]]`` over row ``r`` (``unit``: weights 1),
    for rows ``r0 <= r < r1``; float32 or float64 in and out, summed in float64."""
    indptr, indices = _index(indptr, indices)
    data, x = _in(data, np.float64), _vec(x)
    _out(y)
    getattr(load(), f"pull_{_kind(indptr, indices, x, y)}")(
        _ptr(indptr), _ptr(indices), _ptr(data), unit, _ptr(x), _ptr(y), r0, r1)


def pagerank_sweep(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, unit: bool,
                   share: np.ndarray, x: np.ndarray, y: np.ndarray, alpha: float,
                   add: float, base: np.ndarray, inv_out: np.ndarray,
                   next_share: np.ndarray, r0: int, r1: int) -> tuple[float, float]:
    """One PageRank step over rows ``r0..r1`` of the transposed CSR.

    ``y[v] = alpha * (in-edge sum of share) + base[v]``, or ``+ add`` when ``base`` is
    empty (uniform teleport and dangling rank); then the next step's
    ``next_share[v] = y[v] * inv_out[v]``. Returns the L1 change of these rows and
    the rank their dangling nodes (``inv_out == 0``) hold. (One per-node term, not
    one per kind: a second conditional vector term made the loop ~1.6x slower.)
    """
    indptr, indices = _index(indptr, indices)
    data, share = _in(data, np.float64), _vec(share)
    x, base, inv_out = _in(x, np.float64), _in(base, np.float64), _in(inv_out, np.float64)
    _out(y, np.float64), _out(next_share, share.dtype)
    result = np.empty(2)
    getattr(load(), f"pagerank_sweep_{_kind(indptr, indices, share)}")(
        _ptr(indptr), _ptr(indices), _ptr(data), unit, _ptr(share), _ptr(x), _ptr(y),
        alpha, add, _ptr(base), len(base), _ptr(inv_out), _ptr(next_share), r0, r1,
        _ptr(result))
    return float(result[0]), float(result[1])


def extrapolate(x0: np.ndarray, x1: np.ndarray, x2: np.ndarray, x3: np.ndarray,
                inv_out: np.ndarray, out: np.ndarray) -> float:
    """Quadratic extrapolation of four successive PageRank iterates ``x0..x3``
    (Kamvar, Haveliwala, Manning, Golub 2003), normalised to sum 1, into ``out``
    (which may be ``x0``: the second pass reads only ``x1..x3``).

    Fits the polynomial ``g0 + g1 z + g2 z^2 + z^3`` with ``g0 + g1 + g2 + 1 = 0``
    that best annihilates the differences ``x1 - x0, x2 - x0, x3 - x0`` (least squares,
    by the 2x2 normal equations), then combines ``x1..x3`` with its coefficients:
    the two slowest-decaying error components are removed. Returns the rank the
    result puts on dangling nodes (``inv_out == 0``), or -1.0 when the differences
    do not determine the fit (nearly parallel, or not finite): ``out`` is then left
    as it was.
    """
    xs = [_in(x, np.float64) for x in (x0, x1, x2, x3)]
    inv_out = _in(inv_out, np.float64)
    _out(out, np.float64)
    if not all(len(x) == len(out) for x in (*xs, inv_out)):
        raise ValueError("extrapolate: vectors of different lengths")
    return float(load().extrapolate(*map(_ptr, xs), _ptr(inv_out), _ptr(out), len(out)))


def order_descending(values: np.ndarray) -> np.ndarray:
    """The stable order of non-negative floats, largest first (ties in index order).

    An LSD radix sort on the bit patterns, which order non-negative doubles like their
    values: four passes of 16 bits, a pass skipped when one digit holds every value.
    ~0.04 s for 1M values against 0.12 s for ``np.argsort(-values, kind="stable")``.
    """
    values = _in(values, np.float64)
    order = np.empty(len(values), np.int64)
    load().order_descending(_ptr(values), len(values), _ptr(order))
    return order


def collapse_rows(indptr: np.ndarray, indices: np.ndarray, site: np.ndarray, n_sites: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the site graph: site ``s`` -> site ``t`` when a node of ``s`` links to a
    node of ``t`` (``s != t``), each pair once.

    Nodes are visited site by site, so a last-seen source site per target site
    dedupes the pairs as they come: no (site, site) pair array of edge size and no
    sort of one.
    """
    indptr, indices = _index(indptr, indices)
    site = _in(site, np.int32)
    out_ptr = np.empty(n_sites + 1, np.int64)
    out_ind = np.empty(min(len(indices), n_sites * n_sites), np.int32)
    w = getattr(load(), f"collapse_rows_{_kind(indptr, indices)}")(
        _ptr(indptr), _ptr(indices), _ptr(site), len(site), n_sites, _ptr(out_ptr),
        _ptr(out_ind))
    return out_ptr, out_ind[:w].copy()


def vote_rows(type_code: np.ndarray, votes_type: np.ndarray, redirect_type: np.ndarray,
              canonical_type: np.ndarray, unfollowed: np.ndarray, src: np.ndarray,
              dst: np.ndarray, follow_nofollow: bool, redirects: bool, canonical: bool,
              n: int) -> np.ndarray:
    """Which link rows vote (see ``score.crawl_votes`` for the rules).

    ``type_code`` indexes the per-type flag arrays (-1: null type, which never votes).
    Two passes: rows first, then the rows of sources that redirect or have a
    canonical, which keep only that edge (a redirect beats a canonical).
    """
    type_code = _in(type_code, np.int16)
    flags = [_in(a, np.bool_) for a in (votes_type, redirect_type, canonical_type, unfollowed)]
    src, dst = _in(src, np.int32), _in(dst, np.int32)
    votes = np.empty(len(src), np.bool_)
    load().vote_rows(_ptr(type_code), *map(_ptr, flags), _ptr(src), _ptr(dst), len(src),
                     follow_nofollow, redirects, canonical, n, _ptr(votes))
    return votes


def harmonic_level(indptr: np.ndarray, indices: np.ndarray, frontier: np.ndarray,
                   seen: np.ndarray, reached: np.ndarray, total: np.ndarray, level: int,
                   v0: int, v1: int) -> int:
    """One level of the bit-parallel BFS of :mod:`harmonic` for nodes ``v0..v1``.

    Over the in-neighbour lists (``indptr``/``indices``): ``reached[v]`` = the
    sources first reaching ``v`` at this level (the OR of its in-neighbours'
    ``frontier`` words, less ``seen[v]``), added to ``seen[v]``, and ``total[v]``
    grows by their number over ``level``. Each node is written by one call, and
    ``frontier`` only read, so ranges of nodes run side by side. Returns how many
    nodes were reached.
    """
    indptr, indices = _index(indptr, indices)
    frontier = _in(frontier, np.uint64)
    _out(seen, np.uint64), _out(reached, np.uint64), _out(total, np.float64)
    return int(getattr(load(), f"harmonic_level_{_kind(indptr, indices)}")(
        _ptr(indptr), _ptr(indices), _ptr(frontier), _ptr(seen), _ptr(reached),
        _ptr(total), level, v0, v1))


class StringTable:
    """One copy of each distinct string, numbered in order of insertion.

    A C++ hash table (64-bit hashes checked against the stored bytes) that lives across
    calls, so a column read batch by batch is numbered against one table: only the
    distinct strings are kept, once. :meth:`close` frees it.
    """

    def __init__(self) -> None:
        self._lib = load()
        self._table: int | None = self._lib.strtab_new()
        self.size = 0

    def add(self, strings: pa.Array, out: np.ndarray | None = None) -> np.ndarray:
        """The ids (int32) of ``strings`` (a string or large_string array without
        nulls), adding the new ones; written into ``out`` (int32, contiguous, of their
        length) when given, which is returned."""
        import pyarrow as pa

        width = np.int64 if pa.types.is_large_string(strings.type) else np.int32
        buffers = strings.buffers()
        n = len(strings)
        offsets = np.frombuffer(buffers[1], width)[strings.offset:strings.offset + n + 1] \
            if n else np.zeros(1, width)
        data = buffers[2]
        ids = np.empty(n, np.int32) if out is None else _out(out, np.int32)
        if len(ids) != n:
            raise ValueError(f"out has {len(ids)} rows for {n} strings")
        size = getattr(self._lib, f"strtab_add_{_SUFFIX[np.dtype(width)]}")(
            self._table, _ptr(offsets), data.address if data is not None and data.size else None,
            n, _ptr(ids))
        if size < 0:
            raise UsageError("more than 2**31 - 1 distinct node identifiers")
        self.size = size
        return ids

    def total_bytes(self) -> int:
        """Bytes of all the strings. Once called, :meth:`strings` only reads the table:
        threads may call it side by side."""
        return int(self._lib.strtab_bytes(self._table))

    def strings(self, order: np.ndarray, large: bool) -> pa.Array:
        """The strings of ids ``order``, in that order (string, or large_string)."""
        import pyarrow as pa

        order = _in(order, np.int32)
        offsets = np.empty(len(order) + 1, np.int64)
        total = self._lib.strtab_export(self._table, _ptr(order), len(order), _ptr(offsets), None)
        data = np.empty(max(total, 1), np.uint8)
        self._lib.strtab_export(self._table, _ptr(order), len(order), _ptr(offsets), _ptr(data))
        if not large and total < 2**31:
            return pa.StringArray.from_buffers(len(order), pa.py_buffer(offsets.astype(np.int32)),
                                               pa.py_buffer(data))
        return pa.LargeStringArray.from_buffers(len(order), pa.py_buffer(offsets),
                                                pa.py_buffer(data))

    def close(self) -> None:
        if self._table is not None:
            self._lib.strtab_free(self._table)
            self._table = None

    def __del__(self) -> None:
        self.close()


def first_appearance(ids: np.ndarray, remap: np.ndarray, order: np.ndarray, next_id: int) -> int:
    """Renumber ``ids`` (int32, in place) in order of first appearance, continuing from
    ``next_id``: ``remap[p]`` (-1 until seen) is ``p``'s new id and ``order[new] = p``.
    Returns the next new id."""
    _out(ids, np.int32), _out(remap, np.int32), _out(order, np.int32)
    return load().first_appearance(_ptr(ids), len(ids), _ptr(remap), _ptr(order), next_id)


def link_order(src: np.ndarray, dst: np.ndarray, type_code: np.ndarray, ordinal: np.ndarray,
               n_nodes: int) -> np.ndarray | None:
    """The rows of a links table sorted by ``(src, dst, type_code, ordinal, row)``
    (int32 row numbers), or None when an id is outside ``0..n_nodes-1``.

    A counting sort by source, then each source's rows sorted by the rest: on 10M
    rows ~0.3 s, against ~1.5 s for ``np.lexsort`` of the four columns."""
    src, dst = _in(src, np.int32), _in(dst, np.int32)
    type_code, ordinal = _in(type_code, np.int16), _in(ordinal, np.int32)
    if not len(src) == len(dst) == len(type_code) == len(ordinal):
        raise ValueError("link_order: columns of different lengths")
    if len(src) >= 2**31:
        raise ValueError("link_order: rows are numbered in int32")
    order = np.empty(len(src), np.int32)
    done = load().link_order(_ptr(src), _ptr(dst), _ptr(type_code), _ptr(ordinal), len(src),
                             n_nodes, _ptr(order))
    return order if done == 0 else None


class LinkSide:
    """One crawl's links for :func:`match_links`: ids, type codes, their
    :func:`link_order`, the compared flags (one byte a row) and the anchor texts as
    buffers of an Arrow string column (``offsets`` int32 or int64 of n + 1, ``data``
    bytes, ``valid`` bool or None when none is null)."""

    def __init__(self, src: np.ndarray, dst: np.ndarray, type_code: np.ndarray,
                 order: np.ndarray, flags: np.ndarray, offsets: np.ndarray, data: np.ndarray,
                 valid: np.ndarray | None):
        n = len(src)
        self.src, self.dst = _in(src, np.int32), _in(dst, np.int32)
        self.type_code, self.order = _in(type_code, np.int16), _in(order, np.int32)
        self.flags = _in(flags, np.uint8)
        self.offsets = _in(offsets) if offsets.dtype in (np.int32, np.int64) else \
            _in(offsets, np.int64)
        # One byte at least: the loop reads no byte of an empty string, but gets a pointer.
        self.data = _in(data, np.uint8) if len(data) else np.zeros(1, np.uint8)
        self.valid = None if valid is None else _in(valid, np.bool_)
        if not (len(self.dst) == len(self.type_code) == len(self.order) == len(self.flags)
                == n and len(self.offsets) == n + 1
                and (self.valid is None or len(self.valid) == n)):
            raise ValueError("match_links: columns of different lengths")
        if n and (self.offsets[0] < 0 or self.offsets[-1] > len(self.data)):
            raise ValueError("match_links: anchor offsets outside the data")

    def args(self, part: tuple[int, int] | None = None) -> list[int | None]:
        """The loop's arguments, for the links ``order[part[0]:part[1]]`` (all)."""
        a, b = part if part is not None else (0, len(self.order))
        if not 0 <= a <= b <= len(self.order):
            raise ValueError(f"match_links: part {part} of {len(self.order)} rows")
        return [_ptr(self.src), _ptr(self.dst), _ptr(self.type_code),
                _ptr(self.order) + 4 * a, _ptr(self.flags), _ptr(self.offsets),
                _ptr(self.data), None if self.valid is None else _ptr(self.valid),
                int(self.offsets.dtype == np.int64), b - a]


def match_links(old: LinkSide, new: LinkSide, moved: np.ndarray,
                old_part: tuple[int, int] | None = None,
                new_part: tuple[int, int] | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Match OLD's links with NEW's in one merge pass over their :func:`link_order`.

    The k-th of OLD's rows with one ``(src, dst, type)`` is the k-th of NEW's (links
    are a multiset: two equal links on a page are two); ``old_part`` and ``new_part``
    (positions in each link order, all by default) match only those links, which
    must start and end at a change of source for the occurrences to be counted
    right. Returns ``kind`` (int8: 0 a
    row of OLD only, 2 of NEW only, 1 a pair whose flags or anchor text differ or
    whose target has ``moved`` set), ``old_row`` and ``new_row`` (-1 on the side
    without one) and ``occurrence`` (1-based), in link order. Pairs that are the same
    are not returned.
    """
    moved = _in(moved, np.bool_)
    for side in (old, new):
        if len(side.dst) and int(side.dst.max()) >= len(moved):
            raise ValueError("match_links: a target id beyond `moved`")
    lib = load()
    o_args, n_args = old.args(old_part), new.args(new_part)
    cap = max(1024, (o_args[-1] + n_args[-1]) // 16)
    while True:
        kind = np.empty(cap, np.int8)
        rows = np.empty((3, cap), np.int32)
        w = lib.match_links(*o_args, *n_args, _ptr(moved), cap, _ptr(kind),
                            _ptr(rows[0]), _ptr(rows[1]), _ptr(rows[2]))
        if w <= cap:
            return kind[:w], rows[0, :w], rows[1, :w], rows[2, :w]
        cap = w


def count_pairs(src: np.ndarray, dst: np.ndarray, group: np.ndarray, n_groups: int,
                pairs: np.ndarray, i0: int = 0, i1: int | None = None) -> np.ndarray:
    """For each key ``a * n_groups + b`` of ``pairs`` (int64, distinct), the rows
    ``i0..i1`` of ``(src, dst)`` whose ``(group[src], group[dst])`` is ``(a, b)``
    (a group of -1 never counts)."""
    src, dst, group = _in(src, np.int32), _in(dst, np.int32), _in(group, np.int32)
    pairs = _in(pairs, np.int64)
    if len(src) != len(dst):
        raise ValueError("count_pairs: columns of different lengths")
    i1 = len(src) if i1 is None else i1
    if n_groups <= 0 or len(pairs) and (pairs.min() < 0 or pairs.max() >= n_groups * n_groups):
        raise ValueError("count_pairs: a pair outside the groups")
    if len(group) and (group.max() >= n_groups):
        raise ValueError("count_pairs: a group id beyond n_groups")
    counts = np.empty(len(pairs), np.int64)
    load().count_pairs(_ptr(src), _ptr(dst), i0, i1, _ptr(group), len(group), n_groups,
                       _ptr(pairs), len(pairs), _ptr(counts))
    return counts
