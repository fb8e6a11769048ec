"""Parquet in: find the part files, check columns and types, read only what is needed.

Every problem a user can cause (a missing folder, a file that is not Parquet, a
missing column, a column of the wrong type) becomes one :class:`UsageError` line
that names the file and the column.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from linkgraph.errors import UsageError

log = logging.getLogger(__name__)

#: Column kinds a reader can ask for, with a check and a word for the error line.
_KINDS = {
    "int": (pa.types.is_integer, "an integer"),
    "str": (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)
            or (pa.types.is_dictionary(t) and pa.types.is_string(t.value_type)), "a string"),
    "bool": (pa.types.is_boolean, "a boolean"),
    "num": (lambda t: pa.types.is_integer(t) or pa.types.is_floating(t), "a number"),
    "id": (lambda t: pa.types.is_integer(t) or pa.types.is_string(t)
           or pa.types.is_large_string(t), "an integer or string"),
}


def _hidden(path: Path, root: Path) -> bool:
    # Writers keep unfinished parts under names starting with '.' or '_'.
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def _check_magic(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
            fh.seek(-4, 2)
            tail = fh.read(4)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if head != b"PAR1" or tail != b"PAR1":
        raise UsageError(f"{path} is not a Parquet file")


def parquet_files(path: Path | str, *, required: bool = True) -> list[Path]:
    """Return the Parquet files of ``path`` (a file, or a folder of part files).

    Parameters
    ----------
    path : Path
        A ``.parquet`` file or a folder searched recursively; names starting with
        ``.`` or ``_`` (unfinished parts) are skipped.
    required : bool
        False: a missing folder gives an empty list instead of an error.
    """
    path = Path(path)
    if path.is_file():
        if path.stat().st_size < 12:
            raise UsageError(f"{path} is not a Parquet file")
        _check_magic(path)
        return [path]
    if not path.exists():
        if not required:
            return []
        raise UsageError(f"{path} does not exist")
    files = sorted(p for p in path.rglob("*.parquet") if p.is_file() and not _hidden(p, path))
    if not files and required:
        raise UsageError(f"no Parquet files in {path}")
    for file in files:
        if file.stat().st_size < 12:
            raise UsageError(f"{file} is not a Parquet file")
        _check_magic(file)
    return files


def check_schema(file: Path | str, schema: pa.Schema, columns: Mapping[str, str]) -> None:
    """One-line :class:`UsageError` if ``schema`` lacks a column or has a wrong type."""
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise UsageError(f"{file}: missing column(s) {', '.join(missing)} "
                         f"(columns: {', '.join(schema.names) or 'none'})")
    for name, kind in columns.items():
        test, word = _KINDS[kind]
        type_ = schema.field(name).type
        if not test(type_):
            raise UsageError(f"{file}: column {name} is {type_}, expected {word}")


def check_columns(files: Iterable[Path], columns: Mapping[str, str]) -> None:
    """Raise a one-line :class:`UsageError` if a file lacks a column or has a wrong type.

    ``columns`` maps a column name to a kind: ``int``, ``str``, ``bool``, ``num`` or
    ``id`` (integer or string).
    """
    for file in files:
        try:
            schema = pq.read_schema(file)
        except (pa.ArrowException, OSError) as exc:
            raise UsageError(f"{file} is not a readable Parquet file ({exc})") from None
        check_schema(file, schema, columns)


def read_columns(files: list[Path], columns: Mapping[str, str],
                 dictionary: Iterable[str] = (), *, check: bool = True) -> pa.Table:
    """Read ``columns`` of all ``files`` into one table, each file's columns checked.

    Each file is opened once: its footer gives the check (``check=False`` skips it)
    and the read; two files are decoded side by side (Parquet decoding releases the
    GIL). ``pyarrow.dataset`` is used only for many small parts (:data:`_MANY_FILES`):
    importing it imports pandas, 0.14 s of a 2 s score. Columns named in ``dictionary`` are read as Arrow dictionaries: a
    crawl's host, domain and link-type columns are dictionary-encoded in the file, so
    this costs an int32 per row instead of a string, and a later group-by needs no
    hashing.
    """
    names = list(columns)
    dict_cols = [c for c in dictionary if c in columns]
    if not files:
        return pa.table({n: pa.array([], type=pa.null()) for n in names})

    def one(file: Path) -> pa.Table:
        try:
            handle = pq.ParquetFile(file, read_dictionary=dict_cols or None)
        except (pa.ArrowException, OSError) as exc:
            raise UsageError(f"{file} is not a readable Parquet file ({exc})") from None
        if check:
            check_schema(file, handle.schema_arrow, columns)
        try:
            return handle.read(columns=names)
        except (pa.ArrowException, OSError) as exc:
            raise UsageError(f"{file}: cannot read ({exc})") from None

    if len(files) == 1:
        return one(files[0])
    if len(files) > _MANY_FILES:
        return _scan(files, columns, dict_cols, check)
    with ThreadPoolExecutor(2, thread_name_prefix="read") as pool:
        tables = list(pool.map(one, files))
    try:
        # Same names, possibly different (but compatible) types across parts.
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowException, OSError) as exc:
        raise UsageError(f"{files[0].parent}: parts with incompatible columns ({exc})") from None
    return table.unify_dictionaries() if dict_cols else table


def read_row_groups(files: list[Path], columns: Mapping[str, str],
                    dictionary: Iterable[str] = ()) -> Iterator[pa.Table]:
    """``columns`` of ``files``, one row group at a time, each file's columns checked.

    For a reader that needs only one row group in memory (``score --edges`` on URL
    strings). Columns named in ``dictionary`` come as Arrow dictionaries: the file's
    own dictionary pages, so a string column costs an int32 per row and its distinct
    values once per row group.
    """
    names = list(columns)
    for file in files:
        try:
            handle = pq.ParquetFile(file, read_dictionary=[c for c in dictionary if c in columns]
                                    or None)
        except (pa.ArrowException, OSError) as exc:
            raise UsageError(f"{file} is not a readable Parquet file ({exc})") from None
        # Checked as the file stores the columns, not as they are read.
        schema = handle.schema_arrow
        check_schema(file, pa.schema([f.with_type(f.type.value_type)
                                      if pa.types.is_dictionary(f.type) else f
                                      for f in schema]), columns)
        for group in range(handle.metadata.num_row_groups):
            try:
                # One thread: the caller reads ahead on a thread of its own, and Arrow's
                # pool on top cost 0.96 s against 0.85 s for 10M URL pairs.
                yield handle.read_row_group(group, columns=names, use_threads=False)
            except (pa.ArrowException, OSError) as exc:
                raise UsageError(f"{file}: cannot read ({exc})") from None


#: Above this many parts one dataset scan beats a read per file (450 parts of a crawl
#: not yet compacted: 0.34 s against 0.97 s for the link rule columns), worth the
#: import of pyarrow.dataset.
_MANY_FILES = 16


def _scan(files: list[Path], columns: Mapping[str, str], dict_cols: list[str],
          check: bool) -> pa.Table:
    """:func:`read_columns` for many small parts: one multi-threaded dataset scan,
    checked on the footers the scan cached."""
    import pyarrow.dataset as ds

    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(
        dictionary_columns=dict_cols or None))
    try:
        dataset = ds.dataset([str(f) for f in files], format=fmt)
        table = dataset.to_table(columns=list(columns))
    except (pa.ArrowException, OSError) as exc:
        # A part that cannot be read, or types no cast reconciles: name the file.
        check_columns(files, columns)
        raise UsageError(f"{files[0].parent}: cannot read ({exc})") from None
    if check:
        # A column missing from a later part would have been read as nulls: every
        # part's own schema is checked.
        for fragment in dataset.get_fragments():
            check_schema(fragment.path, fragment.physical_schema, columns)
    return table.unify_dictionaries() if dict_cols else table


def may_have_nulls(files: list[Path], column: str) -> bool:
    """Whether ``column`` may hold a null, from the footers' statistics (no data read).

    True when any row group has nulls or lacks statistics.
    """
    for file in files:
        meta = pq.ParquetFile(file).metadata
        for rg in range(meta.num_row_groups):
            group = meta.row_group(rg)
            index = next((i for i in range(group.num_columns)
                          if group.column(i).path_in_schema == column), None)
            if index is None:
                return True
            stats = group.column(index).statistics
            if stats is None or not stats.has_null_count or stats.null_count > 0:
                return True
    return False


class ColumnScan:
    """``columns`` of ``files`` decoded one row group at a time, for callers that copy
    them into arrays they allocated once (sizes from the footers).

    Reading whole files into Arrow tables, then into numpy, made three copies of every
    column live at once and mapped fresh memory for each: on 10M link rows 470 MB peak
    and 0.4 s of page faults, against 280 MB and 0.08 s a row group at a time (its
    half-MB buffers are reused by the allocator). Each file's footer is read once: it
    gives the check (``check=False`` skips it) and the row counts.
    """

    def __init__(self, files: list[Path], columns: Mapping[str, str],
                 dictionary: Iterable[str] = (), *, check: bool = True) -> None:
        self.files = files
        self.columns = list(columns)
        self._dictionary = [c for c in dictionary if c in columns] or None
        self._meta = []
        for file in files:
            try:
                handle = pq.ParquetFile(file)
            except (pa.ArrowException, OSError) as exc:
                raise UsageError(f"{file} is not a readable Parquet file ({exc})") from None
            with handle:
                if check:
                    check_schema(file, handle.schema_arrow, columns)
                self._meta.append(handle.metadata)
        #: Global position of each file's first row (and the total, last).
        self.starts = np.cumsum([0, *(meta.num_rows for meta in self._meta)])

    @property
    def num_rows(self) -> int:
        return int(self.starts[-1])

    def run(self, fill: Callable[[pa.Table, int], None], threads: int = 2) -> None:
        """Call ``fill(table, start)`` for every row group, ``start`` being the global
        position of its first row; two files are decoded side by side (decoding
        releases the GIL), so ``fill`` must only write its own rows. A
        :class:`UsageError` it raises is given the file's name."""

        def one(i: int) -> None:
            file = self.files[i]
            try:
                handle = pq.ParquetFile(file, metadata=self._meta[i],
                                        read_dictionary=self._dictionary)
            except (pa.ArrowException, OSError) as exc:
                raise UsageError(f"{file} is not a readable Parquet file ({exc})") from None
            with handle:
                start = int(self.starts[i])
                for group in range(self._meta[i].num_row_groups):
                    try:
                        table = handle.read_row_group(group, columns=self.columns,
                                                      use_threads=False)
                    except (pa.ArrowException, OSError) as exc:
                        raise UsageError(f"{file}: cannot read ({exc})") from None
                    try:
                        fill(table, start)
                    except UsageError as exc:
                        raise UsageError(f"{file}: {exc}") from None
                    start += table.num_rows

        workers = max(1, min(threads, len(self.files)))
        with ThreadPoolExecutor(workers, thread_name_prefix="scan") as pool:
            list(pool.map(one, range(len(self.files))))


