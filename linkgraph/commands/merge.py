"""``linkgraph merge DIR... -o OUT``: make the folders of one crawl's workers one crawl folder."""

from __future__ import annotations

import argparse

from linkgraph.commands import progress_logging


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge", help="merge the crawl folders of one crawl's workers into one",
        description="Merge crawl folders that workers of one crawl wrote apart (same crawl "
                    "id, seeds and scope) into the new crawl folder OUT: one dense node id "
                    "space, each URL's page once (the earliest fetch; the other copies' "
                    "pages and links rows dropped and counted), sitemaps rows once. The "
                    "inputs are not changed. A killed merge leaves OUT saying 'merging': "
                    "delete it and merge again.")
    parser.add_argument("inputs", nargs="+", metavar="DIR", help="a worker's crawl folder")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="the merged crawl folder (new, or an empty folder)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when OK")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    progress_logging(args.quiet)
    # pyarrow only when merging: `linkgraph --help` stays fast.
    from linkgraph.storage.merge import merge

    report = merge(args.inputs, args.output)
    if not args.quiet:
        print(report.summary())
    return 0
