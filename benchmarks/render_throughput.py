"""Rendered vs raw crawl throughput over >= 1,000 local JavaScript pages, in one run.

Generates a site whose pages each insert links by script (plus one raw link chain so
a raw crawl finds every page too), serves it with LocalWeb on 127.0.0.1, and crawls
it twice with ``python -m linkgraph crawl``: ``--render never`` then ``--render
always``. Prints pages/s of each (the crawl's own ``elapsed_time_seconds``, browser
start included), their ratio, links found only by rendering, and the peak RSS of the
crawl process plus all its children (Playwright's driver, every Chromium process),
sampled with psutil every 50 ms; also the peak of the first and last third of the
rendered crawl, to show whether memory grows with pages rendered.

    python benchmarks/render_throughput.py [--pages 1000]
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from linkgraph.demo.localweb import LocalWeb  # noqa: E402

HOST = "www.js-bench.test"
PAGE = """<!doctype html>
<html><head><title>Page {i}</title></head>
<body><h1>Page {i}</h1>
<nav id="nav"><a href="/">Home</a> <a href="/p{next}.html">Next</a></nav>
<p>Some text so the page is not empty. Page number {i} of a generated site.</p>
<script>
  const nav = document.getElementById("nav");
  for (const n of [{a}, {b}, {c}, {d}, {e}]) {{
    const link = document.createElement("a");
    link.href = "/p" + n + ".html"; link.textContent = "Page " + n;
    nav.appendChild(link);
  }}
</script>
</body></html>
"""


def make_site(root: Path, pages: int) -> None:
    site = root / HOST
    site.mkdir(parents=True)
    links = "".join(f'<a href="/p{i}.html">{i}</a>\n' for i in range(0, pages, 50))
    (site / "index.html").write_text(f"<html><body><a href='/p0.html'>start</a>{links}</body></html>")
    for i in range(pages):
        picks = [(i * 7 + k * 131) % pages for k in range(1, 6)]
        (site / f"p{i}.html").write_text(PAGE.format(
            i=i, next=(i + 1) % pages, a=picks[0], b=picks[1], c=picks[2], d=picks[3], e=picks[4]))


def final_stats(stderr: str) -> dict:
    start = stderr.index("Dumping Scrapy stats:") + len("Dumping Scrapy stats:")
    body = stderr[start:stderr.index("}", start) + 1]
    return ast.literal_eval(re.sub(r"datetime\.datetime\([^)]*\)", "None", body).strip())


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def crawl(server, out: Path, mode: str, extra: list[str]) -> dict:
    args = [sys.executable, "-m", "linkgraph", "crawl", f"http://{HOST}/", "-o", str(out),
            "--render", mode, "-s", "LINKGRAPH_RESOLVE_ONLY=True", "-s", "LOG_LEVEL=INFO",
            "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16",
            "-s", "LINKGRAPH_PROGRESS_INTERVAL=60", *extra]
    for entry in server.resolve_entries():
        args += ["--resolve", entry]
    popen = subprocess.Popen(args, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parent = psutil.Process(popen.pid)
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    while popen.poll() is None:
        try:
            samples.append((time.monotonic() - started, tree_rss(parent)))
        except psutil.Error:
            pass
        time.sleep(0.05)
    _, stderr = popen.communicate()
    if popen.returncode != 0:
        sys.exit(f"{mode} crawl failed:\n{stderr[-3000:]}")
    stats = final_stats(stderr)
    pages = stats.get("linkgraph/pages", 0)
    elapsed = stats["elapsed_time_seconds"]
    third = max(1, len(samples) // 3)
    return {
        "pages": pages,
        "rendered": stats.get("linkgraph/render/pages", 0),
        "errors": stats.get("linkgraph/render/errors", 0) + stats.get("linkgraph/errors", 0),
        "links": stats.get("linkgraph/links", 0),
        "only_rendered": stats.get("linkgraph/render/links_only_rendered", 0),
        "elapsed": elapsed,
        "rate": pages / elapsed,
        "peak_mb": max(rss for _, rss in samples) / 2**20,
        "first_third_mb": max(rss for _, rss in samples[:third]) / 2**20,
        "last_third_mb": max(rss for _, rss in samples[-third:]) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("-s", dest="settings", action="append", default=[],
                        help="extra NAME=VALUE for both crawls")
    args = parser.parse_args()
    extra = [x for s in args.settings for x in ("-s", s)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_site(root / "web", args.pages)
        with LocalWeb(str(root / "web")) as server:
            raw = crawl(server, root / "raw", "never", extra)
            rendered = crawl(server, root / "rendered", "always", extra)
    print(f"{args.pages + 1} pages ({psutil.cpu_count()} cores)")
    for name, r in (("raw (--render never)", raw), ("rendered (--render always)", rendered)):
        print(f"{name:28s} {r['pages']:5d} pages in {r['elapsed']:6.1f} s = {r['rate']:7.1f} pages/s; "
              f"{r['links']} links ({r['only_rendered']} only rendered); {r['errors']} errors; "
              f"peak RSS {r['peak_mb']:.0f} MB (first third {r['first_third_mb']:.0f}, "
              f"last third {r['last_third_mb']:.0f})")
    print(f"raw / rendered speed: {raw['rate'] / rendered['rate']:.1f}x")


if __name__ == "__main__":
    main()
