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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import scipy.sparse as sp

from linkgraph.errors import UsageError
from linkgraph.scoring._memory import lean_memory
from linkgraph.scoring._read import (check_columns, file_row_counts, may_have_nulls,
                                     parquet_files, read_columns, read_numpy)
from linkgraph.scoring._spmv import TransposeProduct
from linkgraph.scoring.graph import Graph, build_graph, edge_rows, encode_nodes
from linkgraph.scoring.hits import hits
from linkgraph.scoring.options import ScoreOptions
from linkgraph.scoring.pagerank import pagerank
from linkgraph.scoring.scale import log_score
from linkgraph.scoring.sitegraph import collapse, distinct_in_groups, site_scores
from linkgraph.scoring.trust import crawl_seed_vector, node_seed_vector

log = logging.getLogger(__name__)

#: Columns of DIR/links the scorer reads, with their kinds (see _read.check_columns).
LINK_COLUMNS = {
    "src_key": "int", "dst_key": "int", "src_host": "str", "dst_host": "str",
    "src_domain": "str", "dst_domain": "str", "nofollow": "bool", "sponsored": "bool",
    "ugc": "bool", "link_type": "str",
}
PAGE_COLUMNS = {"url": "str", "url_key": "int", "host": "str", "domain": "str", "status": "int"}
#: Link columns of the graph rules (with src_key/dst_key, all the graph needs; URLs,
#: hosts and domains are read only for the nodes the pages table lacks).
_RULE_COLUMNS = ("link_type", "nofollow", "sponsored", "ugc")
_REDIRECT_TYPES = ("redirect", "meta-refresh")


@dataclass(frozen=True)
class ScorePaths:
    """Where ``score_crawl`` wrote its tables."""

    pages: Path
    hosts: Path
    domains: Path


class _Phases:
    """Log each phase's wall time and the peak RSS so far: progress on long runs, and
    where the time and memory go."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()

    def done(self, what: str, *args: object) -> None:
        now = time.perf_counter()
        log.info("score: %s in %.2f s (total %.2f s, peak RSS %s)",
                 what % args if args else what, now - self.last, now - self.started,
                 _peak_rss())
        self.last = now


def _peak_rss() -> str:
    try:
        import resource
    except ImportError:  # not on Windows
        return "n/a"
    # ru_maxrss is in KiB on Linux.
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"


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


def _type_mask(codes: tuple[np.ndarray, pa.Array], types: list[str] | tuple[str, ...]
               ) -> np.ndarray:
    """Rows whose link type is in ``types``, from the column's ``_codes``: tested once
    per dictionary entry, then looked up by the int32 indices (no string per row)."""
    idx, dictionary = codes
    hit = np.append(pc.is_in(dictionary, value_set=pa.array(list(types), pa.string()))
                    .fill_null(False).to_numpy(zero_copy_only=False), False)
    return hit[idx]  # -1 (null type) reads the trailing False


def crawl_votes(table: pa.Table, src: np.ndarray, dst: np.ndarray, options: ScoreOptions
                ) -> np.ndarray:
    """Apply the search-engine rules to link rows; return which rows are scoring edges.

    ``table`` holds the link rows (already restricted to http(s) targets; columns
    ``link_type``, ``nofollow``, ``sponsored``, ``ugc``) and ``src``/``dst`` their
    dense ids. Rules, each an option: only ``link_types`` vote; nofollow/sponsored/ugc
    links do not (unless ``follow_nofollow``); a URL that redirects keeps only its
    redirect edge (its authority moves to the target); a page whose canonical is
    another URL keeps only its canonical edge.
    """
    link_type = _codes(table.column("link_type"))
    types = list(options.link_types)
    if not options.redirects:
        types = [t for t in types if t not in _REDIRECT_TYPES]
    votes = _type_mask(link_type, types)
    is_redirect = _type_mask(link_type, _REDIRECT_TYPES)
    if not options.follow_nofollow:
        # rel=nofollow qualifies hyperlinks; redirects and canonicals have no rel.
        unfollowed = _np(pc.or_(pc.or_(table.column("nofollow"), table.column("sponsored")),
                                table.column("ugc")))
        votes &= ~(unfollowed & ~is_redirect)
    takeover = np.zeros(len(src), dtype=bool)
    if options.redirects:
        takeover |= is_redirect
    if options.canonical:
        canonical = _type_mask(link_type, ("canonical",)) & (src != dst)
        # A redirect beats a canonical on the same URL (a 3xx has no body to read).
        takeover |= canonical
        votes |= canonical
    takeover &= src != dst
    if takeover.any():
        owners = np.zeros(int(max(src.max(), dst.max())) + 1, dtype=bool)
        owners[src[takeover]] = True
        redirecting = np.zeros_like(owners)
        redirect_rows = takeover & is_redirect
        redirecting[src[redirect_rows]] = True
        keep_canonical = takeover & ~redirecting[src] | redirect_rows
        votes = np.where(owners[src], keep_canonical, votes)
    return votes


def crawl_edges(table: pa.Table, src: np.ndarray, dst: np.ndarray, options: ScoreOptions
                ) -> tuple[np.ndarray, np.ndarray]:
    """The scoring graph's edges (``src``, ``dst`` of the rows :func:`crawl_votes` keeps)."""
    votes = crawl_votes(table, src, dst, options)
    return src[votes], dst[votes]


