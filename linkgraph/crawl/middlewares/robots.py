"""Obey robots.txt as RFC 9309 says, for every request, however many wait for it.

Replaces Scrapy's ``RobotsTxtMiddleware`` (whose parser and ``allowed()`` check it
keeps) for two reasons:

* **Requests waiting for a host's robots.txt.** Scrapy 2.13+ lets every request of a
  host await the one Deferred of its pending robots.txt fetch; under the asyncio reactor
  each await turns that Deferred's result into None, and None means "allow all". So
  only the first waiter got the rules and every other request queued behind the fetch
  was downloaded unchecked. A fresh crawl rarely has two requests of a host waiting (one
  seed per host), but a resumed one starts with the whole frontier at once: that is how
  ``/private/`` pages were fetched after a resume. Here every waiter gets its own
  Deferred, fired with the host's rules.
* **Errors.** Scrapy allows all when robots.txt cannot be fetched. RFC 9309 section 2.3.1:
  a 4xx ("unavailable") allows all; a 5xx or a network error ("unreachable") means
  *disallow all*. Such a host's pages are refused with a ``pages`` row saying so
  (``robots_txt: robots.txt unreachable (503)``) and its robots.txt is fetched again by
  the first request ``LINKGRAPH_ROBOTS_RETRY`` seconds later; once that succeeds its
  rules apply. 429 counts as unreachable: the server asks to be left alone. Scrapy's
  RetryMiddleware (and Retry-After) already retry each fetch before it counts as failed.
  A robots.txt that this crawl itself refuses to fetch (a private address, a redirect
  chain past REDIRECT_MAX_TIMES) allows all: the pages meet the same refusal and
  record it, or (RFC 9309 section 2.3.1.2) too many redirects count as unavailable.

A robots.txt is read up to 500 KiB (the RFC's minimum parsing limit); a longer one is
cut at its last full line there instead of failing as ``too_large``. Rules are fetched
again after 24 hours (RFC 9309 section 2.4).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from linkgraph.crawl.config import crawl_config
from linkgraph.crawl.fetch_errors import RobotsTxtRefusal, error_code
from linkgraph.errors import UsageError

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)

#: RFC 9309 section 2.5: crawlers must parse at least the first 500 KiB.
MAX_ROBOTS_BYTES = 500 * 1024
#: RFC 9309 section 2.4: a cached robots.txt should not be used for more than 24 hours.
RULES_TTL = 24 * 3600.0
#: Marks this middleware's own robots.txt requests.
ROBOTS_META = "lg_robots_txt"
#: Signal sent after each robots.txt fetch whose answer the crawl obeys, with
#: ``robots_url`` and ``body`` (None when it answered 4xx: there is none). The spider
#: reads the host's sitemaps from it (linkgraph/crawl/sitemap_reader.py). Not sent when
#: robots.txt is unreachable: every page of the host is refused then.
robots_txt_read = object()


@dataclass
class HostRules:
    """What robots.txt says about one scheme://host:port, and until when it holds."""

    #: The parsed robots.txt; None with ``unreachable`` None: allow all (4xx).
    parser: RobotParser | None
    #: Why every page is refused ("503", "timeout", ...); None when rules apply.
    unreachable: str | None
    #: time.monotonic() after which robots.txt is fetched again.
    expires: float


