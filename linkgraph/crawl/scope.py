"""Which hosts a crawl fetches: ``--allow`` hosts/domains, or the seeds' domains."""

from __future__ import annotations

from collections.abc import Iterable

from linkgraph.urls import registered_domain, url_host


class Scope:
    """Decide whether a host is fetched. A domain entry covers its subdomains.

    Decisions are cached per host: a crawl meets few hosts and many links.
    """

    def __init__(self, allow: Iterable[str]):
        self.allow = tuple(sorted({a.lower().strip(".") for a in allow if a}))
        self._cache: dict[str, bool] = {}

    @classmethod
    def for_seeds(cls, seeds: Iterable[str], allow: Iterable[str] = ()) -> Scope:
        """``allow`` if given, else the registered domains of ``seeds``."""
        allow = list(allow)
        if not allow:
            allow = [registered_domain(url_host(s)) or "" for s in seeds]
        return cls(allow)

    def allows(self, host: str | None) -> bool:
        if not host:
            return False
        decision = self._cache.get(host)
        if decision is None:
            decision = any(host == a or host.endswith("." + a) for a in self.allow)
            self._cache[host] = decision
        return decision
