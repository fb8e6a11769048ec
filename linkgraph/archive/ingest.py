"""``linkgraph warc``: WARC files into a crawl folder, with every core.

One process per file (up to ``processes`` at once) reads its archive
(:mod:`linkgraph.archive.warc_reader`) and turns each HTTP response into a page record
with the crawl's own :func:`~linkgraph.crawl.responses.read_response` (the extractor is
most of the cost: ~0.5 ms for a page of 76 links). The reading processes also build the
rows (:func:`~linkgraph.storage.batches.build_rows`), which come back to this process
as Arrow tables in chunks through a bounded queue, so memory does not grow with the
archives; here each URL is kept once (its first response to arrive: a URL archived twice, in a
recrawl, gives one pages row, as in a crawl), node ids are given and batches are
committed exactly as a crawl commits them (:mod:`linkgraph.storage.batches`).

The folder's manifest names the archive files as the crawl's seeds, so running the
same command again after a kill continues: files whose every record was committed are
skipped, URLs with a committed pages row are not written again, and the files that
were being read are read again. Other files into the same folder are refused, as
other seeds are for a crawl.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queue_module
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from linkgraph.errors import UsageError
from linkgraph.settings import LINKGRAPH_FLUSH_PAGES, LINKGRAPH_PROGRESS_INTERVAL

log = logging.getLogger(__name__)

#: Page records a reading process sends at a time.
CHUNK = 200
#: Chunks waiting in the queue at most (each ~CHUNK pages with their links).
QUEUE_CHUNKS = 8
SUFFIXES = (".warc", ".warc.gz")


@dataclass
class IngestReport:
    """What ``linkgraph warc`` did."""

    out: str
    files: int = 0
    files_skipped_done: int = 0
    pages: int = 0
    links: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
        rate = self.pages / self.seconds if self.seconds else 0.0
        done = (f" ({self.files_skipped_done} already done)" if self.files_skipped_done
                else "")
        return (f"read {self.files} WARC file(s){done} into {self.out}: {self.pages} pages, "
                f"{self.links} links in {self.seconds:.1f} s ({rate:.0f} pages/s); "
                f"{self.duplicates} repeated URL(s) kept once"
                + (f"; skipped: {skipped}" if skipped else ""))


def archive_files(inputs: Iterable[str]) -> list[str]:
    """The WARC files named by ``inputs`` (files, or folders searched recursively for
    ``*.warc`` and ``*.warc.gz``), as absolute paths, sorted, each once."""
    found: set[str] = set()
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found.update(str(p.resolve()) for p in path.rglob("*")
                         if p.is_file() and p.name.endswith(SUFFIXES))
        elif path.is_file():
            found.add(str(path.resolve()))
        else:
            raise UsageError(f"{name} is neither a WARC file nor a folder")
    if not found:
        raise UsageError(f"no WARC files (*.warc, *.warc.gz) in {', '.join(inputs)}")
    return sorted(found)


# -- the reading processes ------------------------------------------------------------
_queue = None
_crawl_id = ""


def _init(queue, crawl_id: str) -> None:
    global _queue, _crawl_id
    _queue, _crawl_id = queue, crawl_id


def _send(path: str, chunk: list) -> None:
    # Rows are built here, in the reading process: only the ids are given centrally.
    from linkgraph.storage.batches import build_rows

    _queue.put(("rows", path, build_rows(chunk, _crawl_id)))


def _read_file(path: str) -> tuple[str, Counter]:
    """Read one archive, sending chunks of page records to the queue; return its skips."""
    from linkgraph.archive.page_records import page_records
    from linkgraph.archive.warc_reader import ReadReport

    report = ReadReport(path)
    chunk: list = []
    try:
        for item in page_records(path, report):
            chunk.append(item)
            if len(chunk) >= CHUNK:
                _send(path, chunk)
                chunk = []
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - the parser's panics are BaseExceptions
        report.skip("unreadable_file", f"{path}: reading stopped after {report.responses} "
                                       f"response(s) ({type(exc).__name__}: "
                                       f"{' '.join(str(exc).split())[:160]}); the rest is "
                                       "skipped")
    if chunk:
        _send(path, chunk)
    _queue.put(("done", path, report.skipped))
    return path, report.skipped


# -- this process: ids and commits ---------------------------------------------------
def ingest(inputs: Iterable[str], out: str, *, processes: int | None = None,
           fresh: bool = False, flush_pages: int = LINKGRAPH_FLUSH_PAGES,
           progress_interval: float = LINKGRAPH_PROGRESS_INTERVAL) -> IngestReport:
    """Read the WARC files ``inputs`` into the crawl folder ``out``; see the module doc."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from linkgraph.storage.batches import assign_ids
    from linkgraph.storage.crawl_dir import CrawlDir, CrawlFinished
    from linkgraph.storage.node_index import NodeIndex
    from linkgraph.storage.part_names import part_name
    from linkgraph.storage.reader import CrawlFolder

    files = archive_files(inputs)
    started = time.monotonic()
    report = IngestReport(out)
    try:
        crawl_dir = CrawlDir.open(out, files, [], fresh=fresh)
    except CrawlFinished as exc:
        log.info("%s", exc)
        report.files_skipped_done = len(files)
        return report
    status = "interrupted"
    try:
        nodes = NodeIndex()
        keys, ids = crawl_dir.read_nodes()
        nodes.load(keys, ids)
        done_files = {f for s in crawl_dir.manifest.sessions for f in s.get("archives_done", ())}
        seen: set[int] = set()
        if crawl_dir.session > 0:
            con = CrawlFolder(out).duckdb(datasets=("pages",))
            seen.update(k for (k,) in con.execute("SELECT url_key FROM pages").fetchall())
        todo = [f for f in files if f not in done_files]
        report.files = len(files)
        report.files_skipped_done = len(files) - len(todo)
        if report.files_skipped_done:
            log.info("%d of %d archive file(s) were committed by an earlier session",
                     report.files_skipped_done, len(files))
        buffer: list[tuple[pa.Table, pa.Table]] = []  # (links, pages) rows without ids
        buffered = 0
        batch = 0
        read_done: list[str] = []  # read whole; committed with the next batch
        session = crawl_dir.manifest.sessions[-1]
        session.setdefault("archives_done", [])

        def commit() -> None:
            nonlocal batch, buffer, buffered
            if buffer:
                name = part_name(crawl_dir.session, batch)
                batch += 1
                node_t, links_t, pages_t = assign_ids(
                    pa.concat_tables([links for links, _ in buffer]),
                    pa.concat_tables([pages for _, pages in buffer]), nodes)
                crawl_dir.nodes.write(name, node_t)
                crawl_dir.links.write(name, links_t)
                crawl_dir.pages.write(name, pages_t)
                report.pages += pages_t.num_rows
                report.links += links_t.num_rows
                buffer, buffered = [], 0
            if read_done:
                session["archives_done"] += read_done
                read_done.clear()
                crawl_dir.save()

        processes = max(1, min(processes or os.cpu_count() or 1, len(todo) or 1))
        context = multiprocessing.get_context("spawn")
        queue = context.Queue(QUEUE_CHUNKS)
        last_log = time.monotonic()
        with context.Pool(processes, initializer=_init,
                          initargs=(queue, crawl_dir.crawl_id)) as pool:
            pending = pool.map_async(_read_file, todo)
            remaining = len(todo)
            while remaining:
                try:
                    kind, path, payload = queue.get(timeout=1.0)
                except queue_module.Empty:
                    if pending.ready():
                        pending.get()  # a reading process died: raise its error
                        raise RuntimeError("a reading process ended without finishing")
                    continue
                if kind == "done":
                    remaining -= 1
                    report.skipped.update(payload)
                    read_done.append(path)
                    continue
                links, pages = payload
                keys = pages.column("url_key").to_pylist()
                keep = []
                for key in keys:  # the first response of a URL wins
                    keep.append(key not in seen)
                    seen.add(key)
                if not all(keep):
                    report.duplicates += keep.count(False)
                    dropped = pa.array([k for k, kept in zip(keys, keep) if not kept])
                    pages = pages.filter(pa.array(keep))
                    links = links.filter(pc.invert(pc.is_in(links.column("src_key"),
                                                            value_set=dropped)))
                buffer.append((links, pages))
                buffered += pages.num_rows
                if buffered >= flush_pages:
                    commit()
                now = time.monotonic()
                if progress_interval and now - last_log >= progress_interval:
                    last_log = now
                    log.info("pages %d (%.0f/s) | links %d | files %d of %d read",
                             report.pages + buffered,
                             (report.pages + buffered) / (now - started), report.links,
                             len(todo) - remaining, len(todo))
            pending.get()
        commit()
        # Before the manifest says finished, as a crawl does: a kill during the merge
        # leaves a folder that the same command recovers and compacts again.
        log.info("%s", crawl_dir.compact().summary())
        status = "finished"
    finally:
        report.seconds = time.monotonic() - started
        crawl_dir.finish(status, {"pages": report.pages, "links": report.links,
                                  "skipped": dict(report.skipped)})
    return report
