"""Scoring on Spark: ``linkgraph score --engine spark`` (local mode) against the local
engine on the same synthetic crawl, measured in the same run.

The crawl is benchmarks/score_scale.py's web-like graph (default 1M nodes, 10M
distinct edges, written as a crawl writes it). Each engine runs ``linkgraph score DIR
--no-hits --no-sites`` (the PageRank table of every page, link counts included) in a
fresh process; the whole process tree's RSS (the JVM's too) is sampled every 0.5 s.
Reported: wall time, PageRank iterations and time per iteration (from the engines'
log lines), peak memory, the max abs PageRank difference between the two tables, the
ratio, and a cluster estimate for a 1B-edge graph from the measured per-edge rate.

Spark's driver (in local mode the whole engine) gets ``--spark-memory`` (default 8g):
with Spark's default of 1g the 10M-edge run failed with an out-of-memory error in its
aggregations.

Usage: python benchmarks/score_spark.py [--nodes 1000000 --edges 10000000]
       [--keep DIR] [--spark-master local[*]] [--spark-memory 8g]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_scale import REPO, generate  # noqa: E402

log = logging.getLogger("score_spark")


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (0 once gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run(name: str, argv: list[str]) -> dict:
    """``python -m linkgraph ARGV`` in a fresh process: wall seconds, peak tree RSS, log."""
    load = os.getloadavg()[0]
    log.info("%s ... (load average %.2f)", name, load)
    with tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "linkgraph", *argv], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=err, text=True)
        peak = [0]

        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], _tree_rss(proc.pid))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        seconds = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        sampler.join()
        err.seek(0)
        stderr = err.read()
    if code:
        sys.stderr.write(stderr[-3000:])
        raise SystemExit(f"{name} failed with exit code {code}")
    match = re.findall(r"pagerank: (\d+) iterations.*?in ([\d.]+) s", stderr) or \
        re.findall(r"score: pagerank (\d+) iterations \(([\d.]+) s\)", stderr)
    iterations = int(match[-1][0]) if match else 0
    result = {"name": name, "seconds": seconds, "rss": peak[0], "load": load,
              "load_after": load_after, "iterations": iterations}
    # Time per iteration: the PageRank phase over its steps (local: the phase's own
    # time; Spark: the loop from its first to its last progress line).
    steps = [float(s) for s in re.findall(r"pagerank: iteration \d+, .*?\(([\d.]+) s\)", stderr)]
    phase = re.findall(r"pagerank: \d+ iterations in ([\d.]+) s", stderr)
    if phase:
        result["per_iteration"] = float(phase[-1]) / max(iterations, 1)
    elif len(steps) >= 2:
        first = re.search(r"pagerank: iteration (\d+),", stderr)
        last = re.findall(r"pagerank: iteration (\d+),", stderr)[-1]
        result["per_iteration"] = (steps[-1] - steps[0]) / max(int(last) - int(first[1]), 1)
    log.info("%s: %.1f s, %s iterations, peak %.0f MB", name, seconds, iterations,
             peak[0] / 2**20)
    return result


def max_diff(a: Path, b: Path) -> float:
    x = pq.read_table(a, columns=["url", "pagerank"]).sort_by("url")
    y = pq.read_table(b, columns=["url", "pagerank"]).sort_by("url")
    if not x.column("url").equals(y.column("url")):
        raise SystemExit("the engines scored different node sets")
    return float(np.abs(x.column("pagerank").to_numpy() - y.column("pagerank").to_numpy()).max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR (reused) and keep it")
    parser.add_argument("--spark-master", default="local[*]")
    parser.add_argument("--spark-memory", default="8g", help="spark.driver.memory")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="score-spark-"))
    try:
        if not (root / "links").is_dir():
            generate(root, args.nodes, args.edges)
        common = [str(root), "--no-hits", "--no-sites"]
        local = run("local", ["score", *common, "-o", str(root / "local")])
        spark = run("spark", ["score", *common, "-o", str(root / "spark"), "--engine", "spark",
                              "--spark-master", args.spark_master,
                              "--spark-conf", f"spark.driver.memory={args.spark_memory}"])
        diff = max_diff(root / "local" / "pages.parquet", root / "spark" / "pages.parquet")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    cores = os.cpu_count() or 1
    print(f"graph: {args.nodes:,} nodes, {args.edges:,} link rows; {cores} cores")
    for r in (local, spark):
        per = r.get("per_iteration")
        print(f"{r['name']:>6}: {r['seconds']:8.1f} s total, {r['iterations']} PageRank "
              f"iterations, {per:.3f} s/iteration, peak {r['rss'] / 2**20:,.0f} MB "
              f"(load {r['load']:.1f} -> {r['load_after']:.1f})" if per else
              f"{r['name']:>6}: {r['seconds']:8.1f} s total, peak {r['rss'] / 2**20:,.0f} MB")
    print(f"spark / local: {spark['seconds'] / local['seconds']:.1f}x the time, "
          f"{spark['rss'] / max(local['rss'], 1):.1f}x the memory; "
          f"max abs PageRank difference {diff:.2e}")
    per = spark.get("per_iteration")
    if per:
        # Basis: one step touches every edge once (join + partial aggregation); the
        # measured rate per core scales with cores as long as the shuffle keeps up.
        rate = args.edges / (per * cores)
        cluster_cores = 400
        print(f"1B-edge estimate: {rate:,.0f} edges/s per core per step here -> "
              f"{1e9 / (rate * cluster_cores):.0f} s per step on {cluster_cores} cores; "
              f"cached edge table ~{1e9 * 24 / 2**30:.0f} GiB uncompressed (src, dst, w), "
              f"rank table ~{args.nodes / args.edges * 1e9 * 40 / 2**30:.0f} GiB at this "
              "graph's nodes per edge")
    return 0


if __name__ == "__main__":
    sys.exit(main())
