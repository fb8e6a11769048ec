"""Serve a folder of web sites on loopback, one sub-folder per host name.

``ROOT/www.example.com/about.html`` answers ``http://www.example.com/about.html``
when the crawler is pointed at this server with ``--resolve www.example.com=IP:PORT``.
The site is picked from the absolute request URI (the form a ``--resolve`` crawl
sends) or else the ``Host`` header. The demo, the tests and the benchmarks serve their
webs with it; it binds 127.0.0.1 on a free port and never anything else.

A site may hold ``_site.json`` to answer some paths specially::

    {"redirects": {"/old": [301, "/new"]},
     "status":    {"/gone": 410},
     "headers":   {"/private.html": {"X-Robots-Tag": "nofollow"}},
     "delay":     {"/slow.html": 1.5}}
"""

from __future__ import annotations

import json
import mimetypes
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalWebServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def _site_and_path(self) -> tuple[str, str, str]:
        target = self.path
        if "://" in target:  # absolute-form: a proxied (--resolve HOST=IP:PORT) request
            parts = urlsplit(target)
            host, path, query = parts.hostname or "", parts.path or "/", parts.query
        else:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
            path, _, query = target.partition("?")
        return host, unquote(path), query

    def _serve(self, head: bool) -> None:
        started = time.monotonic()
        try:
            self._answer(head)
        finally:
            host, path, _query = self._site_and_path()
            self.server.visits.append((started, time.monotonic(), host, path))
            self.server.clients.add(self.client_address[0])

    def _answer(self, head: bool) -> None:
        host, path, _query = self._site_and_path()
        self.server.hits.append((host, path))
        self.server.hit_times.append((time.monotonic(), host, path))
        site = self.server.site(host)
        if site is None:
            return self._send(404, b"no such site\n", "text/plain")
        root, config = site
        if path in config.get("delay", {}):
            time.sleep(float(config["delay"][path]))
        extra = config.get("headers", {}).get(path, {})
        if path in config.get("redirects", {}):
            status, location = config["redirects"][path]
            return self._send(status, b"", "text/html", {"Location": location, **extra})
        if path in config.get("status", {}):
            status = int(config["status"][path])
            return self._send(status, f"{status}\n".encode(), "text/plain", extra)
        file_path = os.path.normpath(os.path.join(root, path.lstrip("/")))
        if not file_path.startswith(root):  # ../ out of the site folder
            return self._send(404, b"not found\n", "text/plain")
        if os.path.isdir(file_path):
            file_path = os.path.join(file_path, "index.html")
        if not os.path.isfile(file_path) or os.path.basename(file_path) == "_site.json":
            return self._send(404, b"<html><title>Not found</title><p>Not found</p></html>", "text/html", extra)
        with open(file_path, "rb") as handle:
            body = handle.read()
        ctype = mimetypes.guess_type(file_path)[0] or "application/octet-stream"
        if ctype.startswith("text/"):
            ctype += "; charset=utf-8"
        self._send(200, body, ctype, extra, head=head)

    def _send(self, status: int, body: bytes, ctype: str,
              headers: dict[str, str] | None = None, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)


class LocalWebServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: str, verbose: bool = False, address: str = "127.0.0.1"):
        self.root = os.path.abspath(root)
        self.verbose = verbose
        #: (host, path) of every request, in arrival order; hit_times adds the time.
        self.hits: list[tuple[str, str]] = []
        self.hit_times: list[tuple[float, str, str]] = []
        #: (start, end, host, path) of every answered request (monotonic seconds): the
        #: access log that shows how many requests a host had at once.
        self.visits: list[tuple[float, float, str, str]] = []
        #: The addresses requests came from.
        self.clients: set[str] = set()
        self._configs: dict[str, dict] = {}
        super().__init__((address, 0), _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def hosts(self) -> list[str]:
        """The host names served: the sub-folders of the root."""
        return sorted(n for n in os.listdir(self.root)
                      if os.path.isdir(os.path.join(self.root, n)) and not n.startswith((".", "_")))

    def resolve_entries(self) -> list[str]:
        """``HOST=IP:PORT`` entries that point a crawl at this server."""
        ip = self.server_address[0]
        return [f"{host}={ip}:{self.port}" for host in self.hosts()]

    def site(self, host: str) -> tuple[str, dict] | None:
        root = os.path.join(self.root, host)
        if not host or "/" in host or host.startswith(".") or not os.path.isdir(root):
            return None
        if host not in self._configs:
            config_path = os.path.join(root, "_site.json")
            config = {}
            if os.path.exists(config_path):
                with open(config_path, encoding="utf-8") as handle:
                    config = json.load(handle)
            self._configs[host] = config
        return root, self._configs[host]


class LocalWeb:
    """Context manager running a :class:`LocalWebServer` in a background thread."""

    def __init__(self, root: str, verbose: bool = False):
        self.server = LocalWebServer(root, verbose=verbose)
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        name="localweb", daemon=True)

    def __enter__(self) -> LocalWebServer:
        self._thread.start()
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
