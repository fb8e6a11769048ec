"""Turning link elements into records, whatever parser found them.

The parser-specific walk (``_html.py``) hands each candidate element here with its
attributes as a mapping; everything about what a row holds is decided in this module,
once, so that another tree (a benchmark's lxml walk, a rendered DOM) gives the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from linkgraph.extract._rel import (
    header_values,
    link_type_for_rel,
    meta_refresh_url,
    meta_robots_directives,
    parse_rel,
    robots_flags,
    x_robots_directives,
)
from linkgraph.extract._urls import Resolver, clean_href
from linkgraph.extract.records import Link, PageLinks

#: Sections a link's ``position`` names: the nearest enclosing one wins.
SECTION_TAGS = ("nav", "header", "footer", "aside", "main")

_NO_REL: tuple[str, ...] = ()


def collapse(text: str | None) -> str | None:
    """Return ``text`` with runs of whitespace made one space, or ``None`` if empty."""
    if not text:
        return None
    return " ".join(text.split()) or None


def effective_base(url: str, base_href: str | None) -> str:
    """Return the URL hrefs resolve against: ``<base href>`` joined to ``url``, or ``url``.

    A base that does not give an http(s) URL with a host (``javascript:``, ``data:``,
    garbage) is ignored, as browsers ignore such bases.
    """
    if base_href is None:
        return url
    try:
        base = urljoin(url, clean_href(base_href))
        parts = urlsplit(base)
        if parts.scheme in ("http", "https") and parts.hostname:
            return base
    except ValueError:
        pass
    return url


class LinkCollector:
    """Collect the links of one page in document order.

    Parameters
    ----------
    base : str
        The effective base URL (see :func:`effective_base`).
    anchor_text : callable
        ``anchor_text(node)`` returns the raw text content and the ``alt`` texts of the
        images inside an ``<a>`` element of the walker's tree; called only for ``<a>``.
    """

    __slots__ = ("_resolver", "_anchor_text", "links", "skipped", "_meta_robots",
                 "canonical_url")

    def __init__(
        self, base: str, anchor_text: Callable[[Any], tuple[str, list[str]]]
    ) -> None:
        self._resolver = Resolver(base)
        self._anchor_text = anchor_text
        self.links: list[Link] = []
        self.skipped = 0
        self._meta_robots: list[str] = []
        self.canonical_url: str | None = None

    def add(self, tag: str, attrs: Mapping[str, str | None], node: Any,
            position: str | None) -> None:
        """Record the element ``node`` (tag ``tag``, attributes ``attrs``) if it links."""
        if tag == "a":
            href = attrs.get("href") or ""
            text, alts = self._anchor_text(node)
            anchor = collapse(text)
            if anchor is None and alts:
                anchor = collapse(" ".join(alts))
            self._append(href, "a", "anchor", anchor, attrs, position)
        elif tag == "area":
            href = attrs.get("href") or ""
            self._append(href, tag, "anchor", collapse(attrs.get("alt")), attrs, position)
        elif tag == "link":
            href = attrs.get("href")
            if href:
                rel = parse_rel(attrs.get("rel"))
                link_type = link_type_for_rel(rel)
                self._append(href, tag, link_type, collapse(attrs.get("title")), attrs,
                             None, rel)
        elif tag == "iframe" or tag == "frame":
            src = attrs.get("src")
            if src:
                self._append(src, tag, "iframe", collapse(attrs.get("title")), attrs,
                             position)
        elif tag == "meta":
            self._meta(attrs)

    def _meta(self, attrs: Mapping[str, str | None]) -> None:
        name = attrs.get("name")
        if name is not None and name.strip().lower() == "robots":
            content = attrs.get("content")
            if content is not None:
                self._meta_robots.append(content.strip().lower())
            return
        equiv = attrs.get("http-equiv")
        if equiv is not None and equiv.strip().lower() == "refresh":
            target = meta_refresh_url(attrs.get("content"))
            if target is not None:
                self._append(target, "meta", "meta-refresh", None, {}, None, _NO_REL)

    def _append(self, href: str, tag: str, link_type: str, anchor: str | None,
                attrs: Mapping[str, str | None], position: str | None,
                rel: tuple[str, ...] | None = None) -> None:
        resolved = self._resolver.resolve(clean_href(href))
        if resolved is None:
            self.skipped += 1
            return
        if rel is None:
            rel = parse_rel(attrs.get("rel"))
        hreflang = attrs.get("hreflang")
        hreflang = hreflang.strip() or None if hreflang else None
        if link_type == "canonical" and self.canonical_url is None:
            self.canonical_url = resolved[0]
        links = self.links
        links.append(Link(
            resolved[0], resolved[1], anchor, rel,
            "nofollow" in rel, "sponsored" in rel, "ugc" in rel,
            tag, link_type, hreflang, position, len(links),
        ))

    def page(self, url: str, title: str | None,
             headers: Mapping[Any, Any] | None) -> PageLinks:
        """Return the page's :class:`PageLinks`, page-level robots rules applied."""
        meta_robots = ", ".join(self._meta_robots) or None
        x_values = [v.strip() for v in header_values(headers, "x-robots-tag")]
        x_robots_tag = ", ".join(v for v in x_values if v).lower() or None
        directives = meta_robots_directives(meta_robots or "")
        directives += x_robots_directives(x_values)
        nofollow, noindex = robots_flags(directives)
        links = self.links
        if nofollow:
            links = [link if link.nofollow else link._replace(nofollow=True)
                     for link in links]
        return PageLinks(
            url=url, base_url=self._resolver.base, title=title,
            canonical_url=self.canonical_url, meta_robots=meta_robots,
            x_robots_tag=x_robots_tag, page_nofollow=nofollow, page_noindex=noindex,
            links=links, skipped=self.skipped,
        )
