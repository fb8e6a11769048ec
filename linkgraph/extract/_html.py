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
from linkgraph.extract._rel import header_values
from linkgraph.extract.records import PageLinks

# One selector group: lexbor returns the matches of a group in document order, which
# is the order of the rows (ordinal).
_LINK_SELECTOR = "a[href], area[href], link[href], iframe[src], frame[src], meta"
_SECTION_SELECTOR = ", ".join(SECTION_TAGS)
# The elements whose row carries a position (head elements never do).
_POSITIONED_SELECTOR = "a[href], area[href], iframe[src], frame[src]"


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


def extract(url: str, body: bytes | str, headers: Mapping[Any, Any] | None) -> PageLinks:
    """The implementation of :func:`linkgraph.extract.extract_links`."""
    text = decode_body(body, headers)
    if not text or text.isspace():
        return LinkCollector(url, _anchor_text).page(url, None, headers)
    root = _parse(text).root
    if root is None:
        return LinkCollector(url, _anchor_text).page(url, None, headers)

    # The first <base href> in document order wherever it stands (Scrapy's
    # LinkExtractor only looks at the first 4 KB).
    base_node = root.css_first("base[href]")
    base = effective_base(url, base_node.attributes.get("href") if base_node else None)
    title_node = root.css_first("title")
    title = collapse(title_node.text(deep=True)) if title_node is not None else None

    # Sections come in document order, so a section nested in another is visited
    # after it and its tag overrides the outer one for the links it holds.
    positions: dict[int, str] = {}
    for section in root.css(_SECTION_SELECTOR):
        tag = section.tag
        for node in section.css(_POSITIONED_SELECTOR):
            positions[node.mem_id] = tag

    collector = LinkCollector(base, _anchor_text)
    add = collector.add
    get_position = positions.get
    for node in root.css(_LINK_SELECTOR):
        add(node.tag, node.attributes, node, get_position(node.mem_id))
    return collector.page(url, title, headers)
