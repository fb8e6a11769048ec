"""fastwarc against warcio: read every response record of a gzipped WARC (HTTP headers
parsed, body read), in the same run, on a generated archive; with ``--ingest``, also
``linkgraph warc`` end to end on FILES such archives with 1 and 2 processes.

    python benchmarks/warc_readers.py [--pages 5000] [--repeat 3] [--ingest --files 4]

The archive: PAGES HTML pages of ~76 links each (the crawl benchmark's page shape),
written with warcio as a crawler writes them (request + response record per page,
one gzip member per record, a warcinfo record first).
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def page(i: int, n: int) -> bytes:
    links = "".join(f'<li><a href="/page/{(i * 7 + k * 13) % n}.html">Page {k}</a></li>'
                    for k in range(76))
    return (f"<!doctype html><html><head><title>Page {i}</title></head><body><nav><ul>"
            f"{links}</ul></nav><main><p>{'text ' * 200}</p></main></body></html>").encode()


def write_archive(path: str, n: int) -> None:
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        writer.write_record(writer.create_warcinfo_record(os.path.basename(path),
                                                          {"software": "benchmark"}))
        for i in range(n):
            url = f"http://www.bench-site.com/page/{i}.html"
            body = page(i, n)
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                                   ("Content-Length", str(len(body)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response",
                                                          payload=io.BytesIO(body),
                                                          http_headers=headers))


def read_fastwarc(path: str) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    total = 0
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response,
                                      parse_http=True):
            record.http_headers.get("Content-Type")
            total += len(record.reader.read())
    return total


def read_warcio(path: str) -> int:
    from warcio.archiveiterator import ArchiveIterator

    total = 0
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "response":
                continue
            record.http_headers.get_header("Content-Type")
            total += len(record.content_stream().read())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ingest", action="store_true",
                        help="also time linkgraph warc on --files archives")
    parser.add_argument("--files", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.warc.gz")
        write_archive(path, args.pages)
        print(f"archive: {args.pages} pages, {os.path.getsize(path) / 1e6:.1f} MB gzipped")
        best = {}
        for name, read in (("fastwarc", read_fastwarc), ("warcio", read_warcio)):
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                size = read(path)
                times.append(time.perf_counter() - t)
            best[name] = min(times)
            print(f"{name:9s} {best[name]:6.3f} s  {args.pages / best[name]:8.0f} records/s "
                  f"({size / 1e6:.1f} MB of bodies)")
        print(f"fastwarc is {best['warcio'] / best['fastwarc']:.1f}x warcio")
        if args.ingest:
            ingest(tmp, path, args)


def ingest(tmp: str, path: str, args: argparse.Namespace) -> None:
    """``linkgraph warc`` on ``args.files`` copies of the archive (distinct URLs each)."""
    import resource
    import shutil
    import subprocess
    import sys

    folder = os.path.join(tmp, "archives")
    os.makedirs(folder)
    for i in range(args.files):
        write_archive(os.path.join(folder, f"part{i}.warc.gz"), args.pages)
        # Each file its own site: rewrite the host so no URL repeats across files.
        data = gzip_sub(os.path.join(folder, f"part{i}.warc.gz"), f"www.bench-site{i}.com")
        with open(os.path.join(folder, f"part{i}.warc.gz"), "wb") as out:
            out.write(data)
    pages = args.pages * args.files
    for processes in (1, 2):
        out = os.path.join(tmp, f"out{processes}")
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "linkgraph", "warc", folder, "-o", out,
                        "--processes", str(processes), "-q"], check=True,
                       stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"linkgraph warc, {processes} process(es): {pages} pages in {wall:.1f} s = "
              f"{pages / wall:.0f} pages/s (largest process so far {peak:.0f} MB)")
        shutil.rmtree(out)


def gzip_sub(path: str, host: str) -> bytes:
    """The archive at ``path`` with its pages on ``host`` (a member-per-record rewrite)."""
    from warcio.archiveiterator import ArchiveIterator

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "response":
                continue
            url = record.rec_headers.get_header("WARC-Target-URI").replace(
                "www.bench-site.com", host)
            body = record.content_stream().read().replace(b"www.bench-site.com", host.encode())
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body),
                http_headers=record.http_headers))
    return buffer.getvalue()


if __name__ == "__main__":
    main()
