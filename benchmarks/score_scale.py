"""Scoring at scale: linkgraph score vs networkx on a synthetic web-like crawl.

Generates a crawl-like Parquet folder (``links/`` with every LINKS_SCHEMA column,
``pages/``) of a web-like graph: power-law out-degrees, power-law popularity of
targets, hosts of ~20 pages with most links staying on their host, 10% of the linked
URLs never fetched. ``src_key``/``dst_key``/``url_key`` are computed exactly as
pipelines/url_key.py does (it is called, once per distinct URL).

Then, each in a fresh subprocess (so peak RSS is its own), it times:

- ``score``: ``linkgraph score DIR`` end to end (all three tables, HITS, host/domain),
  ``--repeat`` times (a range, since other processes may load the machine);
- ``networkx``: read src_url/dst_url, build ``nx.DiGraph``, ``nx.pagerank`` at its
  DEFAULT parameters, write a scores table: what a user runs, and the baseline of the
  speed ratio. Its default stopping rule (L1 < N * 1e-6) stops early on big graphs, so
  its numbers are far from converged: the report gives their distance to ours;
- agreement: on a smaller graph generated in the same run (``--check-nodes``), networkx
  with tol = TOL / N (the same L1 < TOL rule as ours) against ``linkgraph score``: the
  max abs difference of the PageRank vectors ("same numbers");
- ``edges-key``: ``linkgraph score --edges DIR/links --src src_key --dst dst_key``;
- ``edges-url``: the same on the URL strings (what the crawl-time key saves).

Each run is a fresh subprocess, so its peak RSS is its own; the load average is
recorded before each run.

Usage: python benchmarks/score_scale.py [--nodes 1000000 --edges 10000000]
       [--skip-networkx] [--keep DIR] [--repeat 3] [--report FILE.md]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
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

from pipelines.schemas import LINKS_SCHEMA, PAGES_SCHEMA  # noqa: E402
from pipelines.url_key import url_key  # noqa: E402

log = logging.getLogger("score_scale")
TOL = 1e-9
PART_ROWS = 1_000_000


def generate(root: Path, n: int, m: int, seed: int = 0) -> None:
    """Write the synthetic crawl to ``root/links`` and ``root/pages``."""
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
    dst = np.minimum(np.searchsorted(cdf, rng.random(m)), n - 1)
    local = rng.random(m) < 0.6
    dst[local] = np.minimum(host[src[local]] * host_size + rng.integers(0, host_size, local.sum()),
                            n - 1)
    log.info("graph: %s nodes, %s edge rows", n, m)

    (root / "links").mkdir(parents=True)
    (root / "pages").mkdir(parents=True)
    when = pa.scalar(0, pa.timestamp("ms", tz="UTC"))
    for part, lo in enumerate(range(0, m, PART_ROWS)):
        s, d = src[lo:lo + PART_ROWS], dst[lo:lo + PART_ROWS]
        rows = len(s)
        s_idx, d_idx = pa.array(s), pa.array(d)
        sh, dh = hosts.take(s_idx), hosts.take(d_idx)
        sd, dd = domains.take(s_idx), domains.take(d_idx)
        cols = {
            "crawl_id": pa.array(["bench"] * rows), "src_url": urls.take(s_idx),
            "src_key": keys[s], "src_host": sh, "src_domain": sd,
            "dst_url": urls.take(d_idx), "dst_key": keys[d], "dst_host": dh, "dst_domain": dd,
            "internal": pc.equal(sd, dd), "anchor_text": pa.nulls(rows, pa.string()),
            "rel": pa.array([[]] * rows, pa.list_(pa.string())),
            "nofollow": np.zeros(rows, bool), "sponsored": np.zeros(rows, bool),
            "ugc": np.zeros(rows, bool), "tag": pa.array(["a"] * rows),
            "link_type": pa.array(["anchor"] * rows), "hreflang": pa.nulls(rows, pa.string()),
            "position": pa.nulls(rows, pa.string()),
            "ordinal": np.zeros(rows, np.int32), "depth": np.ones(rows, np.int32),
            "found_in": pa.array(["raw"] * rows),
            "fetched_at": pa.array(np.zeros(rows, np.int64)).cast(when.type),
        }
        table = _complete(cols, LINKS_SCHEMA, rows)
        pq.write_table(table, root / "links" / f"part-{part:05d}.parquet")
    idx = pa.array(np.flatnonzero(fetched))
    k = len(idx)
    pages = {
        "crawl_id": pa.array(["bench"] * k), "url": urls.take(idx), "url_key": keys[fetched],
        "host": hosts.take(idx), "domain": domains.take(idx),
        "status": np.full(k, 200, np.int32), "content_type": pa.array(["text/html"] * k),
        "content_length": np.full(k, 1000), "title": pa.nulls(k, pa.string()),
        "canonical_url": pa.nulls(k, pa.string()), "meta_robots": pa.nulls(k, pa.string()),
        "x_robots_tag": pa.nulls(k, pa.string()), "redirect_to": pa.nulls(k, pa.string()),
        "depth": np.ones(k, np.int32), "links_count": out_deg[fetched].astype(np.int32),
        "rendered": np.zeros(k, bool), "render_time": pa.nulls(k, pa.float64()),
        "fetched_at": pa.array(np.zeros(k, np.int64)).cast(when.type),
        "elapsed": np.zeros(k), "error": pa.nulls(k, pa.string()),
    }
    pq.write_table(_complete(pages, PAGES_SCHEMA, k), root / "pages" / "part-00000.parquet")


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


def phase_floor(root: Path) -> dict:
    """Time the irreducible steps of `linkgraph score DIR` on this graph, each alone.

    Each is the cheapest way found here to do something the output needs: the keys
    must be read and hashed to dense ids, PageRank at tol 1e-9 needs its power
    iterations and HITS its products, unfetched nodes' URL strings exist only in
    dst_url, and a 1M-row table must be written. Their sum bounds the speed-up.
    """
    import scipy.sparse as sp

    from linkgraph.scoring._read import parquet_files, read_numpy
    from linkgraph.scoring._spmv import TransposeProduct
    from linkgraph.scoring.graph import build_graph, encode_nodes
    from linkgraph.scoring.pagerank import pagerank
    from linkgraph.scoring.hits import hits

    out: dict = {}
    files = parquet_files(root / "links")
    t = time.perf_counter()
    keys = read_numpy(files, ["src_key", "dst_key"])
    out["read src_key/dst_key"] = time.perf_counter() - t
    pages = pq.read_table(root / "pages", columns=["url", "url_key"])
    t = time.perf_counter()
    (s, d, _), nodes = encode_nodes(keys.pop("src_key"), keys.pop("dst_key"),
                                    pages.column("url_key"))
    out["hash keys to ids"] = time.perf_counter() - t
    t = time.perf_counter()
    graph = build_graph(s, d, len(nodes))
    out["CSR build + dedupe"] = time.perf_counter() - t
    adj: sp.csr_array = graph.adj
    v = np.random.default_rng(0).random(adj.shape[0])
    with TransposeProduct(adj) as product:
        product.transpose(v)
        t = time.perf_counter()
        for _ in range(10):
            product.transpose(v)
        spmv = (time.perf_counter() - t) / 10
    out["one A.T @ v (2 threads), ms"] = spmv * 1000
    t = time.perf_counter()
    pr = pagerank(adj, tol=TOL)
    out[f"pagerank ({pr.iterations} iterations)"] = time.perf_counter() - t
    out[f"  of which {pr.iterations} products alone"] = pr.iterations * spmv
    t = time.perf_counter()
    h = hits(adj, tol=TOL)
    out[f"hits ({h.iterations} iterations)"] = time.perf_counter() - t
    t = time.perf_counter()
    pq.read_table(root / "links", columns=["dst_url"])
    out["read dst_url (unfetched nodes' URLs)"] = time.perf_counter() - t
    table = pa.table({"url": pages.column("url"), "url_key": pages.column("url_key"),
                      **{f"m{i}": np.random.default_rng(i).random(pages.num_rows)
                         for i in range(8)}})
    t = time.perf_counter()
    pq.write_table(table, root / "floor_write.parquet", compression="zstd")
    out[f"write a {table.num_rows:,}-row table (url + 9 numbers)"] = time.perf_counter() - t
    return {"seconds": 0.0, "floor": out}


def phase_cli(args: list[str]) -> dict:
    from linkgraph.cli import main
    t0 = time.perf_counter()
    code = main(args)
    if code:
        raise SystemExit(code)
    return {"seconds": time.perf_counter() - t0}


def run_phase(name: str, *argv: str) -> dict:
    """Run one phase in a fresh interpreter; return its wall time and peak RSS."""
    load = os.getloadavg()[0]
    log.info("phase %s ... (load average %.2f)", name, load)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--phase", name, *argv],
                          capture_output=True, text=True)
    process_s = time.perf_counter() - started
    sys.stderr.write(proc.stderr)
    if proc.returncode:
        raise SystemExit(f"phase {name} failed")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load"] = load
    # Whole process: interpreter start and imports included, as a user sees it.
    result["process_s"] = process_s
    result["log"] = [line for line in proc.stderr.splitlines() if " score: " in line]
    log.info("phase %s: %.2f s, peak RSS %.0f MB", name, result["seconds"], result["rss"] / 2**20)
    return result


def pagerank_diff(ours: Path, theirs: Path) -> float:
    """Max abs difference of two url -> pagerank tables (same node set)."""
    a = pq.read_table(ours, columns=["url", "pagerank"]).sort_by("url")
    b = pq.read_table(theirs, columns=["url", "pagerank"]).sort_by("url")
    if not a.column("url").equals(b.column("url")):
        raise SystemExit(f"{ours} and {theirs} score different node sets")
    return float(np.abs(a.column("pagerank").to_numpy() - b.column("pagerank").to_numpy()).max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--skip-networkx", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    parser.add_argument("--report", metavar="MD", help="append the results to this Markdown file")
    parser.add_argument("--repeat", type=int, default=1, help="runs of `linkgraph score DIR`")
    parser.add_argument("--check-nodes", type=int, default=100_000,
                        help="nodes of the agreement graph (10 edges per node)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if sys.argv[1:2] == ["--phase"]:
        # Internal: one phase in this fresh process; the rest of argv is its arguments.
        name, phase_args = sys.argv[2], sys.argv[3:]
        if name == "floor":
            result = phase_floor(Path(phase_args[0]))
        elif name.startswith("networkx"):
            result = phase_networkx(Path(phase_args[0]), Path(phase_args[1]),
                                    tight=name == "networkx-tight")
        else:
            result = phase_cli(phase_args)
        result["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps(result))
        return 0
    args = parser.parse_args()

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="score_scale_"))
    try:
        if not (root / "links").is_dir():
            t = time.perf_counter()
            generate(root, args.nodes, args.edges)
            log.info("generated %s in %.1f s", root, time.perf_counter() - t)
        m = pq.ParquetDataset(root / "links").count_rows() if hasattr(pq.ParquetDataset, "count_rows") \
            else sum(pq.ParquetFile(f).metadata.num_rows for f in (root / "links").glob("*.parquet"))
        results = {}
        runs = [run_phase("score", "score", str(root), "--tol", str(TOL))
                for _ in range(args.repeat)]
        results["score"] = min(runs, key=lambda r: r["process_s"])
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
                generate(check, args.check_nodes, args.check_nodes * 10, seed=1)
            check_m = sum(pq.ParquetFile(f).metadata.num_rows
                          for f in (check / "links").glob("*.parquet"))
            run_phase("score-check", "score", str(check), "--tol", str(TOL), "-q")
            results["networkx-tight (check graph)"] = run_phase(
                "networkx-tight", str(check), str(check / "nx.parquet"))
            agree = pagerank_diff(check / "scores" / "pages.parquet", check / "nx.parquet")
        floor = run_phase("floor", str(root))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, pyarrow.parquet, scipy.sparse"],
                       check=True)
        imports_s = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from linkgraph.cli import build_parser; "
                        "build_parser()"], check=True)
        cli_s = time.perf_counter() - started
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
        if len(runs) > 1:
            lines.append("- `linkgraph score DIR`, all runs: " + ", ".join(
                f"{r['process_s']:.2f} s / {r['rss'] / 2**20:.0f} MB (load {r['load']:.2f})"
                for r in runs))
        if "networkx" in results:
            nxr = results["networkx"]
            lines.append(f"- networkx (default parameters): DiGraph build {nxr['build_s']:.1f} s, "
                         f"pagerank {nxr['pagerank_s']:.1f} s")
            lines.append(f"- speed-up of `linkgraph score DIR` over networkx, whole processes: "
                         f"**{nxr['process_s'] / results['score']['process_s']:.1f}x** (best run; "
                         f"{nxr['process_s'] / max(r['process_s'] for r in runs):.1f}x worst)")
            lines.append(f"- same numbers: max abs PageRank difference, ours vs networkx at "
                         f"tol = {TOL:g}/N on the {args.check_nodes:,}-node check graph: "
                         f"{agree:.3g}")
            lines.append(f"- networkx at its default tol on the big graph is not converged: "
                         f"max abs difference to ours {diff_default:.3g}")
        lines.append(f"- string ids instead of the crawl-time keys (`--edges` on src_url/dst_url "
                     f"vs src_key/dst_key): {results['edges-url']['seconds']:.2f} s vs "
                     f"{results['edges-key']['seconds']:.2f} s")
        lines += ["", "Phase log of the best `linkgraph score DIR` run:", "", "```",
                  *results["score"]["log"], "```", "",
                  f"Floor: each irreducible step timed alone (load {floor['load']:.2f}):", "",
                  "| step | s |", "|---|---|",
                  f"| python + numpy/pyarrow/scipy imports | {imports_s:.2f} |",
                  f"| `linkgraph` CLI start (all subcommands' imports) | {cli_s:.2f} |",
                  *(f"| {k} | {v:.3f} |" for k, v in floor["floor"].items())]
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
