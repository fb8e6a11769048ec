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


def rows(table) -> list[tuple]:
    return [tuple(r.values()) for r in table.to_pylist()]


LINK_COLUMNS = ["src_url", "dst_url", "anchor_text", "rel", "nofollow", "sponsored", "ugc",
                "link_type", "position", "src_domain", "dst_status"]
R1, R1B, R2, RIVAL = ("http://www.ref-one.org/", "http://blog.ref-one.org/post.html",
                      "http://www.ref-two.net/", "http://www.rival.net/")
# The external backlinks of target.com, in the fixture's HTML order per source page.
EXTERNAL_LINKS = [
    (R1B, f"{T}/page-a.html", "Page A", ["sponsored"], False, True, False, "anchor", None,
     "ref-one.org", "200"),
    (R1B, f"{T}/old", "Old page", [], False, False, False, "anchor", None, "ref-one.org", "301"),
    (R1, f"{T}/", "Target home", [], False, False, False, "anchor", "main", "ref-one.org", "200"),
    (R1, f"{T}/page-a.html", "Page A", ["nofollow"], True, False, False, "anchor", "main",
     "ref-one.org", "200"),
    (R1, f"{T}/gone", "Gone page", [], False, False, False, "anchor", "main", "ref-one.org",
     "410"),
    (R2, f"{T}/page-a.html", "Page A", ["ugc"], False, False, True, "anchor", "footer",
     "ref-two.net", "200"),
    (RIVAL, f"{T}/", "Target", [], False, False, False, "anchor", None, "rival.net", "200"),
]


def test_link_view(crawled):
    from linkgraph.analysis.backlinks import backlinks

    table = backlinks(crawled, "target.com")
    assert table.column_names == LINK_COLUMNS
    assert rows(table) == EXTERNAL_LINKS
    # A host covers its pages (all of target.com's backlinks point at www); a URL one page.
    assert rows(backlinks(crawled, "www.target.com")) == EXTERNAL_LINKS
    assert rows(backlinks(crawled, f"{T}/")) == [EXTERNAL_LINKS[2], EXTERNAL_LINKS[6]]
    assert rows(backlinks(crawled, "shop.target.com")) == []
    assert rows(backlinks(crawled, "target.com", top=2)) == EXTERNAL_LINKS[:2]


def test_domain_view(crawled):
    from linkgraph.analysis.backlinks import backlinks

    table = backlinks(crawled, "target.com", "domain")
    assert table.column_names == ["domain", "links", "follow_links", "nofollow_links",
                                  "sponsored_links", "ugc_links", "pages", "target_pages",
                                  "top_anchor"]
    # ref-one.org: 5 links from www (3) and blog (2), 3 followed (home, gone, old), one
    # nofollow, one sponsored; 2 source pages, 4 target pages; "Page A" twice.
    assert rows(table) == [("ref-one.org", 5, 3, 1, 1, 0, 2, 4, "Page A"),
                           ("ref-two.net", 1, 0, 0, 0, 1, 1, 1, "Page A"),
                           ("rival.net", 1, 1, 0, 0, 0, 1, 1, "Target")]
    # --include-internal adds target.com's own links into www: shop's link, the home
    # page's, page-a's and the redirect of /old (4 links from 4 pages to 2 pages).
    internal = rows(backlinks(crawled, "www.target.com", "domain", include_internal=True))
    assert ("target.com", 4, 4, 0, 0, 0, 4, 2, "Page A") in internal
    assert len(internal) == 4


def test_anchor_and_page_views(crawled):
    from linkgraph.analysis.backlinks import backlinks

    anchors = backlinks(crawled, "target.com", "anchor")
    assert anchors.column_names == ["anchor", "links", "domains", "follow_share"]
    assert rows(anchors) == [("Page A", 3, 2, 0.0), ("Gone page", 1, 1, 1.0),
                             ("Old page", 1, 1, 1.0), ("Target", 1, 1, 1.0),
                             ("Target home", 1, 1, 1.0)]
    pages = backlinks(crawled, "target.com", "page")
    assert pages.column_names == ["url", "status", "referring_domains",
                                  "followed_referring_domains", "links", "follow_links"]
    assert rows(pages) == [(f"{T}/page-a.html", "200", 2, 0, 3, 0),
                           (f"{T}/", "200", 2, 2, 2, 2),
                           (f"{T}/gone", "410", 1, 1, 1, 1),
                           (f"{T}/old", "301", 1, 1, 1, 1)]


