"""LinkThrottle: Scrapy's AutoThrottle, with the delay brought down by broken links too."""

from __future__ import annotations

import pytest
from scrapy.core.downloader import Slot
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from linkgraph.crawl.extensions.throttle import LinkThrottle
from linkgraph.spiders.links import LinksSpider


def throttle() -> LinkThrottle:
    crawler = get_crawler(LinksSpider, {"AUTOTHROTTLE_ENABLED": True,
                                        "AUTOTHROTTLE_TARGET_CONCURRENCY": 2.0,
                                        "DOWNLOAD_DELAY": 0.0, "AUTOTHROTTLE_MAX_DELAY": 30.0})
    extension = LinkThrottle(crawler)
    extension.mindelay, extension.maxdelay = 0.0, 30.0
    return extension


def after(status: int, responses: int = 10, start: float = 0.06, latency: float = 0.002) -> float:
    """The slot delay after ``responses`` fast answers of ``status``, from ``start``."""
    extension = throttle()
    slot = Slot(concurrency=4, delay=start, jitter=0.0)
    for _ in range(responses):
        extension._adjust_delay(slot, latency, Response("http://a.test/", status=status))
    return slot.delay


@pytest.mark.parametrize("status", [200, 301, 404, 410])
def test_fast_answers_bring_the_delay_down(status):
    # The delay a slow 200 left (60 ms) halves towards latency / 2 on each answer.
    assert after(status) == pytest.approx(0.001 + 0.059 / 2**10)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_overload_answers_never_lower_it(status):
    assert after(status) == 0.06
    # ... but raise it, as Scrapy's does.
    assert after(status, responses=1, latency=0.4) == pytest.approx(0.2)


def test_it_replaces_scrapys_in_the_project_settings():
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("linkgraph.settings")
    enabled = settings.get_component_priority_dict_with_base("EXTENSIONS")
    assert "linkgraph.crawl.extensions.throttle.LinkThrottle" in enabled
    assert "scrapy.extensions.throttle.AutoThrottle" not in enabled
