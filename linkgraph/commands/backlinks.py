"""``linkgraph backlinks DIR TARGET``: the links into a page, host or domain."""

from __future__ import annotations

import argparse

from linkgraph.errors import UsageError

#: linkgraph.analysis.backlinks.VIEWS (not imported: registering stays cheap; a test
#: checks they agree).
VIEWS = ("link", "domain", "anchor", "page")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from linkgraph.analysis.output import add_output_arguments

    parser = subparsers.add_parser(
        "backlinks", help="backlinks of a URL, host or domain (by link, domain, anchor, page)",
        description="Backlinks of TARGET in the crawl folder DIR: a URL (that page), a host "
                    "(all its pages) or a registered domain (all its hosts). Only external "
                    "links count unless --include-internal. A referring domain is another "
                    "registered domain with at least one link to TARGET, followed or not.")
    parser.add_argument("folder", metavar="DIR", help="the crawl's output folder")
    parser.add_argument("target", metavar="TARGET", help="a URL, a host or a registered domain")
    parser.add_argument("--by", choices=VIEWS, default=None,
                        help="link (one row per backlink, the default), domain (referring "
                             "domains), anchor (anchor texts) or page (the target's pages)")
    parser.add_argument("--include-internal", action="store_true",
                        help="also count links from TARGET's own registered domain")
    parser.add_argument("--follow-only", action="store_true",
                        help="count followed links only (no nofollow, sponsored or ugc)")
    parser.add_argument("--broken", action="store_true",
                        help="only backlinks whose target answered 4xx/5xx or failed")
    parser.add_argument("--gap", nargs="+", metavar="COMPETITOR",
                        help="referring domains that link to at least one COMPETITOR (URL, "
                             "host or domain) and not to TARGET")
    add_output_arguments(parser, top=100)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from linkgraph.analysis.backlinks import backlinks, link_gap, totals
    from linkgraph.analysis.crawl_views import open_views
    from linkgraph.analysis.output import write_result
    from linkgraph.analysis.target import parse_target

    target = parse_target(args.target)
    views = open_views(args.folder, reader="backlinks")
    if args.gap:
        if args.by or args.broken or args.include_internal:
            raise UsageError("--gap lists referring domains: it does not combine with "
                             "--by, --broken or --include-internal")
        table = link_gap(views, target, args.gap, follow_only=args.follow_only, top=args.top)
        summary = [f"Referring domains that link to {', '.join(args.gap)} and not to "
                   f"{target}: {table.num_rows}" + _shown(args.top, table.num_rows)]
    else:
        by = args.by or "link"
        filters = dict(include_internal=args.include_internal, follow_only=args.follow_only,
                       broken=args.broken)
        table = backlinks(views, target, by, top=args.top, **filters)
        links, domains, followed = totals(views, target, **filters)
        summary = [f"{target}: {_count(links, 'backlink')} from "
                   f"{_count(domains, 'referring domain')} ({followed} with followed links); "
                   f"by {by}"
                   + _shown(args.top, table.num_rows)]
    write_result(table, args.format, args.output, summary=summary)
    return 0


def _shown(top: int, rows: int) -> str:
    return f" (first {rows} rows; --top 0 for all)" if top and rows == top else ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
