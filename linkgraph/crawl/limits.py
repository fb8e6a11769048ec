"""The per-URL limits that keep a crawl of a hostile site finite.

:class:`CrawlLimits` answers one question for the spider, for each new URL it is
about to schedule: may it be fetched, and if not, why. The reasons (also the stats
keys ``linkgraph/skipped/<reason>`` and the words of ``pages.not_followed``):

``scheme``           only http and https are fetched (never file:, ftp:, data:, s3:)
``url_length``       longer than ``LINKGRAPH_MAX_URL_LENGTH``
``trap_path``        a path segment repeated more than ``LINKGRAPH_MAX_PATH_REPEAT`` times
``trap_query``       more than ``LINKGRAPH_MAX_QUERY_VARIANTS`` query strings on one path
``max_pages_per_host`` the host already has ``LINKGRAPH_MAX_PAGES_PER_HOST`` pages

Session ids are not a refusal: :meth:`CrawlLimits.seen_url` drops the session
parameters from the URL the seen-set remembers, so the same page under a new session
id counts as seen. Each limit is logged once per crawl, when it is first hit.

Memory: one int per host, and one per (host, path) that has a query string.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from urllib.parse import urlsplit

from linkgraph.crawl.config import CrawlConfig

logger = logging.getLogger(__name__)

_FETCHED_SCHEMES = ("http://", "https://")


class CrawlLimits:
    """Decide whether a new URL may be scheduled; count what was scheduled."""

    def __init__(self, config: CrawlConfig):
        self.config = config
        self.per_host: Counter[str] = Counter()
        #: hash((host, path)) -> distinct query strings scheduled on that path.
        self.query_variants: Counter[int] = Counter()
        self._logged: set[str] = set()
        params = sorted(config.session_params)
        # Matches name=value in a query (&/?-separated) or a ;name=value path parameter.
        self._session_re = re.compile(
            r"([;&?])(?:" + "|".join(map(re.escape, params)) + r")=[^&;#/?]*", re.IGNORECASE
        ) if params else None
        self._session_names = tuple(p.lower() + "=" for p in params)

    def seen_url(self, url: str) -> str:
        """``url`` without session-id parameters (the identical string when it has none)."""
        if self._session_re is None:
            return url
        lowered = url.lower()
        if not any(name in lowered for name in self._session_names):  # the common case
            return url
        stripped = self._session_re.sub(lambda m: m.group(1) if m.group(1) == "?" else "", url)
        # "?&b=1" / a lone trailing "?" left by the removal.
        return stripped.replace("?&", "?").rstrip("?")

    def refuse(self, url: str) -> str | None:
        """Why ``url`` must not be fetched, or None (then it is counted as scheduled)."""
        config = self.config
        if not url.lower().startswith(_FETCHED_SCHEMES):
            return self._refused("scheme", url)
        if config.max_url_length is not None and len(url) > config.max_url_length:
            return self._refused("url_length", url)
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return self._refused("scheme", url)
        if config.max_path_repeat is not None:
            segments = [s for s in parts.path.split("/") if s]
            if len(segments) > config.max_path_repeat and max(
                    Counter(segments).values()) > config.max_path_repeat:
                return self._refused("trap_path", url)
        query_key = None
        if parts.query and config.max_query_variants is not None:
            query_key = hash((host, parts.path))
            if self.query_variants[query_key] >= config.max_query_variants:
                return self._refused("trap_query", url)
        if (config.max_pages_per_host is not None
                and self.per_host[host] >= config.max_pages_per_host):
            return self._refused("max_pages_per_host", url)
        self.per_host[host] += 1
        if query_key is not None:
            self.query_variants[query_key] += 1
        return None

    def restore(self, urls: Iterable[str]) -> None:
        """Count ``urls`` as scheduled: what earlier sessions of a resumed crawl fetched
        (its committed pages rows), so that per-host and query-variant caps go on from
        there instead of starting again at zero with each session."""
        per_host, query_variants = self.per_host, self.query_variants
        for url in urls:
            try:
                parts = urlsplit(url)
                host = parts.hostname or ""
            except ValueError:
                continue
            per_host[host] += 1
            if parts.query:
                query_variants[hash((host, parts.path))] += 1

    def _refused(self, reason: str, url: str) -> str:
        if reason not in self._logged:  # once per crawl, not once per link
            self._logged.add(reason)
            logger.warning("Not fetching %.200s (%s); further URLs held back by this limit are "
                           "only counted (stats linkgraph/skipped/%s)", url, reason, reason)
        return reason


def format_skips(skips: Counter[str]) -> str | None:
    """``reason=count,...`` for ``pages.not_followed`` (None when nothing was held back)."""
    if not skips:
        return None
    return ",".join(f"{reason}={n}" for reason, n in sorted(skips.items()))
