"""A crawl's output folder: its manifest, its two datasets, and their commit protocol.

Layout::

    DIR/crawl.json            what crawl this is (seeds, scope, id) and its status
    DIR/links/part-SSS-NNNNN.parquet
    DIR/pages/part-SSS-NNNNN.parquet

``SSS`` is the session (a resumed crawl starts a new one), ``NNNNN`` the batch. A batch
is committed by writing its links part, then its pages part under the same name: the
pages part is the commit point. On opening, a links part without its pages partner is
the trace of a kill between the two renames and is deleted, so every committed page has
all of its links exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from linkgraph.errors import UsageError
from pipelines.parquet_writer import TMP_PREFIX, PartWriter
from pipelines.schemas import LINKS_SCHEMA, PAGES_SCHEMA, SCHEMA_VERSION

MANIFEST = "crawl.json"
DATASETS = ("links", "pages")


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


def part_name(session: int, batch: int) -> str:
    return f"part-{session:03d}-{batch:05d}.parquet"


def list_parts(folder: str) -> list[str]:
    """Committed part file names of a dataset folder, sorted (temporaries excluded)."""
    if not os.path.isdir(folder):
        return []
    return sorted(n for n in os.listdir(folder)
                  if n.endswith(".parquet") and not n.startswith((".", "_")))


class CrawlDir:
    """Open (create, resume or refuse) a crawl's output folder."""

    def __init__(self, path: str, manifest: Manifest, session: int):
        self.path = path
        self.manifest = manifest
        self.session = session
        self.links = PartWriter(os.path.join(path, "links"), LINKS_SCHEMA)
        self.pages = PartWriter(os.path.join(path, "pages"), PAGES_SCHEMA)

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
        if fresh and existing is None:
            for name in DATASETS:
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
        crawl_dir.recover()
        crawl_dir.save()
        return crawl_dir

    def recover(self) -> int:
        """Drop what an interrupted session left half-committed; return files removed."""
        removed = self.links.remove_temporaries() + self.pages.remove_temporaries()
        committed = set(list_parts(self.pages.folder))
        for name in list_parts(self.links.folder):
            if name not in committed:
                os.unlink(os.path.join(self.links.folder, name))
                removed += 1
        return removed

    def save(self) -> None:
        os.makedirs(self.path, exist_ok=True)
        tmp = os.path.join(self.path, TMP_PREFIX + MANIFEST)
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(asdict(self.manifest), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, os.path.join(self.path, MANIFEST))

    def finish(self, status: str, stats: dict | None = None) -> None:
        """Record the end of this session; ``status`` is finished or interrupted."""
        self.manifest.status = status
        self.manifest.sessions[-1].update({"finished_at": _now(), **(stats or {})})
        self.save()


def check(path: str, seeds: list[str], allow: list[str], *, fresh: bool = False) -> Manifest | None:
    """Say whether a crawl of ``seeds`` may write to ``path``, changing nothing.

    Returns the manifest of the unfinished crawl to continue, or None for a new crawl
    (``fresh`` replaces whatever crawl the folder holds). Raises :class:`UsageError`
    for a folder that holds something else or another crawl, and
    :class:`CrawlFinished` when this crawl is already complete.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{path} exists and is not a folder")
    existing = read_manifest(path)
    if existing is None or fresh:
        if existing is None and os.path.isdir(path) and any(
                not n.startswith(".") for n in os.listdir(path)):
            raise UsageError(f"{path} is not empty and holds no linkgraph crawl; "
                             "choose an empty or new folder")
        return None
    if sorted(existing.seeds) != sorted(seeds) or sorted(existing.allow) != sorted(allow):
        shown = ", ".join(existing.seeds[:3]) + (" ..." if len(existing.seeds) > 3 else "")
        raise UsageError(f"{path} holds another crawl (seeds {shown}); choose another "
                         "folder or pass --fresh to replace it")
    if existing.status == "finished":
        raise CrawlFinished(f"{path} holds a finished crawl of these seeds "
                            f"({len(existing.sessions)} session(s)); pass --fresh to crawl again")
    return existing


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
