"""``linkgraph diff``: a fixture web crawled twice over loopback, before and after edits.

tests/fixtures/diff-web-old and diff-web-new are the same five sites; the edits (see
the blog's index.html and each site's _site.json and robots.txt) exercise every reason.
The NEW crawl runs with LINKGRAPH_MAX_LINKS_PER_PAGE=18 (many.html has 20 links),
DOWNLOAD_TIMEOUT=1 without retries (post-slow.html answers after 3 s). The expected
rows below are derived by hand from those files, not from a run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import REPO, crawl_args, run_linkgraph
from linkgraph.cli import main
from linkgraph.analysis.diff import COLUMNS, SUMMARY_COLUMNS, diff_crawls, diff_summary, open_pair
from linkgraph.demo.localweb import LocalWeb
from linkgraph.errors import UsageError

pytestmark = pytest.mark.e2e  # every test here reads the two real crawls
FIXTURES = REPO / "tests" / "fixtures"
NEW_CRAWL_SETTINGS = ("-s", "LINKGRAPH_MAX_LINKS_PER_PAGE=18", "-s", "DOWNLOAD_TIMEOUT=1",
                      "-s", "RETRY_ENABLED=False")
B, S = "http://www.blog-site.org", "http://www.shop-site.com"


def _crawl(web: str, out: Path, *extra: str) -> None:
    with LocalWeb(str(FIXTURES / web)) as server:
        result = run_linkgraph("crawl", str(FIXTURES / web / "seeds.txt"), "-o", str(out),
                               *crawl_args(server, *extra))
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture(scope="module")
def crawls(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("diff")
    _crawl("diff-web-old", root / "old")
    _crawl("diff-web-new", root / "new", *NEW_CRAWL_SETTINGS)
    return root / "old", root / "new"


# (change, reasons, src_url, dst_url, occurrence, new_src_status, new_redirect_to,
#  old_dst_status, new_dst_status, old_anchor_text, new_anchor_text, old_rel, new_rel,
#  old_nofollow, new_nofollow) of every external link to shop-site.com that changed.
SHOP_ROWS = [
    ("lost", ["link_removed"], f"{B}/", f"{S}/", 2, "200", None, "200", None, "Shop", None, [], None, False, None),
    ("lost", ["link_removed"], f"{B}/", f"{S}/old.html", 1, "200", None, "200", None, "Old offer", None, [], None, False, None),
    ("lost", ["link_removed"], "http://www.news-site.net/story.html", f"{S}/", 1, "200", None, "200", None, "the shop", None, [], None, False, None),
    ("lost", ["page_error"], f"{B}/post-error.html", f"{S}/from-error.html", 1, "500", None, "200", None, "From the error post", None, [], None, False, None),
    ("lost", ["page_error"], f"{B}/post-slow.html", f"{S}/from-slow.html", 1, "timeout", None, "200", None, "From the slow post", None, [], None, False, None),
    ("lost", ["page_gone"], f"{B}/post-gone.html", f"{S}/from-gone.html", 1, "404", None, "200", None, "From the gone post", None, [], None, False, None),
    ("lost", ["page_not_crawled"], f"{B}/post-hidden.html", f"{S}/from-hidden.html", 1, "robots_txt", None, "200", None, "From the hidden post", None, [], None, False, None),
    ("lost", ["page_not_crawled"], f"{B}/post-orphan.html", f"{S}/from-orphan.html", 1, None, None, "200", None, "From the orphan post", None, [], None, False, None),
    ("lost", ["page_not_crawled"], "http://www.fan-site.info/fan.html", f"{S}/", 1, "robots_txt", None, "200", None, "We love this shop", None, [], None, False, None),
    ("lost", ["page_redirected"], f"{B}/post-moved.html", f"{S}/from-moved.html", 1, "301", f"{B}/", "200", None, "From the moved post", None, [], None, False, None),
    ("changed", ["anchor_changed"], f"{B}/", f"{S}/about.html", 1, None, None, None, None, "About us", "About the shop", None, None, None, None),
    ("changed", ["became_follow"], f"{B}/", f"{S}/gift.html", 1, None, None, None, None, None, None, ["nofollow"], [], True, False),
    ("changed", ["became_nofollow"], f"{B}/", f"{S}/product.html", 1, None, None, None, None, None, None, [], ["nofollow"], False, True),
    ("changed", ["became_sponsored"], f"{B}/", f"{S}/sale.html", 1, None, None, None, None, None, None, [], ["sponsored"], None, None),
    ("changed", ["became_ugc"], f"{B}/", f"{S}/review.html", 1, None, None, None, None, None, None, [], ["ugc"], None, None),
    ("changed", ["target_broken"], f"{B}/", f"{S}/broken.html", 1, None, None, "200", "404", None, None, None, None, None, None),
    # One link, three changes: the broken target matters most.
    ("changed", ["target_broken", "became_nofollow", "anchor_changed"], f"{B}/", f"{S}/combo.html", 1, None, None, "200", "404", "Combo", "Combo deal", [], ["nofollow"], False, True),
    # flaky.html answered 404 and now 500: broken both times, no row.
    ("changed", ["target_fixed"], f"{B}/", f"{S}/fixed.html", 1, None, None, "404", "200", None, None, None, None, None, None),
    ("changed", ["target_redirected"], f"{B}/", f"{S}/moved.html", 1, None, f"{S}/new-place.html", "200", "301", None, None, None, None, None, None),
    ("new", [], f"{B}/", f"{S}/new-page.html", 1, None, None, None, "200", None, "New page", None, [], None, False),
    ("new", [], "http://www.forum-site.net/", f"{S}/", 1, None, None, None, "200", None, "a good shop", None, ["ugc"], None, False),
]

# (change, reason, src_url, dst_url, link_type, occurrence) of the changes a diff
# without a target adds: internal links, links out of scope, redirects.
OTHER_ROWS = [
    ("lost", "link_removed", f"{B}/", f"{B}/post-orphan.html", "anchor", 1),
    ("lost", "links_truncated", f"{B}/many.html", "http://www.elsewhere.example/18", "anchor", 1),
    ("lost", "links_truncated", f"{B}/many.html", "http://www.elsewhere.example/19", "anchor", 1),
    ("changed", "target_broken", f"{B}/", f"{B}/post-error.html", "anchor", 1),
    ("changed", "target_broken", f"{B}/", f"{B}/post-gone.html", "anchor", 1),
    ("changed", "target_redirected", f"{B}/", f"{B}/post-moved.html", "anchor", 1),
    ("changed", "target_broken", f"{B}/", f"{B}/post-slow.html", "anchor", 1),
    ("new", None, f"{B}/post-moved.html", f"{B}/", "redirect", 1),
    ("new", None, f"{S}/moved.html", f"{S}/new-place.html", "redirect", 1),
]


def _projection(row: dict) -> tuple:
    return (row["change"], row["reasons"], row["src_url"], row["dst_url"], row["occurrence"],
            row["new_src_status"], row["new_redirect_to"], row["old_dst_status"],
            row["new_dst_status"], row["old_anchor_text"], row["new_anchor_text"],
            row["old_rel"], row["new_rel"], row["old_nofollow"], row["new_nofollow"])


def test_backlinks_of_a_domain_every_reason(crawls):
    old, new = crawls
    table = diff_crawls(old, new, "shop-site.com")
    assert table.column_names == list(COLUMNS)
    rows = table.to_pylist()
    assert [_projection(r) for r in rows] == SHOP_ROWS
    assert all(r["reason"] == (r["reasons"][0] if r["reasons"] else None) for r in rows)
    assert {r["link_type"] for r in rows} == {"anchor"}


def test_without_a_target_every_link_is_compared(crawls):
    old, new = crawls
    rows = diff_crawls(old, new).to_pylist()
    keyed = [(r["change"], r["reason"], r["src_url"], r["dst_url"], r["link_type"],
              r["occurrence"]) for r in rows]
    shop = [(c, reasons[0] if reasons else None, src, dst, "anchor", occ)
            for c, reasons, src, dst, occ, *_ in SHOP_ROWS]
    order = {"lost": 0, "changed": 1, "new": 2}
    expected = sorted(shop + OTHER_ROWS, key=lambda r: (order[r[0]], r[1] or "\uffff", *r[2:]))
    assert keyed == expected


def test_summary_referring_domains_won_lost_and_not_recrawled(crawls):
    old, new = crawls
    pair = open_pair(old, new)
    rows = diff_crawls(pair, target="shop-site.com")
    summary = diff_summary(pair, rows, "shop-site.com")
    assert summary.table.column_names == list(SUMMARY_COLUMNS)
    refs = sorted((r["change"], r["name"], r["of"], r["links"])
                  for r in summary.table.to_pylist())
    # fan-site.info's only linking page is now behind robots.txt: not called lost.
    assert refs == [("lost", "news-site.net", "shop-site.com", 1),
                    ("new", "forum-site.net", "shop-site.com", 1),
                    ("not_recrawled", "fan-site.info", "shop-site.com", 1)]
    assert summary.lines[1:] == [
        "lost: 10 (link_removed 3, page_not_crawled 3, page_error 2, page_gone 1, "
        "page_redirected 1)",
        "changed: 9 (target_broken 2, anchor_changed 1, became_follow 1, became_nofollow 1, "
        "became_sponsored 1, became_ugc 1, target_fixed 1, target_redirected 1)",
        "new: 2",
        "referring domains: 1 new, 1 lost, 1 not recrawled"]


def test_scored_crawls_add_the_authority_that_moved(crawls, tmp_path):
    old, new = crawls
    for folder in crawls:
        result = run_linkgraph("score", str(folder))
        assert result.returncode == 0, result.stderr[-2000:]
    pair = open_pair(old, new)
    table = diff_summary(pair, diff_crawls(pair, target="shop-site.com"), "shop-site.com",
                         top=0).table.to_pylist()
    before = {r["url"]: r["authority_score"] for r in pq.read_table(old / "scores" / "pages.parquet").to_pylist()}
    after = {r["url"]: r["authority_score"] for r in pq.read_table(new / "scores" / "pages.parquet").to_pylist()}
    expected = {u: after[u] - before[u] for u in before.keys() & after.keys()
                if u.startswith(S + "/") and after[u] != before[u]}
    pages = {r["name"]: r for r in table if r["section"] == "page"}
    assert expected and set(pages) == set(expected)
    for url, row in pages.items():
        assert row["authority_change"] == pytest.approx(expected[url])
        assert row["change"] == ("up" if expected[url] > 0 else "down")
    moves = [abs(r["authority_change"]) for r in table if r["section"] == "page"]
    assert moves == sorted(moves, reverse=True)
    domains = {r["name"] for r in table if r["section"] == "domain"}
    assert domains <= {"shop-site.com", "blog-site.org", "news-site.net", "forum-site.net",
                       "fan-site.info"}
    shutil.rmtree(old / "scores")
    shutil.rmtree(new / "scores")


def test_a_crawl_still_being_written_is_read_as_committed(crawls, tmp_path):
    old, new = crawls
    running = tmp_path / "running"
    shutil.copytree(new, running)
    # The links part of a batch whose pages part is not written yet: not committed.
    part = sorted((running / "links").glob("part-*.parquet"))[0]
    shutil.copy(part, running / "links" / "part-999-00000.parquet")
    assert diff_crawls(old, running).equals(diff_crawls(old, new))


def test_node_ids_and_sql_give_the_same_rows(crawls, tmp_path):
    """Without a target the links are matched on node ids in compiled loops; the SQL
    (kept for targets and folders without nodes) gives the same rows in the same order,
    and so does a NEW whose nodes table is gone (the SQL then reads the links' URLs)."""
    old, new = crawls
    pair = open_pair(old, new)
    fast = diff_crawls(pair)
    assert "ids" in pair.cache  # the compiled path ran
    sql = diff_crawls(pair, method="sql")
    assert "ids" not in pair.cache
    assert fast.num_rows > len(SHOP_ROWS) and fast.equals(sql)
    summary = diff_summary(pair, diff_crawls(pair), top=0)
    assert summary.lines == diff_summary(open_pair(old, new), sql, top=0).lines
    no_nodes = tmp_path / "no-nodes"
    shutil.copytree(new, no_nodes)
    shutil.rmtree(no_nodes / "nodes")
    pair = open_pair(old, no_nodes)
    assert diff_crawls(pair).equals(fast) and "ids" not in pair.cache
    # Nodes rows in another order than their ids: looked up by id all the same.
    shuffled = tmp_path / "shuffled"
    shutil.copytree(new, shuffled)
    for part in (shuffled / "nodes").glob("part-*.parquet"):
        table = pq.read_table(part)
        pq.write_table(table.take(list(range(table.num_rows))[::-1]), part)
    pair = open_pair(old, shuffled)
    assert diff_crawls(pair).equals(fast) and "ids" in pair.cache


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    """``linkgraph ARGS`` in this process (the crawls' subprocesses are the slow part)."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_formats_have_the_same_columns(crawls, tmp_path, capsys):
    old, new = crawls
    code, out, err = _cli(capsys, "diff", str(old), str(new), "--target", "shop-site.com")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[4] == "referring domains: 1 new, 1 lost, 1 not recrawled"
    assert lines[6].split() == list(COLUMNS)
    assert len(lines) == 8 + len(SHOP_ROWS)
    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"diff.{fmt}"
        code, _, err = _cli(capsys, "diff", str(old), str(new), "--target", "shop-site.com",
                            "-o", str(out))
        assert code == 0, err
        if fmt == "csv":
            header, *body = out.read_text().splitlines()
            assert header.split(",") == list(COLUMNS) and len(body) == len(SHOP_ROWS)
        elif fmt == "jsonl":
            body = [json.loads(line) for line in out.read_text().splitlines()]
            assert [_projection(r) for r in body] == SHOP_ROWS
        else:
            assert pq.read_table(out).column_names == list(COLUMNS)
    code, out, err = _cli(capsys, "diff", str(old), str(new), "--target", "shop-site.com",
                          "--summary", "--format", "csv")
    assert out.splitlines()[0].split(",") == list(SUMMARY_COLUMNS)
    assert "referring domains: 1 new" in err


def test_bad_input_is_one_line_and_exit_2(crawls, tmp_path, capsys):
    old, new = crawls
    unrelated = tmp_path / "unrelated"
    shutil.copytree(new, unrelated)
    manifest = json.loads((unrelated / "crawl.json").read_text())
    manifest["seeds"] = ["http://www.elsewhere.example/"]
    (unrelated / "crawl.json").write_text(json.dumps(manifest))
    (tmp_path / "plain").mkdir()
    cases = {
        "older than OLD": (str(new), str(old)),
        "no linkgraph crawl": (str(old), str(tmp_path / "plain")),
        "not a folder": (str(old), str(tmp_path / "missing")),
        "unrelated seeds": (str(old), str(unrelated)),
        "in neither crawl": (str(old), str(new), "--target", "nosuch-site.com"),
        "neither a URL": (str(old), str(new), "--target", "a b"),
    }
    for message, args in cases.items():
        code, out, err = _cli(capsys, "diff", *args)
        assert code == 2, (message, err)
        assert out == "" and len(err.splitlines()) == 1, err
        assert message in err
    # And as a process: the exit code itself, no traceback.
    result = run_linkgraph("diff", str(new), str(old))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    with pytest.raises(UsageError, match="older than OLD"):
        diff_crawls(new, old)
