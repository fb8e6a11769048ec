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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scrapy.exceptions import NotConfigured

from linkgraph.items import PageItem
from linkgraph.urls import registered_domain, url_host
from pipelines.crawl_dir import CrawlDir, part_name
from pipelines.parquet_writer import table_from_columns
from pipelines.schemas import LINKS_SCHEMA, PAGES_SCHEMA, TIMESTAMP
from pipelines.url_key import url_key

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_LINK_FIELDS = ("dst_url", "dst_host", "anchor_text", "rel", "nofollow", "sponsored",
                "ugc", "tag", "link_type", "hreflang", "position", "ordinal")


def _per_link(values: list[Any], type_: pa.DataType, page_of_link: pa.Array) -> pa.Array:
    """Repeat per-page ``values`` for each link of the page (Arrow ``take``, not Python)."""
    return pa.array(values, type=type_).take(page_of_link)


def _domains(hosts: pa.Array) -> pa.Array:
    """Registered domain of each host, computed once per distinct host."""
    encoded = pc.dictionary_encode(hosts)
    domains = pa.array([registered_domain(h) for h in encoded.dictionary.to_pylist()], pa.string())
    return domains.take(encoded.indices)


def build_batch(items: list[PageItem], crawl_id: str) -> tuple[pa.Table, pa.Table]:
    """Turn buffered items into a (links, pages) pair of Arrow tables.

    Link-level columns come from one transpose of all Link tuples; page-level columns
    are built once per page and repeated with ``take``; domains are looked up once per
    distinct host. This keeps the per-link Python work to the tuple transpose and the
    64-bit key.
    """
    links = [link for item in items for link in item.links]
    counts = [len(item.links) for item in items]
    page_of_link = pa.array(np.repeat(np.arange(len(items), dtype=np.int32), counts))
    columns: dict[str, Any] = dict(zip(_LINK_FIELDS, map(list, zip(*links)))) if links \
        else {name: [] for name in _LINK_FIELDS}
    page_urls = [item.url for item in items]
    page_hosts = pa.array([url_host(u) for u in page_urls], pa.string())
    page_domains = _domains(page_hosts)
    page_keys = [url_key(u) for u in page_urls]
    dst_host = pa.array(columns["dst_host"], pa.string())
    dst_domain = _domains(dst_host)
    src_domain = page_domains.take(page_of_link)
    found_in: list[str] = []
    for item, n in zip(items, counts):
        found_in += item.found_in if item.found_in is not None else ["raw"] * n
    dst_keys = {u: url_key(u) for u in set(columns["dst_url"])}
    columns.update(
        crawl_id=pa.array([crawl_id] * len(links), pa.string()),
        src_url=_per_link(page_urls, pa.string(), page_of_link),
        src_key=_per_link(page_keys, pa.int64(), page_of_link),
        src_host=page_hosts.take(page_of_link),
        src_domain=src_domain,
        dst_host=dst_host,
        dst_key=[dst_keys[u] for u in columns["dst_url"]],
        dst_domain=dst_domain,
        internal=pc.fill_null(pc.equal(src_domain, dst_domain), False),
        depth=_per_link([item.depth for item in items], pa.int32(), page_of_link),
        found_in=found_in,
        fetched_at=_per_link([item.fetched_at for item in items], TIMESTAMP, page_of_link),
    )
    pages: dict[str, Any] = {
        "crawl_id": [crawl_id] * len(items),
        "url": page_urls,
        "url_key": page_keys,
        "host": page_hosts,
        "domain": page_domains,
        "links_count": counts,
    }
    for name in ("status", "content_type", "content_length", "title", "canonical_url",
                 "meta_robots", "x_robots_tag", "redirect_to", "depth", "rendered",
                 "render_time", "fetched_at", "elapsed", "error", "links_truncated",
                 "not_followed"):
        pages[name] = [getattr(i, name) for i in items]
    return table_from_columns(columns, LINKS_SCHEMA), table_from_columns(pages, PAGES_SCHEMA)


class ParquetPipeline:
    """Write every PageItem to the crawl folder of the spider (``spider.crawl_dir``)."""

    def __init__(self, crawler: Crawler):
        from linkgraph.config import crawl_config
        from linkgraph.errors import UsageError

        try:
            config = crawl_config(crawler)
        except UsageError:
            raise NotConfigured("bad LINKGRAPH_* settings (the spider reports them)") from None
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
