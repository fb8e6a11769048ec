"""The crawl's settings, parsed and checked in one place, before anything is written.

``linkgraph crawl`` and ``scrapy crawl links`` both run :func:`check_settings` before
the crawl folder is touched: a misspelt ``LINKGRAPH_*`` name, a Scrapy setting of the
wrong type or out of range (:data:`SCRAPY_SETTINGS`) or a bad ``LINKGRAPH_*`` value is
one :class:`UsageError` line. Components then call :func:`crawl_config` with their
crawler; the first call parses and caches the result on the crawler.

Every default lives in ``linkgraph/settings.py``; a Settings object that lacks a name
(a test's, a library caller's) falls back to that module, never to a second copy here.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from linkgraph import settings as project_settings
from linkgraph.crawl.netguard import parse_networks
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
    allow_private: bool
    #: ``--allow-address CIDR``: non-public networks that may be fetched like a seed's address.
    allow_address: tuple[str, ...]
    max_links_per_page: int | None
    max_nesting: int | None
    max_url_length: int | None
    max_pages_per_host: int | None
    max_path_repeat: int | None
    max_query_variants: int | None
    session_params: frozenset[str]
    max_retry_after: float
    robots_retry: float
    compact: bool
    compact_rows: int
    sitemaps: bool
    sitemap_follow: bool
    #: The shared frontier's Redis URL (a distributed crawl's worker), or None.
    frontier: str | None = None
    worker_lease: float = 30.0
    redis_wait: float = 60.0


@dataclass(frozen=True, slots=True)
class Rule:
    """What a setting must hold: ``kind`` (bool, int, float or str), and for numbers
    the least value (``above``: the least value itself is refused too)."""

    kind: type
    least: float | None = None
    above: bool = False
    choices: tuple[str, ...] = ()


#: Scrapy's settings that a crawl reads, with the type and range Scrapy needs. Scrapy
#: itself converts them deep inside its components, as a traceback after the crawl
#: folder is opened (or not at all: a negative DOWNLOAD_TIMEOUT fails every request).
SCRAPY_SETTINGS: dict[str, Rule] = {
    "CONCURRENT_REQUESTS": Rule(int, 1),
    "CONCURRENT_REQUESTS_PER_DOMAIN": Rule(int, 1),
    "CONCURRENT_ITEMS": Rule(int, 1),
    "DOWNLOAD_DELAY": Rule(float, 0),
    "RANDOMIZE_DOWNLOAD_DELAY": Rule(bool),
    "DOWNLOAD_TIMEOUT": Rule(float, 0, above=True),
    "DOWNLOAD_MAXSIZE": Rule(int, 0),
    "DOWNLOAD_WARNSIZE": Rule(int, 0),
    "DOWNLOAD_FAIL_ON_DATALOSS": Rule(bool),
    "DNS_TIMEOUT": Rule(float, 0, above=True),
    "DNSCACHE_ENABLED": Rule(bool),
    "DNSCACHE_SIZE": Rule(int, 1),
    "REACTOR_THREADPOOL_MAXSIZE": Rule(int, 1),
    "ROBOTSTXT_OBEY": Rule(bool),
    "AUTOTHROTTLE_ENABLED": Rule(bool),
    "AUTOTHROTTLE_START_DELAY": Rule(float, 0),
    "AUTOTHROTTLE_MAX_DELAY": Rule(float, 0),
    "AUTOTHROTTLE_TARGET_CONCURRENCY": Rule(float, 0, above=True),
    "AUTOTHROTTLE_DEBUG": Rule(bool),
    "RETRY_ENABLED": Rule(bool),
    "RETRY_TIMES": Rule(int, 0),
    "REDIRECT_ENABLED": Rule(bool),
    "REDIRECT_MAX_TIMES": Rule(int, 0),
    "COOKIES_ENABLED": Rule(bool),
    "COMPRESSION_ENABLED": Rule(bool),
    "HTTPCACHE_ENABLED": Rule(bool),
    "CLOSESPIDER_TIMEOUT": Rule(float, 0),
    "CLOSESPIDER_ITEMCOUNT": Rule(int, 0),
    "CLOSESPIDER_PAGECOUNT": Rule(int, 0),
    "CLOSESPIDER_ERRORCOUNT": Rule(int, 0),
    "MEMUSAGE_ENABLED": Rule(bool),
    "MEMUSAGE_LIMIT_MB": Rule(int, 0),
    "MEMUSAGE_WARNING_MB": Rule(int, 0),
    "LOG_ENABLED": Rule(bool),
    "LOG_LEVEL": Rule(str, choices=("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")),
}

#: Every ``LINKGRAPH_*`` setting there is: the names linkgraph/settings.py defines.
KNOWN_NAMES = frozenset(name for name in vars(project_settings) if name.startswith("LINKGRAPH_"))


def _value(settings: BaseSettings, name: str) -> Any:
    """The setting, or linkgraph/settings.py's default when ``settings`` lacks it."""
    return settings.get(name, getattr(project_settings, name, None))


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value if str(v).strip()]  # type: ignore[union-attr]


