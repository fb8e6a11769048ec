"""Loopback servers for the private-address guard tests (tests/test_safety.py).

* :class:`Canary` listens on an address no seed is at and records every connection
  made to it (HTTP or not: a WebSocket handshake counts too).
* :class:`PageServer` serves a fixed dict of pages on the seed's address.
* :class:`ForwardProxy` is a minimal HTTP forward proxy (absolute-URI GET, no
  CONNECT), as ``http_proxy`` would name: it resolves names itself, through its own
  ``hosts`` map first (an "internal DNS"), then the system's.
"""

from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: str, handler: type[BaseHTTPRequestHandler]):
        super().__init__((address, 0), handler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def ip(self) -> str:
        return self.server_address[0]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class _CanaryHandler(_Quiet):
    def do_GET(self) -> None:  # noqa: N802
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        body = b"<html>SECRET internal page <a href='/internal-link'>in</a></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Canary(_Server):
    """A server that must never be reached; ``connections`` counts every accept."""

    def __init__(self, address: str = "127.0.0.3"):
        self.connections = 0
        self.paths: list[str] = []
        super().__init__(address, _CanaryHandler)

    def get_request(self):
        request = super().get_request()
        self.connections += 1
        return request


class _PageHandler(_Quiet):
    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path  # absolute when sent as to a proxy (--resolve IP:PORT)
        page = self.server.pages.get(path)  # type: ignore[attr-defined]
        self.server.paths.append(path)  # type: ignore[attr-defined]
        if page is None:
            status, headers, body = 404, {}, "not found"
        else:
            status, headers, body = page
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", "text/html"))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class PageServer(_Server):
    """Serves ``pages``: path -> (status, headers, body); ``paths`` lists the requests."""

    def __init__(self, address: str, pages: dict[str, tuple[int, dict[str, str], str]]):
        self.pages = pages
        self.paths: list[str] = []
        super().__init__(address, _PageHandler)


class _ProxyHandler(_Quiet):
    def do_GET(self) -> None:  # noqa: N802
        self.server.targets.append(self.path)  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        host = self.server.hosts.get(parts.hostname, parts.hostname)  # type: ignore[attr-defined]
        try:
            ip = socket.gethostbyname(host)  # like a real proxy: numeric forms too
            conn = http.client.HTTPConnection(ip, parts.port or 80, timeout=5)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", path or "/", headers={"Host": parts.netloc})
            upstream = conn.getresponse()
            body = upstream.read()
        except OSError as exc:
            self.send_error(502, str(exc))
            return
        self.send_response(upstream.status)
        for name, value in upstream.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ForwardProxy(_Server):
    """``targets``: every absolute URI it was asked for."""

    def __init__(self, hosts: dict[str, str] | None = None, address: str = "127.0.0.1"):
        self.hosts = hosts or {}
        self.targets: list[str] = []
        super().__init__(address, _ProxyHandler)
