"""The spider's side of a distributed crawl: take URLs from Redis, give links back.

Mixed into :class:`linkgraph.spiders.links.LinksSpider` when ``LINKGRAPH_FRONTIER`` is
set. The spider's rules do not change (scope, follow types, limits, click depth); only
where a URL goes when it is found and where the next URL comes from:

* found: the spider's ``page_request`` puts (url, depth, hops) in an outbox that is
  sent in one round trip when the page's links are all decided (:meth:`admit_outbox`),
  before the page's item is yielded. A URL this worker sent already goes again only
  with a smaller depth (it may still be queued deeper: it moves up, the breadth-first
  rule), so most of a page's repeated navigation links cost Redis nothing.
* next: a timer (:meth:`pump`, every 0.1 s; at once when the worker runs low, every
  0.02 s while it waits for the others to end a depth) keeps up to ``WANT_FACTOR``
  times ``CONCURRENT_REQUESTS`` URLs in this worker, beats the heartbeat, reclaims dead
  workers' URLs, and ends the crawl when Redis has nothing outstanding anywhere.
* done: once a page's item is yielded (its links admitted) the next pump marks its
  entry done, which lets the next depths go; the item pipeline acknowledges the entry
  after committing its row (``pipelines/parquet_pipeline.py``), so a kill before that
  commit gets the URL fetched again by another worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy import signals
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from linkgraph.crawl.distributed import folders
from linkgraph.crawl.distributed.redis_frontier import Entry, RedisFrontier, RedisLost
from linkgraph.crawl.items import PageItem
from linkgraph.crawl.resume import load_progress

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

PUMP_SECONDS = 0.1
#: Seconds between asks while a worker has nothing to fetch and the crawl is not over
#: (waiting for the others to end a depth): the next depth starts this soon after.
IDLE_PUMP_SECONDS = 0.02
#: Seconds a worker finds nothing to take before it has the frontier's counts checked.
STALL_SECONDS = 3.0
#: Seconds a worker's close may take once its crawl is over (see _force_close).
CLOSE_SECONDS = 30.0
#: A worker holds up to this many times CONCURRENT_REQUESTS URLs: its scheduler needs a
#: mix of hosts to pick from (with 2x, a burst of one site's URLs left the downloader
#: waiting on that site's slots: the documentation web took 1.9x as long, 1.2x with 8x).
WANT_FACTOR = 8
#: Settings that may differ between the workers of one crawl (paths, logging, pacing of
#: this worker's commits); every other LINKGRAPH_ and politeness setting must match.
LOCAL_SETTINGS = frozenset({
    "LINKGRAPH_OUTPUT", "LINKGRAPH_FRONTIER", "LINKGRAPH_FRESH", "LINKGRAPH_PROGRESS_INTERVAL",
    "LINKGRAPH_FLUSH_PAGES", "LINKGRAPH_FLUSH_SECONDS", "LINKGRAPH_WARC_DIR",
    "LINKGRAPH_WARC_ROTATE_MB", "LINKGRAPH_COMPACT", "LINKGRAPH_COMPACT_ROWS",
    "LINKGRAPH_REDIS_WAIT", "LINKGRAPH_RESOLVE"})
SHARED_SCRAPY_SETTINGS = ("ROBOTSTXT_OBEY", "USER_AGENT", "DOWNLOAD_DELAY",
                          "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_MAXSIZE")


def crawl_identity(settings: Any, seeds: list[str], allow: list[str]) -> dict[str, Any]:
    """What every worker of one crawl must agree on (kept in Redis, compared on join)."""
    from linkgraph import settings as project_settings

    identity: dict[str, Any] = {"seeds": sorted(seeds), "scope": sorted(allow)}
    for name in sorted(vars(project_settings)):
        if name.startswith("LINKGRAPH_") and name not in LOCAL_SETTINGS:
            identity[name] = _plain(settings.get(name))
    for name in SHARED_SCRAPY_SETTINGS:
        identity[name] = _plain(settings.get(name))
    return identity


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return sorted(str(v) for v in value)
    return None if value is None else str(value)


class DistributedWork:
    """The distributed crawl's part of the spider (see the module docstring)."""

    # Provided by the spider.
    config: Any
    crawler: Crawler
    seeds: list[str]
    scope: Any
    stats: Any
    page_request: Callable[..., Any]
    refused_by_limits: Callable[..., Any]

    remote: RedisFrontier | None = None
    #: A pump scheduled before the next tick (see _pump_soon).
    _soon: Any = None

    def setup_distributed(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.remote = RedisFrontier(
            self.config.frontier,
            crawl_identity(settings, self.seeds, list(self.scope.allow)),
            lease=self.config.worker_lease, redis_wait=self.config.redis_wait,
            rebuild=self.rebuild_frontier)
        #: (url, depth, hops) found by the page being parsed, sent by admit_outbox().
        self.outbox: list[tuple[str, int, int]] = []
        #: hash of a URL sent -> the least depth it was sent with (-1: a limit refused it
        #: here); for the frontier of epoch ``_sent_epoch``.
        self.sent_depth: dict[int, int] = {}
        self._sent_epoch: str | None = None
        #: Entry ids handed to Scrapy whose page item has not been yielded yet.
        self.in_progress: set[str] = set()
        #: Entries whose page item was yielded, to mark done in Redis (the next pump).
        self.done_entries: list[tuple[int, str, str | None]] = []
        self.want = WANT_FACTOR * settings.getint("CONCURRENT_REQUESTS")
        self.remote_finished = False
        self._next_beat = self._next_reclaim = 0.0
        self._idle_since: float | None = None
        #: Set by the item pipeline: commits its buffered pages now.
        self.commit_now: Callable[[], None] | None = None
        self.remote.on_lost = lambda: self.commit_now() if self.commit_now else None
        self.remote.join()
        crawler.signals.connect(self._item_done, signal=signals.item_scraped)
        crawler.signals.connect(self._item_done, signal=signals.item_dropped)
        crawler.signals.connect(self._item_done, signal=signals.item_error)

    # -- seeding and rebuilding ---------------------------------------------------------
    def rebuild_frontier(self, remote: RedisFrontier, lost: bool = False) -> str:
        """Seed an empty frontier: the seeds, or what the worker folders' committed parts
        leave to fetch (a lost Redis). Returns the crawl id.

        After a loss (``lost``: this worker had joined the Redis that is gone) the
        other live workers get one lease to notice it too and commit what they fetched
        (:meth:`RedisFrontier.join`), so that the rebuild reads their pages and links.
        """
        output = self.config.output
        if lost:
            deadline = time.monotonic() + remote.lease
            while time.monotonic() < deadline:
                remote.renew_init()
                time.sleep(min(0.5, remote.lease / 4))
        crawl_id = folders.crawl_id_of(output) or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        done: set[str] = set()
        todo: dict[str, int] = {}
        sitemaps: set[str] = set()
        for folder in folders.worker_folders(output):
            progress = load_progress(folder, self.config)
            done.update(progress.done)
            sitemaps.update(progress.sitemaps_read)
            for url, depth, host in progress.frontier:
                if todo.get(url, depth + 1) > depth and self.scope.allows(host):
                    todo[url] = depth
            remote.renew_init()
        max_depth = self.config.max_depth
        if not done:
            todo = {url: 0 for url in self.seeds}
        remote.mark_seen(done)
        remote.mark_sitemaps(sitemaps)
        entries = [(url, depth, 0) for url, depth in sorted(todo.items(), key=lambda i: i[1])
                   if url not in done and (max_depth is None or depth <= max_depth)]
        for start in range(0, len(entries), 2000):
            remote.admit(entries[start:start + 2000], self.config.max_pages)
            remote.renew_init()
        if done:
            logger.info("Rebuilt the frontier in Redis from %d committed pages: %d URLs "
                        "to fetch", len(done), len(entries))
        return crawl_id

    # -- URLs found ------------------------------------------------------------------------
    def send_found(self, key: int, url: str, depth: int, hops: int,
                   skips: Any) -> None:
        """Put a URL a page links to in the outbox, unless this worker sent it already at
        this depth or less (Redis keeps the least depth: nothing would change)."""
        if self._sent_epoch != self.remote.epoch:
            # A rebuilt frontier knows only what the committed parts say.
            self.sent_depth.clear()
            self._sent_epoch = self.remote.epoch
        known = self.sent_depth.get(key)
        if known is not None:
            if known < 0 or depth >= known:  # refused here, or no shorter path
                return
        elif self.refused_by_limits(url, skips) is not None:
            self.sent_depth[key] = -1
            return
        self.sent_depth[key] = depth
        self.outbox.append((url, depth, hops))

    def admit_outbox(self) -> None:
        """Send the URLs the current page found (one round trip)."""
        if not self.outbox:
            return
        outbox, self.outbox = self.outbox, []
        results = self.remote.admit(outbox, self.config.max_pages)
        for result in results:
            if result == -1:
                self.stats.inc_value("linkgraph/skipped/max_pages")
            elif result == 1:
                self.stats.inc_value("linkgraph/distributed/admitted")
            elif result == 2:
                self.stats.inc_value("linkgraph/distributed/moved_up")

    # -- URLs to fetch ---------------------------------------------------------------------
    def start_pump(self) -> None:
        self._pump = task.LoopingCall(self.pump)
        self._pump.start(PUMP_SECONDS, now=True).addErrback(
            lambda failure: logger.error("The frontier loop failed: %s", failure.value,
                                         exc_info=(failure.type, failure.value, failure.tb)))

    def stop_pump(self) -> None:
        pump = getattr(self, "_pump", None)
        if pump is not None and pump.running:
            pump.stop()
        if self._soon is not None and self._soon.active():
            self._soon.cancel()
        if self.remote is not None:
            self.remote.leave()

    def _pump_soon(self, seconds: float = 0.0) -> None:
        """Pump before the next tick: when this worker is about to run dry (its done
        pages may let the next depth go, for everyone) or waits for the others."""
        if self._soon is None or not self._soon.active():
            from twisted.internet import reactor

            self._soon = reactor.callLater(seconds, self.pump)

    def pump(self) -> None:
        if self.remote_finished or self.crawler.engine is None:
            return
        try:
            self._pump_once()
        except RedisLost as exc:
            logger.error("%s: this worker stops (interrupted); run the same command again "
                         "when Redis is back", exc)
            self.stats.set_value("linkgraph/distributed/redis_lost", str(exc))
            self._close("redis_lost")
        except Exception:  # noqa: BLE001 - a stopped loop would leave the worker idle forever
            logger.exception("The frontier loop failed; it goes on")
            self.stats.inc_value("linkgraph/distributed/loop_errors")

    def _pump_once(self) -> None:
        remote = self.remote
        now = time.monotonic()
        if now >= self._next_beat:
            remote.heartbeat()
            self._next_beat = now + remote.lease / 3
        if now >= self._next_reclaim:
            reclaimed = remote.reclaim()
            if reclaimed:
                self.stats.inc_value("linkgraph/distributed/reclaimed", reclaimed)
                logger.info("Queued again %d URLs that a stopped worker held", reclaimed)
            self._next_reclaim = now + remote.lease / 2
        if self.done_entries:
            done, self.done_entries = self.done_entries, []
            remote.done(done)
        room = self.want - len(self.in_progress)
        entries = remote.acquire(room) if room > 0 else []
        for entry in entries:
            self.in_progress.add(entry.id)
            self.crawler.engine.crawl(self.entry_request(entry))
        self.stats.inc_value("linkgraph/distributed/taken", len(entries))
        if entries or self.in_progress:
            self._idle_since = None
            return
        # Waiting: what this worker has fetched holds back the next depth of everyone.
        if self.commit_now is not None:
            self.commit_now()
        if remote.finished():
            self.remote_finished = True
            logger.info("The distributed crawl is finished: nothing left in the frontier")
            self._close("finished")
            return
        self._pump_soon(IDLE_PUMP_SECONDS)
        if self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= STALL_SECONDS:
            # Nothing to take for a while and yet not finished: make sure the counts the
            # breadth-first rule reads are the streams' own.
            self._idle_since = None
            fixed = remote.recount()
            if fixed:
                self.stats.inc_value("linkgraph/distributed/counts_repaired", fixed)
                logger.warning("Repaired the frontier's outstanding counts of %d depth(s)",
                               fixed)

    def entry_request(self, entry: Entry) -> scrapy.Request:
        request = self.page_request_for(entry.url, entry.depth, entry.hops)
        request.meta["lg_entry"] = (entry.depth, entry.id, entry.epoch)
        return request

    def _item_done(self, item: Any, *args: Any, **kwargs: Any) -> None:
        # The page's links were admitted before its item was yielded: it is done.
        if isinstance(item, PageItem) and item.entry is not None:
            self.in_progress.discard(item.entry[1])
            self.done_entries.append(item.entry)
            if len(self.in_progress) * 4 < self.want:
                self._pump_soon()

    def _close(self, reason: str) -> None:
        self.stop_pump()
        from twisted.internet import reactor

        # Scrapy's close waits for every request in flight; one that never ends (seen
        # once in tests, after the crawl was over) must not keep the worker forever.
        self._close_deadline = reactor.callLater(CLOSE_SECONDS, self._force_close, reason)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))

    def exit_after_close(self) -> None:
        """Make sure the process ends once the session is closed.

        Seen in tests: a worker whose crawl was over, its session finished and its folder
        merged, idled in the reactor instead of ending (Scrapy's crawl never completed).
        Everything is committed by then; the reactor is stopped if it still runs after
        CLOSE_SECONDS."""
        from twisted.internet import reactor

        def stop() -> None:
            if reactor.running:
                logger.warning("The worker's crawl is closed but Scrapy did not end; "
                               "stopping it")
                reactor.stop()

        reactor.callLater(CLOSE_SECONDS, stop)

    def _force_close(self, reason: str) -> None:
        """The close did not end in CLOSE_SECONDS: commit, end the session, stop."""
        from twisted.internet import reactor

        if getattr(self, "closed_reason", None) is not None:
            return
        logger.warning("The worker did not close within %.0f s of the end of its crawl; "
                       "committing and stopping it", CLOSE_SECONDS)
        self.stats.set_value("linkgraph/distributed/forced_close", True)
        if self.commit_now is not None:
            self.commit_now()
        self.stats.set_value("finish_reason", reason)
        self.closed(reason)
        reactor.stop()

    def may_close(self) -> bool:
        """For spider_idle: a worker stays until the whole crawl is over."""
        return self.remote_finished

    def claim_sitemap(self, url: str) -> bool:
        return self.remote.claim_sitemap(url)
