"""Run a crawl from Python: what ``linkgraph crawl`` does, as a library call."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from linkgraph.crawl.config import check_settings
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
    crawl_dir.check(config.output, seeds, list(scope.allow), fresh=config.fresh)
    return seeds


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
    process.crawl(crawler, seeds=seeds)
    # The setup error is raised below; logged as well, it would be said twice.
    handlers = logging.getLogger().handlers
    for handler in handlers:
        handler.addFilter(_drop_setup_error)
    try:
        process.start()
    finally:
        for handler in handlers:
            handler.removeFilter(_drop_setup_error)
    try:
        stats = crawler.stats.get_stats()
    except RuntimeError:  # the crawl never started
        stats = {}
    if stats.get("linkgraph/setup_error"):
        raise UsageError(stats["linkgraph/setup_error"])
    return stats
