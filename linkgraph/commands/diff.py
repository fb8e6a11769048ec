"""``linkgraph diff OLD NEW``: what changed between two crawls, link by link."""

from __future__ import annotations

import argparse

from linkgraph.analysis.output import add_output_arguments


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff", help="links new, lost and changed between two crawls, with reasons",
        description="Compare two crawl folders of the same web link by link: one row per "
                    "new, lost or changed link, with the reason (link_removed, page_gone, "
                    "page_error, page_redirected, links_truncated, page_not_crawled; "
                    "target_broken, became_nofollow, ... anchor_changed). A table prints "
                    "the counts and referring domains won and lost first; --summary "
                    "prints the referring domains and (when both crawls are scored) the "
                    "pages and domains whose authority moved most instead of the links.")
    parser.add_argument("old", metavar="OLD", help="the earlier crawl folder")
    parser.add_argument("new", metavar="NEW", help="the later crawl folder")
    parser.add_argument("--target", metavar="TARGET",
                        help="only the links to this URL, host or registered domain "
                             "(its backlinks)")
    parser.add_argument("--include-internal", action="store_true",
                        help="with --target, also the links from the target's own domain")
    parser.add_argument("--summary", action="store_true",
                        help="print the summary rows instead of the changed links")
    add_output_arguments(parser, top=0)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that registering the subcommand stays cheap (see commands/crawl.py).
    from linkgraph.analysis.diff import diff_crawls, diff_summary, open_pair
    from linkgraph.analysis.output import write_result
    from linkgraph.analysis.target import parse_target

    from linkgraph.scoring._memory import lean_memory

    target = parse_target(args.target) if args.target else None
    # Arrow's system pool for the whole command, as for the scorer: the default pool
    # purged and re-faulted what it freed (see linkgraph/scoring/_memory.py).
    with lean_memory():
        pair = open_pair(args.old, args.new)
        rows = diff_crawls(pair, target=target, include_internal=args.include_internal)
        summary = diff_summary(pair, rows, target, include_internal=args.include_internal,
                               top=10 if args.summary and not args.top else args.top)
        result = summary.table if args.summary else (rows.slice(0, args.top) if args.top
                                                     else rows)
        write_result(result, args.format, args.output, summary=summary.lines)
    return 0
