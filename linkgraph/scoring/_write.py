"""Score tables out: where a row of ``scores/*.parquet`` is written.

Every table is written atomically (a hidden temporary file, then a rename), so a
reader never sees half a table. Encodings are chosen per column kind, because the
write is a fifth of a 10M-edge scoring run (benchmarks/score_scale.md):

- strings (URLs, hosts, domains) are zstd-compressed, the columns that repeat
  (hosts, domains, counts, the 0-100 scores, status) dictionary-encoded;
- keys and full-precision floats are stored plain: they are high-entropy, so
  compressing them bought nothing and trying a dictionary on a million distinct
  values, then falling back, cost ~15% of the write.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

#: Columns with few distinct values, dictionary-encoded.
_REPEATING = {"host", "domain", "status", "authority_score", "trust_score", "in_links",
              "out_links", "referring_pages", "referring_domains", "pages", "in_degree",
              "out_degree"}


def _options(schema: pa.Schema) -> dict[str, object]:
    strings = [f.name for f in schema if pa.types.is_string(f.type)
               or pa.types.is_large_string(f.type) or pa.types.is_dictionary(f.type)]
    return {
        "compression": {name: "zstd" if name in strings else "none" for name in schema.names},
        "use_dictionary": [name for name in schema.names if name in _REPEATING],
    }


def write_table(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to ``path`` atomically."""
    return write_slices(lambda lo, hi: table.slice(lo, hi - lo), table.num_rows, path,
                        slice_rows=max(table.num_rows, 1))


#: Rows per slice (and row group) of a large table: 256K rows of ~150 bytes.
SLICE_ROWS = 1 << 18


def write_slices(rows: Callable[[int, int], pa.Table], n: int, path: Path,
                 slice_rows: int = SLICE_ROWS) -> Path:
    """Write ``rows(lo, hi)`` for consecutive slices of ``range(n)`` as one Parquet
    file, atomically, one row group per slice.

    The next slice is built on a side thread while this one is encoded (both release
    the GIL), and only two slices exist at a time besides the caller's arrays.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    bounds = [(lo, min(n, lo + slice_rows)) for lo in range(0, max(n, 1), slice_rows)]
    writer = None
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="rows") as pool:
            pending = pool.submit(rows, *bounds[0])
            for k in range(len(bounds)):
                table = pending.result()
                if k + 1 < len(bounds):
                    pending = pool.submit(rows, *bounds[k + 1])
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, **_options(table.schema))
                writer.write_table(table)
                del table
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, path)
    return path
