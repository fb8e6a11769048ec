"""``depth`` is the shortest click distance from a seed, the same in every crawl.

The depth web (tests/fixtures/depth-web) has a slow page of depth 1 whose link is the
short path to ``target.html``, a fast chain that reaches it in 3 more clicks, a redirect
(a hop is not a click) and a second host that is slow to answer. A scheduler that
records the depth of first discovery gets ``target.html`` at 4 when the chain wins.
"""

from __future__ import annotations

import networkx as nx
import pytest

from conftest import REPO, crawl_args, read_rows, run_linkgraph
from linkgraph import settings as project_settings
from linkgraph.demo.localweb import LocalWeb

WWW = "http://www.clicks-example.com"
BLOG = "http://blog.clicks-example.com"
DEPTH_WEB = REPO / "tests" / "fixtures" / "depth-web"
DEMO_WEB = REPO / "data" / "demo-web"

#: Derived by hand from the fixture's pages.
EXPECTED = {
    f"{WWW}/": 0,
    f"{WWW}/slow.html": 1, f"{WWW}/a1.html": 1, f"{WWW}/go": 1, f"{WWW}/b1.html": 1, f"{BLOG}/": 1,
    f"{WWW}/target.html": 2, f"{WWW}/a2.html": 2, f"{WWW}/a3.html": 2, f"{BLOG}/post.html": 2,
    f"{WWW}/t1.html": 3, f"{WWW}/t2.html": 3,
}


def crawl(web, seeds: list[str], out, *extra: str) -> list[dict]:
    with LocalWeb(str(web)) as server:
        result = run_linkgraph("crawl", *seeds, "-o", str(out), *crawl_args(server, *extra))
    assert result.returncode == 0, result.stderr[-3000:]
    # Every held request was released by a finished page, none by Scrapy going idle.
    assert "'linkgraph/pages'" in result.stderr  # the stats were printed
    assert "linkgraph/frontier/idle_releases" not in result.stderr
    return read_rows(out, "pages")


def click_distances(out, seeds: list[str]) -> dict[str, int]:
    """Shortest click distance of every URL, from the crawl's own links table.

    The edges are the links the crawl follows: a followed link type, in scope (the
    seeds' registered domains), from a page that is not nofollow; a redirect costs 0.
    """
    pages = {p["url"]: p for p in read_rows(out, "pages")}
    domains = {p["domain"] for p in pages.values() if p["url"] in seeds}
    follow = set(project_settings.LINKGRAPH_FOLLOW_TYPES)
    graph = nx.DiGraph()
    for link in read_rows(out, "links"):
        src = pages[link["src_url"]]
        robots = f"{src['meta_robots'] or ''} {src['x_robots_tag'] or ''}".lower()
        if (link["link_type"] in follow and link["dst_domain"] in domains
                and "nofollow" not in robots and "none" not in robots):
            graph.add_edge(link["src_url"], link["dst_url"],
                           weight=0 if link["link_type"] == "redirect" else 1)
    graph.add_nodes_from(seeds)
    return nx.multi_source_dijkstra_path_length(graph, seeds)


@pytest.mark.e2e
@pytest.mark.parametrize("concurrency", ["16", "16", "1"])
def test_depth_is_the_shortest_click_distance(concurrency, tmp_path):
    seeds = [f"{WWW}/"]
    out = tmp_path / "out"
    pages = crawl(DEPTH_WEB, seeds, out, "-s", f"CONCURRENT_REQUESTS={concurrency}",
                  "-s", "ROBOTSTXT_OBEY=False")
    depths = {p["url"]: p["depth"] for p in pages}
    assert depths == EXPECTED
    distances = click_distances(out, seeds)
    assert depths == {url: distances[url] for url in depths}


@pytest.mark.e2e
def test_demo_web_depth_is_the_shortest_click_distance(tmp_path):
    seeds = [line for line in (DEMO_WEB / "seeds.txt").read_text().splitlines()
             if line.startswith("http")]
    out = tmp_path / "out"
    pages = crawl(DEMO_WEB, seeds, out)
    distances = click_distances(out, seeds)
    wrong = {p["url"]: (p["depth"], distances.get(p["url"])) for p in pages
             if p["depth"] != distances.get(p["url"])}
    assert not wrong


def test_frontier_rule_lowering_and_idle():
    import scrapy

    from linkgraph.crawl.frontier import DepthFrontier

    released: list[str] = []
    frontier = DepthFrontier(lambda request: released.append(request.url))

    def request(name: str, depth: int) -> scrapy.Request:
        return scrapy.Request(f"http://x.example/{name}", priority=-depth,
                              meta={"lg_depth": depth})

    assert frontier.admit(0, request("seed", 0), 0) is not None
    assert frontier.admit(1, request("a", 1), 1) is not None  # depth 1: nothing at <= -1
    far = request("far", 3)
    assert frontier.admit(3, far, 3) is None and len(frontier) == 1  # depth 0 not done
    assert frontier.admit(2, request("b", 2), 2) is None
    frontier.lower(3, 2)  # a shorter path to a held URL moves it up
    assert far.meta["lg_depth"] == 2 and far.priority == -2
    frontier.lower(3, 5)  # a longer one changes nothing
    assert far.meta["lg_depth"] == 2
    frontier.done(0)  # no page of depth <= 0 is left: depth 2 may go
    assert sorted(released) == ["http://x.example/b", "http://x.example/far"]
    assert len(frontier) == 0
    assert frontier.admit(9, request("deep", 4), 4) is None  # depth 1 and 2 pages still active
    assert frontier.idle() and released[-1] == "http://x.example/deep"  # the valve
    assert not frontier.idle()
