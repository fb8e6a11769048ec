"""robots.txt is obeyed across kills and resumes, and its errors follow RFC 9309.

The resume test kills a crawl again and again, each time after a different number of
committed pages, and checks after every session that no ``/members/`` page was ever
requested from the server and that each one that has a row is recorded as disallowed.
The error test crawls hosts whose robots.txt is missing, forbidden, a 503, a 429,
unreachable, longer than 500 KiB, or a 503 that recovers.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import REPO, read_rows
from hostile_server import _closed_port
from linkgraph.demo.localweb import LocalWeb
from linkgraph.storage.part_names import list_parts
from linkgraph.storage.verify import verify

SITE, OTHER = "www.robots-resume.com", "www.robots-other.org"
N_PAGES, N_PRIVATE = 36, 6
DISALLOWED = "robots_txt: disallowed by robots.txt"


def page(title: str, hrefs: list[str]) -> str:
    anchors = "".join(f'<a href="{h}">{h}</a>\n' for h in hrefs)
    return f"<html><head><title>{title}</title></head><body>{anchors}</body></html>"


def make_resume_web(root: Path) -> None:
    """Two sites whose pages all link /members/ pages, so every resumed frontier holds
    many requests of each host before robots.txt is read, the disallowed ones first
    (the frontier is in URL order)."""
    for host in (SITE, OTHER):
        site = root / host
        (site / "members").mkdir(parents=True)
        (site / "robots.txt").write_text("User-agent: *\nDisallow: /members/\n")
        private = [f"/members/m{j}.html" for j in range(N_PRIVATE)]
        (site / "index.html").write_text(
            page("home", [f"/p{i}.html" for i in range(N_PAGES)] + private))
        for i in range(N_PAGES):
            hrefs = [f"/p{(i + 1) % N_PAGES}.html", f"/p{(i * 7) % N_PAGES}.html",
                     private[i % N_PRIVATE], f"http://{OTHER if host == SITE else SITE}/p{i}.html"]
            (site / f"p{i}.html").write_text(page(f"page {i}", hrefs))
        for j, path in enumerate(private):
            (site / path.lstrip("/")).write_text(page(f"members {j}", ["/"]))


def committed_pages(out: Path) -> int:
    folder = out / "pages"
    if not folder.is_dir():
        return 0
    rows = 0
    for name in list_parts(str(folder)):
        try:
            rows += pq.read_metadata(folder / name).num_rows
        except FileNotFoundError:  # merged away by a compaction meanwhile
            return rows
    return rows


def private_rows(out: Path) -> list[dict]:
    return [r for r in read_rows(out, "pages") if "/members/" in r["url"]]


@pytest.mark.slow
def test_robots_txt_holds_after_kills_at_many_points(tmp_path):
    make_resume_web(tmp_path / "web")
    out = tmp_path / "out"
    with LocalWeb(str(tmp_path / "web")) as server:
        cmd = [sys.executable, "-m", "linkgraph", "crawl", f"http://{SITE}/", f"http://{OTHER}/",
               "-o", str(out), "-s", "LINKGRAPH_RESOLVE_ONLY=True", "-s", "LINKGRAPH_FLUSH_PAGES=1",
               "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.1",
               "-s", "LOG_LEVEL=WARNING"]
        for entry in server.resolve_entries():
            cmd += ["--resolve", entry]
        # Kill after this many committed pages (counting all sessions), then resume.
        kills = [(n, signal.SIGKILL) for n in (1, 2, 3, 5, 8, 12, 17, 23, 30)]
        kills[4] = (8, signal.SIGINT)  # and a Ctrl-C, whose session shuts down cleanly
        interrupted = 0
        for after, how in kills:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
            while proc.poll() is None and committed_pages(out) < after:
                time.sleep(0.01)
            if proc.poll() is None:
                proc.send_signal(how)
                interrupted += 1
            _, stderr = proc.communicate(timeout=60)
            assert "Traceback" not in stderr, stderr[-3000:]
            fetched = [path for host, path in server.hits if path.startswith("/members/")]
            assert not fetched, f"after a kill at {after} pages: fetched {fetched}"
            for row in private_rows(out):
                assert (row["status"], row["error"]) == (None, DISALLOWED), row
        assert interrupted >= 6, "the crawl outran the kills: make the site bigger"
        final = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr[-3000:]
        assert not [p for _, p in server.hits if p.startswith("/members/")]
    rows = private_rows(out)
    assert len(rows) == 2 * N_PRIVATE == len({r["url"] for r in rows})
    assert {(r["status"], r["error"]) for r in rows} == {(None, DISALLOWED)}
    assert verify(str(out)).ok


# -- RFC 9309: what an error answer for robots.txt means -------------------------------
class FlakyRobots(ThreadingHTTPServer):
    """A site whose robots.txt answers 503 to its first ``failures`` requests, then
    ``Disallow: /private/``; every other path is a small page."""

    daemon_threads = True

    def __init__(self, failures: int):
        self.failures = failures
        self.hits: list[str] = []
        super().__init__(("127.0.0.1", 0), _FlakyHandler)


class _FlakyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FlakyRobots

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        path = "/" + self.path.split("://", 1)[-1].split("/", 1)[-1]  # absolute-form too
        self.server.hits.append(path)
        status, body = 200, page(path, ["/"]).encode()
        if path == "/robots.txt":
            failed = sum(1 for p in self.server.hits if p == "/robots.txt") <= self.server.failures
            status, body = (503, b"busy\n") if failed else (200, b"User-agent: *\nDisallow: /private/\n")
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if path != "/robots.txt" else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


STATUS_HOSTS = {"r404.test": None, "r403.test": 403, "r503.test": 503, "r429.test": 429}


def make_status_web(root: Path) -> None:
    for host, status in STATUS_HOSTS.items():
        site = root / host
        (site / "private").mkdir(parents=True)
        (site / "index.html").write_text(page(host, ["/private/a.html", "/open.html"]))
        (site / "open.html").write_text(page("open", []))
        (site / "private" / "a.html").write_text(page("private", []))
        if status is not None:
            (site / "_site.json").write_text(f'{{"status": {{"/robots.txt": {status}}}}}')
    big = root / "rbig.test"
    (big / "private").mkdir(parents=True)
    # The rule comes first; 600 KiB of comments follow, cut at 500 KiB.
    (big / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n"
                                    + "# padding padding padding\n" * 24000)
    (big / "index.html").write_text(page("big", ["/private/a.html", "/open.html"]))
    (big / "open.html").write_text(page("open", []))
    # A second site whose pages come slowly, then link the flaky site: by then its
    # robots.txt is due to be fetched again (LINKGRAPH_ROBOTS_RETRY=1).
    chain = root / "chain.test"
    chain.mkdir()
    (chain / "_site.json").write_text('{"delay": {"/1.html": 0.8, "/2.html": 0.8}}')
    (chain / "index.html").write_text(page("chain", ["/1.html"]))
    (chain / "1.html").write_text(page("1", ["/2.html"]))
    (chain / "2.html").write_text(page("2", ["http://flaky.test/page.html",
                                             "http://flaky.test/private/x.html"]))


@pytest.fixture(scope="module")
def status_crawl(tmp_path_factory):
    root = tmp_path_factory.mktemp("robots")
    make_status_web(root / "web")
    out = root / "out"
    # RETRY_TIMES=1: a robots.txt answer of 503 is tried twice before it counts.
    flaky = FlakyRobots(failures=2)
    thread = threading.Thread(target=flaky.serve_forever, daemon=True)
    thread.start()
    try:
        with LocalWeb(str(root / "web")) as server:
            hosts = [*server.hosts(), "flaky.test", "gone.test"]
            args = [sys.executable, "-m", "linkgraph", "crawl",
                    *(f"http://{h}/" for h in hosts), "-o", str(out),
                    "-s", "LINKGRAPH_RESOLVE_ONLY=True", "-s", "RETRY_TIMES=1",
                    "-s", "LINKGRAPH_ROBOTS_RETRY=1", "-s", "AUTOTHROTTLE_ENABLED=False",
                    "--resolve", f"flaky.test=127.0.0.1:{flaky.server_address[1]}",
                    "--resolve", f"gone.test=127.0.0.1:{_closed_port()}"]
            for host in hosts:
                args += ["--allow", host]
            for entry in server.resolve_entries():
                args += ["--resolve", entry]
            result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=240)
            hits = list(server.hits)
    finally:
        flaky.shutdown()
        flaky.server_close()
    assert result.returncode == 0, result.stderr[-3000:]
    pages = {r["url"]: (r["status"], r["error"]) for r in read_rows(out, "pages")}
    return {"pages": pages, "hits": hits, "flaky_hits": flaky.hits, "stderr": result.stderr}


def test_4xx_robots_txt_allows_all(status_crawl):
    pages = status_crawl["pages"]
    for host in ("r404.test", "r403.test"):
        assert pages[f"http://{host}/private/a.html"] == (200, None), host
        assert pages[f"http://{host}/open.html"] == (200, None), host


@pytest.mark.parametrize("host, reason", [("r503.test", "503"), ("r429.test", "429"),
                                          ("gone.test", "refused")])
def test_5xx_or_unreachable_robots_txt_disallows_all(status_crawl, host, reason):
    assert status_crawl["pages"][f"http://{host}/"] == (
        None, f"robots_txt: robots.txt unreachable ({reason})")
    # Only robots.txt was asked for (twice: RETRY_TIMES=1), never a page.
    assert [p for h, p in status_crawl["hits"] if h == host] == (
        [] if host == "gone.test" else ["/robots.txt", "/robots.txt"])
    assert f"robots.txt http://{host}/robots.txt unreachable ({reason})" in status_crawl["stderr"]


def test_robots_txt_is_fetched_again_after_a_failure(status_crawl):
    pages = status_crawl["pages"]
    assert pages["http://flaky.test/"] == (None, "robots_txt: robots.txt unreachable (503)")
    assert pages["http://flaky.test/page.html"] == (200, None)
    assert pages["http://flaky.test/private/x.html"] == (None, DISALLOWED)
    # Once its robots.txt was read, the host's /sitemap.xml was asked for too (once).
    hits = status_crawl["flaky_hits"]
    assert [h for h in hits if h != "/sitemap.xml"] == ["/robots.txt"] * 3 + ["/page.html"]
    assert hits.count("/sitemap.xml") == 1


def test_long_robots_txt_is_read_to_500_kib(status_crawl):
    pages = status_crawl["pages"]
    assert pages["http://rbig.test/private/a.html"] == (None, DISALLOWED)
    assert pages["http://rbig.test/open.html"] == (200, None)
    assert "'robotstxt/truncated': 1" in status_crawl["stderr"]
