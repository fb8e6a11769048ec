"""Compaction: merge a crawl's many small part triples into a few large ones, crash-safely.

A crawl commits one nodes/links/pages part triple per batch of ``LINKGRAPH_FLUSH_PAGES``
pages, so a 1M-page crawl has ~450 parts per dataset, and every reader (the scorer,
DuckDB, Spark) pays per file: footers, column chunks, small row groups. Compaction
rewrites runs of consecutive committed batches as one merged triple each, with the same
rows in the same order, the same schema and the same Parquet settings as
:class:`~linkgraph.storage.parquet_writer.PartWriter` (zstd, row groups of 128 Ki rows).

Plan. The committed batches, in :func:`~linkgraph.storage.part_names.list_parts` order, are cut
into runs of about ``target_rows`` rows (of the largest dataset of each batch: links in
any crawl that finds links). A part that already holds at least half of that is left
alone, so compacting a compacted folder does nothing; between such parts, the small ones
are split into the fewest runs of at most about ``target_rows`` rows, of even sizes. A
run of one part is left alone.

Streaming. A merged part is written one input part at a time, one input row group at
a time, through :meth:`PartWriter.stream`, which buffers at most one output row group
(128 Ki rows): memory does not grow with the folder.

Crash protocol. A merged part is named after the batches it replaces,
``part-A-to-B.parquet`` (see ``linkgraph/storage/part_names.py``), so it sorts where its inputs
did and node ids stay 0..N-1 in part order. For each run:

1. write the merged nodes part, then the merged links part, then the merged sitemaps
   part (only when an input batch has one: sitemaps is optional), then the merged pages part,
   each to a hidden temporary, fsynced, renamed, the folder synced: the pages part is
   the commit point, as for a batch;
2. delete the inputs: pages parts first, then links, then nodes.

:meth:`CrawlDir.recover() <linkgraph.storage.crawl_dir.CrawlDir.recover>` (run when a crawl
opens its folder and before every compaction) deletes temporaries, every part whose
batch range lies inside the range of a committed (pages) merged part, then every nodes or
links part without its pages partner. So a kill before step 1 ends leaves the inputs
(the merged nodes/links parts are partnerless and go), and a kill after it leaves the
merged triple (the inputs left over are covered and go): every committed row is there
exactly once either way. Deleting pages inputs first keeps even a reader that knows
only the batch protocol right about which batches are committed, and the node ids
are the same rows in the same order whichever of the two triples survives.

Readers that do not recover (``linkgraph score``, DuckDB) must not be pointed at a
folder whose compaction was killed before ``linkgraph compact DIR`` (or resuming the
crawl) has cleaned it: they would count the covered inputs twice; ``linkgraph verify``
names them. Compaction must not run while a crawl writes the folder:
:meth:`CrawlDir.attach` refuses a folder whose lock a live crawl holds.

Test-only: when the environment variable ``LINKGRAPH_TEST_COMPACT_PAUSE`` is set, every
step (an input row group copied, a part renamed, an input deleted) is followed by a sleep
of that many seconds, so a test can SIGKILL a compaction at random moments of each
phase. Nothing else reads it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from linkgraph.errors import UsageError
from linkgraph.settings import LINKGRAPH_COMPACT_ROWS
from linkgraph.storage.parquet_writer import PartStream, PartWriter, fsync_dir
from linkgraph.storage.part_names import list_parts, merged_name, part_range
from linkgraph.storage.schemas import (OPTIONAL_DATASETS, add_late_columns,
                                       lacks_only_late_columns)

if TYPE_CHECKING:
    from linkgraph.storage.crawl_dir import CrawlDir

logger = logging.getLogger(__name__)

#: Rows of a merged part by default: the crawl setting's default, defined once.
DEFAULT_TARGET_ROWS = LINKGRAPH_COMPACT_ROWS
PAUSE_ENV = "LINKGRAPH_TEST_COMPACT_PAUSE"
#: The order merged parts are written in (the pages part, last, is the commit point)
#: and the order inputs are deleted in (pages first: see the module docstring).
WRITE_ORDER = ("nodes", "links", "sitemaps", "pages")
DELETE_ORDER = ("pages", "sitemaps", "links", "nodes")


@dataclass
class CompactionReport:
    """What :func:`compact` did to a crawl folder."""

    path: str
    #: Part triples (each a committed batch or an earlier merged run) before and after.
    parts_before: int = 0
    parts_after: int = 0
    #: Names of the merged parts written.
    merged: list[str] = field(default_factory=list)
    #: Rows per dataset (the same before and after).
    rows: dict[str, int] = field(default_factory=dict)
    #: Leftovers of an interrupted commit or compaction that recover() deleted first.
    recovered: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        rows = ", ".join(f"{self.rows.get(d, 0)} {d}" for d in ("links", "pages", "nodes"))
        if not self.merged:
            return (f"{self.path}: nothing to compact ({self.parts_before} part triple(s) of "
                    f"{rows} rows)")
        return (f"{self.path}: compacted {self.parts_before} part triples into "
                f"{self.parts_after} ({rows} rows) in {self.seconds:.1f} s")


def plan(sizes: list[int], target_rows: int) -> list[range]:
    """Runs of consecutive parts (index ranges) to merge, given each part's rows.

    Parts of at least ``target_rows / 2`` rows are left alone; between them, the others
    are cut into ``ceil(rows / target_rows)`` runs of even size (a part goes to the run
    its middle row falls in). Runs of one part are dropped: nothing to merge.
    """
    runs: list[range] = []
    start = 0
    for end in [i for i, n in enumerate(sizes) if 2 * n >= target_rows] + [len(sizes)]:
        runs += _split(sizes, start, end, target_rows)
        start = end + 1
    return [run for run in runs if len(run) > 1]


def _split(sizes: list[int], start: int, end: int, target_rows: int) -> list[range]:
    """``sizes[start:end]`` cut into the fewest even runs of about ``target_rows``."""
    total = sum(sizes[start:end])
    count = max(1, -(-total // target_rows))
    runs: list[range] = []
    before = 0
    first = start
    group = 0
    for i in range(start, end):
        mine = min(count - 1, (2 * before + sizes[i]) * count // (2 * total)) if total else 0
        if mine != group:
            runs.append(range(first, i))
            first, group = i, mine
        before += sizes[i]
    if first < end:
        runs.append(range(first, end))
    return runs


def _pause_from_env() -> Callable[[], None]:
    seconds = float(os.environ.get(PAUSE_ENV) or 0)
    return (lambda: time.sleep(seconds)) if seconds > 0 else (lambda: None)


def compact(crawl_dir: CrawlDir, target_rows: int = DEFAULT_TARGET_ROWS, *,
            on_step: Callable[[], None] | None = None) -> CompactionReport:
    """Merge the committed part triples of ``crawl_dir`` (see the module docstring).

    ``on_step`` is called after every step that changes the folder (tests use it to look
    at every state a kill could leave). Raises :class:`UsageError` (one line) when a part
    is unreadable, has other columns than its dataset's schema, or lacks a partner.
    """
    if target_rows < 1:
        raise UsageError(f"the rows of a merged part must be >= 1, got {target_rows}")
    step = on_step or _pause_from_env()
    started = time.perf_counter()
    report = CompactionReport(crawl_dir.path, recovered=crawl_dir.recover())
    writers = {"nodes": crawl_dir.nodes, "links": crawl_dir.links,
               "sitemaps": crawl_dir.sitemaps, "pages": crawl_dir.pages}
    names = list_parts(crawl_dir.pages.folder)
    rows = {dataset: _row_counts(crawl_dir.path, writer, names)
            for dataset, writer in writers.items()}
    report.rows = {dataset: sum(counts) for dataset, counts in rows.items()}
    report.parts_before = report.parts_after = len(names)
    runs = plan([max(counts) for counts in zip(*rows.values())], target_rows)
    for run in runs:
        inputs = names[run.start:run.stop]
        name = merged_name(part_range(inputs[0])[0], part_range(inputs[-1])[1])
        for dataset in WRITE_ORDER:
            present = _present(writers[dataset], inputs, dataset)
            if not present:
                continue
            written = _merge(crawl_dir.path, writers[dataset], present, name, step)
            if written != sum(rows[dataset][run.start:run.stop]):  # pragma: no cover
                raise RuntimeError(f"{dataset}/{name}: wrote {written} rows, expected "
                                   f"{sum(rows[dataset][run.start:run.stop])}")
            step()
        for dataset in DELETE_ORDER:
            for old in _present(writers[dataset], inputs, dataset):
                os.unlink(os.path.join(writers[dataset].folder, old))
                step()
            fsync_dir(writers[dataset].folder)
        report.merged.append(name)
        report.parts_after -= len(inputs) - 1
        logger.debug("Merged %d parts into %s", len(inputs), name)
    report.seconds = time.perf_counter() - started
    return report


def _present(writer: PartWriter, names: list[str], dataset: str) -> list[str]:
    """``names`` that ``writer``'s folder holds: all of them but for an optional dataset."""
    if dataset not in OPTIONAL_DATASETS:
        return names
    return [n for n in names if os.path.exists(os.path.join(writer.folder, n))]


