"""Archive a crawl's responses as WARC (``linkgraph crawl --warc DIR``).

Every response to a page request (every redirect hop too) is written as a
``request`` record and a ``response`` record (warcio's writer, one gzip member per
record) into ``DIR/linkgraph-<crawl id>-<session>-<n>.warc.gz``, each file starting with
a ``warcinfo`` record and rotated after ``LINKGRAPH_WARC_ROTATE_MB``. ``linkgraph warc
DIR -o OUT`` reads it back into the same pages and links.

What the archive holds is the response as Scrapy handed it to the spider: the body
after Scrapy undid its content coding (so ``Content-Encoding`` and
``Transfer-Encoding`` are dropped and ``Content-Length`` is the body's length, and the
payload digest is that body's). Failed fetches (DNS, timeouts, robots.txt refusals)
have no response to archive; robots.txt itself and the browser's rendering of a page
are not archived.
"""

from __future__ import annotations

import io
import logging
import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured

from linkgraph import __version__

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

_DROPPED = {b"content-encoding", b"transfer-encoding", b"content-length"}


class WarcWriter:
    """Extension: write page responses to rotating WARC files."""

    def __init__(self, crawler: Crawler, folder: str, rotate_bytes: int):
        self.crawler = crawler
        self.folder = folder
        self.rotate_bytes = rotate_bytes
        self.file = None
        self.writer = None
        self.sequence = 0
        self.prefix = "linkgraph"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcWriter:
        folder = crawler.settings.get("LINKGRAPH_WARC_DIR")
        if not folder:
            raise NotConfigured("LINKGRAPH_WARC_DIR is not set")
        rotate = crawler.settings.getfloat("LINKGRAPH_WARC_ROTATE_MB")
        if not rotate > 0:
            raise NotConfigured("LINKGRAPH_WARC_ROTATE_MB must be > 0")
        extension = cls(crawler, str(folder), int(rotate * 1024 * 1024))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.response_received, signal=signals.response_received)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        crawl_dir = getattr(spider, "crawl_dir", None)
        if crawl_dir is not None:
            self.prefix = f"linkgraph-{crawl_dir.crawl_id}-{crawl_dir.session:03d}"
        os.makedirs(self.folder, exist_ok=True)

    def _open(self) -> None:
        from warcio.warcwriter import WARCWriter

        while True:
            name = f"{self.prefix}-{self.sequence:05d}.warc.gz"
            self.sequence += 1
            path = os.path.join(self.folder, name)
            if not os.path.exists(path):  # a resumed session never overwrites
                break
        self.file = open(path, "xb")
        self.writer = WARCWriter(self.file, gzip=True)
        info = self.writer.create_warcinfo_record(name, {
            "software": f"linkgraph/{__version__}",
            "format": "WARC File Format 1.1",
            "description": "responses of a linkgraph crawl, as handed to the spider",
        })
        self.writer.write_record(info)
        logger.info("Writing WARC %s", path)

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        # Page requests only (they carry the spider's depth); not robots.txt, not the
        # browser's rendering of a page already archived raw.
        if "lg_depth" not in request.meta or request.meta.get("playwright"):
            return
        from warcio.statusandheaders import StatusAndHeaders

        if self.file is None or self.file.tell() >= self.rotate_bytes:
            self.close()
            self._open()
        date = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        request_headers = [(k.decode("latin-1"), v.decode("latin-1"))
                           for k, values in request.headers.items() for v in values]
        path = request.url.split("://", 1)[-1].partition("/")[2]
        self.writer.write_record(self.writer.create_warc_record(
            request.url, "request", warc_headers_dict={"WARC-Date": date},
            http_headers=StatusAndHeaders(f"{request.method} /{path} HTTP/1.1",
                                          request_headers, is_http_request=True)))
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, values in response.headers.items() for v in values
                   if k.lower() not in _DROPPED]
        headers.append(("Content-Length", str(len(response.body))))
        reason = _reason(response.status)
        self.writer.write_record(self.writer.create_warc_record(
            response.url, "response", payload=io.BytesIO(response.body),
            # The length given: warcio would otherwise copy the body to a temporary file.
            length=len(response.body), warc_headers_dict={"WARC-Date": date},
            http_headers=StatusAndHeaders(f"{response.status} {reason}", headers,
                                          protocol="HTTP/1.1")))
        self.crawler.stats.inc_value("linkgraph/warc/records", 2)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def spider_closed(self, spider: Spider) -> None:
        self.close()


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
