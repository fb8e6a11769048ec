"""Merge the links of the HTML as served with those of the rendered DOM.

A link instance is matched by ``(dst_url, link_type, tag, anchor_text)``, as a
multiset: two identical "Home" links in the raw HTML and three in the DOM give two
``both`` and one ``rendered``. The merged list is in rendered document order (that is
the page a user sees) with ordinals re-numbered; links only in the raw HTML (removed
by script) follow at the end.
"""

from __future__ import annotations

from collections import Counter

from linkgraph.extract.records import Link


def _key(link: Link) -> tuple[str, str, str, str | None]:
    return (link.dst_url, link.link_type, link.tag, link.anchor_text)


def merge_links(raw: list[Link], rendered: list[Link]) -> tuple[list[Link], list[str]]:
    """Return ``(links, found_in)``: one list of links and, parallel, raw/rendered/both."""
    available = Counter(map(_key, raw))
    links: list[Link] = []
    found_in: list[str] = []
    for link in rendered:
        key = _key(link)
        if available[key] > 0:
            available[key] -= 1
            found_in.append("both")
        else:
            found_in.append("rendered")
        links.append(link._replace(ordinal=len(links)))
    # What is left in ``available`` per key is how many raw instances the DOM lost;
    # they are the last ones of their key in raw order.
    seen: Counter[tuple[str, str, str, str | None]] = Counter()
    totals = Counter(map(_key, raw))
    for link in raw:
        key = _key(link)
        seen[key] += 1
        if seen[key] > totals[key] - available[key]:
            links.append(link._replace(ordinal=len(links)))
            found_in.append("raw")
    return links, found_in
