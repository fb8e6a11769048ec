"""`linkgraph backlinks` at scale: its views on a 1M-page / 10M-link crawl, against
reading the links into pandas and filtering there, in the same run.

Generates the synthetic web-like crawl of ``benchmarks/score_scale.py`` (its
``generate``: every crawl column, node ids, compacted as a finished crawl; 50,000
domains of 20 pages), scores it (``linkgraph score DIR -q``, so the views join page
and domain authority), then times, each in a fresh process as a user runs it
(interpreter start, imports and exit included), ``--repeat`` times:

- ``backlinks DIR DOMAIN`` (link view, first 100 rows), ``--by domain``, ``--by
  anchor``, ``--by page`` (all rows) and ``--broken`` for the domain with the most
  link rows in, and the link view of its most linked page (a URL TARGET);
- the baseline: the same referring-domains table the naive way, a script that reads
  the link rows' columns the view needs into pandas (``pd.read_parquet`` of the
  crawl's committed links parts) and filters and groups there;
- a second, stronger baseline: pyarrow.dataset with the filter pushed into the
  Parquet scan, grouped with pyarrow's own ``group_by``.

The ratio is the baseline's time over the command's (best of the runs).

``--score-cost`` instead times the scorer's pass for the sites' referring domains
(every link row at host level, on the side thread of ``linkgraph score``) beside a
whole ``linkgraph score DIR`` in the same run.

Usage: python benchmarks/analysis_scale.py [--nodes 1000000 --edges 10000000]
       [--keep DIR] [--repeat 3] [--score-cost]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

from score_scale import (_run, add_scale_arguments, committed_link_rows,  # noqa: E402
                         generated_crawl)

log = logging.getLogger("analysis_scale")

#: The referring-domains table as a pandas user writes it (the files: argv[1:-1],
#: the domain: argv[-1]).
PANDAS = """
import sys
import pandas as pd
files, domain = sys.argv[1:-1], sys.argv[-1]
links = pd.read_parquet(files, columns=["src_url", "src_domain", "dst_url", "dst_domain",
                                        "internal", "nofollow", "sponsored", "ugc"])
b = links[(links.dst_domain == domain) & ~links.internal]
b = b.assign(follow=~(b.nofollow | b.sponsored | b.ugc))
table = b.groupby("src_domain").agg(links=("src_url", "size"), follow_links=("follow", "sum"),
                                    pages=("src_url", "nunique"),
                                    target_pages=("dst_url", "nunique"))
table.sort_values("links", ascending=False).to_csv(sys.stdout)
"""

#: The same with the filter pushed into the Parquet scan (pyarrow.dataset).
PYARROW = """
import sys
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.csv as csv
files, domain = sys.argv[1:-1], sys.argv[-1]
b = ds.dataset(files, format="parquet").to_table(
    columns=["src_url", "src_domain", "dst_url", "nofollow", "sponsored", "ugc"],
    filter=(pc.field("dst_domain") == domain) & ~pc.field("internal"))
follow = pc.invert(pc.or_(pc.or_(b["nofollow"], b["sponsored"]), b["ugc"]))
b = b.append_column("follow", pc.cast(follow, "int64"))
table = b.group_by("src_domain").aggregate([
    ([], "count_all"), ("follow", "sum"), ("src_url", "count_distinct"),
    ("dst_url", "count_distinct")])
