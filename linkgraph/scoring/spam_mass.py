"""Spam mass: the share of a node's PageRank that does not come from the trusted core.

Gyöngyi, Berkhin, Garcia-Molina and Pedersen, "Link spam detection based on mass
estimation", VLDB 2006. A node's PageRank ``p`` is the sum of what random walks
started at each node bring it. The walks that start at good nodes bring the good
contribution; the rest is the *spam mass*. Good nodes are not known, a trusted
*core* of them is: the paper estimates the good contribution by the core-based
PageRank ``p' = PR(w)``, PageRank whose random jumps land only on the core, with the
core's jump vector scaled so that it carries ``gamma`` of the jumps, an estimate of
the fraction of good nodes (the core stands for all of them; unscaled, a small core
would make every page look spammy). Then

* estimated absolute spam mass ``M~ = p - p'``;
* estimated relative spam mass ``m~ = (p - p') / p = 1 - p' / p``.

``m~`` is at most 1: 1 when no walk from the core reaches the node (a link farm only
its own pages link to), near 0 when the core's walks bring about what a good node's
PageRank is made of, below 0 when they bring more (the core and the pages it links to
heavily). With ``gamma = |core| / n`` (each core node keeps its own uniform jump
share, no scaling) ``p' <= p`` and ``m~`` is exactly the share of ``p`` that walks
from outside the core bring, in ``[0, 1]``.

Our PageRank (networkx's model, :mod:`pagerank`) sends the rank of dangling nodes
where it sends teleports, so the jump mass per step is ``J = (1 - alpha) + alpha *
sum(p[dangling])``, and ``p = (I - alpha P^T)^-1 (J u)`` with ``u`` uniform. The
TrustRank ``t`` the scorer already computes (teleport and dangling mass to the core,
uniformly) is ``t = (I - alpha P^T)^-1 (J_t c)`` with ``c`` uniform on the core. Both
are one linear map of their jump vectors, so the core-based PageRank with jump
``gamma * J`` spread over the core is a multiple of ``t``::

    p' = t * gamma * J / J_t

No third PageRank is run: the spam mass costs two vector passes.
"""

from __future__ import annotations

import numpy as np


def jump_mass(scores: np.ndarray, dangling: np.ndarray, alpha: float) -> float:
    """Rank that jumps per step of the walk: the teleport ``1 - alpha`` plus what
    leaves the dangling nodes, ``alpha * sum(scores[dangling])``."""
    return (1.0 - alpha) + alpha * float(scores[dangling].sum())


def relative_spam_mass(pagerank: np.ndarray, trust: np.ndarray, dangling: np.ndarray,
                       alpha: float, good_fraction: float) -> np.ndarray:
    """Estimated relative spam mass ``m~ = 1 - p'/p`` of every node (Gyöngyi et al. 2006).

    Parameters
    ----------
    pagerank : ndarray
        PageRank with uniform teleport and dangling vectors (sum 1).
    trust : ndarray
        PageRank of the same graph with teleport and dangling mass sent uniformly to
        the trusted core (TrustRank, sum 1).
    dangling : ndarray of bool
        Nodes without out-edges in the scoring graph.
    alpha : float
        The damping factor both were computed with.
    good_fraction : float
        ``gamma``: the share of the jumps the core stands for (module doc;
        ``ScoreOptions.good_fraction``, 0.85 by default as in the paper).

    Returns
    -------
    ndarray of float64
        ``1 - p'/p`` with ``p' = trust * gamma * J / J_t``: at most 1, 1 for a node no
        walk from the core reaches, negative when the core brings more than ``p``.

    Notes
    -----
    ``J`` and ``J_t`` are the jump masses of the two walks (:func:`jump_mass`); the
    derivation is in the module doc. A node with zero PageRank (only possible on an
    empty teleport) gets 0.
    """
    pagerank = np.asarray(pagerank, np.float64)
    trust = np.asarray(trust, np.float64)
    scale = good_fraction * jump_mass(pagerank, dangling, alpha) \
        / jump_mass(trust, dangling, alpha)
    core_part = np.zeros_like(pagerank)
    np.divide(trust * scale, pagerank, out=core_part, where=pagerank > 0)
    mass = 1.0 - core_part
    mass[pagerank <= 0] = 0.0
    return mass
