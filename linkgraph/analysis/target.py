"""What a TARGET argument names: one page (a URL), a host, or a registered domain.

``https://www.example.com/shop`` is that page; ``www.example.com`` all the pages of that
host; ``example.com`` (a registered domain: the Public Suffix List's eTLD+1) all the
pages of all its hosts. Every analysis command that takes a TARGET (backlinks, diff,
explain) parses it here, so they agree on what it covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from w3lib.url import safe_url_string

from linkgraph.errors import UsageError
from linkgraph.urls import registered_domain, url_host

Kind = Literal["url", "host", "domain"]


def sql_literal(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Target:
    """A parsed TARGET: ``kind``, the normalised ``value`` and its registered domain."""

    kind: Kind
    value: str
    domain: str

    def matches(self, prefix: str = "dst_") -> str:
        """A SQL condition on link columns (``dst_url``/``dst_host``/``dst_domain`` with
        the default prefix) that holds for the rows whose end is inside the target."""
        column = {"url": "url", "host": "host", "domain": "domain"}[self.kind]
        return f"{prefix}{column} = {sql_literal(self.value)}"

    def matches_page(self) -> str:
        """The same condition on a ``pages`` row (``url``/``host``/``domain``)."""
        return self.matches(prefix="")

    def __str__(self) -> str:
        return self.value


def parse_target(text: str) -> Target:
    """Parse a TARGET; a one-line :class:`UsageError` for one that names nothing.

    A value with a scheme is a URL (its fragment dropped and unsafe characters
    percent-encoded, as the crawl stores URLs); otherwise a name that is its own
    registered domain is a domain, and any other host name a host.
    """
    text = text.strip()
    if not text:
        raise UsageError("TARGET is empty: give a URL, a host or a registered domain")
    if "://" in text:
        url = parse_url(text)
        host = url_host(url)
        return Target("url", url, registered_domain(host) or host)
    name = text.lower().rstrip(".")
    if "/" in name or " " in name or not name:
        raise UsageError(f"TARGET {text!r} is neither a URL (with http:// or https://) "
                         "nor a host or domain name")
    domain = registered_domain(name) or name
    return Target("domain" if domain == name else "host", name, domain)


def parse_url(text: str) -> str:
    """A page's URL as the crawl stores it (fragment dropped, unsafe characters
    percent-encoded); a one-line :class:`UsageError` for anything else. Cheaper than
    :func:`parse_target` (no registered-domain lookup) for commands that take a page."""
    text = text.strip()
    if "://" not in text:
        raise UsageError(f"{text!r} is not a URL (with http:// or https://)")
    if not text.lower().startswith(("http://", "https://")):
        raise UsageError(f"TARGET {text!r}: only http(s) URLs are crawled")
    url = safe_url_string(text).split("#", 1)[0]
    if not url_host(url):
        raise UsageError(f"TARGET {text!r} has no host")
    return url
