"""Breadth-first release of page requests: ``depth`` is the shortest click distance.

A scheduler that runs requests in priority order (``-depth``) is breadth-first only with
one request at a time. With many in flight, a slow page of depth 1 can still be
downloading when pages of depth 3 are parsed, and a URL they link to would be recorded
at depth 4 although the slow page links to it at depth 2: the same web crawled twice
would give different depths.

The rule kept here: a request of depth ``d`` goes to Scrapy only when every page of
depth ``d - 2`` or less is done (its response parsed and its links admitted). Then every
page that could still give the URL a smaller depth is parsed already, by induction
along a shortest path from a seed, so the depth it is fetched with is its click
distance. Until then the request is held here, and a held URL found again at a smaller
depth is moved to that depth. Two depths are fetched at once, so the tail of one level
overlaps the next instead of emptying the downloader at each level.

Redirect hops keep their source's depth (a redirect is not a click), which the rule
allows at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import scrapy


class DepthFrontier:
    """Hold page requests until their depth may be fetched (see the module docstring).

    ``release`` hands a request to Scrapy (``engine.crawl``); :meth:`admit` returns the
    requests that may go at once, for the caller to yield.
    """

    def __init__(self, release: Callable[[scrapy.Request], None]):
        self._release = release
        #: depth -> {URL key: request} not yet given to Scrapy.
        self._held: dict[int, dict[int, scrapy.Request]] = {}
        #: URL key -> depth of its held request.
        self._depth_of: dict[int, int] = {}
        #: depth -> requests given to Scrapy whose page is not done.
        self._active: Counter[int] = Counter()

    def __len__(self) -> int:
        return len(self._depth_of)

    def _may_go(self, depth: int) -> bool:
        return not any(d <= depth - 2 for d in self._active)

    def admit(self, key: int, request: scrapy.Request, depth: int) -> scrapy.Request | None:
        """``request`` if it may be fetched now (counted active), else None (held)."""
        if self._may_go(depth):
            self._active[depth] += 1
            return request
        self._held.setdefault(depth, {})[key] = request
        self._depth_of[key] = depth
        return None

    def lower(self, key: int, depth: int) -> None:
        """A link to an already scheduled URL at ``depth``: a held request moves up to it.

        A request already given to Scrapy never needs to (the rule above).
        """
        old = self._depth_of.get(key)
        if old is None or old <= depth:
            return
        request = self._held[old].pop(key)
        if not self._held[old]:
            del self._held[old]
        request.meta["lg_depth"] = depth
        request.priority = -depth
        self._held.setdefault(depth, {})[key] = request
        self._depth_of[key] = depth

    def done(self, depth: int) -> None:
        """The page of a request of ``depth`` is parsed and its links admitted."""
        self._active[depth] -= 1
        if self._active[depth] <= 0:
            del self._active[depth]
        self._flush()

    def idle(self) -> bool:
        """Scrapy has nothing left to do; return whether held requests were released.

        A request still counted active then ended without reaching a callback (none is
        expected to); it is forgotten rather than holding the crawl forever.
        """
        if not self._held:
            return False
        self._active.clear()
        self._flush()
        return True

    def _flush(self) -> None:
        for depth in sorted(self._held):
            if not self._may_go(depth):
                break
            for key, request in self._held.pop(depth).items():
                del self._depth_of[key]
                self._active[depth] += 1
                self._release(request)
