"""Hosts and registered domains of URLs.

The registered domain ("eTLD+1") comes from the Public Suffix List snapshot that ships
inside the ``tldextract`` package: nothing is downloaded at run time. The private part
of the list is included, so ``alice.github.io`` and ``bob.github.io`` are two domains,
as they are two owners.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit


@lru_cache(maxsize=1)
def _extractor():
    """The extractor, made on first use: importing tldextract imports requests
    (~0.5 s here), which a command that never looks up a domain should not pay."""
    import tldextract

    # suffix_list_urls=() and cache_dir=None: use the bundled snapshot, never fetch,
    # never write a cache file.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                 include_psl_private_domains=True)


@lru_cache(maxsize=1 << 16)
def registered_domain(host: str | None) -> str | None:
    """Return the registered domain of ``host`` (``docs.x.org`` -> ``x.org``).

    A host that has no public suffix (an IP address, ``localhost``, an unknown TLD)
    is its own domain, so that ``internal`` still means "same site" for it.
    ``None`` or an empty host gives ``None``.
    """
    if not host:
        return None
    result = _extractor()(host)
    if result.suffix and result.domain:
        return f"{result.domain}.{result.suffix}"
    return host


def url_host(url: str) -> str | None:
    """Return the lower-cased host name of an absolute URL, or ``None`` if it has none."""
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None
