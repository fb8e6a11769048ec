"""Print the column tables of the crawl datasets as Markdown (the README's tables).

Run ``python -m linkgraph.storage.schema_docs`` after changing ``linkgraph/storage/schemas.py`` and
paste the output into the README; ``tests/test_schema_docs.py`` fails until you do.
"""

from __future__ import annotations

from linkgraph.storage.schemas import SCHEMAS, column_docs


def markdown_table(dataset: str) -> str:
    lines = ["| column | type | meaning |", "| --- | --- | --- |"]
    for name, type_, doc in column_docs(SCHEMAS[dataset]):
        lines.append(f"| `{name}` | {type_} | {doc.replace('|', '/')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    for dataset in SCHEMAS:
        print(f"### `{dataset}`\n\n{markdown_table(dataset)}\n")
