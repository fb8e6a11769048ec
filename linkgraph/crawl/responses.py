"""From an HTTP response to its page record: what every response becomes, wherever it
came from (the crawl's own download, or a response record of a web archive).

The spider and ``linkgraph warc`` both turn a :class:`scrapy.http.Response` into a
:class:`PageItem` here, so a page archived in a WARC file gives the rows the crawl
gave when it fetched it: the same media type rule, the same redirect edge, the same
extractor (``<base>``, charset, X-Robots-Tag). What to fetch next stays the spider's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

from scrapy.http import HtmlResponse, Response
from w3lib.url import safe_url_string

from linkgraph.settings import LINKGRAPH_MAX_NESTING
from linkgraph.crawl.items import PageItem
from linkgraph.extract import extract_links
from linkgraph.extract.records import Link, PageLinks
from linkgraph.urls import url_host

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def media_type(response: Response) -> str | None:
    """The lower-cased media type of ``response`` without its parameters."""
    raw = response.headers.get(b"Content-Type")
    if not raw:
        return None
    return raw.split(b";", 1)[0].strip().lower().decode("latin-1") or None


def redirect_link(location: str) -> Link:
    """The ``redirect`` edge of a 3xx response (from the response URL to Location)."""
    return Link(location, url_host(location), None, (), False, False, False,
                "http", "redirect", None, None, 0)


@dataclass
class ReadResponse:
    """A response read: its page record, and the extractor's view of it when HTML."""

    item: PageItem
    #: The extracted document (None: not HTML, or a redirect).
    page: PageLinks | None = None

    @property
    def is_redirect(self) -> bool:
        return self.item.redirect_to is not None


def read_response(response: Response, depth: int | None, fetched_at: datetime, *,
                  elapsed: float | None = None,
                  max_nesting: int | None = LINKGRAPH_MAX_NESTING) -> ReadResponse:
    """The page record of ``response``: status, media type, size; a 3xx with a Location
    becomes one ``redirect`` link to the resolved target; an HTML body goes through the
    extractor (every link, not yet cut to the per-page limit: see :func:`truncate`)."""
    item = PageItem(url=response.url, depth=depth, fetched_at=fetched_at,  # type: ignore[arg-type]
                    status=response.status, content_type=media_type(response),
                    content_length=len(response.body), elapsed=elapsed)
    if 300 <= response.status < 400 and b"Location" in response.headers:
        location = response.headers[b"Location"].decode("latin-1").strip()
        target = safe_url_string(urljoin(response.url, location)).split("#", 1)[0]
        item.redirect_to = target
        item.links = [redirect_link(target)]
        return ReadResponse(item)
    if item.content_type in HTML_TYPES or (
            item.content_type is None and isinstance(response, HtmlResponse)):
        # Headers itself, not to_unicode_dict(): that joins repeated X-Robots-Tag lines
        # and would change which user agent a directive applies to.
        page = extract_links(response.url, response.text, response.headers, max_nesting)
        item.nesting_capped = page.nesting_capped or None
        item.title, item.canonical_url = page.title, page.canonical_url
        item.meta_robots, item.x_robots_tag = page.meta_robots, page.x_robots_tag
        item.links = page.links
        return ReadResponse(item, page)
    return ReadResponse(item)


def truncate(item: PageItem, limit: int | None) -> int:
    """Keep at most ``limit`` links on ``item``; return how many were dropped (also
    recorded on the row as ``links_truncated``)."""
    if limit is None or len(item.links) <= limit:
        return 0
    dropped = len(item.links) - limit
    item.links = item.links[:limit]
    item.links_truncated = dropped
    return dropped
