"""The notebooks run, top to bottom, on a fixture crawl (and are committed without outputs)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from scoring_fixtures import fixture_web

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_scores_notebook_runs_on_a_crawl(tmp_path, monkeypatch):
    crawl = fixture_web(tmp_path / "crawl")
    monkeypatch.setenv("LINKGRAPH_CRAWL_DIR", str(crawl))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    path = NOTEBOOKS / "scores.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "https://shop.example/" in text          # the top authority
    assert "Best shop" in text                       # its anchor-text mix
    assert (crawl / "scores" / "pages.parquet").exists()


@pytest.mark.parametrize("name", ["scores.ipynb"])
def test_notebook_has_no_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
