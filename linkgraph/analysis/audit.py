"""``linkgraph audit``: the link problems of a crawl, one row per finding.

Each check is one small rule (a function below, registered in :data:`CHECKS`) over the
crawl's views (:mod:`linkgraph.analysis.crawl_views`); each returns rows with the
columns of :data:`COLUMNS`:

``check``
    The check's name (``broken_link``, ``redirect_chain``, ...).
``severity``
    ``error`` (a visitor or a search engine hits a wall), ``warning`` (authority or
    crawl budget is wasted) or ``notice`` (worth a look).
``url``
    The URL the finding is about: the page to fix.
``src_url``, ``dst_url``, ``final_url``
    The other URLs involved, when there are: the linking page, the link's target, where
    a redirect path ends.
``detail``
    The finding in words.

What each check means, why it matters and how to fix it is each rule's docstring, and
the README's "Site audit" table (tests/test_audit.py checks that it names every check).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from linkgraph.analysis.crawl_views import FOLLOWED, CrawlViews, open_views
from linkgraph.analysis.target import Target, parse_target
from linkgraph.errors import UsageError

COLUMNS = ("check", "severity", "url", "src_url", "dst_url", "final_url", "detail")
SCHEMA = pa.schema([(name, pa.string()) for name in COLUMNS])
SEVERITIES = ("error", "warning", "notice")
#: Redirect hops followed before a path is called endless.
MAX_HOPS = 20


@dataclass(frozen=True)
class AuditOptions:
    """The thresholds of the checks.

    Attributes
    ----------
    max_clicks : int
        ``deep_page``: pages more clicks than this from their site's home page.
    max_links : int
        ``too_many_links``: pages with more link rows than this.
    site : str or None
        Only findings whose ``url`` is on this host or registered domain.
    """

    max_clicks: int = 3
    max_links: int = 300
    site: str | None = None


@dataclass(frozen=True)
class Check:
    """A registered check: its name, severity, rule and one-line description."""

    name: str
    severity: str
    rule: Callable[[CrawlViews, AuditOptions], pa.Table]

    @property
    def description(self) -> str:
        return (self.rule.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


CHECKS: dict[str, Check] = {}


def _check(name: str, severity: str):
    def register(rule: Callable[[CrawlViews, AuditOptions], pa.Table]):
        CHECKS[name] = Check(name, severity, rule)
        return rule
    return register


def _rows(check: str, rows: Iterable[dict]) -> pa.Table:
    severity = CHECKS[check].severity
    rows = [{"check": check, "severity": severity, **row} for row in rows]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _query_rows(views: CrawlViews, check: str, sql: str) -> pa.Table:
    """A check written as one query selecting ``url, src_url, dst_url, final_url,
    detail`` (in that order)."""
    table = views.query(sql)
    n = table.num_rows
    return pa.table({"check": pa.array([check] * n, pa.string()),
                     "severity": pa.array([CHECKS[check].severity] * n, pa.string()),
                     **{c: table.column(i).cast(pa.string())
                        for i, c in enumerate(COLUMNS[2:])}}, schema=SCHEMA)


# -- the checks ------------------------------------------------------------------------

@_check("broken_link", "error")
def broken_link(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """An anchor link whose target answers 4xx/5xx or could not be fetched.

    One row per linking page and target (``url`` is the linking page: where the link is
    fixed); internal and external targets are told apart in ``detail``. Visitors hit a
    dead end and the authority the link carries is lost. Fix the link or the target
    (restore it, or redirect it to its successor).
    """
    return _query_rows(views, "broken_link", """
        SELECT l.src_url, l.src_url, l.dst_url, NULL,
               (CASE WHEN l.internal THEN 'internal' ELSE 'external' END) || ' link to a '
               || o.outcome || ' target' || (CASE WHEN count(*) > 1
                   THEN ' (' || count(*) || ' links)' ELSE '' END)
        FROM links l JOIN page_outcome o ON o.url = l.dst_url
        WHERE l.link_type = 'anchor' AND o.broken
        GROUP BY l.src_url, l.dst_url, l.internal, o.outcome
        ORDER BY l.internal DESC, l.dst_url, l.src_url""")


def _redirects(views: CrawlViews) -> dict[str, str]:
    table = views.query("SELECT url, redirect_to FROM pages WHERE redirect_to IS NOT NULL")
    return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist()))


def _follow(start: str, redirects: dict[str, str]) -> tuple[list[str], bool]:
    """The redirect path from ``start`` (start included) and whether it loops."""
    path, seen = [start], {start}
    while path[-1] in redirects and len(path) <= MAX_HOPS:
        nxt = redirects[path[-1]]
        if nxt in seen:
            return path + [nxt], True
        path.append(nxt)
        seen.add(nxt)
    return path, len(path) > MAX_HOPS


@_check("redirect_chain", "warning")
def redirect_chain(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """A linked URL that reaches its final URL through 2 or more redirects.

    Each hop costs a round trip and some authority, and crawlers give up on long
    chains. ``url`` is the first URL of the chain, ``final_url`` where it ends and
    ``detail`` every hop. Link to the final URL, and redirect each old URL straight there.
    """
    redirects = _redirects(views)
    if not redirects:
        return _rows("redirect_chain", [])
    linked = set(views.query("SELECT DISTINCT dst_url FROM links").column(0).to_pylist())
    rows = []
    for start in sorted(set(redirects) & linked):
        path, loops = _follow(start, redirects)
        if not loops and len(path) >= 3:
            rows.append({"url": start, "final_url": path[-1],
                         "detail": f"{len(path) - 1} redirects: " + " -> ".join(path)})
    return _rows("redirect_chain", rows)


@_check("redirect_loop", "error")
def redirect_loop(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """A redirect path that comes back to a URL it passed (or never ends).

    Browsers stop with an error and search engines drop the URL. ``detail`` is the
    loop. Make one URL of the loop answer 200, or redirect the others to a page that does.
    """
    redirects = _redirects(views)
    rows, reported = [], set()
    for start in sorted(redirects):
        path, loops = _follow(start, redirects)
        if not loops:
            continue
        cycle = frozenset(path[path.index(path[-1]):]) if path[-1] in path[:-1] else frozenset(path)
        if cycle in reported:
            continue
        reported.add(cycle)
        rows.append({"url": start, "final_url": None,
                     "detail": "redirect loop: " + " -> ".join(path)})
    return _rows("redirect_loop", rows)


@_check("canonical_broken", "error")
def canonical_broken(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """A canonical that points to a URL answering non-200 or redirecting.

    Search engines ignore such a canonical (or index the wrong page). ``url`` is the page
    that declares it, ``dst_url`` the canonical. Point the canonical at the live, final URL.
    """
    return _query_rows(views, "canonical_broken", """
        SELECT p.url, NULL, p.canonical_url, t.redirect_to,
               'canonical answers ' || coalesce(CAST(t.status AS VARCHAR),
                                                 split_part(t.error, ':', 1))
               || (CASE WHEN t.redirect_to IS NOT NULL THEN ' (redirects to '
                   || t.redirect_to || ')' ELSE '' END)
        FROM pages p JOIN pages t ON t.url = p.canonical_url
        WHERE p.canonical_url IS NOT NULL AND p.canonical_url <> p.url
          AND (t.status IS DISTINCT FROM 200)
          AND NOT (t.status IS NULL AND t.error LIKE 'robots_txt%')
        ORDER BY p.url""")


@_check("canonical_chain", "warning")
def canonical_chain(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """A canonical whose target is itself canonicalised to another URL.

    Search engines may not follow a chain of hints. ``final_url`` is the second
    canonical. Point every page's canonical at the final one.
    """
    return _query_rows(views, "canonical_chain", """
        SELECT p.url, NULL, p.canonical_url, t.canonical_url,
               'canonical ' || p.canonical_url || ' has its own canonical ' || t.canonical_url
        FROM pages p JOIN pages t ON t.url = p.canonical_url
        WHERE p.canonical_url IS NOT NULL AND p.canonical_url <> p.url
          AND t.canonical_url IS NOT NULL AND t.canonical_url <> t.url
        ORDER BY p.url""")


@_check("hreflang_no_return", "warning")
def hreflang_no_return(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """An hreflang alternate whose target (fetched, 200) does not link back.

    Search engines ignore hreflang pairs without a return link, so the wrong language
    version is shown. Add the reciprocal ``<link rel=alternate hreflang>`` on the target.
    """
    return _query_rows(views, "hreflang_no_return", """
        SELECT a.src_url, a.src_url, a.dst_url, NULL,
               'hreflang=' || a.hreflang || ' alternate has no hreflang link back'
        FROM links a JOIN pages t ON t.url = a.dst_url AND t.status = 200
        WHERE a.link_type = 'alternate' AND a.hreflang IS NOT NULL AND a.dst_url <> a.src_url
          AND NOT EXISTS (SELECT 1 FROM links b WHERE b.src_url = a.dst_url
                          AND b.dst_url = a.src_url AND b.link_type = 'alternate'
                          AND b.hreflang IS NOT NULL)
        ORDER BY a.src_url, a.dst_url""")


@_check("hreflang_broken", "error")
def hreflang_broken(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """An hreflang alternate that does not answer 200.

    The language version cannot be shown. Point it at the live URL of that version.
    """
    return _query_rows(views, "hreflang_broken", """
        SELECT a.src_url, a.src_url, a.dst_url, t.redirect_to,
               'hreflang=' || a.hreflang || ' alternate answers '
               || coalesce(CAST(t.status AS VARCHAR), split_part(t.error, ':', 1))
        FROM links a JOIN pages t ON t.url = a.dst_url
        WHERE a.link_type = 'alternate' AND a.hreflang IS NOT NULL
          AND t.status IS DISTINCT FROM 200
          AND NOT (t.status IS NULL AND t.error LIKE 'robots_txt%')
        ORDER BY a.src_url, a.dst_url""")


@_check("orphan_page", "warning")
def orphan_page(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """A URL listed in a sitemap that no internal link of the crawl reaches.

    Search engines find it only through the sitemap and it gets no internal authority.
    Link to it from a related page (or drop it from the sitemap). Needs a crawl that read
    sitemaps (its ``sitemaps`` dataset); without one, the check has nothing to read.
    """
    if not views.folder.listing.kept.get("sitemaps"):
        return _rows("orphan_page", [])
    views.folder.duckdb(views.con, datasets=("sitemaps",))
    return _query_rows(views, "orphan_page", """
        SELECT s.url, NULL, NULL, NULL, 'listed in ' || min(s.sitemap_url)
               || ', no internal link to it'
        FROM sitemaps s
        WHERE NOT EXISTS (SELECT 1 FROM links l WHERE l.dst_url = s.url AND l.internal
                          AND l.src_url <> s.url AND l.link_type IN ('anchor', 'redirect'))
        GROUP BY s.url ORDER BY s.url""")


@_check("nofollow_only_inlinks", "warning")
def nofollow_only_inlinks(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """A page whose internal in-links are all nofollow (or sponsored/ugc).

    The site passes it no authority, and crawlers may not reach it. Make at least one
    internal link to it followed.
    """
    return _query_rows(views, "nofollow_only_inlinks", f"""
        SELECT l.dst_url, NULL, NULL, NULL,
               count(*) || ' internal link(s), all nofollow'
        FROM links l JOIN pages p ON p.url = l.dst_url AND p.status = 200
        WHERE l.internal AND l.link_type = 'anchor' AND l.src_url <> l.dst_url
        GROUP BY l.dst_url
        HAVING count(*) FILTER (WHERE {FOLLOWED}) = 0
        ORDER BY l.dst_url""")


@_check("nofollow_internal", "notice")
def nofollow_internal(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """An internal link marked nofollow (rel or the page's robots directive).

    Nofollow on a link within the site throws away authority the site could keep
    (it is not redistributed to the page's other links). Remove nofollow from internal links.
    """
    return _query_rows(views, "nofollow_internal", """
        SELECT src_url, src_url, dst_url, NULL,
               'rel=' || coalesce(nullif(array_to_string(rel, ' '), ''), '(page nofollow)')
               || (CASE WHEN count(*) > 1 THEN ' (' || count(*) || ' links)' ELSE '' END)
        FROM links
        WHERE internal AND link_type = 'anchor' AND nofollow AND src_url <> dst_url
        GROUP BY src_url, dst_url, rel ORDER BY src_url, dst_url""")


@_check("deep_page", "notice")
def deep_page(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """A page more than ``--max-clicks`` clicks from its site's home page.

    Clicks are counted breadth-first over followed internal anchor links and redirects
    of the same host, from the host's home page (``/``; the crawl's shallowest page on
    that host when it has no home page), not in the crawl's order of discovery. Deep
    pages get little authority and are crawled rarely. Link to them from higher up
    (hubs, navigation, related links). A fetched page no followed path reaches is
    reported too.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import shortest_path

    con = views.con
    # Dense integer ids for every URL: the crawl's node ids, or numbered here for a
    # folder written before node ids.
    if views.folder.files("nodes"):
        con.execute("CREATE OR REPLACE TEMP VIEW audit_pages AS SELECT node_id AS id, url, "
                    "host, depth, status FROM pages")
        con.execute("CREATE OR REPLACE TEMP VIEW audit_links AS SELECT * FROM links")
        n = int(views.scalar("SELECT count(*) FROM nodes"))
    else:
        con.execute("""CREATE OR REPLACE TEMP TABLE audit_ids AS SELECT url,
                       (row_number() OVER () - 1)::INTEGER AS id
                       FROM (SELECT url FROM pages UNION SELECT dst_url FROM links)""")
        con.execute("CREATE OR REPLACE TEMP VIEW audit_pages AS SELECT i.id, p.url, p.host, "
                    "p.depth, p.status FROM pages p JOIN audit_ids i USING (url)")
        con.execute("""CREATE OR REPLACE TEMP VIEW audit_links AS SELECT s.id AS src_id,
                       d.id AS dst_id, l.* FROM links l JOIN audit_ids s ON s.url = l.src_url
                       JOIN audit_ids d ON d.url = l.dst_url""")
        n = int(views.scalar("SELECT count(*) FROM audit_ids"))
    homes = views.query("""SELECT host, id, url FROM (
            SELECT host, id, url, row_number() OVER (PARTITION BY host ORDER BY
                (CASE WHEN url = regexp_extract(url, '^[a-z]+://[^/]+/') THEN -1
                      ELSE coalesce(depth, 1 << 30) END), url) AS rank
            FROM audit_pages WHERE status = 200 AND host IS NOT NULL)
        WHERE rank = 1""")
    if homes.num_rows == 0:
        return _rows("deep_page", [])
    edges = views.query(f"""SELECT src_id, dst_id FROM audit_links
        WHERE src_host = dst_host AND src_id <> dst_id AND {FOLLOWED}
          AND link_type IN ('anchor', 'redirect', 'meta-refresh')""")
    # One breadth-first search from a virtual node linked to every home page (id n):
    # sites do not link to each other here, so each page gets its own site's clicks.
    home_ids = homes.column("id").to_numpy()
    src = np.concatenate([edges.column(0).to_numpy(), np.full(len(home_ids), n)])
    dst = np.concatenate([edges.column(1).to_numpy(), home_ids])
    graph = sp.csr_array((np.ones(len(src)), (src, dst)), shape=(n + 1, n + 1))
    clicks = shortest_path(graph, unweighted=True, indices=n, directed=True) - 1
    con.register("audit_clicks", pa.table({"id": np.arange(n, dtype=np.int32),
                                           "clicks": clicks[:n]}))
    con.register("audit_homes", homes)
    try:
        return _query_rows(views, "deep_page", f"""
            SELECT p.url, h.url, NULL, NULL,
                   CASE WHEN isinf(c.clicks) THEN 'no followed internal path from ' || h.url
                        ELSE CAST(c.clicks AS BIGINT) || ' clicks from ' || h.url
                             || ' (more than {int(options.max_clicks)})' END
            FROM audit_pages p JOIN audit_clicks c ON c.id = p.id
            JOIN audit_homes h ON h.host = p.host
            WHERE p.status = 200 AND (isinf(c.clicks) OR c.clicks > {int(options.max_clicks)})
            ORDER BY p.url""")
    finally:
        con.unregister("audit_clicks")
        con.unregister("audit_homes")


@_check("too_many_links", "notice")
def too_many_links(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """A page with more than ``--max-links`` links.

    Each link gets a smaller share of the page's authority, and users cannot use them
    all. Trim navigation and footers, or split the page.
    """
    return _query_rows(views, "too_many_links", f"""
        SELECT url, NULL, NULL, NULL,
               links_count || ' links (more than {int(options.max_links)})'
               || (CASE WHEN links_truncated IS NOT NULL THEN ', ' || links_truncated
                   || ' more not recorded' ELSE '' END)
        FROM pages WHERE links_count + coalesce(links_truncated, 0) > {int(options.max_links)}
        ORDER BY links_count DESC, url""")


@_check("mixed_content", "warning")
def mixed_content(views: CrawlViews, options: AuditOptions) -> pa.Table:
    """An https page that loads an http resource (stylesheet, icon, frame) or links to
    an http page of its own site.

    Browsers block or flag insecure resources, and http links inside an https site
    cost a redirect each (or leak visitors to plain http). Use https URLs. (Forms are
    not recorded by the crawl, so insecure form targets are not checked.)
    """
    return _query_rows(views, "mixed_content", """
        SELECT src_url, src_url, dst_url, NULL,
               (CASE WHEN link_type = 'anchor' THEN 'link to an http page of the same site'
                     ELSE 'loads an http ' || link_type END)
        FROM links
        WHERE src_url LIKE 'https://%' AND dst_url LIKE 'http://%'
          AND (link_type IN ('stylesheet', 'icon', 'iframe')
               OR (link_type = 'anchor' AND dst_domain = src_domain))
        GROUP BY ALL ORDER BY src_url, dst_url""")


# -- running them ----------------------------------------------------------------------

def audit(crawl_dir: str | os.PathLike[str], options: AuditOptions | None = None,
          checks: Iterable[str] | None = None) -> pa.Table:
    """Run the checks on a crawl folder.

    Parameters
    ----------
    crawl_dir : str or PathLike
        A crawl folder (finished, running or killed).
    options : AuditOptions, optional
    checks : iterable of str, optional
        Names from :data:`CHECKS` (default: all).

    Returns
    -------
    pyarrow.Table
        One row per finding, columns :data:`COLUMNS`, ordered by check (as in
        :data:`CHECKS`) and then by URL.
    """
    options = options or AuditOptions()
    names = list(CHECKS) if checks is None else list(checks)
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        raise UsageError(f"unknown check {unknown[0]!r}: choose from {', '.join(CHECKS)}")
    site = parse_target(options.site) if options.site else None
    if site is not None and site.kind == "url":
        raise UsageError("--site takes a host or a registered domain, not a URL")
    views = open_views(crawl_dir, reader="audit")
    try:
        if site is not None:
            views.require_target(site)
        tables = [CHECKS[name].rule(views, options) for name in names]
    finally:
        views.con.close()
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    return _on_site(table, site) if site is not None else table


def _on_site(table: pa.Table, site: Target) -> pa.Table:
    from linkgraph.urls import registered_domain, url_host

    hosts = [url_host(u) for u in table.column("url").to_pylist()]
    keep = [h == site.value if site.kind == "host" else registered_domain(h) == site.value
            for h in hosts]
    return table.filter(pa.array(keep, pa.bool_()))


def summary(findings: pa.Table) -> pa.Table:
    """Findings counted by check: ``check``, ``severity``, ``findings``, ``urls``
    (distinct URLs), every registered check listed, in :data:`CHECKS` order."""
    counts: dict[str, list] = defaultdict(lambda: [0, set()])
    for check, url in zip(findings.column("check").to_pylist(),
                          findings.column("url").to_pylist()):
        counts[check][0] += 1
        counts[check][1].add(url)
    return pa.table({
        "check": list(CHECKS), "severity": [c.severity for c in CHECKS.values()],
        "findings": pa.array([counts[c][0] if c in counts else 0 for c in CHECKS], pa.int64()),
        "urls": pa.array([len(counts[c][1]) if c in counts else 0 for c in CHECKS], pa.int64()),
    })


__all__ = ["CHECKS", "COLUMNS", "AuditOptions", "Check", "audit", "summary"]
