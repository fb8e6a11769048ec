"""``linkgraph crawl SEED... -o DIR``: crawl and write the link graph as Parquet."""

from __future__ import annotations

import argparse
import sys

from typing import TYPE_CHECKING

from linkgraph import settings as project_settings

if TYPE_CHECKING:
    from linkgraph.crawl.run import CrawlRequest

# Scrapy and pyarrow are imported when a command runs, not when the CLI parses its
# arguments: every subcommand is registered at start-up, and `linkgraph score` or
# `--help` should not pay ~0.4 s for Scrapy.


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def add_crawl_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-depth", type=_count, metavar="N",
                        help="follow links at most N clicks from a seed (seeds are 0)")
    parser.add_argument("--max-pages", type=_count, metavar="N",
                        help="fetch at most N pages (each redirect hop counts)")
    parser.add_argument("--allow", action="append", default=[], metavar="HOST_OR_DOMAIN",
                        help="fetch pages of this host or domain (repeatable; default: the "
                             "seeds' registered domains). Links elsewhere are recorded, not fetched")
    parser.add_argument("--resolve", action="append", default=[], metavar="HOST=IP[:PORT]",
                        help="reach HOST at IP (and PORT, http only) without DNS, like curl (repeatable)")
    parser.add_argument("--allow-private", action="store_true",
                        help="also fetch loopback, private, link-local and multicast addresses "
                             "(off: only a seed's own address is; other links there are "
                             "recorded, not fetched)")
    parser.add_argument("--allow-address", action="append", default=[], metavar="CIDR",
                        help="also fetch this non-public network or address, e.g. 10.0.0.0/8 "
                             "(repeatable)")
    parser.add_argument("--render", choices=("never", "auto", "always"), metavar="never|auto|always",
                        help="render pages in Chromium: never (default), auto (when the raw "
                             "HTML looks script-built) or always")
    parser.add_argument("--render-pattern", metavar="REGEX",
                        help="render only URLs this regex matches")
    parser.add_argument("--render-wait-selector", metavar="CSS",
                        help="when rendering, also wait for this CSS selector (within the idle cap)")
    parser.add_argument("--warc", metavar="DIR",
                        help="also write every page response as WARC records to DIR "
                             f"(rotated at {project_settings.LINKGRAPH_WARC_ROTATE_MB} MB; linkgraph "
                             "warc reads them back)")
    parser.add_argument("--no-sitemaps", action="store_false", dest="sitemaps",
                        help="do not read the hosts' sitemaps (robots.txt Sitemap: lines, "
                             "/sitemap.xml); by default every URL they list is recorded in "
                             "DIR/sitemaps and the in-scope ones are fetched")
    parser.add_argument("--fresh", action="store_true",
                        help="replace the crawl in the output folder instead of continuing it")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                        dest="settings", help="any Scrapy or LINKGRAPH_ setting (repeatable)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="log warnings and errors only")


