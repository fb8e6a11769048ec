"""The scoring stage end to end: Parquet in, score tables out.

``score_crawl`` reads a crawl folder (``DIR/links``, ``DIR/pages``) and writes
``DIR/scores/{pages,hosts,domains}.parquet``; ``score_edges`` scores any Parquet edge
list. Both turn rows into dense ids and a CSR (:mod:`graph`), run the algorithms
(:mod:`pagerank`, :mod:`hits`, :mod:`harmonic`) and write Arrow tables. The crawl's
rules (which links vote, redirects, canonicals) live here, in :func:`crawl_edges`,
and nowhere in the algorithms.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkgraph.errors import UsageError
from linkgraph.scoring._read import file_row_counts, parquet_files, read_columns
from linkgraph.scoring.graph import build_graph, encode_nodes, first_positions
from linkgraph.scoring.hits import hits
from linkgraph.scoring.options import ScoreOptions
from linkgraph.scoring.pagerank import pagerank
from linkgraph.scoring.scale import log_score
from linkgraph.scoring.sitegraph import site_scores
from linkgraph.scoring.trust import crawl_seed_vector, node_seed_vector

log = logging.getLogger(__name__)

#: Columns of DIR/links the scorer reads, with their kinds (see _read.check_columns).
LINK_COLUMNS = {
    "src_key": "int", "dst_key": "int", "src_host": "str", "dst_host": "str",
    "src_domain": "str", "dst_domain": "str", "nofollow": "bool", "sponsored": "bool",
    "ugc": "bool", "link_type": "str",
}
PAGE_COLUMNS = {"url": "str", "url_key": "int", "host": "str", "domain": "str", "status": "int"}
_DICTIONARY = ("src_host", "dst_host", "src_domain", "dst_domain", "link_type", "host", "domain")
_REDIRECT_TYPES = ("redirect", "meta-refresh")


@dataclass(frozen=True)
class ScorePaths:
    """Where ``score_crawl`` wrote its tables."""

    pages: Path
    hosts: Path
    domains: Path


class _Phases:
    """Log each phase's wall time: progress on long runs, and where the time goes."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()

    def done(self, what: str, *args: object) -> None:
        now = time.perf_counter()
        log.info("score: %s in %.2f s (total %.2f s)", what % args if args else what,
                 now - self.last, now - self.started)
        self.last = now


