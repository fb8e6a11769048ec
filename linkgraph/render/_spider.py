"""What the ``links`` spider does to render a page (a mixin, to keep the spider small).

Flow: ``parse_page`` extracts the raw HTML as always; when :meth:`wants_render` says
so it yields :meth:`render_request` instead of the item. The rendered response goes to
:meth:`parse_rendered`, which merges raw and rendered links into the one PageItem of
the page and follows the merged links. If rendering fails, :meth:`on_render_error`
writes the page with its raw links and an ``error`` of ``render_timeout: ...`` or
``render_failed: ...``, and follows the raw links: the page is never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

import scrapy

from linkgraph.extract.records import PageLinks
from linkgraph.crawl.limits import format_skips
from linkgraph.render._config import RenderConfig
from linkgraph.render._detect import render_reason
from linkgraph.render._merge import merge_links

if TYPE_CHECKING:
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from linkgraph.crawl.items import PageItem

logger = logging.getLogger(__name__)

RAW_META = "lg_raw"
#: Set by the render handler (linkgraph/render/_handler.py); kept here so that the
#: spider does not import Playwright.
BLOCKED_META = "lg_blocked_requests"


def render_error(failure: Failure) -> str:
    """``render_timeout: ...`` or ``render_failed: ...`` (first line, at most 200 chars)."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    from linkgraph.render._handler import RenderTimeout

    exc = failure.value
    kind = "render_timeout" if isinstance(
        exc, (RenderTimeout, PlaywrightTimeout, asyncio.TimeoutError)) else "render_failed"
    message = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return f"{kind}: {message}"


class RenderMixin:
    """Rendering for :class:`linkgraph.spiders.links.LinksSpider`."""

    # The spider provides these, and follow(links, depth, skips), truncate_links(),
    # extract_page(response, item) (the raw path's off-reactor, nesting-capped extraction).
    render: RenderConfig
    config: Any
    stats: Any
    frontier: Any

    def wants_render(self, response: Response, html: str, page: PageLinks) -> bool:
        """Whether to render this raw 200 HTML page (mode, pattern, the auto rule)."""
        render = self.render
        if response.status != 200 or not render.wants(response.url):
            return False
        if render.mode == "always":
            return True
        reason = render_reason(html, page)
        if reason is None:
            return False
        self.stats.inc_value("linkgraph/render/auto_fired")
        self.stats.inc_value(f"linkgraph/render/auto_fired/{reason}")
        logger.debug("Rendering %s: %s", response.url, reason)
        return True

    def render_request(self, response: Response, item: PageItem, page: PageLinks) -> scrapy.Request:
        meta = response.meta
        return scrapy.Request(
            response.url,
            callback=self.parse_rendered,
            errback=self.on_render_error,
            # The URL is in the seen-set already: this is the same page, again.
            dont_filter=True,
            meta={"playwright": True, "lg_depth": meta["lg_depth"], "lg_hops": meta["lg_hops"],
                  RAW_META: (item, page), "handle_httpstatus_all": True,
                  # A browser that timed out or crashed once will again: no retry.
                  "dont_retry": True,
                  # Render time is browser work, not the server's latency.
                  "autothrottle_dont_adjust_delay": True},
        )

    async def parse_rendered(self, response: Response) -> AsyncIterator[PageItem | scrapy.Request]:
        item, raw = response.meta[RAW_META]
        depth: int = response.meta["lg_depth"]
        # response.url is the browser's final URL (a router may have pushState'd):
        # relative hrefs in the DOM resolve against it, as in the browser. A script can
        # nest a DOM far deeper than any parser would: capped, and off the reactor.
        rendered = await self.extract_page(response, item)
        raw_count = len(item.links)
        # item.links are the raw links as kept (LINKGRAPH_MAX_LINKS_PER_PAGE applied).
        links, found_in = merge_links(item.links, rendered.links)
        item.links_truncated = None
        item.links = self.truncate_links(links, item)
        item.found_in = found_in[:len(item.links)]
        item.rendered = True
        item.render_time = response.meta.get("download_latency")
        item.blocked_requests = response.meta.get(BLOCKED_META, 0)
        if item.title is None:
            item.title = rendered.title
        stats = self.stats
        stats.inc_value("linkgraph/render/pages")
        only_rendered = found_in.count("rendered")
        stats.inc_value("linkgraph/render/links_only_rendered", only_rendered)
        stats.inc_value("linkgraph/links", len(item.links) - raw_count)
        nofollow = raw.page_nofollow or rendered.page_nofollow
        for result in self._finish(item, depth, nofollow):
            yield result

    def _finish(self, item: PageItem, depth: int, nofollow: bool) -> Iterable[PageItem | scrapy.Request]:
        skips: Counter[str] = Counter()
        # Decided before the item is yielded: a pipeline may write it at once.
        requests = list(self.follow(item.links, depth + 1, skips)) if (
            not nofollow or self.config.follow_page_nofollow) else []
        item.not_followed = format_skips(skips)
        self.frontier.done(depth)  # the page's links are admitted: its depth is done
        yield item
        yield from requests

    def on_render_error(self, failure: Failure) -> Iterable[PageItem | scrapy.Request]:
        request = failure.request  # type: ignore[attr-defined]
        item, raw = request.meta[RAW_META]
        item.error = render_error(failure)
        item.blocked_requests = request.meta.get(BLOCKED_META)
        kind = item.error.split(":", 1)[0]
        self.stats.inc_value("linkgraph/render/errors")
        self.stats.inc_value(f"linkgraph/render/errors/{kind}")
        logger.warning("Rendering failed, keeping the raw links of %s: %s", request.url, item.error)
        yield from self._finish(item, request.meta["lg_depth"], raw.page_nofollow)
