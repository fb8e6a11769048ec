"""A plain-text summary of a crawl folder, from its Parquet datasets (DuckDB)."""

from __future__ import annotations

import os

import duckdb

from linkgraph.analysis.crawl_views import (BROKEN_SQL, FOLLOWED, OUTCOME_SQL,
                                            referring_domains_sql)
from linkgraph.storage.reader import CrawlFolder, sql_path
from linkgraph.storage.verify import truncation_warning


def _table(con: duckdb.DuckDBPyConnection, sql: str, headers: list[str]) -> list[str]:
    rows = con.execute(sql).fetchall()
    if not rows:
        return ["  (none)"]
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    fmt = "  " + "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*headers), *(fmt.format(*r) for r in cells)]


def crawl_report(path: str, top: int = 8) -> str:
    """Summarise the crawl in ``path``: pages, errors, link kinds, most-linked pages."""
    con = CrawlFolder(path).duckdb(datasets=("links", "pages"))
    n_pages, n_errors = con.execute(
        "SELECT count(*), count(error) FROM pages").fetchone()
    n_links, n_hosts = con.execute(
        "SELECT count(*), count(DISTINCT dst_host) FROM links").fetchone()
    out = [f"Crawl {path}: {n_pages} page rows ({n_errors} failed), {n_links} link rows "
           f"to {n_hosts} hosts"]
    cut_pages, cut_links = con.execute(
        "SELECT count(links_truncated), coalesce(sum(links_truncated), 0) FROM pages").fetchone()
    if cut_pages:
        out.append(f"WARNING: {truncation_warning(cut_pages, cut_links)}")
    out += ["", "Responses:"]
    out += _table(con, """SELECT coalesce(CAST(status AS VARCHAR), split_part(error, ':', 1)) AS outcome,
                                 count(*) AS pages
                          FROM pages GROUP BY 1 ORDER BY 2 DESC, 1""", ["status/error", "pages"])
    out += ["", "Links by type and rel:"]
    out += _table(con, """SELECT link_type, count(*) AS links, count(*) FILTER (WHERE internal) AS internal,
                                 count(*) FILTER (WHERE nofollow) AS nofollow,
                                 count(*) FILTER (WHERE sponsored) AS sponsored,
                                 count(*) FILTER (WHERE ugc) AS ugc
                          FROM links GROUP BY 1 ORDER BY 2 DESC, 1""",
                  ["link_type", "links", "internal", "nofollow", "sponsored", "ugc"])
    out += ["", f"Most linked-to pages (top {top}, by referring domains: other registered "
                "domains linking, followed or not):"]
    out += _table(con, f"""SELECT dst_url, {referring_domains_sql()} AS ref_domains,
                                  {referring_domains_sql(followed_only=True)} AS followed,
                                  count(DISTINCT src_url) AS ref_pages,
                                  count(*) FILTER (WHERE {FOLLOWED}) AS followed_links
                           FROM links WHERE dst_host IS NOT NULL AND link_type = 'anchor'
                           GROUP BY 1 ORDER BY 2 DESC, 4 DESC, 1 LIMIT {int(top)}""",
                  ["dst_url", "ref_domains", "followed", "ref_pages", "followed_links"])
    out += ["", "Broken links (target answered 4xx/5xx or failed):"]
    out += _table(con, f"""SELECT l.src_url, l.dst_url, {OUTCOME_SQL} AS outcome
                           FROM links l JOIN pages p ON p.url = l.dst_url
                           WHERE {BROKEN_SQL} ORDER BY 1, 2""", ["src_url", "dst_url", "outcome"])
    out += ["", "Redirects and canonicals:"]
    out += _table(con, """SELECT src_url, link_type, dst_url FROM links
                          WHERE link_type IN ('redirect', 'canonical') AND src_url <> dst_url
                          ORDER BY 2, 1""", ["src_url", "link_type", "dst_url"])
    return "\n".join(out)


def scores_report(scores_dir: str, top: int = 8) -> str:
    """Summarise ``DIR/scores``: top pages, hosts and domains by authority score."""
    pages = sql_path(os.path.join(scores_dir, "pages.parquet"))
    domains = sql_path(os.path.join(scores_dir, "domains.parquet"))
    con = duckdb.connect()
    columns = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM read_parquet({pages})").fetchall()}
    trust = ", round(trust_score, 1) AS trust" if "trust_score" in columns else ""
    # Spam mass (with --trusted): the share of PageRank not from the trusted core.
    spam = ", round(spam_mass, 2) AS spam_mass" if "spam_mass" in columns else ""
    out = [f"Top pages by authority (top {top}; 0-100 log scale of PageRank):"]
    out += _table(con, f"""SELECT url, round(authority_score, 1) AS authority{trust}{spam},
                                  referring_domains AS ref_domains,
                                  followed_referring_domains AS followed, in_links
                           FROM read_parquet({pages}) ORDER BY pagerank DESC, url LIMIT {int(top)}""",
                  ["url", "authority", *(["trust"] if trust else []),
                   *(["spam_mass"] if spam else []), "ref_domains", "followed", "in_links"])
    out += ["", "Domains by authority:"]
    out += _table(con, f"""SELECT domain, round(authority_score, 1) AS authority,
                                  referring_domains AS ref_domains,
                                  followed_referring_domains AS followed,
                                  round(harmonic, 2) AS harmonic{spam}
                           FROM read_parquet({domains}) ORDER BY pagerank DESC, domain LIMIT {int(top)}""",
                  ["domain", "authority", "ref_domains", "followed", "harmonic",
                   *(["spam_mass"] if spam else [])])
    return "\n".join(out)


def diff_report(old: str, new: str, target: str) -> str:
    """The changed backlinks of ``target`` between two crawls, in a few lines."""
    from linkgraph.analysis.diff import diff_crawls, diff_summary, open_pair
    from linkgraph.analysis.output import format_table

    pair = open_pair(old, new)
    rows = diff_crawls(pair, target=target)
    summary = diff_summary(pair, rows, target)
    return "\n".join([f"Backlinks of {target} that changed (linkgraph diff {old} {new} "
                      f"--target {target}):", *(f"  {line}" for line in summary.lines[1:]),
                      format_table(rows.select(["change", "reason", "src_url", "dst_url"]))])
