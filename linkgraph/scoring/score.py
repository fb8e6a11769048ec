"""The scoring stage end to end: Parquet in, score tables out.

``score_crawl`` reads a crawl folder (``DIR/links``, ``DIR/pages``) and writes
``DIR/scores/{pages,hosts,domains}.parquet``; ``score_edges`` scores any Parquet edge
list. Both turn rows into dense ids and in-edge lists (:mod:`graph`), run the
algorithms (:mod:`pagerank`, :mod:`hits`, :mod:`harmonic`) and write the tables
(:mod:`_write`). The crawl's rules (which links vote, redirects, canonicals) live
here, in :func:`crawl_votes`, and nowhere in the algorithms.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkgraph.errors import UsageError
from linkgraph.scoring._memory import lean_memory, trim
from linkgraph.scoring._read import check_schema, parquet_files, read_row_groups
from linkgraph.scoring._spmv import TransposeProduct
from linkgraph.scoring._write import write_slices, write_table
from linkgraph.scoring.crawl_input import (CrawlInput, LinkRules, _np, committed_parts,
                                           load_crawl)
from linkgraph.scoring.graph import (Graph, InEdges, NodeStrings, StreamedNodeIds,
                                     encode_nodes, in_edge_graph)
from linkgraph.scoring.hits import hits
from linkgraph.scoring.options import ScoreOptions
from linkgraph.scoring.pagerank import PageRankResult, pagerank
from linkgraph.scoring.scale import log_score
from linkgraph.scoring.sitegraph import collapse, referring_domains, site_scores
from linkgraph.scoring.spam_mass import relative_spam_mass
from linkgraph.scoring.trust import crawl_seed_vector, node_seed_vector

log = logging.getLogger(__name__)

_REDIRECT_TYPES = ("redirect", "meta-refresh")


@dataclass(frozen=True)
class ScorePaths:
    """Where ``score_crawl`` wrote its tables (no site tables with ``sites=False``)."""

    pages: Path
    hosts: Path | None
    domains: Path | None


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
    # This process's own peak (VmHWM): Linux's ru_maxrss also holds the peak of the
    # process it was forked from when that was bigger (a notebook, a benchmark that
    # generated its graph), carried across exec.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return f"{int(line.split()[1]) / 1024:.0f} MB"
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # not on Windows
        return "n/a"
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1024 if sys.platform.startswith("linux") else 2**20
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale:.0f} MB"


def _type_flags(dictionary: pa.Array, types: list[str] | tuple[str, ...]) -> np.ndarray:
    """Per link-type dictionary entry: whether it is one of ``types`` (one test per
    distinct type, none per row)."""
    return pc.is_in(dictionary, value_set=pa.array(list(types), pa.string())) \
        .fill_null(False).to_numpy(zero_copy_only=False)


def crawl_votes(rules: LinkRules, src: np.ndarray, dst: np.ndarray, n: int,
                options: ScoreOptions) -> np.ndarray | None:
    """Apply the search-engine rules to link rows; return which rows are scoring edges
    (None: all of them).

    ``rules`` holds the link type and rel of each row (rows already restricted to
    http(s) targets) and ``src``/``dst`` their dense ids among ``n`` nodes. Rules,
    each an option: only ``link_types`` vote; nofollow/sponsored/ugc
    links do not (unless ``follow_nofollow``; rel qualifies hyperlinks, and redirects
    and canonicals have none); a URL that redirects keeps only its redirect edge (its
    authority moves to the target); a page whose canonical is another URL keeps only
    its canonical edge, and a redirect beats a canonical on the same URL (a 3xx has no
    body to read). One compiled pass over the rows (:func:`_kernels.vote_rows`).
    """
    from linkgraph.scoring import _kernels

    types = list(options.link_types)
    if not options.redirects:
        types = [t for t in types if t not in _REDIRECT_TYPES]
    votes_type = _type_flags(rules.types, types)
    redirect_type = _type_flags(rules.types, _REDIRECT_TYPES)
    canonical_type = _type_flags(rules.types, ("canonical",))
    unfollowed = np.zeros(0, dtype=bool) if options.follow_nofollow else rules.unfollowed
    if (votes_type.all() and not redirect_type.any() and not canonical_type.any()
            and not unfollowed.any() and not (rules.type_code < 0).any()):
        return None  # only followed links of voting types: no rule applies
    return _kernels.vote_rows(rules.type_code, votes_type, redirect_type, canonical_type,
                              unfollowed, src, dst, options.follow_nofollow,
                              options.redirects, options.canonical, n)


def scoring_graph(crawl_dir: Path, parts: dict[str, list[Path]], options: ScoreOptions,
                  phases: _Phases | None = None, *, keep_rows: bool = False
                  ) -> tuple[CrawlInput, InEdges]:
    """The scoring graph of a crawl folder's ``parts``: its link rows read, the rules
    of ``options`` applied (:func:`crawl_votes`), as in-edge lists with every node's
    link counts (one build: the voting rows are the graph, all rows count).

    ``score`` and ``explain`` both build their graph here, so that the in-links
    ``explain`` lists are the edges PageRank ran on. The returned input has its
    ``rules`` dropped, and its ``src`` and ``dst`` too unless ``keep_rows``.
    """
    graph_in = load_crawl(crawl_dir, parts, while_reading=warm_up)
    n, src, dst = graph_in.n, graph_in.src, graph_in.dst
    if phases is not None:
        phases.done("read %s link rows, %s nodes", len(src), n)
    votes = crawl_votes(graph_in.rules, src, dst, n, options)
    graph_in.rules = None  # no longer needed
    dom_of_node = graph_in.dom_of_node if graph_in.dom_of_node is not None \
        else graph_in.strings().dom_of_node
    edges = in_edge_graph(src, dst, n, votes=votes, multiplicity=options.multiplicity,
                          drop_self_loops=options.drop_self_loops, groups=dom_of_node)
    del src, dst, votes
    if not keep_rows:
        graph_in.src = graph_in.dst = None
    if phases is not None:
        phases.done("graph of %s edges built, link counts", edges.m)
    return graph_in, edges


#: Key of the pages table's metadata that says how it was scored (JSON).
SCORED_KEY = b"linkgraph.scored"


def scored_metadata(options: ScoreOptions, parts: dict[str, list[Path]],
                    pr: PageRankResult, partial: bool) -> dict[bytes, bytes]:
    """What a reader of ``pages.parquet`` needs to rebuild the graph it was scored on:
    the options, the rows of each dataset read (committed parts are appended in order,
    so a crawl that went on since is read up to these counts), and PageRank's
    iterations and last L1 change."""
    from linkgraph.scoring._read import file_row_counts

    rows = {name: int(sum(file_row_counts(files))) for name, files in parts.items()}
    return {SCORED_KEY: json.dumps({
        "options": options.to_dict(), "rows": rows, "partial": partial,
        "pagerank": {"iterations": pr.iterations, "delta": pr.delta,
                     "converged": pr.converged}}).encode()}


def read_scored(pages: Path) -> dict | None:
    """The :func:`scored_metadata` of a pages table (None: written before it was
    recorded); a one-line error for a file that is not a readable Parquet file."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(pages).metadata or {}
    except (pa.ArrowException, OSError) as exc:
        raise UsageError(f"{pages} is not a readable Parquet file ({exc})") from None
    return json.loads(meta[SCORED_KEY]) if SCORED_KEY in meta else None


