"""Check a crawl folder: is everything in it readable and consistent?

:func:`verify` returns a :class:`Report` listing every problem it found (it never stops
at the first) and the row counts of what is readable. Checks:

* ``crawl.json`` is present, parses, and names a known schema version;
* every part of ``links/``, ``pages/``, ``nodes/`` and ``sitemaps/`` opens with pyarrow,
  carries the dataset and schema version of its folder, and has exactly the columns and types of
  :func:`linkgraph.storage.schemas.schemas_of_version`;
* every links, nodes and sitemaps part has its pages partner, and every pages part its
  links and nodes partners (the commit protocol of ``linkgraph/storage/crawl_dir.py``: a
  lone links or nodes part is an interrupted commit); sitemaps is optional:
  ``sitemaps/`` may be missing, and only batches that recorded sitemap rows have a part;
* no temporaries (``.tmp-*``) are left over;
* no part holds batches that a committed merged part (``part-A-to-B``, written by
  compaction) holds too: the inputs of a compaction killed before it deleted them.
  Such parts are named once per dataset and left out of the other checks, which see the
  folder as recovering it would leave it;
* no URL has two pages rows;
* node ids (schema version 2): the nodes parts, in name order, hold ids 0..N-1 once
  each, no ``url_key`` has two nodes, every ``links.src_id``/``dst_id`` and
  ``pages.node_id`` is the node of the row's key, and every node is referred to.

A crawl that was interrupted is reported as a note, not a problem: it can be resumed.
A folder of schema version 1 (before node ids) is checked against that version's
columns, with a note that it can be scored but not resumed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkgraph.storage.crawl_dir import DATASETS, MANIFEST, read_manifest
from linkgraph.storage.reader import Listing, classify, list_folder
from linkgraph.storage.schemas import (OPTIONAL_DATASETS, SCHEMA_VERSION, SCHEMAS,
                                       lacks_only_late_columns, schemas_of_version)

#: Schema versions this code can read.
KNOWN_VERSIONS = frozenset({"1", str(SCHEMA_VERSION)})

#: (id column, key column) pairs that must name the same node, per dataset.
_ID_COLUMNS = {"links": (("src_id", "src_key"), ("dst_id", "dst_key")),
               "pages": (("node_id", "url_key"),)}


@dataclass
class Report:
    path: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Data the crawl left out on purpose but that a reader should not miss (pages
    #: whose links were cut at LINKGRAPH_MAX_LINKS_PER_PAGE); not problems.
    warnings: list[str] = field(default_factory=list)
    #: dataset -> rows in its readable parts; parts -> readable part files.
    rows: dict[str, int] = field(default_factory=dict)
    parts: dict[str, int] = field(default_factory=dict)
    status: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        counts = ", ".join(f"{self.rows.get(d, 0)} {d} rows in {self.parts.get(d, 0)} parts"
                           for d in DATASETS if d in self.rows)
        head = f"{self.path}: {'OK' if self.ok else f'{len(self.problems)} problem(s)'}"
        return f"{head} ({counts}; status {self.status or 'unknown'})"


def _schema_problem(name: str, dataset: str, schema: pa.Schema, version: str) -> str | None:
    meta = schema.metadata or {}
    found = meta.get(b"linkgraph.dataset", b"").decode()
    if found != dataset:
        return f"{dataset}/{name}: holds dataset {found or '(none)'!r}, not {dataset!r}"
    part_version = meta.get(b"linkgraph.schema_version", b"").decode()
    if part_version not in KNOWN_VERSIONS:
        return f"{dataset}/{name}: unknown schema version {part_version or '(none)'!r}"
    if part_version != version:
        return f"{dataset}/{name}: schema version {part_version}, the folder's is {version}"
    expected = schemas_of_version(int(version))[dataset]
    # Parquet keeps names and types; nullability and field docs are not compared.
    got = [(f.name, f.type) for f in schema]
    want = [(f.name, f.type) for f in expected]
    if got != want and not (expected is SCHEMAS[dataset] and lacks_only_late_columns(dataset, got)):
        missing = [n for n, _ in want if n not in dict(got)]
        extra = [n for n, _ in got if n not in dict(want)]
        retyped = [n for n, t in want if n in dict(got) and dict(got)[n] != t]
        details = "; ".join(f"{label} {', '.join(names)}" for label, names in (
            ("missing", missing), ("unexpected", extra), ("wrong type", retyped)) if names)
        return f"{dataset}/{name}: columns differ from the {dataset} schema ({details or 'order'})"
    return None


class _NodeCheck:
    """The node-id invariants, fed part by part (see the module docstring)."""

    def __init__(self) -> None:
        self.node_ids: list[np.ndarray] = []
        self.node_keys: list[np.ndarray] = []
        self.problems: list[str] = []
        self.key_of_id = np.zeros(0, np.int64)
        self.known = np.zeros(0, bool)
        self.used = np.zeros(0, bool)
        #: dataset -> rows whose id is not the node of their key, and the first of them.
        self.bad: dict[str, int] = {}
        self.first_bad: dict[str, str] = {}
        self.out_of_sequence = False

    def add_nodes(self, name: str, table: pa.Table, start: int) -> None:
        ids = table.column("node_id").to_numpy()
        expected = np.arange(start, start + len(ids))
        wrong = np.flatnonzero(ids != expected)
        # Once the sequence is broken every later part is off too: say it once.
        if len(wrong) and not self.out_of_sequence:
            self.out_of_sequence = True
            self.problems.append(
                f"nodes: ids are not 0..N-1 in part order (nodes/{name} row {wrong[0]} has "
                f"id {ids[wrong[0]]}, expected {expected[wrong[0]]})")
        self.node_ids.append(ids)
        self.node_keys.append(table.column("url_key").to_numpy())

    def index_nodes(self) -> None:
        """Build the key of each id from every readable nodes part."""
        ids = np.concatenate(self.node_ids) if self.node_ids else np.zeros(0, np.int32)
        keys = np.concatenate(self.node_keys) if self.node_keys else np.zeros(0, np.int64)
        unique, counts = np.unique(keys, return_counts=True)
        if (counts > 1).any():
            self.problems.append(f"nodes: {(counts > 1).sum()} url_key(s) have more than one "
                                 f"node (first: {unique[counts > 1][0]})")
        # Ids of N rows are < N when dense; a larger one is already a problem, and
        # sizing the arrays by it would let one bad value take all the memory.
        size = len(ids)
        valid = (ids >= 0) & (ids < size)
        self.key_of_id = np.zeros(size, np.int64)
        self.known = np.zeros(size, bool)
        self.used = np.zeros(size, bool)
        self.key_of_id[ids[valid]] = keys[valid]
        self.known[ids[valid]] = True

    def add_rows(self, dataset: str, name: str, table: pa.Table) -> None:
        """Check that each id column names the node of its key column."""
        for id_column, key_column in _ID_COLUMNS[dataset]:
            ids = table.column(id_column).to_numpy().astype(np.int64)
            keys = table.column(key_column).to_numpy()
            inside = (ids >= 0) & (ids < len(self.known))
            good = inside.copy()
            good[inside] = self.known[ids[inside]] & (self.key_of_id[ids[inside]] == keys[inside])
            self.used[ids[inside]] = True
            wrong = np.flatnonzero(~good)
            if len(wrong):
                self.bad[dataset] = self.bad.get(dataset, 0) + len(wrong)
                self.first_bad.setdefault(dataset, f"{dataset}/{name} row {wrong[0]}: "
                                          f"{id_column} {ids[wrong[0]]} for {key_column} "
                                          f"{keys[wrong[0]]}")

    def finish(self) -> list[str]:
        for dataset, first in self.first_bad.items():
            self.problems.append(f"{dataset}: {self.bad[dataset]} id(s) that are not the node "
                                 f"of their key (first: {first})")
        unused = np.flatnonzero(self.known & ~self.used)
        if len(unused):
            self.problems.append(f"nodes: {len(unused)} node(s) that no links or pages row "
                                 f"refers to (first: node_id {unused[0]})")
        return self.problems


def verify(path: str) -> Report:
    """Check the crawl folder ``path``; see the module docstring."""
    report = Report(path)
    if not os.path.isdir(path):
        report.problems.append(f"{path} is not a folder")
        return report
    version = str(SCHEMA_VERSION)
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
        elif str(manifest.schema_version) != version:
            version = str(manifest.schema_version)
            report.notes.append(f"written with schema version {version} (this linkgraph "
                                f"writes {SCHEMA_VERSION}): it can be scored, not resumed")
        if manifest.status == "merging":
            report.notes.append("a linkgraph merge was stopped before it finished (the "
                                "batches here are committed, the rest is missing): delete "
                                "the folder and merge again")
        elif manifest.status != "finished":
            report.notes.append(f"the crawl is {manifest.status}: run the same crawl "
                                "command again to resume it")
    datasets = [d for d in DATASETS if d in schemas_of_version(int(version))]
    with_ids = "nodes" in datasets
    nodes = _NodeCheck()
    urls: list[pa.ChunkedArray] = []
    truncated = [0, 0]  # pages whose links were cut, links cut
    listing = classify(list_folder(path))
    # Nodes first: the links and pages checks look their ids up in them.
    for dataset in sorted(datasets, key=lambda d: d != "nodes"):
        folder = os.path.join(path, dataset)
        if not os.path.isdir(folder):
            if dataset not in OPTIONAL_DATASETS:  # a crawl that read no sitemap has none
                report.problems.append(f"{dataset}/ is missing")
            continue
        leftovers = listing.temporary[dataset]
        if leftovers:
            report.problems.append(f"{dataset}/: {len(leftovers)} leftover temporary file(s) "
                                   f"({', '.join(leftovers[:3])}); resuming the crawl removes them")
        stale = listing.merged_inputs[dataset]
        if stale:
            report.problems.append(
                f"{dataset}/: {len(stale)} part(s) whose batches a merged part holds too "
                f"(first: {stale[0]}; a compaction was interrupted); linkgraph compact DIR "
                "or resuming the crawl removes them")
        rows = parts = 0
        for name in listing.kept[dataset]:
            try:
                file = pq.ParquetFile(os.path.join(folder, name))
                problem = _schema_problem(name, dataset, file.schema_arrow, version)
                if problem:
                    report.problems.append(problem)
                    continue
                n = _read_part(file, dataset, name, with_ids, nodes, rows, urls, truncated)
            except (OSError, pa.ArrowException) as exc:
                report.problems.append(f"{dataset}/{name}: unreadable ({' '.join(str(exc).split())[:200]})")
                continue
            rows += n
            parts += 1
        if parts or dataset not in OPTIONAL_DATASETS:  # no sitemap read: nothing to say
            report.rows[dataset], report.parts[dataset] = rows, parts
        if dataset == "nodes":
            nodes.index_nodes()
    _check_partners(listing, datasets, report)
    if urls:
        counts = pc.value_counts(pa.chunked_array([c for u in urls for c in u.chunks],
                                                  type=pa.string()))
        dupes = counts.filter(pc.greater(counts.field("counts"), 1))
        if len(dupes):
            first = dupes[0]["values"].as_py()
            report.problems.append(f"pages: {len(dupes)} URL(s) have more than one row "
                                   f"(first: {first})")
    if with_ids and os.path.isdir(os.path.join(path, "nodes")):
        report.problems += nodes.finish()
    if truncated[0]:
        report.warnings.append(truncation_warning(*truncated))
    return report


def truncation_warning(pages: int, links: int) -> str:
    """What to say when ``pages`` pages lost ``links`` links to the per-page cap."""
    return (f"{pages} page(s) had more links than LINKGRAPH_MAX_LINKS_PER_PAGE: {links} "
            "link(s) were not recorded (pages.links_truncated); crawl again with a higher "
            "limit to keep them")


def _read_part(file: pq.ParquetFile, dataset: str, name: str, with_ids: bool,
               nodes: _NodeCheck, start: int, urls: list[pa.ChunkedArray],
               truncated: list[int]) -> int:
    """Decode every column of one part, a row group at a time (a damaged chunk of any
    column shows, and memory stays one row group); feed the id and URL checks; return
    the number of rows."""
    n = 0
    for i in range(file.num_row_groups):
        table = file.read_row_group(i)
        if dataset == "nodes":
            nodes.add_nodes(name, table.select(["node_id", "url_key"]), start + n)
        elif dataset == "pages":
            urls.append(table.column("url"))
            if "links_truncated" in table.column_names:
                cut = table.column("links_truncated")
                truncated[0] += len(cut) - cut.null_count
                truncated[1] += pc.sum(cut).as_py() or 0
            if with_ids:
                nodes.add_rows("pages", name, table)
        elif dataset == "links" and with_ids:
            nodes.add_rows("links", name, table)
        n += table.num_rows
    return n


def _check_partners(listing: Listing, datasets: list[str], report: Report) -> None:
    """Each batch is a pages part with a part of every other dataset of the same name."""
    for dataset in (d for d in DATASETS if d != "pages" and d in datasets):
        for name in listing.uncommitted[dataset]:
            report.problems.append(f"{dataset}/{name} has no pages partner (an interrupted "
                                   "commit; resuming the crawl removes it)")
        for name in listing.orphaned[dataset]:
            report.problems.append(
                f"{dataset}/{name} has no pages partner, and later batches are committed: "
                f"pages/{name} was lost (the folder is damaged, not interrupted); restore it, "
                "or crawl again with --fresh (resuming moves this part to quarantine/ and "
                "then stops, as the node ids after it cannot be trusted)")
        if dataset in OPTIONAL_DATASETS:
            continue  # only batches with sitemap rows have a sitemaps part
        kept = set(listing.kept[dataset])
        for name in listing.kept["pages"]:
            if name not in kept:
                report.problems.append(f"pages/{name} has no {dataset} partner (every committed "
                                       "batch has one)")
