"""The item pipeline: PageItems in, ``nodes``, ``links`` and ``pages`` Parquet parts out.

Items are buffered as they come and written as one part of each dataset per batch
(every ``LINKGRAPH_FLUSH_PAGES`` pages or ``LINKGRAPH_FLUSH_SECONDS`` seconds, and at
the end). Column building is done per batch, not per link: the links of all pages are
transposed with one ``zip``, and per-page values are repeated, which keeps the
pipeline's share of a crawl's CPU small.

The pipeline owns the crawl's :class:`~linkgraph.storage.node_index.NodeIndex`: every page URL
and link target gets a dense node id when its batch is built, and the batch's nodes
part lists the URLs that got a new one. On opening a resumed crawl the index is rebuilt
from the committed nodes parts, so ids carry on where the last commit left them.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scrapy.exceptions import CloseSpider, NotConfigured

from linkgraph.errors import UsageError
from linkgraph.crawl.items import PageItem
from linkgraph.urls import registered_domain, url_host
from linkgraph.storage.crawl_dir import CrawlDir
from linkgraph.storage.node_index import NodeIndex
from linkgraph.storage.parquet_writer import table_from_columns
from linkgraph.storage.part_names import part_name
from linkgraph.storage.schemas import LINKS_SCHEMA, NODES_SCHEMA, PAGES_SCHEMA, TIMESTAMP
from linkgraph.storage.url_key import url_key

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


def build_batch(items: list[PageItem], crawl_id: str,
                nodes: NodeIndex) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Turn buffered items into a (nodes, links, pages) triple of Arrow tables.

    Link-level columns come from one transpose of all Link tuples; page-level columns
    are built once per page and repeated with ``take``; domains are looked up once per
    distinct host. This keeps the per-link Python work to the tuple transpose and the
    64-bit key.

    Node ids come from ``nodes`` (which this updates), for the page URLs first, then
    the link targets, in order: the nodes table holds the URLs that got a new id, in
    ascending id order, with the host and domain already computed where the URL was
    first seen.
    """
    links = [link for item in items for link in item.links]
    counts = [len(item.links) for item in items]
    page_of_link = pa.array(np.repeat(np.arange(len(items), dtype=np.int32), counts))
    columns: dict[str, Any] = dict(zip(_LINK_FIELDS, map(list, zip(*links)))) if links \
        else {name: [] for name in _LINK_FIELDS}
    urls = [item.url for item in items]
    page_urls = pa.array(urls, pa.string())
    page_hosts = pa.array([url_host(u) for u in urls], pa.string())
    page_domains = _domains(page_hosts)
    page_keys = np.array([url_key(u) for u in urls], dtype=np.int64)
    dst_url = pa.array(columns["dst_url"], pa.string())
    dst_host = pa.array(columns["dst_host"], pa.string())
    dst_domain = _domains(dst_host)
    src_domain = page_domains.take(page_of_link)
    found_in: list[str] = []
    for item, n in zip(items, counts):
        found_in += item.found_in if item.found_in is not None else ["raw"] * n
    key_of = {u: url_key(u) for u in set(columns["dst_url"])}
    dst_keys = np.fromiter((key_of[u] for u in columns["dst_url"]), np.int64, len(links))
    all_keys = np.concatenate([page_keys, dst_keys])
    ids, is_new = nodes.ids_for(all_keys)
    page_ids, dst_ids = pa.array(ids[:len(items)]), pa.array(ids[len(items):])
    new = np.flatnonzero(is_new)
    # Page URLs were looked up first, so their new ids come before the link targets':
    # concatenating the two takes keeps the nodes rows in ascending id order.
    new_pages = pa.array(new[new < len(items)])
    new_links = pa.array(new[new >= len(items)] - len(items))
    node_table = table_from_columns({
        "node_id": ids[new],
        "url_key": all_keys[new],
        "url": pa.concat_arrays([page_urls.take(new_pages), dst_url.take(new_links)]),
        "host": pa.concat_arrays([page_hosts.take(new_pages), dst_host.take(new_links)]),
        "domain": pa.concat_arrays([page_domains.take(new_pages), dst_domain.take(new_links)]),
    }, NODES_SCHEMA)
    columns.update(
        crawl_id=pa.array([crawl_id] * len(links), pa.string()),
        src_url=page_urls.take(page_of_link),
        src_key=pa.array(page_keys).take(page_of_link),
        src_id=page_ids.take(page_of_link),
        src_host=page_hosts.take(page_of_link),
        src_domain=src_domain,
        dst_url=dst_url,
        dst_host=dst_host,
        dst_key=dst_keys,
        dst_id=dst_ids,
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
        "node_id": page_ids,
        "host": page_hosts,
        "domain": page_domains,
        "links_count": counts,
    }
    for name in ("status", "content_type", "content_length", "title", "canonical_url",
                 "meta_robots", "x_robots_tag", "redirect_to", "depth", "rendered",
                 "render_time", "fetched_at", "elapsed", "error", "links_truncated",
                 "not_followed"):
        pages[name] = [getattr(i, name) for i in items]
    return (node_table, table_from_columns(columns, LINKS_SCHEMA),
            table_from_columns(pages, PAGES_SCHEMA))