def scored_parts(crawl_dir: Path, scored: dict | None) -> dict[str, list[Path]]:
    """The part files a score read (``scored``: the :func:`scored_metadata` of its
    pages table; None: the committed parts now).

    A crawl only ever appends committed parts, so a folder that was crawled on since it
    was scored still begins with them: each dataset's parts are cut after the first
    files holding exactly the rows the score read. A folder compacted or changed since
    then is a one-line error.
    """
    from linkgraph.scoring._read import file_row_counts

    parts = committed_parts(crawl_dir, partial=bool(scored and scored.get("partial")))
    if not scored:
        return parts
    cut = {}
    for name, files in parts.items():
        want = int(scored["rows"].get(name, 0))
        ends = np.cumsum([0, *file_row_counts(files)])
        match = np.flatnonzero(ends == want)
        if not len(match):
            raise UsageError(f"{crawl_dir}/{name} no longer begins with the {want} rows it "
                             f"was scored on (it has {int(ends[-1])}; compacted or changed "
                             f"since): run `linkgraph score {crawl_dir}` again")
        cut[name] = files[:int(match[-1])]
    return cut


def _walk_metrics(adj: TransposeProduct, options: ScoreOptions, seeds: np.ndarray | None,
                  phases: _Phases, ranks: np.ndarray) -> dict[str, np.ndarray]:
    """TrustRank from ``seeds`` (if any) and the spam mass of the PageRank ``ranks``
    it gives, and HITS (if asked): the metrics both entry points add beside PageRank,
    on the same weighted adjacency matrix (its product, shared with PageRank so its
    transposed copy is built once)."""
    out: dict[str, np.ndarray] = {}
    if seeds is not None:
        trust = pagerank(adj, alpha=options.alpha, personalization=seeds, tol=options.tol,
                         max_iter=options.max_iter)
        out["trust"] = trust.scores
        out["trust_score"] = log_score(trust.scores)
        out["spam_mass"] = relative_spam_mass(ranks, trust.scores, adj.out_weight() == 0,
                                              options.alpha, options.good_fraction)
        phases.done("trustrank: %s iterations from %s seed nodes", trust.iterations,
                    int(np.count_nonzero(seeds)))
    if options.hits:
        trim()
        h = hits(adj, tol=options.tol, max_iter=options.max_iter)
        out["hub"] = h.hubs
        out["authority"] = h.authorities
        phases.done("hits: %s iterations", h.iterations)
    return out


