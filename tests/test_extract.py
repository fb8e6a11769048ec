"""The link extractor: exact records on small documents, and URL resolution checked
against its definition, ``safe_url_string(urljoin(base, href))`` without fragment."""

from __future__ import annotations

import random
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from scrapy.http import Headers
from w3lib.url import safe_url_string

from linkgraph.extract import Link, PageLinks, extract_links
from linkgraph.extract._rel import meta_refresh_url, parse_rel, x_robots_directives
from linkgraph.extract._urls import Resolver, clean_href

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
PAGE = "http://example.com/dir/page.html"


def link(dst_url: str, ordinal: int, **fields: object) -> Link:
    """A Link with the defaults of a plain ``<a href>`` outside any section."""
    values: dict[str, object] = {
        "dst_host": urlsplit(dst_url).hostname, "anchor_text": None, "rel": (),
        "nofollow": False, "sponsored": False, "ugc": False, "tag": "a",
        "link_type": "anchor", "hreflang": None, "position": None,
    }
    values.update(fields)
    return Link(dst_url=dst_url, ordinal=ordinal, **values)  # type: ignore[arg-type]


def links_of(body: str | bytes, url: str = PAGE, headers: object = None) -> list[Link]:
    return extract_links(url, body, headers).links  # type: ignore[arg-type]


# --- resolution -----------------------------------------------------------------

def test_base_after_4kb_is_used() -> None:
    body = f"<html><body><p>{'x' * 5000}</p><base href='http://other.org/b/'>" \
           "<a href='c'>c</a></body></html>"
    page = extract_links(PAGE, body)
    assert page.base_url == "http://other.org/b/"
    assert page.links == [link("http://other.org/b/c", 0, anchor_text="c")]


def test_base_relative_to_page_url_and_first_base_wins() -> None:
    body = "<base href='../up/'><base href='http://no.org/'><a href='x?y=1'>t</a>"
    page = extract_links(PAGE, body)
    assert page.base_url == "http://example.com/up/"
    assert page.links == [link("http://example.com/up/x?y=1", 0, anchor_text="t")]


def test_base_with_other_scheme_is_ignored() -> None:
    page = extract_links(PAGE, "<base href='javascript:x'><a href='a'>a</a>")
    assert page.base_url == PAGE
    assert page.links[0].dst_url == "http://example.com/dir/a"


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("../up.html", "http://example.com/up.html"),
        ("//cdn.example.net/x", "http://cdn.example.net/x"),
        ("?q=1", "http://example.com/dir/page.html?q=1"),
        ("", "http://example.com/dir/page.html"),
        ("#top", "http://example.com/dir/page.html"),
        ("a.html#section-2", "http://example.com/dir/a.html"),
        ("/x?a=1&amp;b=2", "http://example.com/x?a=1&b=2"),
        ("  \n /sp ace\t/x\n  ", "http://example.com/sp%20ace/x"),
        ("/a|b/%zz/%41", "http://example.com/a%7Cb/%zz/%41"),
        ("/über/東京?q=café", "http://example.com/%C3%BCber/%E6%9D%B1%E4%BA%AC?q=caf%C3%A9"),
        ("HTTPS://München.DE/Straße", "https://xn--mnchen-3ya.de/Stra%C3%9Fe"),
    ],
)
def test_href_resolution(href: str, expected: str) -> None:
    assert links_of(f'<a href="{href}">t</a>') == [link(expected, 0, anchor_text="t")]


def test_other_schemes_kept_as_written() -> None:
    body = (
        "<a href=' mailto:me@example.com?subject=hi '>m</a>"
        "<a href='tel:+1-555-0100'>t</a>"
        "<a href='java\nscript:void(0)'>j</a>"
        "<a href='data:text/plain,hi#x'>d</a>"
        "<a href='ftp://Files.Example.com/pub/a.txt'>f</a>"
    )
    assert links_of(body) == [
        link("mailto:me@example.com?subject=hi", 0, dst_host=None, anchor_text="m"),
        link("tel:+1-555-0100", 1, dst_host=None, anchor_text="t"),
        link("javascript:void(0)", 2, dst_host=None, anchor_text="j"),
        link("data:text/plain,hi#x", 3, dst_host=None, anchor_text="d"),
        link("ftp://Files.Example.com/pub/a.txt", 4, dst_host="files.example.com",
             anchor_text="f"),
    ]


def test_unparseable_hrefs_are_skipped_and_counted() -> None:
    page = extract_links(PAGE, "<a href='http://[::1'>v6</a><a href='http://h:99999/'>p"
                               "</a><a href='https:///nohost'>n</a><a href='/ok'>ok</a>")
    assert page.links == [link("http://example.com/ok", 0, anchor_text="ok")]
    assert page.skipped == 3


