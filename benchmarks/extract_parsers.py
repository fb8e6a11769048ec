"""Time the link extractor on lexbor (shipped) against lxml and Scrapy's LinkExtractor.

Builds realistic pages in memory (~75 links each: head links, a header nav, content
with images and external links, an aside, a footer, a ``<base>``), then times, in one
run and on the same pages:

- ``lexbor``: :func:`linkgraph.extract.extract_links`, the shipped extractor, with str
  (``response.text``) and bytes input, and with its cross-page URL caches emptied
  before every page (the first page of each site in a crawl);
- ``lxml``: the same records built by the same :class:`LinkCollector`, the tree walked
  with ``lxml.html`` instead (kept here only, so that one extractor ships);
- ``LinkExtractor``: ``scrapy.linkextractors.LinkExtractor().extract_links`` on an
  ``HtmlResponse``, the baseline (it records only a/area, deduplicated).

Prints µs/page, µs/link (per row the shipped extractor writes) and the ratio to
LinkExtractor. Run: ``python benchmarks/extract_parsers.py [--pages N] [--repeat R]``.
The selectolax modest backend (``selectolax.parser``) is not timed: selectolax 1.0
removed it (importing it raises ImportError).
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import lxml.html
from scrapy.http import HtmlResponse
from scrapy.linkextractors import LinkExtractor
from selectolax.lexbor import LexborHTMLParser

from linkgraph.extract import _urls, extract_links
from linkgraph.extract._collect import (
    SECTION_TAGS,
    LinkCollector,
    collapse,
    effective_base,
)
from linkgraph.extract._html import decode_body
from linkgraph.extract.records import PageLinks

_WORDS = (
    "graph crawler link page anchor authority rank web site domain host index "
    "search engine archive news blog product review guide about contact help price "
    "über café naïve 東京 données"
).split()
_EXTERNAL = [
    "https://www.wikipedia.org/wiki/PageRank", "https://github.com/scrapy/scrapy",
    "http://example.org/path/to/item?id=42&ref=home", "https://news.ycombinator.com/",
    "https://docs.python.org/3/library/urllib.parse.html", "//cdn.example.net/lib.js",
    "https://münchen.de/stadt", "https://twitter.com/intent/tweet?text=hello world",
]


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def make_page(rng: random.Random, i: int) -> tuple[str, str]:
    """Return ``(url, html)`` of one synthetic page with ~75 links."""
    url = f"https://site{i % 7}.example.com/section/{i % 13}/article-{i}.html?ref=list"
    head = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>{_words(rng, 6)}</title>",
        '<meta name="viewport" content="width=device-width">',
        f'<link rel="canonical" href="/section/{i % 13}/article-{i}.html">',
        '<link rel="stylesheet" href="/static/css/main.css?v=3">',
        '<link rel="stylesheet" href="https://fonts.example.net/css?family=Inter">',
        '<link rel="shortcut icon" href="/favicon.ico">',
        f'<link rel="alternate" hreflang="de" href="https://de.site.example.com/a-{i}">',
        f'<link rel="alternate" hreflang="fr" href="https://fr.site.example.com/a-{i}">',
        '<link rel="alternate" type="application/rss+xml" title="Feed" href="/feed.xml">',
        '<base href="/section/">' if i % 4 == 0 else "",
        "<script>var x = '<a href=\"/not-a-link\">'; var data = ",
        "[" + ",".join(f'{{"id": {k}, "name": "{_words(rng, 3)}"}}' for k in range(120)),
        "];</script></head><body>",
    ]
    nav = ['<header><a href="/"><img src="/logo.png" alt="Home"></a><nav><ul>']
    nav += [f'<li><a href="/topics/{w}/">{w.title()}</a></li>'
            for w in rng.sample(_WORDS, 14)]
    nav.append("</ul></nav></header><main><article>")
    body: list[str] = []
    for j in range(32):
        kind = j % 8
        if kind == 0:
            href = rng.choice(_EXTERNAL)
            rel = ' rel="nofollow noopener"' if j % 16 == 0 else ""
            body.append(f'<p>{_words(rng, 40)} <a href="{href}"{rel}>{_words(rng, 3)}</a>.</p>')
        elif kind == 1:
            body.append(f'<a href="../related/{rng.randrange(10**6)}.html">'
                        f'<img src="/i/{j}.jpg" alt="{_words(rng, 4)}"></a>')
        elif kind == 2:
            body.append(f'<p>{_words(rng, 25)} <a href="/tag/{rng.choice(_WORDS)}'
                        f'?page={j}&amp;sort=new">\n  {_words(rng, 2)}\n</a></p>')
        elif kind == 3:
            body.append(f'<a href="article-{rng.randrange(1000)}.html#comments" '
                        f'rel="ugc">{_words(rng, 2)}</a>')
        else:
            body.append(f'<p>{_words(rng, 60)} <a href="/{rng.choice(_WORDS)}/'
                        f'{rng.randrange(10**5)}">{_words(rng, 3)}</a></p>')
    body.append('<iframe src="https://www.youtube.com/embed/xyz" title="Video"></iframe>')
    body.append("</article></main><aside><h3>Popular</h3><ul>")
    body += [f'<li><a href="/popular/{k}-{rng.randrange(1000)}">{_words(rng, 4)}</a></li>'
             for k in range(9)]
    body.append("</ul></aside><footer>")
    body += [f'<a href="/about/{w}">{w}</a> ' for w in rng.sample(_WORDS, 10)]
    body += ['<a href="mailto:info@example.com">Mail</a>',
             '<a href="https://twitter.com/example" rel="me nofollow">Twitter</a>',
             '<a href="javascript:void(0)" onclick="top()">Top</a>',
             "</footer></body></html>"]
    return url, "".join(head + nav + body)


# --- the lxml walk: same records, other parser ------------------------------------

def _lxml_anchor_text(el: Any) -> tuple[str, list[str]]:
    text = el.text_content()
    if text and not text.isspace():
        return text, []
    return text, [img.get("alt") for img in el.iter("img") if img.get("alt")]


def extract_links_lxml(url: str, body: bytes | str, headers: Any = None) -> PageLinks:
    """:func:`extract_links` with the tree built and walked by ``lxml.html``."""
    root = lxml.html.document_fromstring(decode_body(body, headers))
    base_el = next((el for el in root.iter("base") if el.get("href") is not None), None)
    base = effective_base(url, base_el.get("href") if base_el is not None else None)
    title_el = next(root.iter("title"), None)
    title = collapse(title_el.text_content()) if title_el is not None else None
    positions: dict[Any, str] = {}
    for section in root.iter(*SECTION_TAGS):
        for el in section.iter("a", "area", "iframe", "frame"):
            positions[el] = section.tag
    collector = LinkCollector(base, _lxml_anchor_text)
    for el in root.iter("a", "area", "link", "iframe", "frame", "meta"):
        collector.add(el.tag, el.attrib, el, positions.get(el))
    return collector.page(url, title, headers)


def lexbor_parse_only(url: str, body: str, headers: Any = None) -> Any:
    """Parse and select the link elements, nothing more: the floor of the lexbor path."""
    return LexborHTMLParser(body).root.css("a[href], area[href], link[href], meta")


def lxml_parse_only(url: str, body: str, headers: Any = None) -> Any:
    """Parse and list the link elements with lxml: the floor of the lxml path."""
    root = lxml.html.document_fromstring(body)
    return [el.attrib for el in root.iter("a", "area", "link", "iframe", "frame", "meta")]


# --- timing -------------------------------------------------------------------------

def _clear_url_caches() -> None:
    """Forget what earlier pages taught the resolver (origins, absolute hrefs)."""
    for cache in (_urls._ROOTS, _urls._HOST_KEPT, _urls._ABSOLUTE_CACHE):
        cache.clear()


def _time(run: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    rng = random.Random(20261)
    pages = [make_page(rng, i) for i in range(args.pages)]
    kb = sum(len(h.encode()) for _, h in pages) / len(pages) / 1024
    lexbor_rows = [extract_links(u, h).links for u, h in pages]
    per_page_rows = sum(map(len, lexbor_rows)) / len(pages)
    lxml_rows = [extract_links_lxml(u, h).links for u, h in pages]
    assert lexbor_rows == lxml_rows, "lxml walk disagrees with the shipped extractor"

    def linkextractor() -> None:
        extractor = LinkExtractor()
        for response in responses:
            extractor.extract_links(response)

    encoded = [(u, h.encode()) for u, h in pages]
    responses: list[HtmlResponse] = []

    def fresh_responses() -> None:
        # LinkExtractor caches the parsed tree on the response: new ones every round,
        # built outside the timed call.
        responses[:] = [HtmlResponse(u, body=b, encoding="utf-8") for u, b in encoded]

    variants: dict[str, tuple[Callable[[], Any], Callable[[], Any] | None]] = {
        "lexbor (shipped)": (lambda: [extract_links(u, h) for u, h in pages], None),
        "lexbor, bytes in": (lambda: [extract_links(u, b) for u, b in encoded], None),
        "lexbor, cold caches": (lambda: [extract_links(u, h) for u, h in pages if
                                         not _clear_url_caches()], None),
        "lxml": (lambda: [extract_links_lxml(u, h) for u, h in pages], None),
        "lexbor parse+select only": (
            lambda: [lexbor_parse_only(u, h) for u, h in pages], None),
        "lxml parse+iter only": (lambda: [lxml_parse_only(u, h) for u, h in pages], None),
        "Scrapy LinkExtractor": (linkextractor, fresh_responses),
    }
    # Rounds interleave the variants, so that a burst of load on a shared machine
    # hits all of them; the best round of each is kept.
    times = dict.fromkeys(variants, float("inf"))
    for _ in range(args.repeat):
        for name, (run, setup) in variants.items():
            if setup is not None:
                setup()
            times[name] = min(times[name], _time(run))
    le_best = times["Scrapy LinkExtractor"]
    le_rows = sum(len(LinkExtractor().extract_links(
        HtmlResponse(u, body=b, encoding="utf-8"))) for u, b in encoded)

    print(f"{len(pages)} pages, {kb:.1f} KB/page, {per_page_rows:.1f} rows/page "
          f"(LinkExtractor returns {le_rows / len(pages):.1f}/page: a/area, deduplicated)")
    print(f"{'variant':<26} {'µs/page':>9} {'µs/link':>8} {'vs LinkExtractor':>17}")
    for name, seconds in times.items():
        us_page = seconds / len(pages) * 1e6
        print(f"{name:<26} {us_page:>9.0f} {us_page / per_page_rows:>8.2f} "
              f"{le_best / seconds:>16.1f}x")


if __name__ == "__main__":
    main()
