"""``scrapy crawl links``: the setup check of ``linkgraph crawl`` first, then Scrapy's crawl.

Scrapy builds the spider, then its components, inside the reactor: a bad seed or setting
found there is a log line (or a traceback) and exit code 0, after the crawl folder was
opened. Here the same :func:`linkgraph.crawl.run.preflight` runs before anything starts:
one ``linkgraph: error:`` line and exit code 2, nothing written.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from linkgraph.errors import UsageError

if TYPE_CHECKING:
    import argparse

    from scrapy.crawler import Crawler
    from scrapy.spiders import Spider


class Command(ScrapyCrawlCommand):
    _crawler: Crawler | None = None

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        self._crawler = super()._create_crawler(spidercls)
        return self._crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        from linkgraph.crawl.run import preflight
        from linkgraph.crawl.seeds import split_seed_arg
        from linkgraph.storage.crawl_dir import CrawlFinished

        if args != ["links"]:
            super().run(args, opts)
            return
        try:
            preflight(split_seed_arg(opts.spargs.get("seeds")), self.settings)
        except CrawlFinished as done:
            print(f"linkgraph: {done}", file=sys.stderr)
            return
        except UsageError as exc:
            print(f"linkgraph: error: {exc}", file=sys.stderr)
            self.exitcode = 2
            return
        super().run(args, opts)
        # A setup error the spider met itself (the folder changed since the check).
        stats = self._crawler.stats if self._crawler is not None else None
        if stats is not None and stats.get_value("linkgraph/setup_error"):
            self.exitcode = 2
