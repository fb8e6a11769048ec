"""Name why a fetch failed, for the ``error`` column of ``pages`` and the stats.

The value is a short code, then ``: `` and the detail, so that
``split_part(error, ':', 1)`` groups errors in SQL.
"""

from __future__ import annotations

from scrapy import exceptions as scrapy_errors
from scrapy.exceptions import IgnoreRequest
from twisted.internet import error as net
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from linkgraph.crawl.extensions.body_limit import BodyTooLarge
from linkgraph.crawl.netguard import GUARD, PrivateAddressError
from linkgraph.urls import url_host

class RobotsTxtRefusal(IgnoreRequest):
    """A page not fetched because of its host's robots.txt; ``str()`` says why."""


_DNS_ERRORS = (net.DNSLookupError, scrapy_errors.CannotResolveHostError)

# Scrapy 2.13+ wraps Twisted's errors in its own; both kinds are mapped.
_CODES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((net.DNSLookupError, scrapy_errors.CannotResolveHostError), "dns"),
    ((net.TimeoutError, net.TCPTimedOutError, scrapy_errors.DownloadTimeoutError), "timeout"),
    ((net.ConnectionRefusedError, scrapy_errors.DownloadConnectionRefusedError), "refused"),
    (scrapy_errors.ResponseDataLossError, "data_loss"),
    ((ResponseNeverReceived, ResponseFailed, net.ConnectionLost, net.ConnectionDone,
      scrapy_errors.DownloadFailedError), "connection_lost"),
    (scrapy_errors.DownloadCancelledError, "cancelled"),
    (scrapy_errors.UnsupportedURLSchemeError, "unsupported_scheme"),
    (net.ConnectError, "connect"),
)


def _private_address(exc: BaseException) -> PrivateAddressError | None:
    """The PrivateAddressError behind ``exc``: the resolver's refusal may come wrapped."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, PrivateAddressError):
            return exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        seen += 1
    return None


def error_code(failure: Failure | BaseException) -> str:
    """Return ``code: detail`` for a download failure."""
    exc = failure.value if isinstance(failure, Failure) else failure
    detail = " ".join(str(exc).split())[:300] or type(exc).__name__
    private = _private_address(exc)
    if private is not None:
        return f"private_address: {' '.join(str(private).split())[:300]}"
    request = getattr(failure, "request", None)
    if request is not None and isinstance(exc, _DNS_ERRORS):
        # The resolver refused it (the reason does not survive Twisted's resolver API).
        refusal = GUARD.refusal(url_host(request.url))
        if refusal is not None:
            return f"private_address: {refusal}"
    if isinstance(exc, BodyTooLarge):
        return f"too_large: {detail}"
    if isinstance(exc, RobotsTxtRefusal):
        return f"robots_txt: {detail}"
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text:
            return "robots_txt: disallowed by robots.txt"
        if "during decompression" in text:  # HttpCompressionMiddleware's gzip-bomb guard
            return f"too_large: decompressed {detail}"
        return f"ignored: {detail}"
    if "maxsize" in detail.lower() or "max size" in detail.lower():
        return f"too_large: {detail}"
    for types, code in _CODES:
        if isinstance(exc, types):
            return f"{code}: {detail}"
    return f"{type(exc).__name__.lower()}: {detail}"
