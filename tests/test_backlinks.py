"""``linkgraph backlinks`` and the shared crawl views, on a fixture web crawled for real.

tests/fixtures/backlinks is a small web around ``target.com`` (www and shop hosts):
referring pages on ``ref-one.org`` (two hosts), ``ref-two.net`` and ``rival.net``,
a page that answers 410, one that redirects, and competitors ``rival.net`` and
``other-rival.com`` that ``gap-only.io`` links to. Every expected row below is read
off the fixture's HTML by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, crawl_args, run_linkgraph
from linkgraph.analysis.crawl_views import open_views
from linkgraph.analysis.target import parse_target
from linkgraph.demo.localweb import LocalWeb
from linkgraph.errors import UsageError

WEB = REPO / "tests" / "fixtures" / "backlinks"
T = "http://www.target.com"


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("backlinks") / "out"
    with LocalWeb(str(WEB)) as server:
        result = run_linkgraph("crawl", str(WEB / "seeds.txt"), "-o", str(out), "-q",
                               *crawl_args(server))
    assert result.returncode == 0, result.stderr
    return out


def test_page_outcome_view(crawled):
    views = open_views(crawled)
    rows = views.query("SELECT url, outcome, broken FROM page_outcome "
                       "WHERE url LIKE 'http://www.target.com/%' ORDER BY url").to_pylist()
    assert rows == [
        {"url": f"{T}/", "outcome": "200", "broken": False},
        {"url": f"{T}/gone", "outcome": "410", "broken": True},
        {"url": f"{T}/old", "outcome": "301", "broken": False},
        {"url": f"{T}/page-a.html", "outcome": "200", "broken": False},
    ]
    assert views.scored == frozenset()


def test_unknown_target_and_not_a_crawl(crawled, tmp_path):
    views = open_views(crawled)
    views.require_target(parse_target("target.com"))
    views.require_target(parse_target(f"{T}/gone"))
    with pytest.raises(UsageError, match="www.nowhere.com is not in the crawl"):
        views.require_target(parse_target("www.nowhere.com"))
    with pytest.raises(UsageError, match="holds no linkgraph crawl"):
        open_views(tmp_path)
