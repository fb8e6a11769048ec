"""Decoding, parsing (lexbor, through selectolax) and the walk over link elements.

lexbor was picked over lxml by measurement (``benchmarks/extract_parsers.md``). It
parses as browsers do (HTML Standard tree building), which is also what a rendered
DOM's HTML was parsed with, and it never raises on malformed input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode
from w3lib.encoding import html_to_unicode

from linkgraph.extract._collect import SECTION_TAGS, LinkCollector, collapse, effective_base
from linkgraph.extract._nesting import cap_nesting
from linkgraph.extract._rel import header_values
from linkgraph.extract.records import PageLinks

# One selector group: lexbor returns the matches of a group in document order, which
# is the order of the rows (ordinal).
_LINK_SELECTOR = "a[href], area[href], link[href], iframe[src], frame[src], meta"
_SECTIONS = frozenset(SECTION_TAGS)
# The elements whose row carries a position (head elements never do).
_POSITIONED = frozenset(("a", "area", "iframe", "frame"))


def decode_body(body: bytes | str, headers: Mapping[Any, Any] | None) -> str:
    """Return the body as text: a BOM, then the Content-Type charset, then a
    ``<meta charset>`` (first 4 KB), else UTF-8; undecodable bytes become U+FFFD."""
    if isinstance(body, str):
        return body
    content_types = header_values(headers, "content-type")
    return html_to_unicode(content_types[-1] if content_types else None, body)[1]


def _anchor_text(node: LexborNode) -> tuple[str, list[str]]:
    text = node.text(deep=True)
    if text and not text.isspace():
        return text, []
    return text, [alt for img in node.css("img[alt]") if (alt := img.attributes.get("alt"))]


def _parse(text: str) -> LexborHTMLParser:
    try:
        return LexborHTMLParser(text)
    except UnicodeEncodeError:
        # Lone surrogates (a str decoded with surrogateescape) cannot go to lexbor as
        # UTF-8; replacing them loses nothing a link could hold.
        return LexborHTMLParser(text.encode("utf-8", "replace"))


def extract(url: str, body: bytes | str, headers: Mapping[Any, Any] | None,
            max_nesting: int | None = None) -> PageLinks:
    """The implementation of :func:`linkgraph.extract.extract_links`."""
    text = decode_body(body, headers)
    if not text or text.isspace():
        return LinkCollector(url, _anchor_text).page(url, None, headers)
    text, capped = cap_nesting(text, max_nesting)
    page = _extract_text(url, text, headers)
    page.nesting_capped = capped
    return page


def _extract_text(url: str, text: str, headers: Mapping[Any, Any] | None) -> PageLinks:
    root = _parse(text).root
    if root is None:
        return LinkCollector(url, _anchor_text).page(url, None, headers)

    # The first <base href> in document order wherever it stands (Scrapy's
    # LinkExtractor only looks at the first 4 KB).
    base_node = root.css_first("base[href]")
    base = effective_base(url, base_node.attributes.get("href") if base_node else None)
    title_node = root.css_first("title")
    title = collapse(title_node.text(deep=True)) if title_node is not None else None

    collector = LinkCollector(base, _anchor_text)
    add = collector.add
    position = _Positions().of
    for node in root.css(_LINK_SELECTOR):
        tag = node.tag
        add(tag, node.attributes, node, position(node) if tag in _POSITIONED else None)
    return collector.page(url, title, headers)


class _Positions:
    """The ``position`` of a link: the tag of its nearest enclosing section element.

    Each element's answer is remembered for the elements walked through to find it, so
    a page costs one step per distinct ancestor of its links, not one per (section,
    link) pair or per (link, level of nesting): nested sections and deep nesting stay
    linear in the size of the page.
    """

    __slots__ = ("_known",)

    def __init__(self) -> None:
        #: mem_id -> the section tag that encloses the element (None: none does).
        self._known: dict[int, str | None] = {}

    def of(self, node: LexborNode) -> str | None:
        known = self._known
        path = []
        answer = None
        parent = node.parent
        while parent is not None:
            key = parent.mem_id
            if key in known:
                answer = known[key]
                break
            tag = parent.tag
            if tag in _SECTIONS:
                answer = tag
                break
            path.append(key)
            parent = parent.parent
        for key in path:
            known[key] = answer
        return answer
