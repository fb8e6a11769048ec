"""Atomic Parquet part files: a reader never sees a half-written file.

A part is written to a hidden temporary name in the dataset folder (readers skip names
starting with ``.``), flushed to disk, then renamed into place; a rename within a
folder is atomic on POSIX. The folder entry is synced too, so a power loss after
:meth:`PartWriter.write` returns cannot lose the part.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: Rows per row group: big enough for good zstd ratios and fast scans, small enough
#: that a reader filtering on statistics skips most of a large part.
ROW_GROUP_SIZE = 128 * 1024
TMP_PREFIX = ".tmp-"


def table_from_columns(columns: Mapping[str, Sequence[Any]], schema: pa.Schema) -> pa.Table:
    """Build a table with exactly ``schema`` (types and metadata), never inferring.

    Raises ``pyarrow.ArrowInvalid``/``ArrowTypeError`` when a value does not fit its
    column: a bug in the writer, which must not be papered over by inference.
    """
    arrays = [_as_array(columns[f.name], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _as_array(values: Sequence[Any] | pa.Array, type_: pa.DataType) -> pa.Array:
    if isinstance(values, pa.Array):
        return values if values.type == type_ else values.cast(type_)
    return pa.array(values, type=type_)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PartWriter:
    """Write tables of one schema as numbered part files of one dataset folder."""

    def __init__(self, folder: str, schema: pa.Schema):
        self.folder = folder
        self.schema = schema
        os.makedirs(folder, exist_ok=True)

    def write(self, name: str, table: pa.Table) -> str:
        """Write ``table`` as ``folder/name`` atomically; return the final path."""
        if table.schema != self.schema:
            table = table.cast(self.schema)
        final = os.path.join(self.folder, name)
        tmp = os.path.join(self.folder, TMP_PREFIX + name)
        with open(tmp, "wb") as handle:
            pq.write_table(table, handle, compression="zstd", row_group_size=ROW_GROUP_SIZE)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.folder)
        return final

    def remove_temporaries(self) -> int:
        """Delete leftovers of writes that a kill interrupted; return how many."""
        removed = 0
        for entry in os.scandir(self.folder):
            if entry.name.startswith(TMP_PREFIX):
                os.unlink(entry.path)
                removed += 1
        return removed