def _link_counts(links: Graph) -> dict[str, np.ndarray]:
    """in_links, out_links and referring_pages of every node.

    ``links`` is the graph of all http(s) link rows, self-links dropped, each pair
    stored once with its number of rows as weight.
    """
    adj = links.adj
    return {
        "in_links": np.bincount(adj.indices, weights=adj.data, minlength=links.n).astype(np.int64),
        "out_links": links.out_weight().astype(np.int64),
        "referring_pages": links.in_degree(),
    }


def _extra_strings(files: list[Path], rows: np.ndarray, from_src: np.ndarray
                   ) -> dict[str, pa.Array]:
    """URL, host and domain of the nodes without a pages row, from link rows ``rows``
    (global row numbers; ``from_src``: the node is that row's source, else its target)."""
    parts: dict[str, list] = {}
    for prefix, side in (("src_", from_src), ("dst_", ~from_src)):
        which = np.flatnonzero(side)
        order = np.argsort(rows[which], kind="stable")
        got = _take_rows(files, [prefix + "url", prefix + "host", prefix + "domain"],
                         rows[which][order], threads=1)
        back = np.empty(len(which), dtype=np.int64)
        back[order] = np.arange(len(which))
        for name in ("url", "host", "domain"):
            parts.setdefault(name, []).append((which, got.column(prefix + name), back))
    strings = {}
    for name, pieces in parts.items():
        # Back to the order of `rows`: position -> string.
        pos = np.empty(len(rows), dtype=np.int64)
        offset = 0
        for which, _col, back in pieces:
            pos[which] = offset + back
            offset += len(which)
        combined = pa.concat_arrays([c.combine_chunks() if isinstance(c, pa.ChunkedArray)
                                     else c for _w, c, _b in pieces])
        strings[name] = combined.take(pa.array(pos))
    return strings


def _take_rows(files: list[Path], columns: list[str], rows: np.ndarray, threads: int = 2
               ) -> pa.Table:
    """``columns`` at global link rows ``rows`` (sorted), one file at a time.

    Only these columns are read, files holding none of the rows are skipped, and two
    files are decoded side by side (Parquet decoding releases the GIL). Strings are
    read as dictionaries, then only the taken ones are decoded (0.77 s instead of
    0.99 s for the dst_url column of 10M rows).
    """
    starts = np.cumsum([0, *file_row_counts(files)])

    def one(i: int) -> pa.Table | None:
        lo, hi = np.searchsorted(rows, [starts[i], starts[i + 1]])
        if lo == hi:
            return None
        try:
            table = pq.read_table(files[i], columns=columns, read_dictionary=columns)
        except (pa.ArrowException, OSError) as exc:
            raise UsageError(f"{files[i]}: cannot read ({exc})") from None
        table = table.take(pa.array(rows[lo:hi] - starts[i]))
        return pa.table({c: table.column(c).cast(pa.string()) for c in columns})

    with ThreadPoolExecutor(min(threads, len(files)) or 1, thread_name_prefix="take") as pool:
        parts = [t for t in pool.map(one, range(len(files))) if t is not None]
    if not parts:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return pa.concat_tables(parts)


