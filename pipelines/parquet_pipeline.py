"""The item pipeline: PageItems (and SitemapItems) in, ``nodes``, ``links`` and ``pages``
(and ``sitemaps``) Parquet parts out.

Items are buffered as they come and written as one part of each dataset per batch
(every ``LINKGRAPH_FLUSH_PAGES`` pages or ``LINKGRAPH_FLUSH_SECONDS`` seconds, and at
the end), built by :func:`linkgraph.storage.batches.build_batch`.

The pipeline owns the crawl's :class:`~linkgraph.storage.node_index.NodeIndex`: every page URL
and link target gets a dense node id when its batch is built, and the batch's nodes
part lists the URLs that got a new one. On opening a resumed crawl the index is rebuilt
from the committed nodes parts, so ids carry on where the last commit left them.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.utils.defer import deferred_from_coro

from linkgraph.crawl.items import PageItem, SitemapItem
from linkgraph.errors import SETUP_ERROR_LOG, UsageError
from linkgraph.storage.batches import build_batch, build_sitemap_rows
from linkgraph.storage.crawl_dir import CrawlDir
from linkgraph.storage.node_index import NodeIndex
from linkgraph.storage.part_names import part_name
from linkgraph.storage.url_key import url_key
from linkgraph.storage import write_failure

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

class ParquetPipeline:
    """Write every PageItem to the crawl folder of the spider (``spider.crawl_dir``)."""

    def __init__(self, crawler: Crawler):
        from linkgraph.crawl.config import crawl_config

        try:
            config = crawl_config(crawler)
        except UsageError:
            raise NotConfigured("bad LINKGRAPH_* settings (the spider reports them)") from None
        self.crawler = crawler
        self.stats = crawler.stats
        self.flush_pages = config.flush_pages
        self.flush_seconds = config.flush_seconds
        self.buffer: list[PageItem] = []
        #: Sitemaps read since the last commit: committed in the same batch.
        self.sitemap_buffer: list[SitemapItem] = []
        self.last_flush = time.monotonic()
        self.batch = 0
        self.crawl_dir: CrawlDir | None = None
        self.nodes = NodeIndex()
        #: The one line of the write that failed; nothing is written after it.
        self.write_error: str | None = None
        self.closing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ParquetPipeline:
        return cls(crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        spider = spider or self.crawler.spider
        self.crawl_dir = getattr(spider, "crawl_dir", None)
        if self.crawl_dir is None:
            return
        try:
            self._load_nodes()
        except UsageError as exc:
            # Scrapy closes the crawl before any request; the CLI prints this one line.
            logger.error("%s", exc, extra=SETUP_ERROR_LOG)
            self.stats.set_value("linkgraph/setup_error", str(exc))
            self.crawl_dir = None
            raise CloseSpider("setup_error") from None
        if self.nodes.size:
            logger.info("Node ids continue from %d", self.nodes.size)
        #: A distributed crawl's frontier: each committed page's entry is acknowledged.
        self.remote = getattr(spider, "remote", None)
        if self.remote is not None:
            # The worker commits when it waits for work: what it holds uncommitted holds
            # back the next depth of every worker (linkgraph/crawl/distributed/work.py).
            spider.commit_now = self.flush
            self.page_keys = self._committed_page_keys()

    def _committed_page_keys(self) -> set[int]:
        """The URL keys of the pages rows this (worker) folder holds already."""
        from linkgraph.storage.reader import CrawlFolder

        keys: set[int] = set()
        for path in CrawlFolder(self.crawl_dir.path).files("pages"):
            keys.update(pq.read_table(path, columns=["url_key"]).column("url_key").to_pylist())
        return keys

    def _drop_refetched(self, items: list[PageItem]) -> list[PageItem]:
        """A distributed crawl can hand a page out twice (a lease that expired under a
        live worker, a lost Redis): a worker writes a URL's pages row once; a copy in
        another worker's folder is dropped when the folders are merged."""
        kept = []
        for item in items:
            key = url_key(item.url)
            if key in self.page_keys:
                self.stats.inc_value("linkgraph/distributed/refetched_dropped")
                continue
            self.page_keys.add(key)
            kept.append(item)
        return kept

    def _load_nodes(self) -> None:
        """Rebuild the node index from the committed nodes parts (empty for a new crawl)."""
        keys, ids = self.crawl_dir.read_nodes()
        try:
            self.nodes.load(keys, ids)
        except ValueError as exc:
            raise UsageError(f"{self.crawl_dir.path}: nodes/ cannot be continued ({exc}); "
                             "check it with linkgraph verify, or pass --fresh to crawl "
                             "again") from None

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if isinstance(item, SitemapItem):
            self.sitemap_buffer.append(item)
        elif isinstance(item, PageItem):
            self.buffer.append(item)
        else:
            return item
        if (len(self.buffer) + len(self.sitemap_buffer) >= self.flush_pages
                or time.monotonic() - self.last_flush >= self.flush_seconds):
            self.flush()
        return item

    def flush(self) -> None:
        """Commit the buffered pages as one batch: nodes part, links part, pages part last.

        A batch that cannot be written (a full disk, a read-only folder) stops the
        crawl: see :meth:`_stop`.
        """
        self.last_flush = time.monotonic()
        if not (self.buffer or self.sitemap_buffer) or self.crawl_dir is None:
            return
        items, self.buffer = self.buffer, []
        sitemaps, self.sitemap_buffer = self.sitemap_buffer, []
        if self.write_error is not None:
            # Not committed, so not done: the resumed crawl fetches these pages again.
            return
        acked = items
        if self.remote is not None:
            items = self._drop_refetched(items)
            if not items and not sitemaps:
                self._ack(acked)
                return
        name = part_name(self.crawl_dir.session, self.batch)
        # Counted before writing: a failed batch's name is not used again.
        self.batch += 1
        crawl_dir = self.crawl_dir
        batch: tuple[Any, ...] = ()
        folder = crawl_dir.path
        try:
            batch = nodes, links, pages = build_batch(items, crawl_dir.crawl_id, self.nodes)
            listed = build_sitemap_rows(sitemaps, crawl_dir.crawl_id)
            batch = nodes, links, listed, pages
            writers = (crawl_dir.nodes, crawl_dir.links, crawl_dir.sitemaps, crawl_dir.pages)
            for writer, table in zip(writers, batch):
                if writer is crawl_dir.sitemaps and not table.num_rows:
                    continue  # optional: only a batch with sitemap rows has a part
                folder = writer.folder
                writer.write(name, table)
        except Exception as exc:  # noqa: BLE001 - every lost batch stops the crawl
            self._stop(exc, folder, batch)
            return
        self.stats.inc_value("linkgraph/parts_written")
        self.stats.inc_value("linkgraph/rows/nodes", nodes.num_rows)
        self.stats.inc_value("linkgraph/rows/links", links.num_rows)
        self.stats.inc_value("linkgraph/rows/pages", pages.num_rows)
        self.stats.inc_value("linkgraph/rows/sitemaps", listed.num_rows)
        logger.debug("Committed %s: %d pages, %d links, %d new nodes", name, pages.num_rows,
                     links.num_rows, nodes.num_rows)
        # Only now: a worker killed before this line has its URLs fetched again.
        self._ack(acked)

    def _ack(self, items: list[PageItem]) -> None:
        """Acknowledge the frontier entries of committed pages (a distributed crawl)."""
        if self.remote is None:
            return
        try:
            self.remote.ack([item.entry for item in items if item.entry is not None])
        except Exception as exc:  # noqa: BLE001 - Redis gone: the rows are safe
            # Unacknowledged, these URLs are fetched again (and kept once by the merge).
            logger.warning("Could not acknowledge %d committed pages in Redis (%s)",
                           len(items), exc)

    def _stop(self, exc: Exception, folder: str, batch: tuple[Any, ...]) -> None:
        """A batch could not be written: undo its half, stop the crawl, say it in one line.

        Going on would leave a gap that nothing records (the batches after it commit,
        the crawl ends "finished" and a rerun is refused). Stopped, the folder holds
        every batch before this one and says ``interrupted``; the same command resumes
        it and fetches the pages of this batch and of those never written again.
        """
        try:
            # What this batch wrote in part goes, and the ids it took are given again.
            self.crawl_dir.recover()
            self._load_nodes()
        except (OSError, UsageError) as undo:
            logger.debug("Undoing the failed batch: %s", undo)
        no_space = isinstance(exc, OSError) and exc.errno in write_failure.NO_SPACE
        files = write_failure.encoded_sizes(batch) if no_space else []
        self.write_error = (f"{write_failure.describe(folder, exc, files)}; the "
                            "crawl stopped (interrupted): make room and run the same command "
                            "again to resume it")
        # A full disk is the user's to fix (one line); anything else is a bug to report.
        logger.error("%s", self.write_error, exc_info=not isinstance(exc, OSError))
        self.stats.set_value("linkgraph/write_error", self.write_error)
        engine = getattr(self.crawler, "engine", None)
        if engine is not None and not self.closing:
            deferred_from_coro(engine.close_spider_async(reason="write_error"))

    def close_spider(self, spider: Spider | None = None) -> None:
        self.closing = True
        self.flush()
