"""The notebooks run, top to bottom, on a fixture crawl (and are committed without outputs)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from scoring_fixtures import fixture_web

pytestmark = pytest.mark.e2e

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("where", ["env", "cwd"])
def test_scores_notebook_runs_on_a_crawl(tmp_path, monkeypatch, where):
    # $LINKGRAPH_CRAWL_DIR, or the demo's folder name in the folder the kernel runs in.
    crawl = fixture_web(tmp_path / ("crawl" if where == "env" else "linkgraph-demo"))
    if where == "env":
        monkeypatch.setenv("LINKGRAPH_CRAWL_DIR", str(crawl))
    else:
        monkeypatch.delenv("LINKGRAPH_CRAWL_DIR", raising=False)
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


def test_without_a_crawl_the_default_says_what_to_do(tmp_path, monkeypatch):
    from linkgraph.demo import default_crawl_dir
    from linkgraph.errors import UsageError

    monkeypatch.delenv("LINKGRAPH_CRAWL_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    repo_demo = Path(__file__).resolve().parents[1] / "linkgraph-demo"
    if (repo_demo / "crawl.json").is_file():
        assert default_crawl_dir() == repo_demo
    else:
        with pytest.raises(UsageError, match="LINKGRAPH_CRAWL_DIR=DIR, or run `linkgraph demo`"):
            default_crawl_dir()
