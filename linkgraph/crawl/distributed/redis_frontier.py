"""The shared frontier and seen-set of a distributed crawl, in Redis.

Keys (one crawl per Redis database; every key starts with ``lg:``)::

    lg:meta            hash: crawl identity (seeds, scope, settings), crawl_id, epoch, ready
    lg:init            lock of the worker that seeds or rebuilds the frontier
    lg:seen:B          set of the low 48 bits of the URL keys whose top 16 bits are B
    lg:held:B          hash, same split: URL key -> depth of its queued, undelivered entry
    lg:q:D             stream of URLs at click depth D (consumer group ``g``)
    lg:count           hash: depth -> entries admitted whose page is not yet done
    lg:done            hash: id -> depth of an entry whose page is parsed, not yet committed
    lg:depths          sorted set of the depths that have entries
    lg:scheduled       URLs admitted (LINKGRAPH_MAX_PAGES is a bound on it)
    lg:workers, lg:alive:W   the workers, and a heartbeat key each (expires after the lease)
    lg:sitemaps        sitemap URLs some worker has taken to read
    lg:slot:H, lg:last:H, lg:delay:H, lg:want:H   politeness (distributed/politeness.py)

Why not scrapy-redis: its queue pops a request with no acknowledgement (a killed worker
loses what it held), its dupefilter is a set of 40-character hex strings (~100 bytes per
URL in Redis), politeness stays per process, and its spiders need ``start_requests``,
which Scrapy 2.19's ``Spider`` no longer has. Here the seen-set costs about 8 bytes per
URL (Redis stores a small set of integers as a packed array: ``set-max-intset-entries``
must exceed the URLs per bucket, 65,536 buckets), and a URL's stream entry is acknowledged
only once its ``pages`` row is committed, so a worker's death costs a refetch, not a page.

Breadth-first across workers (the rule of :mod:`linkgraph.crawl.frontier`): an entry of
depth ``d`` is handed out only when no entry of depth ``d - 2`` or less is outstanding
(admitted, its page not yet parsed with its links admitted: *done*, which a worker says
at once, while the entry stays pending until the page is committed, seconds later; a
dead worker's done but uncommitted entries count as outstanding again when they are
queued again), and a URL queued at some depth and found again at a
smaller one is queued again there (the old entry is skipped as stale when read). So a
page's depth is its click distance, whichever worker fetched what.

Every script checks the ``epoch`` of the Redis it runs on: a Redis that was lost and came
back empty has another (or none), and the worker then joins the rebuilt frontier
(:meth:`RedisFrontier.join`) instead of acknowledging entries that no longer exist.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from linkgraph.errors import UsageError
from linkgraph.storage.url_key import url_key

logger = logging.getLogger(__name__)

PREFIX = "lg:"
GROUP = "g"
#: 2**16 buckets: 10M URLs are ~150 per bucket, well inside a packed integer set.
BUCKET_SHIFT = 48
LOW_MASK = (1 << BUCKET_SHIFT) - 1

# Error replies of the scripts (redis-py raises ResponseError with this text).
_EPOCH = "LGEPOCH"

_LUA_PRELUDE = """
local function epoch_ok(e)
  return redis.call('HGET', 'lg:meta', 'epoch') == e
end
local function ensure(d)
  if redis.call('EXISTS', 'lg:q:' .. d) == 0 then
    redis.call('XGROUP', 'CREATE', 'lg:q:' .. d, 'g', '0', 'MKSTREAM')
  end
  redis.call('ZADD', 'lg:depths', tonumber(d), d)