def score_crawl(crawl_dir: Path | str, options: ScoreOptions | None = None,
                out_dir: Path | str | None = None, *, partial: bool = False) -> ScorePaths:
    """Score a crawl folder and write its page, host and domain tables.

    Parameters
    ----------
    crawl_dir : Path
        Folder with ``links/`` (required) and ``pages/`` (optional) Parquet parts.
    options : ScoreOptions, optional
    out_dir : Path, optional
        Where to write (default ``crawl_dir/scores``).
    partial : bool
        Score a damaged crawl folder's whole batches instead of refusing it (see
        :func:`~linkgraph.scoring.crawl_input.committed_parts`).

    Returns
    -------
    ScorePaths
    """
    with lean_memory():
        return _score_crawl(crawl_dir, options, out_dir, partial)


def _score_crawl(crawl_dir: Path | str, options: ScoreOptions | None,
                 out_dir: Path | str | None, partial: bool = False) -> ScorePaths:
    """Body of :func:`score_crawl` (see there)."""
    options = options or ScoreOptions()
    crawl_dir = Path(crawl_dir)
    if not crawl_dir.is_dir():
        raise UsageError(f"{crawl_dir} is not a folder (expected a crawl folder with links/)")
    if not (crawl_dir / "links").is_dir():
        raise UsageError(f"{crawl_dir} has no links/ folder: is it a crawl folder?")
    out_dir = Path(out_dir) if out_dir else crawl_dir / "scores"
    phases = _Phases()

    parts = committed_parts(crawl_dir, partial=partial)
    graph_in, edges = scoring_graph(crawl_dir, parts, options, phases,
                                    keep_rows=options.sites)
    n, keys = graph_in.n, graph_in.keys
    host_rows = None
    if options.sites:
        # Every link row between hosts, followed or not: what the sites' referring
        # domains count (the site graphs below hold voting rows only). Built on the
        # side thread; the gathers are all it needs of the rows.
        host_of_node = graph_in.host_of_node if graph_in.host_of_node is not None \
            else graph_in.strings().host_of_node
        host_rows = (host_of_node[graph_in.src], host_of_node[graph_in.dst])
        graph_in.src = graph_in.dst = None
    counts = {"in_links": edges.in_links, "out_links": edges.out_links,
              "referring_pages": edges.referring_pages,
              "referring_domains": edges.referring_groups,
              "followed_referring_domains": edges.followed_groups}

    product = TransposeProduct.from_in_edges(edges)
    pr = pagerank(product, alpha=options.alpha, tol=options.tol, max_iter=options.max_iter)
    phases.done("pagerank: %s iterations", pr.iterations)
    scores: dict[str, np.ndarray] = {"pagerank": pr.scores,
                                     "authority_score": log_score(pr.scores)}

    strings = graph_in.strings()
    host_of_node, host_names = strings.host_of_node, strings.host_names
    dom_of_node, dom_names = strings.dom_of_node, strings.dom_names
    phases.done("node strings")
    # Registered domain of each host (every page of a host has the same domain).
    dom_of_host = np.empty(len(host_names), dtype=np.int32)
    dom_of_host[host_of_node] = dom_of_node

    if options.trusted:
        seeds = crawl_seed_vector(options.trusted, keys,
                                  host_names.take(pa.array(host_of_node)),
                                  dom_names.take(pa.array(dom_of_node)))
    else:
        seeds = None

    def site_tables(host_graph: Graph, dom_graph: Graph) -> tuple[int, Path, int, Path]:
        # A site holding a seed page is in the site graph's trusted core.
        host_core = dom_core = None
        if seeds is not None:
            host_core = np.bincount(host_of_node, weights=seeds, minlength=len(host_names)) > 0
            dom_core = np.bincount(dom_of_node, weights=seeds, minlength=len(dom_names)) > 0
        host_referring, dom_referring = referring_domains(*host_rows, dom_of_host,
                                                          len(dom_names))
        hosts = site_scores(host_graph, np.bincount(host_of_node, minlength=len(host_names)),
                            host_names, options, "host", host_referring, dom_of_host,
                            dom_names, host_core)
        hosts_path = write_table(hosts, out_dir / "hosts.parquet")
        domains = site_scores(dom_graph, np.bincount(dom_of_node, minlength=len(dom_names)),
                              dom_names, options, "domain", dom_referring, core=dom_core)
        return (hosts.num_rows, hosts_path, domains.num_rows,
                write_table(domains, out_dir / "domains.parquet"))

    # The site tables are scored and written on a side thread from here on, beside
    # TrustRank, HITS and the pages table: mostly one thread's work (a site graph's
    # PageRank is small), which fills the cores those leave idle.
    with ThreadPoolExecutor(1, thread_name_prefix="sites") as pool:
        pending = None
        if options.sites:
            # Collapsing the reversed page graph gives the reversed host graph: the
            # in-edge lists serve as they are, no CSR by source needed.
            host_graph = collapse(Graph(n=n, adj=edges.reversed()), host_of_node,
                                  len(host_names)).reversed()
            pending = pool.submit(site_tables, host_graph,
                                  collapse(host_graph, dom_of_host, len(dom_names)))
            del host_graph
        scores.update(_walk_metrics(product, options, seeds, phases, pr.scores))
        product.close()
        scores.update(counts)
        del counts, edges

        # The table, sorted by PageRank (stable: ties keep id order), built and written
        # a slice of rows at a time (one take per column and slice) so that only the
        # slices being encoded exist besides the scores.
        from linkgraph.scoring import _kernels  # loaded by warm_up during the reads

        order = _kernels.order_descending(pr.scores)
        urls = strings.urls
        status, status_valid = graph_in.status, graph_in.status_valid
        metadata = scored_metadata(options, parts, pr, partial)
        del graph_in, strings

        def rows(lo: int, hi: int) -> pa.Table:
            idx = order[lo:hi]
            columns: dict[str, object] = {
                "url": urls.take(pa.array(idx)),
                "url_key": keys[idx],
                "host": host_names.take(pa.array(host_of_node[idx])),
                "domain": dom_names.take(pa.array(dom_of_node[idx])),
                "status": pa.array(status[idx], pa.int32(), mask=~status_valid[idx]),
            }
            columns.update({name: values[idx] for name, values in scores.items()})
            return pa.table(columns).replace_schema_metadata(metadata)

        pages_path = write_slices(rows, n, out_dir / "pages.parquet")
        phases.done("pages.parquet written")
        if pending is None:
            for stale in (out_dir / "hosts.parquet", out_dir / "domains.parquet"):
                if stale.exists():
                    # Left from an earlier run, they would no longer match pages.parquet.
                    log.info("score: removing %s (site tables not asked for)", stale)
                    stale.unlink()
            return ScorePaths(pages_path, None, None)
        n_hosts, hosts_path, n_domains, domains_path = pending.result()
    phases.done("hosts.parquet (%s hosts) and domains.parquet (%s domains) written",
                n_hosts, n_domains)
    return ScorePaths(pages_path, hosts_path, domains_path)