# --- elements and attributes ------------------------------------------------------

def test_rel_tokens_upper_case_and_repeated() -> None:
    body = ('<a HREF="/a" REL="NoFollow  Sponsored\tnofollow">a</a>'
            '<a href="/b" rel="ugc external">b</a>')
    assert links_of(body) == [
        link("http://example.com/a", 0, anchor_text="a", rel=("nofollow", "sponsored"),
             nofollow=True, sponsored=True),
        link("http://example.com/b", 1, anchor_text="b", rel=("ugc", "external"),
             ugc=True),
    ]


def test_anchor_text_and_image_alt() -> None:
    body = (
        "<a href='/1'>  Hello <b>big</b>\n  world </a>"
        "<a href='/2'><img src='l.png' alt=' Our  logo '> <img alt='two'></a>"
        "<a href='/3'><img src='x.png'></a>"
        "<a href='/4'>text <img alt='ignored'></a>"
    )
    assert links_of(body) == [
        link("http://example.com/1", 0, anchor_text="Hello big world"),
        link("http://example.com/2", 1, anchor_text="Our logo two"),
        link("http://example.com/3", 2),
        link("http://example.com/4", 3, anchor_text="text"),
    ]


def test_area_links() -> None:
    body = ("<map name=m><area shape=rect href='/north' alt=' North  side '>"
            "<area href='/south'><area alt='no href'></map>")
    assert links_of(body) == [
        link("http://example.com/north", 0, tag="area", anchor_text="North side"),
        link("http://example.com/south", 1, tag="area"),
    ]


def test_head_links_canonical_alternate_and_others() -> None:
    body = (
        "<head><title>\n  My   page </title>"
        "<link rel='Canonical' href='/canon#x'>"
        "<link rel='alternate' hreflang='de-DE' href='https://example.de/seite'>"
        "<link rel='stylesheet' href='/s.css' title='Main'>"
        "<link rel='shortcut icon' href='/favicon.ico'>"
        "<link rel='apple-touch-icon' href='/touch.png'>"
        "<link rel='preload' href='/font.woff2'>"
        "<link rel='canonical' href='/second'>"
        "<link rel='stylesheet'></head>"
    )
    page = extract_links(PAGE, body)
    assert page.title == "My page"
    assert page.canonical_url == "http://example.com/canon"
    assert page.links == [
        link("http://example.com/canon", 0, tag="link", link_type="canonical",
             rel=("canonical",)),
        link("https://example.de/seite", 1, tag="link", link_type="alternate",
             rel=("alternate",), hreflang="de-DE"),
        link("http://example.com/s.css", 2, tag="link", link_type="stylesheet",
             rel=("stylesheet",), anchor_text="Main"),
        link("http://example.com/favicon.ico", 3, tag="link", link_type="icon",
             rel=("shortcut", "icon")),
        link("http://example.com/touch.png", 4, tag="link", link_type="icon",
             rel=("apple-touch-icon",)),
        link("http://example.com/font.woff2", 5, tag="link", link_type="link",
             rel=("preload",)),
        link("http://example.com/second", 6, tag="link", link_type="canonical",
             rel=("canonical",)),
    ]


def test_iframes_and_frames() -> None:
    body = ("<iframe src='https://video.example.net/embed/1' title=' Clip '></iframe>"
            "<iframe src=''></iframe><frameset><frame src='/f.html'></frameset>")
    assert links_of(body) == [
        link("https://video.example.net/embed/1", 0, tag="iframe", link_type="iframe",
             anchor_text="Clip"),
    ]
    frames = links_of("<html><frameset><frame src='/f.html'></frameset></html>")
    assert frames == [link("http://example.com/f.html", 0, tag="frame",
                           link_type="iframe")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("5; url=/next", "/next"),
        ("0;URL='/quoted page'", "/quoted page"),
        ('3 , Url = "/dq" ', "/dq"),
        ("0; http://example.org/bare", "http://example.org/bare"),
        ("10", None),
        ("", None),
    ],
)
def test_meta_refresh_url(content: str, expected: str | None) -> None:
    assert meta_refresh_url(content) == expected


def test_meta_refresh_link() -> None:
    body = "<meta http-equiv='Refresh' content='0; URL=../moved.html'><a href='/x'>x</a>"
    assert links_of(body) == [
        link("http://example.com/moved.html", 0, tag="meta", link_type="meta-refresh"),
        link("http://example.com/x", 1, anchor_text="x"),
    ]


