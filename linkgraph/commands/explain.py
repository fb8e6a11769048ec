"""``linkgraph explain DIR URL``: the in-links that make a page's PageRank, with shares."""

from __future__ import annotations

import argparse

from linkgraph.analysis.output import add_output_arguments


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain", help="why a page has its PageRank: its in-links, each with its share",
        description="List the in-links that give URL its PageRank on the graph `linkgraph "
                    "score` used (its link rules applied), each with its contribution "
                    "alpha*PR(u)*w(u,v)/W(u), beside the teleport and dangling terms: the "
                    "rows add up to PR(URL). DIR must have been scored.")
    parser.add_argument("dir", metavar="DIR", help="a scored crawl folder")
    parser.add_argument("url", metavar="URL", help="the page to explain")
    parser.add_argument("--by", choices=("link", "domain"), default="link",
                        help="one row per in-link (default) or per linking domain (the page's "
                             "own included)")
    add_output_arguments(parser, top=50)
    # The graph's arrays are freed by the exit, not one by one (see linkgraph.cli).
    parser.set_defaults(run=run, fast_exit=True, lean_imports=True)


def run(args: argparse.Namespace) -> int:
    from linkgraph.analysis.explain import explain_page
    from linkgraph.analysis.output import write_result

    result = explain_page(args.dir, args.url, by=args.by, top=args.top)
    write_result(result.table, args.format, args.output, summary=result.summary)
    return 0
