"""Rendering pages in a real Chromium through scrapy-playwright (``--render``).

* :mod:`._config` — the ``LINKGRAPH_RENDER*`` settings, parsed once.
* :mod:`._detect` — the ``auto`` rule: does the raw HTML look script-built?
* :mod:`._merge` — raw + rendered links into one list with ``found_in``.
* :mod:`._playwright` — the settings fragment and the add-on that installs it.
* :mod:`._handler` — the download handler: settle, deadline, crashes, contexts.
* :mod:`._guard_proxy` — the browser's only way out, through the private-address guard.
* :mod:`._spider` — what the links spider does with it.
"""

from __future__ import annotations

from linkgraph.render._config import RenderConfig, parse_render_settings, render_config
from linkgraph.render._detect import render_reason
from linkgraph.render._merge import merge_links
from linkgraph.render._playwright import RenderAddon, playwright_settings
from linkgraph.render._spider import RenderMixin

__all__ = ["RenderAddon", "RenderConfig", "RenderMixin", "merge_links", "parse_render_settings",
           "playwright_settings", "render_config", "render_reason"]
