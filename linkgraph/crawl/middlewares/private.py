"""Check the addresses Twisted connects to without asking the resolver.

Twisted's TCP client skips name resolution for an IP literal, so
``http://169.254.169.254/`` never reaches :class:`MappedResolver`; neither does the
``IP:PORT`` proxy that ``--resolve HOST=IP:PORT`` sends a request to. This middleware
applies the same policy (:mod:`linkgraph.crawl.netguard`) to those before the download
handler runs, so no socket is opened. Names are left to the resolver.

Through a proxy of the environment (``http_proxy``/``https_proxy``, applied by
HttpProxyMiddleware just before this one) the connection goes to the proxy, which
resolves and fetches the target itself: the guard would only ever see the proxy's
address. So the *target* is decided on here: an IP literal as it is, a name resolved
first through the crawl's own resolver (which applies the guard, and honours
``--resolve`` and resolve-only mode), so an internal name or a numeric encoding such as
``http://2130706433/`` is refused before the proxy is asked for it. The proxy resolves
the name again when it connects; a proxy whose DNS answers differently from this
machine's is beyond what the crawler can see.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from w3lib.url import parse_url

from linkgraph.crawl.middlewares.resolve import CONNECT_TO_META
from linkgraph.crawl.netguard import GUARD

if TYPE_CHECKING:
    from scrapy import Request


def _ip_literal(host: str | None) -> str | None:
    if not host:
        return None
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return host


class PrivateAddressMiddleware:
    """Refuse requests whose connect address (or proxied target) the crawl may not reach."""

    async def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        proxy = request.meta.get("proxy")
        if proxy and request.meta.get(CONNECT_TO_META) == proxy:
            # A --resolve IP:PORT mapping: that address is where the host is.
            ip = _ip_literal(parse_url(proxy).hostname)
            if ip is not None:
                GUARD.check(host or ip, ip, proxy_ok=False)  # raises PrivateAddressError
            return
        ip = _ip_literal(host)
        if ip is not None:
            GUARD.check(host, ip, proxy_ok=False)
        elif proxy:
            from twisted.internet import reactor

            # Raises PrivateAddressError (or DNSLookupError) like a direct fetch would.
            resolved = await maybe_deferred_to_future(reactor.resolve(host))
            GUARD.check(host, resolved, proxy_ok=False)
