"""Web archives: a crawl written as WARC (``crawl --warc``) read back by ``linkgraph
warc`` gives the crawl's own pages and links; bad archives are counted and skipped."""

from __future__ import annotations

import gzip
import io
from collections import Counter
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from conftest import FIXTURE_WEB, assert_node_ids, crawl_args, read_rows, run_linkgraph
from linkgraph.archive.page_records import page_records
from linkgraph.archive.warc_reader import ReadReport, read_responses

pytestmark = pytest.mark.e2e

A = "http://www.alpha-shop.com"
LINK_COLUMNS = ("src_url", "dst_url", "anchor_text", "rel", "nofollow", "sponsored", "ugc",
                "tag", "link_type", "hreflang", "position", "ordinal")
PAGE_COLUMNS = ("url", "status", "content_type", "content_length", "title", "canonical_url",
                "meta_robots", "x_robots_tag", "redirect_to", "links_count")


def multiset(rows: list[dict], columns: tuple[str, ...]) -> Counter:
    return Counter(tuple(tuple(v) if isinstance(v, list) else v for v in map(r.get, columns))
                   for r in rows)


@pytest.fixture(scope="module")
def archived(tmp_path_factory) -> tuple[Path, Path]:
    from linkgraph.demo.localweb import LocalWeb

    root = tmp_path_factory.mktemp("warc")
    with LocalWeb(str(FIXTURE_WEB)) as server:
        result = run_linkgraph("crawl", f"{A}/", "-o", str(root / "crawl"), "--warc",
                               str(root / "warc"), "--allow", "alpha-shop.com",
                               "--allow", "www.beta-news.org", *crawl_args(server))
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "crawl", root / "warc"


def test_a_crawl_archived_and_read_back_is_the_same_crawl(archived, tmp_path):
    crawl, warc = archived
    [archive] = sorted(warc.glob("linkgraph-*-000-00000.warc.gz"))
    result = run_linkgraph("warc", str(warc), "-o", str(tmp_path / "back"), "--processes", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith(f"read 1 WARC file(s) into {tmp_path / 'back'}: ")
    pages = [p for p in read_rows(crawl, "pages") if p["status"] is not None]
    # Failed fetches (robots.txt refusals, refused connections) have no response to keep.
    assert len(pages) < len(read_rows(crawl, "pages"))
    back = read_rows(tmp_path / "back", "pages")
    assert multiset(back, PAGE_COLUMNS) == multiset(pages, PAGE_COLUMNS)
    assert all(p["depth"] is None for p in back)
    fetched = {p["url"] for p in pages}
    links = [r for r in read_rows(crawl, "links") if r["src_url"] in fetched]
    assert multiset(read_rows(tmp_path / "back", "links"), LINK_COLUMNS) == multiset(
        links, LINK_COLUMNS)
    assert_node_ids(tmp_path / "back")
    # The archive itself: a warcinfo record first, then a request and a response per page.
    report = ReadReport(str(archive))
    assert sum(1 for _ in read_responses(archive, report)) == len(pages)
    with gzip.open(archive, "rb") as handle:
        assert b"WARC-Type: warcinfo" in handle.read(300).split(b"\r\n\r\n")[0]


def test_the_same_command_again_is_finished_and_score_reads_it(archived, tmp_path):
    _, warc = archived
    out = tmp_path / "back"
    assert run_linkgraph("warc", str(warc), "-o", str(out)).returncode == 0
    again = run_linkgraph("warc", str(warc), "-o", str(out))
    assert again.returncode == 0 and "finished" in again.stderr
    assert run_linkgraph("score", str(out), "-q").returncode == 0
    assert (out / "scores" / "pages.parquet").exists()


def write(path: Path, records: list[tuple[str, str, bytes, list]], *, gz: bool = True) -> Path:
    """A WARC of (type, url, body, http headers) records; http headers None: no HTTP."""
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=gz)
        for kind, url, body, headers in records:
            http = None if headers is None else StatusAndHeaders(
                "200 OK" if kind == "response" else "GET / HTTP/1.1", headers,
                protocol="HTTP/1.1", is_http_request=kind == "request")
            if kind == "revisit":
                record = writer.create_revisit_record(url, "sha1:AAAA", "http://x/", "2026")
            else:
                record = writer.create_warc_record(url, kind, payload=io.BytesIO(body),
                                                   length=len(body), http_headers=http)
            writer.write_record(record)
    return path


