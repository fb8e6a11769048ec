"""What the extractor returns: plain records, no Scrapy and no parser objects inside."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Link(NamedTuple):
    """One link instance on a page, in document order.

    The column meanings are those of ``linkgraph.storage.schemas.LINKS_SCHEMA``; the page-level
    columns (src_url, depth, crawl_id, ...) are added by whoever writes the row.
    """

    dst_url: str
    dst_host: str | None
    anchor_text: str | None
    rel: tuple[str, ...]
    nofollow: bool
    sponsored: bool
    ugc: bool
    tag: str
    link_type: str
    hreflang: str | None
    position: str | None
    ordinal: int


@dataclass(slots=True)
class PageLinks:
    """Everything the extractor learns from one HTML document."""

    url: str
    base_url: str
    title: str | None = None
    canonical_url: str | None = None
    meta_robots: str | None = None
    x_robots_tag: str | None = None
    #: Links on this page carry no authority: meta robots or X-Robots-Tag nofollow.
    page_nofollow: bool = False
    page_noindex: bool = False
    links: list[Link] = field(default_factory=list)
    #: Hrefs that could not be parsed as URLs (``http://[::1``), left out of ``links``.
    skipped: int = 0
    #: Start tags nested beyond the depth cap, left out before parsing (their content
    #: kept one level up; see ``linkgraph/extract/_nesting.py``); 0 when none were.
    nesting_capped: int = 0