def _row_counts(path: str, writer: PartWriter, names: list[str]) -> list[int]:
    """Rows of each part ``names`` of ``writer``'s dataset, from the footers (0 for a
    part an optional dataset does not have)."""
    dataset = os.path.basename(writer.folder)
    counts = []
    for name in names:
        if dataset in OPTIONAL_DATASETS and not os.path.exists(os.path.join(writer.folder, name)):
            counts.append(0)
            continue
        try:
            counts.append(pq.read_metadata(os.path.join(writer.folder, name)).num_rows)
        except FileNotFoundError:
            raise UsageError(f"{path}: {dataset}/{name} is missing (pages/{name} has no "
                             f"{dataset} partner); check it with linkgraph verify") from None
        except (OSError, pa.ArrowException) as exc:
            raise _unreadable(path, dataset, name, exc) from None
    return counts


def _unreadable(path: str, dataset: str, name: str, exc: Exception) -> UsageError:
    return UsageError(f"{path}: {dataset}/{name} is unreadable "
                      f"({' '.join(str(exc).split())[:200]}); check it with linkgraph verify")


def _merge(path: str, writer: PartWriter, inputs: list[str], name: str,
           step: Callable[[], None]) -> int:
    """Write ``inputs`` of one dataset, in order, as the part ``name``; return its rows."""
    dataset = os.path.basename(writer.folder)
    with writer.stream(name) as out:
        for source in inputs:
            _copy(path, dataset, os.path.join(writer.folder, source), out, step)
    return out.rows


def _copy(path: str, dataset: str, source: str, out: PartStream,
          step: Callable[[], None]) -> None:
    """Append every row of ``source`` to ``out``, one row group at a time."""
    name = os.path.basename(source)
    try:
        with pq.ParquetFile(source) as file:
            got = [(f.name, f.type) for f in file.schema_arrow]
            want = [(f.name, f.type) for f in out.schema]
            late = got != want and lacks_only_late_columns(dataset, got)
            if got != want and not late:
                raise UsageError(f"{path}: {dataset}/{name} has other columns than the "
                                 f"{dataset} schema; check it with linkgraph verify")
            for i in range(file.num_row_groups):
                group = file.read_row_group(i)
                out.write(add_late_columns(group, dataset) if late else group)
                step()
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(path, dataset, name, exc) from None
