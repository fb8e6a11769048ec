"""Names of a dataset's part files: which batches a part holds, and their order.

A batch part is ``part-SSS-NNNNN.parquet`` (session ``SSS``, batch ``NNNNN`` of that
session). A merged part, written by compaction (``linkgraph/storage/compaction.py``), holds the
rows of a run of consecutive parts and names the first and the last batch of that run:
``part-SSS-NNNNN-to-SSS-NNNNN.parquet``, both ends included. A merged part can be merged
again; its name then spans the whole new run.

Every name therefore stands for a range of batch numbers ``(session, batch)``, and the
committed parts of a folder hold disjoint ranges. Sorting names with their numbers
compared as numbers (:func:`list_parts`) sorts them by the first batch they hold, which
is commit order: a merged part sorts where its first input did, and a new session's
batches sort after every merged part of the sessions before it. Sorted as plain
strings (``sorted(glob(...))``, as most readers do) the order is the same as long as
sessions stay below 1000 and batches below 100,000 (the zero-padded widths).
"""

from __future__ import annotations

import os
import re

#: (session, batch): a batch's place in the crawl's commit order.
Batch = tuple[int, int]
#: First and last batch a part holds, both included.
BatchRange = tuple[Batch, Batch]

_NAME = re.compile(r"part-(\d+)-(\d+)(?:-to-(\d+)-(\d+))?\.parquet")


def part_name(session: int, batch: int) -> str:
    """The name of one batch's part."""
    return f"part-{session:03d}-{batch:05d}.parquet"


def merged_name(first: Batch, last: Batch) -> str:
    """The name of a part that holds batches ``first`` to ``last`` (both included)."""
    if not first < last:
        raise ValueError(f"a merged part spans at least two batches, got {first} to {last}")
    return f"part-{first[0]:03d}-{first[1]:05d}-to-{last[0]:03d}-{last[1]:05d}.parquet"


def part_range(name: str) -> BatchRange | None:
    """The batches the part ``name`` holds, or None for a name linkgraph does not write."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    s1, b1, s2, b2 = match.groups()
    first = (int(s1), int(b1))
    last = (int(s2), int(b2)) if s2 is not None else first
    return (first, last) if first <= last else None


def _sort_key(name: str) -> list[int | str]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def list_parts(folder: str) -> list[str]:
    """Committed part file names of a dataset folder in commit order (temporaries excluded).

    Numbers in names compare as numbers, so a session's 100,000th batch still sorts
    after its 99,999th (the names are zero-padded to 5 digits, not more), and a merged
    part sorts by its first batch.
    """
    if not os.path.isdir(folder):
        return []
    return sorted((n for n in os.listdir(folder)
                   if n.endswith(".parquet") and not n.startswith((".", "_"))), key=_sort_key)


def covered(names: list[str], by: list[str]) -> list[str]:
    """The names whose batch range lies inside the range of another name of ``by``.

    ``by`` are committed parts (pages parts, the commit points); what they cover are the
    inputs of a compaction that committed its merged part but had not yet deleted them.
    A name that is not a part name is never covered.
    """
    spans = sorted(r for r in map(part_range, by) if r is not None and r[0] < r[1])
    result = []
    for name in names:
        span = part_range(name)
        if span is not None and any(first <= span[0] and span[1] <= last and span != (first, last)
                                    for first, last in spans):
            result.append(name)
    return result
