"""What changed between two crawls of the same web, link by link (``linkgraph diff``).

A link is identified by ``(src_url, dst_url, link_type)`` and its ``occurrence``
among equal ones on the page (1 for the first in document order, 2 for the second...),
so that a page linking a target twice and then once has lost one link, not zero. Both
folders are read through :mod:`linkgraph.storage.reader` as DuckDB views in one
connection (schemas ``old`` and ``new``); links are matched on the 64-bit URL keys,
which are the same in every folder. Without a target, every link of both crawls is
compared: that runs on node ids in compiled loops (:mod:`linkgraph.analysis.diff_ids`,
the same rows in the same order as the SQL below, which a target, or a folder without
nodes table, still uses).

Each change is a row:

* ``lost``: in OLD, not in NEW, with the reason the new crawl gives (the source
  page's outcome in NEW): ``link_removed`` (it answered 2xx and no longer has the
  link), ``page_gone`` (4xx), ``page_error`` (5xx or the fetch failed: dns, timeout,
  refused...), ``page_redirected`` (it now redirects), ``links_truncated`` (it answered
  2xx but the new crawl kept only its first LINKGRAPH_MAX_LINKS_PER_PAGE links) and
  ``page_not_crawled`` (NEW has no row for it, or did not fetch it by its own rule:
  robots.txt, a private address, a size limit). The last two are not losses seen on the
  web: the new crawl did not look;
* ``changed``: in both, with every way it changed in ``reasons``, most important first
  (:data:`CHANGE_REASONS` is that order), and ``reason`` the first;
* ``new``: in NEW, not in OLD; no reason.

A target's outcome is compared only when both crawls fetched it (a target outside one
crawl's scope is not "fixed" or "broken" by the other).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.analysis import diff_ids
from linkgraph.analysis.crawl_views import EXTERNAL, CrawlViews, open_views
from linkgraph.analysis.target import Target, parse_target, sql_literal
from linkgraph.errors import UsageError
from linkgraph.scoring._memory import lean_memory
from linkgraph.storage.crawl_dir import read_manifest
from linkgraph.urls import registered_domain, url_host

log = logging.getLogger(__name__)

#: Reasons of a ``lost`` row.
LOST_REASONS = ("link_removed", "page_gone", "page_error", "page_redirected",
                "links_truncated", "page_not_crawled")
#: (reason, SQL condition on a row of both crawls: ``j`` the link, with its target's
#: class in each crawl when that moved), in the order an SEO reads them: the link stops passing authority (its target
#: broke, it became nofollow, sponsored or ugc), passes less (its target redirects),
#: passes again, then the anchor.
_CHANGE_TESTS = (
    ("target_broken", "j.n_class IN ('gone', 'error') AND j.o_class NOT IN ('gone', 'error')"),
    ("became_nofollow", "NOT j.o_nofollow AND j.n_nofollow"),
    ("became_sponsored", "NOT j.o_sponsored AND j.n_sponsored"),
    ("became_ugc", "NOT j.o_ugc AND j.n_ugc"),
    ("target_redirected", "j.n_class = 'redirect'"),
    ("target_fixed", "j.o_class IN ('gone', 'error', 'redirect') AND j.n_class = 'ok'"),
    ("became_follow", "j.o_nofollow AND NOT j.n_nofollow"),
    ("no_longer_sponsored", "j.o_sponsored AND NOT j.n_sponsored"),
    ("no_longer_ugc", "j.o_ugc AND NOT j.n_ugc"),
    ("anchor_changed", "j.o_anchor IS DISTINCT FROM j.n_anchor"),
)
#: Reasons of a ``changed`` row, most important first.
CHANGE_REASONS = tuple(name for name, _ in _CHANGE_TESTS)
#: Columns of :func:`diff_crawls`, in order.
COLUMNS = ("change", "reason", "reasons", "src_url", "dst_url", "link_type", "occurrence",
           "src_domain", "dst_domain", "new_src_status", "new_redirect_to",
           "old_dst_status", "new_dst_status", "old_anchor_text", "new_anchor_text",
           "old_rel", "new_rel", "old_nofollow", "new_nofollow")

#: The order of :func:`diff_crawls`'s rows.
_ORDER = """ORDER BY CASE change WHEN 'lost' THEN 0 WHEN 'changed' THEN 1 ELSE 2 END,
             reason NULLS LAST, src_url, dst_url, link_type, occurrence"""


@dataclass(frozen=True)
class CrawlPair:
    """Two crawl folders opened side by side in one DuckDB connection.

    ``con`` has the views of :func:`linkgraph.analysis.crawl_views.open_views` of each,
    in the schemas ``old`` and ``new`` (``old.links``, ``new.page_outcome``, ...).
    """

    old: CrawlViews
    new: CrawlViews
    con: duckdb.DuckDBPyConnection
    old_started: datetime | None
    new_started: datetime | None
    #: What :func:`diff_crawls` computed on node ids and :func:`diff_summary` reuses.
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _started(path: str) -> datetime | None:
    manifest = read_manifest(path)
    sessions = manifest.sessions if manifest else []
    try:
        return datetime.fromisoformat(sessions[0]["started_at"]) if sessions else None
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{path}: crawl.json has no readable start time") from None


def _seed_domains(path: str) -> set[str]:
    manifest = read_manifest(path)
    hosts = (url_host(seed) for seed in (manifest.seeds if manifest else []))
    return {registered_domain(h) or h for h in hosts if h}


def open_pair(old: str | os.PathLike[str], new: str | os.PathLike[str]) -> CrawlPair:
    """Open OLD and NEW for comparing; a one-line :class:`UsageError` when they cannot be.

    Refused: a path that holds no crawl, a NEW that started before OLD (the arguments
    swapped), and two crawls whose seeds share no registered domain (not two crawls of
    the same web).
    """
    con = duckdb.connect()
    # DuckDB draws a progress bar on a terminal for long queries: not in our output.
    con.execute("SET enable_progress_bar = false")
    old_views = open_views(old, con, reader="diff", schema="old")
    new_views = open_views(new, con, reader="diff", schema="new")
    old_started, new_started = _started(str(old)), _started(str(new))
    if old_started and new_started and new_started < old_started:
        raise UsageError(f"NEW {new} (started {new_started.isoformat()}) is older than OLD "
                         f"{old} (started {old_started.isoformat()}): give the older crawl "
                         "first")
    old_seeds, new_seeds = _seed_domains(str(old)), _seed_domains(str(new))
    if old_seeds and new_seeds and not old_seeds & new_seeds:
        raise UsageError(f"{old} and {new} are crawls of unrelated seeds (no registered "
                         f"domain in common: {', '.join(sorted(old_seeds)[:3])} against "
                         f"{', '.join(sorted(new_seeds)[:3])})")
    return CrawlPair(old_views, new_views, con, old_started, new_started)


def _check_target(pair: CrawlPair, target: Target) -> None:
    try:
        pair.old.require_target(target)
    except UsageError:
        try:
            pair.new.require_target(target)
        except UsageError:
            raise UsageError(f"TARGET {target} is in neither crawl (no page and no link "
                             f"of this {target.kind})") from None


def _outcomes(schema: str) -> str:
    """One row per URL of ``schema``.page_outcome with its class: ok, redirect, gone
    (4xx), error (5xx or failed) or not_looked (``diff_ids.outcomes`` computes the
    same from the pages table)."""
    return f"""
        SELECT url_key, outcome, redirect_to, coalesce(links_truncated, 0) > 0 AS truncated,
               CASE WHEN not_looked THEN 'not_looked'
                    WHEN broken AND (status IS NULL OR status >= 500) THEN 'error'
                    WHEN broken THEN 'gone'
                    WHEN status >= 300 THEN 'redirect'
                    ELSE 'ok' END AS class
        FROM {schema}.page_outcome
        -- One row per URL even in a folder with a duplicate page row.
        QUALIFY row_number() OVER (PARTITION BY url_key ORDER BY status NULLS LAST) = 1"""


def _links(schema: str, where: str) -> str:
    # Only keys and compared values go through the join: URLs and domains (most of a
    # row's bytes) are looked up in nodes for the rows that changed.
    return f"""
        SELECT src_key, dst_key, link_type,
               row_number() OVER (PARTITION BY src_key, dst_key, link_type
                                  ORDER BY ordinal) AS occurrence,
               true AS here, anchor_text, rel, nofollow, sponsored, ugc
        FROM {schema}.links WHERE {where}"""


def _urls(pair: CrawlPair, schema: str) -> str:
    """url_key -> url, domain of ``schema``: its nodes, or (a schema-1 folder has
    none) the URLs of its links."""
    views = pair.old if schema == "old" else pair.new
    if views.folder.files("nodes"):
        return f"SELECT url_key, url, domain FROM {schema}.nodes"
    return f"""SELECT DISTINCT src_key AS url_key, src_url AS url, src_domain AS domain
               FROM {schema}.links UNION
               SELECT DISTINCT dst_key, dst_url, dst_domain FROM {schema}.links"""


def link_filter(target: Target | None, include_internal: bool) -> str:
    """The SQL condition on ``links`` rows that :func:`diff_crawls` compares."""
    if target is None:
        return "true"
    condition = target.matches()
    return condition if include_internal else f"{condition} AND NOT internal"


def diff_crawls(old: str | os.PathLike[str] | CrawlPair, new: str | os.PathLike[str] | None = None,
                target: str | Target | None = None, *, include_internal: bool = False,
                method: str = "auto") -> pa.Table:
    """Compare two crawls of the same web link by link.

    Parameters
    ----------
    old, new : path or CrawlPair
        The two crawl folders (OLD crawled first), or a :class:`CrawlPair` from
        :func:`open_pair` as ``old`` (then ``new`` is None).
    target : str or Target, optional
        Compare only the links to this URL, host or registered domain (see
        :mod:`linkgraph.analysis.target`): the target's backlinks. Without it, every link.
    include_internal : bool
        With a target, also the links from the target's own registered domain (by
        default only external backlinks count, as in ``linkgraph backlinks``).
    method : str
        ``auto``: without a target, every link matched on node ids in compiled loops
        (:mod:`linkgraph.analysis.diff_ids`) when both folders have their nodes
        tables, else (and with a target) in DuckDB SQL; ``sql``: always the SQL. The
        rows are the same.

    Returns
    -------
    pyarrow.Table
        One row per change, columns :data:`COLUMNS`: ``change`` (lost, changed, new),
        ``reason`` (the first of ``reasons``; null for new), ``reasons`` (every reason,
        most important first), the link (``src_url``, ``dst_url``, ``link_type``,
        ``occurrence``, ``src_domain``, ``dst_domain``), ``new_src_status`` (a lost
        link's source page in NEW: status, error code, or null when NEW has no row for
        it), ``new_redirect_to`` (where that page, or a changed link's target, now
        redirects), and the old and new values: ``*_dst_status`` (the target's status or
        error code), ``*_anchor_text``, ``*_rel``, ``*_nofollow``. A lost row has the
        old values, a new row the new ones, a changed row the pairs that differ (others
        null). Sorted by change (lost, changed, new), reason, src_url, dst_url.

    Raises
    ------
    UsageError
        A folder that is not a crawl, a NEW older than OLD, unrelated seeds, a TARGET
        in neither crawl.
    """
    pair = old if isinstance(old, CrawlPair) else open_pair(old, new)  # type: ignore[arg-type]
    if method not in ("auto", "sql"):
        raise ValueError(f"method must be auto or sql, not {method!r}")
    if isinstance(target, str):
        target = parse_target(target)
    if target is not None:
        _check_target(pair, target)
    pair.cache.pop("ids", None)
    if target is None and method == "auto":
        try:
            # Arrow's system pool and malloc tuned as the scorer has them: the default
            # pool purged and re-faulted what it freed (~2.8 s more of system CPU on
            # 10M links a side).
            with lean_memory():
                return _diff_on_ids(pair)
        except diff_ids.Fallback as why:
            log.debug("diff on node ids not possible (%s): DuckDB SQL", why)
        except (pa.ArrowException, OSError) as exc:
            # A part Arrow cannot read: the SQL reads it through the views, whose
            # error names the folder and the fix.
            log.debug("diff on node ids failed (%s): DuckDB SQL", exc)
    where = link_filter(target, include_internal)
    reasons = ", ".join(f"CASE WHEN {cond} THEN {sql_literal(name)} END"
                        for name, cond in _CHANGE_TESTS)
    sql = f"""
    WITH o AS ({_links('old', where)}),
         n AS ({_links('new', where)}),
         op AS ({_outcomes('old')}),
         np AS ({_outcomes('new')}),
         -- Targets whose class moved between two crawls that both fetched them.
         moved AS (
            SELECT op.url_key, op.outcome AS o_outcome, np.outcome AS n_outcome,
                   op.class AS o_class, np.class AS n_class, np.redirect_to
            FROM op JOIN np USING (url_key)
            WHERE op.class <> np.class AND op.class <> 'not_looked'
              AND np.class <> 'not_looked'),
         j AS (
            SELECT src_key, dst_key, link_type, occurrence,
                   o.here AS o_here, n.here AS n_here,
                   o.anchor_text AS o_anchor, n.anchor_text AS n_anchor,
                   o.rel AS o_rel, n.rel AS n_rel,
                   o.nofollow AS o_nofollow, n.nofollow AS n_nofollow,
                   o.sponsored AS o_sponsored, n.sponsored AS n_sponsored,
                   o.ugc AS o_ugc, n.ugc AS n_ugc,
                   m.url_key IS NOT NULL AS m_here, m.o_outcome, m.n_outcome, m.o_class,
                   m.n_class, m.redirect_to AS m_redirect_to
            FROM o FULL JOIN n USING (src_key, dst_key, link_type, occurrence)
                   LEFT JOIN moved AS m ON m.url_key = dst_key
            WHERE o.here IS NULL OR n.here IS NULL OR m.url_key IS NOT NULL
               OR o.anchor_text IS DISTINCT FROM n.anchor_text
               OR o.nofollow <> n.nofollow OR o.sponsored <> n.sponsored
               OR o.ugc <> n.ugc),
         lost AS (
            SELECT 'lost' AS change,
                   CASE WHEN np.url_key IS NULL OR np.class = 'not_looked'
                             THEN 'page_not_crawled'
                        WHEN np.class = 'gone' THEN 'page_gone'
                        WHEN np.class = 'error' THEN 'page_error'
                        -- A redirect that now points elsewhere is a removed link.
                        WHEN np.class = 'redirect' AND j.link_type <> 'redirect'
                             THEN 'page_redirected'
                        WHEN np.truncated THEN 'links_truncated'
                        ELSE 'link_removed' END AS reason,
                   j.*, np.outcome AS new_src_status,
                   CASE WHEN np.class = 'redirect' THEN np.redirect_to END AS new_redirect_to,
                   od.outcome AS old_dst_status
            FROM j LEFT JOIN np ON np.url_key = j.src_key
                   LEFT JOIN op AS od ON od.url_key = j.dst_key
            WHERE j.n_here IS NULL),
         added AS (
            SELECT j.*, nd.outcome AS new_dst_status
            FROM j LEFT JOIN np AS nd ON nd.url_key = j.dst_key
            WHERE j.o_here IS NULL),
         both_ AS (
            SELECT *, list_filter([{reasons}], lambda x: x IS NOT NULL) AS reasons
            FROM j WHERE j.o_here AND j.n_here),
         rows AS (
            SELECT change, reason, [reason] AS reasons, src_key, dst_key, link_type,
                   occurrence, new_src_status, new_redirect_to,
                   old_dst_status, NULL::VARCHAR AS new_dst_status,
                   o_anchor AS old_anchor_text, NULL::VARCHAR AS new_anchor_text,
                   o_rel AS old_rel, NULL::VARCHAR[] AS new_rel,
                   o_nofollow AS old_nofollow, NULL::BOOLEAN AS new_nofollow
            FROM lost
            UNION ALL
            SELECT 'changed', reasons[1], reasons, src_key, dst_key, link_type, occurrence,
                   NULL, m_redirect_to, o_outcome, n_outcome,
                   CASE WHEN o_anchor IS DISTINCT FROM n_anchor THEN o_anchor END,
                   CASE WHEN o_anchor IS DISTINCT FROM n_anchor THEN n_anchor END,
                   CASE WHEN o_rel <> n_rel THEN o_rel END,
                   CASE WHEN o_rel <> n_rel THEN n_rel END,
                   CASE WHEN o_nofollow <> n_nofollow THEN o_nofollow END,
                   CASE WHEN o_nofollow <> n_nofollow THEN n_nofollow END
            FROM both_ WHERE len(reasons) > 0
            UNION ALL
            SELECT 'new', NULL, []::VARCHAR[], src_key, dst_key, link_type, occurrence,
                   NULL, NULL, NULL, new_dst_status, NULL, n_anchor, NULL, n_rel,
                   NULL, n_nofollow
            FROM added),
         ou AS ({_urls(pair, 'old')}),
         nu AS ({_urls(pair, 'new')})
    SELECT change, reason, reasons,
           coalesce(ns.url, os.url) AS src_url, coalesce(nd.url, od.url) AS dst_url,
           link_type, occurrence,
           coalesce(ns.domain, os.domain) AS src_domain,
           coalesce(nd.domain, od.domain) AS dst_domain,
           new_src_status, new_redirect_to, old_dst_status, new_dst_status,
           old_anchor_text, new_anchor_text, old_rel, new_rel, old_nofollow, new_nofollow
    FROM rows LEFT JOIN nu AS ns ON ns.url_key = rows.src_key
              LEFT JOIN ou AS os ON os.url_key = rows.src_key
              LEFT JOIN nu AS nd ON nd.url_key = rows.dst_key
              LEFT JOIN ou AS od ON od.url_key = rows.dst_key
    {_ORDER}"""
    return pair.new.query(sql).rename_columns(list(COLUMNS))


def _diff_on_ids(pair: CrawlPair) -> pa.Table:
    """Every link of the pair compared on node ids (see :mod:`diff_ids`); the rows of
    the SQL below, in its order. Raises :class:`diff_ids.Fallback` when the folders
    cannot be read so."""
    folders = (pair.old.folder, pair.new.folder)
    ids = diff_ids.shared_ids(*folders)
    remaps = (None, ids.new_id)
    with ThreadPoolExecutor(2) as pool:
        # The two sides read and sort on the pool's threads (Parquet, the compiled
        # loops and DuckDB all release the GIL) while this one asks for the outcomes.
        sides = [pool.submit(diff_ids.read_side, folder, ids, remap)
                 for folder, remap in zip(folders, remaps)]
        outcomes = [diff_ids.outcomes(folder, nodes, remap, ids.size)
                    for folder, nodes, remap in zip(folders, (ids.old_nodes, ids.new_nodes),
                                                    remaps)]
        for nodes in (ids.old_nodes, ids.new_nodes):
            diff_ids.read_node_names(nodes)
        ids.old, ids.new = (side.result() for side in sides)
    diff_ids.align_types(ids)
    rows = diff_ids.diff_rows(ids, *outcomes, diff_ids.RelReader(*folders), CHANGE_REASONS)
    pair.cache["ids"] = ids
    # _ORDER, sorted by Arrow on the key columns alone (DuckDB's ORDER BY carried every
    # column through its sort: ~0.8 s of 530K rows); both compare strings byte by byte.
    change = pc.index_in(rows.column("change"), value_set=pa.array(["lost", "changed", "new"]))
    order = pc.sort_indices(
        pa.table({"change": change, **{c: rows.column(c) for c in (
            "reason", "src_url", "dst_url", "link_type", "occurrence")}}),
        sort_keys=[("change", "ascending"), ("reason", "ascending", "at_end"),
                   *((c, "ascending") for c in ("src_url", "dst_url", "link_type",
                                                 "occurrence"))])
    # The column types of the SQL's result: what DuckDB makes of these columns.
    pair.con.register("_diff_unsorted", rows.slice(0, 0))
    try:
        schema = pair.new.query("SELECT * FROM _diff_unsorted").schema
    finally:
        pair.con.unregister("_diff_unsorted")
    return rows.take(order).cast(schema)


#: Columns of :attr:`DiffSummary.table`, in order.
SUMMARY_COLUMNS = ("section", "change", "name", "of", "links", "old_authority",
                   "new_authority", "authority_change")
#: Lost reasons that say the new crawl did not look, not that the web changed.
NOT_LOOKED_REASONS = ("page_not_crawled", "links_truncated")


@dataclass(frozen=True)
class DiffSummary:
    """What :func:`diff_summary` found: a few lines of counts and the summary rows."""

    lines: list[str]
    table: pa.Table


def diff_summary(pair: CrawlPair, rows: pa.Table, target: str | Target | None = None, *,
                 include_internal: bool = False, top: int = 10) -> DiffSummary:
    """Summarise a diff: referring domains won and lost, authority that moved most.

    Parameters
    ----------
    pair : CrawlPair
        The two crawls (:func:`open_pair`).
    rows : pyarrow.Table
        What :func:`diff_crawls` returned for ``pair`` and the same ``target`` and
        ``include_internal``.
    target : str or Target, optional
        As for :func:`diff_crawls`.
    include_internal : bool
        As for :func:`diff_crawls`.
    top : int
        At most this many rows per section and change (0: all).

    Returns
    -------
    DiffSummary
        ``lines``: the crawls compared, the rows per change and reason, the referring
        domain counts. ``table`` (columns :data:`SUMMARY_COLUMNS`), one row per:

        * ``referring_domain``: a registered domain that links to ``of`` (the target,
          or each linked domain when there is none) in NEW and not in OLD
          (``change`` new), in OLD and not in NEW (lost), or whose every old link
          the new crawl did not look at (``not_recrawled``: not counted as lost);
          ``links`` its links then;
        * ``page`` and ``domain`` (when both crawls are scored): the pages (inside the
          target) and domains (the target's and its referring domains) whose
          ``authority_score`` moved most, ``change`` up or down.
    """
    if isinstance(target, str):
        target = parse_target(target)
    con = pair.con
    where = link_filter(target, include_internal)
    of = sql_literal(target.value) if target is not None else "dst_domain"
    limit = f"LIMIT {int(top)}" if top else ""
    con.register("_diff_rows", rows)
    not_looked = ", ".join(sql_literal(r) for r in NOT_LOOKED_REASONS)
    # A domain that starts (stops) linking ``of`` has new (lost) rows: counting the
    # links of those candidate pairs only spares grouping every link by two strings.
    of_link = sql_literal(target.value) if target is not None else "l.dst_domain"
    referring = f"""
        SELECT l.src_domain, {of_link} AS of, count(*) AS links
        FROM {{schema}}.links AS l SEMI JOIN candidates AS c
             ON c.src_domain = l.src_domain AND c.of = {of_link}
        WHERE {where} AND l.dst_domain IS NOT NULL AND {EXTERNAL} GROUP BY ALL"""
    candidates = f"""
        SELECT DISTINCT src_domain, {of} AS of FROM _diff_rows
        WHERE change IN ('new', 'lost') AND dst_domain IS NOT NULL
          AND src_domain IS DISTINCT FROM dst_domain"""
    counted = {schema: referring.format(schema=schema) for schema in ("old", "new")}
    ids = pair.cache.get("ids") if target is None else None
    if ids is not None:
        # The same counts on the node ids diff_crawls matched on: no pass over the
        # links' two domain strings (~1.4 s of 10M links a side).
        pairs = con.sql(f"{candidates} AND src_domain IS NOT NULL").to_arrow_table()
        for schema, links in zip(("old", "new"), diff_ids.referring_counts(
                ids, pairs.column("src_domain"), pairs.column("of"))):
            con.register(f"_diff_{schema}_referring", pairs.append_column(
                "links", pa.array(links)).filter(pa.array(links > 0)))
            counted[schema] = f"SELECT * FROM _diff_{schema}_referring"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _diff_referring AS
        WITH candidates AS ({candidates}),
             o AS ({counted['old']}), n AS ({counted['new']}),
             looked AS (
                SELECT DISTINCT src_domain, {of} AS of FROM _diff_rows
                WHERE change = 'lost' AND reason NOT IN ({not_looked}))
        SELECT 'new' AS change, n.src_domain AS name, n.of, n.links
        FROM n ANTI JOIN o USING (src_domain, of)
        UNION ALL
        SELECT CASE WHEN looked.of IS NULL THEN 'not_recrawled' ELSE 'lost' END,
               o.src_domain, o.of, o.links
        FROM o ANTI JOIN n USING (src_domain, of) LEFT JOIN looked USING (src_domain, of)""")
    for name in ("_diff_rows", "_diff_old_referring", "_diff_new_referring"):
        con.unregister(name)
    ref_counts = dict(con.execute("SELECT change, count(*) FROM _diff_referring "
                                  "GROUP BY ALL").fetchall())
    sections = [f"""
        SELECT 'referring_domain' AS section, change, name, of, links,
               NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE
        FROM _diff_referring
        QUALIFY {int(top)} = 0 OR row_number() OVER (
            PARTITION BY change ORDER BY links DESC, name, of) <= {int(top)}
        -- In the order of the summary line (the window alone leaves it open).
        ORDER BY CASE change WHEN 'new' THEN 0 WHEN 'lost' THEN 1 ELSE 2 END,
                 links DESC, name, of"""]
    scored = {name: (pair.old.view(name), pair.new.view(name))
              for name in ("page_scores", "domain_scores")}
    if all(name in pair.old.scored and name in pair.new.scored for name in scored):
        in_target, in_domains = "true", "true"
        if target is not None:
            in_target = target.matches(prefix="n.")
            in_domains = f"""(domain = {sql_literal(target.domain)} OR domain IN (
                SELECT src_domain FROM old.links WHERE {where} UNION
                SELECT src_domain FROM new.links WHERE {where}))"""
        for section, (old_table, new_table), key, name, condition in (
                ("page", scored["page_scores"], "url_key", "n.url", in_target),
                ("domain", scored["domain_scores"], "domain", "domain", in_domains)):
            sections.append(f"""
                SELECT {sql_literal(section)}, CASE WHEN d > 0 THEN 'up' ELSE 'down' END,
                       name, NULL, NULL, old, new, d
                FROM (SELECT {name} AS name, o.authority_score AS old,
                             n.authority_score AS new,
                             n.authority_score - o.authority_score AS d
                      FROM {old_table} AS o JOIN {new_table} AS n USING ({key})
                      WHERE {condition})
                WHERE d <> 0 ORDER BY abs(d) DESC, name {limit}""")
    table = pair.new.query(" UNION ALL ".join(f"({s})" for s in sections))
    table = table.rename_columns(list(SUMMARY_COLUMNS))
    return DiffSummary(_summary_lines(pair, rows, ref_counts), table)


