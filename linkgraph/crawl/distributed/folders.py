"""Where the workers of a distributed crawl write, and how their folders become one crawl.

Each worker writes an ordinary crawl folder of its own, ``DIR/workers/NNN`` (the same
commit protocol, node ids dense within it). A worker takes the first folder no live
process holds and that is not finished (a worker started after a kill continues the dead
one's folder: its half-written batch is dropped as on any resume), or makes the next.

When the crawl is over (nothing outstanding in Redis) each worker ends its session;
the last one on the machine to do so -- under ``DIR/.merge.lock`` every worker checks
whether all folders are finished and free -- merges them
(:func:`linkgraph.storage.merge.merge`) into ``DIR/.merged`` and moves the result into
DIR, ``crawl.json`` last: DIR is then a crawl folder as a single process leaves it, and
the worker folders are deleted. Workers on hosts that share only Redis each leave
their host's DIR merged this way; ``linkgraph merge A B -o OUT`` makes those one crawl.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from collections.abc import Sequence

from linkgraph.errors import UsageError
from linkgraph.storage.crawl_dir import (LOCK, CrawlDir, CrawlFinished, FolderHeld,
                                         read_manifest)
from linkgraph.storage.reader import MANIFEST

logger = logging.getLogger(__name__)

WORKERS = "workers"
MERGED = ".merged"
MERGE_LOCK = ".merge.lock"
#: The datasets a merged folder moves into DIR (its manifest goes last).
_MOVED = ("nodes", "links", "sitemaps", "pages")


def worker_folders(path: str) -> list[str]:
    """The worker folders of the distributed crawl in ``path``, in name order."""
    root = os.path.join(path, WORKERS)
    if not os.path.isdir(root):
        return []
    return [os.path.join(root, name) for name in sorted(os.listdir(root))
            if name.isdigit() and os.path.isdir(os.path.join(root, name))]


def check_output(path: str, seeds: Sequence[str], allow: Sequence[str]) -> None:
    """Refuse (one line, nothing written) an output folder a worker cannot use.

    Raises :class:`CrawlFinished` when DIR already holds this crawl, merged.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{path} exists and is not a folder")
    manifest = read_manifest(path)
    if manifest is not None:
        if sorted(manifest.seeds) != sorted(seeds) or sorted(manifest.allow) != sorted(allow):
            raise UsageError(f"{path} holds another crawl; choose another folder")
        if manifest.status == "finished":
            raise CrawlFinished(f"{path} holds a finished crawl of these seeds; choose "
                                "another folder to crawl again")
        raise UsageError(f"{path} holds a single-process crawl; continue it without "
                         "--frontier/--workers, or choose another folder")
    if os.path.isdir(path):
        extra = [n for n in os.listdir(path) if not n.startswith(".")
                 and n not in (WORKERS, *_MOVED)]
        if extra:
            raise UsageError(f"{path} is not empty and holds no linkgraph crawl; "
                             "choose an empty or new folder")
    for folder in worker_folders(path):
        worker = read_manifest(folder)
        if worker is not None and (sorted(worker.seeds) != sorted(seeds)
                                   or sorted(worker.allow) != sorted(allow)):
            raise UsageError(f"{folder} holds a worker of another crawl (seeds "
                             f"{', '.join(worker.seeds[:3])}); choose another folder")


def open_worker_folder(path: str, seeds: list[str], allow: list[str], crawl_id: str) -> CrawlDir:
    """The worker folder this process writes (see the module docstring)."""
    root = os.path.join(path, WORKERS)
    os.makedirs(root, exist_ok=True)
    for folder in worker_folders(path):
        if read_manifest(folder) is None:
            # Made a moment ago by a worker starting now (its manifest comes once it
            # holds the lock), or left empty by one killed then: not a crawl to continue.
            continue
        try:
            return CrawlDir.open(folder, seeds, allow, crawl_id=crawl_id)
        except (CrawlFinished, FolderHeld):
            continue
    number = len(worker_folders(path))
    while True:
        folder = os.path.join(root, f"{number:03d}")
        number += 1
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        try:
            return CrawlDir.open(folder, seeds, allow, crawl_id=crawl_id)
        except FolderHeld:
            continue


def _written(folder: str) -> bool:
    """Whether ``folder`` holds anything but its lock file."""
    return any(name != LOCK for name in os.listdir(folder))


def crawl_id_of(path: str) -> str | None:
    """The crawl id the worker folders of ``path`` carry (None when there are none)."""
    for folder in worker_folders(path):
        manifest = read_manifest(folder)
        if manifest is not None:
            return manifest.crawl_id
    return None


def merge_when_last(path: str, compact: bool = False, compact_rows: int | None = None) -> str | None:
    """Merge the worker folders into ``path`` if every one is finished and free.

    Called by each worker after its session ended with the crawl; returns the merge's
    summary line when this call merged, None when another worker will (or did).
    """
    from linkgraph.storage.compaction import DEFAULT_TARGET_ROWS
    from linkgraph.storage.merge import merge

    with open(os.path.join(path, MERGE_LOCK), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = read_manifest(path)
        if manifest is not None and manifest.status == "finished":
            return None
        # A folder with no manifest and nothing in it is one a worker made and was
        # killed before it held it: nothing to merge, and no worker to wait for.
        folders = [folder for folder in worker_folders(path)
                   if read_manifest(folder) is not None or _written(folder)]
        if not folders:
            return None
        for folder in folders:
            worker = read_manifest(folder)
            if worker is None or worker.status != "finished":
                return None
            try:
                CrawlDir.attach(folder).close()
            except UsageError:  # still held: its worker merges when it ends
                return None
        merged = os.path.join(path, MERGED)
        # What a killed merge left: the datasets moved so far, the half-written output.
        shutil.rmtree(merged, ignore_errors=True)
        for name in _MOVED:
            shutil.rmtree(os.path.join(path, name), ignore_errors=True)
        # Written compacted in the one pass, rather than merged and then rewritten.
        report = merge(folders, merged, batch_rows=(compact_rows or DEFAULT_TARGET_ROWS)
                       if compact else None)
        for name in _MOVED:
            source = os.path.join(merged, name)
            if os.path.isdir(source):
                os.replace(source, os.path.join(path, name))
        os.replace(os.path.join(merged, MANIFEST), os.path.join(path, MANIFEST))
        shutil.rmtree(os.path.join(path, WORKERS), ignore_errors=True)
        shutil.rmtree(merged, ignore_errors=True)
        return report.summary()
