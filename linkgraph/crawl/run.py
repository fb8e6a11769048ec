"""Run a crawl from Python: what ``linkgraph crawl`` does, as a library call."""

from __future__ import annotations

import logging
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from twisted.python.failure import Failure

from linkgraph.crawl.config import check_settings
from linkgraph.crawl.proxies import check_reachable
from linkgraph.errors import SETUP_ERROR_LOG, UsageError
from linkgraph.crawl.scope import Scope
from linkgraph.crawl.seeds import load_seeds
from linkgraph.storage import crawl_dir

logger = logging.getLogger(__name__)


@dataclass
class CrawlRequest:
    """What to crawl and where to write it (the ``linkgraph crawl`` arguments)."""

    seeds: Sequence[str]
    output: str
    max_depth: int | None = None
    max_pages: int | None = None
    allow: Sequence[str] = ()
    resolve: Sequence[str] = ()
    fresh: bool = False
    allow_private: bool = False
    allow_address: Sequence[str] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)


def parse_setting_args(pairs: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings (``-s``) to a dict; UsageError on a malformed one."""
    result = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"-s takes NAME=VALUE, got {pair!r}")
        result[name.strip()] = value
    return result


def build_settings(request: CrawlRequest) -> Settings:
    """Project settings, then the request's options, then its ``-s`` overrides."""
    settings = Settings()
    settings.setmodule("linkgraph.settings", priority="project")
    options: dict[str, Any] = {"LINKGRAPH_OUTPUT": request.output,
                               "LINKGRAPH_FRESH": request.fresh}
    if request.max_depth is not None:
        options["LINKGRAPH_MAX_DEPTH"] = request.max_depth
    if request.max_pages is not None:
        options["LINKGRAPH_MAX_PAGES"] = request.max_pages
    if request.allow:
        options["LINKGRAPH_ALLOW"] = list(request.allow)
    if request.resolve:
        options["LINKGRAPH_RESOLVE"] = list(request.resolve)
    if request.allow_private:
        options["LINKGRAPH_ALLOW_PRIVATE"] = True
    if request.allow_address:
        options["LINKGRAPH_ALLOW_ADDRESS"] = list(request.allow_address)
    settings.setdict(options, priority="cmdline")
    settings.setdict(dict(request.settings), priority="cmdline")
    return settings


def preflight(seed_specs: Sequence[str], settings: Settings) -> list[str]:
    """Check everything a user can get wrong before Scrapy starts; return the seeds.

    Nothing is written: ``linkgraph crawl`` and ``scrapy crawl links`` run this before
    the crawl folder is created or its manifest touched. Raises :class:`UsageError`
    (or :class:`linkgraph.storage.crawl_dir.CrawlFinished`).
    """
    seeds = load_seeds(seed_specs)
    # The same check the crawl's components run, so every bad value fails here.
    config = check_settings(settings)
    scope = Scope.for_seeds(seeds, config.allow)
    if config.frontier:
        _check_distributed(config.frontier, config.output, seeds, list(scope.allow), settings)
    else:
        crawl_dir.check(config.output, seeds, list(scope.allow), fresh=config.fresh)
    if settings.getbool("HTTPPROXY_ENABLED"):
        check_reachable(seeds)
    return seeds


def _check_distributed(frontier: str, output: str, seeds: list[str], allow: list[str],
                       settings: Settings) -> None:
    """A worker's checks: its output folder, a reachable Redis of this crawl (or empty)."""
    from linkgraph.crawl.distributed import folders
    from linkgraph.crawl.distributed.redis_frontier import check_identity, connect
    from linkgraph.crawl.distributed.work import crawl_identity

    folders.check_output(output, seeds, allow)
    client = connect(frontier)
    try:
        check_identity(client, frontier, crawl_identity(settings, seeds, allow))
    finally:
        client.close()


def _drop_setup_error(record: logging.LogRecord) -> bool:
    return not any(getattr(record, key, False) for key in SETUP_ERROR_LOG)


def run_crawl(request: CrawlRequest) -> dict[str, Any]:
    """Crawl in this process (starts the Twisted reactor: once per process).

    Returns the crawl's final Scrapy stats.
    """
    settings = build_settings(request)
    seeds = preflight(request.seeds, settings)
    from linkgraph.spiders.links import LinksSpider

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(LinksSpider)
    crawling = process.crawl(crawler, seeds=seeds)
    # A Ctrl-C before the reactor installs its signal handlers lands in the crawl's
    # start-up (a Deferred): raised again below, it ends as "linkgraph: interrupted".
    startup_interrupt: list[Failure] = []
    crawling.addErrback(lambda failure: startup_interrupt.append(failure)
                        if failure.check(KeyboardInterrupt) else failure)
    # The setup error is raised below; logged as well, it would be said twice.
    handlers = logging.getLogger().handlers
    for handler in handlers:
        handler.addFilter(_drop_setup_error)
    handled = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        process.start()
    finally:
        for handler in handlers:
            handler.removeFilter(_drop_setup_error)
        # Scrapy's handlers stay installed and would swallow a Ctrl-C from now on
        # (the demo scores after its crawl): Python's own take over again.
        for sig, previous in handled.items():
            signal.signal(sig, previous)
    if startup_interrupt:
        raise KeyboardInterrupt
    spider = crawler.spider
    if spider is not None and getattr(spider, "closed_reason", "") is None:
        _end_forced_stop(crawler)
    try:
        stats = crawler.stats.get_stats()
    except RuntimeError:  # the crawl never started
        stats = {}
    if stats.get("linkgraph/setup_error"):
        raise UsageError(stats["linkgraph/setup_error"])
    return stats


#: ``finish_reason`` of a crawl stopped by a second Ctrl-C: the reactor stopped at once,
#: with the crawl still open (Scrapy's graceful shutdown is ``shutdown``).
FORCED = "shutdown_forced"


def _end_forced_stop(crawler: Any) -> None:
    """Commit what a forcibly stopped crawl holds and end its session as interrupted.

    A second Ctrl-C stops the reactor at once: no spider_closed, so the pipeline's
    buffered pages were never written and the session never ended. The reactor
    stopped between two of its callbacks, and the pipeline writes synchronously in
    them, so no batch is half-written and the buffer holds whole pages: committing it
    now is the write the pipeline's close would have made. Pages still being
    downloaded or parsed are not in it; the resumed crawl fetches them again.
    """
    from pipelines.parquet_pipeline import ParquetPipeline

    scraper = getattr(getattr(crawler, "engine", None), "scraper", None)
    for component in getattr(getattr(scraper, "itemproc", None), "middlewares", ()):
        if isinstance(component, ParquetPipeline):
            component.close_spider()
    if crawler.stats.get_value("start_time") is not None:
        # What a clean close sends next: the spider ends its session, the WARC file is
        # closed, the summary line and the finish_reason stat are written.
        crawler.signals.send_catch_log(signal=signals.spider_closed, spider=crawler.spider,
                                       reason=FORCED)
    else:  # stopped before the spider opened: only the session to end
        crawler.stats.set_value("finish_reason", FORCED)
        crawler.spider.closed(FORCED)
    logger.warning("Forced stop: committed %d page rows this session; the crawl is "
                   "interrupted", crawler.stats.get_value("linkgraph/rows/pages", 0))


def interruption(stats: Mapping[str, Any]) -> str | None:
    """What interrupted the crawl, in words ("the crawl was interrupted after 12 page
    rows"), or None when no signal did."""
    reason = stats.get("finish_reason")
    if reason not in ("shutdown", FORCED):
        return None
    how = "stopped at once by a second Ctrl-C" if reason == FORCED else "interrupted"
    return f"the crawl was {how} after {stats.get('linkgraph/rows/pages', 0)} page rows"
