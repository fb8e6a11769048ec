"""Compiled loops over edge arrays (numba): CSR building and sparse products.

Why compiled loops and not scipy: on a 10M-edge graph a scipy product ``A.T @ x`` is a
scatter (``y[col] += w * x[row]``) that also streams the 80 MB float64 weight array,
and building the CSR sorts every row. A pull over the transposed structure
(``y[v] = sum of x[u] over in-edges``) writes each output once, runs on all cores
without atomics, and skips the weights when they are all 1 (the default graph): on
this machine 11 ms instead of 20-28 ms per product on 7.2M edges (benchmarks/). A
counting sort builds a CSR in one pass over the edges instead of a sort per row.

The functions are compiled on first use and cached on disk (``cache=True``): the first
``linkgraph score`` after an install pays a few seconds once; ``scripts/setup.sh``
compiles them ahead (:func:`warm_up`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _offsets(keys: np.ndarray, n: int) -> np.ndarray:
    """``ptr[k]`` = number of ``keys`` below ``k`` (``ptr[n]`` = all): a CSR indptr."""
    ptr = np.zeros(n + 1, np.int64)
    for i in range(len(keys)):
        ptr[keys[i] + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    return ptr


@njit(cache=True, nogil=True)
def group_rows(src: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Counting sort of edge rows by ``src``: return ``indptr`` and the stable order."""
    indptr = _offsets(src, n)
    pos = indptr[:-1].copy()
    order = np.empty(len(src), np.int64)
    for i in range(len(src)):
        s = src[i]
        order[pos[s]] = i
        pos[s] += 1
    return indptr, order


@njit(cache=True, nogil=True)
def merge_rows(indptr: np.ndarray, order: np.ndarray, dst: np.ndarray, data: np.ndarray,
               unit: bool, drop_self: bool, n: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One CSR row per source with each target once, repeated pairs' weights summed.

    ``order`` lists the edge rows of row ``r`` at ``order[indptr[r]:indptr[r+1]]``
    (from :func:`group_rows`); empty when the edge rows are already grouped by source.
    Duplicates are found with a last-seen marker per target (no per-row sort), so
    targets stay in first-appearance order within a row. ``unit``: every weight is 1
    and the output weights are the multiplicities.
    """
    seen = np.full(n, -1, np.int64)
    slot = np.empty(n, np.int64)
    out_ptr = np.zeros(n + 1, np.int64)
    out_ind = np.empty(len(dst), np.int32)
    out_data = np.empty(len(dst), np.float64)
    grouped = len(order) == 0
    w = 0
    for r in range(n):
        for k in range(indptr[r], indptr[r + 1]):
            e = k if grouped else order[k]
            c = dst[e]
            if drop_self and c == r:
                continue
            add = 1.0 if unit else data[e]
            if seen[c] == r:
                out_data[slot[c]] += add
            else:
                seen[c] = r
                slot[c] = w
                out_ind[w] = c
                out_data[w] = add
                w += 1
        out_ptr[r + 1] = w
    return out_ptr, out_ind[:w].copy(), out_data[:w].copy()


@njit(cache=True, nogil=True)
def transpose(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, unit: bool,
              n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of the transpose by a counting sort (``unit``: weights all 1, not copied;
    the returned data is then empty). Each output row's indices come out sorted."""
    n_rows = len(indptr) - 1
    tptr = _offsets(indices, n_cols)
    pos = tptr[:-1].copy()
    tind = np.empty(len(indices), np.int32)
    tdata = np.empty(0 if unit else len(indices), np.float64)
    for r in range(n_rows):
        for j in range(indptr[r], indptr[r + 1]):
            c = indices[j]
            p = pos[c]
            tind[p] = r
            if not unit:
                tdata[p] = data[j]
            pos[c] = p + 1
    return tptr, tind, tdata


@njit(cache=True, nogil=True, inline="always")
def _row_sum(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, unit: bool,
             x: np.ndarray, r: int) -> float:
    acc = 0.0
    if unit:
        for j in range(indptr[r], indptr[r + 1]):
            acc += x[indices[j]]
    else:
        for j in range(indptr[r], indptr[r + 1]):
            acc += data[j] * x[indices[j]]
    return acc


@njit(cache=True, nogil=True)
def pull(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, unit: bool,
         x: np.ndarray, y: np.ndarray, r0: int, r1: int) -> None:
    """``y[r] = sum of data[j] * x[indices[j]]`` over row ``r`` (``unit``: weights 1),
    for rows ``r0 <= r < r1``."""
    for r in range(r0, r1):
        y[r] = _row_sum(indptr, indices, data, unit, x, r)


@njit(cache=True, nogil=True)
def pagerank_sweep(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, unit: bool,
                   share: np.ndarray, x: np.ndarray, y: np.ndarray, alpha: float,
                   add: float, dcoef: float, dvec: np.ndarray, tvec: np.ndarray,
                   r0: int, r1: int) -> float:
    """One PageRank step over rows ``r0..r1`` of the transposed CSR; return their L1
    change.

    ``y[v] = alpha * (in-edge sum of share) + add + dcoef * dvec[v] + tvec[v]``, where
    an empty ``dvec``/``tvec`` means that term is absent (uniform parts are in ``add``).
    """
    use_d = len(dvec) > 0
    use_t = len(tvec) > 0
    delta = 0.0
    for v in range(r0, r1):
        val = alpha * _row_sum(indptr, indices, data, unit, share, v) + add
        if use_d:
            val += dcoef * dvec[v]
        if use_t:
            val += tvec[v]
        y[v] = val
        delta += abs(val - x[v])
    return delta


@njit(cache=True, nogil=True)
def spread(x: np.ndarray, inv_out: np.ndarray, share: np.ndarray, r0: int, r1: int) -> float:
    """``share = x * inv_out`` on ``r0..r1``; return the rank held there by dangling
    nodes (``inv_out == 0``)."""
    lost = 0.0
    for v in range(r0, r1):
        s = inv_out[v]
        share[v] = x[v] * s
        if s == 0.0:
            lost += x[v]
    return lost


def warm_up() -> None:
    """Compile (or load from the cache) every kernel on a 3-node graph."""
    src = np.array([0, 0, 1, 2], np.int32)
    dst = np.array([1, 1, 2, 0], np.int32)
    ones = np.ones(4)
    for data, unit in ((ones, True), (ones, False)):
        indptr, order = group_rows(src, 3)
        ptr, ind, w = merge_rows(indptr, order, dst, data, unit, True, 3)
        tptr, tind, tw = transpose(ptr, ind, w, unit, 3)
        x, y = np.full(3, 1 / 3), np.empty(3)
        pull(tptr, tind, tw, unit, x, y, 0, 3)
        share = np.empty(3)
        spread(x, np.ones(3), share, 0, 3)
        empty = np.zeros(0)
        pagerank_sweep(tptr, tind, tw, unit, share, x, y, 0.85, 0.05, 0.0, empty, empty, 0, 3)
        pagerank_sweep(tptr, tind, tw, unit, share, x, y, 0.85, 0.05, 0.1, x, x, 0, 3)

