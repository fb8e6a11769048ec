"""The SparkSession the Spark engine runs in: started from ``--spark-master`` and
``--spark-conf``, or the one ``spark-submit`` already made.

Every way Spark can fail to start that is the user's to fix (pyspark not installed,
no Java, a master URL Spark refuses) becomes one :class:`UsageError` line.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from linkgraph.errors import UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

#: Master used when neither ``--spark-master`` nor spark-submit names one.
DEFAULT_MASTER = "local[*]"
INSTALL_HINT = "pip install 'linkgraph[spark]'"


@dataclass(frozen=True)
class SparkSettings:
    """Where the Spark engine runs.

    Attributes
    ----------
    master : str or None
        Spark master URL (``local[*]``, ``spark://host:7077``, ``yarn``, ``k8s://...``).
        None: the master spark-submit was given, else :data:`DEFAULT_MASTER`.
    conf : tuple of (str, str)
        Extra Spark settings (``--spark-conf KEY=VALUE``), applied last: they override
        the engine's defaults.
    """

    master: str | None = None
    conf: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def parse(cls, master: str | None, pairs: list[str] | None) -> SparkSettings:
        """Settings from the command line (``KEY=VALUE`` strings checked)."""
        conf = []
        for pair in pairs or ():
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise UsageError(f"--spark-conf wants KEY=VALUE, got {pair!r}")
            conf.append((key.strip(), value))
        return cls(master, tuple(conf))


def _is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[") or master.startswith("local-")


def _require_runtime() -> None:
    """pyspark importable and a Java runtime present, or one line saying what to install."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UsageError(f"--engine spark needs pyspark, which is not installed: "
                         f"{INSTALL_HINT}") from None
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        raise UsageError("--engine spark needs a Java 17+ runtime and found none (no java "
                         "on PATH or in JAVA_HOME); on Debian: apt-get install "
                         "openjdk-17-jre-headless")


def local_driver_memory() -> str:
    """``spark.driver.memory`` for local mode when none is given: half of this
    machine's memory (1g at least)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "1g"
    return f"{max(1, int(total / 2 / 2**30))}g"


@contextmanager
def spark_errors(session: SparkSession) -> Iterator[None]:
    """Spark running out of memory, said in one line (the JVM's stack trace helps no
    one choose a bigger heap)."""
    try:
        yield
    except Exception as exc:
        text = str(exc)
        if "OutOfMemoryError" not in text and "Java heap space" not in text:
            raise
        try:
            memory = session.sparkContext.getConf().get("spark.driver.memory", "1g")
        except Exception:  # noqa: BLE001 - a JVM that died of it answers nothing
            memory = "?"
        raise UsageError(f"Spark ran out of memory (spark.driver.memory {memory}): give it "
                         "more with --spark-conf spark.driver.memory=SIZE (local mode) or "
                         "spark.executor.memory=SIZE (a cluster), or more executors") from None


def start(settings: SparkSettings) -> SparkSession:
    """Start (or join) the SparkSession the engine runs in.

    In local mode everything is bound to loopback, the web UI is off (a scorer run
    opens no port another machine can reach) and the driver may use half the machine's
    memory (:func:`local_driver_memory`) unless ``spark.driver.memory`` is given; on a
    cluster these are Spark's own defaults. Settings in ``settings.conf`` override both.
    """
    _require_runtime()
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    master = settings.master
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active  # under spark-submit or in a notebook: the session given
    conf = SparkConf()  # reads what spark-submit set (spark.master among them)
    if master is None:
        master = conf.get("spark.master", DEFAULT_MASTER)
    conf.setMaster(master).setAppName(conf.get("spark.app.name", "linkgraph score"))
    conf.set("spark.ui.showConsoleProgress", "false")
    # Adaptive execution would coalesce the step's shuffle partitions, and the rank
    # table would no longer be partitioned like the edge table it is joined with.
    conf.set("spark.sql.adaptive.enabled", "false")
    if _is_local(master):
        if not conf.contains("spark.driver.memory"):
            # Spark's own default (1g) fails a 10M-edge crawl; local mode runs all of
            # Spark in the driver's JVM, which only takes the heap it needs.
            conf.set("spark.driver.memory", local_driver_memory())
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
        conf.set("spark.ui.enabled", "false")
    for key, value in settings.conf:
        conf.set(key, value)
    try:
        spark = SparkSession.builder.config(conf=conf).getOrCreate()
    except Exception as exc:  # py4j/JVM errors carry the reason on their first line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot start Spark (master {master}): {reason}") from None
    spark.sparkContext.setLogLevel("WARN")
    log.info("spark: master %s, default parallelism %s", spark.sparkContext.master,
             spark.sparkContext.defaultParallelism)
    return spark
