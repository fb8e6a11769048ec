"""The README documents every column exactly as the schemas in pipelines/ define it."""

from __future__ import annotations

from conftest import REPO
from linkgraph.storage.schema_docs import markdown_table
from linkgraph.storage.schemas import SCHEMAS


def test_readme_has_current_column_tables():
    readme = (REPO / "README.md").read_text()
    for dataset in SCHEMAS:
        assert markdown_table(dataset) in readme, (
            f"README's {dataset} table is stale: run python -m linkgraph.storage.schema_docs")
