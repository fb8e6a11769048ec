"""A crawl's graph as ``score`` sees it, at page, host or domain level, for other tools.

``score`` builds its graph and throws it away; exports and ``to_networkx`` need the
same graph kept: the same rows read (the one reader's committed parts), built by the
scorer's own :func:`~linkgraph.scoring.score.scoring_graph` (link types, nofollow,
redirects, canonicals, self-loops dropped), each edge weighted by how many link rows
make it. Host and domain graphs sum the page edges between two sites and drop a
site's links to itself, as the site tables' scores do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from linkgraph.errors import UsageError
from linkgraph.scoring.crawl_input import committed_parts
from linkgraph.scoring.options import ScoreOptions

LEVELS = ("page", "host", "domain")


@dataclass(frozen=True)
class CrawlGraph:
    """A weighted directed graph of a crawl on dense ids.

    Attributes
    ----------
    level : str
        ``page``, ``host`` or ``domain``.
    names : pyarrow.Array
        The node names by id: URLs, host names or registered domains.
    adj : scipy.sparse.csr_array
        ``adj[u, v]``: the number of link rows from u to v that vote under the scoring
        rules (rows are sources, each row's targets sorted).
    status : pyarrow.Array or None
        Page level: each node's HTTP status (null when never fetched).
    """

    level: str
    names: pa.Array
    adj: sp.csr_array
    status: pa.Array | None = None

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.names)

    @property
    def m(self) -> int:
        """Number of distinct edges."""
        return int(self.adj.nnz)


def crawl_graph(crawl_dir: Path | str, level: str = "page",
                options: ScoreOptions | None = None, *, partial: bool = False) -> CrawlGraph:
    """Read a crawl folder's scoring graph at one level.

    Parameters
    ----------
    crawl_dir : Path
        A crawl folder (``links/``, ``pages/``, ``nodes/``).
    level : {"page", "host", "domain"}
        Pages (every http(s) URL of the graph, fetched or not), hosts, or registered
        domains.
    options : ScoreOptions, optional
        The link rules, as given to ``score`` (default: score's defaults).
    partial : bool
        Read a damaged folder's whole batches instead of refusing it.

    Returns
    -------
    CrawlGraph
        Edge weights count link rows (repeats included); self-loops are dropped.
    """
    from linkgraph.scoring.score import scoring_graph

    if level not in LEVELS:
        raise UsageError(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}")
    options = options or ScoreOptions()
    crawl_dir = Path(crawl_dir)
    if not (crawl_dir / "links").is_dir():
        raise UsageError(f"{crawl_dir} has no links/ folder: is it a crawl folder?")
    # The scorer's graph with every voting row counted (the weights are link rows).
    graph_in, edges = scoring_graph(crawl_dir, committed_parts(crawl_dir, partial=partial),
                                    replace(options, multiplicity=True, drop_self_loops=True))
    adj = edges.forward()
    strings = graph_in.strings()
    if level == "page":
        status = pa.array(graph_in.status, pa.int32(), mask=~graph_in.status_valid)
        return CrawlGraph("page", strings.urls, adj, status)
    site_of_node, names = ((strings.host_of_node, strings.host_names) if level == "host"
                           else (strings.dom_of_node, strings.dom_names))
    return CrawlGraph(level, names, _collapse(adj, site_of_node, len(names)))


def _collapse(adj: sp.csr_array, site_of_node: np.ndarray, n_sites: int) -> sp.csr_array:
    """Sum page edges onto site pairs (``S^T A S`` for the node-to-site indicator S),
    without a site's edges to itself."""
    n = adj.shape[0]
    member = sp.csr_array((np.ones(n), (np.arange(n), np.asarray(site_of_node))),
                          shape=(n, n_sites))
    sites = (member.T @ adj @ member).tocsr()
    sites.setdiag(0)
    sites.eliminate_zeros()
    sites.sort_indices()
    return sites