def number_setting(settings: BaseSettings, name: str, kind: type, least: float,
                   *, above: bool = False) -> Any:
    """A finite ``kind`` (int or float) >= ``least`` (> with ``above``); else UsageError."""
    value = _value(settings, name)
    what = "a whole number" if kind is int else "a number"
    bound = f"{what} {'>' if above else '>='} {least:g}"
    try:
        text = value.strip() if isinstance(value, str) else value
        number = kind(text)
        if kind is int and isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{name} must be {bound}, got {value!r}") from None
    if not math.isfinite(number) or number < least or (above and number == least):
        raise UsageError(f"{name} must be {bound}, got {value!r}")
    return number


def bool_setting(settings: BaseSettings, name: str) -> bool:
    """A boolean spelt as Scrapy's ``getbool`` reads it (0/1, True/False, true/false)."""
    value = _value(settings, name)
    try:
        return bool(int(value))
    except (TypeError, ValueError):
        if value in ("True", "true"):
            return True
        if value in ("False", "false"):
            return False
    raise UsageError(f"{name} must be True or False, got {value!r}")


def _optional_int(settings: BaseSettings, name: str, zero_is_limit: bool = False) -> int | None:
    """A whole-number limit; None (and 0, unless ``zero_is_limit``) means no limit."""
    value = _value(settings, name)
    if value in (None, "", "None", "none") or (not zero_is_limit and value in (0, "0")):
        return None
    return number_setting(settings, name, int, 0)


def _check_rule(settings: BaseSettings, name: str, rule: Rule) -> None:
    if rule.kind is bool:
        bool_setting(settings, name)
    elif rule.choices:
        value = _value(settings, name)
        # Case matters: logging knows "DEBUG", not "debug".
        if not (isinstance(value, int) or value in rule.choices):
            raise UsageError(f"{name} must be one of {', '.join(rule.choices)}, got {value!r}")
    else:
        number_setting(settings, name, rule.kind, rule.least or 0, above=rule.above)


def check_names(settings: BaseSettings) -> None:
    """Refuse a ``LINKGRAPH_*`` name linkgraph does not have (a typo is otherwise ignored)."""
    for name in settings:
        if name.startswith("LINKGRAPH_") and name not in KNOWN_NAMES:
            # Compared without the shared prefix, which would make every name look close.
            close = difflib.get_close_matches(name[10:], [n[10:] for n in KNOWN_NAMES], n=1, cutoff=0.6)
            hint = (f": did you mean LINKGRAPH_{close[0]}?" if close
                    else " (linkgraph/settings.py lists every LINKGRAPH_ setting)")
            raise UsageError(f"unknown setting {name}{hint}")


