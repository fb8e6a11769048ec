"""Subcommands of the ``linkgraph`` CLI, one module each (see ``linkgraph/cli.py``)."""

from __future__ import annotations

import argparse
import logging


def progress_logging(quiet: bool) -> None:
    """Progress lines on stderr for a long command (warnings only with ``quiet``)."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")


def whole_number(minimum: int = 0):
    """An argparse ``type``: a whole number (``_`` separators allowed) >= ``minimum``."""
    def parse(text: str) -> int:
        if not text.replace("_", "").isdigit() or int(text) < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a whole number >= {minimum}, got {text!r}")
        return int(text)
    return parse
