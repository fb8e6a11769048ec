"""The ``LINKGRAPH_*`` settings, parsed and checked once per crawl.

Components call :func:`crawl_config` with their crawler; the first call parses and
caches the result on the crawler, so a bad value fails once, with one clear message.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkgraph.errors import UsageError

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings


@dataclass(frozen=True, slots=True)
class HostMapping:
    """Where ``--resolve HOST=IP[:PORT]`` sends a host."""

    ip: str
    port: int | None = None


@dataclass(frozen=True, slots=True)
class CrawlConfig:
    output: str
    crawl_id: str | None
    max_depth: int | None
    max_pages: int | None
    allow: tuple[str, ...]
    resolve: dict[str, HostMapping]
    resolve_only: bool
    follow_page_nofollow: bool
    follow_rel_nofollow: bool
    follow_types: frozenset[str]
    max_crawl_delay: float
    flush_pages: int
    flush_seconds: float
    progress_interval: float
    fresh: bool
    # Safety and limits (docs/reliability.md); defaults as in linkgraph/settings.py.
    allow_private: bool = False
    max_links_per_page: int | None = 100_000
    max_url_length: int | None = 2083
    max_pages_per_host: int | None = None
    max_path_repeat: int | None = 3
    max_query_variants: int | None = 1000
    session_params: frozenset[str] = frozenset()
    max_retry_after: float = 60.0
    robots_retry: float = 60.0
    compact: bool = True
    compact_rows: int = 2_000_000


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value if str(v).strip()]  # type: ignore[union-attr]


def _optional_int(settings: BaseSettings, name: str, zero_is_limit: bool = False) -> int | None:
    """A whole-number limit; None (and 0, unless ``zero_is_limit``) means no limit."""
    value = settings.get(name)
    if value in (None, "", "None", "none") or (not zero_is_limit and value in (0, "0")):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a whole number, got {value!r}") from None
    if number < 0:
        raise UsageError(f"{name} must not be negative, got {number}")
    return number


def _bool(settings: BaseSettings, name: str) -> bool:
    try:
        return settings.getbool(name)
    except ValueError:
        raise UsageError(f"{name} must be True or False, got {settings.get(name)!r}") from None


def _positive_int(settings: BaseSettings, name: str) -> int:
    value = settings.get(name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or (isinstance(value, float) and value != number):
        raise UsageError(f"{name} must be a whole number >= 1, got {value!r}")
    return number


def parse_resolve(entries: list[str]) -> dict[str, HostMapping]:
    """Parse ``HOST=IP`` / ``HOST=IP:PORT`` entries (``[v6]:PORT`` for IPv6)."""
    mapping: dict[str, HostMapping] = {}
    for entry in entries:
        host, sep, target = entry.partition("=")
        host = host.strip().lower().rstrip(".")
        target = target.strip()
        if not sep or not host or not target:
            raise UsageError(f"--resolve takes HOST=IP or HOST=IP:PORT, got {entry!r}")
        port: int | None = None
        if target.startswith("["):
            ip, _, rest = target[1:].partition("]")
            if rest.startswith(":"):
                port = _port(rest[1:], entry)
        elif target.count(":") == 1:
            ip, port_text = target.split(":")
            port = _port(port_text, entry)
        else:
            ip = target
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise UsageError(f"--resolve {entry!r}: {ip!r} is not an IP address") from None
        mapping[host] = HostMapping(ip, port)
    return mapping


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"--resolve {entry!r}: bad port {text!r}")
    return int(text)


def parse_settings(settings: BaseSettings) -> CrawlConfig:
    """Build a :class:`CrawlConfig` from Scrapy settings; raise UsageError if bad."""
    output = settings.get("LINKGRAPH_OUTPUT")
    if not output:
        raise UsageError("no output folder: pass -s LINKGRAPH_OUTPUT=DIR (or linkgraph crawl -o DIR)")
    try:
        flush_pages = int(settings.get("LINKGRAPH_FLUSH_PAGES"))
        flush_seconds = float(settings.get("LINKGRAPH_FLUSH_SECONDS"))
        max_delay = float(settings.get("LINKGRAPH_MAX_CRAWL_DELAY"))
        progress = float(settings.get("LINKGRAPH_PROGRESS_INTERVAL"))
        max_retry_after = float(settings.get("LINKGRAPH_MAX_RETRY_AFTER", 60.0))
        robots_retry = float(settings.get("LINKGRAPH_ROBOTS_RETRY", 60.0))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad LINKGRAPH_* number setting: {exc}") from None
    return CrawlConfig(
        output=str(output),
        crawl_id=settings.get("LINKGRAPH_CRAWL_ID") or None,
        # Depth 0 is a real limit: the seeds only.
        max_depth=_optional_int(settings, "LINKGRAPH_MAX_DEPTH", zero_is_limit=True),
        max_pages=_optional_int(settings, "LINKGRAPH_MAX_PAGES"),
        allow=tuple(h.lower().strip(".") for h in _as_list(settings.get("LINKGRAPH_ALLOW"))),
        resolve=parse_resolve(_as_list(settings.get("LINKGRAPH_RESOLVE"))),
        resolve_only=settings.getbool("LINKGRAPH_RESOLVE_ONLY"),
        follow_page_nofollow=settings.getbool("LINKGRAPH_FOLLOW_PAGE_NOFOLLOW"),
        follow_rel_nofollow=settings.getbool("LINKGRAPH_FOLLOW_REL_NOFOLLOW"),
        follow_types=frozenset(_as_list(settings.get("LINKGRAPH_FOLLOW_TYPES"))),
        max_crawl_delay=max_delay,
        flush_pages=max(1, flush_pages),
        flush_seconds=flush_seconds,
        progress_interval=progress,
        fresh=settings.getbool("LINKGRAPH_FRESH"),
        allow_private=settings.getbool("LINKGRAPH_ALLOW_PRIVATE"),
        max_links_per_page=_optional_int(settings, "LINKGRAPH_MAX_LINKS_PER_PAGE"),
        max_url_length=_optional_int(settings, "LINKGRAPH_MAX_URL_LENGTH"),
        max_pages_per_host=_optional_int(settings, "LINKGRAPH_MAX_PAGES_PER_HOST"),
        max_path_repeat=_optional_int(settings, "LINKGRAPH_MAX_PATH_REPEAT"),
        max_query_variants=_optional_int(settings, "LINKGRAPH_MAX_QUERY_VARIANTS"),
        session_params=frozenset(p.lower() for p in _as_list(settings.get("LINKGRAPH_SESSION_PARAMS"))),
        max_retry_after=max(0.0, max_retry_after),
        robots_retry=max(0.0, robots_retry),
        compact=_bool(settings, "LINKGRAPH_COMPACT"),
        compact_rows=_positive_int(settings, "LINKGRAPH_COMPACT_ROWS"),
    )


def crawl_config(crawler: Crawler) -> CrawlConfig:
    """Return the crawl's config, parsed on first use and cached on the crawler."""
    config = getattr(crawler, "_linkgraph_config", None)
    if config is None:
        config = parse_settings(crawler.settings)
        crawler._linkgraph_config = config  # type: ignore[attr-defined]
    return config
