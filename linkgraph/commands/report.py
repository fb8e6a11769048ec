"""``linkgraph report DIR -o report.html``: one self-contained HTML page about a crawl."""

from __future__ import annotations

import argparse
import os

from linkgraph.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="write one self-contained HTML page with charts about a crawl",
        description="Write one HTML file, scripts, styles and data inline (it makes no "
                    "network request when opened): the crawl at a glance, authority (when "
                    "scored), backlinks of each crawled site, the audit's findings and a "
                    "picture of the host graph. Charts are Vega-Lite (Altair); tables sort "
                    "on a click.")
    parser.add_argument("folder", metavar="DIR", help="the crawl's output folder")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="the HTML file to write (default DIR/report.html)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not os.path.isdir(args.folder):
        raise UsageError(f"{args.folder} is not a folder (expected a crawl folder)")
    output = args.output or os.path.join(args.folder, "report.html")
    if os.path.isdir(output):
        raise UsageError(f"{output} is a folder: give the HTML file's name")
    from linkgraph.analysis.report import write_report

    size = write_report(args.folder, output)
    print(f"{output}: {size / 1e6:.1f} MB (open it in a browser; it needs no network)")
    return 0
