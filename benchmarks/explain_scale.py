"""`linkgraph explain` at scale: one page's PageRank terms on a 1M-page / 10M-link crawl.

Generates the synthetic web-like crawl of ``benchmarks/score_scale.py`` (its
``generate``: every crawl column, node ids, compacted as a finished crawl), scores it
(``linkgraph score DIR --no-hits --no-sites``) and then times, each in a fresh
process as a user runs it (interpreter start, imports and exit included):

- ``explain DIR URL`` for the page with the highest PageRank (the most in-links) and
  for the median page, one row per in-link;
- ``explain DIR URL --by domain`` for the top page;

against the baseline measured in the same run: ``linkgraph score DIR --no-hits
--no-sites``, what recomputing that page's PageRank from the crawl costs. ``explain``
rebuilds the same graph (the scorer's code) but runs no iteration. Each run's check
line (the terms' sum against the stored PageRank) is printed.

Usage: python benchmarks/explain_scale.py [--nodes 1000000 --edges 10000000]
       [--keep DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

from score_scale import _run, committed_link_rows, generate  # noqa: E402

log = logging.getLogger("explain_scale")


def timed(name: str, *argv: str) -> tuple[float, str]:
    """Wall seconds of ``python -m linkgraph ARGV`` in a fresh process, and its
    standard output and error."""
    load = os.getloadavg()[0]
    seconds, rss, stdout, stderr = _run([sys.executable, "-m", "linkgraph", *argv])
    log.info("%s: %.2f s, peak RSS %.0f MB (load average before %.2f)", name, seconds,
             rss / 2**20, load)
    return seconds, stdout + stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args = parser.parse_args()

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="explain_scale_"))
    if not (root / "links").is_dir():
        t = time.perf_counter()
        generate(root, args.nodes, args.edges)
        log.info("generated %s in %.1f s", root, time.perf_counter() - t)
    rows = committed_link_rows(root)
    score = ["score", str(root), "--no-hits", "--no-sites", "-q"]
    timed("warm-up score", *score)  # the page cache gets the files
    pages = pq.read_table(root / "scores" / "pages.parquet", columns=["url", "in_links"])
    top_url = pages.column("url")[0].as_py()
    median_url = pages.column("url")[pages.num_rows // 2].as_py()
    cases = {
        "score --no-hits --no-sites (baseline)": score,
        "explain top page": ["explain", str(root), top_url, "-o", os.devnull, "--format", "csv"],
        "explain median page": ["explain", str(root), median_url, "-o", os.devnull,
                                "--format", "csv"],
        "explain top page --by domain": ["explain", str(root), top_url, "--by", "domain",
                                         "-o", os.devnull, "--format", "csv"],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    checks: dict[str, str] = {}
    # Interleaved runs: a load spike on the shared machine hits every command alike.
    for _ in range(args.repeat):
        for name, argv in cases.items():
            seconds, output = timed(name, *argv)
            times[name].append(seconds)
            for line in output.splitlines():
                if line.startswith("check:"):
                    checks[name] = line
    baseline = min(times["score --no-hits --no-sites (baseline)"])
    print(f"\n{args.nodes:,} pages, {rows:,} link rows ({root}); best of {args.repeat}, "
          "median in brackets; ratio = baseline / command (best)")
    for name, values in times.items():
        ratio = baseline / min(values)
        print(f"  {name:40s} {min(values):6.2f} s [{statistics.median(values):.2f}]  "
              f"x{ratio:.2f}")
        if name in checks:
            print(f"    {checks[name]}")
    print(f"  top page: {top_url} ({pages.column('in_links')[0].as_py():,} link rows in)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
