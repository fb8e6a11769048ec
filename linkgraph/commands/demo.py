"""``linkgraph demo``: crawl the bundled offline web, score it, print what was found."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from linkgraph.demo import DEMO_OUTPUT


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="crawl and score the bundled offline demo web",
        description="Serve data/demo-web on 127.0.0.1, crawl it with --resolve, score it "
                    "(PageRank, HITS, TrustRank from data/demo-web/trusted.txt) and print a report. The output folder is replaced on every run.")
    parser.add_argument("-o", "--output", default=DEMO_OUTPUT, metavar="DIR",
                        help="output folder (default: ./linkgraph-demo)")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                        dest="settings", help="any Scrapy or LINKGRAPH_ setting (repeatable)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that registering the subcommand stays cheap (see commands/crawl.py).
    from linkgraph.commands.crawl import INTERRUPTED_EXIT
    from linkgraph.crawl.run import CrawlRequest, interruption, parse_setting_args, run_crawl
    from linkgraph.demo import demo_web_root
    from linkgraph.demo.localweb import LocalWeb
    from linkgraph.analysis.backlinks import backlinks, totals
    from linkgraph.analysis.output import format_table
    from linkgraph.analysis.explain import explain_page
    from linkgraph.analysis.summary import crawl_report, diff_report, scores_report
    from linkgraph.demo.changed_web import crawl_changed_web
    from linkgraph.errors import UsageError
    from linkgraph.scoring import ScoreOptions, score_crawl
    from linkgraph.scoring.trust import read_trusted

    root = demo_web_root()
    settings = {"LINKGRAPH_RESOLVE_ONLY": True, "LINKGRAPH_PROGRESS_INTERVAL": 2.0,
                **parse_setting_args(args.settings)}
    with LocalWeb(str(root)) as server:
        print(f"Serving {len(server.hosts())} demo sites on 127.0.0.1:{server.port}: "
              f"{', '.join(server.hosts())}")
        stats = run_crawl(CrawlRequest(seeds=[str(root / "seeds.txt")], output=args.output,
                                       resolve=server.resolve_entries(), fresh=True,
                                       settings=settings))
    notice = interruption(stats)
    if notice is not None:
        # A report of part of the demo web would read as what the demo finds.
        print(f"linkgraph demo: {notice}: no report of a partial crawl; run linkgraph "
              "demo again", file=sys.stderr)
        return INTERRUPTED_EXIT
    after = args.output.rstrip("/") + "-after"
    # The second crawl shows the distributed crawl: two workers sharing a private Redis
    # (when redis-server is installed; scripts/setup.sh installs it).
    workers = 2 if shutil.which("redis-server") else 1
    with crawl_changed_web(root, after, settings, workers) as (changes, child):
        print()
        print(crawl_report(args.output))
        # TrustRank from the demo's trusted site: the cheap-seeds link farm gets PageRank
        # from its own pages, but no trust.
        options = ScoreOptions(trusted=read_trusted(str(root / "trusted.txt")))
        paths = score_crawl(args.output, options)
        print()
        print(scores_report(os.path.dirname(paths.pages)))
        # One analysis view: who links to the demo's shop (the same rows as
        # `linkgraph backlinks DIR northwind-gardens.com --by domain`).
        site = "northwind-gardens.com"
        links, domains, followed = totals(args.output, site)
        print(f"\nReferring domains of {site}: {links} backlinks from {domains} other "
              f"domains ({followed} with followed links); more: linkgraph backlinks "
              f"{args.output} {site} --by link|domain|anchor|page")
        print(format_table(backlinks(args.output, site, "domain")))
        # Why the link farm ranks: the terms of its front page's PageRank.
        farm = "http://www.cheap-seeds-deals.biz/"
        why = explain_page(args.output, farm)
        print(f"\nWhy {farm} ranks (more: linkgraph explain {args.output} URL "
              "[--by domain]):")
        print("\n".join(f"  {line}" for line in why.summary))
        print(format_table(why.table))
        _, errors = child.communicate()
    if child.returncode != 0:
        raise UsageError("the demo's second crawl failed: "
                         f"{(errors.strip().splitlines() or ['?'])[-1]}")
    how = (f"by {workers} workers sharing a private Redis frontier, merged into {after}"
           if workers > 1 else f"into {after}")
    print(f"\nThe demo web changed, crawled again ({how}):")
    print("\n".join(f"  {change}" for change in changes))
    print(diff_report(args.output, after, "northwind-gardens.com"))
    _audit_and_report(args.output)
    print(f"\nData: {args.output}/links, {args.output}/pages, {os.path.dirname(paths.pages)}/"
          f"{{pages,hosts,domains}}.parquet; the changed web's crawl: {after}/")
    return 0


def _audit_and_report(folder: str) -> None:
    """The audit's count of findings by check, and the HTML report's path."""
    import pyarrow.compute as pc

    from linkgraph.analysis.audit import audit, summary
    from linkgraph.analysis.output import format_table
    from linkgraph.analysis.report import write_report

    findings = audit(folder)
    counts = summary(findings)
    print(f"\nAudit: {findings.num_rows} findings (each one: linkgraph audit {folder})")
    print(format_table(counts.filter(pc.greater(counts.column("findings"), 0))))
    report = os.path.join(folder, "report.html")
    size = write_report(folder, report)
    print(f"\nReport: {report} ({size / 1e6:.1f} MB; open it in a browser, it needs no network)")