def request_from_args(args: argparse.Namespace, seeds: list[str], output: str) -> CrawlRequest:
    from linkgraph.crawl.run import CrawlRequest, parse_setting_args

    settings = parse_setting_args(args.settings)
    if args.quiet:
        settings.setdefault("LOG_LEVEL", "WARNING")
    if not getattr(args, "sitemaps", True):
        settings.setdefault("LINKGRAPH_SITEMAPS", "False")
    for option, name in (("render", "LINKGRAPH_RENDER"), ("render_pattern", "LINKGRAPH_RENDER_PATTERN"),
                         ("render_wait_selector", "LINKGRAPH_RENDER_WAIT_SELECTOR"),
                         ("warc", "LINKGRAPH_WARC_DIR")):
        if getattr(args, option, None) is not None:
            settings.setdefault(name, getattr(args, option))
    return CrawlRequest(seeds=seeds, output=output, max_depth=args.max_depth,
                        max_pages=args.max_pages, allow=args.allow, resolve=args.resolve,
                        fresh=args.fresh, allow_private=args.allow_private,
                        allow_address=args.allow_address,
                        settings=settings)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "crawl", help="crawl from seed URLs and write links/pages Parquet",
        description="Crawl from seed URLs; write DIR/links and DIR/pages Parquet datasets.")
    parser.add_argument("seeds", nargs="+", metavar="SEED",
                        help="a URL, or a text file of URLs (one a line, # comments)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="output folder (created; an unfinished crawl there is resumed)")
    add_crawl_options(parser)
    parser.add_argument("--frontier", metavar="redis://HOST:PORT/DB",
                        help="be one worker of a distributed crawl whose frontier is in this "
                             "Redis database: run the same command on more processes or "
                             "machines to add workers")
    parser.add_argument("--workers", type=_positive, default=1, metavar="N",
                        help="run N worker processes on this machine (default 1: one "
                             "process, no Redis); without --frontier a private redis-server "
                             "is started and stopped")
    parser.set_defaults(run=run, lean_imports=True)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


#: Exit code of a crawl stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED_EXIT = 130


def run(args: argparse.Namespace) -> int:
    from linkgraph.crawl.run import interruption, run_crawl
    from linkgraph.storage.crawl_dir import CrawlFinished

    if args.workers > 1:
        return _run_workers(args)
    try:
        stats = run_crawl(_request(args))
    except CrawlFinished as done:
        print(f"linkgraph: {done}", file=sys.stderr)
        return 0
    if stats.get("linkgraph/write_error"):
        return 1  # said in one line by the pipeline; the folder says interrupted
    notice = interruption(stats)
    if notice is not None:
        print(f"linkgraph: {notice} committed to {args.output} in this session; run the "
              "same command again to continue it", file=sys.stderr)
        return INTERRUPTED_EXIT
    failed = nothing_fetched(stats)
    if failed is not None:
        print(f"linkgraph: error: {failed}", file=sys.stderr)
        return 1
    reason = stats.get("finish_reason")
    return 0 if reason in ("finished", None) else 1


def _request(args: argparse.Namespace, frontier: str | None = None) -> CrawlRequest:
    request = request_from_args(args, args.seeds, args.output)
    frontier = frontier or args.frontier
    if frontier:
        request.settings["LINKGRAPH_FRONTIER"] = frontier  # type: ignore[index]
    return request


def _run_workers(args: argparse.Namespace) -> int:
    from linkgraph.crawl.distributed.workers import run_workers
    from linkgraph.crawl.run import build_settings, preflight
    from linkgraph.storage.crawl_dir import CrawlFinished

    def check(frontier: str) -> None:
        request = _request(args, frontier)
        preflight(request.seeds, build_settings(request))

    try:
        code = run_workers(sys.argv[1:], args.workers, args.frontier, check)
        # The workers wrote and committed everything; the launcher holds only the
        # crawl's modules, which its teardown would free one by one (~0.1 s).
        args.fast_exit = True
    except CrawlFinished as done:
        print(f"linkgraph: {done}", file=sys.stderr)
        return 0
    if code == 0:
        print(f"linkgraph: the {args.workers} workers finished; {args.output} holds the "
              "crawl", file=sys.stderr)
    return code


def nothing_fetched(stats: dict) -> str | None:
    """One line when the session tried pages and got not one response (every seed
    unreachable, refused by robots.txt, ...), else None: such a crawl did not work."""
    errors = stats.get("linkgraph/errors", 0)
    if stats.get("linkgraph/pages", 0) or not errors:
        return None
    kinds = sorted((key.rsplit("/", 1)[1], n) for key, n in stats.items()
                   if key.startswith("linkgraph/errors/"))
    return (f"no page could be fetched: {errors} request(s) failed ("
            + ", ".join(f"{kind} {n}" for kind, n in kinds)
            + "); the pages rows and the log say why for each URL")
