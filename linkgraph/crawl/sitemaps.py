"""Reading sitemaps (sitemaps.org protocol 0.9) within bounds: pure functions, no crawl.

The XML is read by Scrapy's own sitemap code (``scrapy.utils.sitemap``: lxml's
``iterparse`` with entities not resolved, ``huge_tree`` off, elements cleared as they
are read), the ``Sitemap:`` lines of robots.txt by ``sitemap_urls_from_robots``, and a
gzipped sitemap is gunzipped by ``scrapy.utils.gz.gunzip`` with a size cap, as
Scrapy's ``SitemapSpider`` does. What this module adds are the bounds a hostile
sitemap meets, each a :class:`SitemapRefused` reason (counted by the spider as
``linkgraph/sitemaps/skipped/<reason>``) or a cut:

``too_large``    the body, or what it gunzips to, is over the size cap (DOWNLOAD_MAXSIZE):
                 a gzip bomb is stopped after that many bytes, not read to its end
``dtd``          the XML declares a DTD (``<!DOCTYPE``): the protocol needs none, and it is
                 how entity bombs (billion laughs) are built; refused before lxml sees it
``not_sitemap``  not XML, or a root that is neither ``urlset`` nor ``sitemapindex``
``too_many_urls`` (a cut, not a refusal) only the first :data:`MAX_URLS_PER_SITEMAP`
                 entries are read, the protocol's limit
``index_depth``  (spider) an index more than :data:`MAX_INDEX_DEPTH` levels below robots.txt
``loop``         (spider) a sitemap already read in this crawl: a loop of indexes ends
``per_host``     (spider) more than :data:`MAX_SITEMAPS_PER_HOST` sitemaps of one host
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

import lxml.etree
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from linkgraph.extract._urls import clean_href, reference_resolve

#: The protocol's limit of URLs in one sitemap (and of sitemaps in one index).
MAX_URLS_PER_SITEMAP = 50_000
#: Levels of indexes below robots.txt: robots.txt -> index -> index -> sitemap is 2.
MAX_INDEX_DEPTH = 3
#: Sitemaps read per host (indexes included): 1,000 sitemaps of 50,000 URLs each.
MAX_SITEMAPS_PER_HOST = 1000
#: The sitemap a host without ``Sitemap:`` lines in its robots.txt is asked for.
DEFAULT_PATH = "/sitemap.xml"

_GZIP_MAGIC = b"\x1f\x8b"
#: A DTD comes before the root element; this much is searched for it.
_PROLOG_BYTES = 64 * 1024
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


class SitemapRefused(Exception):
    """A sitemap that is not read; ``reason`` is one word (see the module doc)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """One ``<url>`` of a urlset or ``<sitemap>`` of an index."""

    #: Absolute URL, resolved as a link's dst_url is (fragment cut, unsafe characters
    #: quoted), so that a listed URL and a link to it are the same string.
    url: str
    #: ``<lastmod>`` as written (None when absent or empty).
    lastmod: str | None


@dataclass(frozen=True, slots=True)
class ParsedSitemap:
    #: ``urlset`` or ``sitemapindex``.
    kind: str
    entries: list[SitemapEntry]
    #: Entries past :data:`MAX_URLS_PER_SITEMAP`, not read (0 when none).
    cut: int = 0

    @property
    def is_index(self) -> bool:
        return self.kind == "sitemapindex"


def sitemaps_in_robots(body: bytes, robots_url: str) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt body, in order, each once."""
    urls = dict.fromkeys(u for u in sitemap_urls_from_robots(body, base_url=robots_url)
                         if u.startswith(("http://", "https://")))
    return list(urls)


def sitemap_xml(body: bytes, max_size: int) -> bytes:
    """The XML of a sitemap response body: gunzipped when it is gzip, at most
    ``max_size`` bytes either way (0: no cap). Raises :class:`SitemapRefused`."""
    if max_size and len(body) > max_size:
        raise SitemapRefused("too_large", f"{len(body)} bytes, more than {max_size}")
    if body[:2] != _GZIP_MAGIC:
        # A .xml.gz sent with Content-Encoding: gzip arrives gunzipped by Scrapy.
        return body
    try:
        return gunzip(body, max_size=max_size)
    except _DecompressionMaxSizeExceeded:
        raise SitemapRefused("too_large", f"gunzips to more than {max_size} bytes") from None
    except (OSError, EOFError) as exc:
        raise SitemapRefused("not_sitemap", f"bad gzip ({exc})") from None


def parse_sitemap(xml: bytes, base_url: str,
                  max_urls: int = MAX_URLS_PER_SITEMAP) -> ParsedSitemap:
    """The entries of a sitemap or sitemap index, at most ``max_urls`` of them.

    Raises :class:`SitemapRefused` for a DTD or anything that is not a sitemap. An entry
    whose ``<loc>`` is empty or not an http(s) URL is dropped.
    """
    if _DOCTYPE.search(xml, 0, _PROLOG_BYTES):
        raise SitemapRefused("dtd", "declares a DTD (<!DOCTYPE>), which no sitemap needs")
    try:
        sitemap = Sitemap(xml)
    except (lxml.etree.XMLSyntaxError, StopIteration) as exc:
        raise SitemapRefused("not_sitemap", f"not XML ({exc})") from None
    if sitemap.type not in ("urlset", "sitemapindex"):
        raise SitemapRefused("not_sitemap", f"root element is {sitemap.type!r}")
    entries: list[SitemapEntry] = []
    cut = 0
    try:
        for element in sitemap:
            if len(entries) >= max_urls:
                cut += 1
                continue
            url = _absolute(base_url, element.get("loc") or "")
            if url is not None:
                entries.append(SitemapEntry(url, element.get("lastmod") or None))
    except lxml.etree.XMLSyntaxError:
        pass  # a body cut short: the entries read so far stand
    return ParsedSitemap(sitemap.type, entries, cut)


def _absolute(base_url: str, loc: str) -> str | None:
    href = clean_href(loc)
    if not href:
        return None
    try:
        url = reference_resolve(base_url, href)
    except ValueError:
        return None
    return url if url.startswith(("http://", "https://")) else None


_W3C_PARTIAL = re.compile(r"(\d{4})(?:-(\d{2}))?")


def parse_lastmod(text: str | None) -> datetime | None:
    """``<lastmod>`` (W3C Datetime: ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, with a time and
    zone) as an aware UTC datetime; None when absent or not a date. A time without a
    zone is read as UTC."""
    if not text:
        return None
    text = text.strip()
    try:
        partial = _W3C_PARTIAL.fullmatch(text)
        if partial:
            value = datetime(int(partial.group(1)), int(partial.group(2) or 1), 1)
        else:
            value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
