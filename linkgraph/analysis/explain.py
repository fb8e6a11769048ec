"""Why a page has its PageRank: the in-links that make it, each with its share.

PageRank (:mod:`linkgraph.scoring.pagerank`, networkx's model) is the fixed point of::

    PR(v) = sum over in-links u -> v of  alpha * PR(u) * w(u, v) / W(u)
            + (1 - alpha) / N                      (teleport)
            + alpha * sum(PR(d) for dangling d) / N  (dangling pages' rank, sent uniformly)

with ``w(u, v)`` the edge's weight and ``W(u)`` the summed weight of ``u``'s
out-edges on the graph ``linkgraph score`` ran on: its link rules applied (which link
types vote, nofollow, redirects, canonicals, self-links, repeats). Each term is one row
of :func:`explain_page`, so the rows add up to ``PR(v)``; the graph is rebuilt by the
scorer's own code (:func:`linkgraph.scoring.score.scoring_graph`) from the parts and
options the score recorded, and ``PR`` is read from ``scores/pages.parquet``. The sum
differs from ``PR(v)`` only by the convergence error of the stored vector: one more
step of the iteration moves it by at most ``alpha`` times the last step's L1 change
(below ``tol``: the stopping rule), the bound the summary prints beside the residual.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa

from linkgraph.analysis.target import parse_url
from linkgraph.errors import UsageError

log = logging.getLogger(__name__)

By = Literal["link", "domain"]
#: Columns of each view (the ``src_spam_mass`` column only when scored with --trusted).
LINK_COLUMNS = ("term", "src_url", "src_domain", "links", "src_pagerank", "weight",
                "src_out_weight", "contribution", "share")
DOMAIN_COLUMNS = ("term", "src_domain", "links", "src_pagerank", "contribution", "share")


@dataclass(frozen=True)
class Explanation:
    """The terms of one page's PageRank.

    Attributes
    ----------
    table : pyarrow.Table
        One row per term (:data:`LINK_COLUMNS` or :data:`DOMAIN_COLUMNS`); its
        ``contribution`` column adds up to ``total``.
    url : str
    pagerank : float
        ``PR(v)`` as stored in ``scores/pages.parquet``.
    total : float
        The sum of the terms: in-links, teleport and dangling.
    bound : float
        ``alpha * delta`` (``delta``: the L1 change of PageRank's last step, below
        ``tol``; ``alpha * tol`` for scores that do not record it): how far one more
        step can move the stored vector in L1, so ``abs(total - pagerank) <= bound``.
    summary : list of str
        Lines for the reader (the check of the sum among them).
    """

    table: pa.Table
    url: str
    pagerank: float
    total: float
    bound: float
    summary: list[str]

    @property
    def residual(self) -> float:
        """``total - pagerank``."""
        return self.total - self.pagerank


def _page_url(text: str) -> str:
    """The URL a TARGET names, as the crawl stores it (an empty path is ``/``)."""
    if "://" not in text:
        raise UsageError(f"explain takes one page's URL (with http:// or https://), not "
                         f"{text.strip()!r}")
    url = parse_url(text)
    parts = urlsplit(url)
    return url if parts.path else parts._replace(path="/").geturl()


def explain_page(crawl_dir: Path | str, url: str, *, by: By = "link",
                 top: int = 50) -> Explanation:
    """The terms of ``url``'s PageRank on the graph ``linkgraph score`` used.

    Parameters
    ----------
    crawl_dir : Path
        A crawl folder (finished, running or killed) scored by ``linkgraph score``.
    url : str
        The page.
    by : {"link", "domain"}
        One row per in-link (its source page), or per referring domain.
    top : int
        At most this many link (or domain) rows, by contribution; the others are
        summed in one ``other links`` (``other domains``) row, so the rows still add
        up to ``PR(url)``. 0: all.

    Returns
    -------
    Explanation

    Notes
    -----
    The contribution of ``u -> v`` is ``alpha * PR(u) * w(u, v) / W(u)``; the teleport
    term ``(1 - alpha) / N`` and the dangling term ``alpha * D / N``, ``D`` the
    summed PageRank of the pages without out-edges in the scoring graph (whose rank
    the walk sends uniformly, as it does teleports). ``share`` is the contribution
    divided by ``PR(v)``.
    """
    from linkgraph.analysis.crawl_views import SCORE_TABLES, open_views
    from linkgraph.scoring.options import ScoreOptions
    from linkgraph.scoring.score import read_scored, scored_parts, scoring_graph
    from linkgraph.storage.url_key import url_key

    if by not in ("link", "domain"):
        raise UsageError(f"--by must be link or domain, not {by!r}")
    page_url = _page_url(url)
    views = open_views(crawl_dir, reader="explain")
    crawl_dir = views.folder.path
    if "page_scores" not in views.scored:
        raise UsageError(f"{crawl_dir} is not scored (no scores/pages.parquet): run "
                         f"`linkgraph score {crawl_dir}` first")
    pages_path = crawl_dir / "scores" / SCORE_TABLES["page_scores"]
    scored = read_scored(pages_path)
    notes = []
    if scored is None:
        notes.append("note: these scores do not record their options (written by an "
                     "older linkgraph): the default link rules are assumed")
        options = ScoreOptions()
    else:
        options = ScoreOptions.from_dict(scored["options"])
    graph_in, edges = scoring_graph(crawl_dir, scored_parts(crawl_dir, scored), options)
    n, keys = graph_in.n, graph_in.keys

    has_mass = "spam_mass" in views.columns("page_scores")
    table = views.query("SELECT url_key, pagerank" + (", spam_mass" if has_mass else "")
                        + " FROM page_scores")
    node = _node_ids(keys, table.column("url_key").to_numpy(), pages_path, crawl_dir)
    pr = np.empty(n)
    pr[node] = table.column("pagerank").to_numpy()
    mass = None
    if has_mass:
        mass = np.empty(n)
        mass[node] = table.column("spam_mass").to_numpy()

    hit = np.flatnonzero(keys == url_key(page_url))
    if not len(hit):
        raise UsageError(f"{page_url} is not a page of the crawl in {crawl_dir}")
    v = int(hit[0])

    alpha = options.alpha
    src = edges.ind[edges.ptr[v]:edges.ptr[v + 1]].astype(np.int64)
    weight = np.ones(len(src)) if edges.data is None else \
        edges.data[edges.ptr[v]:edges.ptr[v + 1]].astype(np.float64)
    out_weight = edges.out_weight[src]
    contribution = alpha * pr[src] * weight / out_weight
    dangling_rank = float(pr[edges.out_weight == 0].sum())
    teleport = (1.0 - alpha) / n
    dangling = alpha * dangling_rank / n
    total = float(contribution.sum()) + teleport + dangling
    target_pr = float(pr[v])

    strings = graph_in.strings()
    src_domain = strings.dom_of_node[src]
    if by == "link":
        rows = _link_rows(src, strings.urls, strings.dom_names, src_domain, pr, weight,
                          out_weight, contribution, mass, top)
    else:
        rows = _domain_rows(strings.dom_names, src_domain, pr[src], contribution, top)
    rows.append({"term": "teleport", "links": 0, "contribution": teleport})
    rows.append({"term": "dangling", "links": 0, "src_pagerank": dangling_rank,
                 "contribution": dangling})
    columns = list(LINK_COLUMNS if by == "link" else DOMAIN_COLUMNS)
    if by == "link" and mass is not None:
        columns.append("src_spam_mass")
    for row in rows:
        row["share"] = row["contribution"] / target_pr if target_pr > 0 else None
    result = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows],
                                  schema=_schema(columns))

    # The stored vector is one step's result: the next step would move it by at most
    # alpha times that step's L1 change (below tol when it converged).
    run = (scored or {}).get("pagerank", {})
    bound = alpha * float(run.get("delta", options.tol))
    if run and not run.get("converged", True):
        notes.append("note: PageRank stopped at --max-iter without converging: the terms "
                     "are those of the stored vector, the bound does not hold")
    domains = len(np.unique(src_domain))
    link_part = float(contribution.sum())
    summary = [
        f"{page_url}: PageRank {target_pr:.6g} ({pages_path}), alpha {alpha}, "
        f"{n} pages, {edges.m} scoring edges",
        f"in-links that vote: {len(src)} from {domains} domain(s), "
        f"{link_part:.6g} ({_percent(link_part, target_pr)}); teleport (1-alpha)/N "
        f"{teleport:.6g} ({_percent(teleport, target_pr)}); dangling alpha*D/N {dangling:.6g} "
        f"({_percent(dangling, target_pr)}), D = {dangling_rank:.6g}",
        f"link rows into the page: {int(edges.in_links[v])} (rows that are no scoring "
        "edge pass nothing: nofollow, resources, dropped by a redirect or canonical)",
        f"check: sum of the terms {total:.12g} - PageRank {target_pr:.12g} = "
        f"{total - target_pr:.3g} (bound: alpha * the last step's L1 change = {bound:.3g})",
    ]
    if mass is not None:
        summary.insert(1, f"estimated relative spam mass of the page: {mass[v]:.4f} "
                          "(1: none of its PageRank from the trusted core; see the README)")
    return Explanation(result, page_url, target_pr, total, bound, summary + notes)


def _node_ids(keys: np.ndarray, file_keys: np.ndarray, pages: Path, crawl_dir: Path
              ) -> np.ndarray:
    """The graph's node id of each row of the pages table, matched by URL key (one
    Arrow hash lookup: a third of the time of a sort and binary search of 1M random
    keys); an error when the table is not the scores of this graph."""
    import pyarrow.compute as pc

    node = pc.index_in(pa.array(file_keys), value_set=pa.array(keys))
    if len(file_keys) != len(keys) or node.null_count:
        raise UsageError(f"{pages} does not hold the scores of {crawl_dir}'s graph "
                         f"({len(file_keys)} rows for {len(keys)} pages): run "
                         f"`linkgraph score {crawl_dir}` again")
    return node.to_numpy()


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole > 0 else "n/a"


def _schema(columns: list[str]) -> pa.Schema:
    kinds = {"term": pa.string(), "src_url": pa.string(), "src_domain": pa.string(),
             "links": pa.int64()}
    return pa.schema([(c, kinds.get(c, pa.float64())) for c in columns])


def _ranked(contribution: np.ndarray, ties: np.ndarray, top: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``top`` largest contributions (ties by ``ties``), and the rest.

    Only the candidates at or above the ``top``-th largest value are sorted (a page
    with 500,000 in-links asks for 50 of them)."""
    count = len(contribution)
    candidates = np.arange(count)
    if 0 < top < count:
        kth = np.partition(contribution, count - top)[count - top]
        candidates = np.flatnonzero(contribution >= kth)
    order = candidates[np.lexsort((ties[candidates], -contribution[candidates]))]
    shown = order if top <= 0 else order[:top]
    rest = np.ones(count, bool)
    rest[shown] = False
    return shown, np.flatnonzero(rest)


