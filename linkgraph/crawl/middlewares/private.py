"""Check the addresses Twisted connects to without asking the resolver.

Twisted's TCP client skips name resolution for an IP literal, so
``http://169.254.169.254/`` never reaches :class:`MappedResolver`; neither does the
``IP:PORT`` proxy that ``--resolve HOST=IP:PORT`` sends a request to. This middleware
applies the same policy (:mod:`linkgraph.crawl.netguard`) to those before the download
handler runs, so no socket is opened. Names are left to the resolver.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from scrapy.utils.httpobj import urlparse_cached
from w3lib.url import parse_url

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
    """Refuse requests whose connect address is an IP literal the crawl may not reach."""

    def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname
        proxy = request.meta.get("proxy")
        if proxy:
            # The connection goes to the proxy (a --resolve IP:PORT mapping), and the
            # URL's host is answered by it: the proxy address is what must be checked.
            ip = _ip_literal(parse_url(proxy).hostname)
        else:
            ip = _ip_literal(host)
        if ip is not None:
            GUARD.check(host or ip, ip)  # raises PrivateAddressError
