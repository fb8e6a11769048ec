"""A crawl's output folder: its manifest, its three datasets, and their commit protocol.

Layout::

    DIR/crawl.json            what crawl this is (seeds, scope, id) and its status
    DIR/.lock                 held (POSIX lock) by the process writing the folder
    DIR/.reserve              room kept for the last manifest update of a session
    DIR/nodes/part-SSS-NNNNN.parquet
    DIR/links/part-SSS-NNNNN.parquet
    DIR/pages/part-SSS-NNNNN.parquet
    DIR/sitemaps/part-SSS-NNNNN.parquet   only for a batch with sitemap rows (optional)
    DIR/*/part-SSS-NNNNN-to-SSS-NNNNN.parquet   a merged run of batches (compaction)

``SSS`` is the session (a resumed crawl starts a new one), ``NNNNN`` the batch. A batch
is committed by writing its nodes part, then its links part, then its pages part under
the same name: the pages part is the commit point. Every batch writes all three, a
nodes part with no rows when the batch saw no new URL, so a batch is committed exactly
when its three parts are there (a batch that holds sitemap rows also writes a sitemaps
part before its pages part; one without has none). On opening, a nodes, links or
sitemaps part without its pages partner is the trace of a kill between the renames and
is deleted, so every committed
page has all of its links exactly once, and the committed nodes parts, read in name
order, hold node ids 0..N-1 exactly once each (ids are given in commit order, and a
batch dropped here had the highest ids, which the next batch gives again).

Compaction (``linkgraph/storage/compaction.py``) replaces runs of committed batches by merged
parts named after the batches they hold; opening also deletes any part whose batches
lie inside those of a committed merged pages part (the inputs a killed compaction had
not deleted yet), so each committed row is read exactly once either way.

One process writes a folder at a time: a crawl (:meth:`CrawlDir.open`) or a compaction
(:meth:`CrawlDir.attach`) holds a POSIX record lock on ``DIR/.lock`` until it closes
the folder or exits (the kernel drops it when the process dies, even by SIGKILL), and
the other is refused in one line. The lock is advisory: on a file system without
POSIX locks (some network mounts) it holds nothing.

A folder written with another schema version (version 1 had no node ids) cannot be
continued: its rows have no ids to carry on from. :func:`check` says so.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from linkgraph.errors import UsageError
from linkgraph.storage.compaction import DEFAULT_TARGET_ROWS, CompactionReport, compact
from linkgraph.storage.parquet_writer import PartWriter, atomic_file
from linkgraph.storage.part_names import list_parts
from linkgraph.storage.reader import MANIFEST, classify, list_folder
from linkgraph.storage.schemas import (LINKS_SCHEMA, NODES_SCHEMA, PAGES_SCHEMA, SCHEMA_VERSION,
                                       SITEMAPS_SCHEMA)
from linkgraph.storage import write_failure

LOCK = ".lock"
#: Room set aside while a session runs, given back to write its last manifest: a crawl
#: stopped by a full disk can still say it was interrupted. A manifest of a hundred
#: sessions is ~30 kB.
RESERVE, RESERVE_BYTES = ".reserve", 64 * 1024
#: Where recovering moves parts it will not read but must not delete (a damaged folder).
QUARANTINE = "quarantine"
#: In the order a summary lists them; the commit order is nodes, links, pages.
DATASETS = ("links", "pages", "nodes", "sitemaps")

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Manifest:
    crawl_id: str
    seeds: list[str]
    allow: list[str]
    status: str = "running"
    schema_version: int = SCHEMA_VERSION
    sessions: list[dict] = field(default_factory=list)
    format: str = "linkgraph-crawl"


class CrawlDir:
    """Open (create, resume or refuse) a crawl's output folder."""

    def __init__(self, path: str, manifest: Manifest, session: int):
        self.path = path
        self.manifest = manifest
        self.session = session
        self.nodes = PartWriter(os.path.join(path, "nodes"), NODES_SCHEMA)
        self.links = PartWriter(os.path.join(path, "links"), LINKS_SCHEMA)
        self.pages = PartWriter(os.path.join(path, "pages"), PAGES_SCHEMA)
        #: Optional: a batch writes a sitemaps part only when it has sitemap rows.
        self.sitemaps = PartWriter(os.path.join(path, "sitemaps"), SITEMAPS_SCHEMA)
        self._lock_fd: int | None = None

    @property
    def crawl_id(self) -> str:
        return self.manifest.crawl_id

    @classmethod
    def open(cls, path: str, seeds: list[str], allow: list[str], *,
             crawl_id: str | None = None, fresh: bool = False) -> CrawlDir:
        """Create the folder, or continue the crawl it holds.

        Raises :class:`UsageError` when ``path`` holds another crawl (other seeds or
        scope), something that is not a crawl, or a crawl that already finished.
        """
        existing = check(path, seeds, allow, fresh=fresh)
        try:
            return cls._open(path, existing, seeds, allow, crawl_id, fresh)
        except OSError as exc:
            # A full disk or a read-only folder at start: the user's to fix, in one line.
            raise UsageError(write_failure.describe(path, exc)) from None

    @classmethod
    def _open(cls, path: str, existing: Manifest | None, seeds: list[str], allow: list[str],
              crawl_id: str | None, fresh: bool) -> CrawlDir:
        os.makedirs(path, exist_ok=True)
        lock_fd = _lock(path)
        if fresh and existing is None:
            # The old crawl's scores go with it; quarantined parts stay until removed.
            for name in (*DATASETS, "scores"):
                shutil.rmtree(os.path.join(path, name), ignore_errors=True)
            if os.path.exists(os.path.join(path, MANIFEST)):
                os.unlink(os.path.join(path, MANIFEST))
        if existing is None:
            crawl_id = crawl_id or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            existing = Manifest(crawl_id=crawl_id, seeds=list(seeds), allow=list(allow))
        session = len(existing.sessions)
        existing.status = "running"
        existing.sessions.append({"started_at": _now(), "finished_at": None})
        crawl_dir = cls(path, existing, session)
        crawl_dir._lock_fd = lock_fd
        crawl_dir.recover()
        crawl_dir.save()
        _reserve(path)
        return crawl_dir

    @classmethod
    def attach(cls, path: str) -> CrawlDir:
        """Open an existing crawl folder to maintain it (compaction): no new session.

        Takes the folder's lock; changes nothing (:meth:`compact` recovers the folder
        first, :meth:`recover` does it alone). Raises :class:`UsageError` (one line)
        for a folder that holds no linkgraph crawl, a crawl of another schema version,
        or one that a live crawl or compaction is writing.
        """
        if not os.path.isdir(path):
            raise UsageError(f"{path} is not a folder")
        manifest = read_manifest(path)
        if manifest is None:
            raise UsageError(f"{path} holds no linkgraph crawl (no {MANIFEST})")
        if str(manifest.schema_version) != str(SCHEMA_VERSION):
            raise UsageError(f"{path} holds a crawl written with schema version "
                             f"{manifest.schema_version} (this linkgraph writes "
                             f"{SCHEMA_VERSION}), which it cannot compact")
        lock_fd = _lock(path)
        crawl_dir = cls(path, manifest, len(manifest.sessions))
        crawl_dir._lock_fd = lock_fd
        return crawl_dir

    @classmethod
    def create(cls, path: str, manifest: Manifest) -> CrawlDir:
        """Start a new crawl folder written by something other than a crawl (``linkgraph
        merge``): ``path`` must be new or empty. Takes its lock and writes ``manifest``;
        the batches written belong to the manifest's last session.
        """
        crawl_dir = None
        try:
            os.makedirs(path, exist_ok=True)
            crawl_dir = cls(path, manifest, len(manifest.sessions) - 1)
            crawl_dir._lock_fd = _lock(path)
            crawl_dir.save()
            _reserve(path)
        except OSError as exc:
            if crawl_dir is not None:
                crawl_dir.close()
            raise UsageError(write_failure.describe(path, exc)) from None
        return crawl_dir

    def close(self) -> None:
        """Release the folder's lock (also released when the process ends)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def recover(self) -> int:
        """Drop what an interrupted session or compaction left half-done; return the
        number of files removed or moved.

        What goes is what :func:`linkgraph.storage.reader.classify` calls stale, in
        this order: temporaries (half-written); parts whose batches a committed merged
        pages part holds (copies of its rows; pages first, as compaction deletes them);
        the nodes and links parts of the batch a kill interrupted between its renames.
        Nodes and links parts without their pages partner *before* other committed
        batches are not a kill's trace but damage: they are moved, never deleted, to
        ``DIR/quarantine/<time>/`` and a warning says so.
        """
        listing = classify(list_folder(self.path))
        removed = 0
        for dataset in ("nodes", "links", "sitemaps", "pages"):
            for name in listing.temporary[dataset]:
                os.unlink(os.path.join(self.path, dataset, name))
                removed += 1
        for dataset in ("pages", "sitemaps", "links", "nodes"):
            for name in (*listing.merged_inputs[dataset], *listing.uncommitted[dataset]):
                os.unlink(os.path.join(self.path, dataset, name))
                removed += 1
        orphans = [(d, n) for d in ("nodes", "links", "sitemaps") for n in listing.orphaned[d]]
        if orphans:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
            target = os.path.join(self.path, QUARANTINE, stamp)
            for dataset, name in orphans:
                os.makedirs(os.path.join(target, dataset), exist_ok=True)
                os.replace(os.path.join(self.path, dataset, name),
                           os.path.join(target, dataset, name))
            log.warning("%s: %d part(s) without their pages partner before later committed "
                        "batches (a damaged folder, not an interrupted commit) were moved to "
                        "%s (first: %s/%s)", self.path, len(orphans), target, *orphans[0])
            removed += len(orphans)
        return removed

    def read_nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(url_key, node_id)`` of every committed node, in part-name order.

        Raises :class:`UsageError` (one line, naming the folder) when a committed batch
        has no nodes part or the ids are not exactly 0..N-1 in that order: the folder
        was changed by something other than a crawl, and new ids would clash.
        """
        missing = sorted(set(list_parts(self.pages.folder)) - set(list_parts(self.nodes.folder)))
        if missing:
            # A batch without its nodes part: the ids of every later batch would clash.
            raise UsageError(f"{self.path}: nodes/{missing[0]} is missing ({len(missing)} "
                             "batch(es) without nodes); check it with linkgraph verify, or "
                             "pass --fresh to crawl again")
        tables = []
        for name in list_parts(self.nodes.folder):
            try:
                tables.append(pq.read_table(os.path.join(self.nodes.folder, name),
                                            columns=["url_key", "node_id"]))
            except (OSError, pa.ArrowException) as exc:
                raise UsageError(f"{self.path}: nodes/{name} is unreadable "
                                 f"({' '.join(str(exc).split())[:200]}); check it with "
                                 "linkgraph verify, or pass --fresh to crawl again") from None
        if not tables:
            return np.zeros(0, np.int64), np.zeros(0, np.int32)
        table = pa.concat_tables(tables)
        keys = table.column("url_key").to_numpy()
        ids = table.column("node_id").to_numpy()
        bad = np.flatnonzero(ids != np.arange(len(ids)))
        if len(bad):
            raise UsageError(f"{self.path}: node ids in nodes/ are not 0..{len(ids) - 1} in "
                             f"part order (row {bad[0]} has id {ids[bad[0]]}); check it with "
                             "linkgraph verify, or pass --fresh to crawl again")
        return keys, ids

    def compact(self, target_link_rows: int = DEFAULT_TARGET_ROWS) -> CompactionReport:
        """Merge runs of committed batches into parts of about ``target_link_rows`` rows.

        Crash-safe (see ``linkgraph/storage/compaction.py``); the caller must hold the folder
        (:meth:`open` or :meth:`attach`), so that no crawl writes it meanwhile.
        """
        return compact(self, target_link_rows)

    def save(self) -> None:
        os.makedirs(self.path, exist_ok=True)
        with atomic_file(os.path.join(self.path, MANIFEST), "w", "utf-8") as handle:
            json.dump(asdict(self.manifest), handle, indent=2)

    def finish(self, status: str, stats: dict | None = None) -> None:
        """Record the end of this session (``status`` is finished or interrupted) and
        release the folder: the session writes nothing more."""
        self.manifest.status = status
        self.manifest.sessions[-1].update({"finished_at": _now(), **(stats or {})})
        try:
            # The reserve goes first: on a full disk it is the room the manifest needs.
            reserve = os.path.join(self.path, RESERVE)
            if os.path.exists(reserve):
                os.unlink(reserve)
            self.save()
        except OSError as exc:
            # The manifest on disk still says running, which resumes the same way.
            log.warning("%s: the manifest was not updated (%s); it still says running",
                        self.path, exc.strerror or exc)
        finally:
            self.close()


