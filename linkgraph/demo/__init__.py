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
