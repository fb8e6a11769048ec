"""Score tables encoded in parallel slices and joined into one Parquet file."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkgraph.scoring import _thrift, _write


def _table(n: int) -> pa.Table:
    rng = np.random.default_rng(5)
    hosts = np.array([f"www.site{i}.example" for i in range(50)])
    return pa.table({
        "url": [f"https://www.site{i % 50}.example/page/{i}" for i in range(n)],
        "host": hosts[np.arange(n) % 50],
        "status": pa.array(np.where(rng.random(n) < 0.2, 0, 200), pa.int32(),
                           mask=rng.random(n) < 0.1),
        "pagerank": rng.random(n),
        "in_links": rng.integers(0, 20, n),
    })


def test_footer_codec_round_trips_real_and_synthetic_structs(tmp_path):
    """Every field of a real footer survives decode and encode byte for byte; so do
    the types a Parquet footer does not use."""
    path = tmp_path / "t.parquet"
    pq.write_table(_table(3000), path, row_group_size=150)  # 20 row groups: a long list
    data = path.read_bytes()
    size = int.from_bytes(data[-8:-4], "little")
    footer = data[-8 - size:-8]
    fields, used = _thrift.read_struct(footer)
    assert used == size and _thrift.write_struct(fields) == footer
    assert [fid for fid, _k, _v in fields][:4] == [1, 2, 3, 4]

    odd = [(1, _thrift.TRUE, True), (2, _thrift.FALSE, False), (3, _thrift.BYTE, -7),
           (4, _thrift.I16, -300), (40, _thrift.I64, -(2**62)), (41, _thrift.DOUBLE, 2.5),
           (42, _thrift.LIST, (_thrift.TRUE, [True, False, True])),
           (43, _thrift.MAP, (_thrift.BINARY, _thrift.I32, [(b"a", 1), (b"b", -2)])),
           (44, _thrift.MAP, (0, 0, [])),
           (45, _thrift.SET, (_thrift.I32, list(range(40)))),
           (46, _thrift.STRUCT, [(1, _thrift.BINARY, b"x" * 200)])]
    encoded = _thrift.write_struct(odd)
    assert _thrift.read_struct(encoded) == (odd, len(encoded))
    with pytest.raises(_thrift.ThriftError, match="truncated"):
        _thrift.read_struct(encoded[:-3])


@pytest.mark.parametrize("n", [0, 1, 1000, 2500])
def test_slices_joined_are_the_bytes_one_writer_makes(tmp_path, monkeypatch, n):
    """Slices encoded on two threads and joined give the very file one ParquetWriter
    writes row group by row group: data, statistics, offsets and footer. It opens in
    pyarrow, DuckDB and polars."""
    import duckdb
    import polars as pl

    monkeypatch.setattr(_write, "THREADS", 2)
    table = _table(n)
    path = _write.write_slices(lambda lo, hi: table.slice(lo, hi - lo), n,
                               tmp_path / "scores" / "t.parquet", slice_rows=100)
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, table.schema, **_write._options(table.schema)) as writer:
        for lo in range(0, max(n, 1), 100):
            writer.write_table(table.slice(lo, 100))
    assert path.read_bytes() == sink.getvalue()
    assert not list(path.parent.glob(".*"))  # no temporary file left
    assert pq.ParquetFile(path).metadata.num_row_groups == max(1, -(-n // 100))
    assert pq.read_table(path).equals(table)
    assert duckdb.sql(f"select count(*) from '{path}'").fetchall() == [(n,)]
    assert pl.read_parquet(path).height == n


def test_join_refuses_parts_whose_offsets_it_cannot_move():
    """A page index or a bloom filter holds offsets outside the row groups' metadata:
    such parts are refused, not joined into a broken file."""
    parts = []
    for lo in (0, 100):
        sink = io.BytesIO()
        pq.write_table(_table(200).slice(lo, 100), sink, write_page_index=True)
        parts.append(pa.py_buffer(sink.getvalue()))
    with pytest.raises(ValueError, match="column chunk field"):
        _write._join(parts, io.BytesIO())


def test_join_refuses_parts_of_different_schemas_and_leaves_no_file(tmp_path):
    """Parts whose schemas differ are refused; a failed write leaves neither the table
    nor its temporary file."""
    parts = []
    for table in (_table(100), _table(100).drop_columns(["status"])):
        sink = io.BytesIO()
        pq.write_table(table, sink)
        parts.append(pa.py_buffer(sink.getvalue()))
    with pytest.raises(ValueError, match="different schemas"):
        _write._join(parts, io.BytesIO())

    table = _table(300)

    def rows(lo: int, hi: int) -> pa.Table:
        if lo >= 200:
            raise RuntimeError("slice failed")
        return table.slice(lo, hi - lo)

    with pytest.raises(RuntimeError, match="slice failed"):
        _write.write_slices(rows, 300, tmp_path / "t.parquet", slice_rows=100)
    assert list(tmp_path.iterdir()) == []
