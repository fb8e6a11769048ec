"""Politeness across the workers of a distributed crawl: one host, one budget.

Scrapy spaces and caps requests per process (a downloader slot per host), so N workers
would hit a host N times as hard. In a distributed crawl this downloader middleware
asks Redis before every request (robots.txt and sitemaps too) for one of the host's
``CONCURRENT_REQUESTS_PER_DOMAIN`` slots (one when its robots.txt sets a Crawl-delay)
and for the host's next allowed moment, ``DOWNLOAD_DELAY`` or the Crawl-delay after
the last request any worker started there. The first worker to read a host's
robots.txt records its Crawl-delay (or none) in ``lg:delay:HOST``; until then the host
gets one request at a time, so the other workers' robots.txt requests already wait
out the delay, as a single process's requests after its robots.txt do. The clock is Redis's, so workers on
different machines agree. A slot is a member of ``lg:slot:HOST`` scored with the time
it expires (``DOWNLOAD_TIMEOUT`` + 10 s), freed when the response or error comes back:
a worker killed mid-download holds its slot until then, not forever.

The worker's own downloader slot for the host then neither delays nor caps (its delay
0, its concurrency the cap): a request granted here goes out at once, so the spacing
Redis gave is the spacing the server sees.

A slot whose host has no spacing (no ``DOWNLOAD_DELAY``, no Crawl-delay) is handed
straight from a finished request to the next one of this worker waiting for the same
host, without a round trip to free it and another to take it again: the cap still
holds (the slot stays one member of ``lg:slot:HOST``, its expiry renewed when it gets
old), and the host's slots stop going idle for the waiter's next poll. Requests of a
worker waiting for one host queue here in order; one of them at a time asks Redis.

A worker keeps at most its share of a host's slots, ceil(cap / workers), while another
worker wants the host: a worker turned away because the host's slots were all taken
says so in ``lg:want:HOST`` (for a second). Beyond its share a worker gets a slot only
when no other worker wants the host, and hands it over for a quarter of a second only
(``BEYOND_SHARE_SECONDS``) before it goes back, so that a worker that starts wanting
the host finds it. Without that,
a worker left alone with one host's last hundred URLs fetched them through its share
of the slots while the others sat idle (one run in four of the documentation web took
twice as long).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.utils.httpobj import urlparse_cached

from linkgraph.crawl.middlewares.crawl_delay import CrawlDelayMiddleware
from linkgraph.crawl.middlewares.robots import ROBOTS_META, robots_txt_read

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

#: ARGV: host, member, cap, delay ms, lease ms, robots (1: robots.txt sets the delay),
#: worker, slots of the host it holds, its share. -1 when granted to a host with no
#: spacing (the slot may be handed over), -2 when granted beyond the worker's share
#: (give it back after one request), 0 when granted to a spaced host, else ms to wait.
SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local z = 'lg:slot:' .. ARGV[1]
local want = 'lg:want:' .. ARGV[1]
local worker = ARGV[7]
local over = tonumber(ARGV[8]) >= tonumber(ARGV[9])
local cap = tonumber(ARGV[3])
local delay = tonumber(ARGV[4])
local spaced = delay > 0
if ARGV[6] == '1' then
  local known = redis.call('GET', 'lg:delay:' .. ARGV[1])
  if not known then
    cap = 1
    spaced = true
  elseif tonumber(known) > 0 then
    cap = 1
    delay = math.max(delay, tonumber(known))
    spaced = true
  end
end
redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
redis.call('ZREMRANGEBYSCORE', want, '-inf', now)
if redis.call('ZCARD', z) >= cap then
  if not over then
    redis.call('ZADD', want, now + 1000, worker)
    redis.call('PEXPIRE', want, 1000)
  end
  return 25
end
if over then
  local others = redis.call('ZCARD', want) - (redis.call('ZSCORE', want, worker) and 1 or 0)
  if others > 0 then return 250 end
end
local last = tonumber(redis.call('GET', 'lg:last:' .. ARGV[1]) or '0')
if delay > 0 and now < last + delay then return last + delay - now end
local lease = tonumber(ARGV[5])
redis.call('ZADD', z, now + lease, ARGV[2])
redis.call('PEXPIRE', z, lease)
redis.call('SET', 'lg:last:' .. ARGV[1], now, 'PX', 3600000)
redis.call('ZREM', want, worker)
if spaced then return 0 end
if over then return -2 end
return -1
"""

