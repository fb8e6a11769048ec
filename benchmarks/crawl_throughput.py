"""Crawl throughput: a bare Scrapy spider vs ``linkgraph crawl``, in one run.

Generates a site of ``--pages`` pages with ~75 links each (a 20-link navigation shared
by all pages plus 55 links to random pages), serves it from nginx on 127.0.0.1 (or, if
nginx is not installed, from linkgraph's threaded LocalWeb server), and crawls it:

1. ``bare``: a minimal Scrapy spider that follows every link with Scrapy's
   LinkExtractor and writes nothing (the baseline a user would write first), with
   Scrapy's defaults and again with ``CONCURRENT_ITEMS=2`` (see linkgraph/settings.py);
2. ``linkgraph``: ``linkgraph crawl`` writing complete link and page records.

Both run in a fresh subprocess with the same concurrency, no AutoThrottle and no
robots.txt (the generated site has none). Pages/s is Scrapy's response count over the
crawl's elapsed time (from its stats), so process start-up is excluded for both.
Also prints the memory a seen URL costs in the spider's seen-set.

Usage: python benchmarks/crawl_throughput.py [--pages 3000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COMMON = {"CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
          "AUTOTHROTTLE_ENABLED": False, "ROBOTSTXT_OBEY": False, "LOG_LEVEL": "WARNING",
          "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False}

BARE_SPIDER = '''
import json, sys
from scrapy import Spider
from scrapy.crawler import CrawlerProcess
from scrapy.linkextractors import LinkExtractor

class Bare(Spider):
    name = "bare"
    start_urls = [sys.argv[1]]
    extractor = LinkExtractor()

    def parse(self, response):
        for link in self.extractor.extract_links(response):
            yield response.follow(link.url, self.parse)

process = CrawlerProcess(json.loads(sys.argv[2]))
crawler = process.create_crawler(Bare)
process.crawl(crawler)
process.start()
stats = crawler.stats.get_stats()
print(json.dumps({"pages": stats.get("response_received_count", 0),
                  "seconds": stats["elapsed_time_seconds"],
                  "rss": stats.get("memusage/max", 0)}))
'''

LINKGRAPH_CRAWL = '''
import json, sys
from linkgraph.crawl.run import CrawlRequest, run_crawl
stats = run_crawl(CrawlRequest(seeds=[sys.argv[1]], output=sys.argv[3],
                               settings=json.loads(sys.argv[2])))
print(json.dumps({"pages": stats.get("response_received_count", 0),
                  "seconds": stats["elapsed_time_seconds"],
                  "rss": stats.get("memusage/max", 0),
                  "links": stats.get("linkgraph/rows/links", 0)}))
'''


def make_site(root: Path, pages: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    nav = "".join(f'<li><a href="/p{i}.html">Section {i}</a></li>' for i in range(20))
    for i in range(pages):
        body = "".join(f'<p>Related: <a href="/p{rng.randrange(pages)}.html" title="t">page {i}-{k}</a></p>'
                       for k in range(55))
        html = (f"<!DOCTYPE html><html><head><title>Page {i}</title></head><body>"
                f"<header><nav><ul>{nav}</ul></nav></header><main>{body}</main>"
                f"<footer><a href='/'>Home</a></footer></body></html>")
        (root / f"p{i}.html").write_text(html)
    (root / "index.html").write_text('<html><body><a href="/p0.html">start</a></body></html>')


class Nginx:
    """nginx serving ``root`` on 127.0.0.1:port, if nginx is installed."""

    def __init__(self, root: Path, workdir: Path):
        self.root, self.workdir = root, workdir
        self.port = _free_port()

    def __enter__(self) -> Nginx:
        conf = self.workdir / "nginx.conf"
        conf.write_text(f"""
worker_processes 1; pid {self.workdir}/nginx.pid; error_log {self.workdir}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; keepalive_requests 100000;
  client_body_temp_path {self.workdir}; proxy_temp_path {self.workdir};
  fastcgi_temp_path {self.workdir}; uwsgi_temp_path {self.workdir}; scgi_temp_path {self.workdir};
  types {{ text/html html; }}
  server {{ listen 127.0.0.1:{self.port}; root {self.root}; index index.html; }} }}""")
        self.proc = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"])
        _wait_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int) -> None:
    import socket

    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def run(script: str, *args: str) -> dict:
    # From a file, not -c: Scrapy inspects callbacks' source code.
    with tempfile.TemporaryDirectory(prefix="lg-bench-script-") as folder:
        path = Path(folder) / "crawl.py"
        path.write_text(script)
        result = subprocess.run([sys.executable, str(path), *args], capture_output=True,
                                text=True, cwd=REPO, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def seen_set_bytes_per_url(n: int = 1_000_000) -> float:
    urls = [f"http://www.example.com/section/{i}/page-{i * 7}.html" for i in range(n)]
    tracemalloc.start()
    seen = {hash(u) for u in urls}
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(seen) == n
    return size / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each crawler (best is kept)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lg-bench-"))
    try:
        make_site(work / "site", args.pages)
        if shutil.which("nginx"):
            server_cm, name = Nginx(work / "site", work), "nginx"
        else:
            from linkgraph.demo.localweb import LocalWeb

            (work / "web").mkdir()
            os.symlink(work / "site", work / "web" / "127.0.0.1")
            server_cm, name = LocalWeb(str(work / "web")), "LocalWeb (install nginx for a faster server)"
        with server_cm as server:
            seed = f"http://127.0.0.1:{server.port}/"
            print(f"site: {args.pages} pages, ~76 links each, served by {name} at {seed}")
            results: dict[str, dict] = {}
            for attempt in range(args.repeat):
                bare = run(BARE_SPIDER, seed, json.dumps(COMMON))
                # The same spider with the one setting linkgraph tunes that it could use too.
                tuned = run(BARE_SPIDER, seed, json.dumps({**COMMON, "CONCURRENT_ITEMS": 2}))
                out = work / f"out{attempt}"
                lg = run(LINKGRAPH_CRAWL, seed, json.dumps({**COMMON, "LINKGRAPH_PROGRESS_INTERVAL": 0}), str(out))
                for key, res in (("bare", bare), ("bare+ci2", tuned), ("linkgraph", lg)):
                    res["rate"] = res["pages"] / res["seconds"]
                    print(f"  run {attempt + 1} {key:9s}: {res['pages']} pages in {res['seconds']:.1f} s "
                          f"= {res['rate']:.0f} pages/s, peak RSS {res['rss'] / 2**20:.0f} MB"
                          + (f", {res['links']} link rows" if "links" in res else ""))
                    if key not in results or res["rate"] > results[key]["rate"]:
                        results[key] = res
        ratio = results["linkgraph"]["rate"] / results["bare"]["rate"]
        print(f"bare Scrapy + LinkExtractor: {results['bare']['rate']:.0f} pages/s")
        print(f"bare, CONCURRENT_ITEMS=2:    {results['bare+ci2']['rate']:.0f} pages/s "
              f"(linkgraph / this: {results['linkgraph']['rate'] / results['bare+ci2']['rate']:.2f}x)")
        print(f"linkgraph crawl (full records): {results['linkgraph']['rate']:.0f} pages/s")
        print(f"ratio linkgraph / bare: {ratio:.2f}x")
        print(f"seen-set memory: {seen_set_bytes_per_url():.0f} bytes per URL seen")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
