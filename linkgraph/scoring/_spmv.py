"""``A.T @ v`` for a CSR ``A``, split over threads (scipy's kernels release the GIL).

One sparse product over 10M edges costs ~20 ms and is bound by random reads into the
vector; on two cores two row blocks run side by side. The blocks are views into the
CSR arrays (only ``indptr`` is copied), so the split costs no edge memory.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

#: Below this many edges a product takes well under a millisecond: threads only add
#: overhead.
_PARALLEL_MIN_EDGES = 500_000


class TransposeProduct:
    """Callable computing ``adj.T @ v`` (and ``adj @ v``) for a fixed CSR ``adj``."""

    def __init__(self, adj: sp.csr_array, threads: int | None = None) -> None:
        self.adj = adj
        n_threads = threads or min(4, os.cpu_count() or 1)
        if adj.nnz < _PARALLEL_MIN_EDGES or n_threads < 2:
            self.blocks = [(0, adj.shape[0], adj)]
            self.pool = None
            return
        # Cut rows so that each block holds about the same number of edges.
        targets = np.linspace(0, adj.nnz, n_threads + 1)[1:-1]
        cuts = [0, *np.searchsorted(adj.indptr, targets).tolist(), adj.shape[0]]
        self.blocks = []
        for r0, r1 in zip(cuts[:-1], cuts[1:]):
            if r1 <= r0:
                continue
            a, b = adj.indptr[r0], adj.indptr[r1]
            block = sp.csr_array((adj.data[a:b], adj.indices[a:b], adj.indptr[r0:r1 + 1] - a),
                                 shape=(r1 - r0, adj.shape[1]))
            self.blocks.append((r0, r1, block))
        self.pool = ThreadPoolExecutor(len(self.blocks), thread_name_prefix="spmv")

    def transpose(self, v: np.ndarray) -> np.ndarray:
        """Return ``adj.T @ v``."""
        if self.pool is None:
            return self.adj.T @ v
        parts = [self.pool.submit(lambda blk=blk, r0=r0, r1=r1: blk.T @ v[r0:r1])
                 for r0, r1, blk in self.blocks]
        out = parts[0].result()
        for part in parts[1:]:
            out += part.result()
        return out

    def forward(self, v: np.ndarray) -> np.ndarray:
        """Return ``adj @ v``."""
        if self.pool is None:
            return self.adj @ v
        out = np.empty(self.adj.shape[0])
        futures = [(r0, r1, self.pool.submit(blk.__matmul__, v)) for r0, r1, blk in self.blocks]
        for r0, r1, fut in futures:
            out[r0:r1] = fut.result()
        return out

    def close(self) -> None:
        """Stop the worker threads."""
        if self.pool is not None:
            self.pool.shutdown()

    def __enter__(self) -> TransposeProduct:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
