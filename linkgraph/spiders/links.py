"""The ``links`` spider: fetch pages in scope, hand each to the extractor, follow links.

The spider decides only what to fetch next; what a page links to is the extractor's
job (:func:`linkgraph.extract.extract_links`) and writing rows is the pipeline's.

Why it does some of Scrapy's work itself:

* Redirects are followed here, one hop per request (``dont_redirect``), so that every
  hop is a ``pages`` row and a ``redirect`` edge, and a redirect target keeps the depth
  of the URL that redirected to it.
* A seen-set of URL hashes replaces Scrapy's dupefilter (``dont_filter``): a page of
  75 links repeats most of them, and building then fingerprinting a Request per link
  to drop it is most of Scrapy's per-page CPU cost.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure
from w3lib.url import safe_url_string

from linkgraph.crawl.config import crawl_config
from linkgraph.errors import SETUP_ERROR_LOG, UsageError
from linkgraph.extract import extract_links
from linkgraph.extract.records import Link, PageLinks
from linkgraph.crawl.fetch_errors import error_code
from linkgraph.crawl.distributed import folders as worker_folders
from linkgraph.crawl.distributed.work import DistributedWork
from linkgraph.crawl.frontier import DepthFrontier
from linkgraph.crawl.items import PageItem
from linkgraph.crawl.responses import HTML_TYPES as _HTML_TYPES, media_type, redirect_link
from linkgraph.crawl.limits import CrawlLimits, format_skips
from linkgraph.crawl.netguard import parse_networks, register_seeds
from linkgraph.crawl.proxies import env_proxy_hosts
from linkgraph.render import RenderMixin, render_config
from linkgraph.crawl.session import CrawlSession
from linkgraph.crawl.scope import Scope
from linkgraph.crawl.seeds import load_seeds, split_seed_arg
from linkgraph.crawl.sitemap_reader import SitemapReader
from linkgraph.crawl.middlewares.resolve import _is_ip
from linkgraph.urls import url_host
from linkgraph.storage.crawl_dir import CrawlDir

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

#: Scrapy extensions that start servers, with the setting that turns each on. While it
#: is off (linkgraph/settings.py), the extension leaves EXTENSIONS_BASE: Scrapy would
#: still import it to find that out, and the remote control's module imports aiohttp
#: and builds TLS contexts, 0.13-0.15 s of every crawl's start.
_SERVER_EXTENSIONS = {"scrapy.extensions.telnet.TelnetConsole": "TELNETCONSOLE_ENABLED",
                      "scrapy.extensions.remote_control.RemoteControl": "REMOTE_CONTROL_ENABLED"}


class LinksSpider(SitemapReader, RenderMixin, DistributedWork, scrapy.Spider):
    """Crawl from seeds, recording every link of every fetched page.

    Arguments: ``-a seeds=URL_OR_FILE[,URL_OR_FILE...]``. Everything else is a
    ``LINKGRAPH_*`` setting (see ``linkgraph/settings.py``). With ``LINKGRAPH_FRONTIER``
    it is one worker of a distributed crawl (``linkgraph/crawl/distributed/``).
    """

    name = "links"

    def __init__(self, seeds: str | list[str] | None = None, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.seed_specs = split_seed_arg(seeds) if isinstance(seeds, str) else list(seeds or [])
        #: Set by closed(); still None after the reactor was stopped with the crawl open.
        self.closed_reason: str | None = None

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        base = dict(settings.getdict("EXTENSIONS_BASE"))
        off = {path for path, switch in _SERVER_EXTENSIONS.items() if not settings.getbool(switch)}
        if off & set(base):
            settings.set("EXTENSIONS_BASE", {path: order for path, order in base.items()
                                             if path not in off}, priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> LinksSpider:
        spider: LinksSpider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup(crawler)
        return spider

    def setup(self, crawler: Crawler) -> None:
        self.setup_error: str | None = None
        #: The crawl folder's owner for this session (None on a setup error).
        self.session: CrawlSession | None = None
        self.crawl_dir: CrawlDir | None = None
        try:
            self.config = crawl_config(crawler)
            self.render = render_config(crawler)
        except UsageError as exc:
            # `scrapy crawl` without LINKGRAPH_OUTPUT, or a bad LINKGRAPH_* value:
            # reported as one line by start(), like a bad seed.
            self.setup_error = str(exc)
            return
        try:
            self.seeds = load_seeds(self.seed_specs)
        except UsageError as exc:
            # Logged as one line in start(); a traceback helps nobody fix a seed file.
            self.seeds, self.setup_error = [], str(exc)
        self.scope = Scope.for_seeds(self.seeds, self.config.allow)
        self.limits = CrawlLimits(self.config)
        register_seeds(self.seed_addresses(), self.config.allow_private,
                       parse_networks(list(self.config.allow_address)), env_proxy_hosts())
        if not self.setup_error and self.config.frontier:
            try:
                # The frontier first: it says which crawl (id) the worker folder is of.
                self.setup_distributed(crawler)
            except UsageError as exc:
                self.setup_error = str(exc)
        if not self.setup_error:
            try:
                self.session = CrawlSession.open(
                    self.config, self.seeds, self.scope.allow,
                    crawl_id=self.remote.crawl_id if self.remote is not None else None)
                # The item pipeline and the WARC writer write into the same folder.
                self.crawl_dir = self.session.crawl_dir
            except UsageError as exc:
                self.setup_error = str(exc)
        self.max_redirects = crawler.settings.getint("REDIRECT_MAX_TIMES")
        #: hash() of every URL scheduled: ~70 bytes per URL in a Python set.
        self.seen: set[int] = set()
        self.scheduled = 0
        #: Page requests wait here until their depth is the shortest click distance.
        self.frontier = DepthFrontier(lambda request: self.crawler.engine.crawl(request))
        crawler.signals.connect(self.on_idle, signal=signals.spider_idle)
        self.resume_frontier: list[tuple[str, int, str]] = []
        self.setup_sitemaps(crawler)
        if self.session is not None and self.session.resumed and self.remote is None:
            self.resume()

    def seed_addresses(self) -> list[tuple[str, str | None]]:
        """(host, IP if known without DNS) of each seed, for the private-address guard."""
        result = []
        for url in self.seeds:
            host = url_host(url)
            if host:
                mapped = self.config.resolve.get(host)
                ip = mapped.ip if mapped is not None else (host if _is_ip(host) else None)
                result.append((host, ip))
        return result

    def resume(self) -> None:
        """Continue from the folder's committed parts (see ``linkgraph/crawl/resume.py``)."""
        progress = self.session.progress()
        seen_url = self.limits.seen_url
        self.seen.update(hash(seen_url(url)) for url in progress.done)
        self.scheduled = len(progress.done)
        self.limits.restore(progress.done)
        self.sitemaps_committed.update(progress.sitemaps_read)
        max_depth = self.config.max_depth
        self.resume_frontier = [
            (url, depth, host) for url, depth, host in progress.frontier
            if self.scope.allows(host) and (max_depth is None or depth <= max_depth)]
        logger.info("Resuming session %d of crawl %s: %d pages done, %d to fetch",
                    self.crawl_dir.session, self.crawl_dir.crawl_id, len(progress.done),
                    len(self.resume_frontier))

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if self.setup_error:
            logger.error("%s", self.setup_error, extra=SETUP_ERROR_LOG)
            self.stats.set_value("linkgraph/setup_error", self.setup_error)
            return
        logger.info("Crawling %d seed(s); fetching hosts in %s", len(self.seeds),
                    ", ".join(self.scope.allow))
        if self.remote is not None:
            logger.info("Worker %s of crawl %s (frontier %s), writing %s", self.remote.name,
                        self.remote.crawl_id, self.remote.shown, self.crawl_dir.path)
            self.start_pump()
            return
        for url in self.seeds:
            request = self.page_request(url, 0)
            if request is not None:
                yield request
        for url, depth, _host in self.resume_frontier:
            request = self.page_request(url, depth)
            if request is not None:
                yield request
        self.resume_frontier = []

    @property
    def stats(self):  # set by Scrapy only once the crawl starts, after from_crawler
        return self.crawler.stats

    def closed(self, reason: str) -> None:
        if self.closed_reason is not None:  # a forced close ended the session already
            return
        self.closed_reason = reason
        deadline = getattr(self, "_close_deadline", None)
        if deadline is not None and deadline.active():
            deadline.cancel()
        if self.remote is not None:
            self.stop_pump()
            self.stats.set_value("linkgraph/distributed/redis_round_trips", self.remote.round_trips)
            for kind, trips in self.remote.trips.items():
                self.stats.set_value(f"linkgraph/distributed/redis/{kind}", trips)
        if self.session is not None:
            status = self.session.close(reason, self.stats)
            if self.remote is not None and status == "finished":
                summary = worker_folders.merge_when_last(
                    self.config.output, self.config.compact, self.config.compact_rows)
                if summary is not None:
                    logger.info("%s", summary)
                    self.stats.set_value("linkgraph/distributed/merged", True)
        if self.remote is not None:
            self.exit_after_close()

    # -- scheduling ---------------------------------------------------------------
    def page_request(self, url: str, depth: int, hops: int = 0,
                     skips: Counter[str] | None = None) -> scrapy.Request | None:
        """A Request for ``url`` unless it was seen or a limit is reached.

        A URL held back by a limit (linkgraph/crawl/limits.py) is counted in the stats and in
        ``skips`` (the ``not_followed`` note of the page that links to it).
        """
        key = hash(self.limits.seen_url(url))  # session ids do not make a URL new
        if self.remote is not None:
            self.send_found(key, url, depth, hops, skips)
            return None
        if key in self.seen:
            self.frontier.lower(key, depth)
            return None
        max_pages = self.config.max_pages
        if max_pages is not None and self.scheduled >= max_pages:
            self.stats.inc_value("linkgraph/skipped/max_pages")
            return None
        self.seen.add(key)
        reason = self.refused_by_limits(url, skips)
        if reason is not None:
            return None
        self.scheduled += 1
        return self.frontier.admit(key, self.page_request_for(url, depth, hops), depth)

    def refused_by_limits(self, url: str, skips: Counter[str] | None) -> str | None:
        """The limit that refuses ``url`` (counted, and noted in ``skips``), or None."""
        reason = self.limits.refuse(url)
        if reason is not None:
            self.stats.inc_value(f"linkgraph/skipped/{reason}")
            if skips is not None:
                skips[reason] += 1
        return reason

    def page_request_for(self, url: str, depth: int, hops: int = 0) -> scrapy.Request:
        """The Request of a page admitted at ``depth`` (``hops`` redirects in a row)."""
        return scrapy.Request(
            url,
            callback=self.parse_page,
            errback=self.on_error,
            # Breadth-first among the requests the frontier has let go.
            priority=-depth,
            dont_filter=True,
            meta={"dont_redirect": True, "handle_httpstatus_all": True,
                  "lg_depth": depth, "lg_hops": hops},
        )

    def on_idle(self) -> None:
        if self.remote is not None:
            # A worker that could not start (its folder taken, ...) has no pump: it ends.
            if not self.setup_error and not self.may_close():
                raise DontCloseSpider  # the pump brings the next URLs
            return
        if self.frontier.idle():
            # Only a request that ended without reaching a callback gets here: counted,
            # since the crawl then waits for Scrapy's idle checks between levels.
            self.stats.inc_value("linkgraph/frontier/idle_releases")
            raise DontCloseSpider

    def follow(self, links: Iterable[Link], depth: int,
               skips: Counter[str] | None = None) -> Iterable[scrapy.Request]:
        """Requests for the links worth fetching, one per new in-scope URL."""
        config = self.config
        if config.max_depth is not None and depth > config.max_depth:
            return
        follow_types, follow_rel_nofollow = config.follow_types, config.follow_rel_nofollow
        allows, seen, lower = self.scope.allows, self.seen, self.frontier.lower
        for link in links:
            if (link.link_type not in follow_types or not allows(link.dst_host)
                    or (not follow_rel_nofollow and "nofollow" in link.rel)):
                continue
            key = hash(link.dst_url)
            if key in seen and self.remote is None:  # a shorter path to a URL held moves it up
                lower(key, depth)
                continue
            request = self.page_request(link.dst_url, depth, skips=skips)
            if request is not None:
                yield request
        if self.remote is not None:
            self.admit_outbox()

    # -- callbacks ----------------------------------------------------------------
    async def parse_page(self, response: Response) -> AsyncIterator[PageItem | scrapy.Request]:
        meta = response.meta
        depth: int = meta["lg_depth"]
        self.stats.inc_value("linkgraph/pages")
        item = PageItem(
            url=response.url,
            depth=depth,
            fetched_at=datetime.now(timezone.utc),
            status=response.status,
            content_type=media_type(response),
            content_length=len(response.body),
            elapsed=meta.get("download_latency"),
            entry=meta.get("lg_entry"),
        )
        if 300 <= response.status < 400 and b"Location" in response.headers:
            # Decided before the item is yielded: a pipeline may write it at once.
            requests = list(self.redirect(response, item))
            self.frontier.done(depth)
            yield item
            for request in requests:
                yield request
            return
        if item.content_type in _HTML_TYPES or (
                item.content_type is None and isinstance(response, scrapy.http.HtmlResponse)):
            page = await self.extract_page(response, item)
            item.title, item.canonical_url = page.title, page.canonical_url
            item.meta_robots, item.x_robots_tag = page.meta_robots, page.x_robots_tag
            item.links = self.truncate_links(page.links, item)
            if page.skipped:
                self.stats.inc_value("linkgraph/links_skipped", page.skipped)
            self.stats.inc_value("linkgraph/links", len(item.links))
            if self.render.enabled and self.wants_render(response, response.text, page):
                # The item waits for the rendered DOM (linkgraph/render/_spider.py).
                yield self.render_request(response, item, page)
                return
            skips: Counter[str] = Counter()
            # Decided before the item is yielded: a pipeline may write it at once.
            requests = list(self.follow(item.links, depth + 1, skips)) if (
                not page.page_nofollow or self.config.follow_page_nofollow) else []
            item.not_followed = format_skips(skips)
            self.frontier.done(depth)
            yield item
            for request in requests:
                yield request
        else:
            self.stats.inc_value("linkgraph/pages_not_html")
            self.frontier.done(depth)
            yield item

    async def extract_page(self, response: Response, item: PageItem) -> PageLinks:
        """The links of ``response`` (the HTML as served, or a rendered DOM), extracted in
        a worker thread; nesting beyond LINKGRAPH_MAX_NESTING is capped and recorded on
        ``item``. Both paths call this, so a rendered page is bounded as a raw one is."""
        # In a worker thread: the reactor goes on sending requests meanwhile (lexbor
        # parses without the GIL, so a crawl also gets a second core's work).
        try:
            page = await maybe_deferred_to_future(deferToThread(self.extract, response))
        except Exception as exc:  # noqa: BLE001 - an extractor bug must not lose the row
            # The page is still recorded (its status, headers, this error), without links.
            item.error = f"extract_failed: {type(exc).__name__}: {exc}"[:500]
            self.stats.inc_value("linkgraph/extract_failed")
            logger.error("Could not read the links of %s (%s: %s); its row is kept "
                         "without links", response.url, type(exc).__name__, exc)
            return PageLinks(url=response.url, base_url=response.url)
        except BaseException:
            self.frontier.done(item.depth)  # a page that fails here holds no level back
            raise
        if page.nesting_capped:
            self.count_nesting_capped(item, page.nesting_capped)
        return page

    def extract(self, response: Response) -> PageLinks:
        """The links of an HTML response (run in a worker thread: no Scrapy state)."""
        # Headers itself, not to_unicode_dict(): that joins repeated X-Robots-Tag lines
        # and would change which user agent a directive applies to.
        return extract_links(response.url, response.text, response.headers,
                             self.config.max_nesting)

    def count_nesting_capped(self, item: PageItem, tags: int) -> None:
        # A rendered page is parsed twice (as served, then its DOM): its row keeps the
        # larger count and the stats count it once, so they still add up over the rows.
        before = item.nesting_capped or 0
        if tags <= before:
            return
        item.nesting_capped = tags
        if not before:
            self.stats.inc_value("linkgraph/pages_nesting_capped")
        self.stats.inc_value("linkgraph/nesting_capped_tags", tags - before)
        if not getattr(self, "_nesting_logged", False):  # once per crawl
            self._nesting_logged = True
            logger.warning("%s nests elements deeper than %d; %d tags beyond that depth "
                           "were left out, their content kept (LINKGRAPH_MAX_NESTING); "
                           "further pages are only counted", item.url,
                           self.config.max_nesting, tags)

    def truncate_links(self, links: list[Link], item: PageItem) -> list[Link]:
        """At most LINKGRAPH_MAX_LINKS_PER_PAGE links; the rest are counted on the row."""
        limit = self.config.max_links_per_page
        if limit is None or len(links) <= limit:
            return links
        dropped = len(links) - limit
        item.links_truncated = dropped
        self.stats.inc_value("linkgraph/links_truncated", dropped)
        self.stats.inc_value("linkgraph/pages_links_truncated")
        if not getattr(self, "_truncation_logged", False):  # once per crawl
            self._truncation_logged = True
            logger.warning("%s has %d links; keeping the first %d (LINKGRAPH_MAX_LINKS_PER_PAGE)"
                           "; further truncations are only counted", item.url, len(links), limit)
        return links[:limit]

    def redirect(self, response: Response, item: PageItem) -> Iterable[scrapy.Request]:
        location = response.headers[b"Location"].decode("latin-1").strip()
        target = safe_url_string(urljoin(response.url, location)).split("#", 1)[0]
        item.redirect_to = target
        item.links = [redirect_link(target)]
        self.stats.inc_value("linkgraph/redirects")
        self.stats.inc_value("linkgraph/links")
        hops = response.meta["lg_hops"] + 1
        if hops > self.max_redirects:
            self.stats.inc_value("linkgraph/skipped/redirect_chain")
            logger.warning("Not following %s: more than %d redirects in a row",
                           response.url, self.max_redirects)
            return
        if self.scope.allows(url_host(target)) and "redirect" in self.config.follow_types:
            # A redirect is not a click: the target keeps the depth of its source.
            skips: Counter[str] = Counter()
            request = self.page_request(target, response.meta["lg_depth"], hops, skips)
            item.not_followed = format_skips(skips)
            if self.remote is not None:
                self.admit_outbox()
            if request is not None:
                yield request

    def on_error(self, failure: Failure) -> Iterable[PageItem]:
        request = failure.request  # type: ignore[attr-defined]
        error = error_code(failure)
        code = error.split(":", 1)[0]
        self.stats.inc_value("linkgraph/errors")
        self.stats.inc_value(f"linkgraph/errors/{code}")
        logger.info("Failed %s: %s", request.url, error)
        depth = request.meta.get("lg_depth", 0)
        self.frontier.done(depth)
        yield PageItem(
            url=request.url,
            depth=depth,
            fetched_at=datetime.now(timezone.utc),
            error=error,
            entry=request.meta.get("lg_entry"),
        )
