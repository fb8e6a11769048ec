"""rel tokens, robots directives (meta and X-Robots-Tag) and meta refresh."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

#: The robots user-agent token this crawler answers to in X-Robots-Tag.
ROBOTS_AGENT = "linkgraph"

# HTML splits rel on ASCII whitespace only (str.split would also split on NBSP).
_ASCII_WHITESPACE_RE = re.compile(r"[\t\n\f\r ]+")

# X-Robots-Tag directives that carry a value after a colon: "unavailable_after: <date>"
# must not be read as a user-agent prefix named "unavailable_after".
_VALUED_DIRECTIVES = frozenset(
    ("unavailable_after", "max-snippet", "max-image-preview", "max-video-preview")
)
_AGENT_PREFIX_RE = re.compile(r"\s*([A-Za-z0-9_*\-]+)\s*:\s*(.*)", re.S)

# HTML's "shared declarative refresh steps", tolerant: "5; url=x", "0;URL='x'",
# "3, x", "0 url = x".
_REFRESH_RE = re.compile(
    r"\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(?P<url>.*)", re.I | re.S
)


def parse_rel(value: str | None) -> tuple[str, ...]:
    """Return the lower-cased tokens of a rel attribute, in order, without repeats."""
    if not value:
        return ()
    tokens = _ASCII_WHITESPACE_RE.split(value.lower())
    return tuple(dict.fromkeys(t for t in tokens if t))


def link_type_for_rel(rel: tuple[str, ...]) -> str:
    """Return the link_type of a ``<link>`` element from its rel tokens."""
    if "canonical" in rel:
        return "canonical"
    if "alternate" in rel:
        return "alternate"
    if "stylesheet" in rel:
        return "stylesheet"
    if "icon" in rel or "apple-touch-icon" in rel or "apple-touch-icon-precomposed" in rel:
        return "icon"
    return "link"


def robots_flags(directives: Iterable[str]) -> tuple[bool, bool]:
    """Return ``(nofollow, noindex)`` from lower-cased robots directives."""
    nofollow = noindex = False
    # Words, not whole directives: "noindex nofollow" (spaces, no comma) is a common
    # mistake whose intent is plain.
    for directive in (word for d in directives for word in d.split()):
        if directive == "none":
            nofollow = noindex = True
        elif directive == "nofollow":
            nofollow = True
        elif directive == "noindex":
            noindex = True
    return nofollow, noindex


def meta_robots_directives(content: str) -> list[str]:
    """Split a lower-cased ``<meta name=robots>`` content into directives."""
    return [d.strip() for d in content.split(",")]


def x_robots_directives(values: Iterable[str], agent: str = ROBOTS_AGENT) -> list[str]:
    """Return the directives of X-Robots-Tag header values that apply to ``agent``.

    Each header value is a comma-separated list. A token ``name: directive`` (where
    ``name`` is not itself a valued directive such as ``unavailable_after``) starts a
    run of directives for the user agent ``name`` that lasts to the end of that header
    value or to the next such prefix. Directives before any prefix apply to every
    crawler; a run applies to us only when ``name`` is ``agent`` or ``*``.
    """
    applying: list[str] = []
    for value in values:
        current: str | None = None
        for token in value.lower().split(","):
            match = _AGENT_PREFIX_RE.fullmatch(token)
            if match is not None and match.group(1) not in _VALUED_DIRECTIVES:
                current, token = match.group(1), match.group(2)
            if current is None or current == agent or current == "*":
                applying.append(token.strip())
    return applying


def meta_refresh_url(content: str | None) -> str | None:
    """Return the URL part of a meta refresh ``content``, or ``None`` if it has none."""
    if not content:
        return None
    url = _REFRESH_RE.match(content).group("url").strip()  # type: ignore[union-attr]
    if url[:1] in ("'", '"'):
        quote, url = url[0], url[1:]
        url = url.split(quote, 1)[0]
    return url or None


def header_values(headers: Mapping[Any, Any] | None, name: str) -> list[str]:
    """Return every value of header ``name`` (lower-case) in ``headers``, as str.

    Accepts any Mapping: keys str or bytes in any case, values str, bytes or lists of
    those (Scrapy's ``Headers`` maps a key to all its values; its ``getlist`` is used).
    """
    if not headers:
        return []
    getlist = getattr(headers, "getlist", None)
    if getlist is not None:
        raw: list[Any] = list(getlist(name) or ())
    else:
        raw = []
        for key, value in headers.items():
            if isinstance(key, bytes):
                key = key.decode("latin-1")
            if key.lower() == name:
                raw.append(value)
    values: list[str] = []
    for value in raw:
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, bytes):
                item = item.decode("latin-1")
            if item is not None:
                values.append(str(item))
    return values
