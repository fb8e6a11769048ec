"""linkgraph as a networkx backend: ``nx.pagerank(G, backend="linkgraph")``.

networkx's backend dispatch (entry points ``networkx.backends`` and
``networkx.backend_info`` in ``pyproject.toml``) sends a dispatchable function called
with ``backend="linkgraph"`` (or with linkgraph first in
``nx.config.backend_priority``) here: the graph is converted by
:func:`convert_from_nx` and the function of the same name below runs linkgraph's
compiled kernels (:mod:`linkgraph.scoring`) with networkx's parameters and meaning,
returning what networkx returns: a dict keyed by node.

What is the same as networkx, and what is not:

* ``pagerank``: the same model (weights, personalisation, dangling redistribution,
  self-loops and parallel edges summed as networkx's adjacency matrix has them) and
  networkx's own stopping rule (L1 change below ``N * tol``): both results are then
  within ``N * tol * alpha / (1 - alpha)`` of the fixed point in L1 (linkgraph's
  iteration is extrapolated, so it usually lands closer), and at a tight ``tol`` they
  agree to 1e-9 and better; it raises
  :class:`networkx.PowerIterationFailedConvergence` as networkx does. ``nstart`` is not
  supported (a ``NotImplementedError``).
* ``hits``: networkx computes it by a sparse SVD (ARPACK), linkgraph by power
  iteration to an L1 change below ``min(tol, 1e-10)``; ``max_iter`` is ARPACK's in
  networkx and is not used here (the power iteration runs up to 100,000 steps).
  The vectors agree with networkx's to ~1e-9 on real graphs; on a graph whose top
  singular value is not simple (for example two disconnected identical components)
  HITS has no unique answer and the two may differ. With ``normalized=False`` the
  authority vector has unit length and the hubs are ``A @ a``, as networkx's, but
  always positive (networkx's sign is ARPACK's choice). ``nstart`` is not supported.
* ``harmonic_centrality``: exact, for the whole graph (``nbunch``, ``sources`` and
  ``distance`` are not supported).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import networkx as nx
import numpy as np

__all__ = ["LinkgraphGraph", "can_run", "convert_from_nx", "convert_to_nx",
           "harmonic_centrality", "hits", "pagerank", "should_run"]

#: The algorithms this backend implements (names of networkx's dispatchable functions).
ALGORITHMS = ("pagerank", "hits", "harmonic_centrality")


class LinkgraphGraph:
    """A networkx graph as linkgraph computes on it: nodes in a fixed order and its
    sparse adjacency matrix per edge attribute (rows are sources), built on first use.

    Parallel edges of a multigraph are summed and an undirected edge counts both ways,
    as in :func:`networkx.to_scipy_sparse_array`, which networkx's own algorithms use.
    """

    __networkx_backend__ = "linkgraph"

    def __init__(self, graph: nx.Graph):
        self.graph = graph
        self.nodes: list[Hashable] = list(graph)
        self._adjacency: dict[Any, Any] = {}

    def __len__(self) -> int:
        return len(self.nodes)

    def is_directed(self) -> bool:
        return self.graph.is_directed()

    def is_multigraph(self) -> bool:
        return self.graph.is_multigraph()

    def adjacency(self, weight: str | None):
        """The ``scipy.sparse.csr_array`` of edge weights ``weight`` (None: 1 each).

        The same matrix as :func:`networkx.to_scipy_sparse_array` (each entry the sum of
        the weights of the parallel edges; an undirected edge both ways, a self-loop
        once), read straight from the graph's adjacency dicts: ~4x faster, and a
        networkx call pays that conversion itself on every call.
        """
        if weight not in self._adjacency:
            self._adjacency[weight] = _csr(self.graph, self.nodes, weight)
        return self._adjacency[weight]

    def vector(self, values: dict | None, name: str) -> np.ndarray | None:
        """A dict keyed by node as a vector in node order (missing nodes: 0)."""
        if values is None:
            return None
        vector = np.array([values.get(node, 0) for node in self.nodes], dtype=float)
        if not vector.sum():
            raise ZeroDivisionError(f"{name} sums to zero")
        return vector


def _csr(graph: nx.Graph, nodes: list[Hashable], weight: str | None):
    import scipy.sparse as sp

    n = len(nodes)
    index = {node: i for i, node in enumerate(nodes)}
    adj = graph._adj  # the graph's own dicts: node -> neighbour -> edge data
    counts = np.fromiter((len(adj[u]) for u in nodes), np.int64, n)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    m = int(indptr[-1])
    indices = np.fromiter((index[v] for u in nodes for v in adj[u]), np.int64, m)
    if graph.is_multigraph():
        data = np.fromiter((sum(1.0 if weight is None else d.get(weight, 1) for d in keys.values())
                            for u in nodes for keys in adj[u].values()), float, m)
    elif weight is None:
        data = np.ones(m)
    else:
        data = np.fromiter((d.get(weight, 1) for u in nodes for d in adj[u].values()), float, m)
    matrix = sp.csr_array((data, indices, indptr), shape=(n, n))
    matrix.sort_indices()
    return matrix


def convert_from_nx(graph: nx.Graph, *args: Any, **kwargs: Any) -> LinkgraphGraph:
    """Wrap a networkx graph (the edge attributes are read when an algorithm asks)."""
    return LinkgraphGraph(graph)


def convert_to_nx(obj: Any, *, name: str | None = None) -> Any:
    """Results are already networkx's types (dicts); a wrapped graph gives its graph."""
    return obj.graph if isinstance(obj, LinkgraphGraph) else obj


