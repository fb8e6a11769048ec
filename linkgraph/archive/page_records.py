"""Archived HTTP responses as page records, through the crawl's own response reader.

A WARC keeps what went over the wire: a chunked transfer coding and a gzip, deflate or
br content coding are undone here (bounded by :data:`MAX_BODY`, as the crawl's
``DOWNLOAD_MAXSIZE`` bounds a download), then the response becomes a Scrapy response
and :func:`linkgraph.crawl.responses.read_response` makes its page record: the same
media-type rule, redirect edge and extractor as a crawl.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from scrapy.http import Headers
from scrapy.responsetypes import responsetypes

from linkgraph import settings
from linkgraph.archive.warc_reader import ReadReport, read_responses
from linkgraph.crawl.items import PageItem
from linkgraph.crawl.responses import read_response, truncate

#: A response body (decoded) larger than this is skipped as ``too_large``.
MAX_BODY = settings.DOWNLOAD_MAXSIZE


def page_records(path: str, report: ReadReport, *,
                 max_links: int | None = settings.LINKGRAPH_MAX_LINKS_PER_PAGE
                 ) -> Iterator[PageItem]:
    """The page record of every HTTP response in the WARC file ``path`` (file order).

    A response that cannot be decoded or read is counted in ``report`` and skipped.
    """
    for archived in read_responses(path, report):
        try:
            headers = Headers(archived.headers)
            body = _decode(headers, archived.body)
            cls = responsetypes.from_args(headers=headers, url=archived.url, body=body)
            response = cls(url=archived.url, status=archived.status, headers=headers,
                           body=body)
            item = read_response(response, None, archived.fetched_at).item
        except OverflowError:
            report.skip("too_large")
            continue
        except Exception as exc:  # noqa: BLE001 - one bad record must not end the file
            report.skip("unreadable_record", f"{path}: the response for {archived.url} "
                                             f"cannot be read ({type(exc).__name__}: "
                                             f"{' '.join(str(exc).split())[:120]}); skipped")
            continue
        if truncate(item, max_links):
            report.skipped["pages_links_truncated"] += 1
        yield item


def _decode(headers, body: bytes) -> bytes:
    """The body as the server meant it: chunked transfer coding and gzip/deflate/br
    content coding undone (archives keep what went over the wire), at most MAX_BODY."""
    if b"chunked" in (headers.get(b"Transfer-Encoding") or b"").lower():
        body = _unchunk(body)
    coding = (headers.get(b"Content-Encoding") or b"").strip().lower()
    if coding in (b"gzip", b"x-gzip", b"deflate"):
        inflate = zlib.decompressobj(wbits=47 if coding != b"deflate" else 15)
        try:
            data = inflate.decompress(body, MAX_BODY + 1)
        except zlib.error:
            if coding != b"deflate":
                raise
            data = zlib.decompressobj(wbits=-15).decompress(body, MAX_BODY + 1)
        body = data
    elif coding == b"br":
        body = _unbrotli(body)
    if len(body) > MAX_BODY:
        raise OverflowError(len(body))
    for name in (b"Transfer-Encoding", b"Content-Encoding"):
        headers.pop(name, None)
    return body


def _unbrotli(body: bytes) -> bytes:
    import brotli

    # Small input steps, so a bomb is stopped near the limit, not after inflating.
    decompressor, out, size = brotli.Decompressor(), [], 0
    for at in range(0, len(body), 4096):
        piece = decompressor.process(body[at:at + 4096])
        out.append(piece)
        size += len(piece)
        if size > MAX_BODY:
            raise OverflowError(size)
    return b"".join(out)


def _unchunk(body: bytes) -> bytes:
    out, at = [], 0
    while at < len(body):
        end = body.find(b"\r\n", at)
        if end < 0:
            break
        size = int(body[at:end].split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            break
        out.append(body[end + 2:end + 2 + size])
        at = end + 2 + size + 2
    return b"".join(out)
