"""Sitemaps: parsing bounds without a crawl; the optional ``sitemaps`` dataset through the
pipeline, compaction and verify; crawls of tests/fixtures/sitemaps (robots.txt Sitemap:
lines, an index, a gzipped sitemap, /sitemap.xml, hostile ones) and a resume after kills."""

from __future__ import annotations

import gzip
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import (REPO, assert_node_ids, crawl_args, linkgraph_argv, read_rows,
                      run_linkgraph)
from linkgraph.crawl.items import SitemapItem
from linkgraph.crawl.sitemaps import (MAX_URLS_PER_SITEMAP, SitemapEntry, SitemapRefused,
                                      parse_lastmod, parse_sitemap, sitemap_xml,
                                      sitemaps_in_robots)
from linkgraph.demo.localweb import LocalWeb
from linkgraph.storage.crawl_dir import CrawlDir
from linkgraph.storage.verify import verify

WEB = REPO / "tests" / "fixtures" / "sitemaps"
WWW, BLOG = "http://www.maps-example.com", "http://blog.maps-example.com"
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def urlset(*locs: str) -> bytes:
    return (f'<?xml version="1.0"?><urlset {NS}>'
            + "".join(f"<url><loc>{loc}</loc></url>" for loc in locs) + "</urlset>").encode()


# -- parsing and bounds, no crawl --------------------------------------------------------
def test_robots_sitemap_lines_are_resolved_and_deduplicated():
    body = (b"User-agent: *\nDisallow: /x\nSitemap: /a.xml\nsitemap:http://h.example/b.xml\n"
            b"Sitemap: /a.xml\nSitemap: ftp://h.example/c.xml\n")
    assert sitemaps_in_robots(body, "http://h.example/robots.txt") == [
        "http://h.example/a.xml", "http://h.example/b.xml"]
    assert sitemaps_in_robots(b"User-agent: *\nDisallow:\n", "http://h.example/robots.txt") == []


def test_urlset_and_index_entries_resolve_like_links():
    parsed = parse_sitemap(urlset(" /a.html#frag ", "http://h.example/b c.html", "",
                                  "mailto:x@h.example"), "http://h.example/sitemap.xml")
    assert parsed.kind == "urlset" and not parsed.is_index and parsed.cut == 0
    assert parsed.entries == [SitemapEntry("http://h.example/a.html", None),
                              SitemapEntry("http://h.example/b%20c.html", None)]
    index = parse_sitemap(f'<sitemapindex {NS}><sitemap><loc>/s1.xml</loc><lastmod>2024-01-02'
                          '</lastmod></sitemap></sitemapindex>'.encode(), "http://h.example/i.xml")
    assert index.is_index
    assert index.entries == [SitemapEntry("http://h.example/s1.xml", "2024-01-02")]


def test_a_sitemap_is_read_up_to_the_protocols_url_limit():
    parsed = parse_sitemap(urlset(*(f"/p{i}" for i in range(MAX_URLS_PER_SITEMAP + 7))),
                           "http://h.example/")
    assert len(parsed.entries) == MAX_URLS_PER_SITEMAP and parsed.cut == 7
    small = parse_sitemap(urlset("/a", "/b", "/c"), "http://h.example/", max_urls=2)
    assert [e.url for e in small.entries] == ["http://h.example/a", "http://h.example/b"]
    assert small.cut == 1


def test_a_dtd_is_refused_before_lxml_sees_it():
    laughs = (WEB / "www.maps-example.com" / "hostile" / "laughs.xml").read_bytes()
    with pytest.raises(SitemapRefused) as refused:
        parse_sitemap(laughs, "http://www.maps-example.com/")
    assert refused.value.reason == "dtd"


@pytest.mark.parametrize("body", [b"", b"not xml at all", b"<html><body>hi</body></html>",
                                  b'<?xml version="1.0"?><rss><channel/></rss>'])
def test_what_is_not_a_sitemap_is_refused(body):
    with pytest.raises(SitemapRefused) as refused:
        parse_sitemap(body, "http://h.example/")
    assert refused.value.reason == "not_sitemap"


def test_gzip_is_read_and_a_gzip_bomb_stops_at_the_cap():
    xml = urlset("/a")
    assert sitemap_xml(gzip.compress(xml), 1 << 20) == xml
    assert sitemap_xml(xml, 1 << 20) == xml  # already gunzipped (Content-Encoding)
    bomb = gzip.compress(b"\0" * (8 << 20))
    assert len(bomb) < 10_000
    with pytest.raises(SitemapRefused) as refused:
        sitemap_xml(bomb, 1 << 20)
    assert refused.value.reason == "too_large"
    with pytest.raises(SitemapRefused) as refused:
        sitemap_xml(b"x" * 101, 100)
    assert refused.value.reason == "too_large"
    with pytest.raises(SitemapRefused) as refused:
        sitemap_xml(b"\x1f\x8b\x08garbage", 1 << 20)
    assert refused.value.reason == "not_sitemap"


