"""A web server that misbehaves in every way crawlers meet, for the hostile-crawl tests.

It speaks raw HTTP/1.1 over asyncio (byte-level control: resets, trickles, silence,
bombs), binds 127.0.0.1 on a free port only, and runs in a background thread. Crawls
reach its host names with ``--resolve HOST=127.0.0.1:PORT`` (absolute-URI proxy
requests); the host is taken from the absolute URI, else the Host header.

Every path of ``http://hostile.test/`` and the other hosts is listed in :data:`CASES`
and linked from the index page, so one crawl of the index meets them all.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, unquote, urlsplit

MAIN = "hostile.test"
OTHER = "other.test"
ELSEWHERE = "elsewhere.test"  # not in the crawl's scope: its links are recorded only
IDN = "xn--bcher-kva.test"  # bücher.test
ROBOTS_HTML, ROBOTS_HUGE, ROBOTS_500 = "robots-html.test", "robots-huge.test", "robots-500.test"
HOSTS = (MAIN, OTHER, IDN, ROBOTS_HTML, ROBOTS_HUGE, ROBOTS_500)

MB = 1024 * 1024
HUGE_BODY = 200 * MB
LONG_URL_PATH = "/long/" + "x" * (64 * 1024)
MANY_LINKS = 100_000
CHAIN_HOPS = 30
DEEP_NESTING = 100_000

#: path on MAIN -> what it does (the index links each one).
CASES = {
    "/reset": "sends half the promised body, then a TCP reset",
    "/never": "reads the request and never answers",
    "/trickle": "promises 1000 bytes and sends one a second",
    "/e500": "500", "/e502": "502", "/e503": "503 without Retry-After", "/e504": "504",
    "/r429": "429 Retry-After: 1 once, then 200",
    "/r503": "503 Retry-After: 1 always",
    "/r503-long": "503 Retry-After: 3600 once, then 200",
    "/loop-a": "redirects to /loop-b, which redirects back",
    "/chain/0": f"a {CHAIN_HOPS}-hop redirect chain",
    "/to-https": "redirects to https://hostile.test/secure",
    "/to-ftp": "redirects to ftp://hostile.test/file",
    "/to-file": "redirects to file:///etc/passwd",
    "/to-other": "redirects to http://other.test/landing",
    "/cal?month=0": "an infinite calendar (month N links N+1 and N-1)",
    "/s/0?sid=start": "every URL carries a new session id",
    "/a/": "ever-deepening /a/a/a/...",
    "/many": f"{MANY_LINKS} links",
    "/huge": "200 MB body with Content-Length",
    "/huge-stream": "200 MB body without Content-Length (ends at close)",
    "/bomb": "gzip bomb: ~200 KB that inflates to 200 MB",
    "/wrong-type": "HTML served as image/png",
    "/latin1": "ISO-8859-1 declared in the header",
    "/misdeclared": "windows-1252 bytes declared as UTF-8",
    "/sjis-undeclared": "Shift_JIS with no charset anywhere",
    "/binary": "random bytes served as text/html",
    "/nul": "HTML with NUL bytes around its links",
    "/long-link": "links to a 64 KB URL",
    "/deep": f"{DEEP_NESTING} nested <div>s around a link",
    "/nested-navs": "10,000 nested <nav>s around 10,000 links",
}


def deep_page() -> bytes:
    return (b"<html><body>" + b"<div>" * DEEP_NESTING + b'<a href="/deep-end">end</a>'
            + b"</div>" * DEEP_NESTING + b'<a href="/after-deep">after</a></body></html>')


def nested_navs_page() -> bytes:
    # Out of scope: recorded, not fetched.
    links = "".join(f'<a href="http://{ELSEWHERE}/nav/{i}">{i}</a>' for i in range(10_000))
    return f"<html><body>{'<nav>' * 10_000}{links}{'</nav>' * 10_000}</body></html>".encode()


def _bomb(size: int) -> bytes:
    """gzip of ``size`` zero bytes, built in chunks (never ``size`` bytes in memory)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    chunk = bytes(MB)
    out = [comp.compress(chunk) for _ in range(size // MB)]
    out.append(comp.flush())
    return b"".join(out)


def _page(title: str, links: list[str], extra: str = "") -> bytes:
    anchors = "".join(f'<a href="{href}">{href[:40]}</a>\n' for href in links)
    return (f"<!doctype html><html><head><title>{title}</title></head>"
            f"<body>{extra}{anchors}</body></html>").encode()


Handler = Callable[["_Conn"], Awaitable[None]]


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str, path: str, query: str):
        self.reader, self.writer = reader, writer
        self.host, self.path, self.query = host, path, query

    async def send(self, status: int, body: bytes = b"", ctype: str = "text/html; charset=utf-8",
                   headers: dict[str, str] | None = None, length: int | None = None) -> None:
        head = [f"HTTP/1.1 {status} X", f"Content-Type: {ctype}",
                f"Content-Length: {len(body) if length is None else length}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()

    async def redirect(self, location: str, status: int = 302) -> None:
        await self.send(status, b"", headers={"Location": location})


class HostileServer:
    """The misbehaving server; use as a context manager (``with HostileServer() as s``)."""

    def __init__(self) -> None:
        self.hits: list[tuple[float, str, str]] = []  # (time, host, path?query)
        self.counts: dict[str, int] = {}
        self.bytes_sent: dict[str, int] = {}
        self.bomb = _bomb(HUGE_BODY)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._hanging: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()
        self.port = 0
        self.closed_port = _closed_port()

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> HostileServer:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        fut.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0,
                                                  limit=256 * 1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        for writer in list(self._hanging):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        assert self._server is not None
        self._server.close()

    def resolve_entries(self) -> list[str]:
        """``--resolve`` entries: every host here, and refused.test on a closed port."""
        return [f"{h}=127.0.0.1:{self.port}" for h in HOSTS] + [
            f"refused.test=127.0.0.1:{self.closed_port}"]

    def hit_count(self, host: str, path: str) -> int:
        return self.counts.get(f"{host}{path}", 0)

    # -- protocol -----------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        target = (lines[0].split(" ") + [""])[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        if "://" in target:
            parts = urlsplit(target)
            host, path, query = (parts.hostname or "").lower(), parts.path or "/", parts.query
        else:
            host = headers.get("host", "").rsplit(":", 1)[0].lower()
            path, _, query = target.partition("?")
        path = unquote(path)
        self.hits.append((time.monotonic(), host, path + (f"?{query}" if query else "")))
        self.counts[f"{host}{path}"] = self.counts.get(f"{host}{path}", 0) + 1
        conn = _Conn(reader, writer, host, path, query)
        try:
            await self._route(conn)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # the crawler hung up (too large, timeout), or the server stops
        finally:
            if writer not in self._hanging:
                writer.close()

    async def _route(self, c: _Conn) -> None:
        if c.path == "/robots.txt":
            return await self._robots(c)
        if c.host != MAIN:
            return await c.send(200, _page(f"{c.host} {c.path}", []))
        path = c.path
        if path == "/":
            links = list(CASES) + [
                "http://other.test/", "http://refused.test/", "http://bücher.test/",
                "http://robots-html.test/", "http://robots-huge.test/", "http://robots-500.test/",
                "file://hostile.test/etc/passwd"]
            return await c.send(200, _page("Hostile index", links))
        if path == "/deep":
            return await c.send(200, deep_page())
        if path == "/nested-navs":
            return await c.send(200, nested_navs_page())
        if path == "/reset":
            await c.send(200, b"<html><body>" + b"x" * 500, length=1000)
            sock = c.writer.get_extra_info("socket")
            # SO_LINGER 0: close() sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.writer.transport.abort()
            return None
        if path == "/never":
            self._hanging.add(c.writer)
            await asyncio.sleep(3600)
            return None
        if path == "/trickle":
            await c.send(200, b"", length=1000)
            for _ in range(1000):
                c.writer.write(b"x")
                await c.writer.drain()
                await asyncio.sleep(1)
            return None
        if path in ("/e500", "/e502", "/e503", "/e504"):
            status = int(path[2:])
            return await c.send(status, f"{status}\n".encode(), "text/plain")
        if path in ("/r429", "/r503-long"):
            if self.hit_count(c.host, path) == 1:
                status, after = (429, "1") if path == "/r429" else (503, "3600")
                return await c.send(status, b"slow down\n", "text/plain", {"Retry-After": after})
            return await c.send(200, _page("Recovered", []))
        if path == "/r503":
            return await c.send(503, b"busy\n", "text/plain", {"Retry-After": "1"})
        if path == "/loop-a":
            return await c.redirect("/loop-b", 301)
        if path == "/loop-b":
            return await c.redirect("/loop-a", 301)
        if path.startswith("/chain/"):
            n = int(path.rsplit("/", 1)[1])
            if n < CHAIN_HOPS:
                return await c.redirect(f"/chain/{n + 1}")
            return await c.send(200, _page("End of chain", []))
        if path == "/to-https":
            return await c.redirect("https://hostile.test/secure")
        if path == "/to-ftp":
            return await c.redirect("ftp://hostile.test/file")
        if path == "/to-file":
            return await c.redirect("file:///etc/passwd")
        if path == "/to-other":
            return await c.redirect("http://other.test/landing")
        if path == "/cal":
            month = int(parse_qs(c.query).get("month", ["0"])[0])
            return await c.send(200, _page(f"Month {month}", [f"/cal?month={month + 1}",
                                                               f"/cal?month={month - 1}"]))
        if path.startswith("/s/"):
            n = int(path.rsplit("/", 1)[1].split(";", 1)[0])
            sid = os.urandom(8).hex()
            return await c.send(200, _page(f"Session page {n}", [
                f"/s/{(n + 1) % 5}?sid={sid}", f"/s/{n};jsessionid={sid}"
                if n == 0 else f"/s/{n}?sid={sid}"]))
        if path.startswith("/a/"):
            return await c.send(200, _page(f"Depth {path.count('a')}", ["a/"]))
        if path == "/many":
            body = b"<html><body>" + b"".join(
                b'<a href="http://elsewhere.test/p%d">p</a>' % i for i in range(MANY_LINKS))
            return await c.send(200, body + b"</body></html>")
        if path in ("/huge", "/huge-stream"):
            return await self._huge(c, with_length=path == "/huge")
        if path == "/bomb":
            return await c.send(200, self.bomb, headers={"Content-Encoding": "gzip"})
        if path == "/wrong-type":
            return await c.send(200, _page("Not a PNG", ["/from-wrong-type"]), "image/png")
        if path == "/latin1":
            body = '<html><title>Café Zürich</title><a href="/caf\xe9">x</a></html>'
            return await c.send(200, body.encode("latin-1"), "text/html; charset=iso-8859-1")
        if path == "/misdeclared":
            body = "<html><title>Na\xefve \u201cquotes\u201d</title><a href='/ok'>x</a></html>"
            return await c.send(200, body.encode("cp1252"), "text/html; charset=utf-8")
        if path == "/sjis-undeclared":
            body = "<html><title>日本語のページ</title><a href='/ok'>x</a></html>"
            return await c.send(200, body.encode("shift_jis"), "text/html")
        if path == "/binary":
            return await c.send(200, os.urandom(64 * 1024), "text/html")
        if path == "/nul":
            body = (b"<html>\x00<title>N\x00UL</title><body>\x00\x00"
                    b"<a href=\"/after-nul\">after\x00nul</a>\x00</body></html>")
            return await c.send(200, body)
        if path == "/long-link":
            return await c.send(200, _page("Long link", [LONG_URL_PATH]))
        return await c.send(200, _page(f"Page {path}", []))

    async def _huge(self, c: _Conn, with_length: bool) -> None:
        head = ["HTTP/1.1 200 OK", "Content-Type: text/html", "Connection: close"]
        if with_length:
            head.append(f"Content-Length: {HUGE_BODY}")
        c.writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        chunk = b"<p>" + b"y" * (64 * 1024 - 3)
        key = f"{c.host}{c.path}"
        sent = 0
        try:
            while sent < HUGE_BODY:
                c.writer.write(chunk)
                await c.writer.drain()  # streams: never more than a chunk or two buffered
                sent += len(chunk)
        finally:
            self.bytes_sent[key] = max(self.bytes_sent.get(key, 0), sent)

    async def _robots(self, c: _Conn) -> None:
        if c.host == ROBOTS_HTML:
            return await c.send(200, _page("Robots? This is a web page", ["/"]))
        if c.host == ROBOTS_HUGE:
            return await self._huge(c, with_length=False)
        if c.host == ROBOTS_500:
            return await c.send(500, b"<html>oops</html>")
        return await c.send(200, b"User-agent: *\nDisallow: /private\n", "text/plain")


def _closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
