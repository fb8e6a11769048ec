"""Sparse products ``A @ v`` and ``A.T @ v`` for a fixed CSR ``A``, on all cores.

Both are *pulls* (each output entry sums its own row), run by the compiled loops of
:mod:`_kernels`: ``A @ v`` over ``A``'s rows, ``A.T @ v`` over the rows of the
transpose, built once by a counting sort (one pass over the edges) the first time it
is needed. A graph given as in-edge lists (:meth:`TransposeProduct.from_in_edges`)
already is that transpose; its ``A`` is built only for a forward product. A pull writes every output once, so the rows split into blocks of equal
edge counts, one per thread, with no atomics and no per-thread copies of the result;
when every weight is 1 (the default crawl graph) the weight array is never read.

Threads are plain Python threads calling kernels that release the GIL: a fixed block
split (the same sums in the same order on every run) and no OpenMP workers spinning
against the Parquet decoder that may run beside them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

    from linkgraph.scoring.graph import InEdges

def _vector(v: np.ndarray) -> np.ndarray:
    """A product's input: float32 kept (the early steps of an iteration gather half
    the bytes, see pagerank.py), anything else as float64."""
    v = np.asarray(v)
    return v if v.dtype == np.float32 else np.asarray(v, np.float64)


#: Below this many edges a product takes well under a millisecond: threads only add
#: overhead.
_PARALLEL_MIN_EDGES = 200_000


def _blocks(indptr: np.ndarray, threads: int) -> list[tuple[int, int]]:
    """Row ranges holding about the same number of edges each."""
    n = len(indptr) - 1
    nnz = int(indptr[-1])
    if threads < 2 or nnz < _PARALLEL_MIN_EDGES:
        return [(0, n)]
    cuts = [0, *np.searchsorted(indptr, np.linspace(0, nnz, threads + 1)[1:-1]).tolist(), n]
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


class TransposeProduct:
    """Computes ``adj.T @ v`` (and ``adj @ v``) for a fixed CSR ``adj``.

    Parameters
    ----------
    adj : scipy.sparse.csr_array
        Rows are sources.
    threads : int, optional
        Threads of the products (default: every core, at most 4).
    """

    def __init__(self, adj: sp.csr_array, threads: int | None = None) -> None:
        from linkgraph.scoring import _kernels

        self._k = _kernels
        self._adj: sp.csr_array | None = adj
        self.n_rows, self.n_cols = adj.shape
        data = adj.data
        self.unit = bool(adj.nnz == 0 or (data.strides == (0,) and data[0] == 1)
                         or (data == 1).all())
        # Unit weights are never read: an empty array (a zero-stride view of ones
        # would need a kernel compiled for non-contiguous arrays).
        self.data = np.zeros(0) if self.unit else np.ascontiguousarray(adj.data, np.float64)
        self.threads = max(1, threads or min(4, os.cpu_count() or 1))
        self._rows = _blocks(adj.indptr, self.threads)
        self._t: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._t_rows: list[tuple[int, int]] = []
        self._out_weight: np.ndarray | None = None
        self._in_edges: InEdges | None = None
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def of(cls, adj: sp.csr_array | TransposeProduct, threads: int | None = None
           ) -> TransposeProduct:
        """``adj`` itself when it is already a product (shared between algorithms),
        else the product of the matrix."""
        return adj if isinstance(adj, TransposeProduct) else cls(adj, threads)

    @classmethod
    def from_in_edges(cls, edges: InEdges, threads: int | None = None) -> TransposeProduct:
        """The product of a graph given by its in-edge lists (:func:`graph.in_edge_graph`):
        the transposed CSR is used as it is, and the matrix itself (rows are sources)
        is only built if a forward product asks for it (HITS)."""
        from linkgraph.scoring import _kernels

        self = cls.__new__(cls)
        self._k = _kernels
        self._adj = None
        self._in_edges = edges
        self.n_rows = self.n_cols = edges.n
        self.unit = edges.data is None
        self.data = np.zeros(0)
        self.threads = max(1, threads or min(4, os.cpu_count() or 1))
        self._rows = []
        # int32 offsets like scipy's: forward and transposed products then share one
        # compiled variant of each kernel.
        ptr = edges.ptr.astype(np.int32) if edges.m < 2**31 else edges.ptr
        self._t = (ptr, edges.ind, self.data if self.unit else edges.data)
        self._t_rows = _blocks(ptr, self.threads)
        self._out_weight = edges.out_weight
        self._pool = None
        return self

    @property
    def adj(self) -> sp.csr_array:
        """The matrix (rows are sources)."""
        if self._adj is None:
            self._adj = self._in_edges.forward()
            if not self.unit:
                self.data = self._adj.data
            self._rows = _blocks(self._adj.indptr, self.threads)
        return self._adj

    @property
    def nnz(self) -> int:
        """Number of stored edges."""
        return len(self._t[1]) if self._t is not None else int(self.adj.nnz)

    def out_weight(self) -> np.ndarray:
        """Summed weight of each row (``adj @ 1``): a node's out-weight."""
        if self._out_weight is None:
            self._out_weight = self.forward(np.ones(self.n_rows))
        return self._out_weight

    def _transposed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._t is None:
            adj = self.adj
            ptr, ind, data = self._k.transpose(adj.indptr, adj.indices, self.data, self.unit,
                                               self.n_cols)
            # Same index types as the CSR, so both products share compiled variants.
            self._t = (ptr.astype(adj.indptr.dtype, copy=False), ind, data)
            self._t_rows = _blocks(self._t[0], self.threads)
        return self._t

    def _map(self, blocks: list[tuple[int, int]], kernel: Callable, *args: object) -> list:
        """Run ``kernel(*args, r0, r1)`` on each row block; return the results."""
        if len(blocks) == 1:
            return [kernel(*args, *blocks[0])]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(blocks), thread_name_prefix="spmv")
        futures = [self._pool.submit(kernel, *args, r0, r1) for r0, r1 in blocks]
        return [f.result() for f in futures]

    def transpose(self, v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Return ``adj.T @ v`` (into ``out`` if given; float32 in, float32 out)."""
        ptr, ind, data = self._transposed()
        v = _vector(v)
        out = np.empty(self.n_cols, v.dtype) if out is None else out
        self._map(self._t_rows, self._k.pull, ptr, ind, data, self.unit, v, out)
        return out

    def forward(self, v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Return ``adj @ v`` (into ``out`` if given; float32 in, float32 out)."""
        adj = self.adj
        v = _vector(v)
        out = np.empty(self.n_rows, v.dtype) if out is None else out
        self._map(self._rows, self._k.pull, adj.indptr, adj.indices, self.data, self.unit,
                  v, out)
        return out

    def pagerank_sweep(self, share: np.ndarray, x: np.ndarray, y: np.ndarray, alpha: float,
                       add: float, base: np.ndarray | None, inv_out: np.ndarray,
                       next_share: np.ndarray) -> tuple[float, float]:
        """``y = alpha * adj.T @ share + base`` (``+ add`` without ``base``) and
        ``next_share = y * inv_out`` in one pass; return ``||y - x||_1`` and the sum of
        ``y`` over dangling nodes (see :func:`_kernels.pagerank_sweep`)."""
        ptr, ind, data = self._transposed()
        parts = self._map(self._t_rows, self._k.pagerank_sweep, ptr, ind, data, self.unit,
                          share, x, y, alpha, add, np.zeros(0) if base is None else base,
                          inv_out, next_share)
        return float(sum(p[0] for p in parts)), float(sum(p[1] for p in parts))

    def close(self) -> None:
        """Stop the worker threads and drop the copies this product made (the
        transposed CSR of a matrix, the matrix of in-edge lists) and its references to
        the caller's arrays."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self._t = None
        if self._in_edges is not None:
            self._adj = None
            self._in_edges = None

    def __enter__(self) -> TransposeProduct:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
