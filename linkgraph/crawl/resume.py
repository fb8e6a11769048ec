"""Continue an interrupted crawl from what its folder already holds.

The committed Parquet parts are the checkpoint: a page is done when its ``pages`` row
is committed (see ``linkgraph/storage/crawl_dir.py``), and the frontier is every followable
link target, and every URL a committed sitemap lists (``LINKGRAPH_SITEMAP_FOLLOW``), that
is not done yet. Nothing else is persisted, so there is no second
state (like Scrapy's JOBDIR queue) that a kill could leave out of step with the data:
pages fetched but not yet committed when the process died are simply fetched again,
and each page is committed exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from linkgraph.crawl.config import CrawlConfig
from linkgraph.crawl.sitemap_reader import SITEMAP_DEPTH
from linkgraph.storage.reader import CrawlFolder


@dataclass
class Progress:
    #: URLs with a committed pages row (fetched, failed or blocked).
    done: list[str]
    #: (url, depth, host) of link targets (and sitemap URLs) to fetch, shallowest first.
    frontier: list[tuple[str, int, str]]
    #: Sitemaps whose rows are committed: not read again.
    sitemaps_read: list[str] = field(default_factory=list)


def _sql_list(values: frozenset[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values)) or "NULL"


def load_progress(path: str, config: CrawlConfig) -> Progress:
    """Read what the crawl in ``path`` has done and what it still has to fetch.

    The follow rules are those of :meth:`LinksSpider.follow`, expressed over the link
    rows (scope and depth limits are applied by the caller, like for live links).
    """
    folder = CrawlFolder(path)
    if not folder.files("pages"):
        return Progress([], [])
    con = folder.duckdb(datasets=("pages", "links", "sitemaps"))
    done = [row[0] for row in con.execute("SELECT DISTINCT url FROM pages").fetchall()]
    sitemaps_read = [row[0] for row in con.execute(
        "SELECT DISTINCT sitemap_url FROM sitemaps ORDER BY 1").fetchall()]
    # A sitemap's URLs are followed as links of depth SITEMAP_DEPTH.
    listed = (f"UNION ALL SELECT url, {SITEMAP_DEPTH}, host FROM sitemaps "
              "WHERE host IS NOT NULL" if config.sitemap_follow else "")
    # A page-level nofollow shows as nofollow without the rel token.
    conditions = [f"link_type IN ({_sql_list(config.follow_types)})", "dst_host IS NOT NULL"]
    if not config.follow_rel_nofollow:
        conditions.append("NOT list_contains(rel, 'nofollow')")
    if not config.follow_page_nofollow:
        conditions.append("NOT (nofollow AND NOT list_contains(rel, 'nofollow'))")
    frontier = con.execute(f"""
        SELECT dst_url, min(d) AS d, any_value(dst_host)
        FROM (SELECT dst_url,
                     CASE WHEN link_type = 'redirect' THEN depth ELSE depth + 1 END AS d, dst_host
              FROM links WHERE {' AND '.join(conditions)} {listed})
        WHERE dst_url NOT IN (SELECT url FROM pages)
        GROUP BY dst_url ORDER BY d, dst_url""").fetchall()
    return Progress(done, [(u, int(d), h) for u, d, h in frontier], sitemaps_read)
