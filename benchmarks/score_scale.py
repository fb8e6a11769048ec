"""Scoring at scale: linkgraph score vs networkx on a synthetic web-like crawl.

Generates a crawl folder of a web-like graph (default 1M nodes, 10M distinct edges):
power-law out-degrees, power-law popularity of targets, hosts of ~20 pages with most
links staying on their host, 10% of the linked URLs never fetched. It is written as the
crawl writes one: every LINKS_SCHEMA/PAGES_SCHEMA/NODES_SCHEMA column, one part triple
per LINKGRAPH_FLUSH_PAGES pages through the pipeline's PartWriter, then compacted as a
finished crawl is (``--no-compact``: left as 450 triples), URL keys from
linkgraph/storage/url_key.py and node ids from the pipeline's NodeIndex.

Then, each in a fresh subprocess (so peak RSS is its own; the load average is
recorded before each run), it times:

- ``score``: ``linkgraph score DIR`` end to end (pages, hosts and domains tables,
  HITS, harmonic, link counts), ``--repeat`` times (a range: the machine is shared);
- ``score --no-hits --no-sites``: the PageRank table of every page with its URL and
  link counts: the like-for-like run against networkx;
- ``networkx``: read src_url/dst_url, build ``nx.DiGraph``, ``nx.pagerank`` at its
  DEFAULT parameters, write a url -> pagerank table: what a user runs, and the
  baseline of the speed ratios. Its default stopping rule (L1 < N * 1e-6) stops early
  on big graphs, so its numbers are far from converged: the report gives their
  distance to ours;
- agreement: on a smaller graph generated in the same run (``--check-nodes``), networkx
  with tol = TOL / N (the same L1 < TOL rule as ours) against ``linkgraph score``: the
  max abs difference of the PageRank vectors ("same numbers");
- ``edges-key`` / ``edges-url``: ``linkgraph score --edges DIR/links`` on the 64-bit
  keys and on the URL strings (what hashing at score time costs without node ids).

Usage: python benchmarks/score_scale.py [--nodes 1000000 --edges 10000000]
       [--skip-networkx] [--keep DIR] [--repeat 3] [--report FILE.md]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from linkgraph.storage.node_index import NodeIndex  # noqa: E402
from linkgraph.storage.crawl_dir import CrawlDir  # noqa: E402
from linkgraph.storage.part_names import part_name  # noqa: E402
from linkgraph.storage.schemas import LINKS_SCHEMA, NODES_SCHEMA, PAGES_SCHEMA  # noqa: E402
from linkgraph.storage.url_key import url_key  # noqa: E402

log = logging.getLogger("score_scale")
TOL = 1e-9
#: Pages per part triple: the crawl's default LINKGRAPH_FLUSH_PAGES.
BATCH_PAGES = 2000


def committed_link_rows(root: Path) -> int:
    """Rows of the committed links parts (through the crawl-folder reader)."""
    from linkgraph.storage.reader import CrawlFolder

    return sum(pq.ParquetFile(f).metadata.num_rows for f in CrawlFolder(root).files("links"))


def generate(root: Path, n: int, m: int, seed: int = 0, distinct: bool = True,
             compact: bool = True) -> None:
    """Write the synthetic crawl to ``root/links`` and ``root/pages``.

    ``distinct``: the m rows are m distinct edges (no repeated pair, no self-link);
    False keeps the repeats a crawl has (a page linking a target twice). ``compact``:
    merge the part triples at the end, as a crawl that finishes does.
    """
    rng = np.random.default_rng(seed)
    host_size = 20
    host = np.arange(n) // host_size
    urls = pc.binary_join_element_wise(
        "https://www.site", pa.array(host).cast(pa.string()), ".com/page/",
        pa.array(np.arange(n)).cast(pa.string()), "")
    hosts = pc.binary_join_element_wise("www.site", pa.array(host).cast(pa.string()), ".com", "")
    domains = pc.utf8_slice_codeunits(hosts, 4)
    t = time.perf_counter()
    keys = np.fromiter((url_key(u) for u in urls.to_pylist()), dtype=np.int64, count=n)
    log.info("url keys of %s URLs in %.1f s", n, time.perf_counter() - t)

    # Out-degrees: power law, scaled to m edges; 10% of nodes are never fetched (0 out).
    fetched = rng.random(n) >= 0.10
    raw = (rng.pareto(1.5, n) + 1.0) * fetched
    out_deg = np.floor(raw / raw.sum() * m).astype(np.int64)
    short = m - out_deg.sum()
    np.add.at(out_deg, rng.choice(np.flatnonzero(fetched), size=short), 1)
    src = np.repeat(np.arange(n), out_deg)
    # Targets: 60% on the source's host, 40% anywhere by power-law popularity.
    popularity = rng.pareto(1.1, n) + 1.0
    cdf = np.cumsum(popularity)
    cdf /= cdf[-1]

    def targets(sources: np.ndarray) -> np.ndarray:
        d = np.minimum(np.searchsorted(cdf, rng.random(len(sources))), n - 1)
        local = rng.random(len(sources)) < 0.6
        d[local] = np.minimum(host[sources[local]] * host_size
                              + rng.integers(0, host_size, local.sum()), n - 1)
        return d

    dst = targets(src)
    if distinct:
        # A graph of m edges, as the "1M nodes / 10M edges" (networkx's DiGraph
        # then holds m edges): a repeated pair or a self-link is drawn again, anywhere
        # by popularity, until every (src, dst) pair is distinct.
        while True:
            code = src * n + dst
            order = np.argsort(code, kind="stable")
            dup = np.zeros(m, bool)
            dup[order[1:]] = code[order[1:]] == code[order[:-1]]
            dup |= src == dst
            if not dup.any():
                break
            redo = np.flatnonzero(dup)
            dst[redo] = np.minimum(np.searchsorted(cdf, rng.random(len(redo))), n - 1)
    log.info("graph: %s nodes, %s edge rows", n, m)

    # Written as the item pipeline writes a crawl: one nodes/links/pages part triple
    # per batch of LINKGRAPH_FLUSH_PAGES fetched pages, through the same PartWriter
    # (zstd, 128K-row groups), node ids from the same NodeIndex (page URLs first, then
    # link targets, in order of first sight).
    crawl_dir = CrawlDir.open(str(root), ["https://www.site0.com/page/0"], [],
                              crawl_id="bench")
    writers = {"nodes": crawl_dir.nodes, "links": crawl_dir.links, "pages": crawl_dir.pages}
    index = NodeIndex()
    when = pa.array(np.zeros(1, np.int64)).cast(pa.timestamp("ms", tz="UTC"))[0]
    pages_in_order = np.flatnonzero(fetched)
    starts = np.concatenate(([0], np.cumsum(out_deg)))
    for batch, lo in enumerate(range(0, len(pages_in_order), BATCH_PAGES)):
        pg = pages_in_order[lo:lo + BATCH_PAGES]
        k = len(pg)
        a, b = int(starts[pg[0]]), int(starts[pg[-1] + 1])
        s, d = src[a:b], dst[a:b]
        rows = len(s)
        ids, is_new = index.ids_for(np.concatenate([keys[pg], keys[d]]))
        page_ids, dst_ids = ids[:k], ids[k:]
        node_of_page = dict(zip(pg.tolist(), page_ids.tolist()))
        src_ids = np.fromiter((node_of_page[v] for v in s.tolist()), np.int32, rows)
        new = np.flatnonzero(is_new)
        new_nodes = pa.array(np.concatenate([pg, d])[new])
        s_idx, d_idx = pa.array(s), pa.array(d)
        sd, dd = domains.take(s_idx), domains.take(d_idx)
        name = part_name(0, batch)
        writers["nodes"].write(name, _complete({
            "node_id": ids[new], "url_key": keys[np.concatenate([pg, d])[new]],
            "url": urls.take(new_nodes), "host": hosts.take(new_nodes),
            "domain": domains.take(new_nodes)}, NODES_SCHEMA, len(new)))
        writers["links"].write(name, _complete({
            "crawl_id": pa.array(["bench"] * rows), "src_url": urls.take(s_idx),
            "src_key": keys[s], "src_id": src_ids, "src_host": hosts.take(s_idx),
            "src_domain": sd, "dst_url": urls.take(d_idx), "dst_key": keys[d],
            "dst_id": dst_ids, "dst_host": hosts.take(d_idx), "dst_domain": dd,
            "internal": pc.equal(sd, dd), "rel": pa.array([[]] * rows, pa.list_(pa.string())),
            "tag": pa.array(["a"] * rows), "link_type": pa.array(["anchor"] * rows),
            "ordinal": np.zeros(rows, np.int32), "depth": np.ones(rows, np.int32),
            "found_in": pa.array(["raw"] * rows),
            "fetched_at": pa.array([when] * rows, when.type)}, LINKS_SCHEMA, rows))
        p_idx = pa.array(pg)
        writers["pages"].write(name, _complete({
            "crawl_id": pa.array(["bench"] * k), "url": urls.take(p_idx), "url_key": keys[pg],
            "node_id": page_ids, "host": hosts.take(p_idx), "domain": domains.take(p_idx),
            "status": np.full(k, 200, np.int32), "content_type": pa.array(["text/html"] * k),
            "content_length": np.full(k, 1000), "depth": np.ones(k, np.int32),
            "links_count": out_deg[pg].astype(np.int32),
            "fetched_at": pa.array([when] * k, when.type), "elapsed": np.zeros(k)},
            PAGES_SCHEMA, k))
    if compact:
        # As a crawl that finishes does (LINKGRAPH_COMPACT, on by default).
        report = crawl_dir.compact()
        log.info("compacted: %s", report.summary())
    crawl_dir.finish("finished")
    crawl_dir.close()


def add_scale_arguments(parser: argparse.ArgumentParser, repeat: int = 3) -> None:
    """The size, folder and repeat options of a benchmark on the generated crawl."""
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    parser.add_argument("--repeat", type=int, default=repeat, help="runs of each command")


def generated_crawl(args: argparse.Namespace, prefix: str) -> Path:
    """``args.keep`` (generated there unless it holds a crawl already) or a new
    temporary folder with the generated crawl (see :func:`add_scale_arguments`)."""
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix=prefix))
    if not (root / "links").is_dir():
        t = time.perf_counter()
        generate(root, args.nodes, args.edges)
        log.info("generated %s in %.1f s", root, time.perf_counter() - t)
    return root


def _complete(columns: dict, schema: pa.Schema, rows: int) -> pa.Table:
    """Cast to ``schema``, filling columns the benchmark does not model (nulls, or a
    zero value for non-nullable ones) so the files follow the crawl schema as it grows."""
    arrays = []
    for f in schema:
        if f.name in columns:
            arrays.append(pa.array(columns[f.name]) if isinstance(columns[f.name], np.ndarray)
                          else columns[f.name])
        elif f.nullable:
            arrays.append(pa.nulls(rows, f.type))
        else:
            zero = {pa.types.is_boolean: False, pa.types.is_integer: 0,
                    pa.types.is_string: "", pa.types.is_list: []}
            value = next(v for test, v in zero.items() if test(f.type))
            arrays.append(pa.array([value] * rows, f.type))
    return pa.Table.from_arrays(arrays, schema=schema.remove_metadata()).cast(schema)


# --- phases, each run in its own process -------------------------------------------------

def phase_networkx(root: Path, out: Path, tight: bool) -> dict:
    import networkx as nx
    t0 = time.perf_counter()
    table = pq.read_table(root / "links", columns=["src_url", "dst_url"])
    g = nx.DiGraph()
    g.add_edges_from(zip(table.column("src_url").to_pylist(), table.column("dst_url").to_pylist()))
    g.remove_edges_from(list(nx.selfloop_edges(g)))
    del table
    t1 = time.perf_counter()
    log.info("networkx: DiGraph of %s nodes, %s edges in %.1f s", len(g), g.number_of_edges(),
             t1 - t0)
    # Default parameters (what a user runs), or our stopping rule for the agreement check.
    pr = nx.pagerank(g, tol=TOL / len(g), max_iter=1000) if tight else nx.pagerank(g)
    t2 = time.perf_counter()
    log.info("networkx: pagerank in %.1f s", t2 - t1)
    pq.write_table(pa.table({"url": list(pr), "pagerank": list(pr.values())}), out)
    t3 = time.perf_counter()
    return {"seconds": t3 - t0, "build_s": t1 - t0, "pagerank_s": t2 - t1}


def phase_networkit(root: Path, out: Path) -> dict:
    """What a networkit user runs on URL pairs: number the URLs (Arrow's hash table,
    the fastest way from Python), build the graph from the id arrays, PageRank at its
    default parameters (all cores), write a url -> pagerank table."""
    import networkit as nk
    t0 = time.perf_counter()
    table = pq.read_table(root / "links", columns=["src_url", "dst_url"])
    src, dst = table.column("src_url"), table.column("dst_url")
    encoded = pc.dictionary_encode(pa.chunked_array(src.chunks + dst.chunks))
    del table, src, dst
    chunks = [c for c in encoded.chunks if len(c)]
    urls = chunks[-1].dictionary
    codes = np.concatenate([c.indices.to_numpy() for c in chunks]).astype(np.uint64)
    del encoded, chunks
    m = len(codes) // 2
    g = nk.Graph(len(urls), directed=True)
    g.addEdges((codes[:m], codes[m:]))
    del codes
    g.removeMultiEdges()
    g.removeSelfLoops()
    t1 = time.perf_counter()
    log.info("networkit: graph of %s nodes, %s edges in %.1f s", g.numberOfNodes(),
             g.numberOfEdges(), t1 - t0)
    pr = nk.centrality.PageRank(g)
    pr.run()
    t2 = time.perf_counter()
    log.info("networkit: pagerank in %.1f s", t2 - t1)
    pq.write_table(pa.table({"url": urls, "pagerank": pr.scores()}), out)
    return {"seconds": time.perf_counter() - t0, "build_s": t1 - t0, "pagerank_s": t2 - t1}


#: Runs one command and writes its wall seconds, exit status and peak RSS to the file
#: named first. A small fresh interpreter between this script and the command: Linux
#: gives a process that execs the peak RSS of the process it was forked from, so a
#: command forked from this script after it generated a graph (~0.9 GB) would report
#: that peak, not its own; forked from here, it inherits ~10 MB.
_TIMED = """
import json, os, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_pid, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - started
with open(sys.argv[1], "w") as fh:
    json.dump({"seconds": seconds, "code": os.waitstatus_to_exitcode(status),
               "maxrss_kib": usage.ru_maxrss}, fh)