def _summary_lines(pair: CrawlPair, rows: pa.Table, ref_counts: dict[str, int]) -> list[str]:
    def started(when: datetime | None) -> str:
        return when.isoformat() if when else "start unknown"

    # Rows per (change, reason) in order of first appearance (ties keep it), counted on
    # one joined string: Arrow's group-by is Acero's, whose import brings pandas in
    # (~0.8 s of the command's start).
    key = pc.binary_join_element_wise(rows.column("change"),
                                      pc.fill_null(rows.column("reason"), ""), "\x1f")
    counts = pc.value_counts(key) if rows.num_rows else pa.array([], pa.struct(
        [("values", pa.string()), ("counts", pa.int64())]))
    pairs = [(*value.split("\x1f"), n) for value, n in zip(
        counts.field("values").to_pylist(), counts.field("counts").to_pylist())]
    by_change: dict[str, list[str]] = {"lost": [], "changed": [], "new": []}
    totals = dict.fromkeys(by_change, 0)
    for change, reason, n in sorted(pairs, key=lambda r: -r[2]):
        totals[change] += n
        if reason:
            by_change[change].append(f"{reason} {n}")
    return [
        f"OLD {pair.old.path} (started {started(pair.old_started)}) -> "
        f"NEW {pair.new.path} (started {started(pair.new_started)})",
        *(f"{change}: {totals[change]}" + (f" ({', '.join(parts)})" if parts else "")
          for change, parts in by_change.items()),
        f"referring domains: {ref_counts.get('new', 0)} new, {ref_counts.get('lost', 0)} "
        f"lost, {ref_counts.get('not_recrawled', 0)} not recrawled",
    ]
