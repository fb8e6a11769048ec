"""The Scrapy settings that turn rendering on, and the add-on that applies them.

Nothing here is used when ``LINKGRAPH_RENDER=never``: the add-on then leaves the
settings alone, so scrapy-playwright's download handler is not even loaded and no
browser (nor Playwright's driver) starts.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.settings import SETTINGS_PRIORITIES

from linkgraph.crawl.config import HostMapping, _as_list, parse_resolve
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


def host_resolver_rules(mapping: dict[str, HostMapping], resolve_only: bool) -> str | None:
    """Chromium's ``--host-resolver-rules`` for a ``--resolve`` mapping.

    The browser must reach the hosts where Scrapy's downloader does. With
    ``resolve_only`` every other name maps to ``~NOTFOUND`` so nothing the page
    asks for leaves the machine; loopback stays reachable (the rules also apply to
    IP literals, and Scrapy lets those through too).
    """
    rules = []
    for host, target in mapping.items():
        ip = f"[{target.ip}]" if ":" in target.ip else target.ip
        rules.append(f"MAP {host} {ip}:{target.port}" if target.port else f"MAP {host} {ip}")
    if resolve_only:
        rules += ["MAP * ~NOTFOUND", "EXCLUDE localhost", "EXCLUDE 127.0.0.1", "EXCLUDE [::1]"]
    elif rules:
        rules.append("EXCLUDE localhost")
    return ", ".join(rules) or None


def chromium_args(config: RenderConfig, mapping: dict[str, HostMapping], resolve_only: bool) -> list[str]:
    args = list(QUIET_ARGS)
    args.append(f"--js-flags=--max-old-space-size={config.js_heap_mb}")
    rules = host_resolver_rules(mapping, resolve_only)
    if rules:
        args.append(f"--host-resolver-rules={rules}")
    args += config.chromium_args
    return args


def playwright_settings(config: RenderConfig, mapping: dict[str, HostMapping],
                        resolve_only: bool) -> dict[str, Any]:
    """The Scrapy settings fragment for rendering (empty when the mode is never)."""
    if not config.enabled:
        return {}
    return {
        "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": config.chromium,
            "headless": True,
            "args": chromium_args(config, mapping, resolve_only),
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
        mapping = parse_resolve(_as_list(settings.get("LINKGRAPH_RESOLVE")))
        fragment = playwright_settings(config, mapping, settings.getbool("LINKGRAPH_RESOLVE_ONLY"))
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