@pytest.mark.parametrize("text, expected", [
    ("2024", datetime(2024, 1, 1, tzinfo=timezone.utc)),
    ("2024-05", datetime(2024, 5, 1, tzinfo=timezone.utc)),
    ("2024-05-06", datetime(2024, 5, 6, tzinfo=timezone.utc)),
    ("2024-05-06T10:20+02:00", datetime(2024, 5, 6, 8, 20, tzinfo=timezone.utc)),
    ("2024-05-06T10:20:30.5Z", datetime(2024, 5, 6, 10, 20, 30, 500000, tzinfo=timezone.utc)),
    (" 2024-05-06T10:20:30 ", datetime(2024, 5, 6, 10, 20, 30, tzinfo=timezone.utc)),
    ("yesterday", None), ("2024-13", None), ("", None), (None, None),
])
def test_lastmod_reads_w3c_datetimes(text, expected):
    assert parse_lastmod(text) == expected


# -- the optional dataset: pipeline, compaction, verify ----------------------------------
def _sitemap_item(name: str, *paths: str) -> SitemapItem:
    return SitemapItem(f"http://a.example/{name}", datetime(2026, 11, 1, tzinfo=timezone.utc),
                       [SitemapEntry(f"http://a.example{p}", "2026-10") for p in paths])


def test_only_batches_with_sitemap_rows_have_a_part_and_compaction_keeps_them(tmp_path):
    from test_resume import BATCHES, open_pipeline

    out = tmp_path / "crawl"
    pipeline = open_pipeline(out)
    batches = [(BATCHES[0], [_sitemap_item("s1.xml", "/", "/9")]), (BATCHES[1], []),
               (BATCHES[2], [_sitemap_item("s2.xml", "/8"), _sitemap_item("s3.xml", "/7")])]
    for pages, sitemaps in batches:
        for item in [*sitemaps, *pages]:
            pipeline.process_item(item)
        pipeline.flush()
    # A batch of sitemap rows alone (no page) is committed too.
    pipeline.process_item(_sitemap_item("s4.xml", "/6"))
    pipeline.close_spider()
    pipeline.crawl_dir.finish("interrupted")
    names = sorted(p.name for p in (out / "sitemaps").iterdir())
    assert names == ["part-000-00000.parquet", "part-000-00002.parquet", "part-000-00003.parquet"]
    rows = [(r["sitemap_url"][17:], r["url"], r["lastmod"], r["lastmod_at"].month)
            for r in read_rows(out, "sitemaps")]
    assert rows == [("s1.xml", "http://a.example/", "2026-10", 10),
                    ("s1.xml", "http://a.example/9", "2026-10", 10),
                    ("s2.xml", "http://a.example/8", "2026-10", 10),
                    ("s3.xml", "http://a.example/7", "2026-10", 10),
                    ("s4.xml", "http://a.example/6", "2026-10", 10)]
    report = verify(str(out))
    assert report.ok, report.problems
    assert "5 sitemaps rows in 3 parts" in report.summary()

    crawl_dir = CrawlDir.attach(str(out))
    compaction = crawl_dir.compact(target_link_rows=100)
    crawl_dir.close()
    assert compaction.merged == ["part-000-00000-to-000-00003.parquet"]
    assert [p.name for p in (out / "sitemaps").iterdir()] == compaction.merged
    assert [(r["sitemap_url"][17:], r["url"]) for r in read_rows(out, "sitemaps")] == [
        (s, u) for s, u, _, _ in rows]
    assert verify(str(out)).ok
    assert_node_ids(out)


def test_a_sitemaps_part_without_its_pages_part_is_uncommitted_or_damage(tmp_path):
    from test_resume import BATCHES, open_pipeline

    out = tmp_path / "crawl"
    pipeline = open_pipeline(out)
    for pages in BATCHES[:2]:
        pipeline.process_item(_sitemap_item("s.xml", "/5"))
        for item in pages:
            pipeline.process_item(item)
        pipeline.flush()
    pipeline.crawl_dir.finish("interrupted")
    # The last batch's pages part lost: what a kill between its renames leaves.
    (out / "pages" / "part-000-00001.parquet").unlink()
    (out / "links" / "part-000-00001.parquet").unlink()
    (out / "nodes" / "part-000-00001.parquet").unlink()
    report = verify(str(out))
    assert report.problems == ["sitemaps/part-000-00001.parquet has no pages partner (an "
                               "interrupted commit; resuming the crawl removes it)"]
    assert CrawlDir.open(str(out), ["http://a.example/"], ["a.example"]).recover() == 0
    assert sorted(p.name for p in (out / "sitemaps").iterdir()) == ["part-000-00000.parquet"]
    assert verify(str(out)).ok