def test_duplicates_kept_with_ordinals() -> None:
    body = "<a href='/same'>one</a><p>text</p><a href='/same#again'>two</a>"
    assert links_of(body) == [
        link("http://example.com/same", 0, anchor_text="one"),
        link("http://example.com/same", 1, anchor_text="two"),
    ]


def test_positions() -> None:
    body = (
        "<header><a href='/h'>h</a><nav><a href='/n'>n</a></nav></header>"
        "<main><a href='/m'>m</a><aside><iframe src='/ad'></iframe></aside></main>"
        "<a href='/none'>x</a>"
        "<footer><a href='/f'>f</a><nav><a href='/fn'>fn</a></nav><a href='/f2'>f2</a>"
        "<link rel='stylesheet' href='/late.css'></footer>"
    )
    assert [(x.dst_url.rsplit("/", 1)[1], x.position) for x in links_of(body)] == [
        ("h", "header"), ("n", "nav"), ("m", "main"), ("ad", "aside"), ("none", None),
        ("f", "footer"), ("fn", "nav"), ("f2", "footer"), ("late.css", None),
    ]


# --- robots -----------------------------------------------------------------------

def test_meta_robots_nofollow_applies_to_every_link() -> None:
    body = ("<a href='/before'>b</a><meta name='ROBOTS' content='NoIndex, NoFollow'>"
            "<meta name='googlebot' content='none'><a href='/after' rel='ugc'>a</a>")
    page = extract_links(PAGE, body)
    assert (page.meta_robots, page.page_nofollow, page.page_noindex) == (
        "noindex, nofollow", True, True)
    assert page.links == [
        link("http://example.com/before", 0, anchor_text="b", nofollow=True),
        link("http://example.com/after", 1, anchor_text="a", rel=("ugc",),
             nofollow=True, ugc=True),
    ]


def test_meta_robots_none_and_other_names() -> None:
    page = extract_links(PAGE, "<meta name=robots content=none><a href=/a>a</a>")
    assert (page.page_nofollow, page.page_noindex, page.links[0].nofollow) == (
        True, True, True)
    spaces = extract_links(PAGE, "<meta name=robots content='noindex nofollow'>")
    assert (spaces.page_nofollow, spaces.page_noindex) == (True, True)
    only_google = extract_links(PAGE, "<meta name=googlebot content=nofollow>")
    assert (only_google.meta_robots, only_google.page_nofollow) == (None, False)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Robots-Tag": "NoFollow"},
        {b"x-robots-tag": b"nofollow"},
        {"x-robots-tag": [b"noarchive", b"linkgraph: nofollow"]},
        Headers({"X-Robots-Tag": ["noarchive", "nofollow"]}),
        {"X-ROBOTS-TAG": "*: none"},
    ],
)
def test_x_robots_tag_nofollow(headers: object) -> None:
    page = extract_links(PAGE, "<a href='/a'>a</a>", headers)  # type: ignore[arg-type]
    assert page.page_nofollow
    assert page.links == [link("http://example.com/a", 0, anchor_text="a", nofollow=True)]


def test_x_robots_tag_for_other_agents_and_joined_value() -> None:
    headers = Headers({"X-Robots-Tag": ["googlebot: nofollow", "unavailable_after: 25 Jun 2030",
                                        "otherbot: noindex, noarchive"]})
    page = extract_links(PAGE, "<a href='/a'>a</a>", headers)
    assert page.x_robots_tag == (
        "googlebot: nofollow, unavailable_after: 25 jun 2030, otherbot: noindex, noarchive")
    assert (page.page_nofollow, page.page_noindex, page.links[0].nofollow) == (
        False, False, False)


def test_x_robots_directive_runs() -> None:
    values = ["noarchive, googlebot: nofollow, noindex, linkgraph: nosnippet",
              "unavailable_after: 2030-01-01"]
    assert x_robots_directives(values) == [
        "noarchive", "nosnippet", "unavailable_after: 2030-01-01"]


def test_parse_rel() -> None:
    assert parse_rel(None) == ()
    assert parse_rel("  ") == ()
    assert parse_rel("A\u00a0B  c\fC") == ("a\u00a0b", "c")


# --- robustness and decoding --------------------------------------------------------

def test_empty_body() -> None:
    for body in (b"", "", "  \n"):
        assert extract_links(PAGE, body) == PageLinks(url=PAGE, base_url=PAGE)


@pytest.mark.parametrize(
    "body",
    [
        bytes(range(256)) * 40,
        b"\x89PNG\r\n\x1a\n" + bytes(random.Random(1).randrange(256) for _ in range(5000)),
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    ],
)
def test_binary_body_gives_no_links(body: bytes) -> None:
    page = extract_links(PAGE, body)
    assert page.links == []


