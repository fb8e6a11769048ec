"""PageRank by power iteration, with personalisation (TrustRank) and dangling nodes.

Same model as ``networkx.pagerank``: each node splits its rank over its out-edges in
proportion to their weights; the rank of dangling nodes (no out-edges) is
redistributed by the ``dangling`` vector (default: the personalisation vector); the
walk teleports with probability ``1 - alpha`` by the personalisation vector (default:
uniform)::

    x' = alpha * (A_norm.T @ x + sum(x[dangling]) * d) + (1 - alpha) * p

Stopping rule: stop when ``||x' - x||_1 < tol``. networkx stops at ``N * tol``, a
rule that loosens as the graph grows (at the default 1e-6 it stopped after one
iteration on a 1M-node graph); ours means the same thing on every graph. Because the
iteration contracts by ``alpha`` in L1, the distance left to the fixed point is at
most ``tol * alpha / (1 - alpha)``.

The first steps gather float32 shares (``x / out-degree``), half the memory of the
gather that bounds a step: ~13-30% faster per step on 10M edges here, the more so
when memory is slow. They run while the L1 change is above :data:`FLOAT32_UNTIL`,
a hundred times float32's rounding of a distribution (~1e-7), where the iterate may
still be ~6e-5 from the fixed point: the float64 steps that follow start about as
far from it as all-float64 steps would, and the stopping rule is applied to them, so
the result is as close to the fixed point as an all-float64 run's, in as many steps
(on the shared hollins and UK-hosts graphs and the 10M-edge benchmark graph: the
same steps and the same distance to a tol=1e-15 solution). The rounding also moves
the total a little (1.7e-10 on the benchmark graph), which the steps would only
shrink by alpha each: the vector is rescaled to sum 1 once, at the switch.

Every :data:`EXTRAPOLATE_EVERY` steps the iterate is replaced by the quadratic
extrapolation of the last four (Kamvar, Haveliwala, Manning and Golub, "Extrapolation
methods for accelerating PageRank computations", WWW 2003; :func:`_kernels.extrapolate`):
it removes the two slowest-decaying error components, which plain steps only shrink
by their eigenvalues. Two vector passes (~5 ms at 1M nodes) against a step's ~20 ms;
to the default tolerance it saves 28 of hollins' 97 steps, 28 of the UK host graph's
77 (weighted) and 5 of the benchmark graph's 31. The stopping rule is only ever
applied to a plain step, so its bound holds whatever the iterate the step started from.
Near rounding level a fit can be noise: an extrapolation after which the next step
changes the vector more than the step before it did is the run's last.

The iteration only needs ``A.T @ v``, sums and elementwise products, so it maps onto
any engine: on Spark it is one join of the edge table with the rank table and one
group-by per iteration (see README.md here).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from linkgraph.scoring._spmv import TransposeProduct

if TYPE_CHECKING:
    import scipy.sparse as sp

log = logging.getLogger(__name__)

#: Log progress at most this often (seconds) on long runs.
PROGRESS_EVERY = 2.0
#: Steps gather float32 shares while the L1 change is above this (see module doc).
FLOAT32_UNTIL = 1e-5
#: Plain steps between two quadratic extrapolations (see module doc).
EXTRAPOLATE_EVERY = 6


@dataclass(frozen=True)
class PageRankResult:
    """Scores (sum 1), iterations run, the last L1 change and whether it converged."""

    scores: np.ndarray
    iterations: int
    delta: float
    converged: bool


def _distribution(v: np.ndarray | None, n: int, name: str) -> np.ndarray | None:
    if v is None:
        return None
    v = np.asarray(v, dtype=np.float64)
    if v.shape != (n,) or (v < 0).any() or not np.isfinite(v).all():
        raise ValueError(f"{name} must be {n} non-negative finite numbers")
    total = v.sum()
    if total <= 0:
        raise ValueError(f"{name} sums to zero")
    return v / total


def pagerank(adj: sp.csr_array | TransposeProduct, *, alpha: float = 0.85,
             personalization: np.ndarray | None = None,
             dangling: np.ndarray | None = None, tol: float = 1e-9,
             max_iter: int = 1000, threads: int | None = None) -> PageRankResult:
    """Compute PageRank of a weighted directed graph.

    Parameters
    ----------
    adj : scipy.sparse.csr_array, shape (n, n), or TransposeProduct
        ``adj[u, v]`` = weight of edge u -> v (rows are sources). Pass the
        :class:`TransposeProduct` of the matrix to share its transposed copy between
        several runs (PageRank, TrustRank, HITS on one graph).
    alpha : float
        Damping factor: probability of following a link.
    personalization : ndarray, optional
        Teleport distribution (normalised here). None: uniform. TrustRank is PageRank
        with this set on trusted seeds.
    dangling : ndarray, optional
        Where the rank of dangling nodes goes (normalised). None: ``personalization``
        (networkx's default).
    tol : float
        Stop when the L1 change of the vector is below ``tol`` (see module doc).
    max_iter : int
        Give up after this many iterations (logged as a warning, result returned).
    threads : int, optional
        Threads for the sparse product (default: up to the number of cores).

    Returns
    -------
    PageRankResult
    """
    product = TransposeProduct.of(adj, threads)
    from linkgraph.scoring import _kernels  # loaded by the product

    n = product.n_rows
    if n == 0:
        return PageRankResult(np.zeros(0), 0, 0.0, True)
    p = _distribution(personalization, n, "personalization")
    d = _distribution(dangling, n, "dangling")
    if d is None:
        d = p
    out_w = product.out_weight()
    inv_out = np.zeros(n)
    np.divide(1.0, out_w, out=inv_out, where=out_w != 0)

    # Start from the teleport vector: the fixed point is the same as from uniform
    # (networkx's start), and nodes no seed reaches then stay at exactly 0 trust.
    x = np.full(n, 1.0 / n) if p is None else p.copy()
    # Four iterate buffers in a ring (the last four are what an extrapolation reads)
    # and one fused pass per step (product, both redistributions, the L1 change and
    # the next step's shares): no allocation and no extra vector pass per iteration
    # (a vector pass costs ~1.5 ms at 1M nodes, a tenth of the product).
    ring = [x] + [np.empty(n) for _ in range(3)]
    at = 0  # ring[at] is x
    # float32 shares while the change is large (module doc), then float64 ones.
    single = FLOAT32_UNTIL > tol
    share = (x * inv_out).astype(np.float32 if single else np.float64)
    next_share = np.empty_like(share)
    lost = float(x[inv_out == 0].sum())
    teleport = None if p is None else (1.0 - alpha) * p
    # Per-node terms (personalised teleport, dangling rank sent by a vector) as one
    # vector made before each step; the uniform case is one scalar.
    base = None if d is None else np.empty(n)
    delta = np.inf
    plain_steps = 0  # steps since the start or the last extrapolation
    extrapolating = True
    before_extrapolation = np.inf  # the L1 change before the last extrapolation
    started = last_log = time.monotonic()
    for it in range(1, max_iter + 1):
        add = (1.0 - alpha) / n if p is None else 0.0
        if d is None:
            add += alpha * lost / n
        if base is not None:
            np.multiply(d, alpha * lost, out=base)
            base += add
            if teleport is not None:
                base += teleport
        at = (at + 1) % 4
        y = ring[at]
        delta, lost = product.pagerank_sweep(share, x, y, alpha, add, base, inv_out,
                                             next_share)
        share, next_share = next_share, share
        x = y
        plain_steps += 1
        if single and delta < FLOAT32_UNTIL:
            # The shares' rounding changed the total a little, and the steps only
            # shrink such a change by alpha each: it is put right once, here.
            single = False
            total = float(x.sum())
            x /= total
            lost /= total
            share = x * inv_out
            next_share = np.empty(n)
            continue
        if delta < tol:
            log.debug("pagerank converged: %s iterations, L1 change %.3g", it, delta)
            return PageRankResult(x, it, delta, True)
        if plain_steps == 1 and delta > before_extrapolation:
            # Near rounding level the fit can be noise: one that made the next step
            # change more than the last one did is the last of this run.
            extrapolating = False
            log.debug("pagerank: extrapolation off at step %s (L1 change %.3g after "
                      "%.3g)", it, delta, before_extrapolation)
        if extrapolating and plain_steps >= EXTRAPOLATE_EVERY:
            plain_steps = 0
            oldest = ring[(at + 1) % 4]
            extrapolated_lost = _kernels.extrapolate(oldest, ring[(at + 2) % 4],
                                                     ring[(at + 3) % 4], x, inv_out, oldest)
            if extrapolated_lost >= 0.0:
                at = (at + 1) % 4
                x = oldest
                lost = extrapolated_lost
                np.multiply(x, inv_out, out=share, casting="same_kind")
                before_extrapolation = delta
            else:
                before_extrapolation = np.inf
        now = time.monotonic()
        if now - last_log >= PROGRESS_EVERY:
            log.info("pagerank: iteration %s, L1 change %.3g (%.1f s)", it, delta,
                     now - started)
            last_log = now
    log.warning("pagerank did not converge in %s iterations (L1 change %.3g > tol %.3g)",
                max_iter, delta, tol)
    return PageRankResult(x, max_iter, delta, False)
