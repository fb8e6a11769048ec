"""The ``http_proxy`` / ``https_proxy`` of the environment, as Scrapy will use them.

Scrapy's HttpProxyMiddleware sends requests through these. The private-address guard
must then decide on the *target* (the proxy would resolve and connect to it), not on
the proxy, which is the user's own choice (see
:class:`linkgraph.crawl.middlewares.private.PrivateAddressMiddleware`). A proxy that
cannot be reached would fail every page one by one: :func:`check_reachable` says so
once, before the crawl starts.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass  # type: ignore[attr-defined]

from linkgraph.errors import UsageError

#: Schemes whose proxies Scrapy uses (no_proxy applies to these only).
SCHEMES = ("http", "https")


def env_proxies() -> dict[str, str]:
    """scheme -> proxy URL, for the schemes a crawl fetches."""
    return {scheme: url for scheme, url in getproxies().items() if scheme in SCHEMES and url}


def _host_port(url: str) -> tuple[str, int] | None:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def env_proxy_hosts() -> tuple[str, ...]:
    """Host names (or IPs) of the environment's proxies."""
    return tuple(hp[0] for url in env_proxies().values() if (hp := _host_port(url)))


def check_reachable(seeds: Iterable[str], timeout: float = 5.0) -> None:
    """Raise UsageError if a proxy the seeds would be fetched through refuses a connection."""
    proxies = env_proxies()
    checked: set[tuple[str, int]] = set()
    for seed in seeds:
        parts = urlsplit(seed)
        url = proxies.get(parts.scheme)
        if url is None or (parts.hostname and proxy_bypass(parts.hostname)):
            continue
        target = _host_port(url)
        if target is None:
            raise UsageError(f"{parts.scheme}_proxy {url!r} is not a proxy URL")
        if target in checked:
            continue
        checked.add(target)
        try:
            socket.create_connection(target, timeout=timeout).close()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise UsageError(f"the proxy {url} ({parts.scheme}_proxy) cannot be reached: "
                             f"{reason}") from None
