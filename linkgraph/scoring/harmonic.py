"""Harmonic centrality: ``H(v) = sum over u != v of 1 / d(u, v)`` (networkx's definition).

Distances follow edge direction, from every other node *to* ``v``: a site many sites
reach in few clicks is central; unreachable pairs add 0, so it works on disconnected
graphs (unlike closeness).

Exact needs one BFS per node: O(N * M), fine for host graphs of a few thousand hosts
and hopeless at millions. Above ``exact_max`` nodes we sample ``k`` BFS sources
uniformly and scale by ``N / k``: an unbiased estimate (Eppstein & Wang, 2004) whose
relative error falls as ``1 / sqrt(k)``; the sources are drawn from a seeded generator
so a run is reproducible.

The BFS is bit-parallel (multi-source BFS, Then et al., VLDB 2014): 64 sources share one
uint64 word per node, bit ``i`` meaning "source ``i`` has reached this node", and one
level of all 64 searches is one pass over the edges (OR the in-neighbours' words per
node), a compiled loop (:func:`_kernels.harmonic_level`) run on ranges of nodes side by
side. On the 50,000-host graph of the 10M-edge benchmark: 0.67 s for 64 sources
with numpy's gather and ``bitwise_or.reduceat``, ~0.1 s with the loop on two cores.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from linkgraph.scoring.pagerank import PROGRESS_EVERY

if TYPE_CHECKING:
    import scipy.sparse as sp

log = logging.getLogger(__name__)

def harmonic_centrality(adj: sp.csr_array, *, exact_max: int = 2_000, samples: int = 64,
                        seed: int = 0) -> tuple[np.ndarray, bool]:
    """Harmonic centrality of every node, exact or sampled.

    Parameters
    ----------
    adj : scipy.sparse.csr_array, shape (n, n)
        Adjacency, rows are sources; weights are ignored (hop distances).
    exact_max : int
        Exact when ``n <= exact_max``.
    samples : int
        Number of sampled BFS sources otherwise.
    seed : int
        Seed of the source sample.

    Returns
    -------
    centrality : ndarray of float64
    exact : bool
        Whether the values are exact.
    """
    n = adj.shape[0]
    if n == 0:
        return np.zeros(0), True
    exact = n <= exact_max or samples >= n
    if exact:
        sources = np.arange(n)
        scale = 1.0
    else:
        sources = np.sort(np.random.default_rng(seed).choice(n, size=samples, replace=False))
        scale = n / samples
    # Rows = targets: one level pulls the words of every node's in-neighbours.
    import scipy.sparse as sp

    from linkgraph.scoring._spmv import _blocks

    incoming = sp.csr_array(adj, copy=False).T.tocsr()
    indptr, indices = incoming.indptr, incoming.indices
    blocks = _blocks(indptr, min(4, os.cpu_count() or 1))
    total = np.zeros(n)
    started = last_log = time.monotonic()
    with ThreadPoolExecutor(len(blocks), thread_name_prefix="harmonic") as pool:
        for start in range(0, len(sources), 64):
            block = sources[start:start + 64]
            total += _harmonic_block(pool, blocks, indptr, indices, block, n)
            now = time.monotonic()
            if now - last_log >= PROGRESS_EVERY:
                log.info("harmonic: %s/%s BFS sources (%.1f s)", start + len(block),
                         len(sources), now - started)
                last_log = now
    return total * scale, exact


def _harmonic_block(pool: ThreadPoolExecutor, blocks: list[tuple[int, int]],
                    indptr: np.ndarray, indices: np.ndarray, block: np.ndarray,
                    n: int) -> np.ndarray:
    """``sum over s in block of 1/d(s, v)`` for every node ``v``, by one bit-parallel BFS
    over the in-neighbour lists, each level's node ``blocks`` on the ``pool``."""
    from linkgraph.scoring import _kernels

    seen = np.zeros(n, dtype=np.uint64)
    seen[block] = np.left_shift(np.uint64(1), np.arange(len(block), dtype=np.uint64))
    frontier = seen.copy()
    reached = np.empty(n, dtype=np.uint64)
    total = np.zeros(n)
    level = 0
    while True:
        level += 1
        found = sum(pool.map(lambda b: _kernels.harmonic_level(
            indptr, indices, frontier, seen, reached, total, level, *b), blocks))
        if not found:
            return total
        frontier, reached = reached, frontier
