"""Crawl a server that misbehaves in every way (tests/hostile_server.py).

One crawl of its index meets every case; each test checks that the crawl ended by
itself, what the ``pages`` row of its case says, and the stats. The limits are set
small (DOWNLOAD_TIMEOUT=3, DOWNLOAD_MAXSIZE=5 MB, RETRY_TIMES=1, ...) so the whole
crawl takes seconds; the crawl's memory is sampled throughout.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from conftest import REPO, linkgraph_argv, read_rows
from hostile_server import CHAIN_HOPS, ELSEWHERE, HOSTS, HUGE_BODY, LONG_URL_PATH, MAIN, MANY_LINKS, HostileServer

pytestmark = pytest.mark.e2e

H = f"http://{MAIN}"
MAXSIZE = 5_000_000
RSS_CAP = 600 * 1024 * 1024


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile") / "out"
    with HostileServer() as server:
        args = linkgraph_argv("crawl", f"{H}/", "-o", str(out),
                "-s", "LINKGRAPH_RESOLVE_ONLY=True", "-s", "DOWNLOAD_TIMEOUT=3",
                "-s", f"DOWNLOAD_MAXSIZE={MAXSIZE}", "-s", "DOWNLOAD_WARNSIZE=0",
                "-s", "RETRY_TIMES=1", "-s", "LINKGRAPH_MAX_RETRY_AFTER=2",
                "-s", "LINKGRAPH_MAX_QUERY_VARIANTS=20", "-s", "LINKGRAPH_MAX_LINKS_PER_PAGE=50000",
                "-s", "LINKGRAPH_PROGRESS_INTERVAL=0")
        for host in (*HOSTS, "refused.test"):
            args += ["--allow", host]
        for entry in server.resolve_entries():
            args += ["--resolve", entry]
        started = time.monotonic()
        proc = subprocess.Popen(args, cwd=REPO, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        peak = 0
        watched = psutil.Process(proc.pid)
        while proc.poll() is None and time.monotonic() - started < 240:
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate(timeout=30)
        hits = list(server.hits)
        bytes_sent = dict(server.bytes_sent)
    assert proc.returncode == 0, stderr[-3000:]
    pages = {r["url"]: r for r in read_rows(out, "pages")}
    return {"out": out, "pages": pages, "stderr": stderr, "peak": peak, "hits": hits,
            "bytes_sent": bytes_sent}


def stat(crawl, name: str) -> int:
    match = re.search(rf"'{re.escape(name)}': (\d+)", crawl["stderr"])
    return int(match.group(1)) if match else 0


def row(crawl, url: str) -> tuple:
    r = crawl["pages"][url]
    return r["status"], (r["error"] or "").split(":", 1)[0] or None


def test_every_page_has_one_row_and_the_crawl_ended(crawl):
    rows = read_rows(crawl["out"], "pages")
    assert len(rows) == len(crawl["pages"])
    assert "Spider closed (finished)" in crawl["stderr"]


def test_network_failures(crawl):
    # Its robots.txt is unreachable too, which (RFC 9309) keeps the page from being asked for.
    assert crawl["pages"]["http://refused.test/"]["error"] == (
        "robots_txt: robots.txt unreachable (refused)")
    assert row(crawl, f"{H}/reset") == (None, "data_loss")
    assert row(crawl, f"{H}/never") == (None, "timeout")
    assert row(crawl, f"{H}/trickle") == (None, "timeout")
    assert stat(crawl, "linkgraph/errors/timeout") == 2
    # RETRY_TIMES=1: a timed-out page is tried twice, no more.
    assert sum(1 for _, host, path in crawl["hits"] if (host, path) == (MAIN, "/never")) == 2


def test_server_errors_are_recorded_with_their_status(crawl):
    for status in (500, 502, 503, 504):
        assert row(crawl, f"{H}/e{status}") == (status, None)
        # Retried once (RETRY_TIMES=1), then recorded.
        assert sum(1 for _, h, p in crawl["hits"] if (h, p) == (MAIN, f"/e{status}")) == 2


def test_retry_after_is_waited_out(crawl):
    times = [t for t, h, p in crawl["hits"] if (h, p) == (MAIN, "/r429")]
    assert len(times) == 2 and times[1] - times[0] >= 0.95  # Retry-After: 1
    assert row(crawl, f"{H}/r429") == (200, None)
    # 3600 s is capped at LINKGRAPH_MAX_RETRY_AFTER=2.
    long = [t for t, h, p in crawl["hits"] if (h, p) == (MAIN, "/r503-long")]
    # The upper bound only shows the 3600 s were not waited: the retry also queues
    # behind the suite's slow pages, more so on a loaded machine.
    assert len(long) == 2 and 1.9 <= long[1] - long[0] < 120
    assert row(crawl, f"{H}/r503-long") == (200, None)
    assert row(crawl, f"{H}/r503") == (503, None)  # still 503 after its retry
    assert stat(crawl, "linkgraph/retry_after") == 3
    assert stat(crawl, "linkgraph/retry_after/capped") == 1


def test_redirect_loops_chains_and_other_schemes(crawl):
    pages = crawl["pages"]
    assert (pages[f"{H}/loop-a"]["redirect_to"], pages[f"{H}/loop-b"]["redirect_to"]) == (
        f"{H}/loop-b", f"{H}/loop-a")
    chain = [u for u in pages if u.startswith(f"{H}/chain/")]
    # REDIRECT_MAX_TIMES=20: hops 0..20 are rows; /chain/21.. are never requested.
    assert sorted(chain) == sorted(f"{H}/chain/{n}" for n in range(21))
    assert pages[f"{H}/chain/20"]["redirect_to"] == f"{H}/chain/21"
    assert CHAIN_HOPS > 21 and stat(crawl, "linkgraph/skipped/redirect_chain") == 1
    assert pages[f"{H}/to-ftp"]["not_followed"] == "scheme=1"
    assert "ftp://hostile.test/file" not in pages
    assert not [u for u in pages if u.startswith("file:")]
    assert row(crawl, "http://other.test/landing") == (200, None)
    # https to a --resolve IP:PORT host cannot be proxied: recorded as such.
    assert pages["https://hostile.test/secure"]["error"].startswith("ignored: --resolve with a port")


def test_traps_end(crawl):
    pages = crawl["pages"]
    months = [u for u in pages if u.startswith(f"{H}/cal?")]
    assert len(months) == 20  # LINKGRAPH_MAX_QUERY_VARIANTS
    assert stat(crawl, "linkgraph/skipped/trap_query") == 2  # the next month on each side
    sessions = sorted(u.split("?")[0] for u in pages if u.startswith(f"{H}/s/"))
    assert sessions == [f"{H}/s/{n}" for n in range(5)]  # each page once, whatever its sid
    deep = sorted(u for u in pages if u.startswith(f"{H}/a/"))
    assert deep == [f"{H}/a/", f"{H}/a/a/", f"{H}/a/a/a/"]  # LINKGRAPH_MAX_PATH_REPEAT=3
    assert pages[f"{H}/a/a/a/"]["not_followed"] == "trap_path=1"


def test_big_pages_and_bodies(crawl):
    pages = crawl["pages"]
    many = pages[f"{H}/many"]
    assert (many["links_count"], many["links_truncated"]) == (50000, MANY_LINKS - 50000)
    assert stat(crawl, "linkgraph/links_truncated") == MANY_LINKS - 50000
    huge = pages[f"{H}/huge"]["error"]
    assert huge.startswith(f"too_large: Expected to receive {HUGE_BODY} bytes"), huge
    stream = pages[f"{H}/huge-stream"]["error"]
    assert stream.startswith("too_large: received ") and f"DOWNLOAD_MAXSIZE ({MAXSIZE} B)" in stream
    bomb = pages[f"{H}/bomb"]["error"]
    assert bomb.startswith("too_large: decompressed ") and "during decompression" in bomb
    assert stat(crawl, "linkgraph/errors/too_large") == 3
    # The crawler hung up: the server never got to send the 200 MB.
    assert crawl["bytes_sent"][f"{MAIN}/huge-stream"] < 50 * 1024 * 1024
    assert 50 * 1024 * 1024 < crawl["peak"] < RSS_CAP, crawl["peak"]  # sampled, and bounded


def test_bad_content(crawl):
    pages = crawl["pages"]
    assert (pages[f"{H}/wrong-type"]["content_type"], pages[f"{H}/wrong-type"]["links_count"]) == (
        "image/png", 0)
    assert pages[f"{H}/latin1"]["title"] == "Café Zürich"
    assert f"{H}/caf%C3%A9" in pages  # the latin-1 href, decoded then UTF-8 percent-encoded
    assert pages[f"{H}/sjis-undeclared"]["title"] == "日本語のページ"
    assert pages[f"{H}/misdeclared"]["status"] == 200 and pages[f"{H}/misdeclared"]["links_count"] == 1
    assert row(crawl, f"{H}/binary") == (200, None)
    assert row(crawl, f"{H}/nul") == (200, None)
    assert row(crawl, f"{H}/after-nul") == (200, None)  # the link after the NULs was found


def test_deep_nesting_is_capped_and_keeps_every_link(crawl):
    # 100,000 nested <div>s took a minute to parse; 10,000 nested <nav>s cost
    # sections x links. Capped at LINKGRAPH_MAX_NESTING, every link is still there.
    links = {}
    for link in read_rows(crawl["out"], "links"):
        if link["src_url"] in (f"{H}/deep", f"{H}/nested-navs"):
            links.setdefault(link["src_url"], []).append(link)
    deep = sorted(links[f"{H}/deep"], key=lambda r: r["ordinal"])
    assert [r["dst_url"] for r in deep] == [f"{H}/deep-end", f"{H}/after-deep"]
    navs = sorted(links[f"{H}/nested-navs"], key=lambda r: r["ordinal"])
    assert [r["dst_url"] for r in navs] == [f"http://{ELSEWHERE}/nav/{i}" for i in range(10_000)]
    assert {r["position"] for r in navs} == {"nav"}
    assert stat(crawl, "linkgraph/pages_nesting_capped") == 2
    # On the rows: all but the 510 <div>s/<nav>s inside <html><body> were left out.
    assert crawl["pages"][f"{H}/deep"]["nesting_capped"] == 100_000 - 510
    assert crawl["pages"][f"{H}/nested-navs"]["nesting_capped"] == 10_000 - 510
    assert crawl["pages"][f"{H}/"]["nesting_capped"] is None
    assert "deeper than 512" in crawl["stderr"]


def test_long_url_is_recorded_not_fetched(crawl):
    dst = {r["dst_url"] for r in read_rows(crawl["out"], "links")
           if r["src_url"] == f"{H}/long-link"}
    assert dst == {f"{H}{LONG_URL_PATH}"}
    assert f"{H}{LONG_URL_PATH}" not in crawl["pages"]
    assert not [p for _, _, p in crawl["hits"] if p.startswith("/long/")]
    assert crawl["pages"][f"{H}/long-link"]["not_followed"] == "url_length=1"


def test_idn_and_robots_oddities(crawl):
    assert row(crawl, "http://xn--bcher-kva.test/") == (200, None)  # bücher.test
    # robots.txt that is HTML or too large (read to 500 KiB) does not stop the host's crawl.
    for host in ("robots-html.test", "robots-huge.test"):
        assert row(crawl, f"http://{host}/") == (200, None), host
    # A 500 means "disallow all" (RFC 9309); the row says why.
    assert crawl["pages"]["http://robots-500.test/"]["error"] == (
        "robots_txt: robots.txt unreachable (500)")
    assert not [p for _, h, p in crawl["hits"] if h == "robots-500.test" and p != "/robots.txt"]


def test_limits_are_logged_once(crawl):
    for reason in ("trap_query", "trap_path", "url_length", "scheme"):
        assert len(re.findall(rf"\({reason}\); further URLs", crawl["stderr"])) == 1, reason
    assert len(re.findall(r"LINKGRAPH_MAX_LINKS_PER_PAGE\); further", crawl["stderr"])) == 1


def test_verify_accepts_the_hostile_crawl(crawl):
    from linkgraph.storage.verify import verify

    report = verify(str(crawl["out"]))
    assert report.ok, report.problems
    assert report.rows["pages"] == len(crawl["pages"])


def test_max_pages_per_host(tmp_path: Path):
    """The per-host cap ends an otherwise endless site (here: the calendar, unbounded)."""
    out = tmp_path / "out"
    with HostileServer() as server:
        args = linkgraph_argv("crawl", f"{H}/cal?month=0", "-o", str(out),
                "-s", "LINKGRAPH_RESOLVE_ONLY=True", "-s", "LINKGRAPH_MAX_QUERY_VARIANTS=0",
                "-s", "LINKGRAPH_MAX_PAGES_PER_HOST=7", "-s", "ROBOTSTXT_OBEY=False",
                *[a for e in server.resolve_entries() for a in ("--resolve", e)])
        result = subprocess.run(args, cwd=REPO, text=True, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    pages = read_rows(out, "pages")
    assert len(pages) == 7
    assert "'linkgraph/skipped/max_pages_per_host': " in result.stderr


@pytest.mark.parametrize("limit, setting", [
    ("max_pages_per_host", "LINKGRAPH_MAX_PAGES_PER_HOST=20"),
    ("trap_query", "LINKGRAPH_MAX_QUERY_VARIANTS=20"),
])
def test_limits_go_on_across_resumed_sessions(tmp_path: Path, limit: str, setting: str):
    """A cap counts what earlier sessions fetched: 20 in all, not 20 per session."""
    out = tmp_path / "out"
    with HostileServer() as server:
        args = linkgraph_argv("crawl", f"{H}/cal?month=0", "-o", str(out),
                "-s", "LINKGRAPH_RESOLVE_ONLY=True", "-s", "ROBOTSTXT_OBEY=False",
                "-s", "LINKGRAPH_MAX_QUERY_VARIANTS=0", "-s", setting,
                *[a for e in server.resolve_entries() for a in ("--resolve", e)])
        # The first session stops after 8 pages, leaving the crawl interrupted.
        first = subprocess.run([*args, "-s", "CLOSESPIDER_PAGECOUNT=8"], cwd=REPO, text=True,
                               capture_output=True, timeout=120)
        assert first.returncode == 1, first.stderr[-2000:]
        assert 8 <= len(read_rows(out, "pages")) < 20
        second = subprocess.run(args, cwd=REPO, text=True, capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr[-2000:]
    assert len(read_rows(out, "pages")) == 20
    assert f"'linkgraph/skipped/{limit}': " in second.stderr


def test_requests_go_out_while_a_page_parses(tmp_path: Path):
    """Extraction runs in a worker thread: a page that takes seconds to parse (deep
    nesting, uncapped here) does not stop the crawl's other requests."""
    import json
    import time as clock

    from conftest import crawl_args, run_linkgraph
    from linkgraph.demo.localweb import LocalWeb
    from linkgraph.extract import extract_links

    site = tmp_path / "web" / "www.slow-site.com"
    site.mkdir(parents=True)
    # Deep enough to take over a second on a fast, quiet machine (30,000 took 0.97 s).
    depth = 40_000
    deep = "<html><body>" + "<div>" * depth + '<a href="/p0.html">x</a>' + "</div>" * depth
    (site / "deep.html").write_text(deep)
    pages = [f"/p{i}.html" for i in range(60)]
    for path in pages:
        (site / path.lstrip("/")).write_text("<html><body>a page</body></html>")
    (site / "index.html").write_text("<html><body>" + "".join(
        f'<a href="{p}">{p}</a>' for p in ["/deep.html", *pages]) + "</body></html>")
    (site / "_site.json").write_text(json.dumps({"delay": {p: 0.3 for p in pages}}))
    started = clock.perf_counter()
    extract_links("http://www.slow-site.com/deep.html", deep)
    parse = clock.perf_counter() - started
    assert parse > 1.0  # else the page does not test anything

    with LocalWeb(str(tmp_path / "web")) as server:
        done = run_linkgraph("crawl", "http://www.slow-site.com/", "-o", str(tmp_path / "out"),
                             *crawl_args(server, "-s", "LINKGRAPH_MAX_NESTING=None"))
        hits = list(server.hit_times)
    assert done.returncode == 0, done.stderr[-2000:]
    served = next(t for t, _host, path in hits if path == "/deep.html")
    during = [path for t, _host, path in hits if served + parse / 4 < t < served + parse * 3 / 4]
    assert during, (parse, hits)
