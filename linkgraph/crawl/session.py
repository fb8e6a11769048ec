"""One crawl session's hold on its crawl folder: open it, read what earlier sessions
did, close it.

The spider decides what to fetch; this component owns the folder around that: it
opens it (a new crawl, a resumed one, or a refusal as one line), hands the spider the
earlier sessions' progress (:mod:`linkgraph.crawl.resume`), and at the end compacts a
finished crawl and writes the manifest's status. The item pipeline writes the batches
into the same :class:`~linkgraph.storage.crawl_dir.CrawlDir`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from linkgraph.crawl.config import CrawlConfig
from linkgraph.crawl.distributed import folders as worker_folders
from linkgraph.crawl.resume import Progress, load_progress
from linkgraph.errors import UsageError
from linkgraph.storage import write_failure
from linkgraph.storage.crawl_dir import CrawlDir

logger = logging.getLogger(__name__)


class CrawlSession:
    """The crawl folder of one session of a crawl (see the module doc)."""

    def __init__(self, crawl_dir: CrawlDir, config: CrawlConfig):
        self.crawl_dir = crawl_dir
        self.config = config

    @classmethod
    def open(cls, config: CrawlConfig, seeds: Sequence[str], allow: Sequence[str],
             crawl_id: str | None = None) -> CrawlSession:
        """Open ``config.output`` for this session; a :class:`UsageError` (one line) when
        it cannot be (a finished crawl, other seeds, a locked or full folder).

        A worker of a distributed crawl (``config.frontier``) opens its own folder under
        ``config.output`` instead (:mod:`linkgraph.crawl.distributed.folders`), for the
        crawl ``crawl_id`` of the shared frontier.
        """
        if config.frontier:
            try:
                crawl_dir = worker_folders.open_worker_folder(
                    config.output, list(seeds), list(allow), crawl_id or "")
            except OSError as exc:
                raise UsageError(write_failure.describe(config.output, exc)) from None
            return cls(crawl_dir, config)
        return cls(CrawlDir.open(config.output, list(seeds), list(allow),
                                 crawl_id=config.crawl_id, fresh=config.fresh), config)

    @property
    def resumed(self) -> bool:
        """Whether earlier sessions committed to this folder."""
        return self.crawl_dir.session > 0

    def progress(self) -> Progress:
        """What earlier sessions fetched, and the links they left to follow."""
        return load_progress(self.crawl_dir.path, self.config)

    def close(self, reason: str, stats: Any) -> str:
        """End the session: compact a finished crawl, write the manifest; return its
        status (``finished`` or ``interrupted``)."""
        # A batch that could not be written (parquet_pipeline) leaves a gap that only
        # resuming fills: the crawl is not finished, whatever stopped it.
        finished = reason == "finished" and not stats.get_value("linkgraph/write_error")
        status = "finished" if finished else "interrupted"
        # Before finish(): the manifest still says running, so a kill during the
        # compaction leaves a crawl that the same command resumes (and recovers).
        # A worker's folder is merged into the crawl's when the crawl ends, not compacted.
        compaction = (self._compact(stats) if finished and self.config.compact
                      and not self.config.frontier else {})
        counts = stats.get_stats()
        distributed = {name: counts[f"linkgraph/distributed/{name}"] for name in (
            "redis_round_trips", "taken", "reclaimed", "refetched_dropped")
            if f"linkgraph/distributed/{name}" in counts} if self.config.frontier else {}
        self.crawl_dir.finish(status, {
            "reason": reason,
            "pages": counts.get("linkgraph/rows/pages", 0),
            "links": counts.get("linkgraph/rows/links", 0),
            **distributed,
            **compaction,
        })
        return status

    def _compact(self, stats: Any) -> dict[str, Any]:
        """Merge the finished crawl's part triples (LINKGRAPH_COMPACT); return a note of it
        for the manifest. A failure is logged, not raised: the crawl itself is complete."""
        try:
            report = self.crawl_dir.compact(self.config.compact_rows)
        except Exception as exc:  # noqa: BLE001 - disk full, a damaged part, ...
            logger.error("Compaction failed (%s); the crawl is complete: run linkgraph "
                         "compact %s", exc, self.crawl_dir.path)
            stats.set_value("linkgraph/compaction/error", str(exc))
            try:
                self.crawl_dir.recover()
            except OSError:
                pass
            return {"compaction": {"error": str(exc)}}
        logger.info("%s", report.summary())
        for name in ("parts_before", "parts_after"):
            stats.set_value(f"linkgraph/compaction/{name}", getattr(report, name))
        stats.set_value("linkgraph/compaction/seconds", round(report.seconds, 2))
        return {"compaction": {"parts_before": report.parts_before,
                               "parts_after": report.parts_after,
                               "seconds": round(report.seconds, 2)}}
