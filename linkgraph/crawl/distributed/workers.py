"""``linkgraph crawl ... --workers N``: N worker processes on this machine.

One Scrapy process is bound by one core (NOTES.md: extraction, TLS and the engine all
run on the reactor's thread), so a machine's cores need processes. Without
``--frontier`` the launcher starts a private ``redis-server`` listening only on a Unix
socket in a temporary folder (no TCP port, no persistence: the worker folders are the
record, and a new private Redis is rebuilt from them), runs the same ``linkgraph
crawl`` command N times with ``--frontier unix://...``, waits for all of them and stops
Redis. The last worker to end merges the worker folders into the output folder
(:mod:`linkgraph.crawl.distributed.folders`).

Where the system has ``fork`` the workers are forked from the launcher once it has
imported the crawl's modules (Scrapy, Twisted without its reactor, pyarrow, lxml, the
spider and its components): a worker then starts crawling at once instead of spending
about a second of CPU importing them again, which on a machine of a few cores is time
the crawl itself needs (measured in the README's "Distributed crawl" section).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from linkgraph.crawl.distributed.redis_frontier import shown_url
from linkgraph.errors import UsageError

#: Redis settings of the private server: sets of up to this many integers stay packed
#: arrays (the seen-set's ~8 bytes per URL up to ~250M URLs over 65,536 buckets).
PRIVATE_REDIS_OPTIONS = ("--save", "", "--appendonly", "no", "--set-max-intset-entries",
                         "4096", "--hash-max-listpack-entries", "1024", "--loglevel", "warning")


class PrivateRedis:
    """A ``redis-server`` on a Unix socket only, for one ``--workers`` run.

    Ready when built, unless ``wait=False``: then :meth:`wait_ready` is called once the
    caller has done what it can while the server starts.
    """

    def __init__(self, wait: bool = True) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise UsageError("--workers without --frontier starts a private redis-server, "
                             "which is not installed: install the redis-server package "
                             "(bash scripts/setup.sh does), or pass --frontier redis://HOST:PORT/DB")
        self.folder = tempfile.mkdtemp(prefix="linkgraph-redis-")
        self.socket = os.path.join(self.folder, "redis.sock")
        # Its own session: a Ctrl-C meant for the workers must not stop their Redis.
        self.process = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
             "--dir", self.folder, *PRIVATE_REDIS_OPTIONS],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.url = f"unix://{self.socket}"
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        from linkgraph.crawl.distributed.redis_frontier import connect

        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                error = (self.process.stderr.read() or b"").decode(errors="replace").strip()
                self.stop()
                raise UsageError(f"the private redis-server did not start: "
                                 f"{' '.join(error.split())[:200] or 'it exited'}")
            if os.path.exists(self.socket):
                try:
                    connect(self.url, timeout=1).close()
                    return
                except UsageError:
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise UsageError("the private redis-server did not answer within 15 s")
            time.sleep(0.05)

    def stop(self) -> None:
        # Killed, not asked to shut down: it persists nothing (no snapshot, no append
        # log), and its orderly shutdown took a tenth of a second the crawl waited for.
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def worker_argv(argv: Sequence[str], frontier: str) -> list[str]:
    """The command line of one worker: this ``crawl`` command without ``--workers``,
    with ``--frontier``."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--workers", "--frontier"):
            skip = True
            continue
        if arg.startswith(("--workers=", "--frontier=")):
            continue
        out.append(arg)
    return [sys.executable, "-m", "linkgraph", *out, "--frontier", frontier]


class ForkedWorker:
    """A worker forked from this process: the ``Popen`` methods ``run_workers`` uses."""

    def __init__(self, args: Sequence[str]):
        sys.stdout.flush()
        sys.stderr.flush()
        self.returncode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:
            os._exit(_worker_main(args))

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        while self.returncode is None:
            try:
                _pid, status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self.returncode = 1
                break
            except InterruptedError:
                continue
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass


def _worker_main(args: Sequence[str]) -> int:
    """A forked worker's whole life: the crawl command, then its exit code (never returns
    into the launcher's code)."""
    code = 1
    try:
        from linkgraph.cli import main

        code = main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - said here, the launcher only sees the exit code
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - a closed stream must not change the code
            pass
    return code


def preload() -> bool:
    """Import what every worker's crawl imports (not Twisted's reactor: each worker
    installs its own), so that forked workers share it (see the module docstring).
    False when a component installed the reactor on import: the workers must then start
    as new interpreters."""
    import lxml.html  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import redis  # noqa: F401
    import scrapy.core.downloader.handlers.http11  # noqa: F401
    import scrapy.core.engine  # noqa: F401
    import scrapy.crawler  # noqa: F401
    from scrapy.settings import Settings
    from scrapy.utils.conf import build_component_list
    from scrapy.utils.misc import load_object

    import linkgraph.crawl.run  # noqa: F401
    from linkgraph import settings as project
    from linkgraph.spiders.links import LinksSpider

    # Scrapy's own components with the project's: each one a worker would import.
    settings = Settings()
    settings.setmodule(project)
    LinksSpider.update_settings(settings)
    for name in ("ITEM_PIPELINES", "DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS"):
        for path in build_component_list(settings.getwithbase(name)):
            try:
                load_object(path)
            except Exception:  # noqa: BLE001 - the worker itself says what is wrong
                pass
    return "twisted.internet.reactor" not in sys.modules


def can_fork() -> bool:
    """Whether workers may be forked: the system forks, LINKGRAPH_NO_FORK is not set, and
    :func:`preload` (which this runs) left the reactor uninstalled."""
    return hasattr(os, "fork") and not os.environ.get("LINKGRAPH_NO_FORK") and preload()


def start_workers(argv: Sequence[str], frontier: str, workers: int, forking: bool) -> list[Any]:
    """Start ``workers`` workers of the crawl command ``argv``: forked when ``forking``
    (see :func:`can_fork`), else new interpreters."""
    if not forking:
        return [subprocess.Popen(worker_argv(argv, frontier)) for _ in range(workers)]
    args = worker_argv(argv, frontier)[3:]  # without "python -m linkgraph"
    return [ForkedWorker(args) for _ in range(workers)]


def run_workers(argv: Sequence[str], workers: int, frontier: str | None,
                check: Callable[[str], None]) -> int:
    """Run ``workers`` worker processes of the crawl command ``argv``; return the exit
    code (0 when every worker ended the crawl; 130 when one was interrupted).

    ``check(frontier_url)`` runs the crawl's own checks first (one line, exit 2).
    """
    # The server starts while this process imports what the workers will share.
    redis = PrivateRedis(wait=False) if frontier is None else None
    url = frontier or redis.url  # type: ignore[union-attr]
    try:
        forking = can_fork()
        if redis is not None:
            redis.wait_ready()
        check(url)
        print(f"linkgraph: {workers} workers sharing the frontier at "
              f"{'a private redis-server' if redis else shown_url(url)}", file=sys.stderr,
              flush=True)
        children = start_workers(argv, url, workers, forking)

        def forward(signum: int, _frame: object) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signum)

        # A terminal's Ctrl-C reaches the workers themselves (one process group);
        # a SIGTERM sent to this process is passed on.
        previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
                    signal.SIGTERM: signal.signal(signal.SIGTERM, forward)}
        try:
            codes = [child.wait() for child in children]
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    finally:
        if redis is not None:
            redis.stop()
    if all(code == 0 for code in codes):
        return 0
    for wanted in (130, 2, 1):
        if wanted in codes:
            return wanted
    return max(codes)
