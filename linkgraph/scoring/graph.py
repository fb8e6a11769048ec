"""Node ids and the sparse matrix: the engine-agnostic heart of the scorer.

Input is two aligned arrays of node identifiers (64-bit URL keys, host names, any
Arrow type); output is dense ids ``0..n-1``, the identifier of each id, and a CSR
matrix. Nothing here knows about crawls, URLs or Parquet, so the algorithms in
:mod:`pagerank`, :mod:`hits` and :mod:`harmonic` run on any edge list.

Costs that decide the design (10M edges, 1M nodes, 2 cores, see benchmarks/):
hashing 20M int64 keys to dense ids with Arrow's ``dictionary_encode`` takes ~0.5 s
(a sort-based ``np.unique`` took 12 s on the same input), and hashing one source key
per run of a page's links cuts 20M keys to ~12M; hashing 20M URL *strings* took 4-11 s,
which is why the crawl writes a 64-bit key per URL. Deduplicating pairs by hashing
int64 pair codes took 1-2.6 s; summing them per CSR row in scipy takes ~0.25 s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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
    if arrays and pa.types.is_integer(arrays[0].type) and lengths[0] > 1:
        # A crawl writes a page's links together, so the source column is runs of one
        # key: hash one key per run (10M rows -> 0.9M runs) and repeat the ids. First
        # appearance order is unchanged, and a key in several runs still gets one id.
        first = arrays[0].to_numpy(zero_copy_only=False)
        heads = np.flatnonzero(np.concatenate(([True], first[1:] != first[:-1])))
        if len(heads) * 2 <= len(first):
            runs = np.diff(np.append(heads, len(first)))
            arrays[0] = pa.array(first[heads])
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


def build_graph(src: np.ndarray, dst: np.ndarray, n: int, weight: np.ndarray | None = None,
                *, multiplicity: bool = False, drop_self_loops: bool = True,
                dtype: type = np.float64) -> Graph:
    """Build the adjacency matrix from aligned dense-id arrays.

    Parameters
    ----------
    src, dst : ndarray of int
        Dense ids of each edge's ends.
    n : int
        Number of nodes.
    weight : ndarray of float, optional
        Weight of each edge row; repeated pairs add up (as networkx does when a
        multigraph becomes a matrix).
    multiplicity : bool
        Without ``weight``: False counts a repeated pair once, True counts each row.
    drop_self_loops : bool
        Drop ``u -> u`` edges.
    dtype : numpy dtype
        Of the stored weights without ``weight``: int32 counts rows exactly in half the
        memory of float64 (for link counts; the algorithms want float64).

    Returns
    -------
    Graph
    """
    adj = _csr(np.asarray(src), np.asarray(dst),
               None if weight is None else np.asarray(weight, dtype=np.float64), n,
               drop_self_loops=drop_self_loops, dtype=dtype if weight is None else np.float64)
    if weight is None and not multiplicity:
        # A repeated pair counts once: the summed duplicates become 1.
        adj.data[:] = 1
    return Graph(n=n, adj=adj)


def _csr(src: np.ndarray, dst: np.ndarray, weight: np.ndarray | None, n: int, *,
         drop_self_loops: bool, dtype: type) -> sp.csr_array:
    """CSR with rows = src, each target once per row (repeated pairs summed: the row
    count without ``weight``), stored as ``dtype``; a row's columns keep their first
    appearance order (scipy sorts them in place if an operation needs it).

    A counting sort when the rows are not grouped, and a last-seen marker per target
    (:mod:`_kernels`): no hashing and no per-row sort. On 10M crawl rows ~0.1 s,
    against 0.26-0.4 s for scipy's ``sum_duplicates`` and 1-2.6 s for hashing int64
    pair codes.
    """
    from linkgraph.scoring import _kernels

    if len(src) and np.all(src[1:] >= src[:-1]):
        # Rows already grouped (a crawl writes a page's links together, and ids follow
        # first appearance): no sort needed.
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        order = np.zeros(0, dtype=np.int64)
    else:
        indptr, order = _kernels.group_rows(src, n)
    unit = weight is None
    out_ind = np.empty(len(dst), np.int32 if n < 2**31 else np.int64)
    # Row counts when unweighted (int32 is exact up to 2^31 repeats), else summed weights.
    out_data = np.empty(len(dst), np.int32 if unit else np.float64)
    ptr, nnz = _kernels.merge_rows(indptr, order, dst, np.zeros(0) if unit else weight, unit,
                                   drop_self_loops, n, out_ind, out_data)
    del indptr, order
    # Trim the edge-sized buffers when repeats made the CSR smaller.
    ind = out_ind[:nnz].copy() if nnz < len(out_ind) else out_ind
    summed = out_data[:nnz].copy() if nnz < len(out_data) else out_data
    del out_ind, out_data
    idx = np.int32 if nnz < 2**31 else np.int64
    import scipy.sparse as sp

    return sp.csr_array((summed.astype(dtype, copy=False), ind.astype(idx, copy=False),
                         ptr.astype(idx, copy=False)), shape=(n, n))