class RobotsTxtPolicy(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware with RFC 9309 error handling and safe waiting."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)  # NotConfigured unless ROBOTSTXT_OBEY
        try:
            self.retry_seconds = crawl_config(crawler).robots_retry
        except UsageError:
            # The spider reports the bad setting and schedules nothing; robots.txt
            # stays obeyed whatever happens.
            self.retry_seconds = 60.0
        self._rules: dict[str, HostRules] = {}
        #: netloc -> Deferreds of the requests waiting for its robots.txt fetch.
        self._waiting: dict[str, list[Deferred[HostRules]]] = {}
        crawler.signals.connect(self._headers_received, signal=signals.headers_received)
        crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)

    async def process_request(self, request: Request, spider: object = None) -> None:
        if request.meta.get(ROBOTS_META) or request.meta.get("dont_obey_robotstxt"):
            return
        rules = await self.host_rules(request)
        if rules.unreachable is not None:
            self._stats.inc_value("robotstxt/forbidden_unreachable")
            raise RobotsTxtRefusal(f"robots.txt unreachable ({rules.unreachable})")
        self.process_request_2(rules.parser, request)  # raises IgnoreRequest if disallowed

    async def host_rules(self, request: Request) -> HostRules:
        """The rules for ``request``'s host: cached, awaited, or fetched now."""
        url = urlparse_cached(request)
        netloc = url.netloc
        rules = self._rules.get(netloc)
        if rules is not None and time.monotonic() < rules.expires:
            return rules
        waiting = self._waiting.get(netloc)
        if waiting is not None:
            # One Deferred per waiter: awaiting a Deferred consumes its result.
            mine: Deferred[HostRules] = Deferred()
            waiting.append(mine)
            return await maybe_deferred_to_future(mine)
        self._waiting[netloc] = waiting = []
        try:
            rules = await self._fetch(f"{url.scheme}://{netloc}/robots.txt", netloc, request)
        except BaseException:
            # Cancelled (the reactor is stopping): nobody may go ahead unchecked.
            rules = HostRules(None, "cancelled", 0.0)
            raise
        finally:
            del self._waiting[netloc]
            self._rules[netloc] = rules
            for deferred in waiting:
                deferred.callback(rules)
        return rules

    async def _fetch(self, robots_url: str, netloc: str, request: Request) -> HostRules:
        robots_request = Request(robots_url, priority=self.DOWNLOAD_PRIORITY,
                                 meta={ROBOTS_META: True, "dont_obey_robotstxt": True},
                                 callback=NO_CALLBACK)
        self._stats.inc_value("robotstxt/request_count")
        try:
            response = await self.crawler.engine.download_async(robots_request)
        except Exception as exc:  # noqa: BLE001 - every failure is named, none allows all
            failure = Failure(exc)
            failure.request = robots_request  # type: ignore[attr-defined]
            error = error_code(failure)
            if isinstance(exc, IgnoreRequest) or error.startswith("private_address:"):
                # Refused by this crawl, not by the server (a private address, too many
                # redirects): the pages meet the same refusal and record it as theirs.
                logger.info("robots.txt %s not fetched (%s)", robots_url, error)
                return HostRules(None, None, time.monotonic() + RULES_TTL)
            return self._unreachable(netloc, error.split(":", 1)[0], robots_url)
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        status = response.status
        if 200 <= status < 300:
            rules = await self._parsed(response, request)
            self._announce(robots_url, response.body)
            return rules
        if 400 <= status < 500 and status != 429:
            logger.info("robots.txt of %s answered %d: allowing all (RFC 9309)", netloc, status)
            self._announce(robots_url, None)
            return HostRules(None, None, time.monotonic() + RULES_TTL)
        return self._unreachable(netloc, str(status), robots_url)

    async def _parsed(self, response: Response, request: Request) -> HostRules:
        body = response.body
        if len(body) > MAX_ROBOTS_BYTES or "download_stopped" in (response.flags or ()):
            body = body[:MAX_ROBOTS_BYTES]
            body = body[:body.rfind(b"\n") + 1]  # a cut line could change its meaning
            self._stats.inc_value("robotstxt/truncated")
            logger.warning("robots.txt %s is longer than %d bytes: reading the first %d",
                           response.url, MAX_ROBOTS_BYTES, len(body))
        parser = build_from_crawler(self._parserimpl, self.crawler, body)
        # CrawlDelayMiddleware reads the Crawl-delay from this signal.
        await self.crawler.signals.send_catch_log_async(
            signal=signals.robots_parsed, robotparser=parser, request=request)
        return HostRules(parser, None, time.monotonic() + RULES_TTL)

    def _announce(self, robots_url: str, body: bytes | None) -> None:
        self.crawler.signals.send_catch_log(signal=robots_txt_read, robots_url=robots_url,
                                            body=body)

    def _unreachable(self, netloc: str, reason: str, robots_url: str) -> HostRules:
        self._stats.inc_value("robotstxt/unreachable")
        logger.warning("robots.txt %s unreachable (%s): not fetching pages of %s (RFC 9309: "
                       "disallow all); it is fetched again in %.0f s (LINKGRAPH_ROBOTS_RETRY)",
                       robots_url, reason, netloc, self.retry_seconds)
        return HostRules(None, reason, time.monotonic() + self.retry_seconds)

    def _headers_received(self, headers: Any, body_length: Any, request: Request,
                          spider: Any = None) -> None:
        if request.meta.get(ROBOTS_META):  # a retry or redirect copies the meta
            request.meta["lg_robots_bytes"] = 0

    def _bytes_received(self, data: bytes, request: Request, spider: Any = None) -> None:
        if not request.meta.get(ROBOTS_META):
            return
        received = request.meta.get("lg_robots_bytes", 0) + len(data)
        request.meta["lg_robots_bytes"] = received
        if received > MAX_ROBOTS_BYTES:
            raise StopDownload(fail=False)  # the response keeps what arrived so far
