"""Kill -9 a crawl at random moments, resume it, and compare with an uninterrupted crawl."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO, crawl_args, read_rows, run_linkgraph
from linkgraph.localweb import LocalWeb

HOST = "www.resume-site.com"
N_PAGES = 400


def make_site(root: Path) -> None:
    """A site of N_PAGES pages, each linking 12 others, a few twice, some off-site."""
    rng = random.Random(7)
    site = root / HOST
    site.mkdir(parents=True)
    for i in range(N_PAGES):
        targets = [(i + 1) % N_PAGES] + rng.sample(range(N_PAGES), 11)
        anchors = "".join(f'<a href="/p{t}.html">page {t}</a>\n' for t in targets)
        anchors += f'<a href="/p{targets[1]}.html">again</a><a href="http://other.example.org/{i}">out</a>'
        (site / f"p{i}.html").write_text(
            f"<html><head><title>Page {i}</title></head><body>{anchors}</body></html>")
    (site / "index.html").write_text('<html><body><a href="/p0.html">start</a></body></html>')


def crawl_cmd(server, out: Path) -> list[str]:
    return [sys.executable, "-m", "linkgraph", "crawl", f"http://{HOST}/", "-o", str(out),
            # ~20 ms between requests: a whole crawl takes ~8 s however fast the machine,
            # so the kills below land mid-crawl.
            *crawl_args(server, "-s", "LINKGRAPH_FLUSH_PAGES=7", "-s", "CONCURRENT_REQUESTS=4",
                        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.02",
                        "-s", "LOG_LEVEL=WARNING")]


def snapshot(out: Path) -> tuple[Counter, Counter]:
    links = Counter((r["src_url"], r["dst_url"], r["ordinal"], r["link_type"], r["anchor_text"])
                    for r in read_rows(out, "links"))
    pages = Counter((r["url"], r["status"]) for r in read_rows(out, "pages"))
    return links, pages


@pytest.mark.slow
def test_kill_and_resume_equals_uninterrupted(tmp_path):
    make_site(tmp_path / "web")
    with LocalWeb(str(tmp_path / "web")) as server:
        reference = tmp_path / "reference"
        result = subprocess.run(crawl_cmd(server, reference), cwd=REPO, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        ref_links, ref_pages = snapshot(reference)
        assert len(ref_pages) == N_PAGES + 1 and max(ref_pages.values()) == 1

        out = tmp_path / "killed"
        rng = random.Random(int(os.environ.get("LINKGRAPH_KILL_SEED", "11")))
        kills = 0
        for _ in range(4):
            proc = subprocess.Popen(crawl_cmd(server, out), cwd=REPO, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(1.5, 3.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
        assert kills >= 2, "the crawl finished before it could be killed: make the site bigger"
        final = subprocess.run(crawl_cmd(server, out), cwd=REPO, capture_output=True,
                               text=True, timeout=300)
        assert final.returncode == 0, final.stderr[-2000:]

    links, pages = snapshot(out)
    # Same pages, same link instances, each exactly once.
    assert pages == ref_pages
    assert links == ref_links
    assert not list(out.rglob(".tmp-*"))
    again = run_linkgraph("crawl", f"http://{HOST}/", "-o", str(out), *crawl_args(server))
    assert again.returncode == 0 and "finished crawl" in again.stderr