def check_settings(settings: BaseSettings) -> CrawlConfig:
    """Check every setting a crawl reads (names, Scrapy's, linkgraph's); return the config.

    The one check both ``linkgraph crawl`` and ``scrapy crawl links`` run before the crawl
    folder is touched. Raises :class:`UsageError` naming the first bad setting.
    """
    from linkgraph.render import parse_render_settings

    check_names(settings)
    for name, rule in SCRAPY_SETTINGS.items():
        _check_rule(settings, name, rule)
    config = parse_settings(settings)
    parse_render_settings(settings)
    number_setting(settings, "LINKGRAPH_WARC_ROTATE_MB", float, 0, above=True)
    return config


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
    """Build a :class:`CrawlConfig` from the ``LINKGRAPH_*`` settings; UsageError if bad."""
    output = _value(settings, "LINKGRAPH_OUTPUT")
    if not output:
        raise UsageError("no output folder: pass -s LINKGRAPH_OUTPUT=DIR (or linkgraph crawl -o DIR)")
    return CrawlConfig(
        output=str(output),
        crawl_id=_value(settings, "LINKGRAPH_CRAWL_ID") or None,
        # Depth 0 is a real limit: the seeds only.
        max_depth=_optional_int(settings, "LINKGRAPH_MAX_DEPTH", zero_is_limit=True),
        max_pages=_optional_int(settings, "LINKGRAPH_MAX_PAGES"),
        allow=tuple(h.lower().strip(".") for h in _as_list(_value(settings, "LINKGRAPH_ALLOW"))),
        resolve=parse_resolve(_as_list(_value(settings, "LINKGRAPH_RESOLVE"))),
        resolve_only=bool_setting(settings, "LINKGRAPH_RESOLVE_ONLY"),
        follow_page_nofollow=bool_setting(settings, "LINKGRAPH_FOLLOW_PAGE_NOFOLLOW"),
        follow_rel_nofollow=bool_setting(settings, "LINKGRAPH_FOLLOW_REL_NOFOLLOW"),
        follow_types=frozenset(_as_list(_value(settings, "LINKGRAPH_FOLLOW_TYPES"))),
        max_crawl_delay=number_setting(settings, "LINKGRAPH_MAX_CRAWL_DELAY", float, 0),
        flush_pages=number_setting(settings, "LINKGRAPH_FLUSH_PAGES", int, 1),
        # NaN would compare false forever: time-based commits silently off.
        flush_seconds=number_setting(settings, "LINKGRAPH_FLUSH_SECONDS", float, 0),
        progress_interval=number_setting(settings, "LINKGRAPH_PROGRESS_INTERVAL", float, 0),
        fresh=bool_setting(settings, "LINKGRAPH_FRESH"),
        allow_private=bool_setting(settings, "LINKGRAPH_ALLOW_PRIVATE"),
        allow_address=tuple(str(n) for n in parse_networks(
            _as_list(_value(settings, "LINKGRAPH_ALLOW_ADDRESS")))),
        max_links_per_page=_optional_int(settings, "LINKGRAPH_MAX_LINKS_PER_PAGE"),
        max_nesting=_optional_int(settings, "LINKGRAPH_MAX_NESTING"),
        max_url_length=_optional_int(settings, "LINKGRAPH_MAX_URL_LENGTH"),
        max_pages_per_host=_optional_int(settings, "LINKGRAPH_MAX_PAGES_PER_HOST"),
        max_path_repeat=_optional_int(settings, "LINKGRAPH_MAX_PATH_REPEAT"),
        max_query_variants=_optional_int(settings, "LINKGRAPH_MAX_QUERY_VARIANTS"),
        session_params=frozenset(p.lower() for p in _as_list(_value(settings, "LINKGRAPH_SESSION_PARAMS"))),
        max_retry_after=number_setting(settings, "LINKGRAPH_MAX_RETRY_AFTER", float, 0),
        robots_retry=number_setting(settings, "LINKGRAPH_ROBOTS_RETRY", float, 0),
        compact=bool_setting(settings, "LINKGRAPH_COMPACT"),
        compact_rows=number_setting(settings, "LINKGRAPH_COMPACT_ROWS", int, 1),
        sitemaps=bool_setting(settings, "LINKGRAPH_SITEMAPS"),
        sitemap_follow=bool_setting(settings, "LINKGRAPH_SITEMAP_FOLLOW"),
        frontier=_frontier(settings),
        worker_lease=number_setting(settings, "LINKGRAPH_WORKER_LEASE", float, 0, above=True),
        redis_wait=number_setting(settings, "LINKGRAPH_REDIS_WAIT", float, 0),
    )


def _frontier(settings: BaseSettings) -> str | None:
    value = _value(settings, "LINKGRAPH_FRONTIER")
    if value in (None, "", "None"):
        return None
    url = str(value)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise UsageError(f"--frontier takes redis://HOST:PORT/DB or unix:///PATH, got {url!r}")
    if bool_setting(settings, "LINKGRAPH_FRESH"):
        raise UsageError("--fresh cannot be used with --frontier/--workers: a shared crawl "
                         "is replaced by emptying its Redis database and output folder")
    return url


def crawl_config(crawler: Crawler) -> CrawlConfig:
    """Return the crawl's config, checked (:func:`check_settings`) on first use and cached
    on the crawler."""
    config = getattr(crawler, "_linkgraph_config", None)
    if config is None:
        config = check_settings(crawler.settings)
        crawler._linkgraph_config = config  # type: ignore[attr-defined]
    return config
