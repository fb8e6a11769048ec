"""linkgraph diff at scale: two 1M-page / 10M-link crawl folders, against pandas.

OLD is the synthetic web-like crawl of ``benchmarks/score_scale.py`` (``generate``:
power-law degrees, hosts of ~20 pages, written as the crawl writes its parts). NEW is a
copy changed by a fixed rule on the URL keys (so both sides can be checked):

- 0.5% of the fetched pages now answer 404 and 0.5% are no longer fetched (no row),
  their links gone with them (lost: page_gone, page_not_crawled; the links to them:
  changed, target_broken);
- of the other links, 1% are removed (link_removed), 1% become nofollow, 1% get another
  anchor text, and 1% gain a twin pointing at another row's target (new).

Then, each in a fresh process (wall time and peak RSS of the process, interpreter start
and imports included; the load average before each run is recorded):

- ``diff``: ``python -m linkgraph diff OLD NEW -o rows.parquet``: every link, no target
  (matched on node ids in compiled loops, ``linkgraph/analysis/diff_ids.py``);
- ``sql``: the same command's previous implementation, the DuckDB SQL that
  ``diff_crawls(method="sql")`` still runs (with a target, or for folders without
  nodes), with the summary and the Parquet output, Arrow's default memory pool as the
  command had it; its rows must equal ``diff``'s, in order;
- ``pandas``: what a user writes without linkgraph, the baseline of the ratio: read both
  links tables' keys and compared columns (pyarrow), number equal links with
  ``groupby().cumcount()``, an outer ``merge`` with ``indicator``, the lost rows' reasons
  from NEW's pages, the changed ones (nofollow, anchor, target outcome) from both pages
  tables, the URLs of the changed rows joined back from ``nodes``, written as Parquet.
  Its row counts per change must equal linkgraph's.

Usage: python benchmarks/diff_scale.py [--nodes 1000000 --edges 10000000]
       [--keep DIR] [--repeat 1] [--no-sql] [--report FILE.md]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from score_scale import _run, generate  # noqa: E402

from linkgraph.storage.reader import CrawlFolder  # noqa: E402
from linkgraph.storage.schemas import LINKS_SCHEMA, PAGES_SCHEMA  # noqa: E402

log = logging.getLogger("diff_scale")


def _mix(keys: np.ndarray) -> np.ndarray:
    """A well-spread uint64 of each key (splitmix64's finaliser)."""
    x = keys.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def perturb(old: Path, new: Path) -> None:
    """Copy the crawl folder ``old`` to ``new`` with the changes of the module doc."""
    shutil.copytree(old, new)
    manifest = json.loads((new / "crawl.json").read_text())
    started = datetime.fromisoformat(manifest["sessions"][0]["started_at"])
    manifest["sessions"][0]["started_at"] = (started + timedelta(days=30)).isoformat()
    (new / "crawl.json").write_text(json.dumps(manifest, indent=2))
    folder = CrawlFolder(new)
    for part in folder.files("pages"):
        table = pq.read_table(part)
        page = _mix(table.column("url_key").to_numpy()) % np.uint64(200)
        status = np.where(page == 0, 404, table.column("status").to_numpy(zero_copy_only=False))
        table = table.set_column(table.schema.get_field_index("status"), "status",
                                 pa.array(status, pa.int32()))
        pq.write_table(table.filter(pa.array(page != 1)).cast(PAGES_SCHEMA), part,
                       compression="zstd")
    for part in folder.files("links"):
        table = pq.read_table(part)
        src, dst = table.column("src_key").to_numpy(), table.column("dst_key").to_numpy()
        page = _mix(src) % np.uint64(200)
        link = _mix(src ^ _mix(dst).astype(np.int64)) % np.uint64(100)
        keep = (page >= 2) & (link != 0)
        nofollow = np.asarray(table.column("nofollow").to_numpy(zero_copy_only=False)) | (link == 1)
        anchor = pc.if_else(pa.array(link == 2), "changed anchor", table.column("anchor_text"))
        table = table.set_column(table.schema.get_field_index("nofollow"), "nofollow",
                                 pa.array(nofollow))
        table = table.set_column(table.schema.get_field_index("anchor_text"), "anchor_text",
                                 anchor)
        # Twins: the same source, the next row's target (its url, key, id, host, domain).
        twin_rows = np.flatnonzero(keep & (link == 3))
        donor = pa.array((twin_rows + 1) % table.num_rows)
        twins = table.take(pa.array(twin_rows))
        for column in ("dst_url", "dst_key", "dst_id", "dst_host", "dst_domain"):
            twins = twins.set_column(twins.schema.get_field_index(column), column,
                                     table.column(column).take(donor))
        # After the original in document order (the generator writes ordinal 0).
        twins = twins.set_column(twins.schema.get_field_index("ordinal"), "ordinal",
                                 pa.array(np.ones(len(twins), np.int32)))
        twins = twins.set_column(twins.schema.get_field_index("internal"), "internal",
                                 pc.equal(twins.column("src_domain"), twins.column("dst_domain")))
        changed = pa.concat_tables([table.filter(pa.array(keep)).cast(LINKS_SCHEMA),
                                    twins.cast(LINKS_SCHEMA)])
        pq.write_table(changed, part, compression="zstd")


def phase_pandas(old: Path, new: Path, out: Path) -> dict:
    """The baseline: the same diff with pandas (see the module doc)."""
    import pandas as pd

    t0 = time.perf_counter()
    columns = ["src_key", "dst_key", "link_type", "ordinal", "nofollow", "sponsored", "ugc",
               "anchor_text"]
    key = ["src_key", "dst_key", "link_type", "occurrence"]

    def links(root: Path) -> pd.DataFrame:
        files = [str(f) for f in CrawlFolder(root).files("links")]
        frame = pq.ParquetDataset(files).read(columns=columns).to_pandas()
        frame = frame.sort_values(["src_key", "dst_key", "link_type", "ordinal"], kind="stable")
        frame["occurrence"] = frame.groupby(["src_key", "dst_key", "link_type"]).cumcount() + 1
        return frame.drop(columns="ordinal")

    def pages(root: Path) -> pd.DataFrame:
        files = [str(f) for f in CrawlFolder(root).files("pages")]
        frame = pq.ParquetDataset(files).read(
            columns=["url_key", "status", "error", "redirect_to", "links_truncated"]).to_pandas()
        status = frame["status"]
        error = frame["error"].fillna("").str.split(":").str[0]
        frame["cls"] = np.select(
            [status.isna() & error.isin(["", "robots_txt", "private_address", "too_large",
                                          "ignored", "cancelled", "unsupported_scheme"]),
             status.isna() | (status >= 500), status >= 400, status >= 300],
            ["not_looked", "error", "gone", "redirect"], "ok")
        return frame.set_index("url_key")

    merged = links(old).merge(links(new), on=key, how="outer", indicator=True,
                              suffixes=("_old", "_new"))
    old_pages, new_pages = pages(old), pages(new)
    lost = merged[merged["_merge"] == "left_only"]
    src_cls = new_pages["cls"].reindex(lost["src_key"].to_numpy())
    truncated = new_pages["links_truncated"].reindex(lost["src_key"].to_numpy()).fillna(0) > 0
    cls = src_cls.fillna("none").to_numpy()
    reason = np.select(
        [(cls == "none") | (cls == "not_looked"), cls == "gone", cls == "error",
         (cls == "redirect") & (lost["link_type"].to_numpy() != "redirect"), truncated.to_numpy()],
        ["page_not_crawled", "page_gone", "page_error", "page_redirected", "links_truncated"],
        "link_removed")
    lost = lost.assign(change="lost", reason=reason)
    both = merged[merged["_merge"] == "both"]
    o_cls = old_pages["cls"].reindex(both["dst_key"].to_numpy()).to_numpy()
    n_cls = new_pages["cls"].reindex(both["dst_key"].to_numpy()).to_numpy()
    looked = ~pd.isna(o_cls) & ~pd.isna(n_cls) & (o_cls != "not_looked") & (n_cls != "not_looked")
    moved = looked & (o_cls != n_cls)
    broken = moved & np.isin(n_cls, ["gone", "error"])
    became_nofollow = ~both["nofollow_old"].to_numpy(bool) & both["nofollow_new"].to_numpy(bool)
    anchor = ~(both["anchor_text_old"].fillna("\0") == both["anchor_text_new"].fillna("\0")).to_numpy()
    follow = both["nofollow_old"].to_numpy(bool) & ~both["nofollow_new"].to_numpy(bool)
    changed_mask = (moved | became_nofollow | follow | anchor
                    | (both["sponsored_old"] != both["sponsored_new"]).to_numpy()
                    | (both["ugc_old"] != both["ugc_new"]).to_numpy())
    changed = both[changed_mask]
    reason = np.select([broken[changed_mask], became_nofollow[changed_mask]],
                       ["target_broken", "became_nofollow"], "other")
    changed = changed.assign(change="changed", reason=reason)
    added = merged[merged["_merge"] == "right_only"].assign(change="new", reason=None)
    rows = pd.concat([lost, changed, added])[["change", "reason", *key]]
    # The URLs of the rows, from the nodes of the folder that has the link.
    urls = pd.concat([pq.ParquetDataset([str(f) for f in CrawlFolder(root).files("nodes")]).read(
        columns=["url_key", "url"]).to_pandas() for root in (old, new)]).drop_duplicates(
        "url_key").set_index("url_key")["url"]
    rows["src_url"] = urls.reindex(rows["src_key"].to_numpy()).to_numpy()
    rows["dst_url"] = urls.reindex(rows["dst_key"].to_numpy()).to_numpy()
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), out, compression="zstd")
    counts = rows["change"].value_counts().to_dict()
    return {"seconds": time.perf_counter() - t0, "counts": counts}


