"""Resolving an href the way ``safe_url_string(urljoin(base, href))`` does, but fast.

The definition of an http(s) ``dst_url`` is ``safe_url_string(urljoin(base, href))``
cut at the first ``#`` (:func:`reference_resolve`). That costs ~10 µs a link, more than
parsing the page, so the common shapes of href are resolved without it:

- root-relative and relative paths made of characters ``safe_url_string`` leaves
  alone are appended to the origin / directory prefix, which the reference itself
  computed once per base (dot and empty segments are merged as ``urljoin`` merges them);
- absolute and protocol-relative URLs with a plain lower-case host are already safe;
- non-ASCII characters and spaces are quoted first, which commutes with the join;
- anything else (IDN hosts, ports, userinfo, ``;``, quotes, backslashes...) takes the
  reference, cached across pages when the href has a host of its own.

``tests/test_extract.py`` checks fast and reference paths agree on a generated corpus.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin, urlsplit

from w3lib.url import safe_url_string

from linkgraph.urls import url_host

#: What the URL standard strips from both ends of an href (C0 controls and space).
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
#: What the URL standard removes anywhere in an href (browsers do it too).
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")

# Characters that safe_url_string keeps as they are in a path AND in the query of a
# special scheme (it quotes "'" in the latter). ";" is left out: urljoin splits path
# parameters on it and drops an empty one.
_SAFE = r"A-Za-z0-9\-._~!$&()*+,=:@%"
# The same as a string for quote(), with the separators.
_SAFE_CHARS = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&()*+,=:@%/?"
)
# Hrefs made of those, spaces and non-ASCII characters: quoted, they are safe.
_QUOTABLE_RE = re.compile(rf"[{_SAFE}/? \u0080-\U0010FFFF]+")
# A path segment that urljoin neither drops (empty) nor resolves ("." and "..").
_SEG = rf"(?!\.\.?(?:[/?]|$))[{_SAFE}]+"
# A query: urljoin drops an empty one ("x?"), so it must have something.
_QUERY = rf"(?:\?[{_SAFE}/?]+)?"
# Root-relative ("/a/b", "/") or relative with a first segment ("a/b"); a query-only
# href keeps the base's path, so it is not one of them.
_RELATIVE_RE = re.compile(
    rf"(?:/(?!/)(?:{_SEG}(?:/{_SEG})*/?)?|{_SEG}(?:/{_SEG})*/?){_QUERY}"
)
# Any path made of such characters (dot segments, empty segments), not "//host".
_PATH_RE = re.compile(rf"(?!//)[{_SAFE}/]+{_QUERY}")
# No userinfo and no port: both are rewritten by safe_url_string. Upper-case hosts
# are lower-cased by it, so they go the reference way too.
_ABSOLUTE_RE = re.compile(rf"(https?)://([a-z0-9.\-]+)(?:/[{_SAFE}/]*{_QUERY})?")

_HTTP_SCHEMES = frozenset(("http", "https"))

# Shared by all pages, each bounded by clearing when full.
_CACHE_MAX = 1 << 16
# (scheme, netloc) of a base -> its origin as the reference writes it, with "/".
_ROOTS: dict[tuple[str, str], str | None] = {}
# Whether safe_url_string keeps a lower-case ASCII host as it is (IDNA may reject or
# rewrite some).
_HOST_KEPT: dict[str, bool] = {}
# (base scheme, absolute href) -> what the reference makes of it.
_ABSOLUTE_CACHE: dict[tuple[str, str], tuple[str, str | None] | None] = {}


def clean_href(href: str) -> str:
    """Return ``href`` as a browser reads it: tabs and newlines removed, ends stripped."""
    if "\t" in href or "\n" in href or "\r" in href:
        href = href.translate(_TAB_NEWLINE)
    return href.strip(_C0_OR_SPACE)


def reference_resolve(base: str, href: str) -> str:
    """Return ``safe_url_string(urljoin(base, href))`` without its fragment.

    The definition the fast paths of :class:`Resolver` must match; raises ``ValueError``
    on an unparseable URL.
    """
    return safe_url_string(urljoin(base, href)).split("#", 1)[0]


def _host_kept(host: str) -> bool:
    kept = _HOST_KEPT.get(host)
    if kept is None:
        try:
            kept = safe_url_string(f"http://{host}/") == f"http://{host}/"
        except ValueError:
            kept = False
        if len(_HOST_KEPT) >= _CACHE_MAX:
            _HOST_KEPT.clear()
        _HOST_KEPT[host] = kept
    return kept


def _probe_prefix(base: str, probe: str) -> str | None:
    """Return what ``probe`` resolves to against ``base`` minus the probe, if it ends so."""
    try:
        resolved = reference_resolve(base, probe)
    except ValueError:
        return None
    if not resolved.endswith(probe.lstrip("/")):
        return None
    return resolved[: len(resolved) - len(probe.lstrip("/"))]


class Resolver:
    """Resolve the hrefs of one page against its base URL.

    Parameters
    ----------
    base : str
        Absolute base URL (``<base href>`` resolved against the page URL, or the page
        URL itself).
    """

    __slots__ = ("base", "scheme", "host", "_root", "_dir", "_dir_parts", "_cache")

    def __init__(self, base: str) -> None:
        self.base = base
        self._cache: dict[str, tuple[str, str | None] | None] = {}
        try:
            parts = urlsplit(base)
            self.scheme = parts.scheme
            self.host = parts.hostname
        except ValueError:
            self.scheme, self.host = "", None
        self._root: str | None = None
        self._dir: str | None = None
        self._dir_parts: list[str] | None = None
        if self.scheme in _HTTP_SCHEMES and self.host:
            # "/x" and "x" resolved by the reference give the origin and the directory
            # prefixes with every quirk of urljoin and safe_url_string applied once.
            origin = (parts.scheme, parts.netloc)
            if origin not in _ROOTS:
                if len(_ROOTS) >= _CACHE_MAX:
                    _ROOTS.clear()
                _ROOTS[origin] = _probe_prefix(f"{parts.scheme}://{parts.netloc}/", "/x")
            self._root = _ROOTS[origin]
            if self._root is not None:
                self.host = urlsplit(self._root).hostname
                base_path = parts.path
                # Merging dot segments by hand needs the base path as the reference
                # sees it: only when quoting leaves it alone and it holds no ";".
                if _PATH_RE.fullmatch(base_path or "/"):
                    base_parts = base_path.split("/")
                    if base_parts[-1] != "":
                        del base_parts[-1]
                    self._dir_parts = base_parts
                    merged = self._merge("x")
                    self._dir = merged[0][:-1] if merged is not None else None
            if self._dir is None:
                self._dir = _probe_prefix(base, "x")

    def resolve(self, href: str) -> tuple[str, str | None] | None:
        """Return ``(dst_url, dst_host)`` for a cleaned href, or ``None`` if unparseable.

        http(s) hrefs are joined and made safe, fragment removed; hrefs with another
        scheme are returned as they are (``dst_host`` only for ftp). An http(s) URL
        without a host counts as unparseable.
        """
        cache = self._cache
        if href in cache:
            return cache[href]
        result = self._resolve(href)
        cache[href] = result
        return result

    def _resolve(self, href: str) -> tuple[str, str | None] | None:
        match = _SCHEME_RE.match(href)
        if match is not None:
            scheme = match.group(1).lower()
            if scheme not in _HTTP_SCHEMES:
                return href, (url_host(href) if scheme == "ftp" else None)
        path = href.split("#", 1)[0]
        if path:
            fast = self._fast(path, match is not None)
            # Non-ASCII and spaces: quoting them first gives what quoting after the
            # join gives, as they never make "/", "?" or a dot segment. Not a space
            # at the end: the reference strips it when the fragment is empty ("a #").
            if (fast is None and path[-1] != " "
                    and _QUOTABLE_RE.fullmatch(path) is not None):
                try:
                    fast = self._fast(quote(path, safe=_SAFE_CHARS), match is not None)
                except UnicodeEncodeError:
                    fast = None
            if fast is not None:
                return fast
        if (match is None and href[:2] != "//") or not _has_netloc(href):
            return _reference(self.base, href)
        # An href with a host resolves the same against every base of one scheme: IDN
        # hosts and the like in links to other sites are worked out once.
        key = (self.scheme, href)
        if key in _ABSOLUTE_CACHE:
            return _ABSOLUTE_CACHE[key]
        if len(_ABSOLUTE_CACHE) >= _CACHE_MAX:
            _ABSOLUTE_CACHE.clear()
        result = _ABSOLUTE_CACHE[key] = _reference(self.base, href)
        return result

    def _fast(self, path: str, absolute: bool) -> tuple[str, str | None] | None:
        """Resolve a fragment-less href without the reference, or return ``None``."""
        if path[0] == "/" and path[1:2] == "/":
            # Protocol-relative: the base's scheme, then as an absolute URL.
            return self._absolute(f"{self.scheme}:{path}")
        if absolute:
            return self._absolute(path)
        if _RELATIVE_RE.fullmatch(path) is not None:
            prefix = self._root if path[0] == "/" else self._dir
            return None if prefix is None else (prefix + path.lstrip("/"), self.host)
        if _PATH_RE.fullmatch(path) is not None:
            return self._merge(path)
        return None

    def _merge(self, href: str) -> tuple[str, str | None] | None:
        """Join a path with dot or empty segments exactly as ``urljoin`` does."""
        path, _, query = href.partition("?")
        if self._root is None or (path[0] != "/" and self._dir_parts is None):
            return None
        if path[0] == "/":
            segments = path.split("/")
        else:
            segments = self._dir_parts + path.split("/")  # type: ignore[operator]
            # urljoin drops empty segments between the first and the last.
            segments[1:-1] = filter(None, segments[1:-1])
        resolved: list[str] = []
        for segment in segments:
            if segment == "..":
                if resolved:
                    resolved.pop()
            elif segment != ".":
                resolved.append(segment)
        if segments[-1] in (".", ".."):
            resolved.append("")
        joined = "/".join(resolved) or "/"
        url = self._root + (joined[1:] if joined[0] == "/" else joined)
        return (f"{url}?{query}" if query else url), self.host

    def _absolute(self, url: str) -> tuple[str, str | None] | None:
        match = _ABSOLUTE_RE.fullmatch(url)
        if match is None:
            return None
        host = match.group(2)
        if not _host_kept(host):
            return None
        return url, host


def _reference(base: str, href: str) -> tuple[str, str | None] | None:
    try:
        url = reference_resolve(base, href)
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if host is None and parts.scheme in _HTTP_SCHEMES:
        return None
    return url, host


def _has_netloc(href: str) -> bool:
    try:
        return bool(urlsplit(href).netloc)
    except ValueError:
        return False
