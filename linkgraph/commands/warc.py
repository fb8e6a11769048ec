"""``linkgraph warc``: web archives (WARC files) into a crawl folder."""

from __future__ import annotations

import argparse

from linkgraph.commands import progress_logging


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "warc", help="read WARC files into a crawl folder (pages, links, nodes)",
        description="Turn the HTTP responses of WARC files (gzipped or not; files or "
                    "folders of them) into the pages, links and nodes datasets a crawl "
                    "writes, through the crawl's own extractor. Running the same command "
                    "again after an interruption continues it.")
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_FOLDER",
                        help="*.warc / *.warc.gz files, or folders searched for them")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="crawl folder")
    parser.add_argument("--processes", type=int, default=None, metavar="N",
                        help="files read at once, one process each (default: the cores)")
    parser.add_argument("--fresh", action="store_true",
                        help="replace whatever the folder holds")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from linkgraph.archive.ingest import ingest
    from linkgraph.errors import UsageError

    if args.processes is not None and args.processes < 1:
        raise UsageError("--processes must be at least 1")
    progress_logging(args.quiet)
    report = ingest(args.inputs, args.output, processes=args.processes, fresh=args.fresh)
    print(report.summary())
    return 0
