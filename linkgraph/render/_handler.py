"""scrapy-playwright's download handler, hardened for crawling many pages.

What it adds to :class:`ScrapyPlaywrightDownloadHandler`:

* A settle step after the load event that waits for late links: until no request
  is in flight, no ``fetch``/XHR is pending, no short ``setTimeout`` is pending and
  the DOM has not changed for ``LINKGRAPH_RENDER_QUIET`` seconds, at most
  ``LINKGRAPH_RENDER_IDLE_CAP`` seconds; then the optional wait selector (at most
  half of ``LINKGRAPH_RENDER_TIMEOUT``). Playwright's
  own ``networkidle`` would cost 500 ms on every page and still miss a link a timer
  inserts 1.5 s after load with no request involved.
* A hard per-page deadline (``LINKGRAPH_RENDER_TIMEOUT``) around everything,
  including reading the DOM of a tab stuck in an endless script, which Playwright
  would wait for forever; the page is closed and the request fails.
* No retries of a crashed tab (scrapy-playwright retries ``TargetClosedError``
  three times: a page that crashes its tab would crash it four times).
* Dialogs are dismissed and popups closed at once (counted in stats).
* Browser contexts are recycled every ``LINKGRAPH_RENDER_CONTEXT_PAGES`` pages, so
  cookies, caches and per-context memory do not grow over a long crawl.
* Every request the browser makes goes through the crawl's guard proxy
  (:mod:`._guard_proxy`), and service workers are blocked; requests it refused are
  counted per page (``BLOCKED_META``, the row's ``blocked_requests``).
* Tabs are reused: a page that rendered without error goes back to its context's
  idle tabs and the next request navigates it, instead of opening a new tab (and a
  new renderer process) per page. A tab that failed, timed out or crashed is closed,
  never reused; a tab is never shared by two pages at once, so each page still has a
  renderer process of its own and a hung script stalls only its own tab.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from contextlib import suppress
from urllib.parse import urlsplit
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from linkgraph.crawl.config import crawl_config
from linkgraph.render._config import render_config
from linkgraph.render._guard_proxy import REFUSED_HEADER, GuardProxy
from linkgraph.render._playwright import BLOCKED_RESOURCES, proxy_args
from linkgraph.render._spider import BLOCKED_META

if TYPE_CHECKING:
    from playwright.async_api import Dialog, Page
    from playwright.async_api import Request as PlaywrightRequest
    from playwright.async_api import Response as PlaywrightResponse
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

PAGE_META = "_lg_page"
#: Context options: a service worker's requests would be invisible to the page.
CONTEXT_KWARGS = {"service_workers": "block"}


class RenderTimeout(Exception):
    """The page did not finish rendering within LINKGRAPH_RENDER_TIMEOUT."""


#: Runs in every page before its own scripts: keeps count of what may still add links.
#: Timers longer than the idle cap are not counted (they would only hit the cap), nor
#: setInterval (it never ends).
_TRACKER_JS = """
(() => {
  if (window.__lgSettled) return;
  const horizon = %(horizon_ms)d, quiet = %(quiet_ms)d;
  const st = {pending: 0, timers: new Set(), last: performance.now()};
  const touch = () => { st.last = performance.now(); };
  const setT = window.setTimeout, clearT = window.clearTimeout;
  window.setTimeout = function (fn, ms, ...rest) {
    const delay = Number(ms) || 0;
    if (typeof fn !== "function" || delay > horizon) return setT.call(this, fn, ms, ...rest);
    const id = setT.call(this, function () {
      st.timers.delete(id); touch(); return fn.apply(this, arguments);
    }, ms, ...rest);
    st.timers.add(id);
    return id;
  };
  window.clearTimeout = function (id) { st.timers.delete(id); return clearT.call(this, id); };
  const origFetch = window.fetch;
  if (origFetch) {
    window.fetch = function () {
      st.pending++; touch();
      const p = origFetch.apply(this, arguments);
      p.finally(() => { st.pending--; touch(); }).catch(() => {});
      return p;
    };
  }
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function () {
    st.pending++; touch();
    this.addEventListener("loadend", () => { st.pending--; touch(); }, {once: true});
    return send.apply(this, arguments);
  };
  for (const name of ["pushState", "replaceState"]) {
    const orig = history[name];
    history[name] = function () { touch(); return orig.apply(this, arguments); };
  }
  new MutationObserver(touch).observe(document, {childList: true, subtree: true, attributes: true});
  window.__lgSettled = () => st.pending === 0 && st.timers.size === 0
    && performance.now() - st.last >= quiet;
})();
"""

_SETTLED = "() => (window.__lgSettled ? window.__lgSettled() : true)"
_POLL = 0.05


class RenderDownloadHandler(ScrapyPlaywrightDownloadHandler):
    # Built at the first request of its scheme, and Playwright started at the first
    # page to render (see _download_request): under --render auto a crawl that
    # renders nothing starts neither Playwright's driver nor a browser, and http and
    # https (one handler each) do not start a driver each up front.
    lazy = True

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.render = render_config(crawler)
        self.config.target_closed_max_retries = 0
        self.tracker_js = _TRACKER_JS % {"horizon_ms": int(self.render.idle_cap * 1000),
                                         "quiet_ms": int(self.render.quiet * 1000)}
        self.context_serial = 0
        self.context_started = 0  # pages handed to the current context
        self.context_open: Counter[str] = Counter()
        self.inflight: dict[int, int] = {}
        self.idle_pages: defaultdict[str, list[Page]] = defaultdict(list)
        self.start_lock = asyncio.Lock()
        # One slot per tab: a request waits here, not on a context's page semaphore
        # (an idle tab kept for reuse never frees that one), nor on its own deadline.
        self.slots = asyncio.Semaphore(self.render.concurrency)
        #: id(page) -> ids of its requests the guard refused (a set: one request may
        #: both get the refusal and then fail its CORS check).
        self.blocked: dict[int, set[int]] = {}
        self.guard_proxy = GuardProxy(crawl_config(crawler).resolve, self._refused)
        self.guard_started = False

    async def _maybe_launch_in_thread(self) -> None:
        """Not at engine start (see ``lazy``): the first render starts Playwright."""

    async def _engine_started(self) -> None:  # type: ignore[override]
        """Not at engine start (see ``lazy``): the first render starts Playwright."""

    async def _ensure_started(self) -> None:
        async with self.start_lock:
            if not self.guard_started:
                # Before the browser exists: its every connection goes through the proxy.
                url = await self.guard_proxy.start()
                options = self.config.launch_options
                options["args"] = [*options.get("args", []), *proxy_args(url)]
                self.guard_started = True
            if getattr(self, "browser_provider", None) is None:
                await self._launch()
        # Launching Chromium takes ~2 s: not on the first page's deadline.
        await self._maybe_launch_browser()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RenderDownloadHandler:
        return cls(crawler)

    async def _close(self) -> None:
        await super()._close()
        await self.guard_proxy.close()

    # -- the guard ------------------------------------------------------------------
    def _refused(self, reason: str) -> None:
        self.stats.inc_value("linkgraph/render/blocked_requests")
        logger.debug("Browser request refused: %s", reason)

    def _count_refusals(self, page: Page) -> None:
        key = id(page)
        self.blocked[key] = set()
        refused_hosts = self.guard_proxy.refused_hosts

        def note(request: PlaywrightRequest) -> None:
            bucket = self.blocked.get(key)  # None once the tab is closed
            if bucket is not None:
                bucket.add(id(request))

        def on_response(response: PlaywrightResponse) -> None:
            if REFUSED_HEADER in response.headers:
                note(response.request)

        def on_failed(request: PlaywrightRequest) -> None:
            # A refused CONNECT (https, wss) has no response, and a refused fetch() or
            # XHR from another origin fails its CORS check instead of getting one.
            # (Images, fonts and media never leave the browser: not the guard's doing.)
            if (request.resource_type not in BLOCKED_RESOURCES
                    and urlsplit(request.url).hostname in refused_hosts):
                note(request)

        page.on("response", on_response)
        page.on("requestfailed", on_failed)

    # -- contexts -------------------------------------------------------------------
    def _context_name(self) -> str:
        if self.context_started >= self.render.context_pages:
            self.context_serial += 1
            self.context_started = 0
        self.context_started += 1
        return f"lg-{self.context_serial}"

    async def _retire_idle(self) -> None:
        """Close the contexts that are no longer current once their last page is done."""
        current = f"lg-{self.context_serial}"
        for name in [n for n, count in self.context_open.items() if n != current and count <= 0]:
            del self.context_open[name]
            self.idle_pages.pop(name, None)  # closed with their context
            wrapper = self.context_wrappers.get(name)
            if wrapper is not None:
                with suppress(PlaywrightError):
                    await wrapper.context.close()
                self.stats.inc_value("linkgraph/render/contexts_recycled")

    # -- pages ----------------------------------------------------------------------
    async def _create_page(self, request: Request, spider: Spider) -> Page:
        page = await super()._create_page(request, spider)
        request.meta[PAGE_META] = page
        key = id(page)
        self.inflight[key] = 0

        def started(_request: Any) -> None:
            self.inflight[key] = self.inflight.get(key, 0) + 1

        def ended(_request: Any) -> None:
            self.inflight[key] = max(0, self.inflight.get(key, 0) - 1)

        page.on("request", started)
        page.on("requestfinished", ended)
        page.on("requestfailed", ended)
        page.on("close", lambda _page: (self.inflight.pop(key, None), self.blocked.pop(key, None)))
        self._count_refusals(page)
        page.on("dialog", self._dismiss)
        page.on("popup", self._close_popup)
        await page.add_init_script(self.tracker_js)
        return page

    async def _dismiss(self, dialog: Dialog) -> None:
        self.stats.inc_value("linkgraph/render/dialogs")
        with suppress(PlaywrightError):
            await dialog.dismiss()

    async def _close_popup(self, popup: Page) -> None:
        self.stats.inc_value("linkgraph/render/popups")
        with suppress(PlaywrightError):
            await popup.close()

    async def _apply_page_methods(self, page: Page, request: Request, spider: Spider) -> None:
        await self._settle(page)
        await super()._apply_page_methods(page, request, spider)

    async def _settle(self, page: Page) -> None:
        """Wait for late links: see the module docstring. Never raises on the cap."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.render.idle_cap
        key = id(page)
        while True:
            if self.inflight.get(key, 0) == 0 and await page.evaluate(_SETTLED):
                break
            if loop.time() >= deadline:
                self.stats.inc_value("linkgraph/render/idle_capped")
                break
            await asyncio.sleep(_POLL)
        selector = self.render.wait_selector
        if selector:
            # Asked for because settling is not enough: it may take up to half the page's
            # deadline; a page without it is still read (counted: selector_missing).
            try:
                await page.wait_for_selector(selector, state="attached",
                                             timeout=self.render.timeout / 2 * 1000)
            except PlaywrightError:
                self.stats.inc_value("linkgraph/render/selector_missing")

    def _note_blocked(self, request: Request) -> None:
        page = request.meta.get(PAGE_META)
        request.meta[BLOCKED_META] = len(self.blocked.get(id(page), ())) if page is not None else 0

    async def _close_page(self, page: Page | None) -> None:
        if page is not None and not page.is_closed():
            with suppress(PlaywrightError, asyncio.TimeoutError):
                await asyncio.wait_for(page.close(), timeout=10)
                self.stats.inc_value("playwright/page_count/closed")

    async def _download_request(self, request: Request, spider: Spider | None = None) -> Response:
        await self._ensure_started()
        async with self.slots:
            return await self._render(request, spider)

    async def _render(self, request: Request, spider: Spider | None) -> Response:
        name = self._context_name()
        request.meta["playwright_context"] = name
        self.context_open[name] += 1
        await self._retire_idle()
        idle = self.idle_pages[name]
        while idle:
            page = idle.pop()
            if not page.is_closed():
                # The tracker (an init script) and the event handlers stay on the tab.
                request.meta["playwright_page"] = request.meta[PAGE_META] = page
                self.blocked[id(page)] = set()
                self.stats.inc_value("linkgraph/render/tabs_reused")
                break
        # Kept open by scrapy-playwright (also on errors): closed or reused below.
        request.meta["playwright_include_page"] = True
        request.meta.setdefault("playwright_context_kwargs", CONTEXT_KWARGS)
        try:
            response = await asyncio.wait_for(super()._download_request(request, spider),
                                              timeout=self.render.timeout)
        except asyncio.TimeoutError:
            # A tab in an endless loop still closes: the browser kills its process.
            self._note_blocked(request)
            await self._close_page(request.meta.get(PAGE_META))
            raise RenderTimeout(f"no result within {self.render.timeout:g}s") from None
        except BaseException:
            self._note_blocked(request)
            await self._close_page(request.meta.get(PAGE_META))
            raise
        else:
            self._note_blocked(request)
            page = request.meta.get(PAGE_META)
            if page is not None and not page.is_closed():
                if name == f"lg-{self.context_serial}":
                    idle.append(page)
                else:  # its context is retired: no new page will be handed to it
                    await self._close_page(page)
            return response
        finally:
            for key in (PAGE_META, "playwright_page", "playwright_include_page"):
                request.meta.pop(key, None)
            self.context_open[name] -= 1
            await self._retire_idle()
