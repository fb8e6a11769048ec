"""Progress lines while a crawl runs, and a summary when it ends.

Every ``LINKGRAPH_PROGRESS_INTERVAL`` seconds::

    pages 1200 (84.1/s) | links 90211 | errors 3 | queued 431 | rows written 1000/75002

and at the end one summary line with the totals, the rate, and where the data is. The
numbers are Scrapy stats (``linkgraph/...``), so ``scrapy crawl`` users see the same
counters in the final stats dump.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class CrawlProgress:
    """Extension logging crawl progress and a final summary."""

    def __init__(self, crawler: Crawler, interval: float):
        self.crawler = crawler
        self.stats = crawler.stats
        self.interval = interval
        self.task = None
        self.started = time.monotonic()
        self.last = (self.started, 0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        interval = crawler.settings.getfloat("LINKGRAPH_PROGRESS_INTERVAL")
        if interval <= 0:
            raise NotConfigured
        ext = cls(crawler, interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        self.last = (self.started, 0)
        self.task = create_looping_call(self.log_progress)
        self.task.start(self.interval, now=False)

    def _queued(self) -> int | None:
        engine = self.crawler.engine
        try:
            queued = len(engine._slot.scheduler)  # type: ignore[union-attr]
        except Exception:  # the scheduler's size is informative only
            return None
        # Requests the spider holds until their depth may be fetched wait too.
        return queued + len(getattr(self.crawler.spider, "frontier", ()))

    def log_progress(self) -> None:
        now = time.monotonic()
        pages = self.stats.get_value("linkgraph/pages", 0) + self.stats.get_value("linkgraph/errors", 0)
        then, pages_then = self.last
        self.last = (now, pages)
        rate = (pages - pages_then) / max(now - then, 1e-9)
        logger.info(
            "pages %d (%.1f/s) | links %d | errors %d | queued %s | rows written %d/%d",
            pages, rate, self.stats.get_value("linkgraph/links", 0),
            self.stats.get_value("linkgraph/errors", 0), self._queued(),
            self.stats.get_value("linkgraph/rows/pages", 0),
            self.stats.get_value("linkgraph/rows/links", 0),
        )

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        elapsed = time.monotonic() - self.started
        pages = self.stats.get_value("linkgraph/pages", 0)
        errors = self.stats.get_value("linkgraph/errors", 0)
        rate = (pages + errors) / max(elapsed, 1e-9)
        self.stats.set_value("linkgraph/pages_per_second", round(rate, 2))
        logger.info(
            "Crawl %s: %d pages fetched (%d not HTML, %d redirects), %d errors, %d links "
            "in %.1f s (%.1f pages/s); wrote %d page rows and %d link rows to %s",
            reason, pages, self.stats.get_value("linkgraph/pages_not_html", 0),
            self.stats.get_value("linkgraph/redirects", 0), errors,
            self.stats.get_value("linkgraph/links", 0), elapsed, rate,
            self.stats.get_value("linkgraph/rows/pages", 0),
            self.stats.get_value("linkgraph/rows/links", 0),
            self.crawler.settings.get("LINKGRAPH_OUTPUT"),
        )