def phase_sql(old: Path, new: Path, out: Path) -> None:
    """``linkgraph diff OLD NEW -o OUT`` as it ran before the node-id path: the SQL."""
    from linkgraph.analysis.diff import diff_crawls, diff_summary, open_pair
    from linkgraph.analysis.output import write_result

    pair = open_pair(old, new)
    rows = diff_crawls(pair, method="sql")
    summary = diff_summary(pair, rows, top=0)
    write_result(rows, None, str(out), summary=summary.lines)


def run_phase(name: str, cmd: list[str]) -> dict:
    load = os.getloadavg()[0]
    log.info("phase %s ... (load average %.2f)", name, load)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, rss, stdout, _ = _run(cmd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the child: on a shared machine, less noisy than its wall time.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = json.loads(stdout.strip().splitlines()[-1]) if name == "pandas" else {}
    result.update(load=load, process_s=seconds, cpu_s=cpu, rss=rss)
    log.info("phase %s: %.2f s (%.2f s CPU), peak RSS %.0f MB", name, seconds, cpu,
             rss / 2**20)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it (reused "
                                                       "when DIR/old and DIR/new exist)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each phase")
    parser.add_argument("--no-sql", action="store_true",
                        help="skip the phase of the previous (SQL) implementation")
    parser.add_argument("--report", metavar="MD", help="append the results to this Markdown file")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.phase == "pandas":
        print(json.dumps(phase_pandas(*map(Path, args.paths))))
        return 0
    if args.phase == "sql":
        phase_sql(*map(Path, args.paths))
        return 0
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="diff-scale-"))
    old, new = root / "old", root / "new"
    try:
        if not (old / "crawl.json").exists():
            t = time.perf_counter()
            generate(old, args.nodes, args.edges)
            log.info("generated OLD in %.1f s", time.perf_counter() - t)
        if not (new / "crawl.json").exists():
            t = time.perf_counter()
            perturb(old, new)
            log.info("wrote NEW in %.1f s", time.perf_counter() - t)
        results: dict[str, list[dict]] = {"diff": [], "pandas": []}
        if not args.no_sql:
            results["sql"] = []
        for _ in range(args.repeat):
            results["diff"].append(run_phase("diff", [
                sys.executable, "-m", "linkgraph", "diff", str(old), str(new),
                "-o", str(root / "rows.parquet")]))
            if not args.no_sql:
                results["sql"].append(run_phase("sql", [
                    sys.executable, __file__, "--phase", "sql", str(old), str(new),
                    str(root / "rows-sql.parquet")]))
            results["pandas"].append(run_phase("pandas", [
                sys.executable, __file__, "--phase", "pandas", str(old), str(new),
                str(root / "pandas.parquet")]))
        ours = pq.read_table(root / "rows.parquet", columns=["change"])
        counts = {str(k): v for k, v in zip(*np.unique(ours.column("change").to_numpy(
            zero_copy_only=False), return_counts=True))}
        theirs = results["pandas"][-1]["counts"]
        if {k: int(v) for k, v in counts.items()} != {k: int(v) for k, v in theirs.items()}:
            raise SystemExit(f"row counts differ: linkgraph {counts}, pandas {theirs}")
        same = ""
        if not args.no_sql:
            if not pq.read_table(root / "rows.parquet").equals(
                    pq.read_table(root / "rows-sql.parquet")):
                raise SystemExit("the node-id diff and the SQL diff wrote different rows")
            same = ("; the same rows in the same order as the SQL"
                    + (" (byte-identical Parquet)" if (root / "rows.parquet").read_bytes()
                       == (root / "rows-sql.parquet").read_bytes() else ""))
        best = {name: min(r["process_s"] for r in runs) for name, runs in results.items()}
        cpu = {name: min(r["cpu_s"] for r in runs) for name, runs in results.items()}
        rss = {name: max(r["rss"] for r in runs) / 2**20 for name, runs in results.items()}
        loads = [r["load"] for runs in results.values() for r in runs]
        lines = [
            f"diff of two crawls of {args.nodes:,} pages / {args.edges:,} links "
            f"({', '.join(f'{k} {int(v):,}' for k, v in sorted(counts.items()))} rows; "
            f"load average {min(loads):.1f}-{max(loads):.1f}):",
            f"- linkgraph diff: {best['diff']:.1f} s wall, {cpu['diff']:.1f} s CPU, peak RSS "
            f"{rss['diff']:.0f} MB",
            *([f"- previous (SQL): {best['sql']:.1f} s wall, {cpu['sql']:.1f} s CPU, peak RSS "
               f"{rss['sql']:.0f} MB"] if "sql" in best else []),
            f"- pandas merge:   {best['pandas']:.1f} s wall, {cpu['pandas']:.1f} s CPU, peak "
            f"RSS {rss['pandas']:.0f} MB",
            f"- ratio: linkgraph diff is {best['pandas'] / best['diff']:.1f}x faster than "
            f"pandas in wall time, {cpu['pandas'] / cpu['diff']:.1f}x in CPU (the same row "
            f"counts)" + (f"; {best['sql'] / best['diff']:.1f}x the SQL in wall time, "
                          f"{cpu['sql'] / cpu['diff']:.1f}x in CPU" if "sql" in best else "")
            + same,
        ]
        print("\n".join(lines))
        if args.report:
            with open(args.report, "a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n\n")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
