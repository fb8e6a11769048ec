"""Distributed crawls: workers sharing a frontier in a real Redis, against local webs.

Every check compares with what a single process crawls from the same web: the same
pages (with their click depth and status) and the same link rows, each exactly once,
whatever worker or Redis was killed when.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import (REPO, assert_node_ids, crawl_args, linkgraph_argv, read_rows,
                      run_linkgraph, subprocess_env)
from linkgraph.crawl.distributed.redis_frontier import RedisFrontier
from linkgraph.demo.localweb import LocalWeb, LocalWebServer
from linkgraph.storage.verify import verify
from redis_server import RedisServer
from test_depth import DEPTH_WEB, EXPECTED, WWW, click_distances

pytestmark = pytest.mark.e2e

DEMO_WEB = REPO / "data" / "demo-web"
HOSTS = ("www.ant-docs.org", "www.bee-docs.org", "www.cat-docs.org")


def make_web(root: Path, pages: int = 120, delay: float | None = None,
             robots: dict[str, str] | None = None) -> Path:
    """Three hosts of ``pages`` pages each linking 8 others (some on another host, some
    twice, some off-site), a redirect and a broken link per host; seeds.txt."""
    rng = random.Random(5)
    for h, host in enumerate(HOSTS):
        site = root / host
        site.mkdir(parents=True)
        config: dict = {"redirects": {"/moved": [301, f"http://{host}/p1.html"]}}
        if delay:
            config["delay"] = {f"/p{i}.html": delay for i in range(pages)}
        (site / "_site.json").write_text(json.dumps(config))
        if robots and host in robots:
            (site / "robots.txt").write_text(robots[host])
        for i in range(pages):
            links = [f"/p{(i + 1) % pages}.html"]
            for _ in range(7):
                other = HOSTS[rng.randrange(3)] if rng.random() < 0.2 else host
                links.append(f"http://{other}/p{rng.randrange(pages)}.html")
            links += [links[2], "/moved", "/missing.html", f"http://elsewhere.example/{i}"]
            body = "".join(f'<a href="{u}">to {u}</a>\n' for u in links)
            (site / f"p{i}.html").write_text(
                f"<html><head><title>{host} {i}</title></head><body>{body}</body></html>")
        (site / "index.html").write_text('<html><body><a href="/p0.html">start</a></body></html>')
    (root / "seeds.txt").write_text("".join(f"http://{host}/\n" for host in HOSTS))
    return root


def snapshot(out: Path) -> tuple[Counter, Counter]:
    """(pages, links) as multisets of what a crawl records, ids left out."""
    pages = Counter((r["url"], r["status"], r["depth"], r["redirect_to"], r["error"])
                    for r in read_rows(out, "pages"))
    links = Counter((r["src_url"], r["dst_url"], r["ordinal"], r["link_type"], r["anchor_text"],
                     tuple(r["rel"] or ()), r["depth"]) for r in read_rows(out, "links"))
    return pages, links


def crawl_cmd(web: Path, out: Path, server, *extra: str) -> list[str]:
    return linkgraph_argv("crawl", str(web / "seeds.txt"), "-o", str(out),
                          *crawl_args(server, "-s", "LOG_LEVEL=WARNING", *extra))


def run(cmd: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=subprocess_env(None))


def wait_until(condition, timeout: float = 60, why=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {why()}"
        time.sleep(0.1)


def check_one_crawl(out: Path) -> None:
    """``out`` is a crawl folder as a single process leaves it: merged, verified."""
    assert json.loads((out / "crawl.json").read_text())["status"] == "finished"
    assert not (out / "workers").exists()
    assert verify(str(out)).ok
    assert_node_ids(out)


def test_workers_on_one_machine_crawl_what_one_process_crawls(tmp_path):
    web = make_web(tmp_path / "web")
    with LocalWeb(str(web)) as server:
        single = run(crawl_cmd(web, tmp_path / "single", server))
        assert single.returncode == 0, single.stderr[-3000:]
        three = run(crawl_cmd(web, tmp_path / "three", server, "--workers", "3"))
        assert three.returncode == 0, three.stderr[-3000:]
        again = run(crawl_cmd(web, tmp_path / "three", server, "--workers", "3"))
    assert "3 workers finished" in three.stderr
    check_one_crawl(tmp_path / "three")
    assert snapshot(tmp_path / "three") == snapshot(tmp_path / "single")
    pages, _links = snapshot(tmp_path / "three")
    assert max(pages.values()) == 1 and len(pages) > 3 * 120
    # More than one worker did the work.
    sessions = json.loads((tmp_path / "three" / "crawl.json").read_text())["sessions"]
    assert sum(1 for s in sessions if s.get("pages")) >= 2
    assert again.returncode == 0 and "finished crawl" in again.stderr


def test_depth_is_the_click_distance_across_workers(tmp_path):
    out = tmp_path / "out"
    with LocalWeb(str(DEPTH_WEB)) as server:
        result = run(linkgraph_argv("crawl", f"{WWW}/", "-o", str(out), "--workers", "2",
                                    *crawl_args(server, "-s", "ROBOTSTXT_OBEY=False")))
    assert result.returncode == 0, result.stderr[-3000:]
    depths = {p["url"]: p["depth"] for p in read_rows(out, "pages")}
    assert depths == EXPECTED
    distances = click_distances(out, [f"{WWW}/"])
    assert depths == {url: distances[url] for url in depths}


def overlaps(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda e: (e[0], e[1]))
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


def test_politeness_holds_for_all_workers_together(tmp_path):
    """From the server's own access log: per-host cap, Crawl-delay and Disallow."""
    slow, delayed = HOSTS[0], HOSTS[1]
    web = make_web(tmp_path / "web", pages=40, delay=0.15, robots={
        delayed: "User-agent: *\nCrawl-delay: 0.3\nDisallow: /p3.html\n"})
    with LocalWeb(str(web)) as server:
        result = run(crawl_cmd(web, tmp_path / "out", server, "--workers", "3",
                               "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2",
                               "-s", "AUTOTHROTTLE_ENABLED=False"))
        visits = list(server.visits)
    assert result.returncode == 0, result.stderr[-3000:]
    by_host: dict[str, list[tuple[float, float, str]]] = {}
    for start, end, host, path in visits:
        by_host.setdefault(host, []).append((start, end, path))
    # Three workers of two requests each would reach six at once. Reaching two is not
    # certain: each worker holds at most one of the two slots (its share), and whether
    # two workers hold requests for the host at one moment depends on which worker read
    # which frontier entries (it failed one run in five when it asked for exactly two).
    slow_visits = by_host[slow]
    assert overlaps([(s, e) for s, e, _ in slow_visits]) <= 2
    # Crawl-delay 0.3 s between the starts of any two requests, whichever worker sent them.
    # Arrival times carry the jitter of a loaded machine (a worker descheduled between its
    # grant and its send makes one gap look shorter, the next longer), the span does not;
    # three workers pacing only themselves would give a third of it, and gaps near 0.
    starts = sorted(s for s, _, _ in by_host[delayed])
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(starts) > 20
    assert starts[-1] - starts[0] >= 0.3 * (len(starts) - 1) * 0.95
    assert min(gaps) > 0.05 and sum(g < 0.2 for g in gaps) <= len(gaps) // 10, gaps
    assert not [p for _, _, p in by_host[delayed] if p == "/p3.html"]
    pages = {r["url"]: r for r in read_rows(tmp_path / "out", "pages")}
    assert pages[f"http://{delayed}/p3.html"]["error"].startswith("robots_txt")


