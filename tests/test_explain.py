"""`linkgraph explain` and the spam mass of `score --trusted`, on webs crawled for real.

The textbook graph is networkx's PageRank test graph (six nodes, node 2 dangling),
whose PageRank its tests give to eight decimals; here each node is a page of a web
served on loopback and crawled, with link rows the scoring rules must drop (a nofollow
link, a self-link, a repeated link). The demo web's link farm must get a high spam
mass and its trusted site a low one.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import crawl_args, run_linkgraph
from linkgraph.demo.localweb import LocalWeb

pytestmark = pytest.mark.e2e  # every test reads a crawl made for real

#: networkx's test graph (its tests/test_pagerank.py), its damping and PageRank there.
ALPHA = 0.9
EDGES = [(1, 2), (1, 3), (3, 1), (3, 2), (3, 5), (5, 4), (5, 6), (4, 5), (4, 6), (6, 4)]
NX_PAGERANK = {1: 0.03721197, 2: 0.05395735, 3: 0.04150565, 4: 0.37508082,
               5: 0.20599833, 6: 0.28624589}
URL = {1: "http://www.alpha.org/", 2: "http://www.alpha.org/two.html",
       3: "http://www.beta.org/", 4: "http://www.gamma.org/",
       5: "http://www.gamma.org/five.html", 6: "http://blog.gamma.org/"}
DOMAIN = {1: "alpha.org", 2: "alpha.org", 3: "beta.org", 4: "gamma.org", 5: "gamma.org",
          6: "gamma.org"}


def _write_web(root: Path) -> Path:
    """The textbook graph as HTML pages, one folder per host; returns the seeds file."""
    extra = {2: '<a rel="nofollow" href="http://www.alpha.org/">home</a>',  # passes nothing
             4: '<a href="http://www.gamma.org/">self</a>',  # a self-link
             5: '<a href="http://blog.gamma.org/">again</a>'}  # a repeat of 5 -> 6
    for node, url in URL.items():
        parts = urlsplit(url)
        links = "".join(f'<a href="{URL[v]}">to {v}</a>\n' for u, v in EDGES if u == node)
        page = root / parts.hostname / (parts.path.lstrip("/") or "index.html")
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<html><head><title>page {node}</title></head><body>\n{links}"
                        f"{extra.get(node, '')}</body></html>\n", encoding="utf-8")
    seeds = root / "seeds.txt"
    seeds.write_text("".join(u + "\n" for u in URL.values()), encoding="utf-8")
    return seeds


def _crawl(web: Path, seeds: Path, out: Path) -> None:
    with LocalWeb(str(web)) as server:
        result = run_linkgraph("crawl", str(seeds), "-o", str(out), *crawl_args(server))
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture(scope="module")
def textbook(tmp_path_factory) -> Path:
    web = tmp_path_factory.mktemp("web")
    out = tmp_path_factory.mktemp("crawl") / "textbook"
    _crawl(web, _write_web(web), out)
    result = run_linkgraph("score", str(out), "--alpha", str(ALPHA), "--tol", "1e-12",
                           "-q")
    assert result.returncode == 0, result.stderr
    return out


def _explain(folder: Path, url: str, *args: str) -> list[dict]:
    result = run_linkgraph("explain", str(folder), url, "--format", "jsonl", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_scores_are_the_textbook_pagerank(textbook):
    pages = {r["url"]: r for r in pq.read_table(textbook / "scores" / "pages.parquet").to_pylist()}
    assert set(pages) == set(URL.values())
    for node, url in URL.items():
        assert pages[url]["pagerank"] == pytest.approx(NX_PAGERANK[node], abs=1e-8)


@pytest.mark.parametrize("node", sorted(URL))
def test_shares_add_up_to_pagerank(textbook, node):
    """Every in-link of the textbook graph is a row with alpha*PR(u)/outdeg(u); the
    nofollow link, the self-link and the repeat are not; with the teleport and dangling
    terms the rows add up to PR(v) within the convergence bound."""
    from linkgraph.analysis.explain import explain_page

    pr = {u: row["pagerank"] for u, row in (
        (next(k for k, v in URL.items() if v == r["url"]), r)
        for r in pq.read_table(textbook / "scores" / "pages.parquet").to_pylist())}
    out_degree = {u: sum(1 for a, _ in EDGES if a == u) for u in URL}
    result = explain_page(textbook, URL[node])
    rows = result.table.to_pylist()
    links = [r for r in rows if r["term"] == "link"]
    assert sorted(r["src_url"] for r in links) == sorted(URL[u] for u, v in EDGES if v == node)
    for r in links:
        u = next(k for k, v in URL.items() if v == r["src_url"])
        assert r["src_out_weight"] == out_degree[u] and r["weight"] == 1
        assert r["contribution"] == pytest.approx(ALPHA * pr[u] / out_degree[u], rel=1e-12)
        assert r["src_domain"] == DOMAIN[u]
    terms = {r["term"]: r for r in rows if r["term"] != "link"}
    assert terms["teleport"]["contribution"] == pytest.approx((1 - ALPHA) / 6, rel=1e-12)
    # Node 2 is the only dangling page (its nofollow link is no scoring edge).
    assert terms["dangling"]["src_pagerank"] == pytest.approx(pr[2], rel=1e-12)
    assert terms["dangling"]["contribution"] == pytest.approx(ALPHA * pr[2] / 6, rel=1e-12)
    total = sum(r["contribution"] for r in rows)
    assert total == pytest.approx(result.total, abs=1e-15)
    assert abs(total - pr[node]) <= result.bound <= ALPHA * 1e-12
    assert sum(r["share"] for r in rows) == pytest.approx(1.0, abs=1e-10)
    assert any(line.startswith("check: sum of the terms") for line in result.summary)


def test_by_domain_and_top(textbook):
    """--by domain sums each referring domain's links; --top keeps the sum exact by
    folding the rest into one row."""
    by_link = _explain(textbook, URL[4])
    by_domain = _explain(textbook, URL[4], "--by", "domain")
    want: dict[str, float] = {}
    for r in by_link:
        if r["term"] == "link":
            want[r["src_domain"]] = want.get(r["src_domain"], 0.0) + r["contribution"]
    got = {r["src_domain"]: r for r in by_domain if r["term"] == "domain"}
    assert set(got) == set(want) == {"gamma.org"}
    assert got["gamma.org"]["links"] == 2
    assert got["gamma.org"]["contribution"] == pytest.approx(want["gamma.org"], rel=1e-12)
    top1 = _explain(textbook, URL[4], "--top", "1")
    assert [r["term"] for r in top1] == ["link", "other links", "teleport", "dangling"]
    assert top1[0] == by_link[0] and top1[1]["links"] == 1
    assert sum(r["contribution"] for r in top1) == pytest.approx(
        sum(r["contribution"] for r in by_link), abs=1e-15)


def test_same_columns_in_every_format(textbook, tmp_path):
    jsonl = _explain(textbook, URL[5])
    csv = run_linkgraph("explain", str(textbook), URL[5], "--format", "csv")
    assert csv.returncode == 0 and "check: sum of the terms" in csv.stderr
    assert csv.stdout.splitlines()[0].split(",") == list(jsonl[0])
    out = tmp_path / "e.parquet"
    assert run_linkgraph("explain", str(textbook), URL[5], "-o", str(out)).returncode == 0
    assert pq.read_table(out).column_names == list(jsonl[0])
    table = run_linkgraph("explain", str(textbook), URL[5])
    assert table.stdout.splitlines()[0].startswith(URL[5] + ": PageRank")
    assert "term" in table.stdout and "teleport" in table.stdout


def test_bad_input_is_one_line_and_exit_2(textbook, tmp_path):
    unscored = tmp_path / "unscored"
    unscored.mkdir()
    for sub in ("links", "pages", "nodes", "crawl.json"):
        src = textbook / sub
        (unscored / sub).symlink_to(src, target_is_directory=src.is_dir())
    cases = [
        ((str(textbook), "http://www.alpha.org/nowhere.html"), "is not a page of the crawl"),
        ((str(tmp_path), URL[1]), "holds no linkgraph crawl"),
        ((str(tmp_path / "missing"), URL[1]), "is not a folder"),
        ((str(unscored), URL[1]), "is not scored"),
        ((str(textbook), "www.alpha.org"), "explain takes one page's URL"),
    ]
    for args, message in cases:
        result = run_linkgraph("explain", *args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, result.stderr)


def test_explain_reads_the_graph_the_score_used(textbook, tmp_path):
    """Scored with other rules (nofollow followed), explain applies those rules: the
    nofollow link 2 -> 1 is then an edge and page 2 is no longer dangling."""
    import shutil

    folder = tmp_path / "rescored"
    shutil.copytree(textbook, folder)
    scores = folder / "scores"
    result = run_linkgraph("score", str(folder), "--alpha", str(ALPHA), "--follow-nofollow",
                           "-q")
    assert result.returncode == 0, result.stderr
    rows = _explain(folder, URL[1])
    assert URL[2] in [r["src_url"] for r in rows if r["term"] == "link"]
    dangling = next(r for r in rows if r["term"] == "dangling")
    assert dangling["contribution"] == 0.0
    pr = {r["url"]: r["pagerank"] for r in pq.read_table(scores / "pages.parquet").to_pylist()}
    assert abs(sum(r["contribution"] for r in rows) - pr[URL[1]]) <= ALPHA * 1e-9


def test_explain_on_a_crawl_that_went_on_after_the_score(textbook, tmp_path):
    """A crawl only appends committed batches: explain reads each dataset up to the
    rows the score read, so new batches (here a later session's copy of the first,
    whose node ids would clash with the scored ones) change nothing; a folder whose
    parts no longer begin with those rows is told to score again."""
    import shutil

    from linkgraph.analysis.explain import explain_page

    folder = tmp_path / "grown"
    shutil.copytree(textbook, folder)
    before = explain_page(folder, URL[4])
    for dataset in ("nodes", "links", "pages"):
        first = sorted((folder / dataset).glob("part-*.parquet"))[0]
        shutil.copy(first, folder / dataset / "part-999-00000.parquet")
    after = explain_page(folder, URL[4])
    assert after.table.equals(before.table) and after.total == before.total
    # One link row fewer in the first part: not the rows the score read.
    first = sorted((folder / "links").glob("part-*.parquet"))[0]
    pq.write_table(pq.read_table(first).slice(1), first)
    result = run_linkgraph("explain", str(folder), URL[4])
    assert result.returncode == 2 and "run `linkgraph score" in result.stderr


def test_spam_mass_is_the_core_based_estimate(textbook, tmp_path):
    """spam_mass = 1 - p'/p with p' the PageRank of walks whose jumps land on the
    core, scaled to carry gamma of them (Gyöngyi et al. 2006), solved here as a linear
    system on the textbook graph, apart from the scorer."""
    trusted = tmp_path / "trusted.txt"
    trusted.write_text(URL[3] + "\n", encoding="utf-8")
    for gamma in (0.85, 1 / 6):
        scores = tmp_path / f"scores-{gamma:.3f}"
        result = run_linkgraph("score", str(textbook), "--alpha", str(ALPHA), "--trusted",
                               str(trusted), "--tol",
                               "1e-13", "--good-fraction", str(gamma), "-o", str(scores), "-q")
        assert result.returncode == 0, result.stderr
        pages = {r["url"]: r for r in pq.read_table(scores / "pages.parquet").to_pylist()}
        nodes = sorted(URL)
        index = {u: i for i, u in enumerate(nodes)}
        p = np.array([pages[URL[u]]["pagerank"] for u in nodes])
        transition = np.zeros((6, 6))
        for u, v in EDGES:
            transition[index[u], index[v]] = 1.0
        out = transition.sum(axis=1)
        dangling = out == 0
        transition[~dangling] /= out[~dangling, None]
        jump = (1 - ALPHA) + ALPHA * p[dangling].sum()
        core = np.zeros(6)
        core[index[3]] = gamma * jump  # the core's one page gets gamma of the jumps
        core_based = np.linalg.solve(np.eye(6) - ALPHA * transition.T, core)
        want = 1 - core_based / p
        got = np.array([pages[URL[u]]["spam_mass"] for u in nodes])
        assert np.allclose(got, want, atol=1e-9), (gamma, got, want)
        if gamma == 1 / 6:
            # Unscaled (the core keeps its own uniform jump share): a share in [0, 1].
            assert (got >= -1e-9).all() and (got <= 1).all()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from linkgraph.demo import demo_web_root

    root = demo_web_root()
    out = tmp_path_factory.mktemp("demo") / "crawl"
    _crawl(root, root / "seeds.txt", out)
    result = run_linkgraph("score", str(out), "--trusted", str(root / "trusted.txt"), "-q")
    assert result.returncode == 0, result.stderr
    return out


def test_demo_farm_has_high_spam_mass_trusted_low(demo):
    pages = pq.read_table(demo / "scores" / "pages.parquet").to_pylist()
    farm = [r for r in pages if r["domain"] == "cheap-seeds-deals.biz"]
    trusted = [r for r in pages if r["domain"] == "soil-science-journal.org"]
    rest = [r for r in pages if r not in farm and r not in trusted and r["status"] == 200]
    assert farm and trusted and rest
    # The farm's pages vote for each other: PageRank above most honest pages, no trust.
    assert min(r["pagerank"] for r in farm) > np.median([r["pagerank"] for r in rest])
    assert all(r["spam_mass"] == 1.0 for r in farm)
    assert max(r["spam_mass"] for r in trusted) < 0
    assert max(r["spam_mass"] for r in rest) < min(r["spam_mass"] for r in farm)
    domains = {r["domain"]: r
               for r in pq.read_table(demo / "scores" / "domains.parquet").to_pylist()}
    assert domains["cheap-seeds-deals.biz"]["spam_mass"] == 1.0
    assert domains["soil-science-journal.org"]["spam_mass"] < 0
    assert all(r["spam_mass"] < 1.0 for d, r in domains.items() if d != "cheap-seeds-deals.biz")
    hosts = pq.read_table(demo / "scores" / "hosts.parquet").column_names
    assert "spam_mass" in hosts


def test_explain_on_the_demo_lists_source_spam_mass(demo):
    rows = _explain(demo, "http://www.cheap-seeds-deals.biz/")
    links = [r for r in rows if r["term"] == "link"]
    assert links and all(r["src_domain"] == "cheap-seeds-deals.biz" for r in links)
    assert all(r["src_spam_mass"] == 1.0 for r in links)
