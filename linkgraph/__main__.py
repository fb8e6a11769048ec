from __future__ import annotations

from linkgraph.cli import run

run()
