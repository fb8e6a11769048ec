"""``linkgraph report``: one self-contained HTML file about a crawl, for people who look.

The page has five sections: the crawl at a glance, authority, backlinks of each
crawled site, the audit's findings and a picture of the host graph. Every number is
aggregated in DuckDB over the crawl's views first (:mod:`crawl_views`), so a 1M-page
crawl gives a page of the same size as a small one; pictures are sampled (the top
hosts). Charts are Vega-Lite specifications built with Altair and drawn by the
Vega/Vega-Lite/vega-embed bundle that vl-convert ships, inlined once: the file makes
no network request when opened (from a file:// URL or an e-mail attachment). Tables
sort on a click on their header (a few lines of inline script).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.analysis.crawl_views import (EXTERNAL, FOLLOWED, CrawlViews, open_views,
                                           referring_domains_sql)

#: Hosts drawn in the host-graph picture (the most authoritative, or the largest).
GRAPH_HOSTS = 40
#: Crawled sites whose backlinks are shown, largest first.
BACKLINK_SITES = 12
#: Rows of each top-N table.
TOP = 15
#: Rows shown per audit check.
AUDIT_ROWS = 5


def build_report(crawl_dir: str | os.PathLike[str]) -> str:
    """The report of a crawl folder as one HTML document.

    Parameters
    ----------
    crawl_dir : str or PathLike
        A crawl folder (finished, running or killed), scored or not.

    Returns
    -------
    str
        A complete HTML document with its scripts, styles and data inline.
    """
    import altair as alt

    views = open_views(crawl_dir, reader="report")
    try:
        sections = [_glance(views, alt), _authority(views, alt), _backlinks(views, alt),
                    _audit(crawl_dir), _host_graph(views, alt)]
    finally:
        views.con.close()
    charts = [chart for _, _, found in sections for chart in found]
    body = "\n".join(f'<section id="{anchor}">{content}</section>'
                     for anchor, content, _ in sections)
    return _page(str(crawl_dir), body, charts)


def write_report(crawl_dir: str | os.PathLike[str], output: str | os.PathLike[str]) -> int:
    """Write :func:`build_report` to ``output`` (atomically); return its size in bytes."""
    from linkgraph.analysis.output import _write_atomically

    text = build_report(crawl_dir)

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    _write_atomically(str(output), write)
    return os.path.getsize(output)


# -- sections: each returns (anchor, html, [(div id, Vega-Lite spec)]) ------------------

Section = tuple[str, str, list[tuple[str, dict]]]


def _chart(div: str, chart: Any) -> tuple[str, dict]:
    return div, chart.to_dict()


def _glance(views: CrawlViews, alt) -> Section:
    q = views.query
    pages, failed, hosts = q("SELECT count(*), count(*) FILTER (WHERE status IS NULL), "
                             "count(DISTINCT host) FROM pages").to_pylist()[0].values()
    links, domains = q("SELECT count(*), count(DISTINCT dst_domain) FROM links"
                       ).to_pylist()[0].values()
    outcomes = q("SELECT outcome, count(*) AS pages FROM page_outcome GROUP BY 1 "
                 "ORDER BY 2 DESC LIMIT 20")
    types = q("SELECT link_type, count(*) AS links FROM links GROUP BY 1 ORDER BY 2 DESC")
    rel = q(f"""SELECT * FROM (SELECT 'followed' AS rel, count(*) FILTER (WHERE {FOLLOWED}) AS links FROM links
                UNION ALL SELECT 'nofollow', count(*) FILTER (WHERE nofollow) FROM links
                UNION ALL SELECT 'sponsored', count(*) FILTER (WHERE sponsored) FROM links
                UNION ALL SELECT 'ugc', count(*) FILTER (WHERE ugc) FROM links)""")
    depth = q("SELECT depth, count(*) AS pages FROM pages WHERE depth IS NOT NULL "
              "GROUP BY 1 ORDER BY 1")
    bar = dict(width=320, height=200)
    charts = [
        _chart("status-mix", alt.Chart(alt.Data(values=outcomes.to_pylist())).mark_bar().encode(
            x=alt.X("outcome:N", sort="-y", title="status or error"),
            y=alt.Y("pages:Q", title="pages"), tooltip=["outcome:N", "pages:Q"]).properties(
            title="Responses", **bar)),
        _chart("link-types", alt.Chart(alt.Data(values=types.to_pylist())).mark_bar().encode(
            x=alt.X("link_type:N", sort="-y", title="link type"), y=alt.Y("links:Q", title="links"),
            tooltip=["link_type:N", "links:Q"]).properties(title="Links by type", **bar)),
        _chart("rel-mix", alt.Chart(alt.Data(values=rel.to_pylist())).mark_bar().encode(
            x=alt.X("rel:N", sort=None, title="rel"), y=alt.Y("links:Q", title="links"),
            tooltip=["rel:N", "links:Q"]).properties(title="Followed and qualified links", **bar)),
        _chart("depth", alt.Chart(alt.Data(values=depth.to_pylist())).mark_bar().encode(
            x=alt.X("depth:O", title="clicks from a seed"), y=alt.Y("pages:Q", title="pages"),
            tooltip=["depth:O", "pages:Q"]).properties(title="Depth", **bar)),
    ]
    figures = (f"<ul class='figures'><li><b>{pages:,}</b> pages fetched</li>"
               f"<li><b>{failed:,}</b> without a response</li><li><b>{hosts:,}</b> hosts crawled</li>"
               f"<li><b>{links:,}</b> links</li><li><b>{domains:,}</b> linked domains</li></ul>")
    return "glance", "<h2>The crawl at a glance</h2>" + figures + _divs(charts), charts


def _authority(views: CrawlViews, alt) -> Section:
    charts: list[tuple[str, dict]] = []
    if "page_scores" not in views.scored:
        target = "dst_id" if views.folder.files("nodes") else "dst_url"
        degree = views.query(f"""SELECT in_links, count(*) AS pages FROM (
                SELECT {target}, count(*) AS in_links FROM links GROUP BY 1) GROUP BY 1""")
        charts.append(_degree_chart(alt, degree))
        return ("authority", "<h2>Authority</h2><p>Not scored: run <code>linkgraph score "
                f"{html.escape(views.path)}</code> for PageRank, TrustRank and HITS.</p>"
                + _divs(charts), charts)
    hist = views.query("""SELECT floor(authority_score / 5) * 5 AS score, count(*) AS pages
                          FROM page_scores GROUP BY 1 ORDER BY 1""")
    charts.append(_chart("authority-hist", alt.Chart(alt.Data(values=hist.to_pylist())).mark_bar()
                         .encode(x=alt.X("score:Q", bin=alt.Bin(step=5, extent=[0, 100]),
                                         title="authority score (0-100)"),
                                 y=alt.Y("pages:Q", title="pages", scale=alt.Scale(type="symlog")),
                                 tooltip=["score:Q", "pages:Q"])
                         .properties(title="Page authority", width=420, height=220)))
    degree = views.query("SELECT in_links, count(*) AS pages FROM page_scores "
                         "WHERE in_links > 0 GROUP BY 1")
    charts.append(_degree_chart(alt, degree))
    tables = []
    for view, key, title in (("page_scores", "url", "Top pages"), ("host_scores", "host", "Top hosts"),
                             ("domain_scores", "domain", "Top domains")):
        if view not in views.scored:
            continue
        columns = [c for c in (key, "authority_score", "trust_score", "referring_domains",
                               "followed_referring_domains", "in_links", "pages")
                   if c in views.columns(view)]
        table = views.query(f"SELECT {', '.join(columns)} FROM {view} "
                            f"ORDER BY pagerank DESC, {key} LIMIT {TOP}")
        tables.append(f"<h3>{title}</h3>" + _table(table))
    return "authority", "<h2>Authority</h2>" + _divs(charts) + "".join(tables), charts


def _degree_chart(alt, degree: pa.Table) -> tuple[str, dict]:
    return _chart("in-degree", alt.Chart(alt.Data(values=degree.to_pylist())).mark_point(filled=True)
                  .encode(x=alt.X("in_links:Q", scale=alt.Scale(type="log"), title="in-links (log)"),
                          y=alt.Y("pages:Q", scale=alt.Scale(type="log"), title="pages (log)"),
                          tooltip=["in_links:Q", "pages:Q"])
                  .properties(title="In-degree distribution", width=420, height=220))


def _backlinks(views: CrawlViews, alt) -> Section:
    # One pass over the external links for every crawled site at once (a query per site
    # would scan the links once per site): the columns of `backlinks --by domain`
    # summed per site, and `--by anchor`'s top rows.
    sites = views.query(f"""SELECT domain, count(*) AS pages FROM pages
                            WHERE domain IS NOT NULL AND status IS NOT NULL
                            GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {BACKLINK_SITES}""")
    names = sites.column("domain").to_pylist()
    if not names:
        return "backlinks", "<h2>Backlinks</h2><p>No pages.</p>", []
    views.con.register("report_sites", sites)
    external = f"""SELECT * FROM links WHERE {EXTERNAL} AND link_type = 'anchor'
                   AND dst_domain IN (SELECT domain FROM report_sites)"""
    try:
        totals = views.query(f"""SELECT dst_domain AS site, {referring_domains_sql()} AS
                referring_domains, {referring_domains_sql(followed_only=True)} AS
                followed_referring_domains, count(*) FILTER (WHERE {FOLLOWED}) AS follow,
                count(*) FILTER (WHERE nofollow) AS nofollow,
                count(*) FILTER (WHERE sponsored) AS sponsored,
                count(*) FILTER (WHERE ugc) AS ugc
            FROM ({external}) GROUP BY 1""")
        anchors = views.query(f"""SELECT site, anchor, links, domains, follow_share FROM (
                SELECT dst_domain AS site, anchor_text AS anchor, count(*) AS links,
                       count(DISTINCT src_domain) AS domains,
                       round(count(*) FILTER (WHERE {FOLLOWED}) / count(*), 4) AS follow_share,
                       row_number() OVER (PARTITION BY dst_domain ORDER BY
                           count(DISTINCT src_domain) DESC, count(*) DESC, anchor_text) AS rank
                FROM ({external}) WHERE anchor_text IS NOT NULL AND anchor_text <> ''
                GROUP BY 1, 2) WHERE rank <= 5 ORDER BY site, rank""")
    finally:
        views.con.unregister("report_sites")
    by_site = {row["site"]: row for row in totals.to_pylist()}
    mix = [{"site": site, "links": kind, "count": by_site.get(site, {}).get(kind, 0)}
           for site in names for kind in ("follow", "nofollow", "sponsored", "ugc")]
    parts = []
    for site in names:
        row = by_site.get(site, {})
        top = anchors.filter(pc.equal(anchors.column("site"), site)).drop(["site"])
        parts.append(f"<h3>{html.escape(site)}: {row.get('referring_domains', 0):,} referring "
                     f"domain(s), {row.get('followed_referring_domains', 0):,} with followed "
                     "links</h3>" + (_table(top) if top.num_rows else "<p>No backlinks.</p>"))
    charts = [_chart("backlink-mix", alt.Chart(alt.Data(values=mix)).mark_bar().encode(
        y=alt.Y("site:N", sort=names, title=None), x=alt.X("count:Q", title="external links"),
        color=alt.Color("links:N", title="kind", sort=["follow", "nofollow", "sponsored", "ugc"]),
        tooltip=["site:N", "links:N", "count:Q"]).properties(
        title="Backlinks of each crawled site", width=480))]
    return ("backlinks", "<h2>Backlinks</h2><p>External links into each crawled site (a "
            "referring domain is another registered domain linking to it, followed or not), "
            "by kind, and its top anchors.</p>" + _divs(charts) + "".join(parts), charts)


def _audit(crawl_dir: str | os.PathLike[str]) -> Section:
    from linkgraph.analysis.audit import audit, summary

    findings = audit(crawl_dir)
    counts = summary(findings)
    parts = ["<h2>Audit</h2>", _table(counts)]
    for check in counts.filter(pc.greater(counts.column("findings"), 0)
                               ).column("check").to_pylist():
        rows = findings.filter(pc.equal(findings.column("check"), check))
        parts.append(f"<h3>{check}</h3>" + _table(
            rows.select(["url", "dst_url", "final_url", "detail"]).slice(0, AUDIT_ROWS)))
        if rows.num_rows > AUDIT_ROWS:
            parts.append(f"<p class='more'>and {rows.num_rows - AUDIT_ROWS:,} more "
                         f"(<code>linkgraph audit DIR --check {check}</code>)</p>")
    return "audit", "".join(parts), []


def _host_graph(views: CrawlViews, alt) -> Section:
    if "host_scores" in views.scored:
        hosts = views.query(f"SELECT host, authority_score AS authority FROM host_scores "
                            f"ORDER BY pagerank DESC, host LIMIT {GRAPH_HOSTS}")
    else:
        hosts = views.query(f"SELECT host, count(*) AS authority FROM pages WHERE host IS NOT "
                            f"NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {GRAPH_HOSTS}")
    names = hosts.column("host").to_pylist()
    if not names:
        return "hosts", "<h2>Host graph</h2><p>No hosts.</p>", []
    con = views.con
    con.register("report_hosts", hosts)
    cells = views.query(f"""SELECT src_host AS source, dst_host AS target, count(*) AS links,
                                   count(*) FILTER (WHERE {FOLLOWED}) AS followed
                            FROM links WHERE src_host <> dst_host
                              AND src_host IN (SELECT host FROM report_hosts)
                              AND dst_host IN (SELECT host FROM report_hosts)
                            GROUP BY 1, 2""")
    con.unregister("report_hosts")
    total = views.scalar("SELECT count(DISTINCT host) FROM pages") or 0
    size = max(200, 14 * len(names))
    matrix = alt.Chart(alt.Data(values=cells.to_pylist())).mark_rect().encode(
        x=alt.X("target:N", sort=names, title="linked host", axis=alt.Axis(labelAngle=-60)),
        y=alt.Y("source:N", sort=names, title="linking host"),
        color=alt.Color("links:Q", scale=alt.Scale(type="log", scheme="blues"), title="links"),
        tooltip=["source:N", "target:N", "links:Q", "followed:Q"]).properties(
        width=size, height=size, title="Links between hosts")
    strength = alt.Chart(alt.Data(values=hosts.to_pylist())).mark_bar().encode(
        y=alt.Y("host:N", sort=names, title=None, axis=None),
        x=alt.X("authority:Q", title="authority" if "host_scores" in views.scored else "pages"),
        tooltip=["host:N", "authority:Q"]).properties(width=120, height=size)
    charts = [_chart("host-graph", alt.hconcat(matrix, strength))]
    note = (f"The {len(names)} most authoritative of {total:,} hosts" if total > len(names)
            else f"All {total:,} hosts") + ", ordered by authority; a cell is the links from one host to another."
    return "hosts", f"<h2>Host graph</h2><p>{note}</p>" + _divs(charts), charts


# -- HTML ------------------------------------------------------------------------------

def _divs(charts: Sequence[tuple[str, dict]]) -> str:
    return "<div class='charts'>" + "".join(f"<div class='chart' id='{div}'></div>"
                                             for div, _ in charts) + "</div>"


def _cell(value: Any) -> tuple[str, str]:
    """(text, sort key) of a table cell."""
    if value is None:
        return "", ""
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1 else f"{value:.3g}", repr(value)
    if isinstance(value, int):
        return f"{value:,}", str(value)
    return html.escape(str(value)), html.escape(str(value))


def _table(table: pa.Table) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in table.column_names)
    numeric = [pa.types.is_integer(t) or pa.types.is_floating(t) for t in table.schema.types]
    rows = []
    for row in table.to_pylist():
        cells = []
        for value, is_number in zip(row.values(), numeric):
            text, key = _cell(value)
            cells.append(f"<td data-sort='{key}'{' class=num' if is_number else ''}>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table class='sortable'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1180px;padding:0 24px 48px;color:#222}
h1{margin:24px 0 4px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:36px}
nav a{margin-right:14px}.figures{display:flex;gap:24px;list-style:none;padding:0}
.figures b{font-size:22px;display:block}.charts{display:flex;flex-wrap:wrap;gap:18px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;max-width:520px;overflow-wrap:anywhere}
th{cursor:pointer;background:#f6f6f6;user-select:none}th.asc:after{content:" \\25B2"}
th.desc:after{content:" \\25BC"}td.num{text-align:right;font-variant-numeric:tabular-nums}
.more{color:#666;margin-top:-10px}code{background:#f3f3f3;padding:0 3px}
"""

_SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = body.rows.length && body.rows[0].cells[index].classList.contains("num");
    var asc = !th.classList.contains("asc");
    table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
    th.classList.add(asc ? "asc" : "desc");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].dataset.sort, y = b.cells[index].dataset.sort;
      var d = numeric ? (parseFloat(x || "-Infinity") - parseFloat(y || "-Infinity"))
                      : x.localeCompare(y);
      return asc ? d : -d;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def vega_bundle() -> str:
    """The Vega, Vega-Lite and vega-embed JavaScript, one script (~0.9 MB).

    vl-convert builds it on each call (10 s of CPU here), so it is kept in the user's
    cache folder, one file per vl-convert version.
    """
    import vl_convert as vlc

    version = vlc.get_vega_embed_version() + "-" + vlc.get_vegalite_versions()[-1]
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                         "linkgraph", f"vega-embed-{version}.js")
    try:
        with open(cache, encoding="utf-8") as f:
            return f.read()
    except OSError:
        pass
    bundle = vlc.javascript_bundle()
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        tmp = f"{cache}.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(bundle)
        os.replace(tmp, cache)
    except OSError:  # a read-only home: build it again next time
        pass
    return bundle


def _page(title: str, body: str, charts: Sequence[tuple[str, dict]]) -> str:
    bundle = vega_bundle()
    specs = json.dumps({div: spec for div, spec in charts}).replace("</", "<\\/")
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f"<a href='#{a}'>{t}</a>" for a, t in (
        ("glance", "At a glance"), ("authority", "Authority"), ("backlinks", "Backlinks"),
        ("audit", "Audit"), ("hosts", "Host graph")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>linkgraph report: {html.escape(title)}</title>
<style>{_STYLE}</style>
<script>{bundle}</script>
</head><body>
<h1>linkgraph report</h1>
<p>{html.escape(title)}, {made}</p>
<nav>{nav}</nav>
{body}
<script>
var specs = {specs};
Object.keys(specs).forEach(function (div) {{
  vegaEmbed("#" + div, specs[div], {{actions: false, renderer: "svg"}}).catch(function (e) {{
    console.error(e);
  }});
}});
{_SORT_SCRIPT}
</script>
</body></html>
"""


__all__ = ["build_report", "write_report"]
