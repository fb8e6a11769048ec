"""A crawl whose disk fills up: it stops, says so in one line, and resumes once there
is room, ending with exactly the rows of a crawl that never ran out of space.

The disk is a real small file system (tmpfs, mounted by the test: needs root, skipped
otherwise), filled by the crawl itself, then grown with ``mount -o remount,size=``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from conftest import assert_node_ids, crawl_args, read_rows, run_linkgraph
from linkgraph.demo.localweb import LocalWeb

PAGES = 450
SEED = "http://www.big-site.com/"


def _site(root: Path) -> Path:
    """A site of PAGES pages, each linking to ten others (all reachable from the index)."""
    site = root / "www.big-site.com"
    site.mkdir(parents=True)
    for i in range(PAGES):
        targets = [(i * 7 + k * 13 + 1) % PAGES for k in range(10)]
        items = "".join(f'<li><a href="/p{t}.html">Page {t}, one of the pages of this '
                        "generated site</a></li>" for t in targets)
        name = "index.html" if i == 0 else f"p{i}.html"
        (site / name).write_text(f"<html><head><title>Page {i}</title></head>"
                                 f"<body><ul>{items}</ul></body></html>")
    return root


@pytest.fixture
def small_disk(tmp_path):
    """A 160 kB tmpfs at tmp_path/disk; unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here ({done.stderr.strip()}); "
                    "run as root to test a full disk")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _grow(mount_point: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(mount_point)], check=True)


def _rows(folder: Path) -> tuple[Counter, Counter]:
    pages = Counter((r["url"], r["status"]) for r in read_rows(folder, "pages"))
    links = Counter((r["src_url"], r["dst_url"], r["ordinal"]) for r in read_rows(folder, "links"))
    return pages, links


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line or "error:" in line]


def test_a_full_disk_stops_the_crawl_and_the_same_command_fills_the_gap(tmp_path, small_disk):
    web = _site(tmp_path / "web")
    with LocalWeb(str(web)) as server:
        args = ["crawl", SEED, *crawl_args(server, "-q", "-s", "LINKGRAPH_FLUSH_PAGES=50")]
        reference = tmp_path / "reference"
        assert run_linkgraph(*args, "-o", str(reference)).returncode == 0
        out = small_disk / "out"
        full = run_linkgraph(*args, "-o", str(out))
        assert full.returncode == 1, full.stderr[-2000:]
        assert "Traceback" not in full.stderr
        errors = _error_lines(full.stderr)
        assert len(errors) == 1, full.stderr[-2000:]
        assert re.search(rf"cannot write to {re.escape(str(out))}/(nodes|links|pages): ", errors[0])
        assert "No space left on device" in errors[0] and "the batch needs" in errors[0]
        assert json.loads((out / "crawl.json").read_text())["status"] == "interrupted"
        committed = len(read_rows(out, "pages"))
        assert 0 < committed < PAGES  # some batches were written before the disk filled
        assert not any(name.startswith(".tmp") for d in ("nodes", "links", "pages")
                       for name in os.listdir(out / d))

        _grow(small_disk)
        resumed = run_linkgraph(*args, "-o", str(out))
        assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((out / "crawl.json").read_text())["status"] == "finished"
    assert _rows(out) == _rows(reference)
    assert_node_ids(out)


def test_a_full_disk_at_start_is_one_line_and_exit_2(tmp_path, small_disk):
    fd = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, bytes(4096)):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    out = small_disk / "out"
    done = run_linkgraph("crawl", "http://127.0.0.1:9/", "-o", str(out), "-q")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    errors = _error_lines(done.stderr)
    assert errors == [f"linkgraph: error: cannot write to {out}: No space left on device "
                      "(0 B free)"], done.stderr
