"""Abort a body that grows past ``DOWNLOAD_MAXSIZE`` with an error that says so.

Scrapy already stops reading such a body, but when no Content-Length announced it (a
chunked or close-delimited stream), the only trace is a log line and a bare
``DownloadCancelledError``, which cannot be told apart from other cancellations. This
extension applies the same limit from the ``bytes_received`` signal, which Scrapy
sends before its own check, and stops the download with
:class:`BodyTooLarge`, which ``linkgraph.crawl.fetch_errors`` records as ``too_large``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured, StopDownload

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler


class BodyTooLarge(StopDownload):
    """The body passed DOWNLOAD_MAXSIZE while it was being received."""

    def __init__(self, received: int, limit: int):
        super().__init__(fail=True)
        self.received, self.limit = received, limit

    def __str__(self) -> str:
        return (f"received {self.received} bytes, more than DOWNLOAD_MAXSIZE ({self.limit} B), "
                "without a Content-Length announcing it")


class BodySizeLimit:
    """Count each response's bytes as they arrive; stop at the request's max size."""

    def __init__(self, maxsize: int):
        if maxsize <= 0:
            raise NotConfigured
        self.maxsize = maxsize

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BodySizeLimit:
        ext = cls(crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        crawler.signals.connect(ext.bytes_received, signal=signals.bytes_received)
        return ext

    def bytes_received(self, data: bytes, request: Request, spider: object = None) -> None:
        meta = request.meta
        received = meta.get("lg_received", 0) + len(data)
        meta["lg_received"] = received
        limit = meta.get("download_maxsize", self.maxsize)
        if limit and received > limit:
            raise BodyTooLarge(received, limit)
