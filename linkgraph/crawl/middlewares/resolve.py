"""``--resolve HOST=IP[:PORT]``: crawl a host at an address of the user's choosing.

Two halves, because Scrapy resolves names in one place and picks the connection
endpoint in another:

* :class:`MappedResolver` (``DNS_RESOLVER``) answers mapped host names with their IP
  and never queries DNS for them; with ``LINKGRAPH_RESOLVE_ONLY`` it fails every other
  name, so no DNS query leaves the machine at all.
* :class:`ConnectToMiddleware` handles a mapping with a port: an ``http://`` request
  for HOST is sent to IP:PORT as a proxy request (absolute URI, original Host header),
  which is what curl's ``--connect-to`` does. The URL, the Host header, the robots.txt
  and the rows written all keep the real host name.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from linkgraph.crawl.config import HostMapping, _as_list, parse_resolve
from linkgraph.crawl.netguard import GUARD

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Request meta: the ``--resolve`` IP:PORT this middleware set as the request's proxy
#: (told apart from an ``http_proxy`` of the environment by the private-address guard).
CONNECT_TO_META = "lg_connect_to"


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _mapping(crawler: Crawler) -> dict[str, HostMapping]:
    return parse_resolve(_as_list(crawler.settings.get("LINKGRAPH_RESOLVE")))


class MappedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, answering ``--resolve`` hosts from the map."""

    def __init__(self, reactor, cache_size: int, timeout: float,
                 mapping: dict[str, HostMapping], resolve_only: bool):
        super().__init__(reactor, cache_size, timeout)
        self.mapping = mapping
        self.resolve_only = resolve_only

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor) -> MappedResolver:  # type: ignore[override]
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), _mapping(crawler),
                   settings.getbool("LINKGRAPH_RESOLVE_ONLY"))

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        mapped = self.mapping.get(name.lower().rstrip("."))
        if mapped is not None:
            return self._checked(name, mapped.ip)
        if _is_ip(name):  # e.g. the IP:PORT of a --resolve proxy mapping
            return self._checked(name, name)
        if self.resolve_only:
            return defer.fail(DNSLookupError(f"{name} is not in the --resolve map (resolve-only mode)"))
        # Resolve first, then decide: a public name may resolve to a private address.
        return super().getHostByName(name, timeout).addCallback(self._check_answer, name)

    @staticmethod
    def _check_answer(ip: str, name: str) -> str:
        GUARD.check(name, ip)  # raises PrivateAddressError: Twisted never connects
        return ip

    def _checked(self, name: str, ip: str) -> defer.Deferred[str]:
        try:
            return defer.succeed(self._check_answer(ip, name))
        except Exception:  # noqa: BLE001 - handed to the caller as a failed Deferred
            return defer.fail()


class ConnectToMiddleware:
    """Send ``http://HOST`` requests to the IP:PORT that ``--resolve`` maps HOST to."""

    def __init__(self, mapping: dict[str, HostMapping]):
        self.proxies = {
            host: f"http://{m.ip if ':' not in m.ip else f'[{m.ip}]'}:{m.port}"
            for host, m in mapping.items()
            if m.port is not None
        }
        if not self.proxies:
            raise NotConfigured

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConnectToMiddleware:
        return cls(_mapping(crawler))

    def process_request(self, request: Request) -> None:
        parsed = urlparse_cached(request)
        proxy = self.proxies.get(parsed.hostname or "")
        previous = request.meta.pop(CONNECT_TO_META, None)
        if previous is not None and request.meta.get("proxy") == previous:
            # Copied from the request this one redirects from (robots.txt redirects keep
            # meta): the new host is reached on its own terms, not at the old one's IP.
            del request.meta["proxy"]
        if proxy is None:
            return
        if parsed.scheme != "http":
            # Scrapy would tunnel https through CONNECT, which a plain web server
            # does not speak: say so instead of failing obscurely.
            raise IgnoreRequest(
                f"--resolve with a port only works for http:// URLs, not {request.url}"
            )
        request.meta["proxy"] = request.meta[CONNECT_TO_META] = proxy
