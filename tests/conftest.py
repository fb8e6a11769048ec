"""Shared test helpers: local web servers and crawls in a fresh subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from linkgraph.localweb import LocalWeb, LocalWebServer

REPO = Path(__file__).resolve().parents[1]
FIXTURE_WEB = REPO / "tests" / "fixtures" / "web"
SHARED_GRAPHS = REPO.parent / "shared" / "graphs"


@pytest.fixture
def fixture_web() -> Iterator[LocalWebServer]:
    """The hard-case fixture web of tests/fixtures/web, served on 127.0.0.1."""
    with LocalWeb(str(FIXTURE_WEB)) as server:
        yield server


def run_linkgraph(*args: str, cwd: Path | None = None, timeout: float = 240,
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m linkgraph ARGS`` in a subprocess (a fresh Twisted reactor)."""
    return subprocess.run(
        [sys.executable, "-m", "linkgraph", *args], cwd=cwd or REPO, text=True,
        capture_output=True, timeout=timeout, env={**os.environ, **(env or {})})


def crawl_args(server: LocalWebServer, *extra: str) -> list[str]:
    """Options that point a crawl at ``server`` and nowhere else."""
    args = ["-s", "LINKGRAPH_RESOLVE_ONLY=True", "-s", "LINKGRAPH_PROGRESS_INTERVAL=1"]
    for entry in server.resolve_entries():
        args += ["--resolve", entry]
    return [*args, *extra]


def read_rows(folder: Path, dataset: str) -> list[dict]:
    """All rows of DIR/<dataset> as dicts (via pyarrow.dataset)."""
    return ds.dataset(str(folder / dataset), format="parquet").to_table().to_pylist()