def _np(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.to_numpy(zero_copy_only=False)


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Indices (null -> -1) and dictionary of a dictionary column read as one chunk."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    idx = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return idx, arr.dictionary


def _pick(codes: np.ndarray, dictionary: pa.Array, rows: np.ndarray) -> pa.Array:
    """Strings of a dictionary column at ``rows`` (null where the code is -1)."""
    picked = codes[rows]
    return pc.take(dictionary, pa.array(picked, mask=picked < 0))


def crawl_edges(table: pa.Table, src: np.ndarray, dst: np.ndarray, options: ScoreOptions
                ) -> tuple[np.ndarray, np.ndarray]:
    """Apply the search-engine rules to link rows; return the scoring graph's edges.

    ``table`` holds the link rows (already restricted to http(s) targets) and
    ``src``/``dst`` their dense ids. Rules, each an option: only ``link_types`` vote;
    nofollow/sponsored/ugc links do not (unless ``follow_nofollow``); a URL that
    redirects keeps only its redirect edge (its authority moves to the target); a page
    whose canonical is another URL keeps only its canonical edge.
    """
    link_type = table.column("link_type")
    types = list(options.link_types)
    if not options.redirects:
        types = [t for t in types if t not in _REDIRECT_TYPES]
    votes = _np(pc.is_in(link_type, value_set=pa.array(types, pa.string())))
    if not options.follow_nofollow:
        # rel=nofollow qualifies hyperlinks; redirects and canonicals have no rel.
        unfollowed = _np(pc.or_(pc.or_(table.column("nofollow"), table.column("sponsored")),
                                table.column("ugc")))
        anchorish = ~_np(pc.is_in(link_type, value_set=pa.array(list(_REDIRECT_TYPES))))
        votes &= ~(unfollowed & anchorish)
    takeover = np.zeros(len(src), dtype=bool)
    if options.redirects:
        takeover |= _np(pc.is_in(link_type, value_set=pa.array(list(_REDIRECT_TYPES))))
    if options.canonical:
        canonical = _np(pc.equal(link_type, "canonical")) & (src != dst)
        # A redirect beats a canonical on the same URL (a 3xx has no body to read).
        takeover |= canonical
        votes |= canonical
    takeover &= src != dst
    if takeover.any():
        owners = np.zeros(int(max(src.max(), dst.max())) + 1, dtype=bool)
        owners[src[takeover]] = True
        redirecting = np.zeros_like(owners)
        redirect_rows = takeover & _np(pc.is_in(link_type, value_set=pa.array(list(_REDIRECT_TYPES))))
        redirecting[src[redirect_rows]] = True
        keep_canonical = takeover & ~redirecting[src] | redirect_rows
        votes = np.where(owners[src], keep_canonical, votes)
    return src[votes], dst[votes]


def _link_counts(src: np.ndarray, dst: np.ndarray, src_domain: np.ndarray, n: int
                 ) -> dict[str, np.ndarray]:
    """in_links, out_links, referring_pages and referring_domains of every node."""
    other = src != dst
    s, d, dom = src[other], dst[other], src_domain[other]
    pair = pc.unique(pa.array(s.astype(np.int64) * n + d)).to_numpy()
    n_dom = int(dom.max()) + 2 if len(dom) else 1
    dom_pair = pc.unique(pa.array(d.astype(np.int64) * n_dom + (dom + 1))).to_numpy()
    return {
        "in_links": np.bincount(d, minlength=n),
        "out_links": np.bincount(s, minlength=n),
        "referring_pages": np.bincount(pair % n, minlength=n),
        "referring_domains": np.bincount(dom_pair // n_dom, minlength=n),
    }


def _node_urls(files: list[Path], column: str, rows: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out[i]`` with ``column`` at global link row ``rows[i]``, one file at a time.

    Only the URL column is read, file by file, so at most one part's strings are in
    memory; files holding none of the rows are not read at all.
    """
    counts = file_row_counts(files)
    starts = np.cumsum([0, *counts])
    for i, file in enumerate(files):
        lo, hi = np.searchsorted(rows, [starts[i], starts[i + 1]])
        if lo == hi:
            continue
        col = pq.read_table(file, columns=[column]).column(column)
        out[lo:hi] = col.take(pa.array(rows[lo:hi] - starts[i])).to_numpy(zero_copy_only=False)


def _write(table: pa.Table, path: Path) -> Path:
    """Write atomically: readers never see a half-written table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path


def score_crawl(crawl_dir: Path | str, options: ScoreOptions | None = None,
                out_dir: Path | str | None = None) -> ScorePaths:
    """Score a crawl folder and write its page, host and domain tables.

    Parameters
    ----------
    crawl_dir : Path
        Folder with ``links/`` (required) and ``pages/`` (optional) Parquet parts.
    options : ScoreOptions, optional
    out_dir : Path, optional
        Where to write (default ``crawl_dir/scores``).

    Returns
    -------
    ScorePaths
    """
    options = options or ScoreOptions()
    crawl_dir = Path(crawl_dir)
    if not crawl_dir.is_dir():
        raise UsageError(f"{crawl_dir} is not a folder (expected a crawl folder with links/)")
    if not (crawl_dir / "links").is_dir():
        raise UsageError(f"{crawl_dir} has no links/ folder: is it a crawl folder?")
    out_dir = Path(out_dir) if out_dir else crawl_dir / "scores"
    phases = _Phases()

    link_files = parquet_files(crawl_dir / "links")
    page_files = parquet_files(crawl_dir / "pages", required=False)
    links = read_columns(link_files, LINK_COLUMNS, _DICTIONARY)
    pages = read_columns(page_files, PAGE_COLUMNS, _DICTIONARY) if page_files else None
    phases.done("read %s link rows, %s page rows", links.num_rows,
                pages.num_rows if pages is not None else 0)

    # mailto:, tel:, javascript: targets have no host and are not web pages.
    http = _np(pc.is_valid(links.column("dst_host")))
    http_rows = np.flatnonzero(http)
    links = links.filter(pa.array(http)) if not http.all() else links
    page_keys = pages.column("url_key") if pages is not None else pa.array([], pa.int64())
    (src, dst, page_ids), nodes = encode_nodes(links.column("src_key"), links.column("dst_key"),
                                               page_keys)
    n = len(nodes)
    if n == 0:
        raise UsageError(f"{crawl_dir}: empty graph (no links to web pages and no pages)")
    keys = nodes.to_numpy(zero_copy_only=False)
    phases.done("%s nodes, ids assigned", n)

    src_dom, src_dom_dict = _codes(links.column("src_domain"))
    counts = _link_counts(src, dst, src_dom, n)
    e_src, e_dst = crawl_edges(links, src, dst, options)
    graph = build_graph(e_src, e_dst, n, multiplicity=options.multiplicity,
                        drop_self_loops=options.drop_self_loops)
    phases.done("graph of %s edges built", graph.m)

    # Per-node attributes from the row each node first appears in.
    first = first_positions(np.concatenate([src, dst, page_ids]))
    m_rows = len(src)
    from_src = first < m_rows
    from_dst = (first >= m_rows) & (first < 2 * m_rows)
    from_page = first >= 2 * m_rows
    page_row = np.full(n, -1, dtype=np.int64)
    page_row[page_ids] = np.arange(len(page_ids))  # a URL fetched twice: its last row
    hosts_np = np.empty(n, dtype=object)
    domains_np = np.empty(n, dtype=object)
    for col_prefix, mask, offset in (("src_", from_src, 0), ("dst_", from_dst, m_rows)):
        rows = first[mask] - offset
        for name, target in (("host", hosts_np), ("domain", domains_np)):
            codes, dictionary = _codes(links.column(col_prefix + name))
            target[mask] = _pick(codes, dictionary, rows).to_numpy(zero_copy_only=False)
    urls = np.empty(n, dtype=object)
    status = np.zeros(n, dtype=np.int64)
    status_valid = np.zeros(n, dtype=bool)
    fetched = page_row >= 0
    if pages is not None and fetched.any():
        rows = page_row[fetched]
        urls[fetched] = pages.column("url").take(pa.array(rows)).to_numpy(zero_copy_only=False)
        st = pages.column("status").take(pa.array(rows))
        status[fetched] = st.fill_null(0).to_numpy(zero_copy_only=False)
        status_valid[fetched] = _np(pc.is_valid(st))
        for name, target in (("host", hosts_np), ("domain", domains_np)):
            codes, dictionary = _codes(pages.column(name))
            target[from_page] = _pick(codes, dictionary, page_row[from_page]).to_numpy(
                zero_copy_only=False)
    # URLs of nodes never fetched (or fetched with no pages table): from the link rows.
    for column, mask, offset in (("src_url", from_src, 0), ("dst_url", from_dst, m_rows)):
        need = np.flatnonzero(mask & ~fetched)
        if len(need):
            rows_global = http_rows[first[need] - offset]
            order = np.argsort(rows_global)
            filled = np.empty(len(need), dtype=object)
            _node_urls(link_files, column, rows_global[order], filled)
            urls[need[order]] = filled
    phases.done("node attributes")

    table = _page_table(graph, nodes, urls, hosts_np, domains_np, status, status_valid,
                        counts, options, phases)
    pages_path = _write(table, out_dir / "pages.parquet")
    phases.done("pages.parquet written")

    host_arr = pa.array(hosts_np, pa.string())
    dom_arr = pa.array(domains_np, pa.string())
    coo = graph.adj.tocoo()
    # Domain of each host, in the host table's order (first appearance).
    (host_codes,), host_names = encode_nodes(host_arr)
    host_first = first_positions(host_codes)
    hosts = site_scores(coo.row, coo.col, host_arr, dom_arr.take(pa.array(host_first)),
                        options, "host")
    hosts_path = _write(hosts, out_dir / "hosts.parquet")
    domains = site_scores(coo.row, coo.col, dom_arr, None, options, "domain")
    domains_path = _write(domains, out_dir / "domains.parquet")
    phases.done("hosts.parquet (%s hosts) and domains.parquet (%s domains) written",
                hosts.num_rows, domains.num_rows)
    del host_names
    return ScorePaths(pages_path, hosts_path, domains_path)


def _page_table(graph, nodes, urls, hosts_np, domains_np, status, status_valid, counts,
                options: ScoreOptions, phases: _Phases) -> pa.Table:
    keys = nodes.to_numpy(zero_copy_only=False)
    pr = pagerank(graph.adj, alpha=options.alpha, tol=options.tol, max_iter=options.max_iter)
    phases.done("pagerank: %s iterations", pr.iterations)
    columns: dict[str, object] = {
        "url": pa.array(urls, pa.string()),
        "url_key": keys,
        "host": pa.array(hosts_np, pa.string()),
        "domain": pa.array(domains_np, pa.string()),
        "status": pa.array(status, pa.int32(), mask=~status_valid),
        "pagerank": pr.scores,
        "authority_score": log_score(pr.scores),
    }
    if options.trusted:
        seeds = crawl_seed_vector(options.trusted, keys, columns["host"], columns["domain"])
        trust = pagerank(graph.adj, alpha=options.alpha, personalization=seeds, tol=options.tol,
                         max_iter=options.max_iter)
        columns["trust"] = trust.scores
        columns["trust_score"] = log_score(trust.scores)
        phases.done("trustrank: %s iterations from %s seed pages", trust.iterations,
                    int(seeds.sum()))
    if options.hits:
        h = hits(graph.adj, tol=options.tol, max_iter=options.max_iter)
        columns["hub"] = h.hubs
        columns["authority"] = h.authorities
        phases.done("hits: %s iterations", h.iterations)
    columns.update(counts)
    table = pa.table(columns)
    return table.sort_by([("pagerank", "descending")])


def score_edges(path: Path | str, src: str, dst: str, out: Path | str,
                weight: str | None = None, options: ScoreOptions | None = None) -> Path:
    """Score a Parquet edge list; write one row per node to ``out``.

    Parameters
    ----------
    path : Path
        A Parquet file or a folder of them.
    src, dst : str
        Columns holding edge ends: integers or strings, kept as given in ``node``.
    out : Path
        Output Parquet file.
    weight : str, optional
        Numeric column of edge weights (repeated pairs add up; negative is an error).
    options : ScoreOptions, optional

    Returns
    -------
    Path
        ``out``. Columns: node, pagerank, authority_score, [trust, trust_score],
        [hub, authority], in_links, out_links, referring_pages.
    """
    options = options or ScoreOptions()
    phases = _Phases()
    files = parquet_files(path)
    kinds = {src: "id", dst: "id"}
    if weight:
        kinds[weight] = "num"
    table = read_columns(files, kinds)
    if table.schema.field(src).type != table.schema.field(dst).type and not (
            pa.types.is_integer(table.schema.field(src).type)
            and pa.types.is_integer(table.schema.field(dst).type)):
        raise UsageError(f"{path}: columns {src} and {dst} have different types "
                         f"({table.schema.field(src).type} and {table.schema.field(dst).type})")
    valid = pc.and_(pc.is_valid(table.column(src)), pc.is_valid(table.column(dst)))
    if weight:
        valid = pc.and_(valid, pc.is_valid(table.column(weight)))
    dropped = table.num_rows - pc.sum(valid.cast(pa.int64())).as_py() if table.num_rows else 0
    if dropped:
        log.warning("score: %s edge rows with a null end or weight skipped", dropped)
        table = table.filter(valid)
    if table.num_rows == 0:
        raise UsageError(f"{path}: empty graph (no edges)")
    src_col, dst_col = table.column(src), table.column(dst)
    if pa.types.is_integer(src_col.type) and src_col.type != dst_col.type:
        src_col, dst_col = src_col.cast(pa.int64()), dst_col.cast(pa.int64())
    phases.done("read %s edge rows", table.num_rows)
    (s, d), nodes = encode_nodes(src_col, dst_col)
    n = len(nodes)
    w = None
    if weight:
        w = _np(table.column(weight)).astype(np.float64)
        if (w < 0).any() or not np.isfinite(w).all():
            raise UsageError(f"{path}: column {weight} has negative or non-finite weights")
    del table
    phases.done("%s nodes, ids assigned", n)
    graph = build_graph(s, d, n, w, multiplicity=options.multiplicity,
                        drop_self_loops=options.drop_self_loops)
    phases.done("graph of %s edges built", graph.m)
    other = s != d
    pair = pc.unique(pa.array(s[other].astype(np.int64) * n + d[other])).to_numpy()
    counts = {
        "in_links": np.bincount(d[other], minlength=n),
        "out_links": np.bincount(s[other], minlength=n),
        "referring_pages": np.bincount(pair % n, minlength=n),
    }
    pr = pagerank(graph.adj, alpha=options.alpha, tol=options.tol, max_iter=options.max_iter)
    phases.done("pagerank: %s iterations", pr.iterations)
    columns: dict[str, object] = {"node": nodes, "pagerank": pr.scores,
                                  "authority_score": log_score(pr.scores)}
    if options.trusted:
        seeds = node_seed_vector(options.trusted, nodes)
        trust = pagerank(graph.adj, alpha=options.alpha, personalization=seeds,
                         tol=options.tol, max_iter=options.max_iter)
        columns["trust"] = trust.scores
        columns["trust_score"] = log_score(trust.scores)
        phases.done("trustrank: %s iterations", trust.iterations)
    if options.hits:
        h = hits(graph.adj, tol=options.tol, max_iter=options.max_iter)
        columns["hub"] = h.hubs
        columns["authority"] = h.authorities
        phases.done("hits: %s iterations", h.iterations)
    columns.update(counts)
    out = _write(pa.table(columns).sort_by([("pagerank", "descending")]), Path(out))
    phases.done("%s written", out)
    return out
