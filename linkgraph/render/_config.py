"""The ``LINKGRAPH_RENDER*`` settings, parsed and checked once per crawl.

:func:`render_config` parses them on first use and caches the result on the crawler,
like :func:`linkgraph.crawl.config.crawl_config`; :func:`parse_render_settings` is the same
check on a plain Settings object (``linkgraph crawl`` runs it before Scrapy starts, so
a bad value is one line, not a traceback).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from linkgraph.crawl.config import number_setting
from linkgraph.errors import UsageError

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

MODES = ("never", "auto", "always")

#: Where Debian's chromium package puts the browser. The binary itself comes first:
#: the /usr/bin wrapper script prints a stray shell warning on every start.
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")


@dataclass(frozen=True, slots=True)
class RenderConfig:
    mode: str
    #: Only URLs this regex matches (re.search) are rendered; None: all.
    pattern: re.Pattern[str] | None
    wait_selector: str | None
    #: Seconds a page may take in all (navigation, waiting, reading the DOM).
    timeout: float
    #: Seconds at most spent waiting for late links after the load event.
    idle_cap: float
    #: Seconds without DOM changes, fetches or short timers that count as settled.
    quiet: float
    #: Pages open at once in the browser.
    concurrency: int
    #: A browser context is replaced after this many pages (memory stays flat).
    context_pages: int
    chromium: str
    chromium_args: tuple[str, ...]
    #: V8 heap limit per tab (MB): a page that allocates without end crashes its tab.
    js_heap_mb: int

    @property
    def enabled(self) -> bool:
        return self.mode != "never"

    def wants(self, url: str) -> bool:
        """Whether ``url`` may be rendered at all (mode and pattern)."""
        return self.mode != "never" and (self.pattern is None or self.pattern.search(url) is not None)


def default_chromium() -> str:
    for path in CHROMIUM_CANDIDATES:
        if os.path.exists(path):
            return path
    return CHROMIUM_CANDIDATES[-1]


def parse_render_settings(settings: BaseSettings) -> RenderConfig:
    """Build a :class:`RenderConfig` from Scrapy settings; raise UsageError if bad."""
    mode = str(settings.get("LINKGRAPH_RENDER") or "never").strip().lower()
    if mode not in MODES:
        raise UsageError(f"LINKGRAPH_RENDER (--render) must be never, auto or always, got {mode!r}")
    pattern_text = settings.get("LINKGRAPH_RENDER_PATTERN") or None
    pattern = None
    if pattern_text:
        try:
            pattern = re.compile(str(pattern_text))
        except re.error as exc:
            raise UsageError(f"--render-pattern {pattern_text!r} is not a valid regex: {exc}") from None
    chromium = settings.get("LINKGRAPH_CHROMIUM") or default_chromium()
    if mode != "never" and not os.path.exists(chromium):
        raise UsageError(f"rendering needs Chromium at {chromium} (apt-get install chromium, "
                         "or set LINKGRAPH_CHROMIUM)")
    extra = settings.get("LINKGRAPH_CHROMIUM_ARGS") or []
    if isinstance(extra, str):
        extra = extra.split()
    return RenderConfig(
        mode=mode,
        pattern=pattern,
        wait_selector=settings.get("LINKGRAPH_RENDER_WAIT_SELECTOR") or None,
        timeout=number_setting(settings, "LINKGRAPH_RENDER_TIMEOUT", float, 0.1),
        idle_cap=number_setting(settings, "LINKGRAPH_RENDER_IDLE_CAP", float, 0.0),
        quiet=number_setting(settings, "LINKGRAPH_RENDER_QUIET", float, 0.0),
        concurrency=number_setting(settings, "LINKGRAPH_RENDER_CONCURRENCY", int, 1),
        context_pages=number_setting(settings, "LINKGRAPH_RENDER_CONTEXT_PAGES", int, 1),
        chromium=str(chromium),
        chromium_args=tuple(str(a) for a in extra),
        js_heap_mb=number_setting(settings, "LINKGRAPH_RENDER_JS_HEAP_MB", int, 16),
    )


#: One parsed config per crawler (the spider, the add-on's handler and tests share it).
_CONFIGS: WeakKeyDictionary[Crawler, RenderConfig] = WeakKeyDictionary()


def render_config(crawler: Crawler) -> RenderConfig:
    """Return the crawl's render config, parsed on first use."""
    try:
        return _CONFIGS[crawler]
    except KeyError:
        config = _CONFIGS[crawler] = parse_render_settings(crawler.settings)
        return config
