"""A crawl folder as a graph on dense ids: what the scorer reads, and from where.

A crawl written by linkgraph 0.2+ (schema 2) carries the graph ready-made: the item
pipeline gave every URL a dense ``node_id`` when it first saw it, wrote ``src_id`` /
``dst_id`` on each link row and one ``nodes`` row (URL, host, domain) per id. Scoring
then reads two int32 columns and a 1M-row table instead of hashing 20M 64-bit keys
and decoding the 10M-row ``dst_url`` column to find the URLs of never-fetched pages
(1.7 s of a 10M-link score, see benchmarks/score_scale.md).

Folders written before (schema 1: keys only) are still scored, by hashing the keys
(:func:`_load_by_keys`); both loaders return the same :class:`CrawlInput`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkgraph.errors import UsageError
from linkgraph.scoring._read import (ColumnScan, check_columns, file_row_counts,
                                     may_have_nulls, parquet_files, put_column, read_columns,
                                     read_numpy)
from linkgraph.scoring.graph import encode_nodes

log = logging.getLogger(__name__)

#: Link columns of the graph rules (see score.crawl_votes).
RULE_COLUMNS = {"link_type": "str", "nofollow": "bool", "sponsored": "bool", "ugc": "bool"}
#: Columns of DIR/links the key-based (schema 1) loader reads, with their kinds.
KEY_LINK_COLUMNS = {
    "src_key": "int", "dst_key": "int", "src_host": "str", "dst_host": "str",
    "src_domain": "str", "dst_domain": "str", **RULE_COLUMNS,
}
KEY_PAGE_COLUMNS = {"url": "str", "url_key": "int", "host": "str", "domain": "str",
                    "status": "int"}
ID_LINK_COLUMNS = {"src_id": "int", "dst_id": "int", **RULE_COLUMNS}
NODE_COLUMNS = {"node_id": "int", "url_key": "int", "url": "str", "host": "str",
                "domain": "str"}


@dataclass(frozen=True)
class LinkRules:
    """The rule columns of the link rows (:data:`RULE_COLUMNS`) as arrays, what
    ``score.crawl_votes`` reads."""

    #: Index of each row's link type in ``types`` (-1: none), int16.
    type_code: np.ndarray
    #: The link-type names.
    types: pa.Array
    #: Whether a row's rel has nofollow, sponsored or ugc.
    unfollowed: np.ndarray

    @classmethod
    def of(cls, table: pa.Table) -> LinkRules:
        codes = _TypeCodes()
        return cls(codes.of(table.column("link_type")), codes.names(), _unfollowed(table))

    def take(self, rows: np.ndarray) -> LinkRules:
        """The rules of ``rows`` (a mask or indices)."""
        return LinkRules(self.type_code[rows], self.types, self.unfollowed[rows])


class _TypeCodes:
    """Link-type names to int16 codes, one numbering for all the row groups of a read
    (their dictionaries differ), shared by the threads that decode them."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self._lock = threading.Lock()

    def _code(self, name: str | None) -> int:
        if name is None:
            return -1
        code = self._codes.setdefault(name, len(self._codes))
        if code > np.iinfo(np.int16).max:
            raise UsageError(f"column link_type has more than {code} distinct values")
        return code

    def of(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """The code of each row (-1: null)."""
        arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if not pa.types.is_dictionary(arr.type):
            arr = pc.dictionary_encode(arr)
        with self._lock:
            # Last slot -1: where the null rows' index (filled with -1) lands.
            remap = np.array([*map(self._code, arr.dictionary.to_pylist()), -1], np.int16)
        return remap[arr.indices.fill_null(-1).to_numpy(zero_copy_only=False)]

    def names(self) -> pa.Array:
        return pa.array(list(self._codes), pa.string())


def _unfollowed(table: pa.Table) -> np.ndarray:
    """Per row: rel has nofollow, sponsored or ugc (a null flag is not set)."""
    flag = pc.or_(pc.or_(table.column("nofollow"), table.column("sponsored")),
                  table.column("ugc")).fill_null(False)
    return _np(flag).astype(bool, copy=False)


def _read_links(files: list[Path]
                ) -> tuple[LinkRules, np.ndarray, np.ndarray, dict[str, tuple[int, int]]]:
    """The ids and rule columns of link parts with node ids, read a row group at a
    time into arrays allocated once (:class:`_read.ColumnScan`); also the smallest and
    largest ``src_id`` and ``dst_id``, taken while each row group is in cache (two
    passes over 40 MB arrays each, ~30 ms, saved)."""
    scan = ColumnScan(files, ID_LINK_COLUMNS, ("link_type",))
    m = scan.num_rows
    src, dst = np.empty(m, np.int32), np.empty(m, np.int32)
    type_code, unfollowed = np.empty(m, np.int16), np.empty(m, bool)
    codes = _TypeCodes()
    ranges: list[tuple[int, int, int, int]] = []

    def fill(table: pa.Table, start: int) -> None:
        end = start + table.num_rows
        put_column(src, start, table.column("src_id"), "src_id")
        put_column(dst, start, table.column("dst_id"), "dst_id")
        type_code[start:end] = codes.of(table.column("link_type"))
        unfollowed[start:end] = _unfollowed(table)
        if end > start:
            s, d = src[start:end], dst[start:end]
            ranges.append((int(s.min()), int(s.max()), int(d.min()), int(d.max())))

    scan.run(fill)
    lows_highs = np.array(ranges or [(0, -1, 0, -1)]).reshape(-1, 4)
    bounds = {"src_id": (int(lows_highs[:, 0].min()), int(lows_highs[:, 1].max())),
              "dst_id": (int(lows_highs[:, 2].min()), int(lows_highs[:, 3].max()))}
    return LinkRules(type_code, codes.names(), unfollowed), src, dst, bounds


@dataclass(frozen=True)
class NodeStrings:
    """URL, host and domain of every node (by id)."""

    urls: pa.Array
    host_of_node: np.ndarray
    host_names: pa.Array
    dom_of_node: np.ndarray
    dom_names: pa.Array


@dataclass
class CrawlInput:
    """A crawl's web graph on dense ids ``0..n-1``, link row by link row.

    Attributes
    ----------
    src, dst : ndarray
        Ids of each link row's ends (rows to non-web targets such as ``mailto:``
        are already dropped).
    rules : LinkRules
        The rule columns of the same rows.
    keys : ndarray of int64
        ``url_key`` of each node.
    status, status_valid : ndarray
        HTTP status of each fetched node (its last pages row); ``status_valid`` is
        False for nodes never fetched or fetched without a response.
    strings : callable
        Returns the :class:`NodeStrings`; they may be read on a side thread while
        the graph is scored, and the call waits for them.
    dom_of_node, host_of_node : ndarray or None
        ``NodeStrings.dom_of_node`` and ``host_of_node`` when they are known before
        the strings are read.
    """

    n: int
    src: np.ndarray
    dst: np.ndarray
    rules: LinkRules | None
    keys: np.ndarray
    status: np.ndarray
    status_valid: np.ndarray
    strings: Callable[[], NodeStrings]
    dom_of_node: np.ndarray | None = None
    host_of_node: np.ndarray | None = None


def _np(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.to_numpy(zero_copy_only=False)


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Indices (null -> -1) and dictionary of a (dictionary) string column."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    idx = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return idx, arr.dictionary


def _compact_sites(idx: np.ndarray, names: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Site ids with a null name (-1) as a site of its own, names no node uses dropped."""
    names = pa.concat_arrays([names.cast(pa.string()), pa.nulls(1, pa.string())])
    idx = np.where(idx < 0, len(names) - 1, idx)
    used = np.bincount(idx, minlength=len(names)) > 0
    remap = np.cumsum(used, dtype=np.int32) - 1
    return remap[idx], names.filter(pa.array(used))


def _status_of_nodes(page_ids: np.ndarray, status: pa.ChunkedArray, n: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per node: the status of its last pages row, and whether there is one."""
    values = np.zeros(n, dtype=np.int32)
    valid = np.zeros(n, dtype=bool)
    # Fancy assignment keeps the last of repeated ids: a URL fetched twice (resumed
    # crawls never do it, merged folders may) gets its last row.
    values[page_ids] = status.fill_null(0).to_numpy(zero_copy_only=False) \
        if isinstance(status, pa.Array) else _np(status.fill_null(0))
    valid[page_ids] = _np(pc.is_valid(status))
    return values, valid


def has_node_ids(crawl_dir: Path, link_files: list[Path]) -> bool:
    """Whether the folder is schema 2: a nodes/ dataset and ids on the link rows."""
    if not (crawl_dir / "nodes").is_dir() or not link_files:
        return False
    return "src_id" in pq.read_schema(link_files[0]).names


def committed_parts(crawl_dir: Path, *, partial: bool = False) -> dict[str, list[Path]]:
    """The part files of each dataset that hold committed rows, each once.

    A folder written by ``linkgraph crawl`` (it has a ``crawl.json``) is read through
    :mod:`linkgraph.storage.reader`: what resuming would keep, so a crawl can be scored
    while it runs or after a kill (with a warning naming what is skipped). A finished
    crawl has nothing to skip: a part without its partner there means a damaged folder,
    an error unless ``partial`` (score what is there). Other folders (hand-made, or any
    Parquet) are read whole.
    """
    from linkgraph.storage.crawl_dir import read_manifest
    from linkgraph.storage.reader import CrawlFolder

    folder = CrawlFolder(crawl_dir)
    if not folder.is_crawl:
        return {name: parquet_files(crawl_dir / name, required=name == "links")
                for name in ("links", "pages", "nodes")}
    listing = folder.listing
    damaged = [f"{d}/{n}" for d in ("nodes", "links") for n in listing.orphaned[d]]
    try:
        finished = getattr(read_manifest(str(crawl_dir)), "status", None) == "finished"
    except UsageError:  # a damaged manifest says nothing about the parts
        finished = False
    if finished:
        damaged += [f"{d}/{n}" for d in ("nodes", "links") for n in listing.uncommitted[d]]
    if damaged and not partial:
        raise UsageError(f"{crawl_dir} is damaged: {damaged[0]} has no partner "
                         f"({len(damaged)} part(s) in all; see linkgraph verify {crawl_dir}); "
                         "pass --partial to score the committed batches that are whole")
    folder.warn_stale("score")
    kept = {name: folder.files(name) for name in ("links", "pages", "nodes")}
    if not kept["links"]:
        raise UsageError(f"no committed link parts in {crawl_dir / 'links'}")
    for file in (f for files in kept.values() for f in files):
        parquet_files(file)  # a one-line error for a file that is not Parquet
    return kept


def load_crawl(crawl_dir: Path, parts: dict[str, list[Path]],
               while_reading: Callable[[], None] = lambda: None) -> CrawlInput:
    """Read the graph of a crawl folder (schema 2 by its ids, schema 1 by its keys).

    ``parts`` are the files of each dataset (:func:`committed_parts`);
    ``while_reading`` runs on this thread while the Parquet parts are decoded on
    others (the scorer loads its compiled kernels there).
    """
    link_files, page_files = parts["links"], parts["pages"]
    if parts["nodes"] and has_node_ids(crawl_dir, link_files):
        return _load_by_ids(crawl_dir, link_files, page_files, parts["nodes"], while_reading)
    log.info("score: %s has no node ids (written before schema 2): hashing URL keys",
             crawl_dir)
    while_reading()
    return _load_by_keys(crawl_dir, link_files, page_files)


def _load_by_ids(crawl_dir: Path, link_files: list[Path], page_files: list[Path],
                 node_files: list[Path], while_reading: Callable[[], None]) -> CrawlInput:
    # All reads start at once on worker threads (decoding releases the GIL), and this
    # thread does `while_reading` meanwhile: imports and code loading hold the GIL, so
    # on a worker they would stall every Python step of the reads instead. The URL
    # strings are only needed for the output table: their read is left running.
    reader = ThreadPoolExecutor(2, thread_name_prefix="read")
    pending_links = reader.submit(_read_links, link_files)
    pending_nodes = reader.submit(read_columns, node_files,
                                  {c: k for c, k in NODE_COLUMNS.items() if c != "url"},
                                  ("host", "domain"))
    pending_pages = reader.submit(read_columns, page_files,
                                  {"node_id": "int", "status": "int"}) if page_files else None
    urls: Future = reader.submit(read_columns, node_files, {"url": "str"})
    reader.shutdown(wait=False)
    while_reading()
    rules, src, dst, bounds = pending_links.result()
    nodes = pending_nodes.result()
    n = nodes.num_rows
    node_id = _np(nodes.column("node_id")).astype(np.int64, copy=False)
    # Rows in id order (what the pipeline writes): no reordering. Any other order of
    # a permutation of 0..N-1 (parts renamed or merged by hand) is put back in order.
    in_order: np.ndarray | None = None
    if not np.array_equal(node_id, np.arange(n, dtype=np.int64)):
        if len(node_id) and (node_id.min() < 0 or node_id.max() >= n
                             or (np.bincount(node_id, minlength=n) != 1).any()):
            raise UsageError(f"{crawl_dir}/nodes: node ids are not 0..{n - 1}, each once; "
                             f"run `linkgraph verify {crawl_dir}`")
        in_order = np.empty(n, dtype=np.int64)
        in_order[node_id] = np.arange(n)
        nodes = nodes.take(pa.array(in_order))
    del node_id
    for name, (low, high) in bounds.items():
        if len(src) and (low < 0 or high >= n):
            raise UsageError(f"{crawl_dir}/links: {name} outside 0..{n - 1} (the nodes "
                             f"table has {n} rows); run `linkgraph verify {crawl_dir}`")
    keys = _np(nodes.column("url_key")).astype(np.int64, copy=False)
    host_idx, host_dict = _codes(nodes.column("host"))
    dom_idx, dom_dict = _codes(nodes.column("domain"))
    del nodes

    # mailto:, tel:, javascript: targets have no host and are not web pages: their
    # rows and nodes leave the graph, and the other ids close up.
    web = host_idx >= 0
    keep: np.ndarray | None = None
    if not web.all():
        rows = web[src] & web[dst]
        keep = np.flatnonzero(web)
        new_id = np.cumsum(web, dtype=np.int32) - 1
        src, dst = new_id[src[rows]], new_id[dst[rows]]
        rules = rules.take(rows)
        keys, host_idx, dom_idx = keys[keep], host_idx[keep], dom_idx[keep]
        n = len(keep)
    if n == 0:
        raise UsageError(f"{crawl_dir}: empty graph (no links to web pages and no pages)")

    if pending_pages is not None:
        pages = pending_pages.result()
        page_ids = _np(pages.column("node_id")).astype(np.int64, copy=False)
        if len(page_ids) and (page_ids.min() < 0 or page_ids.max() >= len(web)):
            raise UsageError(f"{crawl_dir}/pages: node_id outside the nodes table; "
                             f"run `linkgraph verify {crawl_dir}`")
        status_col = pages.column("status")
        if keep is not None:
            # Pages are web URLs; the filter only guards against a hand-made folder.
            fetched_web = web[page_ids]
            page_ids = (np.cumsum(web) - 1)[page_ids[fetched_web]]
            status_col = status_col.filter(pa.array(fetched_web))
        status, status_valid = _status_of_nodes(page_ids, status_col, n)
    else:
        status, status_valid = np.zeros(n, np.int32), np.zeros(n, bool)

    host_of_node, host_names = _compact_sites(host_idx, host_dict)
    dom_of_node, dom_names = _compact_sites(dom_idx, dom_dict)

    def strings() -> NodeStrings:
        try:
            url_col = urls.result().column("url")
        except (pa.ArrowException, OSError) as exc:
            raise UsageError(f"{crawl_dir}/nodes: cannot read ({exc})") from None
        url_arr = url_col.combine_chunks().cast(pa.string())
        if in_order is not None:
            url_arr = url_arr.take(pa.array(in_order))
        if keep is not None:
            url_arr = url_arr.take(pa.array(keep))
        return NodeStrings(url_arr, host_of_node, host_names, dom_of_node, dom_names)

    return CrawlInput(n, src, dst, rules, keys, status, status_valid, strings, dom_of_node,
                      host_of_node)


def _load_by_keys(crawl_dir: Path, link_files: list[Path], page_files: list[Path]
                  ) -> CrawlInput:
    check_columns(link_files, KEY_LINK_COLUMNS)
    # The graph needs keys and rule columns only; URLs, hosts and domains come from the
    # pages table, and from link rows only for the nodes it lacks (read further down).
    keys = read_numpy(link_files, ["src_key", "dst_key"])
    links = read_columns(link_files, RULE_COLUMNS, ("link_type",), check=False)
    pages = read_columns(page_files, KEY_PAGE_COLUMNS, ("host", "domain")) if page_files \
        else None

    # Non-web targets: the footers' null counts usually prove there are none without
    # reading the column.
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
    node_keys = nodes.to_numpy(zero_copy_only=False)
    del nodes

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
    # Those nodes' strings are only in the link files: read them on a side thread while
    # the graph is built and scored (Parquet decoding and the kernels release the GIL).
    reader = ThreadPoolExecutor(1, thread_name_prefix="strings")
    pending = reader.submit(_extra_strings, link_files, extra_rows, extra_src)
    reader.shutdown(wait=False)
    del extra_rows, extra_src

    if pages is not None and fetched.any():
        status, status_valid = _status_of_nodes(
            np.flatnonzero(fetched), pages.column("status").take(pa.array(page_row[fetched])), n)
    else:
        status, status_valid = np.zeros(n, np.int32), np.zeros(n, bool)

    def strings() -> NodeStrings:
        extra_strings = pending.result()
        host_of_node, host_names = _site_ids(pages.column("host") if pages is not None
                                             else None, page_row, extra_strings["host"], n,
                                             fetched)
        dom_of_node, dom_names = _site_ids(pages.column("domain") if pages is not None
                                           else None, page_row, extra_strings["domain"], n,
                                           fetched)
        url_pos = np.empty(n, dtype=np.int64)
        n_pages = pages.num_rows if pages is not None else 0
        url_pos[fetched] = page_row[fetched]
        url_pos[extra] = n_pages + np.arange(len(extra))
        page_urls = pages.column("url").cast(pa.string()).combine_chunks() \
            if pages is not None else pa.array([], pa.string())
        urls = pa.concat_arrays([page_urls, extra_strings["url"]]).take(pa.array(url_pos))
        return NodeStrings(urls, host_of_node, host_names, dom_of_node, dom_names)

    return CrawlInput(n, src, dst, LinkRules.of(links), node_keys, status, status_valid,
                      strings)


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