def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    web = DEMO_WEB
    with RedisServer() as redis_server, LocalWeb(str(web)) as server:
        first = run(crawl_cmd(web, tmp_path / "first", server, "--frontier", redis_server.url))
        assert first.returncode == 0, first.stderr[-3000:]
        check_one_crawl(tmp_path / "first")
        cases = {
            "unreachable": (["--frontier", "redis://127.0.0.1:1/0"], "cannot reach Redis"),
            "other seeds": (["--frontier", redis_server.url, "--max-depth", "1"],
                            "holds another crawl: its LINKGRAPH_MAX_DEPTH"),
            "other settings": (["--frontier", redis_server.url, "-s", "DOWNLOAD_DELAY=0.5"],
                               "its DOWNLOAD_DELAY is"),
            "fresh": (["--frontier", redis_server.url, "--fresh"], "--fresh cannot be used"),
            "bad url": (["--frontier", "http://127.0.0.1/"], "--frontier takes redis://"),
            "workers 0": (["--workers", "0"], "expected a whole number >= 1"),
        }
        for name, (extra, message) in cases.items():
            out = tmp_path / name.replace(" ", "-")
            result = run(crawl_cmd(web, out, server, *extra))
            assert result.returncode == 2, (name, result.stderr[-2000:])
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and message in lines[0], (name, result.stderr[-2000:])
            assert not out.exists(), name
        other = run(linkgraph_argv("crawl", "http://www.northwind-gardens.com/", "-o",
                                   str(tmp_path / "x"), "--frontier", redis_server.url,
                                   *crawl_args(server)))
        assert other.returncode == 2 and "holds another crawl: its seeds" in other.stderr
        redis_server.client().set("someone-else", "1")
        redis_server.client().delete(*redis_server.client().keys("lg:*"))
        foreign = run(crawl_cmd(web, tmp_path / "y", server, "--frontier", redis_server.url))
        assert foreign.returncode == 2 and "holds other data" in foreign.stderr
        # A single-process crawl folder is not a worker's.
        single = run(crawl_cmd(web, tmp_path / "first", server, "--workers", "2"))
        assert single.returncode == 0 and "finished crawl" in single.stderr