class ParquetPipeline:
    """Write every PageItem to the crawl folder of the spider (``spider.crawl_dir``)."""

    def __init__(self, crawler: Crawler):
        from linkgraph.crawl.config import crawl_config

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
        self.nodes = NodeIndex()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ParquetPipeline:
        return cls(crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        spider = spider or self.crawler.spider
        self.crawl_dir = getattr(spider, "crawl_dir", None)
        if self.crawl_dir is None:
            return
        try:
            self._load_nodes()
        except UsageError as exc:
            # Scrapy closes the crawl before any request; the CLI prints this one line.
            logger.error("%s", exc)
            self.stats.set_value("linkgraph/setup_error", str(exc))
            self.crawl_dir = None
            raise CloseSpider("setup_error") from None
        if self.nodes.size:
            logger.info("Node ids continue from %d", self.nodes.size)

    def _load_nodes(self) -> None:
        """Rebuild the node index from the committed nodes parts (empty for a new crawl)."""
        keys, ids = self.crawl_dir.read_nodes()
        try:
            self.nodes.load(keys, ids)
        except ValueError as exc:
            raise UsageError(f"{self.crawl_dir.path}: nodes/ cannot be continued ({exc}); "
                             "check it with linkgraph verify, or pass --fresh to crawl "
                             "again") from None

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, PageItem):
            return item
        self.buffer.append(item)
        if (len(self.buffer) >= self.flush_pages
                or time.monotonic() - self.last_flush >= self.flush_seconds):
            self.flush()
        return item

    def flush(self) -> None:
        """Commit the buffered pages as one batch: nodes part, links part, pages part last."""
        self.last_flush = time.monotonic()
        if not self.buffer or self.crawl_dir is None:
            return
        items, self.buffer = self.buffer, []
        name = part_name(self.crawl_dir.session, self.batch)
        # Counted before writing: a failed batch's name is not used again.
        self.batch += 1
        try:
            nodes, links, pages = build_batch(items, self.crawl_dir.crawl_id, self.nodes)
            self.crawl_dir.nodes.write(name, nodes)
            self.crawl_dir.links.write(name, links)
            self.crawl_dir.pages.write(name, pages)
        except Exception:
            # The batch is lost (as it was before node ids), but the ids it took must be
            # given again, or the next nodes part would leave a gap: drop what this
            # batch wrote in part and rebuild the index from what is committed.
            self.crawl_dir.recover()
            self._load_nodes()
            raise
        self.stats.inc_value("linkgraph/parts_written")
        self.stats.inc_value("linkgraph/rows/nodes", nodes.num_rows)
        self.stats.inc_value("linkgraph/rows/links", links.num_rows)
        self.stats.inc_value("linkgraph/rows/pages", pages.num_rows)
        logger.debug("Committed %s: %d pages, %d links, %d new nodes", name, pages.num_rows,
                     links.num_rows, nodes.num_rows)

    def close_spider(self, spider: Spider | None = None) -> None:
        self.flush()