def score_edges(path: Path | str, src: str, dst: str, out: Path | str,
                weight: str | None = None, options: ScoreOptions | None = None, *,
                delimiter: str | None = None, header: bool = True) -> Path:
    """Score an edge list (Parquet, or CSV/TSV text); write one row per node to ``out``.

    Parameters
    ----------
    path : Path
        A Parquet file or a folder of them, or a ``.csv``/``.tsv``/``.txt`` file
        (gzipped too: ``.gz``, ``.bz2``, ...), read as text when ``delimiter`` is given.
    src, dst : str
        Columns holding edge ends: integers or strings, kept as given in ``node``.
        Of a text file without a header, their 1-based positions (``"2"``).
    out : Path
        Output Parquet file.
    weight : str, optional
        Numeric column of edge weights (repeated pairs add up; negative is an error).
    options : ScoreOptions, optional
    delimiter : str, optional
        Field separator(s) of a text edge list (each character separates fields);
        default tab for ``.tsv``, else comma.
    header : bool
        Whether a text edge list's first line names its columns.

    Returns
    -------
    Path
        ``out``. Columns: node, pagerank, authority_score, [trust, trust_score, spam_mass],
        [hub, authority], in_links, out_links, referring_pages.
    """
    with lean_memory():
        return _score_edges(path, src, dst, out, weight, options, delimiter, header)


