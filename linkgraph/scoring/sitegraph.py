"""Host and registered-domain graphs: one vote per referring site.

A site with 10,000 pages linking to one page is one endorsement, not 10,000 (the
reason Ahrefs' DR and Majestic count referring domains). So the page graph is
collapsed: node = host (or domain), edge = "some page of A links to some page of B",
counted once, links within a site dropped. PageRank, harmonic centrality, in-degree
(referring hosts/domains) and the 0-100 score are computed on that graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.scoring.graph import Graph, build_graph, encode_nodes
from linkgraph.scoring.harmonic import harmonic_centrality
from linkgraph.scoring.options import ScoreOptions
from linkgraph.scoring.pagerank import pagerank
from linkgraph.scoring.scale import log_score


@dataclass(frozen=True)
class SiteScores:
    """Metrics of a site graph, one entry per site (aligned with ``sites``)."""

    sites: pa.Array
    table: pa.Table


def collapse(src: np.ndarray, dst: np.ndarray, site_of_node: np.ndarray, n_sites: int) -> Graph:
    """Collapse page edges onto sites: distinct site pairs, no site self-loops."""
    return build_graph(site_of_node[src], site_of_node[dst], n_sites,
                       multiplicity=False, drop_self_loops=True)


def distinct_in_groups(graph: Graph, group_of_node: np.ndarray) -> np.ndarray:
    """For each node, how many distinct groups (e.g. domains) its in-neighbours span."""
    if graph.m == 0:
        return np.zeros(graph.n, dtype=np.int64)
    coo = graph.adj.tocoo()
    groups = int(group_of_node.max()) + 1
    pairs = coo.col.astype(np.int64) * groups + group_of_node[coo.row]
    pairs = pc.unique(pa.array(pairs)).to_numpy()
    return np.bincount(pairs // groups, minlength=graph.n)


def site_scores(src: np.ndarray, dst: np.ndarray, site_of_node: pa.Array,
                domain_of_site: pa.Array | None, options: ScoreOptions,
                name: str) -> pa.Table:
    """Score the site graph induced by page edges ``src -> dst``.

    Parameters
    ----------
    src, dst : ndarray of int
        Page-level edges (dense page ids) of the scoring graph.
    site_of_node : pyarrow.Array of str
        Host (or domain) of every page id; nulls are grouped under null.
    domain_of_site : pyarrow.Array of str, optional
        For a host graph, the registered domain of each host (aligned with the sites
        in order of first appearance in ``site_of_node``). None for a domain graph.
    options : ScoreOptions
    name : str
        Name of the site column (``host`` or ``domain``).

    Returns
    -------
    pyarrow.Table
        One row per site, sorted by PageRank (highest first).
    """
    (codes,), sites = encode_nodes(site_of_node)
    n_sites = len(sites)
    graph = collapse(src, dst, codes, n_sites)
    pr = pagerank(graph.adj, alpha=options.alpha, tol=options.tol, max_iter=options.max_iter)
    harmonic, _exact = harmonic_centrality(graph.adj, exact_max=options.harmonic_exact_max,
                                           samples=options.harmonic_samples, seed=options.seed)
    pages = np.bincount(codes, minlength=n_sites)
    columns: dict[str, pa.Array | np.ndarray] = {name: sites}
    if domain_of_site is not None:
        columns["domain"] = domain_of_site
        (dom_codes,), _ = encode_nodes(domain_of_site.fill_null(""))
        referring_domains = distinct_in_groups(graph, dom_codes)
    else:
        referring_domains = graph.in_degree()
    columns.update({
        "pages": pages,
        "pagerank": pr.scores,
        "authority_score": log_score(pr.scores),
        "harmonic": harmonic,
        "in_degree": graph.in_degree(),
        "out_degree": graph.out_degree(),
        "referring_domains": referring_domains,
    })
    table = pa.table(columns)
    meta = {b"linkgraph.harmonic": b"exact" if _exact else
            f"sampled:{options.harmonic_samples}".encode()}
    table = table.replace_schema_metadata(meta)
    return table.sort_by([("pagerank", "descending")])
