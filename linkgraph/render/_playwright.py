"""The Scrapy settings that turn rendering on, and the add-on that applies them.

Nothing here is used when ``LINKGRAPH_RENDER=never``: the add-on then leaves the
settings alone, so scrapy-playwright's download handler is not even loaded and no
browser (nor Playwright's driver) starts.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.settings import SETTINGS_PRIORITIES

from linkgraph.render._config import RenderConfig, parse_render_settings

if TYPE_CHECKING:
    from playwright.async_api import Request as PlaywrightRequest
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

HANDLER = "linkgraph.render._handler.RenderDownloadHandler"

#: Resource types a link graph does not need: not fetched by the browser at all.
BLOCKED_RESOURCES = frozenset({"image", "font", "media"})

#: Chromium otherwise reaches out for updates, safe-browsing lists, field trials and
#: sync at every start; on a closed network each of those is a failed connection.
QUIET_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-quic",
    "--disable-gpu",
    "--mute-audio",
)


def abort_request(request: PlaywrightRequest) -> bool:
    """``PLAYWRIGHT_ABORT_REQUEST``: skip images, fonts and media (no links in them)."""
    return request.resource_type in BLOCKED_RESOURCES


#: Chromium resolves no name by itself: every request goes through the guard proxy
#: (:mod:`linkgraph.render._guard_proxy`), which resolves with the crawler's resolver.
#: The proxy's own address is the one exception (the rules apply to IP literals too).
RESOLVER_RULES = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def chromium_args(config: RenderConfig) -> list[str]:
    args = list(QUIET_ARGS)
    args.append(f"--js-flags=--max-old-space-size={config.js_heap_mb}")
    args.append(f"--host-resolver-rules={RESOLVER_RULES}")
    args += config.chromium_args
    return args


def proxy_args(proxy_url: str) -> list[str]:
    """Send everything through the guard proxy; loopback too (Chromium bypasses it by
    default), and no WebRTC UDP, which no HTTP proxy can carry."""
    return [f"--proxy-server={proxy_url}", "--proxy-bypass-list=<-loopback>",
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
            "--webrtc-ip-handling-policy=disable_non_proxied_udp"]


def playwright_settings(config: RenderConfig) -> dict[str, Any]:
    """The Scrapy settings fragment for rendering (empty when the mode is never)."""
    if not config.enabled:
        return {}
    return {
        "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": config.chromium,
            "headless": True,
            "args": chromium_args(config),
        },
        "PLAYWRIGHT_ABORT_REQUEST": f"{__name__}.abort_request",
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": config.concurrency,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": config.timeout * 1000,
    }


class RenderAddon:
    """Scrapy add-on (``ADDONS``): install rendering only when it is asked for.

    Works for ``linkgraph crawl --render`` and ``scrapy crawl links -s
    LINKGRAPH_RENDER=always`` alike, since both read the project settings' ADDONS.
    Values a user set on the command line (``-s PLAYWRIGHT_...``) win.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        config = parse_render_settings(settings)
        if not config.enabled:
            return
        fragment = playwright_settings(config)
        handlers = fragment.pop("DOWNLOAD_HANDLERS")
        current = settings.getdict("DOWNLOAD_HANDLERS")
        for scheme, handler in handlers.items():
            current.setdefault(scheme, handler)
        # The project settings set DOWNLOAD_HANDLERS too (file: etc. off): the merged
        # dict keeps theirs and a user's, so it may take their priority.
        priority = max(settings.getpriority("DOWNLOAD_HANDLERS") or 0, SETTINGS_PRIORITIES["addon"])
        settings.set("DOWNLOAD_HANDLERS", current, priority=priority)
        for name, value in fragment.items():
            settings.set(name, value, priority="addon")
        logger.info("Rendering %s with %s", config.mode, config.chromium)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RenderAddon:
        return cls()
