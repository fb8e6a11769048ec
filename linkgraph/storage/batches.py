"""A batch of page records as the three tables a crawl folder commits: ``nodes``,
``links`` and ``pages``, each cast to its schema (``linkgraph/storage/schemas.py``).

Column building is done per batch, not per link: the links of all pages are
transposed with one ``zip``, and per-page values are repeated, which keeps this
step's share of a crawl's CPU small. A batch's sitemap rows, when it has any, make a
fourth table (:func:`build_sitemap_rows`). Every writer of a crawl folder (the crawl's item
pipeline, ``linkgraph warc``) builds its batches here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.storage.node_index import NodeIndex
from linkgraph.storage.parquet_writer import table_from_columns
from linkgraph.storage.schemas import (LINKS_SCHEMA, NODES_SCHEMA, PAGES_SCHEMA,
                                       SITEMAPS_SCHEMA, TIMESTAMP)
from linkgraph.storage.url_key import url_key
from linkgraph.urls import registered_domain, url_host

if TYPE_CHECKING:
    from linkgraph.crawl.items import PageItem, SitemapItem

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
    """Turn buffered items into a (nodes, links, pages) triple of Arrow tables:
    :func:`build_rows`, then :func:`assign_ids`."""
    return assign_ids(*build_rows(items, crawl_id), nodes)


def build_rows(items: list[PageItem], crawl_id: str) -> tuple[pa.Table, pa.Table]:
    """The (links, pages) tables of ``items`` with every column but the node ids
    (``src_id``, ``dst_id``, ``node_id`` are 0 until :func:`assign_ids`).

    Link-level columns come from one transpose of all Link tuples; page-level columns
    are built once per page and repeated with ``take``; domains are looked up once per
    distinct host. This keeps the per-link Python work to the tuple transpose and the
    64-bit key. It needs no state, so it can run in another process than the one that
    gives the ids (``linkgraph warc`` builds rows in its reading processes).
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
    no_ids = np.zeros(len(links), np.int32)
    columns.update(
        crawl_id=pa.array([crawl_id] * len(links), pa.string()),
        src_url=page_urls.take(page_of_link),
        src_key=pa.array(page_keys).take(page_of_link),
        src_id=no_ids,
        src_host=page_hosts.take(page_of_link),
        src_domain=src_domain,
        dst_url=dst_url,
        dst_host=dst_host,
        dst_key=dst_keys,
        dst_id=no_ids,
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
        "node_id": np.zeros(len(items), np.int32),
        "host": page_hosts,
        "domain": page_domains,
        "links_count": counts,
    }
    for name in ("status", "content_type", "content_length", "title", "canonical_url",
                 "meta_robots", "x_robots_tag", "redirect_to", "depth", "rendered",
                 "render_time", "fetched_at", "elapsed", "error", "links_truncated",
                 "not_followed", "blocked_requests", "nesting_capped"):
        pages[name] = [getattr(i, name) for i in items]
    return table_from_columns(columns, LINKS_SCHEMA), table_from_columns(pages, PAGES_SCHEMA)


def _np(column: pa.ChunkedArray) -> np.ndarray:
    return column.to_numpy()


def assign_ids(links: pa.Table, pages: pa.Table,
               nodes: NodeIndex) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Give every page URL and link target of a batch its node id from ``nodes``
    (which this updates); return the (nodes, links, pages) triple to commit.

    Ids are given to the page URLs first, then the link targets, in row order: the
    nodes table holds the URLs that got a new id, in ascending id order, with the host
    and domain of the row where the URL was first seen.
    """
    page_keys, dst_keys = _np(pages.column("url_key")), _np(links.column("dst_key"))
    n_pages = len(page_keys)
    all_keys = np.concatenate([page_keys, dst_keys])
    ids, is_new = nodes.ids_for(all_keys)
    page_ids, dst_ids = pa.array(ids[:n_pages]), pa.array(ids[n_pages:])
    new = np.flatnonzero(is_new)
    # Page URLs were looked up first, so their new ids come before the link targets':
    # concatenating the two takes keeps the nodes rows in ascending id order.
    new_pages = pa.array(new[new < n_pages])
    new_links = pa.array(new[new >= n_pages] - n_pages)

    def both(page_column: str, link_column: str) -> pa.Array:
        return pa.concat_arrays([pages.column(page_column).combine_chunks().take(new_pages),
                                 links.column(link_column).combine_chunks().take(new_links)])

    node_table = table_from_columns({
        "node_id": ids[new],
        "url_key": all_keys[new],
        "url": both("url", "dst_url"),
        "host": both("host", "dst_host"),
        "domain": both("domain", "dst_domain"),
    }, NODES_SCHEMA)
    # A link's source is a page of the same batch: its id is that page's.
    page_of_link = pc.index_in(links.column("src_key"), value_set=pages.column("url_key"))
    links = links.set_column(links.schema.get_field_index("src_id"), "src_id",
                             page_ids.take(page_of_link))
    links = links.set_column(links.schema.get_field_index("dst_id"), "dst_id", dst_ids)
    pages = pages.set_column(pages.schema.get_field_index("node_id"), "node_id", page_ids)
    return node_table, links, pages


def build_sitemap_rows(items: list[SitemapItem], crawl_id: str) -> pa.Table:
    """The ``sitemaps`` table of ``items``: one row per URL each sitemap lists."""
    from linkgraph.crawl.sitemaps import parse_lastmod

    entries = [(item, entry) for item in items for entry in item.entries]
    urls = [entry.url for _, entry in entries]
    hosts = pa.array([url_host(u) for u in urls], pa.string())
    lastmods = [entry.lastmod for _, entry in entries]
    return table_from_columns({
        "crawl_id": [crawl_id] * len(entries),
        "url": urls,
        "url_key": np.array([url_key(u) for u in urls], dtype=np.int64),
        "host": hosts,
        "domain": _domains(hosts),
        "sitemap_url": [item.sitemap_url for item, _ in entries],
        "lastmod": lastmods,
        "lastmod_at": [parse_lastmod(text) for text in lastmods],
        "fetched_at": [item.fetched_at for item, _ in entries],
    }, SITEMAPS_SCHEMA)
