"""AutoThrottle whose delay also comes down on a run of broken links.

Scrapy's AutoThrottle moves a host's delay towards ``latency / target concurrency`` on
each response, but lowers it only on a 200: error pages are small and fast, and a
server that answers errors faster when it is overloaded would be asked faster still.
That is true of a 503 or a 429, not of a 404: a site's broken links are answered as
fast whatever the crawl's pace, and never more often for being asked faster. So a crawl
that reached a host's broken links kept the delay of the host's last slow 200 (one
latency spike of a busy process): the 424 broken links that end a crawl of the SQLite
documentation went at 17 per second instead of ~300, one run in four.

:class:`LinkThrottle` lowers the delay on 2xx, 3xx and 4xx answers other than 429
(Too Many Requests); a 5xx or a 429 can still only raise it, as in Scrapy. It is
enabled in place of Scrapy's by ``linkgraph/settings.py`` and takes Scrapy's
``AUTOTHROTTLE_*`` settings unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.extensions.throttle import AutoThrottle

if TYPE_CHECKING:
    from scrapy.core.downloader import Slot
    from scrapy.http import Response

#: Answers that say the server is overloaded or limiting: the delay never falls on them.
OVERLOAD = 429


def lowers_delay(status: int) -> bool:
    """Whether a response of ``status`` may bring a host's delay down."""
    return status < 500 and status != OVERLOAD


class LinkThrottle(AutoThrottle):
    """Scrapy's AutoThrottle, with the delay lowered on answers that are not overload
    signals (see the module docstring)."""

    def _adjust_delay(self, slot: Slot, latency: float, response: Response) -> None:
        if response.status == 200 or not lowers_delay(response.status):
            super()._adjust_delay(slot, latency, response)
            return
        # Scrapy's rule, without its "not on a non-200" exception.
        target = latency / self.target_concurrency
        delay = max(target, (slot.delay + target) / 2.0)
        slot.delay = min(max(self.mindelay, delay), self.maxdelay)
