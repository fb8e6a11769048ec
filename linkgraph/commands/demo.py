"""``linkgraph demo``: crawl the bundled offline web, score it, print what was found."""

from __future__ import annotations

import argparse

from linkgraph.crawl import CrawlRequest, parse_setting_args, run_crawl
from linkgraph.demo import demo_web_root
from linkgraph.localweb import LocalWeb
from linkgraph.report import crawl_report


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="crawl and score the bundled offline demo web",
        description="Serve data/demo-web on 127.0.0.1, crawl it with --resolve, score it "
                    "and print a report. The output folder is replaced on every run.")
    parser.add_argument("-o", "--output", default="linkgraph-demo", metavar="DIR",
                        help="output folder (default: ./linkgraph-demo)")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                        dest="settings", help="any Scrapy or LINKGRAPH_ setting (repeatable)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    root = demo_web_root()
    settings = {"LINKGRAPH_RESOLVE_ONLY": True, "LINKGRAPH_PROGRESS_INTERVAL": 2.0,
                **parse_setting_args(args.settings)}
    with LocalWeb(str(root)) as server:
        print(f"Serving {len(server.hosts())} demo sites on 127.0.0.1:{server.port}: "
              f"{', '.join(server.hosts())}")
        run_crawl(CrawlRequest(seeds=[str(root / "seeds.txt")], output=args.output,
                               resolve=server.resolve_entries(), fresh=True, settings=settings))
    print()
    print(crawl_report(args.output))
    return 0
