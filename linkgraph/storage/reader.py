"""The one reader of a crawl folder: which part files hold committed rows, and views
over exactly those files.

Every reader of a crawl folder goes through here: the scorer, ``verify``, resume, the
analysis commands, the notebook. What a reader sees is what resuming the crawl would
keep, so a folder can be read while a crawl writes it, or after a kill, and each
committed row is read exactly once.

The rule (the commit protocol is in ``linkgraph/storage/crawl_dir.py``) is a pure
function of the folder's listing, :func:`classify`:

* ``temporary``: hidden ``.tmp-*`` files, a part being written (never read);
* ``merged_inputs``: parts whose batches a committed merged pages part also holds (the
  inputs a killed compaction had not yet deleted: their rows are read from the merged
  part);
* ``uncommitted``: nodes and links parts of the batch a kill interrupted between its
  renames (no pages part, and no committed batch after it), or of a compaction killed
  before it renamed its merged pages part;
* ``orphaned``: nodes and links parts without their pages partner with committed
  batches after them: not a kill (a commit is sequential), so the folder was damaged,
  and the rows are kept aside (``crawl_dir.recover`` quarantines them), never deleted;
* ``unpaired``: pages parts missing a nodes or links partner (damage too);
* ``sitemaps`` is optional: a batch has a sitemaps part only when it committed sitemap
  rows (and folders from before sitemaps have none), so a pages part never needs a
  sitemaps partner; a sitemaps part without its pages part is classed like a links
  part (uncommitted after the last commit, orphaned before one);
* ``kept``: everything else, in commit order: what readers read.

Readers get explicit file lists (never a glob built from a path: a folder named
``gx[1]`` is a glob pattern to DuckDB and pyarrow), :meth:`CrawlFolder.duckdb` views
and :meth:`CrawlFolder.dataset` Arrow datasets over them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from linkgraph.errors import UsageError
from linkgraph.storage.parquet_writer import TMP_PREFIX
from linkgraph.storage.part_names import covered, list_parts, part_range

log = logging.getLogger(__name__)

MANIFEST = "crawl.json"
#: Commit order of a batch: nodes, links, sitemaps (when the batch has sitemap rows),
#: then pages (the commit point).
DATASETS = ("nodes", "links", "sitemaps", "pages")


@dataclass(frozen=True)
class Listing:
    """The part files of a crawl folder's datasets, classified (see the module doc).

    Each field maps a dataset name to file names (not paths) in commit order.
    """

    kept: dict[str, list[str]]
    temporary: dict[str, list[str]] = field(default_factory=dict)
    merged_inputs: dict[str, list[str]] = field(default_factory=dict)
    uncommitted: dict[str, list[str]] = field(default_factory=dict)
    orphaned: dict[str, list[str]] = field(default_factory=dict)
    unpaired: dict[str, list[str]] = field(default_factory=dict)

    def stale(self, dataset: str) -> list[str]:
        """Parts of ``dataset`` that are neither kept nor temporary."""
        return [*self.merged_inputs.get(dataset, ()), *self.uncommitted.get(dataset, ()),
                *self.orphaned.get(dataset, ())]


def classify(names: Mapping[str, Iterable[str]]) -> Listing:
    """Classify the file names of each dataset folder of a crawl folder.

    Parameters
    ----------
    names : mapping of str to iterable of str
        Dataset name (``nodes``, ``links``, ``sitemaps``, ``pages``) to the names of the files its
        folder holds (as ``os.listdir`` gives them). Names that are neither part files
        nor temporaries are ignored.

    Returns
    -------
    Listing
        Each part in exactly one class; ``kept`` in commit order.
    """
    temporary: dict[str, list[str]] = {}
    parts: dict[str, list[str]] = {}
    for dataset in DATASETS:
        listed = list(names.get(dataset, ()))
        temporary[dataset] = sorted(n for n in listed if n.startswith(TMP_PREFIX))
        parts[dataset] = _commit_order(n for n in listed if part_range(n) is not None)
    commits = parts["pages"]
    committed = set(commits)
    last_commit = max((part_range(n)[1] for n in commits), default=None)  # type: ignore[index]
    merged_inputs = {d: covered(parts[d], commits) for d in DATASETS}
    uncommitted: dict[str, list[str]] = {d: [] for d in DATASETS}
    orphaned: dict[str, list[str]] = {d: [] for d in DATASETS}
    kept: dict[str, list[str]] = {}
    for dataset in DATASETS:
        inputs = set(merged_inputs[dataset])
        keep = []
        for name in parts[dataset]:
            if name in inputs:
                continue
            if dataset != "pages" and name not in committed:
                first, last = part_range(name)  # type: ignore[misc]
                # A batch after the last commit, or a merge whose pages part was not
                # renamed yet (its inputs are all still there): what a kill leaves.
                killed = last_commit is None or first > last_commit or first < last
                (uncommitted if killed else orphaned)[dataset].append(name)
                continue
            keep.append(name)
        kept[dataset] = keep
    # A dataset with no parts at all is checked by verify (schema 1 has no nodes);
    # sitemaps parts exist only for batches with sitemap rows: never a required partner.
    partners = [set(kept[d]) for d in ("nodes", "links") if parts[d]]
    unpaired = {"pages": [n for n in kept["pages"] if any(n not in p for p in partners)]}
    return Listing(kept, temporary, merged_inputs, uncommitted, orphaned, unpaired)


def _commit_order(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda n: part_range(n))  # type: ignore[arg-type,return-value]


def list_folder(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """The file names in each dataset folder of ``path`` (missing folders: none)."""
    listing = {}
    for dataset in DATASETS:
        folder = os.path.join(path, dataset)
        listing[dataset] = os.listdir(folder) if os.path.isdir(folder) else []
    return listing


def sql_path(path: str | os.PathLike[str]) -> str:
    """``path`` as a DuckDB string literal that matches exactly that one file.

    DuckDB treats ``*``, ``?`` and ``[`` in any path it reads as a glob, even in an
    explicit list of files; each is wrapped in a character class of its own.
    """
    text = str(path)
    for char in "[*?":
        text = text.replace(char, "\0" + char + "\1")
    text = text.replace("\0", "[").replace("\1", "]")
    return "'" + text.replace("'", "''") + "'"


def sql_files(files: Iterable[str | os.PathLike[str]]) -> str:
    """A DuckDB list literal of exactly these files (see :func:`sql_path`)."""
    return "[" + ", ".join(sql_path(f) for f in files) + "]"


class CrawlFolder:
    """A crawl folder opened for reading: its committed parts, as files and views.

    Reading changes nothing in the folder (only ``crawl_dir.recover``, run by a crawl
    or ``linkgraph compact``, removes or quarantines what :func:`classify` calls
    stale).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        listed = list_folder(self.path)
        if self.is_crawl:
            self.listing = classify(listed)
        else:
            # Not written by a crawl (hand-made, exported): every visible Parquet file.
            self.listing = Listing({d: sorted(n for n in names if n.endswith(".parquet")
                                              and not n.startswith((".", "_")))
                                    for d, names in listed.items()})

    @property
    def is_crawl(self) -> bool:
        """Whether the folder has a crawl manifest (``crawl.json``)."""
        return (self.path / MANIFEST).is_file()

    def files(self, dataset: str) -> list[Path]:
        """Paths of the committed parts of ``dataset``, in commit order."""
        return [self.path / dataset / name for name in self.listing.kept[dataset]]

    def warn_stale(self, reader: str) -> None:
        """Log one line per dataset whose stale parts this read skips."""
        for dataset in DATASETS:
            stale = self.listing.stale(dataset)
            if stale:
                log.warning("%s: %s/%s: %d part(s) not committed or already merged are "
                            "skipped (`linkgraph compact %s` or resuming the crawl cleans "
                            "them)", reader, self.path, dataset, len(stale), self.path)

    def duckdb(self, con=None, datasets: Iterable[str] = ("links", "pages", "nodes"),
               schema: str | None = None):
        """A DuckDB connection with a view per dataset over exactly its committed parts.

        A dataset without committed parts gets an empty view with the schema's columns,
        so queries need no special case for a crawl that has not committed yet.
        ``schema`` (a plain identifier) puts the views in that DuckDB schema
        (``old.links``), so that one connection can hold several folders.
        """
        import duckdb

        from linkgraph.storage.schemas import SCHEMAS

        con = con if con is not None else duckdb.connect()
        prefix = ""
        if schema is not None:
            if not schema.isidentifier():
                raise ValueError(f"not a plain identifier: {schema!r}")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            prefix = f"{schema}."
        for dataset in datasets:
            files = self.files(dataset)
            if files:
                con.execute(f"CREATE OR REPLACE VIEW {prefix}{dataset} AS SELECT * FROM "
                            f"read_parquet({sql_files(files)})")
            else:
                empty = f"_{schema}_{dataset}_empty" if schema else f"_{dataset}_empty"
                con.register(empty, SCHEMAS[dataset].empty_table())
                con.execute(f"CREATE OR REPLACE VIEW {prefix}{dataset} AS SELECT * FROM {empty}")
        return con

    def dataset(self, name: str):
        """A ``pyarrow.dataset.Dataset`` over exactly the committed parts of ``name``."""
        import pyarrow.dataset as ds

        from linkgraph.storage.schemas import SCHEMAS

        files = [str(f) for f in self.files(name)]
        # The files' own schema when there are files (a schema-1 folder has its own).
        return ds.dataset(files, schema=None if files else SCHEMAS[name], format="parquet")


def open_crawl(path: str | os.PathLike[str]) -> CrawlFolder:
    """Open the crawl folder ``path`` for reading; one-line :class:`UsageError` when it
    is not a folder or holds no linkgraph crawl."""
    if not os.path.isdir(path):
        raise UsageError(f"{path} is not a folder")
    folder = CrawlFolder(path)
    if not folder.is_crawl:
        raise UsageError(f"{path} holds no linkgraph crawl (no {MANIFEST})")
    return folder
