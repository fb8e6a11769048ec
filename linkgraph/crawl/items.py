"""The one item a crawl yields per response: the page row with its links inside.

One item per page (not per link) keeps Scrapy's per-item cost off the per-link path.
The pipeline turns it into one ``pages`` row and ``len(links)`` ``links`` rows; the
columns it adds (keys, domains, crawl_id) are derived there, once per batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from linkgraph.crawl.sitemaps import SitemapEntry
from linkgraph.extract.records import Link


@dataclass(slots=True)
class PageItem:
    url: str
    depth: int
    fetched_at: datetime
    status: int | None = None
    content_type: str | None = None
    content_length: int | None = None
    title: str | None = None
    canonical_url: str | None = None
    meta_robots: str | None = None
    x_robots_tag: str | None = None
    redirect_to: str | None = None
    elapsed: float | None = None
    error: str | None = None
    rendered: bool = False
    render_time: float | None = None
    links: list[Link] = field(default_factory=list)
    #: ``found_in`` of each link (parallel to ``links``); None means all "raw".
    found_in: list[str] | None = None
    #: Links dropped beyond LINKGRAPH_MAX_LINKS_PER_PAGE (None when none were).
    links_truncated: int | None = None
    #: ``reason=count,...`` of link targets that a limit kept from being fetched.
    not_followed: str | None = None
    #: Browser requests of a rendered page that the private-address guard refused.
    blocked_requests: int | None = None
    #: Start tags nested beyond LINKGRAPH_MAX_NESTING, left out before parsing.
    nesting_capped: int | None = None
    #: (depth, stream id, epoch) of the frontier entry in a distributed crawl: the
    #: pipeline acknowledges it once the row is committed. Not a column.
    entry: tuple[int, str, str | None] | None = None


@dataclass(slots=True)
class SitemapItem:
    """The URLs one sitemap (a urlset) lists: ``len(entries)`` ``sitemaps`` rows.

    One item per sitemap, so a sitemap's rows are committed in one batch: all or none.
    """

    #: The sitemap's URL as requested (before any redirect): what resuming matches.
    sitemap_url: str
    fetched_at: datetime
    entries: list[SitemapEntry] = field(default_factory=list)
