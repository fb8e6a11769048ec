"""Wait out ``Retry-After`` before retrying a 429 or 503.

Scrapy's RetryMiddleware retries 429/503 at once, which is exactly what a server that
asked for a pause does not want. This middleware sits before it on the way back
(priority 560 > 550): when a 429/503 carries ``Retry-After`` (seconds or an HTTP date)
and the request still has retries left, the response is held for that long (capped at
``LINKGRAPH_MAX_RETRY_AFTER``) before RetryMiddleware sees it and schedules the retry.

Holding the response does not hold a download slot, so other pages of the host may be
fetched meanwhile; AutoThrottle slows a host whose responses slow down. The last
answer (retries exhausted) is passed on at once and recorded with its status.
"""

from __future__ import annotations

import logging
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured
from twisted.internet import defer
from twisted.internet.task import deferLater

from linkgraph.crawl.config import crawl_config
from linkgraph.errors import UsageError

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

_STATUSES = frozenset({429, 503})


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` value, or None when it is not valid."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class RetryAfterMiddleware:
    """Delay the retry of a 429/503 by its Retry-After (capped)."""

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        if not settings.getbool("RETRY_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        self.max_retry_times = settings.getint("RETRY_TIMES")
        try:
            self.cap = crawl_config(crawler).max_retry_after
        except UsageError:
            raise NotConfigured("bad LINKGRAPH_* settings (the spider reports them)") from None
        self._capped_logged = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response | defer.Deferred:
        if response.status not in _STATUSES or request.meta.get("dont_retry"):
            return response
        retries = request.meta.get("retry_times", 0)
        if retries >= request.meta.get("max_retry_times", self.max_retry_times):
            return response  # no retry will follow: nothing to wait for
        seconds = retry_after_seconds(response.headers.get(b"Retry-After"))
        if seconds is None or seconds <= 0:
            return response
        stats = self.crawler.stats
        stats.inc_value("linkgraph/retry_after")
        if seconds > self.cap:
            stats.inc_value("linkgraph/retry_after/capped")
            if not self._capped_logged:
                self._capped_logged = True
                logger.warning("Retry-After of %s s from %s capped at %s s "
                               "(LINKGRAPH_MAX_RETRY_AFTER); logged once", seconds,
                               request.url, self.cap)
            seconds = self.cap
        logger.debug("Waiting %.1f s (Retry-After) before retrying %s", seconds, request.url)
        # Imported here: a module-level import would install Twisted's default reactor
        # in a process that imports this module before Scrapy installs the asyncio one
        # (the --workers launcher imports the components once for its forked workers).
        from twisted.internet import reactor

        return deferLater(reactor, seconds, lambda: response)
