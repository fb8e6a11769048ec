"""The link extractor: a pure function from (URL, HTML, headers) to link records.

No Scrapy engine inside, so the same function serves the spider, WARC records, a
rendered DOM's HTML and tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from linkgraph.extract._html import extract as _extract
from linkgraph.extract._rel import ROBOTS_AGENT
from linkgraph.extract.records import Link, PageLinks

__all__ = ["ROBOTS_AGENT", "Link", "PageLinks", "extract_links"]


def extract_links(
    url: str, body: bytes | str, headers: Mapping[Any, Any] | None = None,
    max_nesting: int | None = None,
) -> PageLinks:
    """Extract the links of an HTML document, in document order.

    Parameters
    ----------
    url : str
        The URL that answered (after redirects); hrefs resolve against it unless the
        document has a ``<base href>`` (the first one in document order, wherever it
        stands, itself resolved against ``url``).
    body : bytes or str
        The document. ``str`` is taken as already decoded (Scrapy's
        ``response.text``); ``bytes`` are decoded by a BOM, else the charset of the
        ``Content-Type`` header, else a ``<meta charset>``, else UTF-8, with
        undecodable bytes replaced.
    headers : Mapping, optional
        Response headers, looked up case-insensitively: ``X-Robots-Tag`` and
        ``Content-Type``. Keys and values may be str or bytes, values may be lists
        (Scrapy's ``Headers`` works as it is).
    max_nesting : int, optional
        Elements nested deeper than this are not opened (their start and end tags
        are left out, their content kept one level up), which keeps the parse time
        linear in the size of the document; ``PageLinks.nesting_capped`` counts the
        tags left out. None: no cap.

    Returns
    -------
    PageLinks
        One :class:`Link` per ``<a href>``, ``<area href>``, ``<link href>``,
        ``<iframe src>``, ``<frame src>`` and ``<meta http-equiv=refresh>`` URL, with
        the column meanings of ``linkgraph.storage.schemas.LINKS_SCHEMA``; the page's title,
        canonical URL, effective base URL and robots directives; and ``skipped``,
        the number of hrefs left out as unparseable.

    Notes
    -----
    - Page-level nofollow comes from ``<meta name="robots">`` (only that name, not
      ``googlebot`` or other crawler names) and from ``X-Robots-Tag``; ``none`` counts
      as nofollow and noindex. In ``X-Robots-Tag``, directives after a ``name:`` prefix
      apply only when ``name`` is :data:`ROBOTS_AGENT` (``linkgraph``) or ``*``, up to
      the next prefix or the end of that header value.
    - hrefs with a scheme other than http/https (``mailto:``, ``tel:``,
      ``javascript:``, ``data:``, ``ftp:``) are kept as written (whitespace stripped,
      not joined, fragment kept); only ``ftp:`` gets a ``dst_host``.
    - An empty ``<a href="">`` links to the base URL (the page itself when there is
      no ``<base>``), as in browsers; an empty ``<link href>``/``<iframe src>`` loads
      nothing and gives no row. An http(s) URL with no host counts as unparseable.
    - Never raises on malformed markup, NUL bytes or binary junk; an empty body gives
      a PageLinks without links.
    """
    return _extract(url, body, headers, max_nesting)
