"""Every link of two crawls compared on node ids: ``linkgraph diff`` without a target.

The SQL of :mod:`linkgraph.analysis.diff` numbers equal links with a window over
``(src_key, dst_key, link_type)`` and full-joins the two crawls on those four columns:
on 10M links a side, two window sorts and a join of 20M rows (~25 s of CPU). Here each
link is three small integers instead:

* both folders' node ids (``links.src_id``/``dst_id``, dense ``0..N-1`` per folder) in
  one id space: OLD's ids, and NEW's nodes mapped onto them through their
  ``url_key`` (the key the SQL matches on), the ~1M rows of the nodes tables, not the
  10M of the links; a URL only NEW has gets an id after OLD's;
* ``link_type`` as its rank among the type names (read as Parquet dictionary codes);
* each side's rows sorted by ``(src, dst, type, ordinal, row)`` in compiled code
  (:func:`linkgraph.scoring._kernels.link_order`; the two sides on two threads), so the
  k-th of equal links is its occurrence k, and one merge pass over the two sorted lists
  (:func:`~linkgraph.scoring._kernels.match_links`) pairs the k-th copy in OLD with the
  k-th in NEW (links are a multiset), comparing flags and anchor bytes on the way.

Only the rows that changed (a few percent) get their URLs, statuses, anchors and rel
lists taken, and the final order is the SQL path's ``ORDER BY``, so the rows are the
same, in the same order. :func:`referring_counts` does the summary's referring-domain
counts on the same ids (a domain code per node from each folder's nodes table).

Folders this path cannot read so (no nodes table, a schema without node ids, node ids
that are not ``0..N-1``, a ``url_key`` twice in a nodes table, a link id with no node)
raise :class:`Fallback`: the caller then runs the SQL.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkgraph.scoring import _kernels
from linkgraph.storage.reader import CrawlFolder

log = logging.getLogger(__name__)

#: Page classes of ``diff._outcomes``, by code (-1: no row in that crawl).
CLASSES = ("ok", "redirect", "gone", "error", "not_looked")
OK, REDIRECT, GONE, ERROR, NOT_LOOKED = range(len(CLASSES))
_LINK_COLUMNS = ["src_id", "dst_id", "link_type", "ordinal", "nofollow", "sponsored", "ugc",
                 "anchor_text"]


class Fallback(Exception):
    """These folders need the SQL path (the message says why, for the debug log)."""


@dataclass
class Nodes:
    """One folder's nodes in node-id order (``urls`` and ``domains`` read later, by
    :func:`read_node_names`)."""

    files: list[str]
    keys: np.ndarray    # url_key of node id i
    row: np.ndarray     # the nodes table's row of node id i
    in_order: bool      # row i is node id i (as a crawl writes them)
    urls: pa.Array | None = None
    domains: pa.Array | None = None


@dataclass
class Side:
    """One folder's links on the shared ids (what matching and the summary need)."""

    src: np.ndarray     # int32 shared node ids
    dst: np.ndarray
    types: list[str]    # type names, sorted; ``code`` indexes them
    code: np.ndarray    # int16
    order: np.ndarray   # int32 rows in link order
    flags: np.ndarray   # uint8: nofollow | sponsored << 1 | ugc << 2
    anchors: pa.Array   # one chunk


@dataclass
class Outcomes:
    """One folder's ``diff._outcomes`` rows, and where each shared node id has its."""

    table: pa.Table     # outcome, redirect_to, truncated
    cls: np.ndarray     # int8 class code per shared id, -1 without a row
    row: np.ndarray     # int32 row of ``table`` per shared id, -1 without one


@dataclass
class LinkIds:
    """Both folders on one id space: OLD's node ids, then the URLs only NEW has."""

    old_nodes: Nodes
    new_nodes: Nodes
    new_id: np.ndarray       # NEW node id -> shared id
    new_row: np.ndarray      # shared id -> NEW node id, -1 where NEW has no such node
    old: Side | None = None
    new: Side | None = None

    @property
    def size(self) -> int:
        return len(self.new_row)


