"""The offline demo: serve the bundled web from ``data/demo-web`` on loopback, crawl it.

The demo web is five small sites under real-looking host names that link each other,
with nofollow, sponsored and ugc links, a redirect chain, a canonical, a broken link, a
robots.txt Disallow and Crawl-delay, an X-Robots-Tag page and a meta-robots page. The
crawler reaches them through ``--resolve HOST=127.0.0.1:PORT`` in resolve-only mode, so
no DNS query or packet leaves the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

from linkgraph.errors import UsageError

DEMO_WEB_ENV = "LINKGRAPH_DEMO_WEB"


def demo_web_root() -> Path:
    """The bundled demo web: ``data/demo-web`` of the source tree (or $LINKGRAPH_DEMO_WEB)."""
    root = Path(os.environ.get(DEMO_WEB_ENV) or Path(__file__).resolve().parents[2] / "data" / "demo-web")
    if not (root / "seeds.txt").is_file():
        raise UsageError(f"demo web not found at {root}: run from a linkgraph source "
                         f"checkout (pip install -e .) or set {DEMO_WEB_ENV}")
    return root


#: Where ``linkgraph demo`` writes, relative to the folder it runs in.
DEMO_OUTPUT = "linkgraph-demo"
CRAWL_DIR_ENV = "LINKGRAPH_CRAWL_DIR"


def default_crawl_dir() -> Path:
    """The crawl folder a notebook reads: ``$LINKGRAPH_CRAWL_DIR``, else the demo's folder
    in the current folder, else in the source checkout's root (where ``linkgraph demo``
    is usually run), so a notebook works from the repository root and from
    ``notebooks/`` alike."""
    if os.environ.get(CRAWL_DIR_ENV):
        return Path(os.environ[CRAWL_DIR_ENV])
    candidates = [Path.cwd() / DEMO_OUTPUT, Path(__file__).resolve().parents[2] / DEMO_OUTPUT]
    for candidate in candidates:
        if (candidate / "links").is_dir():
            return candidate
    raise UsageError(f"no crawl folder: set {CRAWL_DIR_ENV}=DIR, or run `linkgraph demo` "
                     f"(it writes {candidates[-1]})")