def test_nul_bytes_and_garbage_markup() -> None:
    body = ("<html><body>\x00<a href='/a\x00b'>x\x00y</a><div <<>> <a href=/c>c"
            "<a href=\"/d'>unclosed<table><a href='/e'>e</td></tr></p></body></html>\x00")
    page = extract_links(PAGE, body)
    assert page.links[0] == link("http://example.com/a%EF%BF%BDb", 0, anchor_text="xy")
    # The unclosed quote swallows the rest of the document, as in browsers.
    assert [x.dst_url for x in page.links][1:] == ["http://example.com/c"]
    assert extract_links(PAGE, body.encode()).links == page.links


def test_lone_surrogates_in_str_body() -> None:
    body = "<a href='/a'>\udcff</a>"
    assert extract_links(PAGE, body).links[0].dst_url == "http://example.com/a"


@pytest.mark.parametrize(
    ("body", "headers", "text"),
    [
        ("<meta charset='windows-1251'><a href='/п'>Привет</a>".encode("cp1251"), None,
         "Привет"),
        ("<a href='/x'>Grüße</a>".encode("latin-1"),
         {"Content-Type": "text/html; charset=ISO-8859-1"}, "Grüße"),
        (b"\xef\xbb\xbf<meta charset=latin-1><a href='/x'>\xc3\xa9t\xc3\xa9</a>", None,
         "été"),
        (b"<a href='/x'>caf\xe9</a>", None, "caf\ufffd"),
    ],
)
def test_bytes_are_decoded(body: bytes, headers: dict[str, str] | None, text: str) -> None:
    assert links_of(body, headers=headers)[0].anchor_text == text


def test_fixture_page() -> None:
    html = (FIXTURES / "article.html").read_bytes()
    page = extract_links("https://blog.example.com/2026/11/post.html", html,
                         {"Content-Type": "text/html; charset=utf-8"})
    assert page.title == "A post about link graphs"
    assert page.canonical_url == "https://blog.example.com/2026/11/post"
    assert page.base_url == "https://blog.example.com/2026/"
    assert page.skipped == 1
    assert page.links == [
        link("https://blog.example.com/2026/11/post", 0, tag="link",
             link_type="canonical", rel=("canonical",)),
        link("https://blog.example.com/static/site.css", 1, tag="link",
             link_type="stylesheet", rel=("stylesheet",)),
        link("https://de.blog.example.com/2026/11/beitrag", 2, tag="link",
             link_type="alternate", rel=("alternate",), hreflang="de"),
        link("https://blog.example.com/", 3, position="header", anchor_text="Blog home"),
        link("https://blog.example.com/archive/", 4, position="nav", anchor_text="Archive"),
        link("https://blog.example.com/2026/about", 5, position="nav",
             anchor_text="About me"),
        link("https://en.wikipedia.org/wiki/PageRank", 6, position="main",
             anchor_text="PageRank"),
        link("https://shop.example.org/item?id=7&ref=blog", 7, position="main",
             anchor_text="a sponsor", rel=("sponsored", "noopener"), sponsored=True),
        link("https://blog.example.com/2026/10/older", 8, position="main",
             anchor_text="Previous post"),
        link("https://www.youtube-nocookie.com/embed/abc", 9, position="main",
             tag="iframe", link_type="iframe", anchor_text="Talk video"),
        link("https://example.net/user", 10, position="aside", anchor_text="a commenter",
             rel=("ugc", "nofollow"), nofollow=True, ugc=True),
        link("mailto:me@blog.example.com", 11, dst_host=None, position="footer",
             anchor_text="Mail me"),
        link("https://blog.example.com/feed.xml", 12, position="footer",
             anchor_text="RSS"),
    ]


# --- resolution against its definition ----------------------------------------------