def _edge_batches(path: Path | str, kinds: dict[str, str], delimiter: str | None,
                  header: bool
                  ) -> tuple[pa.Schema, Iterator[pa.Table | pa.RecordBatch], int | None]:
    """The edge columns' schema, their rows one Parquet row group or one block of
    delimited text at a time (string ends of Parquet come as its dictionaries), and
    the number of rows when the footers give it (None for text)."""
    from linkgraph.scoring._text_edges import is_text_edges, iter_text_edges

    if delimiter is not None or is_text_edges(path):
        batches = iter_text_edges(path, kinds, delimiter=delimiter, header=header)
        return next(batches), batches, None
    if not header:
        raise UsageError("--no-header is for a CSV/TSV edge list, not Parquet")
    files = parquet_files(path)
    try:
        schema = pq.read_schema(files[0])
    except (pa.ArrowException, OSError) as exc:
        raise UsageError(f"{files[0]} is not a readable Parquet file ({exc})") from None
    check_schema(files[0], schema, kinds)
    strings = [c for c, kind in kinds.items()
               if kind == "id" and not pa.types.is_integer(schema.field(c).type)]
    rows = 0 if strings else None
    for file in files if strings else ():
        try:
            rows += pq.ParquetFile(file).metadata.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise UsageError(f"{file} is not a readable Parquet file ({exc})") from None
    return schema, read_row_groups(files, kinds, dictionary=_few_distinct(files[0], strings)), \
        rows


