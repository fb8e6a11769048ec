"""A cap on how deeply a document's elements nest, applied before parsing.

lexbor's tree building costs time proportional to the depth of the open elements for
each tag (the HTML Standard's scope checks walk that stack), so a document of n nested
elements takes time in n squared: 8,000 nested ``<div>`` took 0.5 s here, 100,000
would take a minute. Browsers cap the depth (Chromium at 512); here the start tags
beyond ``max_depth`` open elements, and their end tags, are left out, so what they
held stays in the document one level up: every link is still there, in order.

Checking costs little on an ordinary page: an upper bound on the depth (every start
tag counted, every end tag subtracted) is computed with numpy, and only a page whose
bound exceeds the cap is scanned tag by tag.
"""

from __future__ import annotations

import re

import numpy as np

_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")
#: Elements that are never open (void), that the parser closes by itself (a ``<p>``
#: or ``<li>`` ends at the next one, an ``<a>`` at the next ``<a>``) or that hold no
#: elements: they add nothing to the depth here, and are never left out (the link
#: elements among them are what the extractor is for).
_NOT_NESTING = frozenset("""
    area base br col embed hr img input link meta param source track wbr frame
    p li dt dd option optgroup tr td th thead tbody tfoot colgroup caption rb rt rtc rp
    a iframe title script style textarea
    """.split())
_LT, _SLASH = ord("<"), ord("/")


def _depth_bound(text: str) -> int:
    """At least the deepest nesting of ``text`` (each ``<x`` +1, each ``</`` -1)."""
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)
    starts = np.flatnonzero(data[:-1] == _LT)
    following = data[starts + 1] | 0x20  # lower-cased letters, "/" stays "/"
    steps = ((following >= ord("a")) & (following <= ord("z"))).astype(np.int32)
    steps -= following == _SLASH
    return int(np.cumsum(steps).max(initial=0))


def cap_nesting(text: str, max_depth: int | None) -> tuple[str, int]:
    """``text`` with the start tags nested deeper than ``max_depth`` (and their end
    tags) left out; returns it and how many start tags were left out (0: unchanged)."""
    if max_depth is None or text.count("<") <= max_depth or _depth_bound(text) <= max_depth:
        return text, 0
    pieces: list[str] = []
    depth = excess = dropped = 0
    start = 0
    for match in _TAG.finditer(text):
        if match.start() < start or match.group(2).lower() in _NOT_NESTING:
            continue  # (the first: inside a tag left out)
        if match.group(1):  # an end tag
            if excess:
                excess -= 1
            elif depth:
                depth -= 1
                continue
            else:
                continue
        elif depth < max_depth:
            depth += 1
            continue
        else:
            excess += 1
            dropped += 1
        # Leave the whole tag out, attributes and all, up to its ">".
        end = text.find(">", match.end())
        end = len(text) if end < 0 else end + 1
        pieces.append(text[start:match.start()])
        start = end
    if not dropped:
        return text, 0
    pieces.append(text[start:])
    return "".join(pieces), dropped
