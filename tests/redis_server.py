"""A real ``redis-server`` for the distributed-crawl tests, on a loopback port (or on
an address of a test network the test created)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """``redis-server`` on 127.0.0.1, no persistence: a restart comes back empty."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        self.address = address
        #: Off loopback Redis refuses clients without a password (protected mode).
        self.password = None if address.startswith("127.") else "lg-test-secret"
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.fail("redis-server is not installed (scripts/setup.sh installs it)")
        self.port = _free_port()
        self.folder = tempfile.mkdtemp(prefix="lg-test-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.address}:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", self.address, "--save", "",
             "--appendonly", "no", "--dir", self.folder, "--set-max-intset-entries", "4096",
             *(("--requirepass", self.password) if self.password else ())],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(host=self.address, port=self.port, password=self.password,
                            socket_timeout=1).ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.address, port=self.port, password=self.password,
                           decode_responses=True)

    def kill(self) -> None:
        """SIGKILL: everything it held is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
