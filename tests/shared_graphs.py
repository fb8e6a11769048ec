"""The real hyperlink graphs of ``../shared/graphs`` as edge lists and networkx graphs:
one loader per graph, for every test that compares with networkx."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import networkx as nx
import pytest

GRAPHS = Path(__file__).resolve().parents[2] / "shared" / "graphs"
#: Put on a test module that reads the shared graphs.
needs_graphs = pytest.mark.skipif(not GRAPHS.is_dir(),
                                  reason=f"shared real graphs not found at {GRAPHS}")


def hollins() -> tuple[list[str], list[str], None]:
    urls = {}
    for line in (GRAPHS / "hollins_urls.dat").read_text(encoding="utf-8").splitlines()[1:]:
        ident, _, url = line.strip().partition(" ")
        urls[ident] = url.strip()
    pairs = [line.split() for line in
             (GRAPHS / "hollins_edges.dat").read_text(encoding="utf-8").splitlines()[1:]
             if line.strip()]
    return [urls[a] for a, _ in pairs], [urls[b] for _, b in pairs], None


def polblogs() -> tuple[list[str], list[str], None]:
    """Parse the GML plainly: it repeats edges, which nx.read_gml refuses."""
    text = (GRAPHS / "polblogs.gml").read_text(encoding="utf-8")
    labels = dict(re.findall(r'node \[\s*id (\d+)\s*label "([^"]*)"', text))
    edges = re.findall(r"edge \[\s*source (\d+)\s*target (\d+)", text)
    assert len(labels) == 1490 and len(edges) == 19090
    return [labels[s] for s, _ in edges], [labels[t] for _, t in edges], None


def ukwa() -> tuple[list[str], list[str], list[float]]:
    src, dst, weight = [], [], []
    with gzip.open(GRAPHS / "ukwa-1996-host-links.tsv.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            key, _, count = line.rstrip("\n").partition("\t")
            _year, s, d = key.split("|")
            src.append(s)
            dst.append(d)
            weight.append(float(count))
    return src, dst, weight


def reference_graph(src, dst, weight, *, self_loops: bool) -> nx.DiGraph:
    """networkx graph of the same edges: repeated pairs once (or weights summed)."""
    g = nx.DiGraph()
    g.add_nodes_from(dict.fromkeys([*src, *dst]))
    for i, (s, d) in enumerate(zip(src, dst)):
        if s == d and not self_loops:
            continue
        if weight is None:
            g.add_edge(s, d)
        else:
            w = g.edges[s, d]["weight"] if g.has_edge(s, d) else 0.0
            g.add_edge(s, d, weight=w + weight[i])
    return g