def test_filters_and_totals(crawled):
    from linkgraph.analysis.backlinks import backlinks, totals

    assert rows(backlinks(crawled, "target.com", broken=True)) == [EXTERNAL_LINKS[4]]
    followed = [EXTERNAL_LINKS[i] for i in (1, 2, 4, 6)]
    assert rows(backlinks(crawled, "target.com", follow_only=True)) == followed
    assert totals(crawled, "target.com") == (7, 3, 2)
    assert totals(crawled, f"{T}/page-a.html") == (3, 2, 0)
    # Internal links (shop's, the home page's two, page-a's, the redirect) add rows,
    # never referring domains.
    assert totals(crawled, "target.com", include_internal=True) == (12, 3, 2)


def test_link_gap(crawled):
    from linkgraph.analysis.backlinks import link_gap

    gap = link_gap(crawled, "target.com", ["rival.net", "www.other-rival.com"])
    assert gap.column_names == ["domain", "competitors", "links"]
    # ref-one.org links to rival.net but also to the target; ref-two.net too (ugc).
    assert rows(gap) == [("gap-only.io", ["rival.net", "www.other-rival.com"], 2)]
    # Counting followed links only, ref-two.net's ugc link to the target is not one.
    assert rows(link_gap(crawled, "target.com", ["rival.net", "www.other-rival.com"],
                         follow_only=True)) == [
        ("gap-only.io", ["rival.net", "www.other-rival.com"], 2),
        ("ref-two.net", ["rival.net", "www.other-rival.com"], 2)]
    with pytest.raises(UsageError, match="nowhere.com is not in the crawl"):
        link_gap(crawled, "target.com", ["nowhere.com"])


def test_scored_folder_agrees_with_the_scores(crawled, tmp_path):
    """With scores, the views carry authority; the scores count referring domains
    exactly as backlinks does (one definition)."""
    import shutil

    import duckdb

    from linkgraph.analysis.backlinks import backlinks, totals

    folder = tmp_path / "scored"
    shutil.copytree(crawled, folder)
    trusted = tmp_path / "trusted.txt"
    trusted.write_text("www.ref-one.org\n")
    result = run_linkgraph("score", str(folder), "--trusted", str(trusted))
    assert result.returncode == 0, result.stderr
    links = backlinks(folder, "target.com")
    assert links.column_names == [*LINK_COLUMNS[:-1], "src_authority",
                                  "src_domain_authority", "dst_status"]
    assert sorted(r[:11] for r in rows(links.select(LINK_COLUMNS))) == sorted(EXTERNAL_LINKS)
    assert all(r["src_authority"] is not None for r in links.to_pylist())
    domains = backlinks(folder, "target.com", "domain")
    assert domains.column_names[-3:] == ["authority", "trust", "top_anchor"]
    con = duckdb.connect()
    scores = folder / "scores"
    # A domain's trust is that of its most trusted page; ref-one.org's home is the seed.
    best = dict(con.sql(f"SELECT domain, max(trust_score) FROM '{scores}/pages.parquet' "
                        "GROUP BY domain").fetchall())
    assert {r["domain"]: r["trust"] for r in domains.to_pylist()} == {
        d: best[d] for d in ("ref-one.org", "ref-two.net", "rival.net")}
    assert best["ref-one.org"] > 0 and best["ref-two.net"] == 0
    by_url = {url: (ref, followed) for url, ref, followed in con.sql(
        f"SELECT url, referring_domains, followed_referring_domains "
        f"FROM '{scores}/pages.parquet'").fetchall()}
    for row in backlinks(folder, "target.com", "page").to_pylist():
        assert by_url[row["url"]] == (row["referring_domains"],
                                      row["followed_referring_domains"]), row["url"]
    for table, name in (("hosts", "www.target.com"), ("domains", "target.com")):
        key = table[:-1]
        got = con.sql(f"SELECT referring_domains, followed_referring_domains FROM "
                      f"'{scores}/{table}.parquet' WHERE {key} = '{name}'").fetchall()[0]
        assert got == totals(folder, name)[1:] == (3, 2)