end
"""

#: ARGV: epoch, max_pages (-1: none), then (bucket, low, depth, url, hops) per URL.
#: Returns per URL: 1 queued, 2 queued again at a smaller depth, 0 seen, -1 over max_pages.
ADMIT = _LUA_PRELUDE + """
if not epoch_ok(ARGV[1]) then return redis.error_reply('LGEPOCH') end
local maxp = tonumber(ARGV[2])
local out = {}
local i = 3
while i <= #ARGV do
  local b, m, d, u, h = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  i = i + 5
  if redis.call('SISMEMBER', 'lg:seen:' .. b, m) == 1 then
    local old = redis.call('HGET', 'lg:held:' .. b, m)
    if old and tonumber(old) > tonumber(d) then
      redis.call('HSET', 'lg:held:' .. b, m, d)
      redis.call('HINCRBY', 'lg:count', old, -1)
      redis.call('HINCRBY', 'lg:count', d, 1)
      ensure(d)
      redis.call('XADD', 'lg:q:' .. d, '*', 'u', u, 'b', b, 'm', m, 'h', h)
      out[#out + 1] = 2
    else
      out[#out + 1] = 0
    end
  elseif maxp >= 0 and tonumber(redis.call('GET', 'lg:scheduled') or '0') >= maxp then
    out[#out + 1] = -1
  else
    redis.call('SADD', 'lg:seen:' .. b, m)
    redis.call('INCR', 'lg:scheduled')
    redis.call('HSET', 'lg:held:' .. b, m, d)
    redis.call('HINCRBY', 'lg:count', d, 1)
    ensure(d)
    redis.call('XADD', 'lg:q:' .. d, '*', 'u', u, 'b', b, 'm', m, 'h', h)
    out[#out + 1] = 1
  end
end
return out
"""

#: ARGV: epoch, then (bucket, low) per URL already done: seen, never queued.
MARK_SEEN = _LUA_PRELUDE + """
if not epoch_ok(ARGV[1]) then return redis.error_reply('LGEPOCH') end
local n = 0
for i = 2, #ARGV, 2 do
  n = n + redis.call('SADD', 'lg:seen:' .. ARGV[i], ARGV[i + 1])
end
redis.call('INCRBY', 'lg:scheduled', n)
return n
"""

#: ARGV: epoch, consumer, n. Returns the number of workers, then a flat list of
#: (depth, id, url, hops).
ACQUIRE = _LUA_PRELUDE + """
if not epoch_ok(ARGV[1]) then return redis.error_reply('LGEPOCH') end
local need = tonumber(ARGV[3])
local out = {}
local low = nil
local depths = redis.call('ZRANGE', 'lg:depths', 0, -1)
for _, d in ipairs(depths) do
  if need <= 0 then break end
  local c = tonumber(redis.call('HGET', 'lg:count', d) or '0')
  if c <= 0 then
    -- nothing outstanding at this depth; once nothing is pending either (a page done
    -- but not yet committed), only acknowledged or stale entries are left
    if redis.call('EXISTS', 'lg:q:' .. d) == 0
        or redis.call('XPENDING', 'lg:q:' .. d, 'g')[1] == 0 then
      redis.call('ZREM', 'lg:depths', d)
      redis.call('HDEL', 'lg:count', d)
      redis.call('DEL', 'lg:q:' .. d)
    end
  else
    local dn = tonumber(d)
    if low == nil then low = dn end
    if dn - 2 >= low then break end
    while need > 0 do
      local r = redis.call('XREADGROUP', 'GROUP', 'g', ARGV[2], 'COUNT', need,
                           'STREAMS', 'lg:q:' .. d, '>')
      if not r or not r[1] or #r[1][2] == 0 then break end
      for _, e in ipairs(r[1][2]) do
        local id, f = e[1], e[2]
        local u, b, m, h = f[2], f[4], f[6], f[8]
        if redis.call('HGET', 'lg:held:' .. b, m) == d then
          redis.call('HDEL', 'lg:held:' .. b, m)
          out[#out + 1] = d
          out[#out + 1] = id
          out[#out + 1] = u
          out[#out + 1] = h
          need = need - 1
        else
          -- queued again at a smaller depth (or already handed out): stale
          redis.call('XACK', 'lg:q:' .. d, 'g', id)
          redis.call('XDEL', 'lg:q:' .. d, id)
        end
      end
    end
  end
end
-- first, the number of workers (each one's share of a host's slots: politeness.py)
table.insert(out, 1, redis.call('SCARD', 'lg:workers'))
return out
"""

#: ARGV: epoch, consumer, then (depth, id) per entry whose page is parsed and its links
#: admitted: it no longer holds the next depths back (it stays pending until it is
#: committed). An entry no longer pending for this worker (queued again: it was taken for
#: dead) is left alone.
DONE = _LUA_PRELUDE + """
if not epoch_ok(ARGV[1]) then return redis.error_reply('LGEPOCH') end
local n = 0
for i = 3, #ARGV, 2 do
  local d, id = ARGV[i], ARGV[i + 1]
  local q = 'lg:q:' .. d
  if redis.call('EXISTS', q) == 1
      and #redis.call('XPENDING', q, 'g', id, id, 1, ARGV[2]) == 1
      and redis.call('HSETNX', 'lg:done', id, d) == 1 then
    redis.call('HINCRBY', 'lg:count', d, -1)
    n = n + 1
  end
end
return n
"""

#: ARGV: epoch, then (depth, id) per entry whose page is committed. Returns how many
#: were still pending (an entry reclaimed from a worker thought dead is not counted twice).
ACK = _LUA_PRELUDE + """
if not epoch_ok(ARGV[1]) then return redis.error_reply('LGEPOCH') end
local n = 0
for i = 2, #ARGV, 2 do
  local d, id = ARGV[i], ARGV[i + 1]
  local acked = redis.call('XACK', 'lg:q:' .. d, 'g', id)
  local was_done = redis.call('HDEL', 'lg:done', id)
  if acked == 1 then
    redis.call('XDEL', 'lg:q:' .. d, id)
    if was_done == 0 then
      redis.call('HINCRBY', 'lg:count', d, -1)
    end
    n = n + 1
  end
end
return n
"""

#: ARGV: epoch, this worker. Queues again what workers without a heartbeat held.
RECLAIM = _LUA_PRELUDE + """
if not epoch_ok(ARGV[1]) then return redis.error_reply('LGEPOCH') end
local n = 0
for _, w in ipairs(redis.call('SMEMBERS', 'lg:workers')) do
  if w ~= ARGV[2] and redis.call('EXISTS', 'lg:alive:' .. w) == 0 then
    for _, d in ipairs(redis.call('ZRANGE', 'lg:depths', 0, -1)) do
      local q = 'lg:q:' .. d
      if redis.call('EXISTS', q) == 1 then
        local pending = redis.call('XPENDING', q, 'g', '-', '+', 100000, w)
        for _, p in ipairs(pending) do
          local e = redis.call('XRANGE', q, p[1], p[1])
          if e[1] then
            local f = e[1][2]
            redis.call('HSET', 'lg:held:' .. f[4], f[6], d)
            redis.call('XADD', q, '*', 'u', f[2], 'b', f[4], 'm', f[6], 'h', f[8])
            n = n + 1
          end
          redis.call('XACK', q, 'g', p[1])
          redis.call('XDEL', q, p[1])
          if redis.call('HDEL', 'lg:done', p[1]) == 1 then
            -- done but never committed: outstanding again
            redis.call('HINCRBY', 'lg:count', d, 1)
          end
        end
        redis.call('XGROUP', 'DELCONSUMER', q, 'g', w)
      end
    end
    redis.call('SREM', 'lg:workers', w)
  end
end
return n
"""

#: ARGV: epoch. Counts what is outstanding at each depth again from the streams
#: themselves (undelivered entries still current, pending entries not done) and returns
#: how many counts were wrong. Run when the crawl seems stalled: the counts are what the
#: breadth-first rule and the end of the crawl read, so a drifted one would stop both.
RECOUNT = _LUA_PRELUDE + """
if not epoch_ok(ARGV[1]) then return redis.error_reply('LGEPOCH') end
local fixed = 0
for _, d in ipairs(redis.call('ZRANGE', 'lg:depths', 0, -1)) do
  local q = 'lg:q:' .. d
  local n = 0
  if redis.call('EXISTS', q) == 1 then
    for _, p in ipairs(redis.call('XPENDING', q, 'g', '-', '+', 1000000)) do
      if redis.call('HEXISTS', 'lg:done', p[1]) == 0 then n = n + 1 end
    end
    local last = '0-0'
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', q)) do
      for k = 1, #g, 2 do
        if g[k] == 'last-delivered-id' then last = g[k + 1] end
      end
    end
    for _, e in ipairs(redis.call('XRANGE', q, '(' .. last, '+')) do
      local f = e[2]
      if redis.call('HGET', 'lg:held:' .. f[4], f[6]) == d then n = n + 1 end
    end
  end
  local old = tonumber(redis.call('HGET', 'lg:count', d) or '0')
  if old ~= n then
    fixed = fixed + 1
    redis.call('HSET', 'lg:count', d, n)
  end
end
return fixed
"""

#: ARGV: epoch. 1 when nothing is outstanding at any depth and every page is committed.
FINISHED = _LUA_PRELUDE + """
if not epoch_ok(ARGV[1]) then return redis.error_reply('LGEPOCH') end
for _, v in ipairs(redis.call('HVALS', 'lg:count')) do
  if tonumber(v) > 0 then return 0 end
end
if redis.call('HLEN', 'lg:done') > 0 then return 0 end
redis.call('HSET', 'lg:meta', 'finished', '1')
return 1
"""


@dataclass(frozen=True)
class Entry:
    """A URL handed to this worker: fetch it, commit its row, then :meth:`ack` it."""

    depth: int
    id: str
    url: str
    hops: int
    #: The frontier it came from: an entry of a lost Redis is not acknowledged.
    epoch: str | None = None


class RedisLost(Exception):
    """Redis stayed unreachable for LINKGRAPH_REDIS_WAIT seconds."""


def split_key(url: str) -> tuple[str, str]:
    """(bucket, low bits) of the URL's 64-bit key, as the decimal strings Redis stores."""
    key = url_key(url) & 0xFFFFFFFFFFFFFFFF
    return str(key >> BUCKET_SHIFT), str(key & LOW_MASK)


def shown_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def _redis_module() -> Any:
    try:
        import redis
    except ImportError:  # pragma: no cover - a dependency of linkgraph
        raise UsageError("--frontier needs the redis package: pip install redis") from None
    return redis


def connect(url: str, timeout: float = 5.0) -> Any:
    """A redis-py client for ``url`` that has answered a PING; UsageError otherwise."""
    redis = _redis_module()
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                      decode_responses=True)
    except ValueError as exc:
        raise UsageError(f"--frontier {url!r} is not a Redis URL ({exc}); use "
                         "redis://HOST:PORT/DB or unix:///PATH/redis.sock") from None
    try:
        client.ping()
    except redis.RedisError as exc:
        raise UsageError(f"cannot reach Redis at {shown_url(url)} ({' '.join(str(exc).split())[:160]}); "
                         "start redis-server there, or use --workers N without --frontier "
                         "for a private one") from None
    return client


def check_identity(client: Any, url: str, identity: dict[str, Any]) -> None:
    """Refuse (one line) a Redis whose frontier belongs to another crawl."""
    meta = client.hgetall(PREFIX + "meta")
    if not meta:
        stray = next(iter(client.scan_iter(count=10)), None)
        if stray is not None and not str(stray).startswith(PREFIX):
            raise UsageError(f"Redis at {shown_url(url)} holds other data (key {stray!r}); give a "
                             "crawl a Redis database of its own (redis://HOST:PORT/DB)")
        return
    theirs = json.loads(meta.get("identity", "{}"))
    names = sorted(set(theirs) | set(identity), key=lambda n: ({"seeds": 0, "scope": 1}.get(n, 2), n))
    for name in names:
        if theirs.get(name) != identity.get(name):
            raise UsageError(
                f"Redis at {shown_url(url)} holds another crawl: its {name} is {_shown(theirs.get(name))}, "
                f"this worker's is {_shown(identity.get(name))}; start every worker with the "
                "same seeds and settings, or give this crawl another Redis database")


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


class RedisFrontier:
    """This worker's view of the shared frontier (see the module docstring).

    Every call retries while Redis is unreachable, for up to ``redis_wait`` seconds
    (then :class:`RedisLost`); a call that finds another epoch first joins the rebuilt
    frontier (``rebuild`` is what seeds an empty one).
    """

    def __init__(self, url: str, identity: dict[str, Any], *, lease: float, redis_wait: float,
                 rebuild: Callable[[RedisFrontier, bool], str]):
        self.url = url
        self.shown = shown_url(url)
        self.identity = identity
        self.lease = lease
        self.redis_wait = redis_wait
        self._rebuild = rebuild
        self.name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        #: The crawl's workers as Redis last counted them (each :meth:`acquire`).
        self.workers = 1
        self._redis = _redis_module()
        # Reachable a moment ago (the crawl's checks): from now on an outage is waited out.
        self.client = self._redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                                 decode_responses=True)
        self.scripts = {name: self.client.register_script(source) for name, source in (
            ("admit", ADMIT), ("seen", MARK_SEEN), ("acquire", ACQUIRE), ("done", DONE),
            ("ack", ACK),
            ("reclaim", RECLAIM), ("recount", RECOUNT), ("finished", FINISHED))}
        self.epoch: str | None = None
        self.crawl_id: str | None = None
        #: Called when this worker finds its Redis lost, before it joins the new one.
        self.on_lost: Callable[[], None] | None = None
        #: Round trips by kind, for the stats (the benchmark reads them per page).
        self.trips: Counter[str] = Counter()
        self.rebuilds = 0

    # -- plumbing -----------------------------------------------------------------
    def call(self, fn: Callable[[], Any], kind: str = "other") -> Any:
        """``fn()``, retried while Redis is unreachable (a restart, a failover); counted
        by ``kind`` in :attr:`trips`."""
        deadline = None
        while True:
            try:
                self.trips[kind] += 1
                return fn()
            except (self._redis.ConnectionError, self._redis.TimeoutError) as exc:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.redis_wait
                    logger.warning("Redis at %s unreachable (%s); retrying for %.0f s "
                                   "(LINKGRAPH_REDIS_WAIT)", self.shown, exc, self.redis_wait)
                if now >= deadline:
                    raise RedisLost(f"Redis at {self.shown} unreachable for {self.redis_wait:.0f} s "
                                    f"({exc})") from None
                time.sleep(0.2)

    def _script(self, name: str, args: Sequence[Any], *, rejoin: bool = True) -> Any:
        """Run a script; on another epoch join the rebuilt frontier and (``rejoin``) again."""
        while True:
            epoch = self.epoch
            try:
                return self.call(lambda: self.scripts[name](args=[epoch, *args]), name)
            except self._redis.ResponseError as exc:
                if _EPOCH not in str(exc):
                    raise
            if not rejoin:
                return None
            logger.warning("The frontier in Redis at %s is not the one this worker joined "
                           "(Redis restarted empty?): joining it again", self.shown)
            self.join()

    # -- joining --------------------------------------------------------------------
    def join(self) -> None:
        """Join the crawl in Redis, seeding or rebuilding its frontier if it is empty.

        The first worker to find no frontier takes ``lg:init`` and calls ``rebuild``
        (which admits the seeds, or what the committed parts leave to fetch, and returns
        the crawl id); the others wait until it is ready.
        """
        key = PREFIX + "meta"
        lost = self.epoch is not None
        if lost:
            # Redis was lost: what this worker fetched is committed first, so that the
            # rebuild reads it (acknowledgements of the old frontier are dropped).
            self.epoch = None
            if self.on_lost is not None:
                self.on_lost()
        while True:
            meta = self.call(lambda: self.client.hgetall(key))
            if meta.get("ready") == "1":
                check_identity(self.client, self.url, self.identity)
                self.epoch, self.crawl_id = meta["epoch"], meta["crawl_id"]
                self.heartbeat()
                return
            if self.call(lambda: self.client.set(PREFIX + "init", self.name, nx=True,
                                                   px=int(self.lease * 1000))):
                break
            time.sleep(0.1)
        # Whatever a lost Redis left half-built goes (the committed parts are the record).
        self.call(self._clear)
        epoch = uuid.uuid4().hex
        self.call(lambda: self.client.hset(key, mapping={
            "epoch": epoch, "identity": json.dumps(self.identity, sort_keys=True)}))
        self.epoch = epoch
        self.rebuilds += 1
        crawl_id = self._rebuild(self, lost)
        self.call(lambda: self.client.hset(key, mapping={"crawl_id": crawl_id, "ready": "1"}))
        self.call(lambda: self.client.delete(PREFIX + "init"))
        self.crawl_id = crawl_id
        self.heartbeat()

    def _clear(self) -> None:
        names = [k for k in self.client.scan_iter(match=PREFIX + "*", count=1000)
                 if k not in (PREFIX + "init",)]
        for start in range(0, len(names), 500):
            self.client.delete(*names[start:start + 500])

    def renew_init(self) -> None:
        """Keep ``lg:init`` while a long rebuild runs."""
        self.call(lambda: self.client.pexpire(PREFIX + "init", int(self.lease * 1000)))

    # -- the frontier ---------------------------------------------------------------
    def admit(self, entries: Sequence[tuple[str, int, int]], max_pages: int | None) -> list[int]:
        """Admit (url, depth, hops) triples; per triple 1 queued, 2 queued at a smaller
        depth, 0 already seen, -1 refused by ``max_pages``."""
        if not entries:
            return []
        args: list[Any] = [-1 if max_pages is None else max_pages]
        for url, depth, hops in entries:
            bucket, low = split_key(url)
            args += [bucket, low, depth, url, hops]
        return list(self._script("admit", args))

    def mark_seen(self, urls: Iterable[str]) -> int:
        """Record URLs already fetched (a rebuild): seen, never queued."""
        args: list[Any] = []
        for url in urls:
            args += split_key(url)
        return int(self._script("seen", args)) if args else 0

    def acquire(self, n: int) -> list[Entry]:
        """Up to ``n`` URLs that may be fetched now (the breadth-first rule)."""
        flat = self._script("acquire", [self.name, n])
        self.workers = max(1, int(flat[0]))
        return [Entry(int(flat[i]), flat[i + 1], flat[i + 2], int(flat[i + 3]), self.epoch)
                for i in range(1, len(flat), 4)]

    def done(self, entries: Iterable[tuple[int, str, str | None]]) -> int:
        """Mark (depth, id, epoch) entries whose pages are parsed (links admitted): the
        breadth-first rule counts them as done; they stay pending until :meth:`ack`."""
        args = self._current(entries)
        return int(self._script("done", [self.name, *args], rejoin=False) or 0) if args else 0

    def ack(self, entries: Iterable[tuple[int, str, str | None]]) -> int:
        """Acknowledge (depth, id, epoch) of entries whose page rows are committed.

        Entries of another epoch (a Redis that was lost since) are dropped: the rebuilt
        frontier knows those pages from the committed parts."""
        args = self._current(entries)
        return int(self._script("ack", args, rejoin=False) or 0) if args else 0

    def _current(self, entries: Iterable[tuple[int, str, str | None]]) -> list[Any]:
        """(depth, id) script arguments of the entries of this worker's epoch."""
        args: list[Any] = []
        for depth, entry_id, epoch in entries:
            if epoch == self.epoch:
                args += [depth, entry_id]
        return args

    def reclaim(self) -> int:
        """Queue again what dead workers (no heartbeat) held; return how many."""
        return int(self._script("reclaim", [self.name]) or 0)

    def recount(self) -> int:
        """Count the outstanding entries again from the streams; return how many depths'
        counts were wrong (see RECOUNT)."""
        return int(self._script("recount", []) or 0)

    def finished(self) -> bool:
        """Whether nothing is outstanding anywhere: the crawl is over."""
        return bool(self._script("finished", []))

    def heartbeat(self) -> None:
        def beat() -> None:
            pipe = self.client.pipeline()
            pipe.set(PREFIX + "alive:" + self.name, "1", px=int(self.lease * 1000))
            pipe.sadd(PREFIX + "workers", self.name)
            pipe.execute()
        self.call(beat, "heartbeat")

    def leave(self) -> None:
        """This worker ends: its heartbeat goes (what it still held is reclaimed)."""
        try:
            self.client.delete(PREFIX + "alive:" + self.name)
        except self._redis.RedisError:
            pass

    def claim_sitemap(self, url: str) -> bool:
        """Whether this worker reads the sitemap ``url`` (one worker reads each)."""
        return bool(self.call(lambda: self.client.sadd(PREFIX + "sitemaps", url)))

    def mark_sitemaps(self, urls: Iterable[str]) -> None:
        urls = list(urls)
        if urls:
            self.call(lambda: self.client.sadd(PREFIX + "sitemaps", *urls))

    @property
    def round_trips(self) -> int:
        return sum(self.trips.values())