@pytest.mark.slow
def test_sigkill_of_workers_and_of_redis_loses_nothing(tmp_path):
    """Three workers, random SIGKILLs of workers (each replaced) and of Redis (restarted
    empty): the merged crawl equals a single process's, every page once."""
    web = make_web(tmp_path / "web", pages=150)
    settings = ("-s", "DOWNLOAD_DELAY=0.05", "-s", "AUTOTHROTTLE_ENABLED=False",
                "-s", "CONCURRENT_REQUESTS=4", "-s", "LINKGRAPH_FLUSH_PAGES=5")
    rng = random.Random(int(os.environ.get("LINKGRAPH_KILL_SEED", "3")))
    out = tmp_path / "out"
    with LocalWeb(str(web)) as server, RedisServer() as redis_server:
        single = run(crawl_cmd(web, tmp_path / "single", server, *settings))
        assert single.returncode == 0, single.stderr[-3000:]
        worker = crawl_cmd(web, out, server, *settings, "--frontier", redis_server.url,
                           "-s", "LINKGRAPH_WORKER_LEASE=2")
        logs = tmp_path / "logs"
        logs.mkdir()

        def start(n: int) -> subprocess.Popen:
            with (logs / f"worker-{n}.log").open("w") as log:
                return subprocess.Popen(worker, cwd=REPO, env=subprocess_env(None),
                                        stdout=subprocess.DEVNULL, stderr=log)

        def describe() -> str:
            state = {n: w.poll() for n, w in enumerate(workers)}
            tails = {n: (logs / f"worker-{n}.log").read_text()[-800:] for n in state}
            client = redis_server.client()
            return (f"exit codes {state}; alive {client.keys('lg:alive:*')}; counts "
                    f"{client.hgetall('lg:count')}; done {client.hgetall('lg:done')}; logs {tails}")

        workers = [start(n) for n in range(3)]
        killed = {"worker": 0, "redis": 0}
        for step in range(5):
            time.sleep(rng.uniform(1.0, 2.5))
            live = [w for w in workers if w.poll() is None]
            if not live:
                break
            if step == 2:
                # Once every live worker has joined (a worker starting while Redis is
                # down is refused at its checks, as it should be).
                wait_until(lambda: len(redis_server.client().keys("lg:alive:*"))
                           >= sum(w.poll() is None for w in workers), why=lambda: describe())
                redis_server.kill()
                killed["redis"] += 1
                time.sleep(0.5)
                redis_server.start()
            else:
                victim = rng.choice(live)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed["worker"] += 1
                workers.append(start(len(workers)))
        wait_until(lambda: all(w.poll() is not None for w in workers), timeout=240,
                   why=describe)
        assert killed["worker"] >= 2 and killed["redis"] == 1, (
            "the crawl finished before the kills: make the web bigger")
        codes = [w.returncode for w in workers]
        failures = {n: (logs / f"worker-{n}.log").read_text()[-1500:]
                    for n, c in enumerate(codes) if c not in (0, -signal.SIGKILL)}
        assert not failures, failures
    check_one_crawl(out)
    pages, links = snapshot(out)
    assert max(pages.values()) == 1
    assert (pages, links) == snapshot(tmp_path / "single")


def test_a_worker_folder_being_made_is_left_to_its_worker(tmp_path):
    """Workers start at the same moment (forked): one that lists the folders while
    another has just made its own, not yet holding it, must not take it."""
    from linkgraph.crawl.distributed.folders import open_worker_folder

    seeds, allow = ["http://www.ant-docs.org/"], ["www.ant-docs.org"]
    (tmp_path / "workers" / "000").mkdir(parents=True)  # made, no manifest yet
    taken = open_worker_folder(str(tmp_path), seeds, allow, "c1")
    try:
        assert Path(taken.path).name == "001"
        assert not any((tmp_path / "workers" / "000").iterdir())
    finally:
        taken.close()


def test_politeness_is_shared_without_robots_txt():
    """ROBOTSTXT_OBEY=False still shares each host's cap between the workers."""
    from scrapy.settings import Settings

    from linkgraph.crawl.distributed.politeness import GlobalPoliteness
    from linkgraph.crawl.middlewares.crawl_delay import CrawlDelayMiddleware

    off = Settings({"ROBOTSTXT_OBEY": False, "LINKGRAPH_FRONTIER": "redis://127.0.0.1:1/0"})
    assert GlobalPoliteness.enabled(off) and not CrawlDelayMiddleware.enabled(off)
    single = Settings({"ROBOTSTXT_OBEY": True})
    assert CrawlDelayMiddleware.enabled(single) and not GlobalPoliteness.enabled(single)


