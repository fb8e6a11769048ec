"""``linkgraph verify DIR``: check a crawl folder and say clearly what is wrong."""

from __future__ import annotations

import argparse
import os

from linkgraph.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="check a crawl folder (parts readable, schemas, counts)",
        description="Check a crawl folder: manifest, every part readable with the known "
                    "schema, each batch's nodes, links and pages parts together, no "
                    "leftovers, no duplicate page rows, node ids dense and matching "
                    "their URL keys. Exit 0 when OK, 1 when problems are found.")
    parser.add_argument("folder", metavar="DIR", help="the crawl's output folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not os.path.exists(args.folder):
        raise UsageError(f"{args.folder} does not exist")
    from linkgraph.storage.verify import verify  # pyarrow: only when verifying

    report = verify(args.folder)
    print(report.summary())
    for problem in report.problems:
        print(f"  problem: {problem}")
    for warning in report.warnings:
        print(f"  WARNING: {warning}")
    for note in report.notes:
        print(f"  note: {note}")
    return 0 if report.ok else 1
