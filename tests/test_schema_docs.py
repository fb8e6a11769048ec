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


def test_crawl_files_hold_the_documented_types(tmp_path):
    # What a reader of the Parquet files sees, not only what the schema objects say.
    import pyarrow.parquet as pq

    from linkgraph.storage.part_names import list_parts
    from linkgraph.storage.schemas import OPTIONAL_DATASETS, column_docs
    from scoring_fixtures import fixture_web

    root = fixture_web(tmp_path / "crawl")
    for dataset, schema in SCHEMAS.items():
        files = [root / dataset / name for name in list_parts(str(root / dataset))]
        if dataset in OPTIONAL_DATASETS and not files:
            continue  # that web has no sitemap: tests/test_sitemaps.py reads its types
        assert files, dataset
        stored = pq.read_schema(files[0])
        assert [(n, t) for n, t, _ in column_docs(stored)] == [
            (n, t) for n, t, _ in column_docs(schema)], dataset


def _readme_score_columns() -> dict[str, list[str]]:
    import re

    tables = {}
    for line in (REPO / "README.md").read_text().splitlines():
        match = re.match(r"\| `(pages|hosts|domains)\.parquet` \| [^|]* \| (.*) \|$", line)
        if match:
            tables[match[1]] = re.findall(r"`([a-z_]+)`", match[2])
    tables["domains"] = [c for c in tables["hosts"] if c != "host"]  # "the same, by domain"
    return tables


def test_score_tables_match_the_readme_and_count_in_int64(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from linkgraph.scoring import ScoreOptions, score_crawl
    from scoring_fixtures import TRUSTED, fixture_web

    paths = score_crawl(fixture_web(tmp_path / "crawl"), ScoreOptions(trusted=TRUSTED))
    documented = _readme_score_columns()
    counts = {"pages", "in_degree", "out_degree", "in_links", "out_links", "referring_pages",
              "referring_domains"}
    for table in ("pages", "hosts", "domains"):
        schema = pq.read_schema(getattr(paths, table))
        assert sorted(schema.names) == sorted(documented[table]), table
        for field in schema:
            if field.name in counts:
                assert field.type == pa.int64(), (table, field.name, field.type)
