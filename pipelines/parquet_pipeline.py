"""The item pipeline: PageItems in, ``links`` and ``pages`` Parquet parts out.

Items are buffered as they come and written as one part pair per batch (every
``LINKGRAPH_FLUSH_PAGES`` pages or ``LINKGRAPH_FLUSH_SECONDS`` seconds, and at the
end). Column building is done per batch, not per link: the links of all pages are
transposed with one ``zip``, and per-page values are repeated, which keeps the
pipeline's share of a crawl's CPU small.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from linkgraph.items import PageItem
from linkgraph.urls import registered_domain, url_host
from pipelines.crawl_dir import CrawlDir, part_name
from pipelines.parquet_writer import table_from_columns
from pipelines.schemas import LINKS_SCHEMA, PAGES_SCHEMA
from pipelines.url_key import url_key

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_LINK_FIELDS = ("dst_url", "dst_host", "anchor_text", "rel", "nofollow", "sponsored",
                "ugc", "tag", "link_type", "hreflang", "position", "ordinal")


def build_batch(items: list[PageItem], crawl_id: str) -> tuple[Any, Any]:
    """Turn buffered items into a (links, pages) pair of Arrow tables."""
    links = [link for item in items for link in item.links]
    columns: dict[str, list[Any]] = dict(zip(_LINK_FIELDS, map(list, zip(*links)))) if links \
        else {name: [] for name in _LINK_FIELDS}
    src_url: list[str] = []
    src_host: list[str | None] = []
    src_domain: list[str | None] = []
    depth: list[int] = []
    fetched_at: list[Any] = []
    found_in: list[str] = []
    page_hosts = []
    for item in items:
        n = len(item.links)
        host = url_host(item.url)
        page_hosts.append(host)
        if not n:
            continue
        src_url += [item.url] * n
        src_host += [host] * n
        src_domain += [registered_domain(host)] * n
        depth += [item.depth] * n
        fetched_at += [item.fetched_at] * n
        found_in += item.found_in if item.found_in is not None else ["raw"] * n
    dst_domain = [registered_domain(h) for h in columns["dst_host"]]
    keys = {u: url_key(u) for u in set(src_url)}
    columns.update(
        crawl_id=[crawl_id] * len(links),
        src_url=src_url,
        src_key=[keys[u] for u in src_url],
        src_host=src_host,
        src_domain=src_domain,
        dst_key=[url_key(u) for u in columns["dst_url"]],
        dst_domain=dst_domain,
        internal=[s is not None and s == d for s, d in zip(src_domain, dst_domain)],
        depth=depth,
        found_in=found_in,
        fetched_at=fetched_at,
    )
    pages = {
        "crawl_id": [crawl_id] * len(items),
        "url": [i.url for i in items],
        "url_key": [url_key(i.url) for i in items],
        "host": page_hosts,
        "domain": [registered_domain(h) for h in page_hosts],
        "links_count": [len(i.links) for i in items],
    }
    for name in ("status", "content_type", "content_length", "title", "canonical_url",
                 "meta_robots", "x_robots_tag", "redirect_to", "depth", "rendered",
                 "render_time", "fetched_at", "elapsed", "error"):
        pages[name] = [getattr(i, name) for i in items]
    return table_from_columns(columns, LINKS_SCHEMA), table_from_columns(pages, PAGES_SCHEMA)


class ParquetPipeline:
    """Write every PageItem to the crawl folder of the spider (``spider.crawl_dir``)."""

    def __init__(self, crawler: Crawler):
        from linkgraph.config import crawl_config

        config = crawl_config(crawler)
        self.crawler = crawler
        self.stats = crawler.stats
        self.flush_pages = config.flush_pages
        self.flush_seconds = config.flush_seconds
        self.buffer: list[PageItem] = []
        self.last_flush = time.monotonic()
        self.batch = 0
        self.crawl_dir: CrawlDir | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ParquetPipeline:
        return cls(crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        spider = spider or self.crawler.spider
        self.crawl_dir = getattr(spider, "crawl_dir", None)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, PageItem):
            return item
        self.buffer.append(item)
        if (len(self.buffer) >= self.flush_pages
                or time.monotonic() - self.last_flush >= self.flush_seconds):
            self.flush()
        return item

    def flush(self) -> None:
        """Commit the buffered pages as one part pair (links first, pages last)."""
        self.last_flush = time.monotonic()
        if not self.buffer or self.crawl_dir is None:
            return
        items, self.buffer = self.buffer, []
        links, pages = build_batch(items, self.crawl_dir.crawl_id)
        name = part_name(self.crawl_dir.session, self.batch)
        self.crawl_dir.links.write(name, links)
        self.crawl_dir.pages.write(name, pages)
        self.batch += 1
        self.stats.inc_value("linkgraph/parts_written")
        self.stats.inc_value("linkgraph/rows/links", links.num_rows)
        self.stats.inc_value("linkgraph/rows/pages", pages.num_rows)
        logger.debug("Committed %s: %d pages, %d links", name, pages.num_rows, links.num_rows)

    def close_spider(self, spider: Spider | None = None) -> None:
        self.flush()
