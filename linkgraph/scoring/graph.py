"""Node ids and the graph arrays: the engine-agnostic heart of the scorer.

Input is two aligned arrays of node identifiers (64-bit URL keys, host names, any
Arrow type); output is dense ids ``0..n-1``, the identifier of each id, and the graph
as in-edge lists (:class:`InEdges`, what the pull products read) or as a CSR matrix.
Nothing here knows about crawls, URLs or Parquet, so the algorithms in
:mod:`pagerank`, :mod:`hits` and :mod:`harmonic` run on any edge list.

Costs that decide the design (10M edges, 1M nodes, 2 cores, see benchmarks/):
hashing 20M int64 keys to dense ids with Arrow's ``dictionary_encode`` takes ~0.5 s
(a sort-based ``np.unique`` took 12 s on the same input), and hashing one source key
per run of a page's links cuts 20M keys to ~12M; hashing 20M URL *strings* took 4-11 s,
which is why the crawl writes a node id per URL. Deduplicating pairs by hashing
int64 pair codes took 1-2.6 s, summing them per CSR row in scipy ~0.25 s; the
counting sort by target with a last-seen marker per source (:func:`in_edge_graph`)
builds the graph and every link count in ~0.25 s on 2 cores.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import scipy.sparse as sp

log = logging.getLogger(__name__)


def _as_array(values: pa.Array | pa.ChunkedArray | np.ndarray) -> pa.Array:
    if isinstance(values, np.ndarray):
        return pa.array(values)
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def encode_nodes(*columns: pa.Array | pa.ChunkedArray | np.ndarray
                 ) -> tuple[list[np.ndarray], pa.Array]:
    """Map node identifiers to dense int32 ids, in order of first appearance.

    Parameters
    ----------
    *columns : arrays of one Arrow type
        Identifier columns (e.g. ``src_key``, ``dst_key``, then the keys of pages with
        no links); no nulls.

    Returns
    -------
    ids : list of ndarray of int32
        The dense id of every value, one array per input column.
    nodes : pyarrow.Array
        ``nodes[i]`` is the identifier of id ``i``. Ids are numbered in order of first
        appearance over the columns taken one after another.
    """
    arrays = [_as_array(c) for c in columns]
    lengths = [len(a) for a in arrays]
    runs = None
    if arrays and lengths[0] > 1:
        # A crawl writes a page's links together (and edge lists are often sorted by
        # source), so the source column is runs of one key: hash one key per run (10M
        # rows -> 0.9M runs) and repeat the ids. First appearance order is unchanged,
        # and a key in several runs still gets one id. Strings are compared with Arrow
        # (10M URLs: 0.05 s, against 0.9 s to hash them).
        first = arrays[0]
        if pa.types.is_integer(first.type):
            values = first.to_numpy(zero_copy_only=False)
            changed = values[1:] != values[:-1]
        else:
            changed = pc.not_equal(first.slice(1), first.slice(0, len(first) - 1)) \
                .to_numpy(zero_copy_only=False)
        heads = np.flatnonzero(np.concatenate(([True], changed)))
        del changed
        if len(heads) * 2 <= len(first):
            runs = np.diff(np.append(heads, len(first)))
            arrays[0] = first.take(pa.array(heads))
        del first
    kind = arrays[0].type
    if all(pa.types.is_integer(a.type) for a in arrays):
        kind = pa.int64() if any(a.type != kind for a in arrays) else kind
    elif any(a.type != kind for a in arrays):
        kind = pa.large_string()
    # One hash table over the columns taken as chunks of one array: no concatenated
    # copy of the keys, and every chunk's indices refer to one shared dictionary.
    encoded = pc.dictionary_encode(pa.chunked_array([a.cast(kind) for a in arrays], kind))
    del arrays
    chunks = [c for c in encoded.chunks if len(c)]
    dictionary = chunks[-1].dictionary if chunks else pa.array([], kind)
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks]
                           or [np.zeros(0, np.int32)]).astype(np.int32, copy=False)
    del encoded, chunks
    sizes = [len(heads) if i == 0 and runs is not None else length
             for i, length in enumerate(lengths)]
    bounds = np.cumsum([0, *sizes])
    ids = [codes[bounds[i]:bounds[i + 1]] for i in range(len(sizes))]
    if runs is not None:
        ids[0] = np.repeat(ids[0], runs)
    return ids, dictionary


class StreamedNodeIds:
    """:func:`encode_nodes` for string columns read one batch at a time.

    Each batch's strings are numbered against one growing table that keeps one copy of
    each distinct string (:class:`_kernels.StringTable`): a batch's strings (one per
    run of one value), or its Parquet dictionary as read, never the whole column. :meth:`finish` gives
    exactly :func:`encode_nodes`' ids and nodes for the columns concatenated batch after
    batch: ids in order of first appearance over the columns taken one after another.

    Parameters
    ----------
    columns : int
        Number of identifier columns each :meth:`add` takes.
    rows : int, optional
        Rows the columns will have at most (a Parquet footer's count): each column's
        ids are then written into one array of that size as batches come, instead of
        kept per batch and concatenated (on 10M URL pairs 80 MB less memory touched
        for the first time, the costly part of a copy on these machines).
    """

    def __init__(self, columns: int, rows: int | None = None) -> None:
        from linkgraph.scoring._kernels import StringTable

        self._table = StringTable()
        self._parts: list[list[np.ndarray]] = [[] for _ in range(columns)]
        # Preallocated ids and how many rows of each are filled (None: kept per batch).
        self._out: list[np.ndarray | None] | None = \
            [np.empty(rows, np.int32) for _ in range(columns)] if rows is not None else None
        self._filled = [0] * columns
        # The last dictionary of each column and its table ids: the batches of one
        # Parquet row group share one dictionary (held here, so its address is not reused).
        self._last: list[tuple[pa.Array, np.ndarray] | None] = [None] * columns
        self._large = False
        self._runs = [True] * columns

    def add(self, *arrays: pa.Array | pa.ChunkedArray) -> None:
        """One batch: an array per column (string, large_string or a dictionary of
        them), no nulls."""
        for i, values in enumerate(arrays):
            chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
            for chunk in chunks:
                if len(chunk):
                    self._add_chunk(i, chunk)

    def _add_chunk(self, column: int, values: pa.Array) -> None:
        out = None
        whole = self._out[column] if self._out is not None else None
        if whole is not None:
            at = self._filled[column]
            if at + len(values) <= len(whole):
                out = whole[at:at + len(values)]
                self._filled[column] = at + len(values)
            else:
                # More rows than announced: the rest is kept per batch.
                self._parts[column].append(whole[:at])
                self._out[column] = None
        ids = self._ids(column, values, out)
        if out is None:
            self._parts[column].append(ids)
        elif ids is not out:
            out[:] = ids

    def _ids(self, column: int, values: pa.Array, out: np.ndarray | None = None
             ) -> np.ndarray:
        """The ids of ``values``, written into ``out`` when it is given and the path
        allows (the result is then ``out``)."""
        if pa.types.is_dictionary(values.type):
            return np.take(self._dictionary_ids(column, values.dictionary),
                           values.indices.to_numpy(zero_copy_only=False), out=out)
        # Plain strings go straight to the table (its probes are faster than a local
        # dictionary_encode first), one string per run.
        runs = None
        if self._runs[column]:
            values, runs = _runs(values)
            # A column without runs in one batch (link targets) is not looked at again.
            self._runs[column] = runs is not None
        if runs is None:
            return self._plain_ids(values, out)
        return np.repeat(self._plain_ids(values), runs)

    def _plain_ids(self, values: pa.Array, out: np.ndarray | None = None) -> np.ndarray:
        self._large |= pa.types.is_large_string(values.type)
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            values = values.cast(pa.large_string())
        return self._table.add(values, out)

    def _dictionary_ids(self, column: int, dictionary: pa.Array) -> np.ndarray:
        last = self._last[column]
        if last is not None and _same(last[0], dictionary):
            return last[1]
        ids = self._plain_ids(dictionary)
        self._last[column] = (dictionary, ids)
        return ids

    def finish(self, large: bool = False, lazy: bool = False
               ) -> tuple[list[np.ndarray], pa.Array | NodeStrings]:
        """The ids of every column (int32) and the nodes (string, or large_string when
        ``large`` or any batch was), as :func:`encode_nodes` returns them; with
        ``lazy``, the nodes as :class:`NodeStrings` (left in the table)."""
        from linkgraph.scoring import _kernels

        self._last = [None] * len(self._parts)
        remap = np.full(self._table.size, -1, np.int32)
        order = np.empty(self._table.size, np.int32)
        n, ids = 0, []
        for i, parts in enumerate(self._parts):
            whole = self._out[i] if self._out is not None else None
            if whole is not None:
                parts.append(whole[:self._filled[i]])
            # One part (the preallocated ids) is used as it is: no copy.
            column = parts[0] if len(parts) == 1 else \
                np.concatenate(parts) if parts else np.zeros(0, np.int32)
            self._parts[i] = []
            del parts, whole
            n = _kernels.first_appearance(column, remap, order, n)
            ids.append(column)
        self._out = None
        del remap
        large = large or self._large
        if lazy:
            nodes = NodeStrings(self._table, order[:n],
                                large or self._table.total_bytes() >= 2**31)
        else:
            nodes = self._table.strings(order[:n], large)
            self._table.close()
        return ids, nodes


class NodeStrings:
    """The nodes of :meth:`StreamedNodeIds.finish`, left in its string table: a slice
    is exported when :meth:`take` asks for it. A table written in PageRank order takes
    its slices anyway, so the whole column in id order (1M URLs: 0.2 s, most of it
    first touches of 70 MB) is never made.

    Parameters
    ----------
    table : StringTable
        The table (closed by :meth:`close`).
    order : numpy.ndarray
        Table id of each node id.
    large : bool
        Whether the slices are large_string (else string).
    """

    def __init__(self, table: object, order: np.ndarray, large: bool) -> None:
        self._table = table
        self._order = order
        self._large = large
        self.type = pa.large_string() if large else pa.string()

    def __len__(self) -> int:
        return len(self._order)

    def take(self, idx: np.ndarray) -> pa.Array:
        """The strings of node ids ``idx``, in that order."""
        return self._table.strings(self._order[idx], self._large)

    def to_arrow(self) -> pa.Array:
        """Every node, in id order."""
        return self._table.strings(self._order, self._large)

    def close(self) -> None:
        self._table.close()


def _same(a: pa.Array, b: pa.Array) -> bool:
    """Whether two arrays view the same memory (``a`` is held, so it is not reused)."""
    return (a.type == b.type and a.offset == b.offset and len(a) == len(b)
            and all((x.address if x else 0) == (y.address if y else 0)
                    for x, y in zip(a.buffers(), b.buffers())))


def _runs(values: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
    """``values`` with each run of one value as one value, and the run lengths; or
    ``values`` and None when runs are too short to pay (see :func:`encode_nodes`)."""
    if len(values) < 2:
        return values, None
    changed = pc.not_equal(values.slice(1), values.slice(0, len(values) - 1)) \
        .to_numpy(zero_copy_only=False)
    heads = np.flatnonzero(np.concatenate(([True], changed)))
    if len(heads) * 2 > len(values):
        return values, None
    return values.take(pa.array(heads)), np.diff(np.append(heads, len(values)))


@dataclass(frozen=True)
class Graph:
    """A directed graph on dense ids, with its adjacency as CSR.

    Attributes
    ----------
    n : int
        Number of nodes (some may have no edges).
    adj : scipy.sparse.csr_array
        ``adj[u, v]`` is the weight of edge u -> v (1.0 when unweighted and
        deduplicated). Rows are sources.
    """

    n: int
    adj: sp.csr_array

    @property
    def m(self) -> int:
        """Number of distinct edges."""
        return int(self.adj.nnz)

    def out_weight(self) -> np.ndarray:
        """Total weight leaving each node (0 for a dangling node)."""
        return self.adj @ np.ones(self.n)

    def in_degree(self) -> np.ndarray:
        """Number of distinct in-neighbours of each node."""
        return np.bincount(self.adj.indices, minlength=self.n)

    def out_degree(self) -> np.ndarray:
        """Number of distinct out-neighbours of each node."""
        return np.diff(self.adj.indptr)

    def reversed(self) -> Graph:
        """The graph with every edge turned around."""
        return Graph(n=self.n, adj=self.adj.T.tocsr())


@dataclass(frozen=True)
class InEdges:
    """A directed graph as in-edge lists (the transposed CSR a pull product reads),
    with every node's link counts.

    Attributes
    ----------
    n : int
        Number of nodes.
    ptr, ind : ndarray
        The in-edges of ``v`` come from ``ind[ptr[v]:ptr[v+1]]`` (each source once).
    data : ndarray of float64 or None
        Their weights; None when every weight is 1.
    out_weight : ndarray of float64
        Summed weight of each node's out-edges (0: dangling).
    in_links, out_links : ndarray of int64
        Edge rows into / out of each node, self-links and repeats included (the link
        counts of a crawl: rows that are not edges of the graph count too).
    referring_pages : ndarray of int64
        Distinct sources with a row into each node.
    referring_groups : ndarray of int64 or None
        Distinct groups (domains) of those sources other than the target's own, when
        groups were given: a page's referring domains.
    followed_groups : ndarray of int64 or None
        The same, counting voting rows only (followed links).
    """

    n: int
    ptr: np.ndarray
    ind: np.ndarray
    data: np.ndarray | None
    out_weight: np.ndarray
    in_links: np.ndarray
    out_links: np.ndarray
    referring_pages: np.ndarray
    referring_groups: np.ndarray | None
    followed_groups: np.ndarray | None = None

    @property
    def m(self) -> int:
        """Number of distinct edges."""
        return len(self.ind)

    def forward(self) -> sp.csr_array:
        """The adjacency matrix (rows are sources; each row's targets sorted): one
        counting sort of the in-edges."""
        from linkgraph.scoring import _kernels

        unit = self.data is None
        ptr, ind, data = _kernels.transpose(self.ptr, self.ind,
                                            np.zeros(0) if unit else self.data, unit, self.n)
        return _csr_array(_unit_weights(len(ind)) if unit else data, ind, ptr, self.n)

    def reversed(self) -> sp.csr_array:
        """The adjacency matrix of the reversed graph (rows are targets), sharing the
        in-edge arrays."""
        data = _unit_weights(self.m) if self.data is None else self.data
        return _csr_array(data, self.ind, self.ptr, self.n)


def _unit_weights(m: int) -> np.ndarray:
    """Weights of 1 as a read-only zero-stride view: the products skip unit weights,
    and nothing writes to them (80 MB saved at 10M edges)."""
    return np.broadcast_to(np.float64(1.0), m)


def _csr_array(data: np.ndarray, ind: np.ndarray, ptr: np.ndarray, n: int) -> sp.csr_array:
    import scipy.sparse as sp

    idx = np.int32 if len(ind) < 2**31 else np.int64
    return sp.csr_array((data, ind.astype(idx, copy=False), ptr.astype(idx, copy=False)),
                        shape=(n, n))


def in_edge_graph(src: np.ndarray, dst: np.ndarray, n: int, *,
                  votes: np.ndarray | None = None, weight: np.ndarray | None = None,
                  multiplicity: bool = False, drop_self_loops: bool = True,
                  groups: np.ndarray | None = None, threads: int | None = None) -> InEdges:
    """Build a graph's in-edge lists and link counts from aligned dense-id arrays.

    Parameters
    ----------
    src, dst : ndarray of int32
        Dense ids of each edge row's ends.
    n : int
        Number of nodes.
    votes : ndarray of bool, optional
        Which rows are edges (default all); the others only count in the link counts.
    weight : ndarray of float, optional
        Weight of each row; repeated pairs add up (as networkx does when a multigraph
        becomes a matrix).
    multiplicity : bool
        Without ``weight``: False counts a repeated pair once, True counts each row.
    drop_self_loops : bool
        Drop ``u -> u`` edges (self-links never count in the link counts).
    groups : ndarray of int, optional
        A group id per node (a page's domain) for ``referring_groups``.
    threads : int, optional
        Threads of the passes (default: every core, at most 4; one below 500K rows).
        The result does not depend on it.

    Returns
    -------
    InEdges

    Notes
    -----
    A counting sort of the rows by target, then a dedupe of each target's sources
    with a last-seen marker (:func:`_kernels.count_targets`, ``scatter_targets``,
    ``dedupe_targets``), each pass split over threads: on 10M crawl rows ~0.25 s
    for the graph and all counts on 2 cores, against ~0.75 s for a CSR by source, its
    transpose and separate count passes (benchmarks/score_scale.md).
    """
    src = np.ascontiguousarray(src, np.int32)
    dst = np.ascontiguousarray(dst, np.int32)
    mode = 2 if weight is not None else 1 if multiplicity else 0
    vote = np.zeros(0, np.bool_) if votes is None or votes.all() else \
        np.ascontiguousarray(votes, np.bool_)
    w = np.zeros(0) if weight is None else np.ascontiguousarray(weight, np.float64)
    group = np.zeros(0, np.int32) if groups is None else np.ascontiguousarray(groups, np.int32)
    if threads is None:
        threads = 1 if len(src) < _PARALLEL_MIN_ROWS else min(4, os.cpu_count() or 1)
    threads = max(1, threads)
    with ThreadPoolExecutor(threads, thread_name_prefix="graph") as pool:
        edges = _in_edges(pool, threads, src, dst, vote, w, mode, drop_self_loops, group, n)
    return edges if groups is not None else replace(edges, referring_groups=None,
                                                    followed_groups=None)


#: Below this many rows the passes run on one thread.
_PARALLEL_MIN_ROWS = 500_000


def _in_edges(pool: ThreadPoolExecutor, threads: int, src: np.ndarray, dst: np.ndarray,
              vote: np.ndarray, weight: np.ndarray, mode: int, drop_self: bool,
              group: np.ndarray, n: int) -> InEdges:
    """The passes of :func:`in_edge_graph`, each split over ``threads`` (rows in equal
    ranges, then targets in ranges of equal row counts): per-thread counts make the
    scatter positions, so the result is the same for any number of threads."""
    from linkgraph.scoring import _kernels

    rows = np.linspace(0, len(src), threads + 1).astype(np.int64)
    # Counts and positions of rows fit int32 below 2**31 rows (see count_targets).
    small = np.int32 if len(src) < 2**31 else np.int64
    parts = [(np.zeros(n + 1, small), np.zeros(n, small)) for _ in range(threads)]
    list(pool.map(lambda t: _kernels.count_targets(
        src, dst, vote, drop_self, *parts[t], rows[t], rows[t + 1]), range(threads)))
    start = np.zeros(n + 1, np.int64)
    for counts, _out in parts:
        start += counts
    np.cumsum(start, out=start)
    out_links = parts[0][1].astype(np.int64)
    positions = []
    below = start[:-1].astype(small)  # where each thread's rows of a target begin
    for t, (counts, out) in enumerate(parts):
        if t < threads - 1:
            positions.append(below.copy())
            below += counts[1:]
        else:
            positions.append(below)
        if t:
            out_links += out
    parts.clear()
    total = int(start[-1])
    ind = np.empty(total, np.int32)
    data = np.empty(total if mode != 0 else 0, np.float64)
    list(pool.map(lambda t: _kernels.scatter_targets(
        src, dst, vote, weight, drop_self, positions[t], ind,
        data, rows[t], rows[t + 1]), range(threads)))

    cuts = [0, *np.searchsorted(start, np.linspace(0, total, threads + 1)[1:-1]).tolist(), n]
    ptr = np.zeros(n + 1, np.int64)
    in_links = np.zeros(n, np.int64)
    referring = np.zeros(n, np.int64)
    referring_groups = np.zeros(n, np.int64)
    followed_groups = np.zeros(n, np.int64)
    # Whole-number out-weights (modes 0 and 1; see dedupe_targets).
    out_counts = [np.zeros(n, small) for _ in range(threads)]
    n_groups = int(group.max()) + 1 if len(group) else 0
    one_marker = len(vote) == 0 and drop_self
    ends = list(pool.map(lambda t: _kernels.dedupe_targets(
        start, ind, data, mode, one_marker, group, n_groups, cuts[t], cuts[t + 1], ptr,
        out_counts[t], in_links, referring, referring_groups, followed_groups),
        range(threads)))
    out_weight = out_counts[0].astype(np.float64)
    for extra in out_counts[1:]:
        out_weight += extra
    out_counts.clear()
    # Close the gaps the repeats left between the blocks.
    end = ends[0]
    for t in range(1, threads):
        block_start = int(start[cuts[t]])
        size = ends[t] - block_start
        if block_start != end:
            ind[end:end + size] = ind[block_start:ends[t]]
            if mode != 0:
                data[end:end + size] = data[block_start:ends[t]]
            ptr[cuts[t] + 1:cuts[t + 1] + 1] -= block_start - end
        end += size
    ind, data = ind[:end], data[:end]
    if mode == 2:
        # Real weights: summed in one fixed order, so no bit depends on the threads.
        out_weight = np.bincount(ind, weights=data, minlength=n)
    return InEdges(n, ptr, ind, None if mode == 0 else data, out_weight, in_links,
                   out_links, referring, referring_groups, followed_groups)


def build_graph(src: np.ndarray, dst: np.ndarray, n: int, weight: np.ndarray | None = None,
                *, multiplicity: bool = False, drop_self_loops: bool = True) -> Graph:
    """Build the adjacency matrix (rows are sources) from aligned dense-id arrays.

    Parameters are those of :func:`in_edge_graph`; a repeated pair counts once
    (weight 1.0) unless ``multiplicity`` or ``weight`` say otherwise.

    Returns
    -------
    Graph
    """
    edges = in_edge_graph(src, dst, n, weight=None if weight is None else np.asarray(weight),
                          multiplicity=multiplicity, drop_self_loops=drop_self_loops)
    return Graph(n=n, adj=edges.forward())