def test_the_seen_set_costs_about_eight_bytes_per_url():
    """A 64-bit key per URL (48 bits in a packed integer set per 16-bit bucket)."""
    urls = [f"http://www.example-{i % 97}.org/page/{i}.html" for i in range(600_000)]
    with RedisServer() as server:
        client = server.client()
        before = int(client.info("memory")["used_memory"])
        frontier = RedisFrontier(server.url, {"seeds": []}, lease=5, redis_wait=1,
                                 rebuild=lambda remote, lost: "t")
        frontier.join()
        assert frontier.mark_seen(urls) == len(urls)
        assert frontier.mark_seen(urls[:1000]) == 0  # seen already
        used = int(client.info("memory")["used_memory"]) - before
    per_url = used / len(urls)
    # 65,536 sets of ~9 keys still pay each key's own overhead (~5 MB); at 10M URLs
    # the same sets cost ~8.5 bytes per URL (benchmarks/distributed_crawl.py).
    assert per_url < 20, per_url


class NamespaceNetwork:
    """Two network namespaces, each its own address on a bridge this test creates: two
    "machines" that share only Redis (and reach the test's web server)."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 10000}"
        self.bridge, self.subnet = f"lgbr{tag}", f"10.231.{os.getpid() % 200 + 20}"
        self.host_ip = f"{self.subnet}.1"
        self.namespaces = [f"lgns{tag}a", f"lgns{tag}b"]
        self.ips = [f"{self.subnet}.2", f"{self.subnet}.3"]

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    def __enter__(self) -> NamespaceNetwork:
        try:
            self._ip("link", "add", self.bridge, "type", "bridge")
        except (OSError, subprocess.CalledProcessError) as exc:
            pytest.skip(f"cannot create a test network here ({getattr(exc, 'stderr', exc)})")
        try:
            self._ip("addr", "add", f"{self.host_ip}/24", "dev", self.bridge)
            self._ip("link", "set", self.bridge, "up")
            for n, (ns, ip) in enumerate(zip(self.namespaces, self.ips)):
                self._ip("netns", "add", ns)
                outer, inner = f"{self.bridge}v{n}", f"{self.bridge}i{n}"
                self._ip("link", "add", outer, "type", "veth", "peer", "name", inner)
                self._ip("link", "set", outer, "master", self.bridge)
                self._ip("link", "set", outer, "up")
                self._ip("link", "set", inner, "netns", ns)
                self._ip("-n", ns, "addr", "add", f"{ip}/24", "dev", inner)
                self._ip("-n", ns, "link", "set", inner, "up")
                self._ip("-n", ns, "link", "set", "lo", "up")
        except subprocess.CalledProcessError as exc:
            self.__exit__()
            pytest.skip(f"cannot create a test network here ({exc.stderr.strip()})")
        return self

    def __exit__(self, *exc: object) -> None:
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


def test_workers_on_two_hosts_sharing_only_redis(tmp_path):
    """Each "host" writes its own folder; ``linkgraph merge`` makes them the crawl."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    web = make_web(tmp_path / "web", pages=60)
    with NamespaceNetwork() as net, RedisServer(net.host_ip) as redis_server:
        server = LocalWebServer(str(web), address=net.host_ip)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            settings = ("-s", "DOWNLOAD_DELAY=0.02", "-s", "AUTOTHROTTLE_ENABLED=False")
            single = run(crawl_cmd(web, tmp_path / "single", server, *settings))
            assert single.returncode == 0, single.stderr[-3000:]
            server.clients.clear()
            hosts = []
            for ns, name in zip(net.namespaces, ("a", "b")):
                cmd = crawl_cmd(web, tmp_path / name, server, *settings,
                                "--frontier", redis_server.url)
                hosts.append(subprocess.Popen(["ip", "netns", "exec", ns, *cmd], cwd=REPO,
                                              env=subprocess_env(None), text=True,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            results = [h.communicate(timeout=300) for h in hosts]
            for host, (_out, err) in zip(hosts, results):
                assert host.returncode == 0, err[-3000:]
            clients = set(server.clients)
        finally:
            server.shutdown()
            server.server_close()
    assert clients == set(net.ips)  # both "machines" crawled
    merged = run(linkgraph_argv("merge", str(tmp_path / "a"), str(tmp_path / "b"), "-o",
                                str(tmp_path / "all")))
    assert merged.returncode == 0, merged.stderr[-3000:]
    assert verify(str(tmp_path / "all")).ok
    assert_node_ids(tmp_path / "all")
    assert snapshot(tmp_path / "all") == snapshot(tmp_path / "single")
