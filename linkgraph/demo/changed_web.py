"""The demo web after a change: what ``linkgraph demo`` crawls a second time to diff.

A copy of the demo web in which the soil science journal, one of Northwind Gardens'
referring domains, changed three of its backlinks, one of each kind a diff names: a
link removed from a page, a link made nofollow, a page deleted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from linkgraph.demo.localweb import LocalWeb
from linkgraph.errors import UsageError

JOURNAL = "www.soil-science-journal.org"
#: (file under the demo web, text to replace, replacement or None to delete the file,
#: what the change is, for the demo's report).
CHANGES: tuple[tuple[str, str, str | None, str], ...] = (
    (f"{JOURNAL}/articles/compost.html",
     '<a href="http://www.northwind-gardens.com/blog/composting.html">Northwind\'s composting guide</a>',
     "Northwind's composting guide",
     "articles/compost.html no longer links Northwind's composting guide"),
    (f"{JOURNAL}/index.html",
     '<a href="http://www.northwind-gardens.com/">',
     '<a href="http://www.northwind-gardens.com/" rel="nofollow">',
     "the home page's link to Northwind is now nofollow"),
    (f"{JOURNAL}/articles/tomato-trials.html", "", None,
     "articles/tomato-trials.html is deleted (404)"),
)


def write_changed_web(root: str | os.PathLike[str], out: str | os.PathLike[str]) -> list[str]:
    """Copy the demo web ``root`` to ``out`` with :data:`CHANGES` applied.

    Returns what changed, one line each. Raises :class:`UsageError` when the demo web
    no longer has the text a change replaces (the demo web was edited).
    """
    shutil.copytree(root, out)
    for name, old, new, _ in CHANGES:
        path = Path(out) / name
        if new is None:
            path.unlink()
            continue
        text = path.read_text(encoding="utf-8")
        if old not in text:
            raise UsageError(f"demo web: {name} no longer holds the link the demo changes")
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return [f"{JOURNAL}: {what}" for *_, what in CHANGES]


@contextmanager
def crawl_changed_web(root: str | os.PathLike[str], output: str,
                      settings: Mapping[str, object], workers: int = 1
                      ) -> Iterator[tuple[list[str], subprocess.Popen]]:
    """Serve the changed demo web and crawl it into ``output`` in a child process.

    Yields the changes and the running ``linkgraph crawl`` (wait for it inside the
    block: the web is served until the block ends). A child process, because the
    Twisted reactor of the demo's first crawl cannot be started again, and so that
    it crawls while the demo scores the first crawl. With ``workers`` > 1 it is a
    distributed crawl (``--workers``) into a replaced ``output``.
    """
    with tempfile.TemporaryDirectory(prefix="linkgraph-demo-web-") as tmp:
        web = os.path.join(tmp, "demo-web")
        changes = write_changed_web(root, web)
        with LocalWeb(web) as server:
            argv = [sys.executable, "-m", "linkgraph", "crawl", os.path.join(web, "seeds.txt"),
                    "-o", output, "-q"]
            if workers > 1:
                _replace_crawl_folder(output)
                argv += ["--workers", str(workers)]
            else:
                argv.append("--fresh")
            for entry in server.resolve_entries():
                argv += ["--resolve", entry]
            for name, value in settings.items():
                argv += ["-s", f"{name}={value}"]
            # The child imports this linkgraph, wherever the command was started.
            package_parent = str(Path(__file__).resolve().parents[2])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)}
            child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
            try:
                yield changes, child
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()


def _replace_crawl_folder(path: str) -> None:
    """Delete ``path`` if it holds a linkgraph crawl (what ``--fresh`` would replace)."""
    from linkgraph.crawl.distributed.folders import WORKERS
    from linkgraph.storage.crawl_dir import read_manifest

    if not os.path.isdir(path):
        return
    entries = [n for n in os.listdir(path) if not n.startswith(".")]
    if entries and read_manifest(path) is None and WORKERS not in entries:
        raise UsageError(f"{path} is not empty and holds no linkgraph crawl; the demo "
                         "writes its second crawl there: move it or pass another -o")
    shutil.rmtree(path)
