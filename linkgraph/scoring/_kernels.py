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
compiles them ahead (:func:`linkgraph.scoring.score.warm_up`).
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
               unit: bool, drop_self: bool, n: int, out_ind: np.ndarray,
               out_data: np.ndarray) -> tuple[np.ndarray, int]:
    """One CSR row per source with each target once, repeated pairs' weights summed.

    ``order`` lists the edge rows of row ``r`` at ``order[indptr[r]:indptr[r+1]]``
    (from :func:`group_rows`); empty when the edge rows are already grouped by source.
    Duplicates are found with a last-seen marker per target (no per-row sort), so
    targets stay in first-appearance order within a row. ``unit``: every weight is 1
    and the output weights are the multiplicities. Writes the first ``w`` entries of
    ``out_ind``/``out_data`` (edge-sized, of the caller's dtypes); returns the indptr
    and ``w``.
    """
    seen = np.full(n, -1, np.int32)
    slot = np.empty(n, np.int32)
    out_ptr = np.zeros(n + 1, np.int64)
    grouped = len(order) == 0
    w = 0
    for r in range(n):
        for k in range(indptr[r], indptr[r + 1]):
            e = k if grouped else order[k]
            c = dst[e]
            if drop_self and c == r:
                continue
            add = 1 if unit else data[e]
            if seen[c] == r:
                out_data[slot[c]] += add
            else:
                seen[c] = r
                slot[c] = w
                out_ind[w] = c
                out_data[w] = add
                w += 1
        out_ptr[r + 1] = w
    return out_ptr, w


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


@njit(cache=True, nogil=True)
def degree_counts(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per node: summed weight in (``in_links``), out (``out_links``) and the number
    of distinct in-neighbours (``referring_pages``) of a CSR with unique pairs."""
    w_in = np.zeros(n, np.int64)
    w_out = np.zeros(n, np.int64)
    refs = np.zeros(n, np.int64)
    for r in range(n):
        total = 0
        for j in range(indptr[r], indptr[r + 1]):
            c = indices[j]
            w = np.int64(data[j])
            w_in[c] += w
            refs[c] += 1
            total += w
        w_out[r] = total
    return w_in, w_out, refs


@njit(cache=True, nogil=True)
def distinct_groups(indptr: np.ndarray, indices: np.ndarray, group: np.ndarray,
                    n_groups: int) -> np.ndarray:
    """For each column, how many distinct ``group``s its rows (in-neighbours) span.

    Rows are visited group by group (a counting sort of the rows by group), so one
    last-seen group per column dedupes without a pair table or a sort: O(rows + edges).
    """
    n = len(indptr) - 1
    first, order = group_rows(group, n_groups)
    n_cols = len(group) if len(indices) == 0 else max(len(group), indices.max() + 1)
    mark = np.full(n_cols, -1, np.int32)
    count = np.zeros(n_cols, np.int64)
    for k in range(n):
        r = order[k]
        g = group[r]
        for j in range(indptr[r], indptr[r + 1]):
            c = indices[j]
            if mark[c] != g:
                mark[c] = g
                count[c] += 1
    return count[:len(group)] if n_cols > len(group) else count


@njit(cache=True, nogil=True)
def collapse_rows(indptr: np.ndarray, indices: np.ndarray, site: np.ndarray, n_sites: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the site graph: site ``s`` -> site ``t`` when a node of ``s`` links to a
    node of ``t`` (``s != t``), each pair once.

    Nodes are visited site by site, so a last-seen source site per target site
    dedupes the pairs as they come: no (site, site) pair array of edge size and no
    sort of one.
    """
    first, order = group_rows(site, n_sites)
    mark = np.full(n_sites, -1, np.int32)
    out_ptr = np.zeros(n_sites + 1, np.int64)
    out_ind = np.empty(min(len(indices), n_sites * n_sites), np.int32)
    w = 0
    for s in range(n_sites):
        for k in range(first[s], first[s + 1]):
            r = order[k]
            for j in range(indptr[r], indptr[r + 1]):
                t = site[indices[j]]
                if t != s and mark[t] != s:
                    mark[t] = s
                    out_ind[w] = t
                    w += 1
        out_ptr[s + 1] = w
    return out_ptr, out_ind[:w].copy()


@njit(cache=True, nogil=True)
def vote_rows(type_code: np.ndarray, votes_type: np.ndarray, redirect_type: np.ndarray,
              canonical_type: np.ndarray, unfollowed: np.ndarray, src: np.ndarray,
              dst: np.ndarray, follow_nofollow: bool, redirects: bool, canonical: bool,
              n: int) -> np.ndarray:
    """Which link rows vote (see ``score.crawl_votes`` for the rules).

    ``type_code`` indexes the per-type flag arrays (-1: null type, which never votes).
    Two passes: rows first, then the rows of sources that redirect or have a
    canonical, which keep only that edge (a redirect beats a canonical).
    """
    m = len(src)
    votes = np.zeros(m, np.bool_)
    takeover = np.zeros(m, np.bool_)
    owner = np.zeros(n, np.bool_)
    redirecting = np.zeros(n, np.bool_)
    for i in range(m):
        t = type_code[i]
        if t < 0:
            continue
        is_redirect = redirect_type[t]
        v = votes_type[t]
        if not follow_nofollow and unfollowed[i] and not is_redirect:
            v = False
        take = False
        if src[i] != dst[i]:
            if redirects and is_redirect:
                take = True
                redirecting[src[i]] = True
            if canonical and canonical_type[t]:
                take = True
                v = True
        if take:
            takeover[i] = True
            owner[src[i]] = True
        votes[i] = v
    for i in range(m):
        if owner[src[i]]:
            t = type_code[i]
            is_redirect_row = takeover[i] and t >= 0 and redirect_type[t]
            votes[i] = (takeover[i] and not redirecting[src[i]]) or is_redirect_row
    return votes