"""


def _run(cmd: list[str]) -> tuple[float, int, str, str]:
    """Run ``cmd``; return its wall seconds, peak RSS (bytes), stdout and stderr."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as timed:
        subprocess.run([sys.executable, "-S", "-c", _TIMED, timed.name, *cmd],
                       stdout=out, stderr=err, text=True, check=False)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        result = json.loads(timed.read() or '{"code": -1}')
    if result["code"]:
        sys.stderr.write(stderr)
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed with exit code {result['code']}")
    # ru_maxrss is in KiB on Linux.
    return result["seconds"], result["maxrss_kib"] * 1024, stdout, stderr


def run_phase(name: str, *argv: str) -> dict:
    """Run one phase in a fresh process; return its wall time and peak RSS.

    ``score`` phases run the real command, ``python -m linkgraph score ...``, as a
    user does (interpreter start, imports and exit included); networkx phases run
    this script's ``--phase`` code.
    """
    load = os.getloadavg()[0]
    log.info("phase %s ... (load average %.2f)", name, load)
    if argv[0] == "score":
        cmd = [sys.executable, "-m", "linkgraph", *argv]
    else:
        cmd = [sys.executable, __file__, "--phase", name, *argv]
    seconds, rss, stdout, stderr = _run(cmd)
    result = json.loads(stdout.strip().splitlines()[-1]) if argv[0] != "score" else {}
    result.update(load=load, process_s=seconds, rss=rss,
                  log=[line for line in stderr.splitlines() if " score: " in line])
    # In-process time: networkx phases time themselves, score phases log their total.
    if "seconds" not in result:
        totals = [float(line.split("total ")[1].split(" s")[0]) for line in result["log"]
                  if "total " in line]
        result["seconds"] = totals[-1] if totals else seconds
    log.info("phase %s: %.2f s, peak RSS %.0f MB", name, seconds, rss / 2**20)
    return result


