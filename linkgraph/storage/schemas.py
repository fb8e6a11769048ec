"""The Parquet schemas of a crawl's datasets, as code.

Every writer casts its batches to these schemas (nothing is inferred), and every
file carries ``linkgraph.schema_version`` and ``linkgraph.dataset`` in its metadata so
that a reader (and ``linkgraph verify``) knows what it holds. Each column's meaning
lives here, in its field metadata, and the README's column tables are checked against
it by the tests.

Bump :data:`SCHEMA_VERSION` when a column changes meaning or type; adding a nullable
column at the end is compatible and needs no bump.
"""

from __future__ import annotations

import pyarrow as pa

#: 2: node ids (links.src_id/dst_id, pages.node_id, the nodes dataset).
SCHEMA_VERSION = 2

#: Timestamps are UTC, millisecond precision: what every engine reads without surprises.
TIMESTAMP = pa.timestamp("ms", tz="UTC")


def _field(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


def _schema(dataset: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(
        fields,
        metadata={
            "linkgraph.dataset": dataset,
            "linkgraph.schema_version": str(SCHEMA_VERSION),
        },
    )


LINKS_SCHEMA = _schema(
    "links",
    [
        _field("crawl_id", pa.string(), "Id of the crawl that wrote the row.", False),
        _field("src_url", pa.string(), "URL of the page the link is on (after redirects: the URL that answered).", False),
        _field("src_key", pa.int64(), "64-bit key of src_url (see linkgraph/storage/url_key.py).", False),
        _field("src_id", pa.int32(), "Node id of src_url: nodes.node_id of the same crawl folder.", False),
        _field("src_host", pa.string(), "Lower-cased host of src_url."),
        _field("src_domain", pa.string(), "Registered domain of src_host (Public Suffix List; an IP or suffix-less host is its own domain)."),
        _field("dst_url", pa.string(), "Absolute target: resolved against <base href> or the page URL, fragment removed, unsafe characters percent-encoded (w3lib safe_url_string); other schemes (mailto:, tel:, javascript:) kept as written.", False),
        _field("dst_key", pa.int64(), "64-bit key of dst_url.", False),
        _field("dst_id", pa.int32(), "Node id of dst_url: nodes.node_id of the same crawl folder.", False),
        _field("dst_host", pa.string(), "Lower-cased host of dst_url; null for schemes without a host."),
        _field("dst_domain", pa.string(), "Registered domain of dst_host."),
        _field("internal", pa.bool_(), "True when src_domain equals dst_domain.", False),
        _field("anchor_text", pa.string(), "Link text, whitespace collapsed; for an image link, the image's alt text; for other tags, their title attribute if any."),
        # Named as Parquet names a list's values: the type a reader of the files sees.
        _field("rel", pa.list_(pa.field("element", pa.string())), "The rel attribute as lower-cased tokens, in document order (empty list when absent).", False),
        _field("nofollow", pa.bool_(), "rel has nofollow, or the page is nofollow (meta robots or X-Robots-Tag).", False),
        _field("sponsored", pa.bool_(), "rel has sponsored.", False),
        _field("ugc", pa.bool_(), "rel has ugc.", False),
        _field("tag", pa.string(), "Element that carries the link: a, area, link, iframe, frame, meta (refresh), or http (a redirect).", False),
        _field("link_type", pa.string(), "anchor, canonical, alternate, stylesheet, icon, link (other <link rel>), iframe, meta-refresh or redirect.", False),
        _field("hreflang", pa.string(), "hreflang attribute of the link, if any (alternate language versions)."),
        _field("position", pa.string(), "Nearest enclosing nav, header, footer, aside or main element; null when none."),
        _field("ordinal", pa.int32(), "0-based index of the link among the links of its page, in document order.", False),
        _field("depth", pa.int32(), "Crawl depth of the source page (seeds are 0); null for a page read from a web archive."),
        _field("found_in", pa.string(), "raw (in the HTML as served), rendered (only after JavaScript ran) or both.", False),
        _field("fetched_at", TIMESTAMP, "When the source page was fetched (UTC).", False),
    ],
)

PAGES_SCHEMA = _schema(
    "pages",
    [
        _field("crawl_id", pa.string(), "Id of the crawl that wrote the row.", False),
        _field("url", pa.string(), "URL requested; every redirect hop is a row of its own.", False),
        _field("url_key", pa.int64(), "64-bit key of url (see linkgraph/storage/url_key.py).", False),
        _field("node_id", pa.int32(), "Node id of url: nodes.node_id of the same crawl folder.", False),
        _field("host", pa.string(), "Lower-cased host of url."),
        _field("domain", pa.string(), "Registered domain of host."),
        _field("status", pa.int32(), "HTTP status; null when no response came (see error)."),
        _field("content_type", pa.string(), "Media type from Content-Type, lower-cased, without parameters."),
        _field("content_length", pa.int64(), "Size of the body received, in bytes (after decompression)."),
        _field("title", pa.string(), "<title>, whitespace collapsed."),
        _field("canonical_url", pa.string(), "Absolute URL of <link rel=canonical>, if any."),
        _field("meta_robots", pa.string(), "content of <meta name=robots>, lower-cased."),
        _field("x_robots_tag", pa.string(), "X-Robots-Tag response header, lower-cased."),
        _field("redirect_to", pa.string(), "Absolute Location of a 3xx response."),
        _field("depth", pa.int32(), "Click depth: the fewest followed links from a seed (seeds are 0; a redirect target keeps the depth of the redirecting URL); null for a page read from a web archive."),
        _field("links_count", pa.int32(), "Number of link rows written for this page.", False),
        _field("rendered", pa.bool_(), "True when the page was rendered in a browser.", False),
        _field("render_time", pa.float64(), "Seconds spent rendering, when rendered."),
        _field("fetched_at", TIMESTAMP, "When the response (or the error) arrived (UTC).", False),
        _field("elapsed", pa.float64(), "Seconds from sending the request to the response (download latency)."),
        _field("error", pa.string(), "Why no usable response came: dns, timeout, refused, too_large, robots_txt, private_address, ... with detail after a colon (extract_failed: the response came but its links could not be read; the row has its status, no links); null on success."),
        _field("links_truncated", pa.int32(), "Links of the page dropped beyond LINKGRAPH_MAX_LINKS_PER_PAGE (not in links); null when none were."),
        _field("not_followed", pa.string(), "Link targets of this page that a crawl limit kept from being fetched, as reason=count,... (scheme, url_length, trap_path, trap_query, max_pages_per_host); null when none."),
        _field("blocked_requests", pa.int32(), "Requests the rendering browser made for this page (scripts, fetch/XHR, frames, navigations) that the private-address guard refused; null when the page was not rendered."),
        _field("nesting_capped", pa.int32(), "Start tags nested deeper than LINKGRAPH_MAX_NESTING that were left out before parsing (their content and links kept one level up; on a rendered page the larger count of the HTML as served and the rendered DOM); null when none were."),
    ],
)

NODES_SCHEMA = _schema(
    "nodes",
    [
        _field("node_id", pa.int32(), "Dense id of the URL in this crawl folder: 0..N-1 in order of first sight, each once; meaningless in another folder.", False),
        _field("url_key", pa.int64(), "64-bit key of url (see linkgraph/storage/url_key.py); unique in the folder.", False),
        _field("url", pa.string(), "A page's url or a link's dst_url; written once, in the batch that first saw it.", False),
        _field("host", pa.string(), "Lower-cased host of url; null for schemes without a host."),
        _field("domain", pa.string(), "Registered domain of host."),
    ],
)

SITEMAPS_SCHEMA = _schema(
    "sitemaps",
    [
        _field("crawl_id", pa.string(), "Id of the crawl that wrote the row.", False),
        _field("url", pa.string(), "A URL a sitemap lists (its <loc>), resolved like a link's dst_url; one row per sitemap that lists it.", False),
        _field("url_key", pa.int64(), "64-bit key of url (see linkgraph/storage/url_key.py).", False),
        _field("host", pa.string(), "Lower-cased host of url."),
        _field("domain", pa.string(), "Registered domain of host."),
        _field("sitemap_url", pa.string(), "The sitemap (a urlset) that lists url, as requested: from robots.txt's Sitemap: lines, /sitemap.xml, or a sitemap index.", False),
        _field("lastmod", pa.string(), "<lastmod> of the entry as written; null when absent."),
        _field("lastmod_at", TIMESTAMP, "lastmod read as a W3C Datetime (UTC; a date alone is its midnight); null when absent or not a date."),
        _field("fetched_at", TIMESTAMP, "When the sitemap was fetched (UTC).", False),
    ],
)

SCHEMAS: dict[str, pa.Schema] = {"links": LINKS_SCHEMA, "pages": PAGES_SCHEMA,
                                 "nodes": NODES_SCHEMA, "sitemaps": SITEMAPS_SCHEMA}
#: Datasets a crawl folder may lack (older folders, crawls that read no sitemap): a
#: batch has a part of them only when it has rows for them.
OPTIONAL_DATASETS = frozenset({"sitemaps"})


#: Nullable columns added at the end of a dataset within the current version. A part
#: written before lacks them (a crawl begun with an older linkgraph and resumed): it is
#: still valid (``linkgraph verify``), and compaction writes nulls for them.
LATE_COLUMNS: dict[str, tuple[str, ...]] = {"pages": ("blocked_requests", "nesting_capped")}


def lacks_only_late_columns(dataset: str, got: list[tuple[str, pa.DataType]]) -> bool:
    """Whether a part with columns ``got`` is ``dataset``'s schema without some late columns."""
    want = [(f.name, f.type) for f in SCHEMAS[dataset]]
    late = LATE_COLUMNS.get(dataset, ())
    return (len(got) < len(want) and got == want[:len(got)]
            and all(name in late for name, _ in want[len(got):]))


def add_late_columns(batch: pa.Table, dataset: str) -> pa.Table:
    """``batch`` (a part's row group lacking late columns) with them appended as nulls."""
    for field in list(SCHEMAS[dataset])[batch.num_columns:]:
        batch = batch.append_column(field, pa.nulls(batch.num_rows, field.type))
    return batch


#: Columns each dataset gained in version 2; version 1 had no nodes dataset at all.
_ADDED_IN_2 = {"links": ("src_id", "dst_id"), "pages": ("node_id",)}


def schemas_of_version(version: int) -> dict[str, pa.Schema]:
    """The datasets a folder of schema ``version`` holds, with their columns.

    Lets readers (``linkgraph verify``) check a folder written before the current
    version; writers only ever write :data:`SCHEMAS`. Raises ``KeyError`` for a
    version this code does not know.
    """
    if version == SCHEMA_VERSION:
        return SCHEMAS
    if version == 1:
        return {dataset: pa.schema([f for f in SCHEMAS[dataset] if f.name not in dropped],
                                   metadata={**SCHEMAS[dataset].metadata,
                                             b"linkgraph.schema_version": b"1"})
                for dataset, dropped in _ADDED_IN_2.items()}
    raise KeyError(version)


def column_docs(schema: pa.Schema) -> list[tuple[str, str, str]]:
    """Return ``(name, arrow type, doc)`` for each column of ``schema``."""
    return [
        (f.name, str(f.type), (f.metadata or {}).get(b"doc", b"").decode())
        for f in schema
    ]
