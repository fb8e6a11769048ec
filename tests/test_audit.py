"""``linkgraph audit``: every check on a fixture web crawled for real, and on rows.

tests/fixtures/audit is a small site built to trip each check once (and the nofollow
ones on every page that carries such a link), beside healthy pages that must not be
reported: a reciprocal hreflang pair, a single redirect, a self-canonical, a live
external link. Every expected finding below is read off the fixture's HTML and
``_site.json`` by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO, crawl_web, run_linkgraph
from linkgraph.analysis.audit import CHECKS, COLUMNS, AuditOptions, audit, mixed_content, summary
from linkgraph.analysis.crawl_views import CrawlViews
from linkgraph.storage.reader import CrawlFolder
from scoring_fixtures import link_row, page_row, write_crawl

pytestmark = pytest.mark.e2e

WEB = REPO / "tests" / "fixtures" / "audit"
A = "http://www.audit-site.com"
O = "http://www.other-site.org"


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Path:
    return crawl_web(WEB, tmp_path_factory.mktemp("audit") / "out")


@pytest.fixture(scope="module")
def findings(crawled) -> dict[str, set[tuple]]:
    table = audit(crawled, AuditOptions(max_links=10))
    assert table.column_names == list(COLUMNS)
    found: dict[str, set[tuple]] = {}
    for row in table.to_pylist():
        found.setdefault(row["check"], set()).add(
            (row["url"], row["src_url"], row["dst_url"], row["final_url"]))
    return found


def test_broken_links_internal_and_external(crawled):
    rows = audit(crawled, checks=["broken_link"]).to_pylist()
    assert {(r["src_url"], r["dst_url"], r["detail"]) for r in rows} == {
        (f"{A}/", f"{A}/broken.html", "internal link to a 404 target"),
        (f"{A}/", f"{O}/missing.html", "external link to a 404 target"),
    }
    assert all(r["severity"] == "error" and r["url"] == r["src_url"] for r in rows)


def test_redirects(findings):
    assert findings["redirect_chain"] == {(f"{A}/old", None, None, f"{A}/new.html")}
    assert findings["redirect_loop"] == {(f"{A}/loop-a", None, None, None)}


def test_canonicals(findings):
    assert findings["canonical_broken"] == {
        (f"{A}/canon-src.html", None, f"{A}/moved-once", f"{A}/about.html")}
    assert findings["canonical_chain"] == {
        (f"{A}/canon-chain.html", None, f"{A}/canon-mid.html", f"{A}/about.html")}


def test_hreflang(findings):
    assert findings["hreflang_no_return"] == {(f"{A}/en.html", f"{A}/en.html", f"{A}/de.html", None)}
    assert findings["hreflang_broken"] == {(f"{A}/en.html", f"{A}/en.html", f"{A}/fr-gone", None)}


def test_nofollow(findings):
    assert findings["nofollow_only_inlinks"] == {(f"{A}/hidden.html", None, None, None)}
    sources = {f"{A}/", f"{A}/about.html", *(f"{A}/about.html?ref={i}" for i in range(12))}
    assert findings["nofollow_internal"] == {(s, s, f"{A}/hidden.html", None) for s in sources}


def test_deep_pages_count_clicks_breadth_first(crawled, findings):
    assert {url for url, *_ in findings["deep_page"]} == {f"{A}/l4.html", f"{A}/hidden.html"}
    rows = {r["url"]: r["detail"] for r in audit(crawled, checks=["deep_page"]).to_pylist()}
    assert rows[f"{A}/l4.html"] == f"4 clicks from {A}/ (more than 3)"
    assert rows[f"{A}/hidden.html"] == f"no followed internal path from {A}/"
    deeper = audit(crawled, AuditOptions(max_clicks=4), checks=["deep_page"])
    assert deeper.column("url").to_pylist() == [f"{A}/hidden.html"]


def test_too_many_links(findings):
    assert {url for url, *_ in findings["too_many_links"]} == {f"{A}/", f"{A}/many.html"}


def test_only_those(findings):
    # Healthy pages and checks with nothing to find stay silent (no https pages, no
    # sitemaps in this crawl).
    assert set(findings) == set(CHECKS) - {"mixed_content", "orphan_page"}


def test_site_filter_and_summary(crawled):
    other = audit(crawled, AuditOptions(site="other-site.org"))
    assert other.num_rows == 0
    counts = summary(audit(crawled)).to_pylist()
    assert [c["check"] for c in counts] == list(CHECKS)
    assert {c["check"]: c["findings"] for c in counts}["broken_link"] == 2


def test_command_formats_and_errors(crawled, tmp_path):
    result = run_linkgraph("audit", str(crawled), "--check", "redirect_chain")
    assert result.returncode == 0, result.stderr
    assert "redirect_chain" in result.stdout and f"{A}/old" in result.stdout
    result = run_linkgraph("audit", str(crawled), "--format", "jsonl", "--max-links", "10")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert list(rows[0]) == list(COLUMNS) and len(rows) > 10
    for args, message in [(["--check", "nope"], "unknown check 'nope'"),
                          (["--site", "http://x.org/"], "not a URL"),
                          (["--site", "nowhere.example"], "not in the crawl")]:
        result = run_linkgraph("audit", str(crawled), *args)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
    result = run_linkgraph("audit", str(tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_mixed_content_rule_on_rows(tmp_path):
    s = "https://secure.example"
    root = write_crawl(tmp_path / "c", [
        link_row(f"{s}/", "http://secure.example/page", ordinal=0),
        link_row(f"{s}/", "http://cdn.other.example/style.css", link_type="stylesheet", ordinal=1),
        link_row(f"{s}/", "http://elsewhere.example/", ordinal=2),   # another site: fine
        link_row(f"{s}/", f"{s}/page", ordinal=3),                   # https: fine
    ], [page_row(f"{s}/")])
    folder = CrawlFolder(root)  # hand-written rows: no manifest, every part read
    rows = mixed_content(CrawlViews(folder, folder.duckdb(), frozenset()),
                         AuditOptions()).to_pylist()
    assert {(r["dst_url"], r["detail"]) for r in rows} == {
        ("http://secure.example/page", "link to an http page of the same site"),
        ("http://cdn.other.example/style.css", "loads an http stylesheet")}
    assert all(r["check"] == "mixed_content" and r["url"] == f"{s}/" for r in rows)


def test_readme_documents_every_check():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Site audit"):]
    assert all(f"| `{name}` | {check.severity} |" in section for name, check in CHECKS.items())