_NUMPY = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32,
          pa.int64(): np.int64, pa.float64(): np.float64}


def _np(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An integer, float or boolean Arrow column as numpy, from its buffers (values
    under a null are unspecified: callers mask them). Arrow's own ``to_numpy`` of a
    chunked or boolean column goes through its pandas conversion, whose first use
    imports pandas (~0.8 s of the command's start)."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    parts = []
    for chunk in chunks:
        n, at = len(chunk), chunk.offset
        buffer = chunk.buffers()[1]
        if pa.types.is_boolean(chunk.type):
            bits = np.frombuffer(buffer, np.uint8) if buffer is not None and n else \
                np.zeros(0, np.uint8)
            parts.append(np.unpackbits(bits, count=at + n, bitorder="little")[at:].view(bool))
        else:
            dtype = _NUMPY[chunk.type]
            parts.append(np.frombuffer(buffer, dtype)[at:at + n] if n else np.zeros(0, dtype))
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return np.zeros(0, bool if pa.types.is_boolean(values.type) else _NUMPY[values.type])
    return np.concatenate(parts)


def _read(files: list[str], columns: list[str]) -> pa.Table:
    """``columns`` of the Parquet ``files``, file after file (not through
    pyarrow.dataset, whose import brings pandas in: ~0.8 s of a command's start)."""
    tables = []
    for name in files:
        part = pq.ParquetFile(name)
        missing = set(columns) - set(part.schema_arrow.names)
        if missing:
            raise Fallback(f"{name}: no {', '.join(sorted(missing))} column")
        tables.append(part.read(columns=columns))
    return pa.concat_tables(tables)


def _read_nodes(folder: CrawlFolder) -> Nodes:
    files = [str(f) for f in folder.files("nodes")]
    if not files:
        raise Fallback(f"{folder.path}: no nodes table")
    table = _read(files, ["node_id", "url_key"])
    ids = _np(table.column("node_id"))
    n = len(ids)
    seen = np.zeros(n, bool)
    inside = (ids >= 0) & (ids < n)
    seen[ids[inside]] = True
    if not (inside.all() and seen.all()):
        raise Fallback(f"{folder.path}: node ids are not 0..{n - 1}")
    row = np.empty(n, np.int64)
    row[ids] = np.arange(n)
    in_order = bool((row == np.arange(n)).all())
    keys = _np(table.column("url_key"))
    keys = keys if in_order else keys[row]
    ordered = np.sort(keys)
    if n and (ordered[1:] == ordered[:-1]).any():
        raise Fallback(f"{folder.path}: a url_key is twice in nodes")
    return Nodes(files, keys, row, in_order)


def read_node_names(nodes: Nodes) -> None:
    """``urls`` and ``domains`` of ``nodes``, by node id."""
    table = _read(nodes.files, ["url", "domain"])
    if nodes.in_order:  # as the crawl writes them: no take of 1M strings
        nodes.urls = _flat(table.column("url"))
        nodes.domains = _flat(table.column("domain"))
    else:
        at = pa.array(nodes.row)
        nodes.urls = _flat(table.column("url").take(at))
        nodes.domains = _flat(table.column("domain").take(at))


def shared_ids(old: CrawlFolder, new: CrawlFolder) -> LinkIds:
    """Map NEW's node ids onto OLD's through ``url_key``."""
    old_nodes, new_nodes = _read_nodes(old), _read_nodes(new)
    n_old = len(old_nodes.keys)
    at = pc.index_in(pa.array(new_nodes.keys), value_set=pa.array(old_nodes.keys))
    new_id = _np(pc.fill_null(at, -1)).astype(np.int64)
    only_new = new_id < 0
    new_id[only_new] = n_old + np.arange(int(only_new.sum()))
    new_row = np.full(n_old + int(only_new.sum()), -1, np.int32)
    new_row[new_id] = np.arange(len(new_id), dtype=np.int32)
    return LinkIds(old_nodes, new_nodes, new_id.astype(np.int32), new_row)


def _flat(column: pa.ChunkedArray) -> pa.Array:
    """A string column as one array (large_string past 2 GiB of text)."""
    if sum(c.nbytes for c in column.chunks) >= 2**31 - 1:
        column = column.cast(pa.large_string())
    return column.combine_chunks() if column.num_chunks else pa.array([], column.type)


def _string_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    buffers = array.buffers()
    n = len(array)
    offsets = (np.frombuffer(buffers[1], width)[array.offset:array.offset + n + 1]
               if n else np.zeros(1, width))
    data = (np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None
            else np.zeros(1, np.uint8))
    valid = _np(array.is_valid()) if array.null_count else None
    return offsets, data, valid


def _link_files(folder: CrawlFolder) -> list[pq.ParquetFile]:
    """The committed links parts, in commit order: rows are numbered in this order
    (file after file, row after row) by every read here."""
    return [pq.ParquetFile(str(f), read_dictionary=["link_type"])
            for f in folder.files("links")]


def read_side(folder: CrawlFolder, ids: LinkIds, remap: np.ndarray | None) -> Side:
    """A folder's links on the shared ids (``remap``: its node id -> shared id), in
    link order.

    Read a row group at a time into arrays of the final size: a whole-table read and
    its conversion to numpy held two copies of every column, and the kernel zeroing
    the pages of each was ~20% of the CPU."""
    parts = _link_files(folder)
    if not parts:
        raise Fallback(f"{folder.path}: no links")
    for part in parts:
        missing = set(_LINK_COLUMNS) - set(part.schema_arrow.names)
        if missing:
            raise Fallback(f"{folder.path}: links without {', '.join(sorted(missing))}")
    n = sum(part.metadata.num_rows for part in parts)
    if n >= 2**31:
        raise Fallback(f"{folder.path}: 2**31 links or more")
    src, dst, ordinal = (np.empty(n, np.int32) for _ in range(3))
    code = np.empty(n, np.int16)
    flags = np.empty(n, np.uint8)
    anchors = []
    names: dict[str, int] = {}  # type name -> code, in order of first sight
    # OLD's ids are the shared ids below len(OLD's nodes); NEW's are mapped.
    n_nodes = len(ids.old_nodes.keys) if remap is None else len(remap)
    at = 0
    for part in parts:
        for g in range(part.metadata.num_row_groups):
            batch = part.read_row_group(g, columns=_LINK_COLUMNS, use_threads=False)
            k = batch.num_rows
            if any(batch.column(c).null_count for c in _LINK_COLUMNS[:-1]):
                raise Fallback(f"{folder.path}: nulls in link ids, types or flags")
            rows = slice(at, at + k)
            for name, out in (("src_id", src), ("dst_id", dst)):
                v = _np(batch.column(name))
                if k and (v.min() < 0 or v.max() >= n_nodes):
                    raise Fallback(f"{folder.path}: a link id with no node")
                if remap is None:
                    out[rows] = v
                else:  # in range (checked): "clip" is numpy's unbuffered take
                    np.take(remap, v, out=out[rows], mode="clip")
            ordinal[rows] = _np(batch.column("ordinal"))
            pos = at
            for chunk in batch.column("link_type").chunks:
                if not pa.types.is_dictionary(chunk.type):
                    chunk = chunk.dictionary_encode()
                lut = np.array([names.setdefault(t, len(names))
                                for t in chunk.dictionary.to_pylist()], np.int16)
                if len(chunk):
                    np.take(lut, _np(chunk.indices), out=code[pos:pos + len(chunk)],
                            mode="clip")
                pos += len(chunk)
            bits = flags[rows]
            bits[:] = _np(batch.column("nofollow"))
            bits |= _np(batch.column("sponsored")).astype(np.uint8) << 1
            bits |= _np(batch.column("ugc")).astype(np.uint8) << 2
            anchors.extend(batch.column("anchor_text").chunks)
            at += k
    if at != n:
        raise Fallback(f"{folder.path}: the parts' row counts do not add up")
    # Codes in order of the sorted names, so that sorting by code sorts by name.
    sorted_names = sorted(names)
    if list(names) != sorted_names:
        rank = np.array([sorted_names.index(t) for t in names], np.int16)
        code[:] = rank[code]
    order = _kernels.link_order(src, dst, code, ordinal, ids.size)
    if order is None:
        raise Fallback(f"{folder.path}: a link id with no node")
    del ordinal
    return Side(src, dst, sorted_names, code, order, flags,
                _flat(pa.chunked_array(anchors, pa.string())))


def _kernel_side(side: Side) -> _kernels.LinkSide:
    return _kernels.LinkSide(side.src, side.dst, side.code, side.order, side.flags,
                             *_string_buffers(side.anchors))


def _recode(side: Side, names: list[str]) -> None:
    """Type codes into the sorted union of both sides' names (a monotone map: the link
    order stays sorted)."""
    if side.types != names:
        at = np.searchsorted(np.array(names, dtype=object), np.array(side.types, dtype=object))
        side.code = at.astype(np.int16)[side.code]
        side.types = names


def outcomes(folder: CrawlFolder, nodes: Nodes, remap: np.ndarray | None, size: int
             ) -> Outcomes:
    """One folder's page outcomes by shared id (``remap``: its node id -> shared id):
    what ``diff._outcomes`` selects from ``page_outcome``, computed from the pages
    table's columns (the SQL's window over 1M URL keys took ~0.7 s; here a page's
    node id groups its rows, a count per id, and a sort only when a URL has two)."""
    files = [str(f) for f in folder.files("pages")]
    columns = ["url_key", "node_id", "status", "error", "redirect_to", "links_truncated"]
    if files:
        table = _read(files, columns)
    else:
        from linkgraph.storage.schemas import PAGES_SCHEMA
        table = PAGES_SCHEMA.empty_table().select(columns)
    if table.column("node_id").null_count:
        raise Fallback(f"{folder.path}: a page without node_id")
    node = _np(table.column("node_id"))
    if len(node) and (node.min() < 0 or node.max() >= len(nodes.keys)
                      or (nodes.keys[node] != _np(table.column("url_key"))).any()):
        raise Fallback(f"{folder.path}: a page whose node_id is not its url_key's node")
    status = table.column("status")
    code = _np(status)
    has_status = _np(status.is_valid())
    code = np.where(has_status, code, 0).astype(np.int64)
    error = table.column("error")
    kind = pc.list_element(pc.split_pattern(error, ":", max_splits=1), 0)
    from linkgraph.analysis.crawl_views import NOT_LOOKED_ERRORS

    # As OUTCOME_SQL, NOT_LOOKED_SQL and BROKEN_SQL say.
    outcome = pc.coalesce(status.cast(pa.string()), kind)
    not_looked = ~has_status & (_np(error.is_null()) | _np(
        pc.fill_null(pc.is_in(kind, value_set=pa.array(NOT_LOOKED_ERRORS)), False)))
    broken = (has_status & (code >= 400)) | (~has_status & ~not_looked)
    cls = np.select([not_looked, broken & (~has_status | (code >= 500)), broken,
                     has_status & (code >= 300)], [NOT_LOOKED, ERROR, GONE, REDIRECT],
                    OK).astype(np.int8)
    truncated = _np(pc.fill_null(table.column("links_truncated"), 0)) > 0
    rows = np.arange(len(node))
    if len(node) and np.bincount(node).max() > 1:
        # One row per URL, the lowest status first and a failure last (the SQL's
        # QUALIFY; among equal ones it picks any, here the first).
        order = np.lexsort((np.where(has_status, code, 2**40), node))
        first = np.ones(len(order), bool)
        first[1:] = node[order][1:] != node[order][:-1]
        rows = order[first]
    at = pa.array(rows)
    picked = pa.table({"outcome": outcome.take(at),
                       "redirect_to": table.column("redirect_to").take(at),
                       "truncated": pa.array(truncated[rows])})
    shared = node[rows] if remap is None else remap[node[rows]]
    by_id = np.full(size, -1, np.int8)
    row = np.full(size, -1, np.int32)
    by_id[shared] = cls[rows]
    row[shared] = np.arange(len(rows), dtype=np.int32)
    return Outcomes(picked, by_id, row)


def _take(array: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """``array[rows]``, null where ``rows`` is -1."""
    rows = np.asarray(rows)
    return array.take(pa.array(rows, mask=rows < 0, type=pa.int64()))


def _names(code: np.ndarray, names: tuple[str, ...] | list[str]) -> pa.Array:
    """``names[code]`` as strings, null where ``code`` is -1."""
    code = np.asarray(code)
    return pa.DictionaryArray.from_arrays(pa.array(code, mask=code < 0, type=pa.int32()),
                                          pa.array(list(names), pa.string())).dictionary_decode()


def _coalesce_node(ids: LinkIds, shared: np.ndarray, column: str) -> pa.Array:
    """NEW's value of ``column`` (url, domain) of each shared id, else OLD's: the
    coalesce of the SQL path's two lookups."""
    newer = _take(getattr(ids.new_nodes, column), ids.new_row[shared])
    older = _take(getattr(ids.old_nodes, column),
                  np.where(shared < len(ids.old_nodes.keys), shared, -1))
    return pc.coalesce(newer, older)


def _rel_differs(old: pa.Array, new: pa.Array) -> np.ndarray:
    """``old <> new`` of two list<string> columns, row by row (null: not different)."""
    lo = _np(pc.list_value_length(old))
    ln = _np(pc.list_value_length(new))
    valid = _np(old.is_valid()) & _np(new.is_valid())
    lo, ln = np.where(valid, lo, 0), np.where(valid, ln, 0)
    differs = valid & (lo != ln)
    same = np.flatnonzero(valid & (lo == ln) & (lo > 0))
    if len(same):
        at = pa.array(same)
        fo = pc.list_flatten(old.take(at))
        fn = pc.list_flatten(new.take(at))
        unequal = _np(pc.fill_null(pc.not_equal(fo, fn), False))
        parent = _np(pc.list_parent_indices(old.take(at)))
        differs[same] = np.bincount(parent, weights=unequal, minlength=len(same)) > 0
    return differs


def _first_at(side: Side, node: int) -> int:
    """Where the link order reaches sources >= ``node`` (a binary search)."""
    lo, hi = 0, len(side.order)
    while lo < hi:
        mid = (lo + hi) // 2
        if side.src[side.order[mid]] < node:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _match(old: Side, new: Side, moved: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_kernels.match_links` on two threads: each matches the links of one half
    of the sources (a source's links are all in one half, so occurrences restart
    right), and the halves' rows are concatenated in link order."""
    o, n = _kernel_side(old), _kernel_side(new)
    middle = len(moved) // 2
    cuts = [(0, _first_at(old, middle), len(old.order)), (0, _first_at(new, middle),
                                                          len(new.order))]
    with ThreadPoolExecutor(2) as pool:
        halves = [pool.submit(_kernels.match_links, o, n, moved,
                              (cuts[0][h], cuts[0][h + 1]), (cuts[1][h], cuts[1][h + 1]))
                  for h in (0, 1)]
        parts = [half.result() for half in halves]
    return tuple(np.concatenate([a, b]) for a, b in zip(*parts))  # type: ignore[return-value]


def diff_rows(ids: LinkIds, old_out: Outcomes, new_out: Outcomes, rel: RelReader,
              change_reasons: tuple[str, ...]) -> pa.Table:
    """The changed links of :func:`match` as the rows of ``diff.COLUMNS`` (unsorted)."""
    old, new = ids.old, ids.new
    assert old is not None and new is not None
    moved = ((old_out.cls >= 0) & (new_out.cls >= 0) & (old_out.cls != NOT_LOOKED)
             & (new_out.cls != NOT_LOOKED) & (old_out.cls != new_out.cls))
    kind, o_row, n_row, occurrence = _match(old, new, moved)
    parts = [_lost_rows(ids, o_row[kind == 0], occurrence[kind == 0], old_out, new_out, rel),
             _changed_rows(ids, o_row[kind == 1], n_row[kind == 1], occurrence[kind == 1],
                           moved, old_out, new_out, rel, change_reasons),
             _new_rows(ids, n_row[kind == 2], occurrence[kind == 2], new_out, rel)]
    return pa.concat_tables(parts)


class RelReader:
    """The ``rel`` lists of some rows of each folder's links (read when first asked)."""

    def __init__(self, old: CrawlFolder, new: CrawlFolder):
        self._folders = {"old": old, "new": new}
        self._columns: dict[str, pa.ChunkedArray] = {}

    def take(self, side: str, rows: np.ndarray) -> pa.Array:
        if side not in self._columns:
            chunks = [chunk.cast(_LIST) for part in _link_files(self._folders[side])
                      for chunk in part.read(columns=["rel"], use_threads=False).column(0).chunks]
            self._columns[side] = pa.chunked_array(chunks, _LIST)
        return _take(self._columns[side], rows).cast(_LIST)


_STRING, _BOOL = pa.string(), pa.bool_()
_LIST = pa.list_(pa.string())


def _table(n: int, **columns: pa.Array | None) -> pa.Table:
    from linkgraph.analysis.diff import COLUMNS

    types = {"occurrence": pa.int64(), "reasons": _LIST, "old_rel": _LIST, "new_rel": _LIST,
             "old_nofollow": _BOOL, "new_nofollow": _BOOL}
    arrays = []
    for name in COLUMNS:
        value = columns.get(name)
        kind = types.get(name, _STRING)
        arrays.append(pa.nulls(n, kind) if value is None else value.cast(kind))
    return pa.Table.from_arrays(arrays, names=list(COLUMNS))


def _link_columns(ids: LinkIds, side: Side, rows: np.ndarray, occurrence: np.ndarray) -> dict:
    src, dst = side.src[rows], side.dst[rows]
    return {"src_url": _coalesce_node(ids, src, "urls"),
            "dst_url": _coalesce_node(ids, dst, "urls"),
            "link_type": _names(side.code[rows], side.types),
            "occurrence": pa.array(occurrence.astype(np.int64)),
            "src_domain": _coalesce_node(ids, src, "domains"),
            "dst_domain": _coalesce_node(ids, dst, "domains")}


def _lost_rows(ids: LinkIds, rows: np.ndarray, occurrence: np.ndarray, old_out: Outcomes,
               new_out: Outcomes, rel: RelReader) -> pa.Table:
    from linkgraph.analysis.diff import LOST_REASONS

    side = ids.old
    assert side is not None
    src, dst = side.src[rows], side.dst[rows]
    cls, at = new_out.cls[src], new_out.row[src]
    truncated = _np(pc.fill_null(_take(new_out.table.column("truncated"), at), False))
    redirect_code = side.types.index("redirect") if "redirect" in side.types else -1
    reason = np.select(
        [(cls < 0) | (cls == NOT_LOOKED), cls == GONE, cls == ERROR,
         (cls == REDIRECT) & (side.code[rows] != redirect_code), truncated],
        [LOST_REASONS.index(r) for r in ("page_not_crawled", "page_gone", "page_error",
                                          "page_redirected", "links_truncated")],
        LOST_REASONS.index("link_removed"))
    reasons = _names(reason, LOST_REASONS)
    n = len(rows)
    return _table(
        n, change=pa.array(["lost"] * n, _STRING), reason=reasons,
        reasons=pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), reasons),
        **_link_columns(ids, side, rows, occurrence),
        new_src_status=_take(new_out.table.column("outcome"), at),
        new_redirect_to=_take(new_out.table.column("redirect_to"),
                              np.where(cls == REDIRECT, at, -1)),
        old_dst_status=_take(old_out.table.column("outcome"), old_out.row[dst]),
        old_anchor_text=side.anchors.take(pa.array(rows)),
        old_rel=rel.take("old", rows),
        old_nofollow=pa.array((side.flags[rows] & 1).astype(bool)))


def _changed_rows(ids: LinkIds, o_rows: np.ndarray, n_rows: np.ndarray,
                  occurrence: np.ndarray, moved: np.ndarray, old_out: Outcomes,
                  new_out: Outcomes, rel: RelReader, change_reasons: tuple[str, ...]
                  ) -> pa.Table:
    old, new = ids.old, ids.new
    assert old is not None and new is not None
    dst = old.dst[o_rows]
    m = moved[dst]
    oc = np.where(m, old_out.cls[dst], -1)
    nc = np.where(m, new_out.cls[dst], -1)
    of, nf = old.flags[o_rows], new.flags[n_rows]
    o_anchor, n_anchor = old.anchors.take(pa.array(o_rows)), new.anchors.take(pa.array(n_rows))
    anchor = ~_np(pc.fill_null(pc.equal(o_anchor, n_anchor), False)) & ~(
        _np(o_anchor.is_null()) & _np(n_anchor.is_null()))
    broken_o, broken_n = (oc == GONE) | (oc == ERROR), (nc == GONE) | (nc == ERROR)

    def became(bit: int) -> np.ndarray:
        return ((of >> bit) & 1 == 0) & ((nf >> bit) & 1 == 1)

    def no_longer(bit: int) -> np.ndarray:
        return ((of >> bit) & 1 == 1) & ((nf >> bit) & 1 == 0)

    tests = {
        "target_broken": broken_n & ~broken_o & m,
        "became_nofollow": became(0), "became_sponsored": became(1), "became_ugc": became(2),
        "target_redirected": m & (nc == REDIRECT),
        "target_fixed": m & (broken_o | (oc == REDIRECT)) & (nc == OK),
        "became_follow": no_longer(0), "no_longer_sponsored": no_longer(1),
        "no_longer_ugc": no_longer(2),
        "anchor_changed": anchor,
    }
    hits = np.stack([tests[name] for name in change_reasons], axis=1)
    keep = hits.any(axis=1)
    hits = hits[keep]
    o_rows, n_rows, occurrence, dst, m = o_rows[keep], n_rows[keep], occurrence[keep], dst[keep], m[keep]
    anchor, of, nf = anchor[keep], of[keep], nf[keep]
    o_anchor, n_anchor = o_anchor.filter(pa.array(keep)), n_anchor.filter(pa.array(keep))
    row, which = np.nonzero(hits)
    offsets = np.concatenate([[0], np.cumsum(hits.sum(axis=1))]).astype(np.int32)
    reasons = pa.ListArray.from_arrays(pa.array(offsets), _names(which, change_reasons))
    first = which[offsets[:-1]] if len(row) else np.zeros(0, np.int64)
    o_rel, n_rel = rel.take("old", o_rows), rel.take("new", n_rows)
    rel_differs = pa.array(_rel_differs(o_rel, n_rel))
    nofollow_differs = pa.array((of & 1) != (nf & 1))
    o_at = np.where(m, old_out.row[dst], -1)
    n_at = np.where(m, new_out.row[dst], -1)
    none = pa.nulls(len(o_rows), _STRING)
    return _table(
        len(o_rows), change=pa.array(["changed"] * len(o_rows), _STRING),
        reason=_names(first, change_reasons), reasons=reasons,
        **_link_columns(ids, old, o_rows, occurrence),
        new_redirect_to=_take(new_out.table.column("redirect_to"), n_at),
        old_dst_status=_take(old_out.table.column("outcome"), o_at),
        new_dst_status=_take(new_out.table.column("outcome"), n_at),
        old_anchor_text=pc.if_else(pa.array(anchor), o_anchor, none),
        new_anchor_text=pc.if_else(pa.array(anchor), n_anchor, none),
        old_rel=pc.if_else(rel_differs, o_rel, pa.nulls(len(o_rows), _LIST)),
        new_rel=pc.if_else(rel_differs, n_rel, pa.nulls(len(o_rows), _LIST)),
        old_nofollow=pc.if_else(nofollow_differs, pa.array((of & 1).astype(bool)),
                                pa.nulls(len(o_rows), _BOOL)),
        new_nofollow=pc.if_else(nofollow_differs, pa.array((nf & 1).astype(bool)),
                                pa.nulls(len(o_rows), _BOOL)))


def _new_rows(ids: LinkIds, rows: np.ndarray, occurrence: np.ndarray, new_out: Outcomes,
              rel: RelReader) -> pa.Table:
    side = ids.new
    assert side is not None
    n = len(rows)
    return _table(
        n, change=pa.array(["new"] * n, _STRING),
        reasons=pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)),
                                         pa.array([], _STRING)),
        **_link_columns(ids, side, rows, occurrence),
        new_dst_status=_take(new_out.table.column("outcome"), new_out.row[side.dst[rows]]),
        new_anchor_text=side.anchors.take(pa.array(rows)),
        new_rel=rel.take("new", rows),
        new_nofollow=pa.array((side.flags[rows] & 1).astype(bool)))


def align_types(ids: LinkIds) -> None:
    """Both sides' type codes into one code space."""
    assert ids.old is not None and ids.new is not None
    names = sorted(set(ids.old.types) | set(ids.new.types))
    _recode(ids.old, names)
    _recode(ids.new, names)


def referring_counts(ids: LinkIds, src_domains: pa.Array, dst_domains: pa.Array
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Link rows of OLD and of NEW from each ``src_domains[i]`` to ``dst_domains[i]``
    (distinct pairs of two different non-null domains): what the SQL path counts from
    the links' own domain columns, here from each folder's nodes table (a link row's
    domains are its nodes': the crawl derives both from the same URL)."""
    assert ids.old is not None and ids.new is not None
    dictionary = pc.unique(pa.chunked_array(
        [ids.old_nodes.domains, ids.new_nodes.domains, *pa.chunked_array(src_domains).chunks,
         *pa.chunked_array(dst_domains).chunks], _STRING).drop_null())
    n_groups = max(len(dictionary), 1)

    def codes(values: pa.Array) -> np.ndarray:
        return _np(pc.fill_null(pc.index_in(values, value_set=dictionary), -1)).astype(np.int64)

    pairs = codes(src_domains) * n_groups + codes(dst_domains)
    old_group = codes(ids.old_nodes.domains).astype(np.int32)
    new_group = np.full(ids.size, -1, np.int32)
    new_group[ids.new_id] = codes(ids.new_nodes.domains)
    old_group = np.concatenate([old_group, np.full(ids.size - len(old_group), -1, np.int32)])
    with ThreadPoolExecutor(2) as pool:
        counts = [pool.submit(_kernels.count_pairs, side.src, side.dst, group, n_groups, pairs)
                  for side, group in ((ids.old, old_group), (ids.new, new_group))]
        return counts[0].result(), counts[1].result()
