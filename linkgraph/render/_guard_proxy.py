"""The rendering browser's only way out: an HTTP proxy that applies the crawl's guard.

Chromium is started with ``--proxy-server`` pointing here (with ``<-loopback>``, so
that loopback is not bypassed either) and with ``--host-resolver-rules`` that resolve
no name at all, so a request that would not go through the proxy cannot connect.
Every request the browser's network stack makes — documents, scripts, XHR and
``fetch()``, each redirect hop, iframes, WebSockets and TLS (as ``CONNECT``), a
service worker's (they are also blocked in the contexts) — arrives here, and:

1. the host is resolved through the crawl's own resolver (``reactor.resolve``, i.e.
   :class:`linkgraph.crawl.middlewares.resolve.MappedResolver`: the ``--resolve`` map,
   resolve-only mode, and the private-address decision on the answer);
2. the proxy connects to exactly that checked address (and the port of a
   ``--resolve HOST=IP:PORT`` mapping), so there is no second DNS answer that a
   rebinding name could make different;
3. a refused request gets a 403 with an ``X-Linkgraph-Refused`` header (a refused
   ``CONNECT`` fails in the browser as a tunnel error); the handler counts both on the
   page's row (``blocked_requests``) and in ``linkgraph/render/blocked_requests``.

One request per client connection: the upstream request and the response both say
``Connection: close``, and nothing more is read from the browser after the request,
so a second request can never ride on a connection opened for another host.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from urllib.parse import urlsplit

from linkgraph.crawl.config import HostMapping
from linkgraph.crawl.netguard import GUARD, PrivateAddressError

logger = logging.getLogger(__name__)

REFUSED_HEADER = "x-linkgraph-refused"
#: Header lines the proxy does not pass on (hop-by-hop, or about the proxy itself).
_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization",
                  "te", "trailer", "upgrade"})
_HEAD_LIMIT = 64 * 1024
_TIMEOUT = 30.0


class _Refused(Exception):
    def __init__(self, status: int, reason: str, refused: bool = False):
        super().__init__(reason)
        self.status, self.refused = status, refused


def _host_port(authority: str, default: int) -> tuple[str, int]:
    parts = urlsplit(f"//{authority}")
    try:
        return (parts.hostname or ""), parts.port or default
    except ValueError:
        raise _Refused(400, f"bad authority {authority!r}") from None


class GuardProxy:
    """An asyncio HTTP/CONNECT proxy on 127.0.0.1 deciding every target with the guard.

    ``on_refused(host)`` is called for each refused request (the handler's counter).
    """

    def __init__(self, mapping: dict[str, HostMapping], on_refused: Callable[[str], None]):
        self.mapping = mapping
        self.on_refused = on_refused
        #: Hosts refused at least once: a browser request that failed with a tunnel
        #: error to one of them was refused here (CONNECT has no page to tell).
        self.refused_hosts: set[str] = set()
        self.server: asyncio.AbstractServer | None = None
        self.address = ""

    async def start(self) -> str:
        """Listen on a free loopback port; return ``http://127.0.0.1:PORT``."""
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0, limit=_HEAD_LIMIT)
        port = self.server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{port}"
        return f"http://{self.address}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with suppress(Exception):
                await self.server.wait_closed()

    async def _connect(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        from twisted.internet import reactor

        name = host.strip("[]").lower().rstrip(".")
        try:
            ip = await reactor.resolve(name).asFuture(asyncio.get_running_loop())
            # The resolver trusts a configured proxy's name; a page asking for it is not.
            GUARD.check(name, ip, proxy_ok=False)
        except PrivateAddressError as exc:
            self.refused_hosts.add(name)
            raise _Refused(403, str(exc), refused=True) from None
        except Exception as exc:  # noqa: BLE001 - DNS failure, resolve-only miss
            refusal = GUARD.refusal(name)  # the resolver's refusal arrives as a DNS error
            if refusal is not None:
                self.refused_hosts.add(name)
                raise _Refused(403, refusal, refused=True) from None
            raise _Refused(502, f"cannot resolve {name}: {exc}") from None
        mapped = self.mapping.get(name)
        if mapped is not None and mapped.port is not None:
            port = mapped.port
        try:
            return await asyncio.wait_for(asyncio.open_connection(ip, port, limit=_HEAD_LIMIT),
                                          timeout=_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as exc:
            raise _Refused(502, f"cannot connect to {name} at {ip}:{port}: {exc}") from None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                    ConnectionError):
                return
            line, *header_lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, version = line.split(" ", 2)
            except ValueError:
                raise _Refused(400, "bad request line") from None
            if method.upper() == "CONNECT":
                host, port = _host_port(target, 443)
                up_reader, upstream = await self._connect(host, port)
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
                return
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.netloc:
                raise _Refused(400, f"not an absolute http:// URL: {target[:200]}")
            host, port = _host_port(parts.netloc, 80)
            headers = [h for h in header_lines if h and h.split(":", 1)[0].strip().lower() not in _HOP]
            length = 0
            for header in headers:
                name, _, value = header.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip() or 0)
                elif name.strip().lower() == "transfer-encoding":
                    raise _Refused(501, "chunked request bodies are not supported")
            up_reader, upstream = await self._connect(host, port)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            upstream.write(f"{method} {path} {version}\r\n".encode("latin-1")
                           + "".join(f"{h}\r\n" for h in headers).encode("latin-1")
                           + b"Connection: close\r\n\r\n")
            if length:
                upstream.write(await reader.readexactly(length))
            await upstream.drain()
            await _relay_response(up_reader, writer)
        except _Refused as refusal:
            if refusal.refused:
                self.on_refused(str(refusal))
            with suppress(Exception):
                await _reply(writer, refusal.status, str(refusal), refusal.refused)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            for stream in (upstream, writer):
                if stream is not None:
                    with suppress(Exception):
                        stream.close()


async def _relay_response(up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The upstream response with ``Connection: close``, then its body to the end."""
    try:
        head = await asyncio.wait_for(up_reader.readuntil(b"\r\n\r\n"), timeout=_TIMEOUT)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
        await _reply(writer, 502, "bad or no response from the server", False)
        return
    status, *lines = head.decode("latin-1").split("\r\n")
    kept = [h for h in lines if h and h.split(":", 1)[0].strip().lower() not in _HOP]
    writer.write("\r\n".join([status, *kept, "Connection: close", "", ""]).encode("latin-1"))
    await _pipe(up_reader, writer)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


async def _reply(writer: asyncio.StreamWriter, status: int, reason: str, refused: bool) -> None:
    # Not the reason: a page's script must not learn what an internal name resolves to.
    body = b"linkgraph: refused by the private-address guard\n" if refused else b"linkgraph: proxy error\n"
    extra = f"{REFUSED_HEADER}: 1\r\n" if refused else ""
    writer.write((f"HTTP/1.1 {status} {'Forbidden' if status == 403 else 'Proxy Error'}\r\n"
                  f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
                  f"{extra}Connection: close\r\n\r\n").encode() + body)
    await writer.drain()