#: ARGV: host, member, lease ms. A handed-over slot's expiry, pushed a lease ahead.
RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local z = 'lg:slot:' .. ARGV[1]
redis.call('ZADD', z, now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', z, tonumber(ARGV[3]))
return 0
"""

_META = "lg_host_slot"


#: Seconds a slot granted beyond a worker's share may be handed over before it goes
#: back to Redis: the longest another worker that starts wanting the host waits for it.
BEYOND_SHARE_SECONDS = 0.25


class _Slot:
    """A slot of a host this worker holds in Redis: its member, when it was renewed,
    and until when it may be handed over to this worker's next request of the host."""

    __slots__ = ("host", "member", "renewed", "handover_until")

    def __init__(self, host: str, member: str, handover_until: float):
        self.host, self.member, self.handover_until = host, member, handover_until
        self.renewed = time.monotonic()


class GlobalPoliteness(CrawlDelayMiddleware):
    """Downloader middleware: a host's request slots and spacing shared through Redis."""

    @classmethod
    def enabled(cls, settings: Any) -> bool:
        # Robots.txt or not, workers share each host's cap and spacing.
        return bool(settings.get("LINKGRAPH_FRONTIER"))

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        settings = crawler.settings
        self.cap = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        self.download_delay = settings.getfloat("DOWNLOAD_DELAY")
        self.lease_ms = int((settings.getfloat("DOWNLOAD_TIMEOUT") + 10) * 1000)
        self._ids = itertools.count()
        self._scripts: dict[str, Any] = {}
        self._configured: set[str] = set()
        #: host -> slots of it this worker holds in Redis (at most its _share).
        self._holding: dict[str, int] = {}
        #: host -> requests of this worker waiting for one of its slots, in order.
        self._waiting: dict[str, deque[asyncio.Future[_Slot]]] = {}
        #: host -> set while this worker's waiter of the host should ask Redis again.
        self._wake: dict[str, asyncio.Event] = {}
        #: host -> _Slot of a robots.txt request answered 2xx, not parsed yet.
        self._robots_slots: dict[str, _Slot] = {}
        self.obey_robots = settings.getbool("ROBOTSTXT_OBEY")
        crawler.signals.connect(self.robots_read, signal=robots_txt_read)

    def apply_delay(self, host: str, delay: float | None) -> None:
        """Recorded in Redis for every worker (see the module docstring); the slot of
        the robots.txt request is freed only now, so no request of another worker
        slips in between its response and its Crawl-delay."""
        remote = self._frontier()
        if remote is not None:
            millis = str(int(1000 * (delay or 0.0)))
            remote.call(lambda: remote.client.set("lg:delay:" + host, millis))
        held = self._robots_slots.pop(host, None)
        if held is not None:
            self._free(held)

    def robots_read(self, robots_url: str, body: bytes | None) -> None:
        if body is None:  # 4xx: no rules, no delay (a parsed robots.txt comes as robots_parsed)
            self.apply_delay(urlparse_cached(Request(robots_url)).hostname or "", None)

    def _frontier(self) -> Any:
        spider = self.crawler.spider
        return getattr(spider, "remote", None)

    def _script(self, remote: Any, name: str, source: str) -> Any:
        if name not in self._scripts:
            self._scripts[name] = remote.client.register_script(source)
        return self._scripts[name]

    async def process_request(self, request: Request) -> None:
        remote = self._frontier()
        if remote is None:
            return None
        host = urlparse_cached(request).hostname or ""
        if host not in self._configured:
            self._configured.add(host)
            # The worker's own slot for the host lets every granted request through.
            self.crawler.engine.downloader.per_slot_settings.setdefault(host, {}).update(
                {"delay": 0.0, "jitter": 0.0, "concurrency": max(self.cap, 1)})
        # A request waiting here counts as active in its host's downloader slot: the
        # scheduler (DownloaderAwarePriorityQueue) then prefers other hosts' requests
        # instead of filling the downloader with requests for one full host.
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        if slot is not None:
            slot.active.add(request)
        waiter: asyncio.Future[_Slot] = asyncio.get_running_loop().create_future()
        queue = self._waiting.setdefault(host, deque())
        queue.append(waiter)
        if len(queue) == 1:
            asyncio.ensure_future(self._ask(remote, host))
        try:
            held = await waiter
        finally:
            if slot is not None:
                slot.active.discard(request)
        if self.delays.get(host) is not None:
            request.meta["autothrottle_dont_adjust_delay"] = True
        request.meta[_META] = held
        return None

    def _share(self, remote: Any) -> int:
        """This worker's share of a host's slots, ceil(cap / workers): it holds no more
        of a host's slots at once while another worker wants the host (see the module
        docstring). Without it the worker that first took a busy host's slots kept them
        all by handing them over, and another worker whose requests waited for that
        host fetched nothing (seen: one of two workers idle for 2-3 s, its downloader
        full of requests waiting for slots the other held)."""
        return max(1, -(-max(self.cap, 1) // remote.workers))

    async def _ask(self, remote: Any, host: str) -> None:
        """Ask Redis for ``host``'s slots while this worker has requests waiting for it:
        one request at a time asks (N requests waiting for a full host would otherwise
        poll it N times), the others wait their turn in the queue."""
        queue = self._waiting[host]
        wake = self._wake.setdefault(host, asyncio.Event())
        script = self._script(remote, "slot", SLOT)
        delay_ms = int(1000 * self.download_delay)
        try:
            while queue:
                if queue[0].done():  # cancelled, or given a handed-over slot
                    queue.popleft()
                    continue
                holding, share = self._holding.get(host, 0), self._share(remote)
                if holding >= max(self.cap, 1):
                    # Every slot of the host is this worker's: the next one is its own,
                    # handed over or given back when a request of this host ends.
                    wake.clear()
                    try:
                        await asyncio.wait_for(wake.wait(), 0.25)
                    except asyncio.TimeoutError:
                        pass
                    continue
                member = f"{remote.name}:{next(self._ids)}"
                args = [host, member, self.cap, delay_ms, self.lease_ms, int(self.obey_robots),
                        remote.name, holding, share]
                wait = int(remote.call(lambda: script(args=args), "slot"))
                if wait <= 0:
                    self._holding[host] = holding + 1
                    if wait == -2:
                        self.crawler.stats.inc_value("linkgraph/distributed/slots_beyond_share")
                    until = {-1: float("inf"), -2: time.monotonic() + BEYOND_SHARE_SECONDS}
                    queue.popleft().set_result(_Slot(host, member, until.get(wait, 0.0)))
                    continue
                self.crawler.stats.inc_value("linkgraph/distributed/slot_waits")
                wake.clear()
                try:
                    # Woken early when one of this worker's own slots comes back; beyond
                    # its share a worker asks again only then, or after a quarter second.
                    seconds = min(max(wait, 250) if holding >= share else wait, 1000)
                    await asyncio.wait_for(wake.wait(), seconds / 1000)
                except asyncio.TimeoutError:
                    pass
        except BaseException as exc:  # noqa: BLE001 - every waiter hears of it
            for waiter in queue:
                if not waiter.done():
                    waiter.set_exception(exc if isinstance(exc, Exception)
                                         else RuntimeError("the slot request was stopped"))
            queue.clear()
            if not isinstance(exc, Exception):
                raise

    def _release(self, request: Request) -> None:
        held: _Slot | None = request.meta.pop(_META, None)
        if held is None:
            return
        queue = self._waiting.get(held.host)
        if queue and time.monotonic() < held.handover_until:
            while queue and queue[0].done():
                queue.popleft()
            if queue:
                if time.monotonic() - held.renewed > self.lease_ms / 3000:
                    self._renew(held)
                queue.popleft().set_result(held)
                self.crawler.stats.inc_value("linkgraph/distributed/slot_handovers")
                return
        self._free(held)
        wake = self._wake.get(held.host)
        if wake is not None:
            wake.set()

    def _renew(self, held: _Slot) -> None:
        remote = self._frontier()
        if remote is None:
            return
        script = self._script(remote, "renew", RENEW)
        args = [held.host, held.member, self.lease_ms]
        remote.call(lambda: script(args=args), "slot_renew")
        held.renewed = time.monotonic()

    def _free(self, held: _Slot) -> None:
        self._holding[held.host] = max(0, self._holding.get(held.host, 0) - 1)
        remote = self._frontier()
        if remote is None:
            return
        try:
            remote.call(lambda: remote.client.zrem("lg:slot:" + held.host, held.member),
                        "slot_free")
        except Exception:  # noqa: BLE001 - the slot's lease frees it anyway
            logger.debug("Could not free the slot of %s", held.host, exc_info=True)

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get(ROBOTS_META) and 200 <= response.status < 300 and _META in request.meta:
            held = request.meta.pop(_META)
            self._robots_slots[held.host] = held  # freed by apply_delay once it is parsed
        self._release(request)
        return response

    def process_exception(self, request: Request, exception: BaseException) -> None:
        self._release(request)
        return None