def pagerank_diff(ours: Path, theirs: Path) -> float:
    """Max abs difference of two url -> pagerank tables (same node set)."""
    a = pq.read_table(ours, columns=["url", "pagerank"]).sort_by("url")
    b = pq.read_table(theirs, columns=["url", "pagerank"]).sort_by("url")
    if not a.column("url").equals(b.column("url")):
        raise SystemExit(f"{ours} and {theirs} score different node sets")
    return float(np.abs(a.column("pagerank").to_numpy() - b.column("pagerank").to_numpy()).max())


def edges_report(root: Path, m: int, args: argparse.Namespace) -> str:
    """``score --edges`` on URL strings (and on the keys) against networkx and
    networkit on the same URL pairs, in one run, interleaved ``--repeat`` times."""
    import importlib.util

    has_networkit = importlib.util.find_spec("networkit") is not None
    run_phase("warm-up", "score", "--edges", str(root / "links"), "--src", "src_key",
              "--dst", "dst_key", "-q", "-o", str(root / "edges_key.parquet"))
    runs: dict[str, list[dict]] = {}
    for _ in range(args.repeat):
        for name, argv in (
                ("edges-url", ("score", "--edges", str(root / "links"), "--src", "src_url",
                               "--dst", "dst_url", "--no-hits", "-o",
                               str(root / "edges_url.parquet"))),
                ("edges-key", ("score", "--edges", str(root / "links"), "--src", "src_key",
                               "--dst", "dst_key", "--no-hits", "-o",
                               str(root / "edges_key.parquet"))),
                *((("networkit", (str(root), str(root / "nk.parquet"))),) if has_networkit
                  else ()),
                *((("networkx", (str(root), str(root / "nx.parquet"))),)
                  if not args.skip_networkx else ())):
            runs.setdefault(name, []).append(run_phase(name, *argv))
    lines = [f"## score --edges: {args.nodes:,} nodes, {m:,} edge rows "
             f"({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores)", "",
             "| run | process wall s (best of runs) | all runs s | peak RSS MB | bytes/edge | "
             "load avg before |", "|---|---|---|---|---|---|"]
    best = {name: min(these, key=lambda r: r["process_s"]) for name, these in runs.items()}
    for name, these in runs.items():
        r = best[name]
        lines.append(f"| {name} | {r['process_s']:.2f} | "
                     + ", ".join(f"{x['process_s']:.2f}" for x in these)
                     + f" | {r['rss'] / 2**20:.0f} | {r['rss'] / m:.0f} | "
                     + ", ".join(f"{x['load']:.1f}" for x in these) + " |")
    lines.append("")
    if not has_networkit:
        lines.append("- networkit is not installed: no networkit row")
    for other in ("networkx", "networkit"):
        if other in runs:
            # Ratios of runs made side by side (same round), then the best and worst.
            ratios = [o["process_s"] / e["process_s"]
                      for o, e in zip(runs[other], runs["edges-url"])]
            lines.append(f"- `score --edges` on the URL strings vs {other} on the same "
                         f"URL pairs, whole processes, per round: "
                         + ", ".join(f"{x:.1f}x" for x in ratios)
                         + f" (best {max(ratios):.1f}x, worst {min(ratios):.1f}x)")
    lines += ["", "Phase log of the best `score --edges` run on the URL strings:", "", "```",
              *best["edges-url"]["log"], "```"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--skip-networkx", action="store_true")
    parser.add_argument("--no-compact", action="store_true",
                        help="leave one part triple per batch of pages (a crawl not yet "
                             "finished) instead of compacting as a finished crawl does")
    parser.add_argument("--repeated-pairs", action="store_true",
                        help="keep repeated (src, dst) rows, as a crawl has them (the graph "
                             "then has fewer distinct edges than rows)")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    parser.add_argument("--report", metavar="MD", help="append the results to this Markdown file")
    parser.add_argument("--repeat", type=int, default=1, help="runs of `linkgraph score DIR`")
    parser.add_argument("--edges-only", action="store_true",
                        help="only `score --edges` on the keys and on the URL strings, "
                             "against networkx and networkit (when installed) on the URLs")
    parser.add_argument("--check-nodes", type=int, default=100_000,
                        help="nodes of the agreement graph (10 edges per node)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if sys.argv[1:2] == ["--phase"]:
        # Internal: one phase in this fresh process; the rest of argv is its arguments.
        name, phase_args = sys.argv[2], sys.argv[3:]
        if name == "networkit":
            result = phase_networkit(Path(phase_args[0]), Path(phase_args[1]))
        elif name.startswith("networkx"):
            result = phase_networkx(Path(phase_args[0]), Path(phase_args[1]),
                                    tight=name == "networkx-tight")
        else:
            raise SystemExit(f"unknown phase {name}")
        print(json.dumps(result))
        return 0
    args = parser.parse_args()

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="score_scale_"))
    try:
        if not (root / "links").is_dir():
            t = time.perf_counter()
            generate(root, args.nodes, args.edges, distinct=not args.repeated_pairs,
                     compact=not args.no_compact)
            log.info("generated %s in %.1f s", root, time.perf_counter() - t)
        m = committed_link_rows(root)
        if args.edges_only:
            text = edges_report(root, m, args)
            print(text)
            if args.report:
                with open(args.report, "a", encoding="utf-8") as fh:
                    fh.write("\n" + text)
            return 0
        results = {}
        # Warm-up: the first `linkgraph score` after an install compiles the kernels
        # (scripts/setup.sh does it at install time) and the page cache gets the files.
        run_phase("warm-up", "score", str(root), "--tol", str(TOL), "-q")
        runs = [run_phase("score", "score", str(root), "--tol", str(TOL))
                for _ in range(args.repeat)]
        results["score"] = min(runs, key=lambda r: r["process_s"])
        # Like for like with networkx: PageRank of every page (plus the link counts),
        # one table with the URLs; no HITS, no host and domain tables.
        page_runs = [run_phase("score-pagerank", "score", str(root), "--tol", str(TOL),
                               "--no-hits", "--no-sites", "-o", str(root / "scores_pr"))
                     for _ in range(args.repeat)]
        results["score --no-hits --no-sites"] = min(page_runs, key=lambda r: r["process_s"])
        results["edges-key"] = run_phase("edges-key", "score", "--edges", str(root / "links"),
                                         "--src", "src_key", "--dst", "dst_key", "--no-hits",
                                         "-o", str(root / "edges_key.parquet"))
        results["edges-url"] = run_phase("edges-url", "score", "--edges", str(root / "links"),
                                         "--src", "src_url", "--dst", "dst_url", "--no-hits",
                                         "-o", str(root / "edges_url.parquet"))
        agree = diff_default = None
        if not args.skip_networkx:
            results["networkx"] = run_phase("networkx", str(root), str(root / "nx.parquet"))
            diff_default = pagerank_diff(root / "scores" / "pages.parquet", root / "nx.parquet")
            check = root / "check"
            if not (check / "links").is_dir():
                generate(check, args.check_nodes, args.check_nodes * 10, seed=1,
                         distinct=not args.repeated_pairs)
            check_m = committed_link_rows(check)
            run_phase("score-check", "score", str(check), "--tol", str(TOL), "-q")
            results["networkx-tight (check graph)"] = run_phase(
                "networkx-tight", str(check), str(check / "nx.parquet"))
            agree = pagerank_diff(check / "scores" / "pages.parquet", check / "nx.parquet")
        lines = [f"## {args.nodes:,} nodes, {m:,} edge rows "
                 f"({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores)", "",
                 "| run | process wall s | in-process s | peak RSS MB | bytes/edge | "
                 "load avg before |", "|---|---|---|---|---|---|"]
        for name, r in results.items():
            rows = check_m if "check" in name else m
            lines.append(f"| {name} | {r['process_s']:.2f} | {r['seconds']:.2f} | "
                         f"{r['rss'] / 2**20:.0f} | "
                         f"{r['rss'] / rows:.0f} | {r['load']:.2f} |")
        lines.append("")
        for label, these in (("`linkgraph score DIR`", runs),
                             ("`linkgraph score DIR --no-hits --no-sites`", page_runs)):
            lines.append(f"- {label}, all runs: " + ", ".join(
                f"{r['process_s']:.2f} s / {r['rss'] / 2**20:.0f} MB (load {r['load']:.2f})"
                for r in these))
        if "networkx" in results:
            nxr = results["networkx"]
            lines.append(f"- networkx (default parameters): DiGraph build {nxr['build_s']:.1f} s, "
                         f"pagerank {nxr['pagerank_s']:.1f} s, process {nxr['process_s']:.1f} s")
            for label, these in (("`linkgraph score DIR` (all tables, HITS)", runs),
                                 ("`linkgraph score DIR --no-hits --no-sites` (PageRank "
                                  "table, like networkx)", page_runs)):
                lines.append(f"- speed-up of {label} over networkx, whole processes: "
                             f"**{nxr['process_s'] / min(r['process_s'] for r in these):.1f}x** "
                             f"best, {nxr['process_s'] / max(r['process_s'] for r in these):.1f}x "
                             f"worst")
            lines.append(f"- same numbers: max abs PageRank difference, ours vs networkx at "
                         f"tol = {TOL:g}/N on the {args.check_nodes:,}-node check graph: "
                         f"{agree:.3g}")
            lines.append(f"- networkx at its default tol on the big graph is not converged: "
                         f"max abs difference to ours {diff_default:.3g}")
        lines.append(f"- string ids instead of the crawl-time keys (`--edges` on src_url/dst_url "
                     f"vs src_key/dst_key): {results['edges-url']['seconds']:.2f} s vs "
                     f"{results['edges-key']['seconds']:.2f} s")
        for label, key in (("`linkgraph score DIR`", "score"),
                           ("`linkgraph score DIR --no-hits --no-sites`",
                            "score --no-hits --no-sites")):
            lines += ["", f"Phase log of the best {label} run:", "", "```",
                      *results[key]["log"], "```"]
        text = "\n".join(lines) + "\n"
        print(text)
        if args.report:
            with open(args.report, "a", encoding="utf-8") as fh:
                fh.write("\n" + text)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
