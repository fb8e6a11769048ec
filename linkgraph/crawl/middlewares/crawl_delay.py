"""Honour robots.txt ``Crawl-delay`` per host.

Scrapy parses robots.txt but ignores Crawl-delay. When a robots.txt is parsed, this
component looks up the delay for our user agent and makes it the download delay of
that host's downloader slot (without jitter, so it is never undercut), and keeps
AutoThrottle from lowering it. Delays above ``LINKGRAPH_MAX_CRAWL_DELAY`` are capped
(and logged) so that one robots.txt cannot stall a crawl for hours.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.httpobj import urlparse_cached

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def robots_crawl_delay(robotparser: Any, user_agent: str) -> float | None:
    """Return the Crawl-delay of ``robotparser`` for ``user_agent``, if it has one.

    Works with Scrapy's Protego wrapper (``.rp``) and with a bare Protego or
    ``urllib.robotparser`` object.
    """
    parser = getattr(robotparser, "rp", robotparser)
    getter = getattr(parser, "crawl_delay", None)
    if getter is None:
        return None
    try:
        delay = getter(user_agent)
    except Exception:  # a parser choking on its own input must not stop the crawl
        logger.debug("crawl_delay lookup failed", exc_info=True)
        return None
    return float(delay) if delay else None


class CrawlDelayMiddleware:
    """Downloader middleware applying robots.txt Crawl-delay to each host's slot."""

    def __init__(self, crawler: Crawler):
        if not self.enabled(crawler.settings):
            raise NotConfigured
        self.crawler = crawler
        self.user_agent = (crawler.settings.get("ROBOTSTXT_USER_AGENT")
                           or crawler.settings.get("USER_AGENT"))
        self.max_delay = crawler.settings.getfloat("LINKGRAPH_MAX_CRAWL_DELAY")
        self.delays: dict[str, float] = {}
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def enabled(cls, settings: Any) -> bool:
        # A distributed crawl's workers share each host's delay through Redis instead
        # (linkgraph/crawl/distributed/politeness.py).
        return settings.getbool("ROBOTSTXT_OBEY") and not settings.get("LINKGRAPH_FRONTIER")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlDelayMiddleware:
        return cls(crawler)

    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        delay = robots_crawl_delay(robotparser, self.user_agent)
        if delay is not None and delay > self.max_delay:
            logger.warning("Crawl-delay %s s of %s capped at %s s (LINKGRAPH_MAX_CRAWL_DELAY)",
                           delay, host, self.max_delay)
            delay = self.max_delay
        if delay is not None:
            self.delays[host] = delay
            self.crawler.stats.set_value(f"linkgraph/crawl_delay/{host}", delay)
            logger.info("Crawl-delay of %s: %s s", host, delay)
        self.apply_delay(host, delay)

    def apply_delay(self, host: str, delay: float | None) -> None:
        """Make ``delay`` the spacing of ``host``'s requests (here: its downloader slot);
        None: its robots.txt sets none."""
        if delay is None:
            return
        downloader = self.crawler.engine.downloader
        downloader.per_slot_settings.setdefault(host, {}).update(
            {"delay": delay, "jitter": 0.0, "concurrency": 1}
        )
        slot = downloader.slots.get(host)
        if slot is not None:
            slot.delay, slot.jitter, slot.concurrency = delay, 0.0, 1

    def process_request(self, request: Request) -> None:
        if self.delays and (urlparse_cached(request).hostname or "") in self.delays:
            request.meta["autothrottle_dont_adjust_delay"] = True
