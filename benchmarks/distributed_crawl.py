"""Scaling of a distributed crawl: 1 process against --workers 2..4 on one machine.

The web is real documentation nobody here wrote: ten Debian documentation packages
(Python, PostgreSQL, git, SQLite, bash, Sphinx, Flask, Werkzeug, Jinja, the Debian
Reference), each served as its own host by nginx on 127.0.0.1 (Python's http.server
would take a core of its own). Install them once, as root:

    apt-get install python3.11-doc postgresql-doc-15 git-doc sqlite3-doc bash-doc \\
        sphinx-doc python-flask-doc python-werkzeug-doc python-jinja2-doc debian-reference-en \\
        nginx-light

Each round crawls the web once with one process (no Redis) and once with each worker
count (a private redis-server), in turn, so every ratio is against a single-process
crawl measured minutes apart on the same machine. Every crawl must give the same pages
and links as the single process's; the Redis round trips per page come from the
worker sessions in the merged crawl.json.

    python benchmarks/distributed_crawl.py --workers 2,3,4 --repeat 2

``--memory N`` measures instead what Redis holds per URL: N URLs marked seen (fetched),
then N/10 admitted to the frontier (queued, with their URL strings), in a private
redis-server with the settings ``--workers`` gives it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's linkgraph, whatever is installed

#: host -> (Debian package, folder of its HTML, the page to start from)
DOC_SITES = {
    "docs.python.test": ("python3.11-doc", "/usr/share/doc/python3.11/html", "index.html"),
    "docs.postgresql.test": ("postgresql-doc-15", "/usr/share/doc/postgresql-doc-15/html", "index.html"),
    "docs.git.test": ("git-doc", "/usr/share/doc/git-doc", "git.html"),
    "docs.sqlite.test": ("sqlite3-doc", "/usr/share/doc/sqlite3", "index.html"),
    "docs.bash.test": ("bash-doc", "/usr/share/doc/bash-doc", "bashref.html"),
    "docs.jinja.test": ("python-jinja2-doc", "/usr/share/doc/python-jinja2-doc/html", "index.html"),
    "docs.sphinx.test": ("sphinx-doc", "/usr/share/doc/sphinx-doc/html", "index.html"),
    "docs.flask.test": ("python-flask-doc", "/usr/share/doc/python-flask-doc/html", "index.html"),
    "docs.werkzeug.test": ("python-werkzeug-doc", "/usr/share/doc/python-werkzeug-doc/html", "index.html"),
    "docs.debian-reference.test": ("debian-reference-en", "/usr/share/debian-reference", "index.en.html"),
}


def doc_web() -> dict[str, tuple[str, str]]:
    """host -> (HTML folder, start page) of the installed packages; exit 2 if one is missing."""
    missing = [package for package, folder, start in DOC_SITES.values()
               if not os.path.exists(os.path.join(folder, start))]
    if missing or not shutil.which("nginx"):
        print("benchmarks/distributed_crawl.py: install the documentation web first: apt-get "
              "install " + " ".join(missing + ([] if shutil.which("nginx") else ["nginx-light"])),
              file=sys.stderr)
        sys.exit(2)
    return {host: (folder, start) for host, (_p, folder, start) in DOC_SITES.items()}


class Nginx:
    """nginx serving each documentation folder as its own host on 127.0.0.1:PORT."""

    def __init__(self, sites: dict[str, tuple[str, str]], folder: Path):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        servers = "".join(
            f"server {{ listen 127.0.0.1:{self.port}; server_name {host}; root {root}; }}\n"
            for host, (root, _start) in sites.items())
        config = folder / "nginx.conf"
        config.write_text(
            f"worker_processes 1; daemon off; pid {folder}/nginx.pid; error_log {folder}/error.log;\n"
            "events { worker_connections 1024; }\n"
            f"http {{ access_log off; include /etc/nginx/mime.types; client_body_temp_path {folder}; "
            f"proxy_temp_path {folder}; fastcgi_temp_path {folder}; uwsgi_temp_path {folder}; "
            f"scgi_temp_path {folder};\n{servers}}}\n")
        self.process = subprocess.Popen(["nginx", "-c", str(config), "-p", str(folder)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def crawl(seeds: Path, out: Path, resolve: list[str], workers: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "linkgraph", "crawl", str(seeds), "-o", str(out), "-q",
           "-s", "LINKGRAPH_RESOLVE_ONLY=True", *[a for r in resolve for a in ("--resolve", r)]]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"crawl failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds


def contents(out: Path) -> tuple[Counter, int]:
    con = duckdb.connect()
    pages = Counter(con.execute(f"SELECT url, status FROM '{out}/pages/*.parquet'").fetchall())
    links = con.execute(f"SELECT count(*) FROM '{out}/links/*.parquet'").fetchone()[0]
    return pages, links


def round_trips(out: Path) -> float:
    sessions = json.loads((out / "crawl.json").read_text())["sessions"]
    trips = sum(s.get("redis_round_trips", 0) for s in sessions)
    pages = sum(s.get("pages", 0) for s in sessions if "redis_round_trips" in s)
    return trips / pages if pages else float("nan")


def memory(n: int) -> None:
    """Bytes per seen URL and per queued URL in Redis (see the module docstring)."""
    from linkgraph.crawl.distributed.redis_frontier import RedisFrontier, connect
    from linkgraph.crawl.distributed.workers import PrivateRedis

    server = PrivateRedis()
    try:
        client = connect(server.url)
        frontier = RedisFrontier(server.url, {}, lease=60, redis_wait=5,
                                 rebuild=lambda remote, lost: "bench")
        frontier.join()
        base = int(client.info("memory")["used_memory"])
        urls = (f"https://www.site-{i % 5000}.example.org/section/{i // 7}/page-{i}.html"
                for i in range(n))
        started = time.perf_counter()
        batch: list[str] = []
        for url in urls:
            batch.append(url)
            if len(batch) == 50_000:
                frontier.mark_seen(batch)
                batch = []
        frontier.mark_seen(batch)
        seen = int(client.info("memory")["used_memory"]) - base
        print(f"seen-set: {n:,} URLs in {time.perf_counter() - started:.1f} s, "
              f"{seen / n:.1f} bytes per URL ({seen / 2**20:.0f} MiB)", flush=True)
        queued = n // 10
        before = int(client.info("memory")["used_memory"])
        todo = [(f"https://www.other-{i % 5000}.example.net/docs/{i // 7}/page-{i}.html", 3, 0)
                for i in range(queued)]
        for start in range(0, queued, 5_000):
            frontier.admit(todo[start:start + 5_000], None)
        used = int(client.info("memory")["used_memory"]) - before
        length = sum(len(u) for u, _d, _h in todo) / queued
        print(f"frontier: {queued:,} queued URLs (~{length:.0f} characters each), "
              f"{used / queued:.1f} bytes per URL with its seen key", flush=True)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="2,3,4", help="worker counts to compare (default 2,3,4)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (default 1)")
    parser.add_argument("--memory", type=int, metavar="N",
                        help="measure Redis bytes per URL with N seen URLs instead")
    args = parser.parse_args()
    if args.memory:
        memory(args.memory)
        return
    counts = [int(n) for n in args.workers.split(",")]
    sites = doc_web()
    with tempfile.TemporaryDirectory(prefix="lg-bench-dist-") as tmp:
        folder = Path(tmp)
        seeds = folder / "seeds.txt"
        seeds.write_text("".join(f"http://{host}/{start}\n" for host, (_r, start) in sites.items()))
        server = Nginx(sites, folder)
        resolve = [f"{host}=127.0.0.1:{server.port}" for host in sites]
        print(f"load average {os.getloadavg()[0]:.1f}; {len(sites)} documentation sites", flush=True)
        times: dict[int, list[float]] = {1: [], **{n: [] for n in counts}}
        try:
            for round_ in range(1, args.repeat + 1):
                single = crawl(seeds, folder / "single", resolve, 1)
                times[1].append(single)
                reference = contents(folder / "single")
                print(f"round {round_}: 1 process  {single:6.1f} s  {len(reference[0])} pages, "
                      f"{reference[1]} links", flush=True)
                for n in counts:
                    seconds = crawl(seeds, folder / f"w{n}", resolve, n)
                    times[n].append(seconds)
                    same = contents(folder / f"w{n}") == reference
                    print(f"round {round_}: {n} workers {seconds:6.1f} s  {single / seconds:4.2f}x "
                          f"the single process  {round_trips(folder / f'w{n}'):.1f} Redis round "
                          f"trips/page  {'same pages and links' if same else 'DIFFERENT CONTENT'}",
                          flush=True)
                    if not same:
                        sys.exit(1)
        finally:
            server.stop()
        if args.repeat > 1:
            # One pair of runs is noisy (the machine's speed moves between runs): the
            # medians of all rounds, and the median of the rounds' ratios.
            single = statistics.median(times[1])
            for n in counts:
                ratios = [s / w for s, w in zip(times[1], times[n])]
                print(f"median of {args.repeat} rounds: 1 process {single:.1f} s, {n} workers "
                      f"{statistics.median(times[n]):.1f} s: "
                      f"{single / statistics.median(times[n]):.2f}x (median ratio "
                      f"{statistics.median(ratios):.2f}x, range {min(ratios):.2f}-"
                      f"{max(ratios):.2f}x)", flush=True)
        print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