# -- crawls --------------------------------------------------------------------------------
def serve_copy(tmp_path: Path) -> Path:
    """The fixture web with its two gzipped sitemaps written (no binaries in the repo)."""
    web = tmp_path / "web"
    shutil.copytree(WEB, web)
    www = web / "www.maps-example.com"
    (www / "more.xml.gz").write_bytes(gzip.compress(
        urlset("/gz-only.html").replace(b"</loc>", b"</loc><lastmod>not a date</lastmod>")))
    # 40 MiB of zeros in 40 kB: past DOWNLOAD_MAXSIZE (32 MiB) once gunzipped.
    (www / "hostile" / "bomb.xml.gz").write_bytes(gzip.compress(b"\0" * (40 << 20), 9))
    return web


def crawl(web: Path, out: Path, *extra: str) -> str:
    """Crawl ``web`` into ``out`` at INFO level; return the log (it ends with the stats)."""
    with LocalWeb(str(web)) as server:
        result = run_linkgraph("crawl", str(web / "seeds.txt"), "-o", str(out),
                               *crawl_args(server, "-s", "LOG_LEVEL=INFO", *extra))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def stat(log: str, name: str) -> int:
    import re

    match = re.search(rf"'linkgraph/{re.escape(name)}': (\d+)", log)
    return int(match[1]) if match else 0


@pytest.mark.e2e
def test_crawl_reads_sitemaps_and_fetches_pages_no_link_reaches(tmp_path):
    web = serve_copy(tmp_path)
    out = tmp_path / "crawl"
    log = crawl(web, out)
    rows = {(r["sitemap_url"], r["url"], r["lastmod"]) for r in read_rows(out, "sitemaps")}
    assert rows == {
        (f"{WWW}/sitemap-pages.xml", f"{WWW}/", "2024-05-01"),
        (f"{WWW}/sitemap-pages.xml", f"{WWW}/about.html", None),
        (f"{WWW}/sitemap-pages.xml", f"{WWW}/orphan.html", "2024-06-01T10:00:00+02:00"),
        (f"{WWW}/sitemap-pages.xml", f"{WWW}/private/hidden.html", None),
        (f"{WWW}/more.xml.gz", f"{WWW}/gz-only.html", "not a date"),  # via the index, gzipped
        (f"{BLOG}/sitemap.xml", f"{BLOG}/post.html", "2025-02"),  # no Sitemap: line
    }
    by_url = {r["url"]: r for r in read_rows(out, "sitemaps")}
    assert by_url[f"{WWW}/orphan.html"]["lastmod_at"] == datetime(2024, 6, 1, 8, tzinfo=timezone.utc)
    assert by_url[f"{WWW}/gz-only.html"]["lastmod_at"] is None
    assert {r["host"] for r in by_url.values()} == {"www.maps-example.com", "blog.maps-example.com"}
    pages = {r["url"]: r for r in read_rows(out, "pages")}
    # Pages no link reaches are crawled at depth 1; a link from them counts from there.
    for url in (f"{WWW}/orphan.html", f"{WWW}/gz-only.html", f"{BLOG}/post.html"):
        assert (pages[url]["status"], pages[url]["depth"]) == (200, 1), url
    assert pages[f"{WWW}/orphan-child.html"]["depth"] == 2
    # Politeness: a listed URL that robots.txt disallows is refused like any page.
    assert pages[f"{WWW}/private/hidden.html"]["error"].startswith("robots_txt")
    # Sitemaps are no pages rows (like robots.txt), and nothing is fetched twice.
    assert not [u for u in pages if u.endswith((".xml", ".gz"))]
    # Each hostile sitemap ends as one counted skip.
    for reason in ("dtd", "too_large", "loop", "index_depth", "out_of_scope"):
        assert stat(log, f"sitemaps/skipped/{reason}") == 1, reason
    assert stat(log, "sitemaps/read") == 3 and stat(log, "rows/sitemaps") == 6
    assert verify(str(out)).ok
    assert_node_ids(out)

    audit = run_linkgraph("audit", str(out), "--check", "orphan_page", "--format", "csv")
    assert audit.returncode == 0, audit.stderr
    orphans = [line.split(",")[2] for line in audit.stdout.splitlines()[1:]]
    assert orphans == [f"{BLOG}/post.html", f"{WWW}/gz-only.html", f"{WWW}/orphan.html",
                       f"{WWW}/private/hidden.html"]


