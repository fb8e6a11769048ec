"""The compiled loops of ``linkgraph diff`` (link_order, match_links, count_pairs)
against plain Python on random links with many duplicates."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from linkgraph.analysis.diff_ids import _string_buffers
from linkgraph.scoring import _kernels


def _links(rng: np.random.Generator, n: int, n_nodes: int) -> dict:
    # Few nodes, types and ordinals: equal (src, dst, type) rows, and equal ordinals
    # among them, are common.
    anchors = rng.choice(np.array(["a", "b", "", "long anchor text", None], dtype=object), n)
    return {"src": rng.integers(0, n_nodes, n).astype(np.int32),
            "dst": rng.integers(0, n_nodes, n).astype(np.int32),
            "type": rng.integers(0, 3, n).astype(np.int16),
            "ordinal": rng.integers(0, 4, n).astype(np.int32),
            "flags": rng.integers(0, 2, n).astype(np.uint8) * rng.integers(0, 8, n).astype(np.uint8),
            "anchor": pa.array(list(anchors), pa.string())}


def _python_order(links: dict) -> list[int]:
    n = len(links["src"])
    return sorted(range(n), key=lambda i: (links["src"][i], links["dst"][i], links["type"][i],
                                           links["ordinal"][i], i))


def _python_match(old: dict, new: dict, moved: np.ndarray) -> list[tuple]:
    """(kind, old row, new row, occurrence) sorted by (src, dst, type, occurrence): the
    k-th of OLD's equal links is the k-th of NEW's."""
    def keyed(links: dict) -> dict:
        seen: Counter = Counter()
        out = {}
        for i in _python_order(links):
            link = (int(links["src"][i]), int(links["dst"][i]), int(links["type"][i]))
            seen[link] += 1
            out[(*link, seen[link])] = i
        return out

    o, n = keyed(old), keyed(new)
    rows = []
    for key in sorted(o.keys() | n.keys()):
        a, b = o.get(key, -1), n.get(key, -1)
        if b < 0:
            rows.append((key, 0, a, -1))
        elif a < 0:
            rows.append((key, 2, -1, b))
        elif (old["flags"][a] != new["flags"][b] or moved[key[1]]
              or old["anchor"][a].as_py() != new["anchor"][b].as_py()):
            rows.append((key, 1, a, b))
    return [(kind, a, b, key[3]) for key, kind, a, b in rows]


def _side(links: dict, order: np.ndarray) -> _kernels.LinkSide:
    return _kernels.LinkSide(links["src"], links["dst"], links["type"], order, links["flags"],
                             *_string_buffers(links["anchor"]))


@pytest.mark.parametrize("seed", range(8))
def test_link_order_and_match_against_python(seed):
    rng = np.random.default_rng(seed)
    n_nodes = int(rng.integers(2, 12))
    old = _links(rng, int(rng.integers(0, 400)), n_nodes)
    if seed % 2:  # ordinals past 2**29: the order's comparator, not its packed keys
        old["ordinal"][::3] += 2**30
    # NEW: most of OLD's rows (reordered, some flags and anchors changed) and others.
    keep = rng.permutation(len(old["src"]))[:int(len(old["src"]) * 0.8)]
    extra = _links(rng, int(rng.integers(0, 120)), n_nodes)
    new = {k: np.concatenate([old[k][keep], extra[k]]) for k in ("src", "dst", "type", "ordinal",
                                                                   "flags")}
    new["flags"][rng.random(len(new["flags"])) < 0.1] ^= 1
    anchors = old["anchor"].take(pa.array(keep)).to_pylist() + extra["anchor"].to_pylist()
    anchors = [("x" + a if a is not None and rng.random() < 0.1 else a) for a in anchors]
    # Sliced: the offsets do not start at 0, as in a column read from Parquet.
    new["anchor"] = pa.array(["pad", *anchors], pa.string()).slice(1)
    moved = rng.random(n_nodes) < 0.2

    orders = []
    for links in (old, new):
        order = _kernels.link_order(links["src"], links["dst"], links["type"], links["ordinal"],
                                    n_nodes)
        assert order.tolist() == _python_order(links)
        orders.append(order)
    kind, o_row, n_row, occurrence = _kernels.match_links(_side(old, orders[0]),
                                                          _side(new, orders[1]), moved)
    got = list(zip(kind.tolist(), o_row.tolist(), n_row.tolist(), occurrence.tolist()))
    assert got == _python_match(old, new, moved)
    if len(old["src"]) > 100:  # every kind of row was exercised
        assert set(kind.tolist()) == {0, 1, 2}
    # Matched in two parts cut where the sources reach the middle node: the same rows.
    middle = n_nodes // 2
    cuts = [int(np.searchsorted(x["src"][o], middle)) for x, o in zip((old, new), orders)]
    halves = [_kernels.match_links(_side(old, orders[0]), _side(new, orders[1]), moved,
                                   part_old, part_new)
              for part_old, part_new in (((0, cuts[0]), (0, cuts[1])),
                                         ((cuts[0], len(orders[0])), (cuts[1], len(orders[1]))))]
    joined = [np.concatenate([a, b]).tolist() for a, b in zip(*halves)]
    assert list(zip(*joined)) == got


def test_duplicates_are_a_multiset():
    """Three equal links in OLD, two in NEW: occurrence 3 is lost, 1 and 2 match."""
    old = {"src": np.zeros(3, np.int32), "dst": np.ones(3, np.int32),
           "type": np.zeros(3, np.int16), "ordinal": np.array([7, 2, 5], np.int32),
           "flags": np.zeros(3, np.uint8), "anchor": pa.array(["c", "a", "b"])}
    new = {"src": np.zeros(2, np.int32), "dst": np.ones(2, np.int32),
           "type": np.zeros(2, np.int16), "ordinal": np.array([4, 1], np.int32),
           "flags": np.zeros(2, np.uint8), "anchor": pa.array(["b", "a"])}
    orders = [_kernels.link_order(x["src"], x["dst"], x["type"], x["ordinal"], 2)
              for x in (old, new)]
    assert [o.tolist() for o in orders] == [[1, 2, 0], [1, 0]]
    kind, o_row, n_row, occurrence = _kernels.match_links(
        _side(old, orders[0]), _side(new, orders[1]), np.zeros(2, bool))
    # Occurrences 1 (a, a) and 2 (b, b) are the same; 3 (row 0) is gone.
    assert list(zip(kind.tolist(), o_row.tolist(), n_row.tolist(), occurrence.tolist())) == [
        (0, 0, -1, 3)]


def test_an_id_outside_the_nodes_is_refused():
    ids = np.array([0, 5], np.int32)
    assert _kernels.link_order(ids, np.zeros(2, np.int32), np.zeros(2, np.int16),
                               np.zeros(2, np.int32), 3) is None


@pytest.mark.parametrize("seed", range(3))
def test_count_pairs_against_python(seed):
    rng = np.random.default_rng(seed)
    n_nodes, n_groups, n = 50, 7, 3000
    src = rng.integers(0, n_nodes, n).astype(np.int32)
    dst = rng.integers(0, n_nodes, n).astype(np.int32)
    group = rng.integers(-1, n_groups, n_nodes).astype(np.int32)
    pairs = np.unique(rng.integers(0, n_groups, 30) * n_groups + rng.integers(0, n_groups, 30))
    counted = Counter((int(group[s]), int(group[d])) for s, d in zip(src, dst)
                      if group[s] >= 0 and group[d] >= 0)
    expected = [counted[(int(p) // n_groups, int(p) % n_groups)] for p in pairs]
    assert _kernels.count_pairs(src, dst, group, n_groups, pairs).tolist() == expected
    half = _kernels.count_pairs(src, dst, group, n_groups, pairs, 0, n // 2) + \
        _kernels.count_pairs(src, dst, group, n_groups, pairs, n // 2, n)
    assert half.tolist() == expected
