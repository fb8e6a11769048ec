"""Subcommands of the ``linkgraph`` CLI, one module each (see ``linkgraph/cli.py``)."""

from __future__ import annotations

import logging


def progress_logging(quiet: bool) -> None:
    """Progress lines on stderr for a long command (warnings only with ``quiet``)."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
