"""A crawl folder and its scores as DuckDB views: what every analysis command queries.

:func:`open_views` opens ``DIR`` through the one reader (:func:`open_crawl`: committed
parts only, so a folder still being crawled or killed reads as what resuming would
keep) and adds, beside its ``links``, ``pages`` and ``nodes`` views:

``page_outcome``
    One row per fetched URL: ``url``, ``status``, ``error``, ``outcome`` (the HTTP
    status as text, ``200``, ``404``, ``301``, or the fetch error's kind, ``dns``,
    ``timeout``, ``refused``, ...), ``broken`` (answered 4xx/5xx or failed; a URL
    that robots.txt kept us from fetching is not broken, only unknown: see
    :data:`NOT_LOOKED_ERRORS`), ``not_looked``, and ``url_key``, ``redirect_to``,
    ``links_truncated`` from ``pages``.
``page_scores``, ``host_scores``, ``domain_scores``
    ``DIR/scores/{pages,hosts,domains}.parquet`` when ``linkgraph score`` wrote them
    (:attr:`CrawlViews.scored` says which).

The one meaning of a *referring domain* is here too (:data:`FOLLOWED`,
:func:`referring_domains_sql`): another registered domain with at least one link row
to the target, followed or not; the followed ones (no nofollow, sponsored or ugc)
are counted apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from linkgraph.analysis.target import Target
from linkgraph.errors import UsageError
from linkgraph.storage.reader import CrawlFolder, open_crawl, sql_path

#: Score tables a crawl folder may hold (``linkgraph score``), by view name.
SCORE_TABLES = {"page_scores": "pages.parquet", "host_scores": "hosts.parquet",
                "domain_scores": "domains.parquet"}

#: SQL condition on a ``links`` row: a followed link (a vote, as search engines read
#: rel): neither nofollow (rel or page-level robots), sponsored nor ugc.
FOLLOWED = "NOT (nofollow OR sponsored OR ugc)"

#: SQL condition on a ``links`` row: the page it is on belongs to another registered
#: domain than the page it points at (what counts as an external backlink).
EXTERNAL = "NOT internal"

#: SQL expression on a ``pages`` row: the HTTP outcome as text (see the module doc).
OUTCOME_SQL = "coalesce(CAST(status AS VARCHAR), split_part(error, ':', 1))"

#: Error kinds (``pages.error`` before the colon) of a fetch the crawl chose not to make
#: or finish by its own rules (robots.txt, the private-address guard, a size limit, a
#: crawl stopped): the URL was not looked at, it did not fail.
NOT_LOOKED_ERRORS = ("robots_txt", "private_address", "too_large", "ignored", "cancelled",
                     "unsupported_scheme")

#: SQL condition on a ``pages`` row: the crawl has a row for the URL but did not look.
NOT_LOOKED_SQL = ("(status IS NULL AND (error IS NULL OR split_part(error, ':', 1) IN ("
                  + ", ".join(f"'{code}'" for code in NOT_LOOKED_ERRORS) + ")))")

#: SQL condition on a ``pages`` row: the URL answered 4xx/5xx or could not be fetched
#: (a URL the crawl did not look at is not broken, only unknown).
BROKEN_SQL = f"(status >= 400 OR (status IS NULL AND NOT {NOT_LOOKED_SQL}))"


def referring_domains_sql(followed_only: bool = False) -> str:
    """A SQL aggregate over ``links`` rows: their referring domains (distinct
    ``src_domain`` of the rows that are external; the followed ones only when
    ``followed_only``)."""
    condition = f"{EXTERNAL} AND {FOLLOWED}" if followed_only else EXTERNAL
    return f"count(DISTINCT src_domain) FILTER (WHERE {condition})"


@dataclass
class CrawlViews:
    """An open crawl folder: a DuckDB connection with its views (see the module doc)."""

    folder: CrawlFolder
    con: duckdb.DuckDBPyConnection
    #: Names of the score views present (``page_scores``, ``host_scores``, ...).
    scored: frozenset[str]
    #: The DuckDB schema the views are in (see :func:`open_views`), or None.
    schema: str | None = None

    def view(self, name: str) -> str:
        """``name`` qualified with the views' schema, for SQL."""
        return f"{self.schema}.{name}" if self.schema else name

    @property
    def path(self) -> str:
        return str(self.folder.path)

    def columns(self, view: str) -> list[str]:
        """Column names of ``view``."""
        return [row[0] for row in self.con.execute(f"DESCRIBE {view}").fetchall()]

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run ``sql``; its rows as an Arrow table. A folder DuckDB cannot read (a
        corrupt or truncated part) is a one-line :class:`UsageError`."""
        with readable(self.path):
            return self.con.sql(sql, params=params or None).to_arrow_table()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        """The first column of the first row of ``sql`` (None without rows)."""
        table = self.query(sql, params)
        return table.column(0)[0].as_py() if table.num_rows else None

    def require_target(self, target: Target) -> None:
        """A one-line :class:`UsageError` unless some page or link of the crawl is
        inside ``target`` (a TARGET the crawl never saw is a typo, not zero rows)."""
        nodes = bool(self.folder.files("nodes"))
        sql = (f"SELECT 1 FROM {self.view('nodes')} WHERE {target.matches_page()} LIMIT 1"
               if nodes else
               f"SELECT 1 FROM {self.view('pages')} WHERE {target.matches_page()} UNION ALL "
               f"SELECT 1 FROM {self.view('links')} WHERE {target.matches()} LIMIT 1")
        if self.query(sql).num_rows == 0:
            raise UsageError(f"TARGET {target.value} is not in the crawl {self.path} "
                             f"(no page or link of this {target.kind})")


@contextmanager
def readable(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn DuckDB's failure to read a part of the crawl folder ``path`` (corrupt,
    truncated) into a one-line :class:`UsageError` that names the fix."""
    try:
        yield
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        raise UsageError(f"{path}: cannot read the crawl's Parquet files: "
                         f"{_first_line(exc)} (`linkgraph verify {path}` says more)"
                         ) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def open_views(path: str | os.PathLike[str], con: duckdb.DuckDBPyConnection | None = None,
               *, reader: str = "analysis", schema: str | None = None) -> CrawlViews:
    """Open the crawl folder ``path`` with its scores as DuckDB views.

    Parameters
    ----------
    path : str or PathLike
        A crawl folder (finished, running or killed).
    con : duckdb.DuckDBPyConnection, optional
        Where to create the views (default: a new in-memory connection).
    reader : str
        Name in the log line about skipped stale parts.
    schema : str, optional
        Put every view in this DuckDB schema (``old.links``, ``old.page_outcome``), so
        that one connection holds two crawls (``linkgraph diff``).

    Returns
    -------
    CrawlViews

    Raises
    ------
    UsageError
        ``path`` is not a folder or holds no crawl.
    """
    folder = open_crawl(path)
    folder.warn_stale(reader)
    # Creating a view reads the parts' footers: a damaged part fails here.
    with readable(path):
        con = folder.duckdb(con, schema=schema)
        prefix = f"{schema}." if schema else ""
        con.execute(f"""CREATE OR REPLACE VIEW {prefix}page_outcome AS
            SELECT url, status, error, {OUTCOME_SQL} AS outcome, {BROKEN_SQL} AS broken,
                   {NOT_LOOKED_SQL} AS not_looked, url_key, redirect_to, links_truncated
            FROM {prefix}pages""")
        scored = set()
        for view, name in SCORE_TABLES.items():
            file = os.path.join(folder.path, "scores", name)
            if os.path.isfile(file):
                con.execute(f"CREATE OR REPLACE VIEW {prefix}{view} AS SELECT * FROM "
                            f"read_parquet({sql_path(file)})")
                scored.add(view)
    return CrawlViews(folder, con, frozenset(scored), schema)


__all__ = ["BROKEN_SQL", "EXTERNAL", "FOLLOWED", "NOT_LOOKED_ERRORS", "NOT_LOOKED_SQL",
           "OUTCOME_SQL", "SCORE_TABLES",
           "CrawlViews", "open_views", "referring_domains_sql"]