def _few_distinct(file: Path, columns: list[str]) -> list[str]:
    """The string ``columns`` worth reading as dictionaries: those whose first row
    group has under a quarter as many distinct values as rows. A column of mostly
    distinct values (link targets) outgrows the writer's dictionary page and falls
    back to plain pages, which Arrow would hash into a dictionary again: read plain,
    it goes to the string table at once (1M/10M benchmark targets: 3.8 s against
    6.5 s)."""
    if not columns:
        return []
    try:
        handle = pq.ParquetFile(file, read_dictionary=columns)
        if handle.metadata.num_row_groups == 0:
            return columns
        first = handle.read_row_group(0, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise UsageError(f"{file}: cannot read ({exc})") from None
    few = []
    for name in columns:
        chunks = [c for c in first.column(name).chunks if len(c)]
        if chunks and pa.types.is_dictionary(chunks[0].type) and \
                len(chunks[0].dictionary) * 4 < len(chunks[0]):
            few.append(name)
    return few


def _score_edges(path: Path | str, src: str, dst: str, out: Path | str,
                 weight: str | None, options: ScoreOptions | None,
                 delimiter: str | None, header: bool) -> Path:
    """Body of :func:`score_edges` (see there)."""
    from linkgraph.scoring import _kernels

    options = options or ScoreOptions()
    phases = _Phases()
    kinds = {src: "id", dst: "id"}
    if weight:
        kinds[weight] = "num"
    schema, batches, total = _edge_batches(path, kinds, delimiter, header)
    src_type, dst_type = schema.field(src).type, schema.field(dst).type
    integers = pa.types.is_integer(src_type) and pa.types.is_integer(dst_type)
    if src_type != dst_type and not integers:
        raise UsageError(f"{path}: columns {src} and {dst} have different types "
                         f"({src_type} and {dst_type})")
    # String ends are numbered one batch at a time against one table of the distinct
    # strings (the whole columns are never held); integer ends are 8 bytes a row.
    streamed = None if integers else StreamedNodeIds(2, total)
    int_ends: tuple[list, list] = ([], [])
    weights: list[np.ndarray] = []
    rows = dropped = 0
    for batch in _read_ahead(batches):
        # Most edge lists have no nulls: the mask is made only for a batch that has some.
        if any(batch.column(c).null_count for c in kinds):
            valid = pc.and_(pc.is_valid(batch.column(src)), pc.is_valid(batch.column(dst)))
            if weight:
                valid = pc.and_(valid, pc.is_valid(batch.column(weight)))
            kept = pc.sum(valid.cast(pa.int64())).as_py() or 0
            dropped += batch.num_rows - kept
            batch = batch.filter(valid)
            del valid
        rows += batch.num_rows
        if streamed is not None:
            streamed.add(batch.column(src), batch.column(dst))
        else:
            int_ends[0].append(batch.column(src))
            int_ends[1].append(batch.column(dst))
        if weight:
            weights.append(_np(batch.column(weight)).astype(np.float64))
        del batch
    if dropped:
        log.warning("score: %s edge rows with a null end or weight skipped", dropped)
    if rows == 0:
        raise UsageError(f"{path}: empty graph (no edges)")
    phases.done("read %s edge rows", rows)
    if streamed is not None:
        # The node strings stay in the table until the write takes them a slice at a
        # time; a seed list is matched against the whole column.
        (s, d), nodes = streamed.finish(large=pa.types.is_large_string(src_type),
                                        lazy=not options.trusted)
        del streamed
    else:
        ends = [pa.chunked_array([c for part in parts for c in _chunks(part)]).cast(pa.int64())
                if src_type != dst_type else pa.chunked_array(
                    [c for part in parts for c in _chunks(part)], src_type)
                for parts in int_ends]
        del int_ends
        (s, d), nodes = encode_nodes(*ends)
        del ends
    n = len(nodes)
    w = None
    if weight:
        w = np.concatenate(weights)
        del weights
        if (w < 0).any() or not np.isfinite(w).all():
            raise UsageError(f"{path}: column {weight} has negative or non-finite weights")
    phases.done("%s nodes, ids assigned", n)
    edges = in_edge_graph(s, d, n, weight=w, multiplicity=options.multiplicity,
                          drop_self_loops=options.drop_self_loops)
    del s, d, w
    counts = {"in_links": edges.in_links, "out_links": edges.out_links,
              "referring_pages": edges.referring_pages}
    phases.done("graph of %s edges built", edges.m)
    product = TransposeProduct.from_in_edges(edges)
    del edges
    pr = pagerank(product, alpha=options.alpha, tol=options.tol, max_iter=options.max_iter)
    phases.done("pagerank: %s iterations", pr.iterations)
    columns: dict[str, object] = {"node": nodes, "pagerank": pr.scores,
                                  "authority_score": log_score(pr.scores)}
    seeds = node_seed_vector(options.trusted, nodes) if options.trusted else None
    columns.update(_walk_metrics(product, options, seeds, phases, pr.scores))
    product.close()
    columns.update(counts)
    order = _kernels.order_descending(pr.scores)

    def rows(lo: int, hi: int) -> pa.Table:
        # Each slice taken in PageRank order on the encoding threads: no sorted copy
        # of the whole table (its node strings above all), and the takes run side by side.
        idx = order[lo:hi]
        return pa.table({name: values.take(pa.array(idx))
                         if isinstance(values, (pa.Array, pa.ChunkedArray))
                         else values.take(idx) if isinstance(values, NodeStrings)
                         else values[idx] for name, values in columns.items()})

    out = write_slices(rows, n, Path(out))
    if isinstance(nodes, NodeStrings):
        nodes.close()
    phases.done("%s written", out)
    return out


def _read_ahead(batches: Iterator[pa.Table | pa.RecordBatch]
                ) -> Iterator[pa.Table | pa.RecordBatch]:
    """``batches``, the next one read in a thread while the caller works on this one
    (Parquet and CSV decoding release the GIL, as the string table does)."""
    done = object()
    with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as pool:
        ahead = pool.submit(next, batches, done)
        while (batch := ahead.result()) is not done:
            ahead = pool.submit(next, batches, done)
            yield batch


def _chunks(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return column.chunks if isinstance(column, pa.ChunkedArray) else [column]


def warm_up() -> None:
    """Build the compiled loops if this install has not built them yet (~1.5 s, once;
    ``scripts/setup.sh`` calls this after an install) and load them (~3 ms).
    :func:`score_crawl` calls it while its Parquet reads run."""
    from linkgraph.scoring import _kernels

    _kernels.load()
