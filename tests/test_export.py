"""Exports and to_networkx: the graph `score` scores, read back by networkx, as written."""

from __future__ import annotations

import csv
import gzip

import networkx as nx
import pytest

import linkgraph
from linkgraph.analysis import export
from linkgraph.errors import UsageError
from linkgraph.scoring import ScoreOptions, score_crawl
from linkgraph.scoring.crawl_graph import crawl_graph
from conftest import run_linkgraph
from scoring_fixtures import fixture_web, rows_by_key


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = fixture_web(tmp_path_factory.mktemp("export"))
    score_crawl(root, ScoreOptions(hits=False))
    return root


def test_to_networkx_is_the_graph_score_scored(scored):
    G = linkgraph.to_networkx(scored)
    pages = rows_by_key(scored / "scores" / "pages.parquet")
    assert set(G) == set(pages)
    # Deduplicated edges are what score's default PageRank walks: networkx's PageRank
    # on the exported graph, unweighted, gives the same scores.
    ref = nx.pagerank(G, weight=None, tol=1e-12, max_iter=500)
    assert max(abs(ref[u] - pages[u]["pagerank"]) for u in G) < 1e-8
    assert all(G.nodes[u]["pagerank"] == pages[u]["pagerank"] for u in G)
    assert G.nodes["https://unfetched.example/"].get("status") is None
    assert G.nodes["https://shop.example/"]["status"] == 200


def test_edge_weights_count_link_rows(scored, tmp_path):
    # With multiplicity, score weights each edge by its rows: the same PageRank as
    # networkx's on the exported weights.
    score_crawl(scored, ScoreOptions(hits=False, multiplicity=True, sites=False),
                out_dir=tmp_path / "m")
    pages = rows_by_key(tmp_path / "m" / "pages.parquet")
    G = linkgraph.to_networkx(scored)
    assert any(w > 1 for _, _, w in G.edges(data="weight"))
    ref = nx.pagerank(G, weight="weight", tol=1e-12, max_iter=500)
    assert max(abs(ref[u] - pages[u]["pagerank"]) for u in G) < 1e-8


def test_site_levels_sum_page_edges_between_sites(scored):
    pages = linkgraph.to_networkx(scored)
    hosts = linkgraph.to_networkx(scored, level="host")
    host = {u: u.split("/")[2] for u in pages}
    expected: dict[tuple[str, str], float] = {}
    for u, v, w in pages.edges(data="weight"):
        if host[u] != host[v]:
            expected[host[u], host[v]] = expected.get((host[u], host[v]), 0) + w
    assert {(u, v): w for u, v, w in hosts.edges(data="weight")} == expected
    assert "pagerank" in hosts.nodes["shop.example"]


@pytest.mark.parametrize("fmt, read", [("graphml", nx.read_graphml), ("gexf", nx.read_gexf)])
def test_graphml_and_gexf_read_back(scored, tmp_path, fmt, read):
    G = linkgraph.to_networkx(scored)
    path = tmp_path / f"g.{fmt}"
    export.export_graph(scored, fmt, path)
    back = read(path)
    label = {n: d["label"] for n, d in back.nodes(data=True)}
    assert sorted(label.values()) == sorted(G)
    assert {(label[u], label[v]): float(w) for u, v, w in back.edges(data="weight")} == \
        {(u, v): float(w) for u, v, w in G.edges(data="weight")}
    for n, data in back.nodes(data=True):
        assert float(data["pagerank"]) == pytest.approx(G.nodes[label[n]]["pagerank"], rel=1e-15)


def test_csv_is_gephi_spreadsheet_import(scored, tmp_path):
    assert run_linkgraph("export", str(scored), "--format", "csv", "--level", "domain",
                         "-o", str(tmp_path / "csv"), "-q").returncode == 0
    with open(tmp_path / "csv" / "nodes.csv", newline="") as f:
        nodes = list(csv.DictReader(f))
    with open(tmp_path / "csv" / "edges.csv", newline="") as f:
        edges = list(csv.DictReader(f))
    assert {"Id", "Label", "pagerank", "referring_domains"} <= set(nodes[0])
    assert list(edges[0]) == ["Source", "Target", "Weight"]
    G = linkgraph.to_networkx(scored, level="domain")
    label = {r["Id"]: r["Label"] for r in nodes}
    assert {(label[e["Source"]], label[e["Target"]]): float(e["Weight"]) for e in edges} == \
        {(u, v): w for u, v, w in G.edges(data="weight")}


def test_cc_webgraph_text_format(scored, tmp_path):
    export.export_graph(scored, "cc-webgraph", tmp_path / "cc", level="host")
    with gzip.open(tmp_path / "cc" / "vertices.txt.gz", "rt") as f:
        vertices = [line.rstrip("\n").split("\t") for line in f]
    with gzip.open(tmp_path / "cc" / "edges.txt.gz", "rt") as f:
        edges = [tuple(map(int, line.split("\t"))) for line in f]
    assert [int(i) for i, _ in vertices] == list(range(len(vertices)))
    names = [name for _, name in vertices]
    assert names == sorted(names) and "example.shop" in names
    assert edges == sorted(edges)
    G = linkgraph.to_networkx(scored, level="host")
    assert {(".".join(reversed(names[a].split("."))), ".".join(reversed(names[b].split("."))))
            for a, b in edges} == set(G.edges)


def test_refusals_are_one_line(scored, tmp_path, monkeypatch):
    result = run_linkgraph("export", str(scored), "--format", "cc-webgraph", "-o",
                           str(tmp_path / "x"))
    assert result.returncode == 2 and "host or domain graph" in result.stderr
    assert result.stderr.count("\n") == 1
    result = run_linkgraph("export", str(tmp_path), "--format", "csv", "-o", str(tmp_path / "y"))
    assert result.returncode == 2 and "is it a crawl folder" in result.stderr
    monkeypatch.setattr(export, "GEPHI_MAX_EDGES", 10)
    with pytest.raises(UsageError, match="more than Gephi opens well"):
        export.export_graph(scored, "gexf", tmp_path / "big.gexf")
    export.export_graph(scored, "gexf", tmp_path / "big.gexf", force=True)
    with pytest.raises(UsageError, match="more than networkx holds well"):
        linkgraph.to_networkx(scored, max_edges=10)
    assert crawl_graph(scored).m > 10
