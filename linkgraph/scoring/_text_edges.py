"""Edge lists as delimited text (CSV, TSV, gzipped or not) for ``score --edges``.

Read with pyarrow's streaming CSV reader, one block at a time, converting only the
columns asked for: the text itself is never held, only the columns the score needs
(as for a Parquet edge list).

``delimiter`` may hold several characters, each of which separates fields: the shared
UK host graph has lines ``1996|src_host|dst_host<TAB>count``, four fields with
``--delimiter '|\\t'``. The extra separators are turned into the first one on the way
in (a byte translation), so a field cannot quote them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from pathlib import Path

import pyarrow as pa

from linkgraph.errors import UsageError
from linkgraph.scoring._read import check_schema

#: Names that mark an edge list as text (after a compression suffix is removed).
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
_COMPRESSION = (".gz", ".bz2", ".zst", ".lz4")


def _base_name(path: Path) -> str:
    name = path.name.lower()
    for suffix in _COMPRESSION:
        name = name.removesuffix(suffix)
    return name


def is_text_edges(path: Path | str) -> bool:
    """Whether ``path`` names a delimited text file (``.csv``/``.tsv``/``.txt``[.gz])."""
    path = Path(path)
    return path.is_file() and _base_name(path).endswith(TEXT_SUFFIXES)


def default_delimiter(path: Path | str) -> str:
    return "\t" if _base_name(Path(path)).endswith(".tsv") else ","


class _Translated(io.RawIOBase):
    """A binary stream with some bytes replaced (the extra delimiters)."""

    def __init__(self, raw: pa.NativeFile, table: bytes):
        self._raw, self._table = raw, table

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer)).translate(self._table)
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


def _open(path: Path, delimiter: str) -> pa.NativeFile | io.BufferedReader:
    raw = pa.input_stream(str(path), compression="detect")
    if len(delimiter) == 1:
        return raw
    first = delimiter[0].encode()
    table = bytes.maketrans(delimiter[1:].encode(), first * (len(delimiter) - 1))
    return io.BufferedReader(_Translated(raw, table), buffer_size=1 << 20)


def read_text_edges(path: Path | str, columns: Mapping[str, str], *, delimiter: str | None = None,
                    header: bool = True) -> pa.Table:
    """Read ``columns`` (name -> kind ``id`` or ``num``) of a delimited text edge list.

    All of :func:`iter_text_edges` in one table (see there).
    """
    batches = iter_text_edges(path, columns, delimiter=delimiter, header=header)
    schema = next(batches)
    return pa.Table.from_batches(list(batches), schema)


def iter_text_edges(path: Path | str, columns: Mapping[str, str], *, delimiter: str | None = None,
                    header: bool = True) -> Iterator:
    """Read ``columns`` (name -> kind ``id`` or ``num``) of a delimited text edge list,
    one block at a time: first the schema, then record batches.

    Parameters
    ----------
    path : Path
        A ``.csv``/``.tsv``/``.txt`` file, optionally compressed (``.gz``, ``.bz2``, ...).
    columns : mapping
        Column name (with ``header=False``: its 1-based position, as text) to kind.
    delimiter : str, optional
        Field separator(s), each one character; default tab for ``.tsv``, else comma.
    header : bool
        Whether the first line names the columns.

    Yields
    ------
    pyarrow.Schema, then pyarrow.RecordBatch
        The columns, named as asked. Raises a one-line :class:`UsageError` for a missing
        column, a wrong type or a line that does not parse.
    """
    import pyarrow.csv as csv

    path = Path(path)
    delimiter = delimiter or default_delimiter(path)
    if any(len(c.encode()) != 1 for c in delimiter) or "\n" in delimiter or "\r" in delimiter:
        raise UsageError(f"--delimiter takes single-byte characters other than a line end, got {delimiter!r}")
    names = list(columns)
    if not header:
        bad = [c for c in names if not c.isdigit() or int(c) < 1]
        if bad:
            raise UsageError(f"--no-header: name columns by position (1, 2, ...), got {', '.join(bad)}")
    try:
        stream = _open(path, delimiter)
        reader = csv.open_csv(
            stream,
            read_options=csv.ReadOptions(block_size=1 << 22, autogenerate_column_names=not header),
            parse_options=csv.ParseOptions(delimiter=delimiter[0],
                                           quote_char=False if len(delimiter) > 1 else '"'),
            convert_options=csv.ConvertOptions(
                include_columns=[_arrow_name(c, header) for c in names],
                include_missing_columns=False))
    except (pa.ArrowInvalid, KeyError) as exc:
        available = _first_line_fields(path, delimiter)
        if not header:
            available = [str(i + 1) for i in range(len(available))]
        missing = [c for c in names if c not in available]
        if missing:
            raise UsageError(f"{path}: missing column(s) {', '.join(missing)} "
                             f"(columns: {', '.join(available) or 'none'})") from None
        raise UsageError(f"{path}: cannot read as delimited text ({_first_line(exc)})") from None
    except (OSError, pa.ArrowException) as exc:
        raise UsageError(f"{path}: cannot read ({_first_line(exc)})") from None
    schema = pa.schema([reader.schema.field(_arrow_name(c, header)).with_name(c) for c in names])
    check_schema(path, schema, columns)  # the types, checked as a Parquet file's
    yield schema
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            raise UsageError(f"{path}: cannot read as delimited text ({_first_line(exc)})") from None
        yield pa.RecordBatch.from_arrays([batch.column(_arrow_name(c, header)) for c in names],
                                        schema=schema)


def _arrow_name(column: str, header: bool) -> str:
    # pyarrow names the columns of a headerless file f0, f1, ...
    return column if header else f"f{int(column) - 1}"


def _first_line_fields(path: Path, delimiter: str) -> list[str]:
    try:
        with _open(path, delimiter) as stream:
            start = bytes(stream.read(1 << 16))
    except (OSError, pa.ArrowException):
        return []
    text = start.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    return [name.strip('"') for name in text.split(delimiter[0])] if text else []


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