HTML = [("Content-Type", "text/html; charset=utf-8")]


def page(n: int) -> bytes:
    return f'<html><title>p{n}</title><a href="/p{n + 1}">next</a></html>'.encode()


def test_bad_records_are_counted_and_skipped(tmp_path):
    path = write(tmp_path / "mixed.warc.gz", [
        ("response", "http://a.example/p1", page(1), HTML),
        ("revisit", "http://a.example/p1", b"", None),
        ("response", "dns:a.example", b"1.2.3.4", None),
        ("resource", "http://a.example/file", b"raw", None),
        ("response", "http://a.example/p2", page(2), HTML),
    ])
    report = ReadReport(str(path))
    items = list(page_records(str(path), report))
    assert [i.url for i in items] == ["http://a.example/p1", "http://a.example/p2"]
    assert [i.title for i in items] == ["p1", "p2"]
    assert items[0].links[0].dst_url == "http://a.example/p2"
    assert report.skipped == Counter(revisit=1, not_http_url=1)


def test_truncated_and_non_warc_files(tmp_path):
    whole = write(tmp_path / "whole.warc.gz",
                  [("response", f"http://a.example/p{i}", page(i), HTML) for i in range(40)])
    data = whole.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    report = ReadReport(str(cut))
    got = list(read_responses(cut, report))
    # Every whole record before the cut is read; the cut is reported once.
    assert 20 <= len(got) < 40 and report.skipped == Counter(truncated=1)
    assert "truncated" in report.problems[0]
    plain = write(tmp_path / "plain.warc", [("response", "http://a.example/", page(0), HTML)],
                  gz=False)
    assert len(list(read_responses(plain))) == 1
    junk = tmp_path / "junk.warc"
    junk.write_text("this is not an archive\n" * 20)
    report = ReadReport(str(junk))
    assert list(read_responses(junk, report)) == [] and report.skipped == Counter(not_warc=1)
    # Through the command: one line per bad file, no traceback, the good file read.
    result = run_linkgraph("warc", str(cut), str(junk), str(plain), "-o", str(tmp_path / "o"))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "skipped: 1 not_warc, 1 truncated" in result.stdout
    assert sum(1 for line in result.stderr.splitlines() if "not a WARC file" in line) == 1


def test_content_and_transfer_codings_are_undone(tmp_path):
    body = page(7) * 50
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 300]), body[i:i + 300])
                       for i in range(0, len(body), 300)) + b"0\r\n\r\n"
    path = write(tmp_path / "codings.warc.gz", [
        ("response", "http://a.example/gz", gzip.compress(body),
         HTML + [("Content-Encoding", "gzip")]),
        ("response", "http://a.example/chunked", chunked,
         HTML + [("Transfer-Encoding", "chunked")]),
        ("response", "http://a.example/bomb", gzip.compress(b"\0" * (40 << 20)),
         HTML + [("Content-Encoding", "gzip")]),
    ])
    report = ReadReport(str(path))
    items = {i.url: i for i in page_records(str(path), report)}
    assert items["http://a.example/gz"].content_length == len(body)
    assert items["http://a.example/chunked"].content_length == len(body)
    assert items["http://a.example/gz"].title == "p7"
    assert "http://a.example/bomb" not in items and report.skipped == Counter(too_large=1)


def test_deep_nesting_is_capped_as_in_a_crawl(tmp_path):
    body = b"<html><body>" + b"<div>" * 20_000 + b'<a href="/x">x</a>' + b"</div>" * 20_000
    path = write(tmp_path / "deep.warc.gz", [("response", "http://a.example/deep", body, HTML)])
    item, = page_records(str(path), ReadReport(str(path)))
    assert [link.dst_url for link in item.links] == ["http://a.example/x"]
    assert item.nesting_capped == 20_000 - 510


def test_bad_arguments_are_one_line(tmp_path):
    result = run_linkgraph("warc", str(tmp_path / "nothing"), "-o", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"linkgraph: error: {tmp_path / 'nothing'} is neither a WARC file nor a folder"
    (tmp_path / "empty").mkdir()
    result = run_linkgraph("warc", str(tmp_path / "empty"), "-o", str(tmp_path / "o"))
    assert result.returncode == 2 and "no WARC files" in result.stderr
