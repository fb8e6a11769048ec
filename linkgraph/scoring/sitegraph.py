"""Host and registered-domain graphs: one vote per referring site.

A site with 10,000 pages linking to one page is one endorsement, not 10,000 (the
reason Ahrefs' DR and Majestic count referring domains). So the page graph is
collapsed: node = host (or domain), edge = "some page of A links to some page of B",
counted once, links within a site dropped. PageRank, harmonic centrality, in-degree
(referring hosts/domains) and the 0-100 score are computed on that graph. Referring
domains (other registered domains with a link, followed or not) are counted from every
link row; the followed ones from the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from linkgraph.scoring.graph import Graph, in_edge_graph
from linkgraph.scoring.harmonic import harmonic_centrality
from linkgraph.scoring.options import ScoreOptions
from linkgraph.scoring.pagerank import pagerank
from linkgraph.scoring.scale import log_score
from linkgraph.scoring.spam_mass import relative_spam_mass


@dataclass(frozen=True)
class SiteScores:
    """Metrics of a site graph, one entry per site (aligned with ``sites``)."""

    sites: pa.Array
    table: pa.Table


def collapse(graph: Graph, site_of_node: np.ndarray, n_sites: int) -> Graph:
    """Collapse a page graph onto sites: distinct site pairs, no site self-loops.

    Collapsing the host graph by each host's domain gives the same domain graph as
    collapsing the page graph (pages of different domains are on different hosts), from
    ~50x fewer edges; collapsing the reversed graph gives the reversed site graph. One
    pass over the edges, nodes taken site by site (:func:`_kernels.collapse_rows`).
    """
    from linkgraph.scoring import _kernels

    ptr, ind = _kernels.collapse_rows(graph.adj.indptr, graph.adj.indices,
                                      np.asarray(site_of_node, np.int32), n_sites)
    import scipy.sparse as sp

    adj = sp.csr_array((np.ones(len(ind)), ind, ptr.astype(np.int32) if len(ind) < 2**31
                        else ptr), shape=(n_sites, n_sites))
    return Graph(n=n_sites, adj=adj)


def distinct_in_groups(graph: Graph, group_of_node: np.ndarray) -> np.ndarray:
    """For each node, how many distinct groups (e.g. domains) its in-neighbours span
    (the ``referring_groups`` of :func:`graph.in_edge_graph`)."""
    adj = graph.adj
    src = np.repeat(np.arange(graph.n, dtype=np.int32), np.diff(adj.indptr))
    return in_edge_graph(src, adj.indices, graph.n, groups=group_of_node).referring_groups


def referring_domains(host_src: np.ndarray, host_dst: np.ndarray, dom_of_host: np.ndarray,
                      n_domains: int) -> tuple[np.ndarray, np.ndarray]:
    """Referring domains of each host and each domain, from every link row.

    A referring domain is another registered domain with at least one link row to the
    site, followed or not (the site graphs hold voting rows only: their in-degrees are
    the followed ones).

    Parameters
    ----------
    host_src, host_dst : ndarray of int32
        Host id of each link row's ends.
    dom_of_host : ndarray of int32
        Registered domain of each host.
    n_domains : int

    Returns
    -------
    (ndarray, ndarray) of int64
        Per host, per domain.
    """
    n_hosts = len(dom_of_host)
    rows = in_edge_graph(host_src, host_dst, n_hosts, groups=dom_of_host)
    # The reversed host graph collapsed by domain is the reversed domain graph (no
    # self-loops): its out-degree is each domain's count of distinct other domains.
    by_domain = collapse(Graph(n=n_hosts, adj=rows.reversed()), dom_of_host, n_domains)
    return rows.referring_groups, by_domain.out_degree()


def site_scores(graph: Graph, pages: np.ndarray, sites: pa.Array, options: ScoreOptions,
                name: str, referring: np.ndarray, domain_of_site: np.ndarray | None = None,
                domains: pa.Array | None = None, core: np.ndarray | None = None) -> pa.Table:
    """Score a site graph (see :func:`collapse`).

    Parameters
    ----------
    graph : Graph
        The site graph: distinct site pairs, no self-loops.
    pages : ndarray of int
        Number of pages of each site.
    sites : pyarrow.Array of str
        Name of each site id (a null name is the site of pages without a host).
    options : ScoreOptions
    name : str
        Name of the site column (``host`` or ``domain``).
    referring : ndarray of int
        Referring domains of each site, followed or not (:func:`referring_domains`).
    domain_of_site, domains : ndarray of int and pyarrow.Array, optional
        For a host graph, the registered domain of each host as an index into
        ``domains``. None for a domain graph.
    core : ndarray of bool, optional
        The trusted sites (those holding a seed page): adds ``spam_mass``, the
        estimated relative spam mass of the site's PageRank on this graph
        (:mod:`spam_mass`: TrustRank from the core on the same site graph).

    Returns
    -------
    pyarrow.Table
        One row per site, sorted by PageRank (highest first).
    """
    pr = pagerank(graph.adj, alpha=options.alpha, tol=options.tol, max_iter=options.max_iter)
    harmonic, _exact = harmonic_centrality(graph.adj, exact_max=options.harmonic_exact_max,
                                           samples=options.harmonic_samples, seed=options.seed)
    columns: dict[str, pa.Array | np.ndarray] = {name: sites}
    if domain_of_site is not None and domains is not None:
        columns["domain"] = domains.take(pa.array(domain_of_site))
        followed = distinct_in_groups(graph, domain_of_site)
    else:
        followed = graph.in_degree()
    columns.update({
        "pages": pages,
        "pagerank": pr.scores,
        "authority_score": log_score(pr.scores),
        "harmonic": harmonic,
        # Counts are int64 in every scores table (np.diff of int32 indptr would be int32).
        "in_degree": graph.in_degree().astype(np.int64),
        "out_degree": graph.out_degree().astype(np.int64),
        "referring_domains": np.asarray(referring, np.int64),
        "followed_referring_domains": followed,
    })
    if core is not None:
        trust = pagerank(graph.adj, alpha=options.alpha, personalization=core.astype(float),
                         tol=options.tol, max_iter=options.max_iter)
        columns["spam_mass"] = relative_spam_mass(pr.scores, trust.scores,
                                                  graph.out_degree() == 0, options.alpha,
                                                  options.good_fraction)
    table = pa.table(columns)
    meta = {b"linkgraph.harmonic": b"exact" if _exact else
            f"sampled:{options.harmonic_samples}".encode()}
    table = table.replace_schema_metadata(meta)
    return table.sort_by([("pagerank", "descending")])
