"""``linkgraph audit DIR``: the crawl's link problems, one row per finding."""

from __future__ import annotations

import argparse

from linkgraph.analysis.output import add_output_arguments
from linkgraph.commands import whole_number


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit", help="link problems of a crawl: broken links, redirect chains, canonicals, ...",
        description="One row per finding (check, severity, url, src_url, dst_url, "
                    "final_url, detail), after a count by check on a terminal. Checks: "
                    "broken_link, redirect_chain, redirect_loop, canonical_broken, "
                    "canonical_chain, hreflang_no_return, hreflang_broken, orphan_page, "
                    "nofollow_only_inlinks, nofollow_internal, deep_page, too_many_links, "
                    "mixed_content (the README says what each means and how to fix it).")
    parser.add_argument("folder", metavar="DIR", help="the crawl's output folder")
    parser.add_argument("--site", metavar="HOST_OR_DOMAIN",
                        help="only findings about pages of this host or registered domain")
    parser.add_argument("--check", action="append", metavar="NAME", dest="checks",
                        help="run only this check (repeatable; default: all)")
    parser.add_argument("--max-clicks", type=whole_number(), default=3, metavar="N",
                        help="deep_page: more clicks than N from the home page (default 3)")
    parser.add_argument("--max-links", type=whole_number(), default=300, metavar="N",
                        help="too_many_links: more links than N on a page (default 300)")
    add_output_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from linkgraph.analysis.audit import AuditOptions, audit, summary
    from linkgraph.analysis.output import format_table, write_result

    findings = audit(args.folder, AuditOptions(args.max_clicks, args.max_links, args.site),
                     args.checks)
    counts = summary(findings)
    if args.checks:
        counts = counts.filter([c in args.checks for c in counts.column("check").to_pylist()])
    lines = [f"{findings.num_rows} findings in {args.folder}", *format_table(counts).splitlines()]
    write_result(findings, args.format, args.output, summary=lines)
    return 0
