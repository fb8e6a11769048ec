"""``linkgraph export DIR --format F --level L -o PATH``: the crawl's graph for other tools."""

from __future__ import annotations

import argparse
import os

from linkgraph.commands import progress_logging
from linkgraph.errors import UsageError

FORMATS = ("graphml", "gexf", "csv", "cc-webgraph")
LEVELS = ("page", "host", "domain")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write the crawl's graph as GraphML, GEXF, CSV or Common Crawl webgraph",
        description="Write the graph that `score` scores (its link rules applied, "
                    "self-links dropped) at page, host or domain level: edges weighted by "
                    "the link rows behind them, the score tables' columns as node "
                    "attributes when DIR is scored. graphml/gexf write one file (networkx, "
                    "Gephi, graph-tool); csv writes a folder with nodes.csv (Id, Label, ...) "
                    "and edges.csv (Source, Target, Weight); cc-webgraph writes a folder "
                    "with vertices.txt.gz (id, reversed host name) and edges.txt.gz, "
                    "Common Crawl's webgraph text format (host or domain level).")
    parser.add_argument("folder", metavar="DIR", help="the crawl's output folder")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    parser.add_argument("--level", default="page", choices=LEVELS,
                        help="nodes are pages (URLs), hosts or registered domains "
                             "(default page)")
    parser.add_argument("-o", "--output", required=True, metavar="PATH",
                        help="the file (graphml, gexf) or folder (csv, cc-webgraph) to write")
    parser.add_argument("--force", action="store_true",
                        help="write GraphML/GEXF larger than Gephi opens well")
    parser.add_argument("--partial", action="store_true",
                        help="export a damaged crawl folder's whole batches")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not os.path.isdir(args.folder):
        raise UsageError(f"{args.folder} is not a folder (expected a crawl folder)")
    progress_logging(args.quiet)
    from linkgraph.analysis.export import export_graph

    graph = export_graph(args.folder, args.fmt, args.output, args.level, force=args.force,
                         partial=args.partial)
    print(f"{args.output}: {graph.level} graph, {graph.n:,} nodes, {graph.m:,} edges "
          f"({args.fmt})")
    return 0