def put_column(out: np.ndarray, start: int, column: pa.ChunkedArray, name: str) -> None:
    """Copy a non-null integer ``column`` into ``out[start:]`` (a one-line error for a
    null, or for a value ``out``'s type cannot hold: numpy would wrap it)."""
    if column.null_count:
        raise UsageError(f"column {name} has null values")
    for chunk in column.chunks:
        values = chunk.to_numpy(zero_copy_only=False)
        if len(values) and not np.can_cast(values.dtype, out.dtype):
            limits = np.iinfo(out.dtype)
            if values.min() < limits.min or values.max() > limits.max:
                raise UsageError(f"column {name} has values outside {out.dtype}")
        out[start:start + len(values)] = values
        start += len(values)


def read_numpy(files: list[Path], columns: list[str], dtype: type = np.int64
               ) -> dict[str, np.ndarray]:
    """Read non-null integer ``columns`` of all ``files`` into numpy arrays of ``dtype``
    (a :class:`ColumnScan`: the peak is the result and two row groups)."""
    scan = ColumnScan(files, dict.fromkeys(columns, "int"), check=False)
    out = {c: np.empty(scan.num_rows, dtype=dtype) for c in columns}

    def fill(table: pa.Table, start: int) -> None:
        for c in columns:
            put_column(out[c], start, table.column(c), c)

    scan.run(fill)
    return out


def file_row_counts(files: list[Path]) -> list[int]:
    """Number of rows of each file, from the footers (no data read)."""
    return [pq.ParquetFile(f).metadata.num_rows for f in files]
