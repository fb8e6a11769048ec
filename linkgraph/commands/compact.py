"""``linkgraph compact DIR``: merge a crawl folder's small part files into a few large ones."""

from __future__ import annotations

import argparse
import os

from linkgraph import settings
from linkgraph.commands import progress_logging, whole_number
from linkgraph.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compact", help="merge a crawl folder's part files into a few large ones",
        description="Merge runs of a crawl folder's nodes/links/pages part triples (one per "
                    "batch of pages) into merged triples of about --rows rows, the same rows "
                    "in the same order; crash-safe at any moment. First removes what a "
                    "killed crawl or compaction left. Refuses a folder that a crawl is "
                    "writing. A crawl that finishes does this by itself (LINKGRAPH_COMPACT).")
    parser.add_argument("folder", metavar="DIR", help="the crawl's output folder")
    parser.add_argument("--rows", type=whole_number(1), default=settings.LINKGRAPH_COMPACT_ROWS,
                        metavar="N", help="rows of a merged part (of its largest dataset, "
                                          f"links; default {settings.LINKGRAPH_COMPACT_ROWS})")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when OK")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not os.path.exists(args.folder):
        raise UsageError(f"{args.folder} does not exist")
    progress_logging(args.quiet)
    # pyarrow only when compacting: `linkgraph --help` stays fast.
    from linkgraph.storage.crawl_dir import CrawlDir

    crawl_dir = CrawlDir.attach(args.folder)
    try:
        report = crawl_dir.compact(args.rows)
    finally:
        crawl_dir.close()
    if not args.quiet:
        if report.recovered:
            print(f"removed {report.recovered} leftover file(s) of an interrupted crawl or "
                  "compaction")
        print(report.summary())
    return 0
