"""The ``--render auto`` rule: does this raw HTML look like JavaScript builds the page?

A pure function of the HTML as served and what the raw extractor found in it, so it
is cheap (a few regex passes, no DOM) and testable without a browser. The page is
rendered when any of these fires, checked in this order (the first one is the
reason counted in ``linkgraph/render/auto_fired/<reason>``):

``app-root``
    An empty mount point of a client-side framework: ``<div id="root|app|__next|
    __nuxt|___gatsby|svelte">`` with nothing inside, an empty ``<app-root>``
    (Angular), or an ``ng-app`` attribute on a page without a single link.
``noscript``
    A ``<noscript>`` that talks about JavaScript ("enable JavaScript", "requires
    JavaScript"): the site itself says its content needs scripts. (A ``<noscript>``
    holding only a tracking pixel does not count.)
``empty-body``
    The page has at least one ``<script>`` and fewer than
    :data:`EMPTY_BODY_CHARS` characters of visible text (scripts, styles and tags
    removed).
``few-links``
    The HTML is at least :data:`FEW_LINKS_MIN_BYTES` long, has a ``<script>``, and
    has fewer than one ``<a>``/``<area>`` link per :data:`BYTES_PER_LINK` bytes: a
    big page whose links are not in its markup.

Pages without any ``<script>`` are never rendered: nothing could change them.
"""

from __future__ import annotations

import re

from linkgraph.extract.records import PageLinks

#: Visible text below this many characters (with a script present): empty-body.
EMPTY_BODY_CHARS = 200
#: few-links applies only to HTML at least this long ...
FEW_LINKS_MIN_BYTES = 20_000
#: ... with fewer than one anchor link per this many bytes of HTML.
BYTES_PER_LINK = 5_000

_FLAGS = re.IGNORECASE | re.DOTALL
_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)
_APP_ROOT = re.compile(
    r"<(?:div|main|section|span)\b[^>]*\bid\s*=\s*[\"']?(?:root|app|__next|__nuxt|___gatsby|svelte)"
    r"[\"']?[^>]*>\s*</(?:div|main|section|span)\s*>"
    r"|<app-root\b[^>]*>\s*</app-root\s*>", _FLAGS)
_NG_APP = re.compile(r"<[a-z][^>]*\sng-app\b", _FLAGS)
_NOSCRIPT = re.compile(r"<noscript\b[^>]*>(.*?)</noscript\s*>", _FLAGS)
_JS_WORD = re.compile(r"javascript|\bJS\b", re.IGNORECASE)
_INVISIBLE = re.compile(r"<(script|style|noscript|template|svg)\b.*?</\1\s*>|<!--.*?-->", _FLAGS)
_TAG = re.compile(r"<[^>]*>", re.DOTALL)
_SPACE = re.compile(r"\s+")


def visible_text_length(html: str) -> int:
    """Characters of text outside tags, scripts and styles (whitespace collapsed)."""
    body_start = html.lower().find("<body")
    text = html[body_start:] if body_start >= 0 else html
    text = _TAG.sub(" ", _INVISIBLE.sub(" ", text))
    return len(_SPACE.sub(" ", text).strip())


def render_reason(html: str, page: PageLinks) -> str | None:
    """The reason this page needs rendering under ``--render auto``, or None."""
    if not _SCRIPT.search(html):
        return None
    anchors = sum(1 for link in page.links if link.tag in ("a", "area"))
    if _APP_ROOT.search(html) or (anchors == 0 and _NG_APP.search(html)):
        return "app-root"
    for match in _NOSCRIPT.finditer(html):
        if _JS_WORD.search(_TAG.sub(" ", match.group(1))):
            return "noscript"
    if visible_text_length(html) < EMPTY_BODY_CHARS:
        return "empty-body"
    if len(html) >= FEW_LINKS_MIN_BYTES and anchors * BYTES_PER_LINK < len(html):
        return "few-links"
    return None
