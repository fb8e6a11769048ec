"""The spider's side of sitemaps: which to fetch, and what to do with what they list.

Mixed into :class:`linkgraph.spiders.links.LinksSpider`. Where sitemaps come from: the
robots.txt the robots middleware fetches anyway for every host the crawl visits
(:data:`linkgraph.crawl.middlewares.robots.robots_txt_read`): its ``Sitemap:`` lines,
or ``/sitemap.xml`` when it has none (or answered 4xx). So sitemaps are read only for
hosts in scope, once each, and only with ``ROBOTSTXT_OBEY``.

A sitemap request is an ordinary Scrapy request: robots.txt rules, Crawl-delay,
AutoThrottle and DOWNLOAD_MAXSIZE apply; redirects are followed by Scrapy (a sitemap is
no page of the link graph: like robots.txt, it is no ``pages`` row, and it does not
count towards LINKGRAPH_MAX_PAGES). What a urlset lists is one
:class:`~linkgraph.crawl.items.SitemapItem` (its ``sitemaps`` rows, committed in one
batch); its in-scope URLs are then scheduled as pages of depth
:data:`SITEMAP_DEPTH` (as if the host's home page linked them; a link that reaches a URL
at a smaller depth still wins) unless ``LINKGRAPH_SITEMAP_FOLLOW`` is off.

Bounds (linkgraph/crawl/sitemaps.py), each counted as
``linkgraph/sitemaps/skipped/<reason>`` and logged: ``loop`` (a sitemap already read),
``index_depth``, ``per_host``, ``out_of_scope`` (a sitemap on a host the crawl does not
fetch), and what :class:`~linkgraph.crawl.sitemaps.SitemapRefused` names.

Resuming: a sitemap with committed rows is not fetched again (its URLs not yet fetched
are in the resumed frontier, :mod:`linkgraph.crawl.resume`); indexes and sitemaps whose
rows were not committed are read again when their host's robots.txt is.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import scrapy
from twisted.python.failure import Failure

from linkgraph.crawl.fetch_errors import error_code
from linkgraph.crawl.items import SitemapItem
from linkgraph.crawl.middlewares.robots import robots_txt_read
from linkgraph.crawl.sitemaps import (DEFAULT_PATH, MAX_INDEX_DEPTH, MAX_SITEMAPS_PER_HOST,
                                      SitemapRefused, parse_sitemap, sitemap_xml,
                                      sitemaps_in_robots)
from linkgraph.urls import url_host

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

#: Depth of a page found only in a sitemap: one click from the host's home page.
SITEMAP_DEPTH = 1


class SitemapReader:
    """Read the sitemaps of the hosts the crawl visits (see the module docstring)."""

    def setup_sitemaps(self, crawler: Crawler) -> None:
        #: Sitemap URLs requested in this session, and those committed before it.
        self.sitemaps_requested: set[str] = set()
        self.sitemaps_committed: set[str] = set()
        self.sitemaps_per_host: Counter[str] = Counter()
        self.sitemap_max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        if self.config.sitemaps:
            crawler.signals.connect(self.on_robots_txt, signal=robots_txt_read)

    def on_robots_txt(self, robots_url: str, body: bytes | None) -> None:
        """A host's robots.txt was read: request the sitemaps it names, or /sitemap.xml."""
        if not self.scope.allows(url_host(robots_url)):
            return
        named = sitemaps_in_robots(body, robots_url) if body else []
        for url in named or [urljoin(robots_url, DEFAULT_PATH)]:
            request = self.sitemap_request(url, 0, guessed=not named)
            if request is not None:
                self.crawler.engine.crawl(request)

    def sitemap_request(self, url: str, level: int, guessed: bool = False) -> scrapy.Request | None:
        """A request for the sitemap ``url``, ``level`` indexes below robots.txt, unless
        a bound refuses it."""
        if url in self.sitemaps_committed:
            return None
        if url in self.sitemaps_requested:
            if level:  # robots.txt read again (after 24 h) is no loop
                self._sitemap_skip("loop", url, "already read in this crawl")
            return None
        host = url_host(url)
        if not self.scope.allows(host):
            return self._sitemap_skip("out_of_scope", url, f"{host} is not crawled")
        if level > MAX_INDEX_DEPTH:
            return self._sitemap_skip("index_depth", url, f"more than {MAX_INDEX_DEPTH} "
                                      "sitemap indexes below robots.txt")
        if self.sitemaps_per_host[host] >= MAX_SITEMAPS_PER_HOST:
            return self._sitemap_skip("per_host", url, f"{host} has more than "
                                      f"{MAX_SITEMAPS_PER_HOST} sitemaps")
        if getattr(self, "remote", None) is not None and not self.claim_sitemap(url):
            return None  # another worker of the distributed crawl reads it
        self.sitemaps_requested.add(url)
        self.sitemaps_per_host[host] += 1
        self.stats.inc_value("linkgraph/sitemaps/requests")
        return scrapy.Request(url, callback=self.parse_sitemap, errback=self.on_sitemap_error,
                              dont_filter=True,
                              meta={"handle_httpstatus_all": True, "lg_sitemap": url,
                                    "lg_sitemap_level": level, "lg_sitemap_guessed": guessed})

    def _sitemap_skip(self, reason: str, url: str, detail: str) -> None:
        self.stats.inc_value(f"linkgraph/sitemaps/skipped/{reason}")
        logger.warning("Sitemap %.200s not read (%s): %s", url, reason, detail)

    def parse_sitemap(self, response: Response) -> Iterable[SitemapItem | scrapy.Request]:
        meta = response.meta
        url, level = meta["lg_sitemap"], meta["lg_sitemap_level"]
        if response.status != 200:
            if meta["lg_sitemap_guessed"] and 400 <= response.status < 500:
                # No Sitemap: line and no /sitemap.xml: the host simply has none.
                self.stats.inc_value("linkgraph/sitemaps/none")
                return
            self._sitemap_skip("status", url, f"answered {response.status}")
            return
        try:
            parsed = parse_sitemap(sitemap_xml(response.body, self.sitemap_max_size),
                                   response.url)
        except SitemapRefused as exc:
            self._sitemap_skip(exc.reason, url, str(exc))
            return
        if parsed.cut:
            self.stats.inc_value("linkgraph/sitemaps/skipped/too_many_urls", parsed.cut)
            logger.warning("Sitemap %.200s lists %d entries more than the %d read",
                           url, parsed.cut, len(parsed.entries))
        if parsed.is_index:
            self.stats.inc_value("linkgraph/sitemaps/indexes")
            for entry in parsed.entries:
                request = self.sitemap_request(entry.url, level + 1)
                if request is not None:
                    yield request
            return
        self.stats.inc_value("linkgraph/sitemaps/read")
        self.stats.inc_value("linkgraph/sitemaps/urls", len(parsed.entries))
        # Yielded first: its rows are committed no later than any page it leads to.
        yield SitemapItem(url, datetime.now(timezone.utc), parsed.entries)
        max_depth = self.config.max_depth
        if not self.config.sitemap_follow or (max_depth is not None and max_depth < SITEMAP_DEPTH):
            return
        allows = self.scope.allows
        requests = []
        for entry in parsed.entries:
            if allows(url_host(entry.url)):
                request = self.page_request(entry.url, SITEMAP_DEPTH)
                if request is not None:
                    requests.append(request)
        if getattr(self, "remote", None) is not None:
            self.admit_outbox()
        yield from requests

    def on_sitemap_error(self, failure: Failure) -> Iterable[Any]:
        request = failure.request  # type: ignore[attr-defined]
        error = error_code(failure)
        self.stats.inc_value(f"linkgraph/sitemaps/failed/{error.split(':', 1)[0]}")
        logger.info("Sitemap %s not fetched: %s", request.meta.get("lg_sitemap", request.url), error)
        return ()
