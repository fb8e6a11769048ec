"""Merging crawl folders: the folders that workers of one crawl wrote apart, made one.

Workers of a distributed crawl on hosts that share only Redis each write a crawl folder
of their own: same ``crawl_id``, seeds and scope, but node ids that mean nothing outside
their folder, and (when a lease expired under a live worker, or Redis was lost and
rebuilt) a page that two workers both fetched. :func:`merge` writes one crawl folder
that every reader takes for a single-process crawl:

* **One id space.** Node ids are given again, densely, as the crawl's pipeline gives
  them (:class:`~linkgraph.storage.node_index.NodeIndex`): input by input in the order
  given, batch by batch in commit order, a batch's page URLs first and then its link
  ends in row order. So merging one folder gives it its own ids back, and each output
  batch's nodes part holds the URLs first seen in it, each key once.
* **Exactly once.** A URL with pages rows in several inputs keeps the earliest fetch
  (``fetched_at``; a tie goes to the earlier input); the other copies' pages rows and
  the links rows of those fetches (a link belongs to the fetch of its source page: the
  rows of the same batch with that ``src_key``) are dropped and counted. A sitemaps
  row listed by several inputs, by ``(sitemap_url, url)``, is kept from the input that
  read that sitemap entry first, with every row it has of it.
* **Streaming.** A first pass reads only ``url_key`` and ``fetched_at`` of every pages
  row (and the keys of every sitemaps row) to choose the copies to keep; the second
  copies each input batch, one row group at a time, into one output batch (or runs of
  them into one, when the output should be born compacted). Memory is
  the key-to-id table and those two columns: it grows with the URLs, not with the links.
* **The commit protocol.** Each output batch is written through
  :class:`~linkgraph.storage.parquet_writer.PartWriter` in the crawl's order (nodes,
  links, sitemaps, pages last), named ``part-SSS-NNNNN`` with the merge's own session.
  The output's manifest says ``merging`` until the last batch is committed, then
  ``finished`` when every input finished (``interrupted`` otherwise). A killed merge
  leaves a folder that says ``merging``, which a crawl refuses to continue: delete it
  and merge again into a new folder (the inputs are never changed).

The inputs are held (their ``.lock``) while they are read, so a live crawl writing
one is refused in one line and none can start meanwhile.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkgraph.errors import UsageError
from linkgraph.storage import write_failure
from linkgraph.storage.compaction import plan
from linkgraph.storage.crawl_dir import CrawlDir, Manifest, read_manifest
from linkgraph.storage.node_index import NodeIndex
from linkgraph.storage.parquet_writer import table_from_columns
from linkgraph.storage.part_names import part_name
from linkgraph.storage.reader import CrawlFolder, open_crawl
from linkgraph.storage.schemas import (NODES_SCHEMA, SCHEMA_VERSION, SCHEMAS, add_late_columns,
                                       lacks_only_late_columns)
from linkgraph.storage.url_key import url_key

log = logging.getLogger(__name__)

#: The status of an output folder while the merge writes it (and after a kill).
MERGING = "merging"
#: Seconds between two progress lines of a long merge.
PROGRESS_SECONDS = 10.0
# An odd 64-bit constant (the golden ratio's): mixes a sitemap's key into a URL's key.
_PAIR_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class MergeReport:
    """What :func:`merge` wrote and dropped."""

    path: str
    inputs: list[str]
    #: Rows written per dataset.
    rows: dict[str, int] = field(default_factory=dict)
    #: Duplicate copies dropped: pages rows, the links rows of those fetches, sitemaps rows.
    dropped: dict[str, int] = field(default_factory=dict)
    status: str = MERGING
    #: Inputs whose crawl had not finished (why the status is interrupted).
    unfinished: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        rows = ", ".join(f"{self.rows.get(d, 0)} {d}" for d in ("pages", "links", "nodes",
                                                                 "sitemaps"))
        dropped = (f"{self.dropped.get('pages', 0)} duplicate pages rows dropped with "
                   f"{self.dropped.get('links', 0)} links rows, "
                   f"{self.dropped.get('sitemaps', 0)} duplicate sitemaps rows")
        line = (f"{self.path}: merged {len(self.inputs)} folder(s) into {rows} rows; "
                f"{dropped}; status {self.status}")
        if self.unfinished:
            line += (f" ({len(self.unfinished)} input(s) not finished, first "
                     f"{self.unfinished[0]}: resume them and merge again for the whole crawl)")
        return line + f" in {self.seconds:.1f} s"


@dataclass
class _Input:
    """One input folder, held and listed, with the copies of its rows to keep."""

    path: str
    manifest: Manifest
    folder: CrawlFolder
    held: CrawlDir
    #: Per committed pages part (by name): keep mask of its rows, in file order.
    keep_pages: dict[str, np.ndarray] = field(default_factory=dict)
    page_keys: dict[str, np.ndarray] = field(default_factory=dict)
    keep_sitemaps: dict[str, np.ndarray] = field(default_factory=dict)


def merge(inputs: Sequence[str], out: str, *, on_batch: Callable[[], None] | None = None,
          batch_rows: int | None = None) -> MergeReport:
    """Merge the crawl folders ``inputs`` into the new crawl folder ``out``.

    See the module docstring. ``on_batch`` is called after each output batch is
    committed (tests kill the merge there). Raises :class:`UsageError` (one line,
    nothing written) when there is no input, an input is not a crawl folder, holds
    another crawl (crawl id, seeds or scope), another schema version, is damaged (a
    pages part without its partners) or is being written by a live process, or when
    ``out`` exists and is not an empty folder.

    With ``batch_rows``, runs of consecutive input batches are written as one output
    batch of about that many rows, cut by compaction's rule
    (:func:`~linkgraph.storage.compaction.plan`, on the input batches' sizes): the
    output is born compacted, without a second pass over it.
    """
    started = time.perf_counter()
    if not inputs:
        raise UsageError("merge: give at least one crawl folder to merge")
    _check_out(out)
    manifests = _check_inputs(inputs)
    held: list[_Input] = []
    try:
        for path, manifest in zip(inputs, manifests):
            try:
                crawl_dir = CrawlDir.attach(path)
            except OSError as exc:  # a read-only copy: its lock file cannot be opened
                raise UsageError(f"{path}: cannot take its lock ({exc.strerror or exc}); "
                                 "merge a writable copy") from None
            # Listed once it is held: no crawl commits to it while it is read.
            held.append(_Input(path, manifest, _listed(path), crawl_dir))
        dropped = {"pages": _choose_pages(held), "links": 0,
                   "sitemaps": _choose_sitemaps(held)}
        unfinished = [one.path for one in held if one.manifest.status != "finished"]
        report = MergeReport(out, list(inputs), dropped=dropped, unfinished=unfinished)
        _write(held, out, report, on_batch or (lambda: None), batch_rows)
    finally:
        for one in held:
            one.held.close()
    report.seconds = time.perf_counter() - started
    return report


# -- checks (nothing is written before they all pass) -------------------------------------
def _check_out(out: str) -> None:
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise UsageError(f"{out} exists and is not an empty folder; merge into a new or "
                         "empty folder")


def _check_inputs(inputs: Sequence[str]) -> list[Manifest]:
    """The manifests of ``inputs``, all of one crawl of this schema version."""
    seen: dict[str, str] = {}
    manifests = []
    for path in inputs:
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"{path} is given twice (as {seen[real]} too)")
        seen[real] = path
        open_crawl(path)  # not a folder, or no crawl: one line
        manifest = read_manifest(path)
        assert manifest is not None  # open_crawl saw the file
        if str(manifest.schema_version) != str(SCHEMA_VERSION):
            raise UsageError(f"{path} holds a crawl written with schema version "
                             f"{manifest.schema_version} (this linkgraph writes "
                             f"{SCHEMA_VERSION}), which it cannot merge")
        if manifest.status == MERGING:
            raise UsageError(f"{path} holds a merge that was stopped before it finished; "
                             "merge its inputs again instead")
        if manifests:
            first, other = inputs[0], manifests[0]
            if manifest.crawl_id != other.crawl_id:
                raise UsageError(f"{path} holds crawl {manifest.crawl_id}, {first} holds "
                                 f"crawl {other.crawl_id}: only the folders of one crawl "
                                 "can be merged")
            if (sorted(manifest.seeds) != sorted(other.seeds)
                    or sorted(manifest.allow) != sorted(other.allow)):
                raise UsageError(f"{path} and {first} hold crawl {other.crawl_id} with "
                                 "other seeds or scope (--allow): they are not one crawl")
        manifests.append(manifest)
    return manifests


def _listed(path: str) -> CrawlFolder:
    folder = open_crawl(path)
    unpaired = folder.listing.unpaired.get("pages", [])
    if unpaired:
        raise UsageError(f"{path}: pages/{unpaired[0]} has no nodes or links partner (a "
                         "damaged folder); check it with linkgraph verify")
    folder.warn_stale("merge")
    return folder


# -- pass 1: which copy of each row to keep ------------------------------------------------
def _read_columns(path: os.PathLike[str] | str, columns: list[str]) -> pa.Table:
    try:
        # ParquetFile, not read_table: read_table's dataset layer imports pandas and
        # pyarrow.dataset, a fifth of a second in a crawl worker that has neither.
        with pq.ParquetFile(path) as file:
            return file.read(columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: os.PathLike[str] | str, exc: Exception) -> UsageError:
    return UsageError(f"{path} is unreadable ({' '.join(str(exc).split())[:200]}); check "
                      "its folder with linkgraph verify")


def _millis(column: pa.ChunkedArray) -> np.ndarray:
    return column.cast(pa.int64()).to_numpy()


def _earliest(keys: np.ndarray, fetched: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Rows whose ``owner`` is the owner of the earliest row of their key.

    Rows are in input order; the earliest row of a key is the one of the smallest
    ``fetched``, then the first. With ``owner`` the row number itself this keeps one
    row per key; with the input number, every row the winning input has of the key.
    """
    order = np.lexsort((np.arange(len(keys)), fetched, keys))
    sorted_keys = keys[order]
    first = np.ones(len(keys), bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    winner = owner[order][first][np.cumsum(first) - 1]
    keep = np.empty(len(keys), bool)
    keep[order] = owner[order] == winner
    return keep


def _choose_pages(inputs: list[_Input]) -> int:
    """Fill each input's pages keep masks; return the pages rows dropped."""
    parts = [(one, name, _read_columns(path, ["url_key", "fetched_at"]))
             for one in inputs for name, path in zip(one.folder.listing.kept["pages"],
                                                     one.folder.files("pages"))]
    if not parts:
        return 0
    keys = np.concatenate([t.column("url_key").to_numpy() for _, _, t in parts])
    fetched = np.concatenate([_millis(t.column("fetched_at")) for _, _, t in parts])
    keep = _earliest(keys, fetched, np.arange(len(keys)))
    start = 0
    for one, name, table in parts:
        end = start + table.num_rows
        one.keep_pages[name], one.page_keys[name] = keep[start:end], keys[start:end]
        start = end
    return int(len(keep) - keep.sum())


def _pair_keys(table: pa.Table) -> np.ndarray:
    """A 64-bit key of each row's ``(sitemap_url, url)``."""
    sitemaps = pc.dictionary_encode(table.column("sitemap_url").combine_chunks())
    sitemap_keys = np.array([url_key(u) for u in sitemaps.dictionary.to_pylist()], np.int64)
    mixed = sitemap_keys[sitemaps.indices.to_numpy()].view(np.uint64) * _PAIR_MIX
    return (mixed + table.column("url_key").to_numpy().view(np.uint64)).view(np.int64)


def _choose_sitemaps(inputs: list[_Input]) -> int:
    """Fill each input's sitemaps keep masks; return the sitemaps rows dropped."""
    parts = [(n, one, name, _read_columns(path, ["sitemap_url", "url_key", "fetched_at"]))
             for n, one in enumerate(inputs)
             for name, path in zip(one.folder.listing.kept["sitemaps"],
                                   one.folder.files("sitemaps"))]
    if not parts:
        return 0
    keys = np.concatenate([_pair_keys(t) for *_, t in parts])
    fetched = np.concatenate([_millis(t.column("fetched_at")) for *_, t in parts])
    owner = np.concatenate([np.full(t.num_rows, n) for n, *_, t in parts])
    keep = _earliest(keys, fetched, owner)
    start = 0
    for _, one, name, table in parts:
        one.keep_sitemaps[name] = keep[start:start + table.num_rows]
        start += table.num_rows
    return int(len(keep) - keep.sum())


# -- pass 2: the output folder, batch by batch ------------------------------------------
def _write(inputs: list[_Input], out: str, report: MergeReport,
           on_batch: Callable[[], None], batch_rows: int | None) -> None:
    first = inputs[0].manifest
    sessions = [{**session, "input": os.path.abspath(one.path)}
                for one in inputs for session in one.manifest.sessions]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    sessions.append({"started_at": now, "finished_at": None,
                     "merged_from": [os.path.abspath(one.path) for one in inputs]})
    manifest = Manifest(crawl_id=first.crawl_id, seeds=list(first.seeds),
                        allow=list(first.allow), status=MERGING, sessions=sessions)
    target = CrawlDir.create(out, manifest)
    try:
        report.rows = _copy_batches(inputs, target, report, on_batch, batch_rows)
    except OSError as exc:
        target.close()
        raise UsageError(f"{write_failure.describe(out, exc)}; {out} is left unfinished "
                         f"(status {MERGING}): make room, delete it and merge again") from None
    except BaseException:
        target.close()
        raise
    report.status = "interrupted" if report.unfinished else "finished"
    target.finish(report.status, {"merge": {"rows": report.rows, "dropped": report.dropped}})


@dataclass
class _Batch:
    """One input batch to copy: its folder, part name and the copies of its rows to keep."""

    one: _Input
    name: str
    keep_pages: np.ndarray
    keep_sitemaps: np.ndarray | None
    rows: int


def _copy_batches(inputs: list[_Input], target: CrawlDir, report: MergeReport,
                  on_batch: Callable[[], None], batch_rows: int | None) -> dict[str, int]:
    rows = dict.fromkeys(("pages", "links", "nodes", "sitemaps"), 0)
    index = NodeIndex()
    last_line = time.monotonic()
    batches: list[_Batch] = []
    for one in inputs:
        sitemap_parts = set(one.folder.listing.kept["sitemaps"])
        for name in one.folder.listing.kept["pages"]:
            keep_pages = one.keep_pages[name]
            keep_sitemaps = one.keep_sitemaps.get(name, np.zeros(0, bool))
            links_rows = _rows(one.folder.path / "links" / name)
            if not keep_pages.any() and not keep_sitemaps.any():
                # Every page of the batch is a copy kept elsewhere: so are its links.
                report.dropped["links"] += links_rows
                continue
            batches.append(_Batch(one, name, keep_pages,
                                  keep_sitemaps if name in sitemap_parts else None,
                                  max(links_rows, len(keep_pages))))
    total = len(batches)
    done = 0
    current = None
    for out_batch, group in enumerate(_groups([b.rows for b in batches], batch_rows)):
        members = [batches[i] for i in group]
        with_sitemaps = any(b.keep_sitemaps is not None and b.keep_sitemaps.any()
                            for b in members)
        with ExitStack() as streams:
            # Closed in reverse: nodes, links, sitemaps, then pages, the commit point.
            out_name = part_name(target.session, out_batch)
            pages = streams.enter_context(target.pages.stream(out_name))
            sitemaps = (streams.enter_context(target.sitemaps.stream(out_name))
                        if with_sitemaps else None)
            links = streams.enter_context(target.links.stream(out_name))
            nodes = streams.enter_context(target.nodes.stream(out_name))
            for batch in members:
                if batch.one is not current:
                    current = batch.one
                    log.info("merge: reading %s (%d batch(es))", current.path,
                             len(current.keep_pages))
                done += 1
                copied = _copy_batch(batch, index, pages, links, nodes, sitemaps)
                report.dropped["links"] += (_rows(batch.one.folder.path / "links" / batch.name)
                                            - copied)
        rows["pages"] += pages.rows
        rows["links"] += links.rows
        rows["nodes"] += nodes.rows
        rows["sitemaps"] += sitemaps.rows if sitemaps is not None else 0
        on_batch()
        if time.monotonic() - last_line >= PROGRESS_SECONDS:
            last_line = time.monotonic()
            log.info("merge: %d/%d batches, %d pages, %d links, %d nodes written",
                     done, total, rows["pages"], rows["links"], index.size)
    return rows


def _groups(sizes: list[int], batch_rows: int | None) -> list[range]:
    """The input batches (index ranges) each output batch is made of: one each, or
    runs of about ``batch_rows`` rows cut by compaction's rule."""
    if batch_rows is None:
        return [range(i, i + 1) for i in range(len(sizes))]
    runs = {run.start: run for run in plan(sizes, batch_rows)}
    groups = []
    i = 0
    while i < len(sizes):
        groups.append(runs.get(i, range(i, i + 1)))
        i = groups[-1].stop
    return groups


def _rows(path: os.PathLike[str]) -> int:
    try:
        return pq.read_metadata(path).num_rows
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(path, exc) from None


def _row_groups(path: os.PathLike[str], dataset: str):
    """The row groups of one input part, with the current schema's columns."""
    try:
        with pq.ParquetFile(path) as file:
            got = [(f.name, f.type) for f in file.schema_arrow]
            want = [(f.name, f.type) for f in SCHEMAS[dataset]]
            late = got != want and lacks_only_late_columns(dataset, got)
            if got != want and not late:
                raise UsageError(f"{path} has other columns than the {dataset} schema; "
                                 "check its folder with linkgraph verify")
            for i in range(file.num_row_groups):
                group = file.read_row_group(i)
                yield add_late_columns(group, dataset) if late else group
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(path, exc) from None


def _give_ids(index: NodeIndex, keys: np.ndarray, urls: pa.ChunkedArray,
              hosts: pa.ChunkedArray, domains: pa.ChunkedArray) -> tuple[pa.Array, pa.Table]:
    """Ids of ``keys`` (new ones given), and the nodes rows of the new ones, in id order."""
    ids, is_new = index.ids_for(keys)
    new = pa.array(np.flatnonzero(is_new))
    nodes = table_from_columns({"node_id": ids[is_new], "url_key": keys[is_new],
                                "url": urls.take(new), "host": hosts.take(new),
                                "domain": domains.take(new)}, NODES_SCHEMA)
    return pa.array(ids), nodes


def _with(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, values)


def _kept(table: pa.Table, mask: np.ndarray | pa.Array) -> pa.Table:
    """The rows of ``table`` where ``mask`` is true: a copy of every column, so not
    made when every row is kept (no page of the batch was fetched twice)."""
    every = mask.all() if isinstance(mask, np.ndarray) else pc.all(mask).as_py()
    return table if every else table.filter(mask)


def _copy_batch(batch: _Batch, index: NodeIndex, pages, links, nodes, sitemaps) -> int:
    """Copy the kept rows of one input batch into the output batch's streams; return
    the links rows copied."""
    source, name = batch.one.folder.path, batch.name
    keep_pages = batch.keep_pages
    kept_keys = pa.array(batch.one.page_keys[name][keep_pages])
    links_before = links.rows
    start = 0
    for group in _row_groups(source / "pages" / name, "pages"):
        mask = keep_pages[start:start + group.num_rows]
        start += group.num_rows
        group = _kept(group, mask)
        ids, new = _give_ids(index, group.column("url_key").to_numpy(), group.column("url"),
                             group.column("host"), group.column("domain"))
        nodes.write(new)
        pages.write(_with(group, "node_id", ids))
    for group in _row_groups(source / "links" / name, "links"):
        group = _kept(group, pc.is_in(group.column("src_key"), value_set=kept_keys))
        src, new_src = _give_ids(index, group.column("src_key").to_numpy(),
                                 group.column("src_url"), group.column("src_host"),
                                 group.column("src_domain"))
        dst, new_dst = _give_ids(index, group.column("dst_key").to_numpy(),
                                 group.column("dst_url"), group.column("dst_host"),
                                 group.column("dst_domain"))
        nodes.write(new_src)
        nodes.write(new_dst)
        links.write(_with(_with(group, "src_id", src), "dst_id", dst))
    if batch.keep_sitemaps is not None and batch.keep_sitemaps.any():
        start = 0
        for group in _row_groups(source / "sitemaps" / name, "sitemaps"):
            mask = batch.keep_sitemaps[start:start + group.num_rows]
            start += group.num_rows
            sitemaps.write(_kept(group, mask))
    return links.rows - links_before