csv.write_csv(table.sort_by([("count_all", "descending")]), sys.stdout.buffer)
"""


def timed(name: str, argv: list[str]) -> float:
    """Wall seconds of ``argv`` in a fresh process (it must succeed)."""
    load = os.getloadavg()[0]
    seconds, rss, _stdout, stderr = _run(argv)
    log.info("%s: %.2f s, peak RSS %.0f MB (load average before %.2f)", name, seconds,
             rss / 2**20, load)
    return seconds


def top_targets(root: Path) -> tuple[str, str, int]:
    """The domain with the most link rows in, its most linked page, and its rows."""
    from linkgraph.analysis.crawl_views import open_views

    views = open_views(root)
    domain, rows = views.query("SELECT dst_domain, count(*) AS n FROM links WHERE NOT internal "
                               "GROUP BY 1 ORDER BY 2 DESC LIMIT 1").to_pylist()[0].values()
    url = views.scalar("SELECT dst_url FROM links WHERE dst_domain = ? AND NOT internal "
                       "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1", [domain])
    return domain, url, rows


def referring_domains_cost(root: Path) -> tuple[float, float]:
    """Seconds of the scorer's extra pass for the sites' referring domains (every link
    row at host level, :func:`linkgraph.scoring.sitegraph.referring_domains`) on this
    crawl's rows, in process, and of ``linkgraph score DIR`` (fresh process, written
    elsewhere) in the same run."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from linkgraph.scoring import _kernels
    from linkgraph.scoring.sitegraph import referring_domains
    from linkgraph.storage.reader import open_crawl

    folder = open_crawl(root)
    nodes = pq.read_table([str(f) for f in folder.files("nodes")], columns=["host", "domain"])
    host_of_node = pc.dictionary_encode(nodes["host"]).combine_chunks().indices.to_numpy()
    dom = pc.dictionary_encode(nodes["domain"]).combine_chunks().indices.to_numpy()
    dom_of_host = np.empty(int(host_of_node.max()) + 1, np.int32)
    dom_of_host[host_of_node] = dom
    links = pq.read_table([str(f) for f in folder.files("links")], columns=["src_id", "dst_id"])
    src, dst = (links[c].to_numpy() for c in ("src_id", "dst_id"))
    _kernels.load()
    started = time.perf_counter()
    host_src, host_dst = host_of_node[src], host_of_node[dst]
    referring_domains(host_src, host_dst, dom_of_host, int(dom.max()) + 1)
    extra = time.perf_counter() - started
    out = Path(tempfile.mkdtemp(prefix="analysis_scale_scores_"))
    score = timed("score", [sys.executable, "-m", "linkgraph", "score", str(root), "-o",
                            str(out), "-q"])
    return extra, score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_scale_arguments(parser)
    parser.add_argument("--score-cost", action="store_true",
                        help="only time the scorer's pass for the sites' referring domains "
                             "against a whole `linkgraph score DIR`")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args = parser.parse_args()

    root = generated_crawl(args, "analysis_scale_")
    if not (root / "scores" / "domains.parquet").is_file():
        timed("score", [sys.executable, "-m", "linkgraph", "score", str(root), "-q"])
    rows = committed_link_rows(root)
    if args.score_cost:
        for _ in range(args.repeat):
            extra, score = referring_domains_cost(root)
            print(f"{rows:,} link rows: the sites' referring-domains pass {extra:.2f} s "
                  f"(in process); linkgraph score DIR {score:.2f} s (fresh process)")
        return 0
    domain, url, domain_rows = top_targets(root)
    from linkgraph.storage.reader import open_crawl

    files = [str(f) for f in open_crawl(root).files("links")]
    cli = [sys.executable, "-m", "linkgraph", "backlinks", str(root)]
    quiet = ["-o", os.devnull, "--format", "csv"]
    cases = {
        "pandas read + filter + groupby (baseline)": [sys.executable, "-c", PANDAS, *files,
                                                      domain],
        "pyarrow.dataset pushdown + group_by": [sys.executable, "-c", PYARROW, *files, domain],
        "backlinks DOMAIN --by domain": [*cli, domain, "--by", "domain", "--top", "0", *quiet],
        "backlinks DOMAIN (links, first 100)": [*cli, domain, *quiet],
        "backlinks DOMAIN --by anchor": [*cli, domain, "--by", "anchor", "--top", "0", *quiet],
        "backlinks DOMAIN --by page": [*cli, domain, "--by", "page", "--top", "0", *quiet],
        "backlinks DOMAIN --broken": [*cli, domain, "--broken", *quiet],
        "backlinks URL (links, first 100)": [*cli, url, *quiet],
    }
    timed("warm-up", cases["backlinks DOMAIN --by domain"])  # the page cache gets the files
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeat):
        for name, argv in cases.items():  # interleaved: load changes hit every case alike
            times[name].append(timed(name, argv))
    base = min(times["pandas read + filter + groupby (baseline)"])
    print(f"{args.nodes:,} pages, {rows:,} link rows ({root}); TARGET {domain} "
          f"({domain_rows:,} external link rows in), URL {url}; best of {args.repeat}, "
          "median in brackets; ratio = pandas baseline / command (best)")
    for name, seconds in times.items():
        print(f"  {name:<44} {min(seconds):6.2f} s [{statistics.median(seconds):.2f}]  "
              f"x{base / min(seconds):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
