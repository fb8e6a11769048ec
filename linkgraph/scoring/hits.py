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

Every ``EXTRAPOLATE_EVERY`` plain steps the iterate is replaced by the quadratic
extrapolation of the last four, as in :mod:`pagerank` (Kamvar et al. 2003): the power
iteration of ``A.T A`` converges like PageRank's, by the ratios of the next
eigenvalues to the first, and the fit removes the two slowest-decaying components.
As there, the stopping rule is only ever applied to a plain step (so it means what
it meant), and an extrapolation after which the next step changes the vector more
than the step before it did is the run's last.
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

#: Plain steps between two extrapolations: on the shared graphs (hollins, polblogs,
#: UK hosts) and the 10M-edge benchmark graph, to tol 1e-9, 10-27 steps where plain
#: steps took 12-95 (every 6 steps, as PageRank: 10-26, but 17 on the benchmark graph
#: against 13).
EXTRAPOLATE_EVERY = 5
#: Extrapolations that made the next step change more than the one before, after
#: which the run extrapolates no more (see the module doc).
MAX_BAD_FITS = 2


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


class HitsSchedule:
    """What the HITS loop does after each power step: leave float32, stop, or
    extrapolate (see the module docstring). The local and the Spark engine both run it,
    so that they take the same steps.

    Per step: :meth:`step` once the step is computed (True: the step ends in a fit if
    it neither switches nor stops, so Spark computes the fit's sums with its change),
    then :meth:`after` with the step's L1 change, and :meth:`fitted` after a fit.
    """

    SWITCH, STOP, EXTRAPOLATE, NEXT = "switch", "stop", "extrapolate", "next"

    def __init__(self, tol: float):
        self.tol = tol
        #: float32 steps while the change is large (the local engine's vectors).
        self.single = FLOAT32_UNTIL > tol
        self.plain_steps = 0
        self.extrapolating = True
        self.bad_fits = 0
        self.before_extrapolation = np.inf

    def step(self) -> bool:
        self.plain_steps += 1
        return self.extrapolating and self.plain_steps >= EXTRAPOLATE_EVERY

    def after(self, delta: float, it: int) -> str:
        if self.single and delta < FLOAT32_UNTIL:
            self.single = False
            self.plain_steps = 0
            return self.SWITCH
        if delta < self.tol:
            return self.STOP
        if self.plain_steps == 1 and delta > self.before_extrapolation:
            self.bad_fits += 1
            self.extrapolating = self.bad_fits < MAX_BAD_FITS
            log.debug("hits: extrapolation at step %s made the change %.3g after %.3g%s",
                      it - 1, delta, self.before_extrapolation,
                      "" if self.extrapolating else ": off")
        if self.extrapolating and self.plain_steps >= EXTRAPOLATE_EVERY:
            self.plain_steps = 0
            return self.EXTRAPOLATE
        return self.NEXT

    def fitted(self, delta: float, ok: bool) -> None:
        """A fit was tried after the step of change ``delta``; ``ok``: it was used."""
        self.before_extrapolation = delta if ok else np.inf


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
    from linkgraph.scoring import _kernels  # loaded by the product

    # float32 vectors while the change is large, then float64 (as in pagerank.py).
    schedule = HitsSchedule(tol)
    # The last four iterates in a ring (what an extrapolation reads), reused buffers.
    ring, h, diff = _ring(n, np.float32 if schedule.single else np.float64)
    at = 0
    a = ring[at]
    a.fill(1.0 / n)
    # The fit's "dangling" rank is PageRank's: no node is dangling here.
    nowhere = np.ones(n)
    fitted = np.empty(n) if schedule.single else None
    delta = np.inf
    started = last_log = time.monotonic()
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        at = (at + 1) % 4
        a_new = ring[at]
        product.transpose(product.forward(a, out=h), out=a_new)
        total = float(a_new.sum(dtype=np.float64))
        if total > 0:
            a_new /= total
        np.subtract(a_new, a, out=diff)
        np.abs(diff, out=diff)
        delta = float(diff.sum(dtype=np.float64))
        a = a_new
        schedule.step()
        action = schedule.after(delta, it)
        if action == schedule.SWITCH:
            ring, h, diff = _ring(n, np.float64)
            at = 0
            ring[0][:] = _normalised(a.astype(np.float64))
            a = ring[0]
            continue
        if action == schedule.STOP:
            converged = True
            break
        if action == schedule.EXTRAPOLATE:
            oldest = (at + 1) % 4
            # Into the oldest iterate itself when float64 (it is read first).
            out = ring[oldest] if a.dtype == np.float64 else fitted
            ok = _kernels.extrapolate(ring[oldest], ring[(at + 2) % 4], ring[(at + 3) % 4], a,
                                      nowhere, out) >= 0.0
            if ok:
                at = oldest
                if out is fitted:
                    ring[at][:] = fitted
                a = ring[at]
            schedule.fitted(delta, ok)
        now = time.monotonic()
        if now - last_log >= PROGRESS_EVERY:
            log.info("hits: iteration %s, L1 change %.3g (%.1f s)", it, delta, now - started)
            last_log = now
    else:
        log.warning("hits did not converge in %s iterations (L1 change %.3g > tol %.3g)",
                    max_iter, delta, tol)
    a = a.astype(np.float64, copy=False)
    return HitsResult(_normalised(product.forward(a)), a, it, delta, converged)


def _ring(n: int, dtype: type) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    # Reused buffers: no allocation per iteration (a node vector freed and allocated
    # again costs its page faults each time).
    return [np.empty(n, dtype) for _ in range(4)], np.empty(n, dtype), np.empty(n, dtype)
