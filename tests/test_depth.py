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