def can_run(name: str, args: tuple, kwargs: dict) -> bool | str:
    """Whether a call can run here; a string says why not."""
    if name not in ALGORITHMS:
        return f"linkgraph implements only {', '.join(ALGORITHMS)}"
    if kwargs.get("nstart") is not None:
        return "nstart (a starting vector) is not supported"
    if name == "harmonic_centrality":
        for option in ("nbunch", "sources", "distance"):
            if kwargs.get(option) is not None:
                return f"harmonic_centrality's {option} is not supported"
    return True


def should_run(name: str, args: tuple, kwargs: dict) -> bool:
    return True


def _refuse(verdict: bool | str) -> None:
    # With backend="linkgraph" networkx calls the function without asking can_run.
    if verdict is not True:
        raise NotImplementedError(f"the linkgraph backend: {verdict}")


def _dict(graph: LinkgraphGraph, values: np.ndarray) -> dict:
    return dict(zip(graph.nodes, map(float, values)))


def pagerank(G: LinkgraphGraph, alpha: float = 0.85, personalization: dict | None = None,
             max_iter: int = 100, tol: float = 1.0e-6, nstart: dict | None = None,
             weight: str | None = "weight", dangling: dict | None = None,
             **backend_kwargs: Any) -> dict:
    """networkx's :func:`networkx.pagerank`, computed by linkgraph (see the module doc).

    Parameters and the result are networkx's; the iteration is linkgraph's
    (:func:`linkgraph.scoring.pagerank.pagerank`), stopped by networkx's rule.
    """
    from linkgraph.scoring.pagerank import pagerank as run

    _refuse(can_run("pagerank", (), {"nstart": nstart}))
    n = len(G)
    if n == 0:
        return {}
    result = run(G.adjacency(weight), alpha=alpha,
                 personalization=G.vector(personalization, "personalization"),
                 dangling=G.vector(dangling, "dangling"), tol=n * tol, max_iter=max_iter)
    if not result.converged:
        raise nx.PowerIterationFailedConvergence(max_iter)
    return _dict(G, result.scores)


#: Steps the HITS power iteration may take (networkx's max_iter is ARPACK's, not this).
HITS_MAX_STEPS = 100_000


def hits(G: LinkgraphGraph, max_iter: int = 100, tol: float = 1.0e-8,
         nstart: dict | None = None, normalized: bool = True,
         **backend_kwargs: Any) -> tuple[dict, dict]:
    """networkx's :func:`networkx.hits`, computed by linkgraph (see the module doc)."""
    from linkgraph.scoring.hits import hits as run

    _refuse(can_run("hits", (), {"nstart": nstart}))
    if len(G) == 0:
        return {}, {}
    result = run(G.adjacency("weight"), tol=min(tol, 1e-10), max_iter=HITS_MAX_STEPS)
    if not result.converged:
        raise nx.PowerIterationFailedConvergence(HITS_MAX_STEPS)
    hubs, authorities = result.hubs, result.authorities
    if not normalized:
        # networkx's unnormalised authorities are the unit right singular vector and
        # its hubs A @ a (networkx's sign is ARPACK's choice; here it is positive).
        authorities = authorities / np.linalg.norm(authorities)
        hubs = G.adjacency("weight") @ authorities
    return _dict(G, hubs), _dict(G, authorities)


def harmonic_centrality(G: LinkgraphGraph, nbunch: Any = None, distance: Any = None,
                        sources: Any = None, **backend_kwargs: Any) -> dict:
    """networkx's :func:`networkx.harmonic_centrality` (whole graph, hop distances),
    computed exactly by linkgraph's compiled breadth-first searches."""
    from linkgraph.scoring.harmonic import harmonic_centrality as run

    _refuse(can_run("harmonic_centrality", (),
                    {"nbunch": nbunch, "distance": distance, "sources": sources}))
    n = len(G)
    if n == 0:
        return {}
    values, _exact = run(G.adjacency(None), exact_max=n)
    return _dict(G, values)