def check(path: str, seeds: list[str], allow: list[str], *, fresh: bool = False) -> Manifest | None:
    """Say whether a crawl of ``seeds`` may write to ``path``, changing nothing.

    Returns the manifest of the unfinished crawl to continue, or None for a new crawl
    (``fresh`` replaces whatever crawl the folder holds). Raises :class:`UsageError`
    for a folder that holds something else or another crawl, and
    :class:`CrawlFinished` when this crawl is already complete.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{path} exists and is not a folder")
    try:
        existing = read_manifest(path)
    except UsageError:
        if not fresh:
            raise
        return None  # --fresh replaces a crawl whose manifest is damaged too
    if existing is None or fresh:
        if existing is None and os.path.isdir(path) and any(
                not n.startswith(".") for n in os.listdir(path)):
            raise UsageError(f"{path} is not empty and holds no linkgraph crawl; "
                             "choose an empty or new folder")
        return None
    if existing.status == "merging":
        raise UsageError(f"{path} holds a linkgraph merge that was stopped before it "
                         "finished; delete it and merge again, or pass --fresh to crawl")
    if sorted(existing.seeds) != sorted(seeds) or sorted(existing.allow) != sorted(allow):
        shown = ", ".join(existing.seeds[:3]) + (" ..." if len(existing.seeds) > 3 else "")
        raise UsageError(f"{path} holds another crawl (seeds {shown}); choose another "
                         "folder or pass --fresh to replace it")
    if existing.status == "finished":
        raise CrawlFinished(f"{path} holds a finished crawl of these seeds "
                            f"({len(existing.sessions)} session(s)); pass --fresh to crawl again")
    if str(existing.schema_version) != str(SCHEMA_VERSION):
        raise UsageError(f"{path} holds a crawl written with schema version "
                         f"{existing.schema_version} (this linkgraph writes {SCHEMA_VERSION}), "
                         "which cannot be resumed; pass --fresh to crawl it again")
    return existing


def _reserve(path: str) -> None:
    """Set :data:`RESERVE_BYTES` aside in ``path`` (see :data:`RESERVE`)."""
    with open(os.path.join(path, RESERVE), "wb") as handle:
        handle.write(bytes(RESERVE_BYTES))
        handle.flush()
        os.fsync(handle.fileno())


def _lock(path: str) -> int:
    """Take the lock of the crawl folder ``path``; return its file descriptor.

    A POSIX record lock (``lockf``), not ``flock``: it belongs to the process, so one
    process may open its folder twice (the tests do), and the kernel releases it when
    the process dies. The flip side: closing any of the process's descriptors of the
    file releases it, so a process that opened a folder twice holds it until the first
    close. Raises :class:`UsageError` when another process holds it.
    """
    fd = os.open(os.path.join(path, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise FolderHeld(f"{path} is being written by another linkgraph process (pid "
                         f"{holder}: a crawl or a compaction); wait until it ends") from None
    # The pid is for that message only: the lock, not the file, says who writes.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class FolderHeld(UsageError):
    """Another live process holds the crawl folder's lock."""


class CrawlFinished(UsageError):
    """The folder holds a finished crawl of the same seeds: nothing left to do."""


def read_manifest(path: str) -> Manifest | None:
    """The manifest of the crawl folder ``path``, or None when there is none."""
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.exists(manifest_path):
        return None
    try:
        with open(manifest_path, encoding="utf-8") as handle:
            data = json.load(handle)
        return Manifest(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"{manifest_path} is unreadable or not a linkgraph manifest: {exc}") from None
