"""Errors that are the user's to fix: the CLI prints them as one line, exit code 2."""

from __future__ import annotations


class UsageError(Exception):
    """A bad argument, seed, file or folder: the message says what and how to fix it."""


#: ``extra`` of the log record of a crawl's setup error (a locked folder, a bad seed
#: file): :func:`linkgraph.crawl.run.run_crawl` raises it again once the crawl ends and
#: drops that record, so the CLI says it once, as its own one line. ``scrapy crawl``
#: has only the log.
SETUP_ERROR_LOG = {"linkgraph_setup_error": True}