_BASES = [
    "http://example.com/a/b/c.html?x=1#frag", "https://example.com", "https://example.com/",
    "http://EXAMPLE.com:8080/dir/", "https://user:pw@example.com/a//b/./c",
    "http://example.com/ä/ö.html", "http://münchen.de/straße/", "http://example.com/a b/c|d",
    "http://example.com/a;p/b", "https://example.com/a?q#f", "http://[::1]:8000/x/y",
    "http://xn--mnchen-3ya.de/a/", "http://example.com/..", "https://example.com/a/../../b/",
    "http://example.com/%7Euser/index.html", "http://example.com:80/", "https://Example.COM./x",
]
# Pieces that make hrefs of every shape: relative, dot segments, queries, fragments,
# schemes and hosts, IDN, spaces, "|", percent sequences, characters that get quoted.
_PIECES = [
    "../", "./", "a/", "b/", "?x=1&y=2", "/p", "a", "b", ".", "..", "", "é", " ", "|", "%",
    "%41", "%zz", "?", "#", "/", "//", ";", ":", "'", '"', "<", "\\", "~", "=", "&", "東",
    "\t", "x.html", "http:", "https:", "https://", "HTTP://", "Example.COM", "münchen.de",
    "[::1]", ":80", "@", "+", "!", "*", "{", "}", "^", "`", "\x00", "\x7f", "\u00a0", "a.b",
    "-", "_", "xn--", "q=1", "%2e",
]
_COMMON = ["../", "./", "a/", "b/", "?x=1&y=2", "/p", "a", "b", ".", "..", "é", " ", "%41",
           "x.html", "//", "#", "q=1", "東", "https://", "example.com", "/", "a.b", "|"]
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def _definition(base: str, href: str) -> tuple[str, str | None] | None:
    """What the extractor promises for an http(s) href (None: skipped)."""
    try:
        url = safe_url_string(urljoin(base, href)).split("#", 1)[0]
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if host is None and parts.scheme in ("http", "https"):
        return None
    return url, host


def _corpus(pieces: list[str], seed: int, size: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(rng.choice(_BASES), "".join(rng.choice(pieces) for _ in range(rng.randint(1, 7))))
            for _ in range(size)]


@pytest.mark.parametrize(("pieces", "seed"), [(_PIECES, 1), (_COMMON, 2)])
def test_resolution_equals_safe_url_string_of_urljoin(pieces: list[str], seed: int) -> None:
    resolvers = {base: Resolver(base) for base in _BASES}
    mismatches = []
    checked = 0
    for base, raw in _corpus(pieces, seed, 20000):
        href = clean_href(raw)
        scheme = _SCHEME.match(href)
        if scheme is not None and scheme.group(1).lower() not in ("http", "https"):
            continue
        checked += 1
        expected = _definition(base, href)
        # A fresh resolver and a warm one (shared caches) must both agree.
        for resolver in (resolvers[base], Resolver(base)):
            if resolver.resolve(href) != expected:
                mismatches.append((base, raw, expected, resolver.resolve(href)))
    assert checked > 15000
    assert mismatches == []


@pytest.mark.parametrize(
    ("raw", "clean"),
    [(" \t\n a\tb\nc\r \x00\x1f", "abc"), ("\u00a0x\u00a0", "\u00a0x\u00a0"), ("", "")],
)
def test_clean_href(raw: str, clean: str) -> None:
    assert clean_href(raw) == clean


def _nearest_section(html: str) -> list[str | None]:
    """The position of each <a>, by its definition: the nearest enclosing section tag."""
    from selectolax.lexbor import LexborHTMLParser

    result = []
    for node in LexborHTMLParser(html).root.css("a[href]"):
        parent = node.parent
        while parent is not None and parent.tag not in ("nav", "header", "footer", "aside", "main"):
            parent = parent.parent
        result.append(parent.tag if parent is not None else None)
    return result


def test_positions_are_the_nearest_section_in_nested_sections():
    rng = random.Random(7)
    for _ in range(30):
        parts = []
        for _ in range(60):
            choice = rng.random()
            if choice < 0.3:
                parts.append(f"<{rng.choice(['nav', 'header', 'footer', 'aside', 'main', 'div'])}>")
            elif choice < 0.5:
                parts.append(f"</{rng.choice(['nav', 'header', 'footer', 'aside', 'main', 'div'])}>")
            else:
                parts.append(f'<a href="/{len(parts)}">x</a>')
        html = "<html><body>" + "".join(parts) + "</body></html>"
        assert [lk.position for lk in extract_links(PAGE, html).links] == _nearest_section(html)


def test_nesting_beyond_the_cap_is_flattened_and_keeps_every_link():
    depth = 2_000
    html = ("<html><body><nav>" + "<div>" * depth + '<a href="/deep">deep</a>' + "</div>" * depth
            + '</nav><footer><a href="/after">after</a></footer></body></html>')
    uncapped = extract_links(PAGE, html)
    capped = extract_links(PAGE, html, max_nesting=100)
    assert capped.links == uncapped.links  # the links, their positions and order
    assert capped.nesting_capped == depth - 100 + 3  # html, body and nav are open too
    assert uncapped.nesting_capped == 0
    # Under the cap nothing changes, not even on a page with many (void) tags.
    page = "<html><body>" + "<br><img src=x.png>" * 2000 + '<a href="/x">x</a></body></html>'
    assert extract_links(PAGE, page, max_nesting=100) == extract_links(PAGE, page)
