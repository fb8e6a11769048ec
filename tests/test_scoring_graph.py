"""Building the scorer's graph: node numbering, multiplicity, self-loops, in-edge layout."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from linkgraph.scoring.graph import encode_nodes, in_edge_graph
from scoring_fixtures import graph_of


@pytest.mark.parametrize("kind", ["int", "str"])
def test_encode_nodes_numbers_in_order_of_first_appearance(kind):
    """Dense ids in order of first appearance over the columns, whether the source
    column comes in runs of one key (hashed once per run) or not."""
    rng = np.random.default_rng(4)
    src = np.repeat(rng.integers(0, 300, 400), rng.integers(1, 12, 400))  # runs
    dst = rng.integers(0, 500, len(src))
    for columns in ((src, dst), (rng.permutation(src), dst)):
        arrays = [pa.array(c) if kind == "int" else pa.array([f"u{v}" for v in c])
                  for c in columns]
        ids, nodes = encode_nodes(*arrays)
        want: dict = {}
        for array in arrays:
            for value in array.to_pylist():
                want.setdefault(value, len(want))
        assert nodes.to_pylist() == list(want)
        for array, got in zip(arrays, ids):
            assert got.dtype == np.int32
            assert got.tolist() == [want[v] for v in array.to_pylist()]


def test_multiplicity_and_self_loops():
    edges = [("a", "b"), ("a", "b"), ("a", "c"), ("a", "a")]
    once, _ = graph_of(edges)
    assert once.m == 2 and once.adj.data.tolist() == [1.0, 1.0]
    multi, names = graph_of(edges, multiplicity=True)
    assert dict(zip(zip(*[[names[i] for i in x] for x in multi.adj.nonzero()]),
                    multi.adj.data)) == {("a", "b"): 2.0, ("a", "c"): 1.0}
    kept, _ = graph_of(edges, drop_self_loops=False)
    assert kept.m == 3


@pytest.mark.parametrize("seed", range(6))
def test_in_edge_graph_matches_a_plain_python_count(seed):
    """The in-edge builder against dictionaries: edges (voting rows, self-loops per
    option, repeats once / by count / by summed weight) and every link count, the
    same arrays on 1 to 3 threads."""
    rng = np.random.default_rng(seed)
    n, m = 30, 400
    src = rng.integers(0, n, m).astype(np.int32)
    dst = np.where(rng.random(m) < 0.1, src, rng.integers(0, n, m)).astype(np.int32)
    votes = rng.random(m) < 0.7
    weight = rng.random(m)
    groups = rng.integers(0, 5, n).astype(np.int32)
    for kw in ({}, {"multiplicity": True}, {"weight": weight}, {"drop_self_loops": False}):
        got = in_edge_graph(src, dst, n, votes=votes, groups=groups, threads=1, **kw)
        for threads in (2, 3):
            again = in_edge_graph(src, dst, n, votes=votes, groups=groups, threads=threads,
                                  **kw)
            for name in ("ptr", "ind", "data", "out_weight", "in_links", "out_links",
                         "referring_pages", "referring_groups", "followed_groups"):
                assert np.array_equal(getattr(again, name), getattr(got, name)), name
        want: dict[tuple[int, int], float] = {}
        for i in range(m):
            if votes[i] and (src[i] != dst[i] or kw.get("drop_self_loops") is False):
                add = weight[i] if "weight" in kw else 1.0
                pair = (int(src[i]), int(dst[i]))
                want[pair] = want.get(pair, 0.0) + add if (kw.keys() & {"weight",
                                                                          "multiplicity"}) else 1.0
        data = np.ones(got.m) if got.data is None else got.data
        have = {(int(got.ind[k]), v): float(data[k]) for v in range(n)
                for k in range(got.ptr[v], got.ptr[v + 1])}
        assert len(have) == got.m and have.keys() == want.keys()
        assert all(abs(have[p] - want[p]) < 1e-12 for p in want)
        out_weight = np.zeros(n)
        for (u, _v), w in want.items():
            out_weight[u] += w
        assert np.allclose(got.out_weight, out_weight)
        links = src != dst
        assert got.in_links.tolist() == np.bincount(dst[links], minlength=n).tolist()
        assert got.out_links.tolist() == np.bincount(src[links], minlength=n).tolist()
        pairs = {(int(u), int(v)) for u, v in zip(src[links], dst[links])}
        assert got.referring_pages.tolist() == [sum(1 for _u, v in pairs if v == t)
                                                for t in range(n)]
        # Referring groups are other groups than the target's own (a page's referring
        # domains); the followed ones count voting rows only.
        assert got.referring_groups.tolist() == [
            len({groups[u] for u, v in pairs if v == t} - {groups[t]}) for t in range(n)]
        voting = {(int(u), int(v)) for u, v, vote in zip(src, dst, votes) if vote and u != v}
        assert got.followed_groups.tolist() == [
            len({groups[u] for u, v in voting if v == t} - {groups[t]}) for t in range(n)]
    # The matrix and its reverse hold the same edges.
    graph = in_edge_graph(src, dst, n)
    assert (graph.forward().toarray() == graph.reversed().toarray().T).all()
