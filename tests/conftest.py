"""Shared test helpers: local web servers and crawls in a fresh subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from linkgraph.demo.localweb import LocalWeb, LocalWebServer
from linkgraph.storage.verify import verify
from linkgraph.storage.part_names import list_parts

REPO = Path(__file__).resolve().parents[1]
FIXTURE_WEB = REPO / "tests" / "fixtures" / "web"
SHARED_GRAPHS = REPO.parent / "shared" / "graphs"

# The scoring tests' fixtures (the ``crawl`` folder scored with TrustRank seeds).
pytest_plugins = ["scoring_fixtures"]


@pytest.fixture
def fixture_web() -> Iterator[LocalWebServer]:
    """The hard-case fixture web of tests/fixtures/web, served on 127.0.0.1."""
    with LocalWeb(str(FIXTURE_WEB)) as server:
        yield server


def subprocess_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: this checkout's ``linkgraph`` first on its path.

    Without it a child started outside the repository would import whatever copy of
    linkgraph is installed, not the code under test.
    """
    merged = {**os.environ, **(env or {})}
    merged["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), merged.get("PYTHONPATH")]))
    return merged


def linkgraph_argv(*args: str) -> list[str]:
    """The command line of ``python -m linkgraph ARGS``."""
    return [sys.executable, "-m", "linkgraph", *args]


def scrapy_argv(*args: str) -> list[str]:
    """The command line of ``scrapy ARGS`` (Scrapy's own entry point, this interpreter)."""
    return [sys.executable, "-m", "scrapy.cmdline", *args]


def run_linkgraph(*args: str, cwd: Path | None = None, timeout: float = 240,
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m linkgraph ARGS`` in a subprocess (a fresh Twisted reactor)."""
    return subprocess.run(linkgraph_argv(*args), cwd=cwd or REPO, text=True,
                          capture_output=True, timeout=timeout, env=subprocess_env(env))


def start_linkgraph(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                    **popen: object) -> subprocess.Popen:
    """Start ``python -m linkgraph ARGS`` without waiting (to signal or kill it)."""
    return subprocess.Popen(linkgraph_argv(*args), cwd=cwd or REPO, env=subprocess_env(env),
                            **popen)


def crawl_args(server: LocalWebServer, *extra: str) -> list[str]:
    """Options that point a crawl at ``server`` and nowhere else."""
    args = ["-s", "LINKGRAPH_RESOLVE_ONLY=True", "-s", "LINKGRAPH_PROGRESS_INTERVAL=1"]
    for entry in server.resolve_entries():
        args += ["--resolve", entry]
    return [*args, *extra]


def crawl_web(web: Path, out: Path, *extra: str, timeout: float = 240) -> Path:
    """Serve the fixture web ``web`` on loopback, crawl it from its ``seeds.txt`` into
    ``out`` in a subprocess, and return ``out`` (the crawl must succeed)."""
    with LocalWeb(str(web)) as server:
        result = run_linkgraph("crawl", str(web / "seeds.txt"), "-o", str(out), "-q",
                               *crawl_args(server, *extra), timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def read_rows(folder: Path, dataset: str) -> list[dict]:
    """All rows of DIR/<dataset> as dicts (via pyarrow.dataset)."""
    return ds.dataset(str(folder / dataset), format="parquet").to_table().to_pylist()


def assert_node_ids(folder: Path) -> list[dict]:
    """Check the node-id invariants of a crawl folder row by row; return the nodes.

    Independent of ``linkgraph verify`` (which is checked to agree): dense ids 0..N-1
    in part-name order, one row each, unique keys and URLs, and every id in links and
    pages naming the node of the row's URL, with that URL's host and domain.
    """
    nodes = [row for name in list_parts(str(folder / "nodes"))
             for row in pq.read_table(folder / "nodes" / name).to_pylist()]
    assert [n["node_id"] for n in nodes] == list(range(len(nodes)))
    assert len({n["url_key"] for n in nodes}) == len({n["url"] for n in nodes}) == len(nodes)
    referred = set()
    for link in read_rows(folder, "links"):
        for end in ("src", "dst"):
            node = nodes[link[f"{end}_id"]]
            assert (node["url"], node["url_key"], node["host"], node["domain"]) == (
                link[f"{end}_url"], link[f"{end}_key"], link[f"{end}_host"], link[f"{end}_domain"])
            referred.add(node["node_id"])
    for page in read_rows(folder, "pages"):
        node = nodes[page["node_id"]]
        assert (node["url"], node["url_key"], node["host"], node["domain"]) == (
            page["url"], page["url_key"], page["host"], page["domain"])
        referred.add(node["node_id"])
    # A node is written in the batch of a row that refers to it.
    assert referred == set(range(len(nodes)))
    report = verify(str(folder))
    assert report.ok, report.problems
    return nodes
