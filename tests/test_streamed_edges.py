"""``score --edges`` on string ends, read one row group / text block at a time: the same
ids as numbering the whole columns at once (encode_nodes), so the same output."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from linkgraph.scoring.graph import StreamedNodeIds, encode_nodes
from linkgraph.scoring.score import score_edges


def _edges(seed: int, rows: int) -> tuple[pa.Array, pa.Array]:
    """Web-like string ends: sources in runs, targets popular or not, some nulls."""
    rng = np.random.default_rng(seed)
    urls = np.array([f"http://h{i % 300}.example/{'p' * (i % 13)}{i}" for i in range(rows // 4)],
                    dtype=object)
    src = np.repeat(urls[rng.integers(0, len(urls), rows)], rng.integers(1, 9, rows))[:rows]
    dst = urls[np.minimum(rng.zipf(1.3, rows) - 1, len(urls) - 1)]
    src_mask = rng.random(rows) < 0.01
    dst_mask = rng.random(rows) < 0.01
    return pa.array(src, pa.string(), mask=src_mask), pa.array(dst, pa.string(), mask=dst_mask)


@pytest.mark.parametrize("announced", [None, "exact", "more", "fewer"])
@pytest.mark.parametrize("dictionary", [False, True])
def test_streamed_ids_are_encode_nodes_ids(dictionary, announced):
    src, dst = _edges(0, 20_000)
    valid = pc.and_(pc.is_valid(src), pc.is_valid(dst))
    src, dst = src.filter(valid), dst.filter(valid)
    (s0, d0), nodes0 = encode_nodes(src, dst)
    # Rows announced (ids written into one array): as many as come, more (rows with a
    # null end dropped), or fewer (the rest kept per batch).
    rows = {None: None, "exact": len(src), "more": len(src) + 777, "fewer": len(src) - 2500}
    streamed = StreamedNodeIds(2, rows[announced])
    for lo in range(0, len(src), 1500):
        a, b = src[lo:lo + 1500], dst[lo:lo + 1500]
        if dictionary:
            a, b = a.dictionary_encode(), b.dictionary_encode()
        streamed.add(a, b)
    (s1, d1), nodes1 = streamed.finish()
    np.testing.assert_array_equal(s1, s0)
    np.testing.assert_array_equal(d1, d0)
    assert nodes1.equals(nodes0)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_score_edges_over_many_row_groups_matches_whole_column_ids(tmp_path, fmt):
    rows = 120_000  # the CSV is read in 4 MB blocks: two of them at least
    src, dst = _edges(1, rows)
    # A URL only in rows with a null end is no node.
    src = pa.concat_arrays([src, pa.array(["http://only-in-a-null-row.example/"])])
    dst = pa.concat_arrays([dst, pa.array([None], pa.string())])
    table = pa.table({"s": src, "d": dst})
    if fmt == "parquet":
        path = tmp_path / "edges.parquet"
        pq.write_table(table, path, row_group_size=7_000)
        assert pq.ParquetFile(path).metadata.num_row_groups > 10
    else:
        path = tmp_path / "edges.csv"
        pacsv.write_csv(table, path)
        assert path.stat().st_size > 1 << 22
        # Text has no nulls: an empty field is the string "" (as before streaming).
        src, dst = (pacsv.read_csv(path).column(c).combine_chunks() for c in ("s", "d"))
    out = score_edges(path, "s", "d", tmp_path / "out.parquet")

    # The same graph numbered the old way (whole columns, nulls dropped first), scored
    # as integer ids: same numbers, same order of ties, once mapped back to the URLs.
    valid = pc.and_(pc.is_valid(src), pc.is_valid(dst))
    (s, d), nodes = encode_nodes(src.filter(valid), dst.filter(valid))
    ints = tmp_path / "ints.parquet"
    pq.write_table(pa.table({"s": s.astype(np.int64), "d": d.astype(np.int64)}), ints)
    expected = pq.read_table(score_edges(ints, "s", "d", tmp_path / "ints_out.parquet"))
    got = pq.read_table(out)
    assert got.num_rows == len(nodes)
    if fmt == "parquet":
        assert "http://only-in-a-null-row.example/" not in set(got.column("node").to_pylist())
    assert got.column("node").equals(nodes.take(expected.column("node")))
    assert got.drop(["node"]).equals(expected.drop(["node"]))


def test_lazy_nodes_are_the_nodes_a_slice_at_a_time():
    src, dst = _edges(2, 5_000)
    valid = pc.and_(pc.is_valid(src), pc.is_valid(dst))
    src, dst = src.filter(valid), dst.filter(valid)
    (s0, d0), nodes0 = encode_nodes(src, dst)
    streamed = StreamedNodeIds(2, len(src))
    streamed.add(src, dst)
    (s1, d1), lazy = streamed.finish(lazy=True)
    np.testing.assert_array_equal(s1, s0)
    np.testing.assert_array_equal(d1, d0)
    assert len(lazy) == len(nodes0) and lazy.type == pa.string()
    assert lazy.to_arrow().equals(nodes0)
    idx = np.random.default_rng(0).permutation(len(nodes0))[:1000]
    assert lazy.take(idx).equals(nodes0.take(pa.array(idx)))
    assert lazy.take(idx[:0]).equals(pa.array([], pa.string()))
    lazy.close()