def _link_rows(src: np.ndarray, urls: pa.Array, dom_names: pa.Array, src_domain: np.ndarray,
               pr: np.ndarray, weight: np.ndarray, out_weight: np.ndarray,
               contribution: np.ndarray, mass: np.ndarray | None, top: int) -> list[dict]:
    shown, rest = _ranked(contribution, src, top)
    src_urls = urls.take(pa.array(src[shown])).to_pylist()
    domains = dom_names.take(pa.array(src_domain[shown])).to_pylist()
    rows = []
    for i, at in enumerate(shown):
        u = src[at]
        rows.append({"term": "link", "src_url": src_urls[i], "src_domain": domains[i],
                     "links": 1, "src_pagerank": float(pr[u]), "weight": float(weight[at]),
                     "src_out_weight": float(out_weight[at]),
                     "contribution": float(contribution[at]),
                     "src_spam_mass": None if mass is None else float(mass[u])})
    if len(rest):
        rows.append({"term": "other links", "links": len(rest),
                     "src_pagerank": float(pr[src[rest]].sum()),
                     "contribution": float(contribution[rest].sum())})
    return rows


def _domain_rows(dom_names: pa.Array, src_domain: np.ndarray, src_pr: np.ndarray,
                 contribution: np.ndarray, top: int) -> list[dict]:
    codes, group = np.unique(src_domain, return_inverse=True)
    links = np.bincount(group, minlength=len(codes))
    rank = np.bincount(group, weights=src_pr, minlength=len(codes))
    share = np.bincount(group, weights=contribution, minlength=len(codes))
    shown, rest = _ranked(share, codes, top)
    names = dom_names.take(pa.array(codes[shown])).to_pylist()
    rows = [{"term": "domain", "src_domain": names[i], "links": int(links[at]),
             "src_pagerank": float(rank[at]), "contribution": float(share[at])}
            for i, at in enumerate(shown)]
    if len(rest):
        rows.append({"term": "other domains", "links": int(links[rest].sum()),
                     "src_pagerank": float(rank[rest].sum()),
                     "contribution": float(share[rest].sum())})
    return rows