def test_a_killed_crawl_reads_its_committed_rows(crawled, tmp_path):
    """A links part written after the last commit (a kill between renames) is not
    read: the answer is what resuming would keep."""
    import shutil

    from linkgraph.analysis.backlinks import backlinks

    folder = tmp_path / "killed"
    shutil.copytree(crawled, folder)
    parts = sorted((folder / "links").glob("part-*.parquet"))
    shutil.copy(parts[-1], folder / "links" / "part-999-00001.parquet")
    shutil.copy(sorted((folder / "nodes").glob("part-*.parquet"))[-1],
                folder / "nodes" / "part-999-00001.parquet")
    assert rows(backlinks(folder, "target.com")) == EXTERNAL_LINKS


def test_command_formats_and_errors(crawled, tmp_path):
    import csv
    import json

    import pyarrow.parquet as pq

    from linkgraph.analysis import backlinks as library
    from linkgraph.commands import backlinks as command

    assert command.VIEWS == library.VIEWS
    base = ["backlinks", str(crawled), "target.com", "--by", "domain"]
    table = run_linkgraph(*base)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == ("target.com: 7 backlinks from 3 referring domains "
                        "(2 with followed links); by domain")
    assert lines[2].split() == ["domain", "links", "follow_links", "nofollow_links",
                                "sponsored_links", "ugc_links", "pages", "target_pages",
                                "top_anchor"]
    assert lines[4].split() == ["ref-one.org", "5", "3", "1", "1", "0", "2", "4", "Page", "A"]
    header = lines[2].split()
    out_csv, out_jsonl, out_parquet = (tmp_path / f"d.{s}" for s in ("csv", "jsonl", "parquet"))
    for path in (out_csv, out_jsonl, out_parquet):
        done = run_linkgraph(*base, "-o", str(path))
        assert done.returncode == 0, done.stderr
    assert next(csv.reader(out_csv.read_text().splitlines())) == header
    assert list(json.loads(out_jsonl.read_text().splitlines()[0])) == header
    assert pq.read_schema(out_parquet).names == header
    assert pq.read_table(out_parquet).num_rows == 3
    broken = run_linkgraph("backlinks", str(crawled), "target.com", "--broken")
    assert broken.stdout.splitlines()[0] == ("target.com: 1 backlink from 1 referring domain "
                                             "(1 with followed links); by link")
    gap = run_linkgraph("backlinks", str(crawled), "target.com", "--gap", "rival.net",
                        "--format", "jsonl")
    assert gap.returncode == 0, gap.stderr
    assert [json.loads(line) for line in gap.stdout.splitlines()] == [
        {"domain": "gap-only.io", "competitors": ["rival.net"], "links": 1}]
    for args, message in (
            ([str(crawled), "nowhere.com"], "TARGET nowhere.com is not in the crawl"),
            ([str(tmp_path), "target.com"], "holds no linkgraph crawl"),
            ([str(tmp_path / "missing"), "target.com"], "is not a folder"),
            ([str(crawled), "ftp://target.com/"], "only http(s) URLs"),
            ([str(crawled), "target.com", "--gap", "rival.net", "--broken"], "does not combine"),
            ([str(crawled), "target.com", "--top", "-1"], "--top -1")):
        bad = run_linkgraph("backlinks", *args)
        assert bad.returncode == 2, (args, bad.stderr)
        assert bad.stderr.strip().splitlines() == [f"linkgraph: error: {bad.stderr.split('error: ', 1)[1].strip()}"]
        assert message in bad.stderr and "Traceback" not in bad.stderr


def test_a_damaged_part_is_one_line(crawled, tmp_path):
    import shutil

    folder = tmp_path / "damaged"
    shutil.copytree(crawled, folder)
    part = sorted((folder / "links").glob("part-*.parquet"))[-1]
    part.write_bytes(part.read_bytes()[:100])
    bad = run_linkgraph("backlinks", str(folder), "target.com", "--by", "domain")
    assert bad.returncode == 2, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    assert "cannot read the crawl's Parquet files" in bad.stderr
