"""Score tables out: where a row of ``scores/*.parquet`` is written.

Every table is written atomically (a hidden temporary file, then a rename), so a
reader never sees half a table. pyarrow encodes a Parquet file on one thread, so a
large table is cut into slices encoded as files of their own on two threads, then
joined into one file: the same bytes one writer would make (:func:`write_slices`,
:func:`_join`). Encodings are chosen per column kind, because the write is a fifth
of a 10M-edge scoring run (benchmarks/score_scale.md):

- strings (URLs, hosts, domains) are zstd-compressed, the columns that repeat
  (hosts, domains, counts, the 0-100 scores, status) dictionary-encoded;
- keys and full-precision floats are stored plain: they are high-entropy, so
  compressing them bought nothing and trying a dictionary on a million distinct
  values, then falling back, cost ~15% of the write.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from linkgraph.scoring import _thrift

#: Arrow type of every column of the score tables (``node`` of an edge list keeps the
#: type of its input columns). The local engine's arrays have these types; the Spark
#: engine casts to them, so both write the same schema (a test compares them).
COLUMN_TYPES: dict[str, pa.DataType] = {
    "url": pa.string(), "url_key": pa.int64(), "host": pa.string(), "domain": pa.string(),
    "status": pa.int32(), "pages": pa.int64(), "in_degree": pa.int64(),
    "out_degree": pa.int64(), "in_links": pa.int64(), "out_links": pa.int64(),
    "referring_pages": pa.int64(), "referring_domains": pa.int64(),
    "followed_referring_domains": pa.int64(),
    **{name: pa.float64() for name in ("pagerank", "authority_score", "trust", "trust_score",
                                       "spam_mass", "hub", "authority", "harmonic")},
}

#: Columns with few distinct values, dictionary-encoded.
_REPEATING = {"host", "domain", "status", "authority_score", "trust_score", "in_links",
              "out_links", "referring_pages", "referring_domains", "followed_referring_domains",
              "pages", "in_degree",
              "out_degree"}


def _options(schema: pa.Schema) -> dict[str, object]:
    strings = [f.name for f in schema if pa.types.is_string(f.type)
               or pa.types.is_large_string(f.type) or pa.types.is_dictionary(f.type)]
    return {
        "compression": {name: "zstd" if name in strings else "none" for name in schema.names},
        "use_dictionary": [name for name in schema.names if name in _REPEATING],
    }


def write_table(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to ``path`` atomically (large tables in slices, see
    :func:`write_slices`)."""
    return write_slices(lambda lo, hi: table.slice(lo, hi - lo), table.num_rows, path)


#: Rows per slice (and row group) of a large table: 128K rows of ~150 bytes, the
#: size of DuckDB's own row groups; 8 slices share two cores evenly at 1M rows.
SLICE_ROWS = 1 << 17
#: Threads that build and encode slices (Parquet encodes a file on one thread).
THREADS = min(2, os.cpu_count() or 1)


