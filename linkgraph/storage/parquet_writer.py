"""Atomic Parquet part files: a reader never sees a half-written file.

A part is written to a hidden temporary name in the dataset folder (readers skip names
starting with ``.``), flushed to disk, then renamed into place; a rename within a
folder is atomic on POSIX. The folder entry is synced too, so a power loss after
:meth:`PartWriter.write` returns cannot lose the part.

:meth:`PartWriter.stream` writes a part piece by piece (compaction merges many parts
into one without holding them in memory) under the same discipline: row groups of
:data:`ROW_GROUP_SIZE` rows, whatever the sizes of the pieces, and the rename only
when every piece is written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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


def fsync_dir(path: str) -> None:
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
        with self.stream(name) as part:
            part.write(table)
        return part.path

    @contextmanager
    def stream(self, name: str) -> Iterator[PartStream]:
        """Write ``folder/name`` from pieces: ``with writer.stream(name) as part:
        part.write(table) ...``. The part appears (atomically) when the block ends
        without an error; on an error the temporary is deleted and nothing appears.
        """
        with atomic_file(os.path.join(self.folder, name)) as handle:
            part = PartStream(handle, self.schema, os.path.join(self.folder, name))
            try:
                yield part
            except BaseException:
                part.abandon()
                raise
            part.close()


@contextmanager
def atomic_file(path: str, mode: str = "wb", encoding: str | None = None) -> Iterator[Any]:
    """Write ``path`` through a hidden temporary in its folder: ``with atomic_file(p)
    as handle: ...``. When the block ends the file is synced and renamed into place
    (and the folder synced); on an error the temporary is deleted and ``path`` is
    untouched. A kill leaves the temporary, for the crawl folder's recovery.
    """
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, TMP_PREFIX + name)
    try:
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    os.replace(tmp, path)
    fsync_dir(folder or ".")


class PartStream:
    """One part being written: tables in, row groups of :data:`ROW_GROUP_SIZE` out.

    Rows are buffered until a full row group is there, so the row groups do not follow
    the sizes of the pieces (a compaction's inputs are small) and at most one row
    group's worth of rows is held.
    """

    def __init__(self, handle: Any, schema: pa.Schema, path: str):
        self.schema = schema
        self.path = path
        self.rows = 0
        self._writer = pq.ParquetWriter(handle, schema, compression="zstd")
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def write(self, table: pa.Table) -> None:
        """Append ``table``'s rows (cast to the part's schema, never inferred)."""
        if table.schema != self.schema:
            table = table.cast(self.schema)
        self.rows += table.num_rows
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= ROW_GROUP_SIZE:
            self._flush(final=False)

    def close(self) -> None:
        """Write the last, partial row group and the footer."""
        self._flush(final=True)
        self._writer.close()

    def abandon(self) -> None:
        """Stop writing (the part is deleted): close the writer while its file is open."""
        try:
            self._writer.close()
        except (OSError, pa.ArrowException):
            pass

    def _flush(self, final: bool) -> None:
        if not self._pending_rows:
            if final and not self.rows:
                # An empty part still gets one (empty) row group, as pq.write_table does.
                self._writer.write_table(self.schema.empty_table())
            return
        table = pa.concat_tables(self._pending)
        full = table.num_rows if final else table.num_rows // ROW_GROUP_SIZE * ROW_GROUP_SIZE
        if full:
            self._writer.write_table(table.slice(0, full), row_group_size=ROW_GROUP_SIZE)
        rest = table.slice(full)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows
