"""Check a crawl folder: is everything in it readable and consistent?

:func:`verify` returns a :class:`Report` listing every problem it found (it never stops
at the first) and the row counts of what is readable. Checks:

* ``crawl.json`` is present, parses, and names a known schema version;
* every part of ``links/`` and ``pages/`` opens with pyarrow, carries the dataset
  and schema version of its folder, and has exactly the columns and types of
  :data:`pipelines.schemas.SCHEMAS`;
* every links part has its pages partner (the commit protocol of
  ``pipelines/crawl_dir.py``: a lone links part is an interrupted commit);
* no temporaries (``.tmp-*``) are left over;
* no URL has two pages rows.

A crawl that was interrupted is reported as a note, not a problem: it can be resumed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.crawl_dir import DATASETS, MANIFEST, list_parts, read_manifest
from pipelines.parquet_writer import TMP_PREFIX
from pipelines.schemas import SCHEMA_VERSION, SCHEMAS

#: Schema versions this code can read.
KNOWN_VERSIONS = frozenset({str(SCHEMA_VERSION)})


@dataclass
class Report:
    path: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: dataset -> rows in its readable parts; parts -> readable part files.
    rows: dict[str, int] = field(default_factory=dict)
    parts: dict[str, int] = field(default_factory=dict)
    status: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        counts = ", ".join(f"{self.rows.get(d, 0)} {d} rows in {self.parts.get(d, 0)} parts"
                           for d in DATASETS)
        head = f"{self.path}: {'OK' if self.ok else f'{len(self.problems)} problem(s)'}"
        return f"{head} ({counts}; status {self.status or 'unknown'})"


def _schema_problem(name: str, dataset: str, schema: pa.Schema) -> str | None:
    meta = schema.metadata or {}
    found = meta.get(b"linkgraph.dataset", b"").decode()
    if found != dataset:
        return f"{dataset}/{name}: holds dataset {found or '(none)'!r}, not {dataset!r}"
    version = meta.get(b"linkgraph.schema_version", b"").decode()
    if version not in KNOWN_VERSIONS:
        return f"{dataset}/{name}: unknown schema version {version or '(none)'!r}"
    expected = SCHEMAS[dataset]
    # Parquet keeps names and types; nullability and field docs are not compared.
    got = [(f.name, f.type) for f in schema]
    want = [(f.name, f.type) for f in expected]
    if got != want:
        missing = [n for n, _ in want if n not in dict(got)]
        extra = [n for n, _ in got if n not in dict(want)]
        retyped = [n for n, t in want if n in dict(got) and dict(got)[n] != t]
        details = "; ".join(f"{label} {', '.join(names)}" for label, names in (
            ("missing", missing), ("unexpected", extra), ("wrong type", retyped)) if names)
        return f"{dataset}/{name}: columns differ from the {dataset} schema ({details or 'order'})"
    return None


def verify(path: str) -> Report:
    """Check the crawl folder ``path``; see the module docstring."""
    report = Report(path)
    if not os.path.isdir(path):
        report.problems.append(f"{path} is not a folder")
        return report
    try:
        manifest = read_manifest(path)
    except Exception as exc:  # noqa: BLE001 - UsageError, or anything a bad file raises
        report.problems.append(str(exc))
        manifest = None
    else:
        if manifest is None:
            report.problems.append(f"{MANIFEST} is missing: not a linkgraph crawl folder, "
                                   "or its manifest was deleted")
    if manifest is not None:
        report.status = manifest.status
        if str(manifest.schema_version) not in KNOWN_VERSIONS:
            report.problems.append(f"{MANIFEST}: unknown schema version {manifest.schema_version!r}")
        if manifest.status != "finished":
            report.notes.append(f"the crawl is {manifest.status}: run the same crawl "
                                "command again to resume it")
    urls: list[pa.ChunkedArray] = []
    for dataset in DATASETS:
        folder = os.path.join(path, dataset)
        if not os.path.isdir(folder):
            report.problems.append(f"{dataset}/ is missing")
            continue
        leftovers = sorted(n for n in os.listdir(folder) if n.startswith(TMP_PREFIX))
        if leftovers:
            report.problems.append(f"{dataset}/: {len(leftovers)} leftover temporary file(s) "
                                   f"({', '.join(leftovers[:3])}); resuming the crawl removes them")
        rows = parts = 0
        for name in list_parts(folder):
            try:
                file = pq.ParquetFile(os.path.join(folder, name))
                problem = _schema_problem(name, dataset, file.schema_arrow)
                if problem:
                    report.problems.append(problem)
                    continue
                if dataset == "pages":
                    table = file.read(columns=["url"])  # reads every page: catches bad data
                    urls.append(table.column("url"))
                    n = table.num_rows
                else:
                    n = sum(file.read_row_group(i, columns=["dst_key"]).num_rows
                            for i in range(file.num_row_groups))
            except (OSError, pa.ArrowException) as exc:
                report.problems.append(f"{dataset}/{name}: unreadable ({' '.join(str(exc).split())[:200]})")
                continue
            rows += n
            parts += 1
        report.rows[dataset], report.parts[dataset] = rows, parts
    pages = set(list_parts(os.path.join(path, "pages")))
    for name in list_parts(os.path.join(path, "links")):
        if name not in pages:
            report.problems.append(f"links/{name} has no pages partner (an interrupted commit; "
                                   "resuming the crawl removes it)")
    if urls:
        counts = pc.value_counts(pa.chunked_array([c for u in urls for c in u.chunks],
                                                  type=pa.string()))
        dupes = counts.filter(pc.greater(counts.field("counts"), 1))
        if len(dupes):
            first = dupes[0]["values"].as_py()
            report.problems.append(f"pages: {len(dupes)} URL(s) have more than one row "
                                   f"(first: {first})")
    return report
