"""How an analysis command's answer leaves the process: one Arrow table, four formats.

Every analysis function returns a :class:`pyarrow.Table` whose column names are the
command's documented columns; :func:`write_result` prints it as an aligned table or
writes CSV, JSON lines or Parquet with exactly those names, so a script that reads one
format reads the others. The commands share :func:`add_output_arguments`.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import IO, Any

import pyarrow as pa

from linkgraph.errors import UsageError

FORMATS = ("table", "csv", "jsonl", "parquet")
_BY_SUFFIX = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
              ".txt": "table"}
#: Widest a cell is shown on a terminal (URLs are long); files get every character.
TERMINAL_CELL = 70


def add_output_arguments(parser: argparse.ArgumentParser, *, top: int | None = None) -> None:
    """``--format``, ``-o`` and (when ``top`` is given, its default) ``--top``."""
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="table (aligned, the default on a terminal), csv, jsonl or "
                             "parquet; default from -o's suffix, else table")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="write the rows to PATH instead of standard output")
    if top is not None:
        parser.add_argument("--top", type=int, default=top, metavar="N",
                            help=f"at most N rows (default {top}; 0: all)")


def resolve_format(fmt: str | None, output: str | None) -> str:
    """The format asked for, or the one ``output``'s suffix names, or ``table``."""
    if fmt:
        return fmt
    if output:
        return _BY_SUFFIX.get(os.path.splitext(output)[1].lower(), "table")
    return "table"


def write_result(table: pa.Table, fmt: str | None = None, output: str | None = None, *,
                 summary: Sequence[str] = (), stream: IO[str] | None = None) -> None:
    """Write ``table`` as ``fmt`` to ``output`` (a path) or ``stream`` (stdout).

    ``summary`` lines go before the rows of a table; in the other formats they go to
    standard error, so the rows stay machine-readable.
    """
    fmt = resolve_format(fmt, output)
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    stream = stream or sys.stdout
    if fmt == "parquet":
        if not output:
            raise UsageError("--format parquet needs -o PATH (Parquet is not written to a "
                             "terminal)")
        import pyarrow.parquet as pq

        _print_lines(summary, sys.stderr)
        _write_atomically(output, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
        return
    if fmt == "table":
        width = TERMINAL_CELL if output is None and stream.isatty() else None
        text = "\n".join([*summary, *([""] if summary else []), format_table(table, width)])
    else:
        _print_lines(summary, sys.stderr)
        text = to_csv(table) if fmt == "csv" else to_jsonl(table)
    if output:
        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                handle.write(text if text.endswith("\n") or not text else text + "\n")
        _write_atomically(output, write)
    else:
        stream.write(text if text.endswith("\n") or not text else text + "\n")
        stream.flush()


def _print_lines(lines: Sequence[str], stream: IO[str]) -> None:
    for line in lines:
        print(line, file=stream)


def _write_atomically(path: str, write) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {path}: {folder} is not a folder")
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.6g}" if abs(value) < 1e-3 and value else f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def format_table(table: pa.Table, width: int | None = None) -> str:
    """``table`` as aligned text: a header, then one line per row; numbers right-aligned.

    ``width`` cuts longer cells with an ellipsis (for a terminal).
    """
    names = table.column_names
    if not names:
        return "(no columns)"
    rows = [[_cell(v) for v in row.values()] for row in table.to_pylist()]
    if width:
        rows = [[c if len(c) <= width else c[:width - 1] + "…" for c in row] for row in rows]
    numeric = [pa.types.is_integer(t) or pa.types.is_floating(t) for t in table.schema.types]
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(cells, widths, numeric)).rstrip()

    out = [line(names), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    if not rows:
        out.append("(no rows)")
    return "\n".join(out)


def to_csv(table: pa.Table) -> str:
    """CSV with a header row; lists joined by ``|``, empty cells for nulls."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow(["|".join(map(str, v)) if isinstance(v, list) else
                         ("" if v is None else _csv_value(v)) for v in row.values()])
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def to_jsonl(table: pa.Table) -> str:
    """One JSON object per row, keys in column order."""
    def default(value: Any) -> Any:
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        raise TypeError(f"cannot write {type(value).__name__} as JSON")

    return "".join(json.dumps(row, default=default, ensure_ascii=False) + "\n"
                   for row in table.to_pylist())
