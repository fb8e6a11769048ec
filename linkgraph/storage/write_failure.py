"""One line for a write to a crawl folder that failed: which folder, why, how much room.

A full disk (``ENOSPC``) or an exhausted quota (``EDQUOT``) is not a bug but something
the user fixes by freeing space, so it is said in one line with the figures that tell
how much: the bytes the failed batch needs (its three parts written to memory with
the same encoding, which is exact) and the bytes free where it was written.
"""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

#: errno values that mean "no room": freeing space (or raising a quota) fixes them.
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def _statvfs(path: str) -> os.statvfs_result | None:
    """statvfs of ``path``, or of its nearest existing parent; None when unknown."""
    while path and not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    try:
        return os.statvfs(path or ".")
    except OSError:
        return None


def encoded_sizes(tables: Sequence[pa.Table]) -> list[int]:
    """Bytes each of ``tables`` takes as a Parquet part (zstd, as the crawl writes it)."""
    sizes = []
    for table in tables:
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        sizes.append(sink.tell())
    return sizes


def human_bytes(n: float) -> str:
    """``n`` bytes as 512 B, 3.4 kB, 12.0 MB, 1.2 GB."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def describe(path: str, exc: BaseException, files: Sequence[int] = ()) -> str:
    """One line for the failed write of ``exc`` into the crawl folder ``path``.

    ``files`` are the sizes of the files the failed write had to create, when known:
    each takes whole blocks of the file system, so the line says what they need there.
    """
    folder = os.path.dirname(exc.filename) if isinstance(exc, OSError) and isinstance(
        exc.filename, str) else path
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    line = f"cannot write to {folder}: {reason}"
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        stat = _statvfs(folder)
        figures = []
        if files:
            block = stat.f_frsize if stat is not None and stat.f_frsize else 1
            needed = sum(-(-size // block) * block for size in files)
            figures.append(f"the batch needs {human_bytes(needed)}")
        if stat is not None:
            figures.append(f"{human_bytes(stat.f_bavail * stat.f_frsize)} free")
        if figures:
            line += f" ({', '.join(figures)})"
    return line
