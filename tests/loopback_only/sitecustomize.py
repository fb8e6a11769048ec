"""Test-only: make any non-loopback connect() in this process fail before the syscall.

The safety tests put this folder on PYTHONPATH of the crawl subprocess. A connect to
an address outside 127.0.0.0/8 (or ::1) is refused here, before any packet could
leave, and written to the file named by LINKGRAPH_TEST_CONNECT_LOG, so a test can
prove that the crawler never even tried.
"""

from __future__ import annotations

import ipaddress
import os
import socket

_LOG = os.environ.get("LINKGRAPH_TEST_CONNECT_LOG")
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _allowed(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and the like
    try:
        return ipaddress.ip_address(str(address[0])).is_loopback
    except ValueError:
        return False


def _refuse(address: object) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as handle:
            handle.write(f"{address[0]}\n")  # type: ignore[index]
    raise PermissionError(f"test guard: connect to {address!r} refused (not loopback)")


def connect(self: socket.socket, address: object) -> None:
    if not _allowed(address):
        _refuse(address)
    return _connect(self, address)


def connect_ex(self: socket.socket, address: object) -> int:
    if not _allowed(address):
        _refuse(address)
    return _connect_ex(self, address)


socket.socket.connect = connect  # type: ignore[method-assign]
socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