def write_slices(rows: Callable[[int, int], pa.Table], n: int, path: Path,
                 slice_rows: int = SLICE_ROWS) -> Path:
    """Write ``rows(lo, hi)`` for consecutive slices of ``range(n)`` as one Parquet
    file, atomically, one row group per slice.

    Each slice is built and encoded as a Parquet file of its own, in memory, on
    :data:`THREADS` threads (building and encoding release the GIL); the parts are
    joined in order into one file by :func:`_join`: byte for byte the file one
    ``ParquetWriter`` makes writing the slices in turn (a test checks it). Only the
    slices being encoded exist as tables besides the caller's arrays. Encoding a
    1M-row pages table: 0.2-0.28 s instead of 0.37-0.41 s on one thread.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    bounds = [(lo, min(n, lo + slice_rows)) for lo in range(0, max(n, 1), slice_rows)]

    def encode(bound: tuple[int, int]) -> pa.Buffer:
        table = rows(*bound)
        sink = pa.BufferOutputStream()
        with pq.ParquetWriter(sink, table.schema, **_options(table.schema)) as writer:
            writer.write_table(table)
        return sink.getvalue()

    try:
        with ThreadPoolExecutor(min(THREADS, len(bounds)), thread_name_prefix="encode") as pool:
            parts = pool.map(encode, bounds)  # in order, encoded as threads come free
            with open(tmp, "wb") as out:
                if len(bounds) == 1:
                    out.write(next(parts))
                else:
                    _join(parts, out)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


_MAGIC = b"PAR1"


def _join(parts: Iterable[pa.Buffer], out: BinaryIO) -> None:
    """Write Parquet files with one schema as one file: their row groups in order.

    A Parquet file is ``PAR1``, column chunks, a footer (Thrift ``FileMetaData``),
    its length and ``PAR1``. The chunks are copied as they are; the footer is the
    first part's with every part's row groups, their byte offsets moved by where
    the part's chunks now start (:mod:`_thrift` rewrites them). The parts come from
    our own writer, with no page index, bloom filter or encryption: what would hold
    other offsets.
    """
    out.write(_MAGIC)
    position = len(_MAGIC)
    footer: _thrift.Fields | None = None
    schema = None  # FileMetaData.schema of the first part
    row_groups: list[_thrift.Fields] = []
    rows = 0
    for part in parts:
        data = memoryview(part).cast("B")
        meta, body_end = _footer(data)
        shift = position - len(_MAGIC)  # the part's chunks began after its own magic
        fields = dict((fid, value) for fid, _kind, value in meta)
        if 8 in fields or 9 in fields:
            raise ValueError("cannot join encrypted Parquet parts")
        if footer is not None and fields[2] != schema:
            raise ValueError("cannot join Parquet parts with different schemas")
        schema = fields[2]
        for group in fields[4][1]:
            row_groups.append(_moved_row_group(group, shift, len(row_groups)))
        rows += fields[3]
        footer = footer or meta
        out.write(data[len(_MAGIC):body_end])
        position += body_end - len(_MAGIC)
    assert footer is not None
    joined = [(fid, kind, rows if fid == 3 else (_thrift.STRUCT, row_groups) if fid == 4
               else value) for fid, kind, value in footer]
    encoded = _thrift.write_struct(joined)
    out.write(encoded)
    out.write(len(encoded).to_bytes(4, "little"))
    out.write(_MAGIC)


def _footer(data: memoryview) -> tuple[_thrift.Fields, int]:
    """The ``FileMetaData`` of a Parquet file in memory, and where its chunks end."""
    if len(data) < 12 or data[:4] != _MAGIC or data[-4:] != _MAGIC:
        raise ValueError("not a Parquet file")
    size = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - size
    meta, used = _thrift.read_struct(data[start:-8])
    if used != size:
        raise ValueError("Parquet footer of an unexpected length")
    return meta, start


def _moved_row_group(group: _thrift.Fields, shift: int, ordinal: int) -> _thrift.Fields:
    """A RowGroup struct with its byte offsets moved by ``shift`` and its ``ordinal``.

    Offsets are RowGroup.file_offset (5), ColumnChunk.file_offset (2) and its
    metadata's data, index and dictionary page offsets (9, 10, 11). A column chunk's
    file_path (1), page index (4, 6) or bloom filter (metadata 14) would point
    elsewhere: they are refused.
    """
    def meta(fields: _thrift.Fields) -> _thrift.Fields:
        return _moved(fields, shift, {9, 10, 11}, {14}, {})

    def chunk(fields: _thrift.Fields) -> _thrift.Fields:
        return _moved(fields, shift, {2}, {1, 4, 6}, {3: meta})

    return _moved(group, shift, {5}, set(), {
        1: lambda columns: (columns[0], [chunk(c) for c in columns[1]]),
        7: lambda _old: ordinal})


def _moved(fields: _thrift.Fields, shift: int, offsets: set[int], refused: set[int],
           nested: dict[int, Callable[[object], object]]) -> _thrift.Fields:
    """``fields`` with the ``offsets`` fields moved by ``shift`` (0 means unset),
    ``nested`` ones replaced by their function's value; a ``refused`` field raises."""
    moved: _thrift.Fields = []
    for fid, kind, value in fields:
        if fid in refused:
            raise ValueError(f"cannot join Parquet parts with column chunk field {fid}")
        if fid in offsets and value:
            value += shift
        elif fid in nested:
            value = nested[fid](value)
        moved.append((fid, kind, value))
    return moved
