"""networkx's own functions against the same calls dispatched to linkgraph
(``backend="linkgraph"``), on one networkx graph, in the same run.

    python benchmarks/nx_backend.py [--nodes 200000 --edges 2000000] [--repeat 3]

Times include the backend's conversion of the graph (its sparse matrix is built from the
networkx graph once per weight attribute and cached on the graph, as networkx caches
conversions): the first dispatched call pays it, later calls on the same graph do not.
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200_000)
    parser.add_argument("--edges", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    nx.config.warnings_to_ignore.add("cache")
    rng = np.random.default_rng(0)
    # A web-like in-degree: targets drawn from a Zipf-ish distribution.
    src = rng.integers(0, args.nodes, args.edges)
    dst = (rng.pareto(1.2, args.edges) * 50).astype(np.int64) % args.nodes
    g = nx.DiGraph()
    g.add_nodes_from(range(args.nodes))
    g.add_edges_from(zip(src.tolist(), dst.tolist()))
    print(f"graph: {g.number_of_nodes():,} nodes, {g.number_of_edges():,} edges")
    cases = [("pagerank", lambda **kw: nx.pagerank(g, **kw)),
             ("pagerank, tol 1e-10/N", lambda **kw: nx.pagerank(g, tol=1e-10 / len(g),
                                                                 max_iter=1000, **kw)),
             ("hits", lambda **kw: nx.hits(g, **kw))]
    for name, call in cases:
        times = {"networkx": [], "linkgraph": []}
        for _ in range(args.repeat):
            for backend in ("networkx", "linkgraph"):
                g.__networkx_cache__.clear()  # every run converts, as a first call does
                t = time.perf_counter()
                call(backend=backend)
                times[backend].append(time.perf_counter() - t)
        a, b = min(times["networkx"]), min(times["linkgraph"])
        print(f"{name:24s} networkx {a:7.2f} s   linkgraph {b:6.2f} s (conversion "
              f"included)   {a / b:5.1f}x")


if __name__ == "__main__":
    main()