@pytest.mark.e2e
def test_sitemaps_recorded_not_fetched_or_not_read(tmp_path):
    web = serve_copy(tmp_path)
    recorded = tmp_path / "recorded"
    crawl(web, recorded, "-s", "LINKGRAPH_SITEMAP_FOLLOW=False")
    assert len(read_rows(recorded, "sitemaps")) == 6
    pages = {r["url"] for r in read_rows(recorded, "pages")}
    assert pages == {f"{WWW}/", f"{WWW}/about.html", f"{BLOG}/"}

    off = tmp_path / "off"
    with LocalWeb(str(web)) as server:
        result = run_linkgraph("crawl", str(web / "seeds.txt"), "-o", str(off), "-q",
                               "--no-sitemaps", *crawl_args(server))
        hits = [path for _, path in server.hits]
    assert result.returncode == 0, result.stderr[-2000:]
    assert not [p for p in hits if p.endswith((".xml", ".gz"))]
    assert not list((off / "sitemaps").glob("*.parquet"))
    assert {r["url"] for r in read_rows(off, "pages")} == pages
    assert verify(str(off)).ok


def test_sitemap_settings_are_checked():
    result = run_linkgraph("crawl", "http://a.example/", "-o", "/nonexistent/x",
                           "-s", "LINKGRAPH_SITEMAP_FOLLOW=maybe")
    assert result.returncode == 2
    assert "LINKGRAPH_SITEMAP_FOLLOW must be True or False" in result.stderr


# -- resume after kills ----------------------------------------------------------------------
RESUME_HOST = "www.resume-maps.com"
PER_SITEMAP = 100


def make_resume_site(root: Path) -> None:
    """A home page with no links; three sitemaps (one gzipped, behind an index) list every
    other page, some of them twice; each page links the next."""
    site = root / RESUME_HOST
    site.mkdir(parents=True)
    (site / "index.html").write_text("<html><body>nothing linked</body></html>")
    for i in range(3 * PER_SITEMAP):
        (site / f"p{i}.html").write_text(
            f'<html><body><a href="/p{(i + 1) % (3 * PER_SITEMAP)}.html">next</a></body></html>')
    for n in range(3):
        body = urlset(*(f"/p{i % (3 * PER_SITEMAP)}.html"
                        for i in range(n * PER_SITEMAP, (n + 1) * PER_SITEMAP + 5)))
        if n == 2:
            (site / "s2.xml.gz").write_bytes(gzip.compress(body))
        else:
            (site / f"s{n}.xml").write_bytes(body)
    (site / "index.xml").write_bytes(
        f'<sitemapindex {NS}><sitemap><loc>/s1.xml</loc></sitemap>'
        f'<sitemap><loc>/s2.xml.gz</loc></sitemap></sitemapindex>'.encode())
    (site / "robots.txt").write_text("User-agent: *\nSitemap: /s0.xml\nSitemap: /index.xml\n")


def resume_cmd(server, out: Path) -> list[str]:
    return linkgraph_argv("crawl", f"http://{RESUME_HOST}/", "-o", str(out),
                          *crawl_args(server, "-s", "LINKGRAPH_FLUSH_PAGES=7",
                                      "-s", "CONCURRENT_REQUESTS=4",
                                      "-s", "AUTOTHROTTLE_ENABLED=False",
                                      "-s", "DOWNLOAD_DELAY=0.02", "-s", "LOG_LEVEL=WARNING"))


def sitemap_rows(out: Path) -> Counter:
    return Counter((r["sitemap_url"], r["url"]) for r in read_rows(out, "sitemaps"))


@pytest.mark.e2e
@pytest.mark.slow
def test_kills_and_resume_keep_sitemap_rows_exactly_once(tmp_path):
    make_resume_site(tmp_path / "web")
    with LocalWeb(str(tmp_path / "web")) as server:
        reference = tmp_path / "reference"
        result = subprocess.run(resume_cmd(server, reference), cwd=REPO, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        ref_rows = sitemap_rows(reference)
        ref_pages = Counter(r["url"] for r in read_rows(reference, "pages"))
        assert len(ref_rows) == sum(ref_rows.values()) == 3 * (PER_SITEMAP + 5)
        assert len(ref_pages) == 3 * PER_SITEMAP + 1 and max(ref_pages.values()) == 1

        out = tmp_path / "killed"
        rng = random.Random(5)
        kills = 0
        for _ in range(4):
            proc = subprocess.Popen(resume_cmd(server, out), cwd=REPO,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(1.5, 3.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
        assert kills >= 2, "the crawl finished before it could be killed: make the site bigger"
        final = subprocess.run(resume_cmd(server, out), cwd=REPO, capture_output=True,
                               text=True, timeout=300)
        assert final.returncode == 0, final.stderr[-2000:]
    assert sitemap_rows(out) == ref_rows
    assert Counter(r["url"] for r in read_rows(out, "pages")) == ref_pages
    assert verify(str(out)).ok
    assert_node_ids(out)