def _site_ids(page_names: pa.ChunkedArray | None, page_rows: np.ndarray,
              extra_names: pa.Array, n: int, fetched: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Dense site ids of every node from the pages' (dictionary) column and the names
    of the other nodes; returns ``site_of_node`` and the site names (null is a site).

    Only distinct names are hashed: the pages' dictionary (~one entry per host) and
    the names of unfetched nodes.
    """
    if page_names is not None:
        idx, dictionary = _codes(page_names)
        dictionary = dictionary.cast(pa.string())
    else:
        idx, dictionary = np.zeros(0, np.int32), pa.array([], pa.string())
    # [page dictionary..., null, unfetched nodes' names...]: a null page name is -1,
    # which points at the null slot once shifted.
    names = pa.concat_arrays([dictionary, pa.nulls(1, pa.string()), extra_names.cast(pa.string())])
    encoded = pc.dictionary_encode(names, null_encoding="encode")
    code = encoded.indices.to_numpy(zero_copy_only=False)
    site = np.empty(n, dtype=np.int32)
    page_idx = np.where(idx < 0, len(dictionary), idx)
    site[fetched] = code[page_idx[page_rows[fetched]]]
    site[~fetched] = code[len(dictionary) + 1:]
    # Keep only sites some node has (a dictionary may hold names of dropped rows).
    used = np.bincount(site, minlength=len(encoded.dictionary)) > 0
    remap = np.cumsum(used, dtype=np.int32) - 1
    return remap[site], encoded.dictionary.filter(pa.array(used))


def _write(table: pa.Table, path: Path) -> Path:
    """Write atomically: readers never see a half-written table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path


#: Rows per slice (and row group) of the pages table: 256K rows of ~150 bytes.
_SLICE_ROWS = 1 << 18


def _write_slices(rows: Callable[[int, int], pa.Table], n: int, path: Path) -> Path:
    """Write ``rows(lo, hi)`` for consecutive slices of ``range(n)`` as one Parquet
    file, atomically (one row group per slice)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    writer = None
    try:
        for lo in range(0, max(n, 1), _SLICE_ROWS):
            table = rows(lo, min(n, lo + _SLICE_ROWS))
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, path)
    return path


def _walk_metrics(adj: TransposeProduct, options: ScoreOptions, seeds: np.ndarray | None,
                  phases: _Phases) -> dict[str, np.ndarray]:
    """TrustRank from ``seeds`` (if any) and HITS (if asked): the metrics both entry
    points add beside PageRank, on the same weighted adjacency matrix (its product,
    shared with PageRank so its transposed copy is built once)."""
    out: dict[str, np.ndarray] = {}
    if seeds is not None:
        trust = pagerank(adj, alpha=options.alpha, personalization=seeds, tol=options.tol,
                         max_iter=options.max_iter)
        out["trust"] = trust.scores
        out["trust_score"] = log_score(trust.scores)
        phases.done("trustrank: %s iterations from %s seed nodes", trust.iterations,
                    int(np.count_nonzero(seeds)))
    if options.hits:
        h = hits(adj, tol=options.tol, max_iter=options.max_iter)
        out["hub"] = h.hubs
        out["authority"] = h.authorities
        phases.done("hits: %s iterations", h.iterations)
    return out


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
    with lean_memory():
        return _score_crawl(crawl_dir, options, out_dir)


def _score_crawl(crawl_dir: Path | str, options: ScoreOptions | None,
                 out_dir: Path | str | None) -> ScorePaths:
    """Body of :func:`score_crawl` (see there)."""
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
    check_columns(link_files, LINK_COLUMNS)
    # The graph needs keys and rule columns only; URLs, hosts and domains come from the
    # pages table, and from link rows only for the nodes it lacks (read further down).
    keys = read_numpy(link_files, ["src_key", "dst_key"])
    links = read_columns(link_files, {c: LINK_COLUMNS[c] for c in _RULE_COLUMNS},
                         ("link_type",), check=False)
    pages = read_columns(page_files, PAGE_COLUMNS, ("host", "domain")) if page_files else None
    phases.done("read %s link rows, %s page rows", links.num_rows,
                pages.num_rows if pages is not None else 0)

    # mailto:, tel:, javascript: targets have no host and are not web pages. The
    # footers' null counts usually prove there are none without reading the column.
    http_rows = None
    if may_have_nulls(link_files, "dst_host"):
        dst_host = read_columns(link_files, {"dst_host": "str"}, ("dst_host",), check=False)
        http = _np(pc.is_valid(dst_host.column("dst_host")))
        del dst_host
        if not http.all():
            http_rows = np.flatnonzero(http)
            links = links.filter(pa.array(http))
            keys = {name: values[http] for name, values in keys.items()}
        del http
    page_keys = pages.column("url_key") if pages is not None else pa.array([], pa.int64())
    (src, dst, page_ids), nodes = encode_nodes(keys.pop("src_key"), keys.pop("dst_key"),
                                               page_keys)
    n = len(nodes)
    if n == 0:
        raise UsageError(f"{crawl_dir}: empty graph (no links to web pages and no pages)")
    keys = nodes.to_numpy(zero_copy_only=False)
    del nodes
    votes = crawl_votes(links, src, dst, options)
    del links  # the keys and rule columns are no longer needed
    phases.done("%s nodes, ids assigned", n)

    # Per node: its pages row, or a link row it occurs in (for URL, host, domain).
    page_row = np.full(n, -1, dtype=np.int64)
    page_row[page_ids] = np.arange(len(page_ids))  # a URL fetched twice: its last row
    fetched = page_row >= 0
    link_row = np.full(n, -1, dtype=np.int64)
    from_src = np.zeros(n, dtype=bool)
    for ids, is_src in ((dst, False), (src, True)):
        rows = np.flatnonzero(~fetched[ids])
        link_row[ids[rows]] = rows  # any of its rows will do: the last one wins
        from_src[ids[rows]] = is_src
        del rows
    extra = np.flatnonzero(~fetched)  # nodes with no pages row, in id order
    extra_rows = link_row[extra]
    del link_row
    if http_rows is not None:
        extra_rows = http_rows[extra_rows]
    extra_src = from_src[extra]
    del from_src
    # The URL, host and domain strings of those nodes are only in the link files: read
    # them on a side thread while the graph is built and PageRank runs (Parquet
    # decoding and the sparse kernels both release the GIL).
    reader = ThreadPoolExecutor(1, thread_name_prefix="strings")
    pending = reader.submit(_extra_strings, link_files, extra_rows, extra_src)
    del extra_rows, extra_src

    links_graph = build_graph(src, dst, n, multiplicity=True, drop_self_loops=True,
                              dtype=np.int32)
    counts = _link_counts(links_graph)
    if options.drop_self_loops and votes.all():
        # Every row votes: the scoring graph is the counted graph (its structure is
        # shared), repeats counted once or by multiplicity.
        adj = links_graph.adj
        data = adj.data.astype(np.float64) if options.multiplicity else np.ones(adj.nnz)
        graph = Graph(n=n, adj=sp.csr_array((data, adj.indices, adj.indptr), shape=adj.shape))
        del adj, data
    else:
        graph = build_graph(src[votes], dst[votes], n, multiplicity=options.multiplicity,
                            drop_self_loops=options.drop_self_loops)
    del src, dst, votes
    phases.done("graph of %s edges built, link counts", graph.m)

    product = TransposeProduct(graph.adj)
    pr = pagerank(product, alpha=options.alpha, tol=options.tol, max_iter=options.max_iter)
    phases.done("pagerank: %s iterations", pr.iterations)
    scores: dict[str, np.ndarray] = {"pagerank": pr.scores,
                                     "authority_score": log_score(pr.scores)}

    try:
        extra_strings = pending.result()
    finally:
        reader.shutdown()
    host_of_node, host_names = _site_ids(pages.column("host") if pages is not None else None,
                                         page_row, extra_strings["host"], n, fetched)
    dom_of_node, dom_names = _site_ids(pages.column("domain") if pages is not None else None,
                                       page_row, extra_strings["domain"], n, fetched)
    counts["referring_domains"] = distinct_in_groups(links_graph, dom_of_node)
    del links_graph
    phases.done("node strings (%s nodes not in pages) and referring domains", len(extra))
    if options.trusted:
        seeds = crawl_seed_vector(options.trusted, keys, host_names.take(pa.array(host_of_node)),
                                  dom_names.take(pa.array(dom_of_node)))
    else:
        seeds = None
    scores.update(_walk_metrics(product, options, seeds, phases))
    product.close()
    scores.update(counts)
    del counts

    # Site graphs first, so the page graph is freed before the pages table is built.
    # Registered domain of each host (every page of a host has the same domain).
    dom_of_host = np.empty(len(host_names), dtype=np.int32)
    dom_of_host[host_of_node] = dom_of_node
    host_graph = collapse(edge_rows(graph.adj), graph.adj.indices, host_of_node, len(host_names))
    del graph
    dom_graph = collapse(edge_rows(host_graph.adj), host_graph.adj.indices, dom_of_host,
                         len(dom_names))

    # The table, sorted by PageRank (stable: ties keep id order), built and written a
    # slice of rows at a time (one take per column and slice) so that only a slice of
    # the output exists besides the scores; URLs from the pages table, or the link
    # rows read above for the others.
    order = np.argsort(-pr.scores, kind="stable")
    n_pages = pages.num_rows if pages is not None else 0
    url_pos = np.empty(n, dtype=np.int64)
    url_pos[fetched] = page_row[fetched]
    url_pos[extra] = n_pages + np.arange(len(extra))
    page_urls = pages.column("url").cast(pa.string()).combine_chunks() if pages is not None \
        else pa.array([], pa.string())
    urls = pa.concat_arrays([page_urls, extra_strings["url"]])
    status = np.zeros(n, dtype=np.int32)
    status_valid = np.zeros(n, dtype=bool)
    if pages is not None and fetched.any():
        st = pages.column("status").take(pa.array(page_row[fetched]))
        status[fetched] = st.fill_null(0).to_numpy(zero_copy_only=False)
        status_valid[fetched] = _np(pc.is_valid(st))
    del pages, page_urls, extra_strings

    def rows(lo: int, hi: int) -> pa.Table:
        idx = order[lo:hi]
        columns: dict[str, object] = {
            "url": urls.take(pa.array(url_pos[idx])),
            "url_key": keys[idx],
            "host": host_names.take(pa.array(host_of_node[idx])),
            "domain": dom_names.take(pa.array(dom_of_node[idx])),
            "status": pa.array(status[idx], pa.int32(), mask=~status_valid[idx]),
        }
        columns.update({name: values[idx] for name, values in scores.items()})
        return pa.table(columns)

    pages_path = _write_slices(rows, n, out_dir / "pages.parquet")
    del urls
    phases.done("pages.parquet written")

    hosts = site_scores(host_graph, np.bincount(host_of_node, minlength=len(host_names)),
                        host_names, options, "host", dom_of_host, dom_names)
    hosts_path = _write(hosts, out_dir / "hosts.parquet")
    domains = site_scores(dom_graph, np.bincount(dom_of_node, minlength=len(dom_names)),
                          dom_names, options, "domain")
    domains_path = _write(domains, out_dir / "domains.parquet")
    phases.done("hosts.parquet (%s hosts) and domains.parquet (%s domains) written",
                hosts.num_rows, domains.num_rows)
    return ScorePaths(pages_path, hosts_path, domains_path)


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
    with lean_memory():
        return _score_edges(path, src, dst, out, weight, options)


def _score_edges(path: Path | str, src: str, dst: str, out: Path | str,
                 weight: str | None, options: ScoreOptions | None) -> Path:
    """Body of :func:`score_edges` (see there)."""
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
    # Counts of rows per pair (self-links dropped), exact in int32.
    links = build_graph(s, d, n, multiplicity=True, drop_self_loops=True, dtype=np.int32)
    del s, d
    counts = {
        "in_links": np.bincount(links.adj.indices, weights=links.adj.data,
                                minlength=n).astype(np.int64),
        "out_links": links.out_weight().astype(np.int64),
        "referring_pages": links.in_degree(),
    }
    del links
    product = TransposeProduct(graph.adj)
    pr = pagerank(product, alpha=options.alpha, tol=options.tol, max_iter=options.max_iter)
    phases.done("pagerank: %s iterations", pr.iterations)
    columns: dict[str, object] = {"node": nodes, "pagerank": pr.scores,
                                  "authority_score": log_score(pr.scores)}
    seeds = node_seed_vector(options.trusted, nodes) if options.trusted else None
    columns.update(_walk_metrics(product, options, seeds, phases))
    product.close()
    columns.update(counts)
    out = _write(pa.table(columns).sort_by([("pagerank", "descending")]), Path(out))
    phases.done("%s written", out)
    return out
