"""Read the HTTP responses of a WARC file, gzipped or not, one record at a time.

The record parser is fastwarc's (3.9x warcio's speed reading the same gzipped
archive: ``python benchmarks/warc_readers.py``), given a stream this module opens:
fastwarc would treat a path that looks like a URL as one to fetch, and a truncated
gzip member ends its iteration silently. A gzipped file is decompressed here member by
member (:class:`_Members`), so a truncated member is noticed and reported, and every
record before it is still read.

What cannot be read is counted by reason and skipped, never raised:
``not_warc`` (the file does not start with a WARC record), ``truncated`` (a gzip member
or a record ends early: the rest of the file is lost), ``no_http`` (a response record
whose block is not an HTTP response), ``revisit`` (a revisit record holds no body of
its own), ``not_http_url`` (a response for a ``dns:`` or other non-web URI).
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


@dataclass
class ArchivedResponse:
    """One HTTP response as the archive holds it."""

    url: str
    status: int
    #: Header (name, value) pairs as bytes, in order (repeated names kept).
    headers: list[tuple[bytes, bytes]]
    body: bytes
    fetched_at: datetime


@dataclass
class ReadReport:
    """What reading a file skipped, by reason, and how many responses it gave."""

    path: str
    responses: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def skip(self, reason: str, detail: str | None = None) -> None:
        self.skipped[reason] += 1
        if detail is not None:
            self.problems.append(detail)
            log.warning("%s", detail)


class _Members:
    """A gzip file's decompressed bytes, member after member, as a read() stream; an
    unfinished last member ends the stream early and sets :attr:`truncated`."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(wbits=31)
        self.buffer = b""
        self.truncated = False
        self.fed = False  # the current member has been given bytes
        self.position = 0  # decompressed bytes handed out

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def _fill(self) -> bool:
        while not self.buffer:
            if self.inflate.eof:
                rest = self.inflate.unused_data
                self.inflate = zlib.decompressobj(wbits=31)
                self.fed = False
                if rest:
                    self._feed(rest)
                    continue
            chunk = self.raw.read(_CHUNK)
            if not chunk:
                # A member that was begun and never ended: the file was cut.
                self.truncated = self.fed and not self.inflate.eof
                return False
            self._feed(chunk)
            if self.truncated:
                return False
        return True

    def _feed(self, data: bytes) -> None:
        self.fed = True
        try:
            self.buffer = self.inflate.decompress(data)
        except zlib.error:
            self.truncated = True  # not gzip past here: as good as cut

    def read(self, size: int = -1) -> bytes:
        out = []
        wanted = size if size >= 0 else float("inf")
        got = 0
        while got < wanted and self._fill():
            take = self.buffer if size < 0 else self.buffer[: int(wanted - got)]
            self.buffer = self.buffer[len(take):]
            out.append(take)
            got += len(take)
        self.position += got
        return b"".join(out)


def _date(value: str | None) -> datetime:
    if value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
        except ValueError:
            pass
    return datetime.fromtimestamp(0, timezone.utc)


def read_responses(path: str | Path, report: ReadReport | None = None
                   ) -> Iterator[ArchivedResponse]:
    """The HTTP responses of the WARC file ``path``, in file order.

    ``report`` (made here if not given) counts what was skipped and why.
    """
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    report = report if report is not None else ReadReport(str(path))
    with open(path, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        stream = _Members(raw) if magic == _GZIP_MAGIC else raw
        records = ArchiveIterator(stream, record_types=WarcRecordType.response
                                  | WarcRecordType.revisit, parse_http=True,
                                  stream_detect=False, fsspec_args=False)
        # Each response is handed out when the next record begins (or the file ends
        # whole): the record a cut file ends inside is incomplete and is not yielded.
        held: ArchivedResponse | None = None
        held_problem: str | None = None
        try:
            for record in records:
                if held is not None:
                    report.responses += 1
                    yield held
                    held = None
                if held_problem is not None:
                    report.skip("no_http", held_problem)
                    held_problem = None
                if record.record_type == WarcRecordType.revisit:
                    report.skip("revisit")
                    continue
                url = record.headers.get("WARC-Target-URI") or ""
                if not url.lower().startswith(("http://", "https://")):
                    report.skip("not_http_url")
                    continue
                http = record.http_headers
                status = None
                if http is not None and record.is_http:
                    try:
                        status = int(http.status_code)
                    except (TypeError, ValueError):
                        status = None
                if status is None:
                    held_problem = (f"{path}: the response record for {url} holds no HTTP "
                                    "response; skipped")
                    continue
                headers = [(k.encode("latin-1", "replace"), v.encode("latin-1", "replace"))
                           for k, v in http.astuples()]
                held = ArchivedResponse(url, status, headers, record.reader.read(),
                                        _date(record.headers.get("WARC-Date")))
        except OSError as exc:
            if report.responses == 0 and held is None and not report.skipped:
                report.skip("not_warc", f"{path}: not a WARC file ({exc}); skipped")
                return
            if held is not None:  # whole: the next record's header is what failed
                report.responses += 1
                yield held
            report.skip("truncated", f"{path}: unreadable after {report.responses} "
                                     f"response(s) ({exc}); the rest is skipped")
            return
        cut = isinstance(stream, _Members) and stream.truncated
        if not cut:
            if held is not None:
                report.responses += 1
                yield held
            if held_problem is not None:
                report.skip("no_http", held_problem)
        if isinstance(stream, _Members) and stream.truncated:
            report.skip("truncated", f"{path}: the file ends inside a gzip member (a "
                                     f"truncated archive) after {report.responses} "
                                     "response(s); the rest is lost")
