"""HITS hubs and authorities (Kleinberg), normalised to sum 1 like networkx.

The authority vector is the principal right singular vector of the adjacency matrix
``A`` and the hub vector is ``A @ authority``. networkx gets it from ARPACK
(``scipy.sparse.linalg.svds``); here it is the plain power iteration
``a <- A.T @ (A @ a)``, which converges to the same vector when the top singular
value is simple and needs only the two sparse products an engine like Spark also
has. Stopping rule: L1 change of the (sum-normalised) authority vector below ``tol``,
independent of the graph's size. As in :mod:`pagerank`, the first steps run on
float32 vectors until the change falls under ``FLOAT32_UNTIL``, and the rule applies
to the float64 steps after them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from linkgraph.scoring._spmv import TransposeProduct
from linkgraph.scoring.pagerank import FLOAT32_UNTIL, PROGRESS_EVERY

if TYPE_CHECKING:
    import scipy.sparse as sp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HitsResult:
    """Hub and authority scores (each sums to 1, or all 0 on a graph without edges)."""

    hubs: np.ndarray
    authorities: np.ndarray
    iterations: int
    delta: float
    converged: bool


def _normalised(v: np.ndarray) -> np.ndarray:
    total = v.sum()
    return v / total if total > 0 else v


def hits(adj: sp.csr_array | TransposeProduct, *, tol: float = 1e-9, max_iter: int = 1000,
         threads: int | None = None) -> HitsResult:
    """Compute HITS hub and authority scores.

    Parameters
    ----------
    adj : scipy.sparse.csr_array, shape (n, n), or TransposeProduct
        Weighted adjacency, rows are sources (networkx uses edge weights too); or its
        :class:`TransposeProduct`, shared with other runs on the same graph.
    tol : float
        Stop when the L1 change of the authority vector is below ``tol``.
    max_iter : int
        Give up after this many iterations (logged as a warning).
    threads : int, optional
        Threads for the sparse products.

    Returns
    -------
    HitsResult
    """
    product = TransposeProduct.of(adj, threads)
    n = product.n_rows
    if n == 0 or product.nnz == 0:
        zeros = np.zeros(n)
        return HitsResult(zeros, zeros.copy(), 0, 0.0, True)
    # float32 vectors while the change is large, then float64 (as in pagerank.py).
    single = FLOAT32_UNTIL > tol
    a, h, a_new, diff = _vectors(n, np.float32 if single else np.float64, 4)
    a.fill(1.0 / n)
    delta = np.inf
    started = last_log = time.monotonic()
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        product.transpose(product.forward(a, out=h), out=a_new)
        total = float(a_new.sum(dtype=np.float64))
        if total > 0:
            a_new /= total
        np.subtract(a_new, a, out=diff)
        np.abs(diff, out=diff)
        delta = float(diff.sum(dtype=np.float64))
        a, a_new = a_new, a
        if single and delta < FLOAT32_UNTIL:
            single = False
            a = _normalised(a.astype(np.float64))
            h, a_new, diff = _vectors(n, np.float64, 3)
            continue
        if delta < tol:
            converged = True
            break
        now = time.monotonic()
        if now - last_log >= PROGRESS_EVERY:
            log.info("hits: iteration %s, L1 change %.3g (%.1f s)", it, delta, now - started)
            last_log = now
    else:
        log.warning("hits did not converge in %s iterations (L1 change %.3g > tol %.3g)",
                    max_iter, delta, tol)
    a = a.astype(np.float64, copy=False)
    return HitsResult(_normalised(product.forward(a)), a, it, delta, converged)


def _vectors(n: int, dtype: type, count: int) -> tuple[np.ndarray, ...]:
    # Reused buffers: no allocation per iteration (a node vector freed and allocated
    # again costs its page faults each time).
    return tuple(np.empty(n, dtype) for _ in range(count))
