"""Ctrl-C (real SIGINTs to a subprocess) says what happened and exits non-zero.

A second Ctrl-C stops the reactor at once: the pages the pipeline holds are still
committed, the folder says interrupted, and the same command continues the crawl.
Ctrl-C during ``linkgraph demo`` says the crawl was interrupted and prints no report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, crawl_args, read_rows
from linkgraph.demo.localweb import LocalWeb
from linkgraph.storage.verify import verify

HOST = "www.slow-site.com"
N_PAGES = 60


def make_site(root: Path) -> None:
    site = root / HOST
    site.mkdir(parents=True)
    for i in range(N_PAGES):
        site.joinpath(f"p{i}.html").write_text(
            "<html><body>" + "".join(f'<a href="/p{j}.html">{j}</a>' for j in range(N_PAGES))
            + "</body></html>")
    site.joinpath("index.html").write_text('<html><body><a href="/p0.html">0</a></body></html>')


def test_second_ctrl_c_commits_what_was_fetched_and_exits_non_zero(tmp_path):
    make_site(tmp_path / "web")
    out = tmp_path / "out"
    with LocalWeb(str(tmp_path / "web")) as server:
        # Nothing is committed before the interrupt (no flush by count or time), and
        # the graceful shutdown has seconds of queued downloads to wait for (0.3 s apart).
        cmd = [sys.executable, "-m", "linkgraph", "crawl", f"http://{HOST}/", "-o", str(out),
               *crawl_args(server, "-s", "LINKGRAPH_FLUSH_PAGES=1000",
                           "-s", "LINKGRAPH_FLUSH_SECONDS=1000", "-s", "DOWNLOAD_DELAY=0.3",
                           "-s", "AUTOTHROTTLE_ENABLED=False")]
        with open(tmp_path / "stderr", "w") as err:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
            while proc.poll() is None and sum(
                    1 for _, p in list(server.hits) if p.startswith("/p")) < 6:
                time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            time.sleep(0.7)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=60)
        stderr = (tmp_path / "stderr").read_text()
        assert "forcing unclean shutdown" in stderr, stderr[-3000:]
        assert code == 130, stderr[-3000:]
        assert "the crawl was stopped at once by a second Ctrl-C after" in stderr
        assert "Crawl shutdown_forced:" in stderr  # spider_closed was sent: the summary line
        manifest = json.loads((out / "crawl.json").read_text())
        assert manifest["status"] == "interrupted"
        assert manifest["sessions"][-1]["reason"] == "shutdown_forced"
        committed = read_rows(out, "pages")
        assert committed and all(r["status"] == 200 for r in committed)
        assert manifest["sessions"][-1]["pages"] == len(committed)
        assert f"after {len(committed)} page rows committed to {out}" in stderr
        assert verify(str(out)).ok

        again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr[-3000:]
    urls = [r["url"] for r in read_rows(out, "pages")]
    assert len(urls) == len(set(urls)) == N_PAGES + 1


def test_ctrl_c_during_the_demo_says_so_and_exits_non_zero(tmp_path):
    out = tmp_path / "demo"
    # 0.5 s between requests: the demo's crawl takes ~10 s, so the Ctrl-C lands in it,
    # after its first committed page (one a batch).
    proc = subprocess.Popen(
        [sys.executable, "-m", "linkgraph", "demo", "-o", str(out),
         "-s", "DOWNLOAD_DELAY=0.5", "-s", "AUTOTHROTTLE_ENABLED=False",
         "-s", "LINKGRAPH_FLUSH_PAGES=1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    started = time.monotonic()
    while (proc.poll() is None and not list(out.glob("pages/part-*.parquet"))
           and time.monotonic() - started < 120):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-3000:]
    assert "linkgraph demo: the crawl was interrupted after" in stderr
    assert "no report of a partial crawl" in stderr
    # Only the line before the crawl: no crawl report, no scores, no second crawl.
    assert stdout.strip().splitlines() == [stdout.strip().splitlines()[0]]
    assert stdout.startswith("Serving ")
    assert not (tmp_path / "demo-after").exists()
