"""linkgraph as a networkx backend: every dispatched function against networkx itself,
on the shared real graphs and on small graphs with the awkward cases."""

from __future__ import annotations

import networkx as nx
import pytest

from shared_graphs import hollins, needs_graphs, polblogs, reference_graph, ukwa

# Conversions are cached on the graph (correct here: the graphs are not mutated by hand).
pytestmark = pytest.mark.filterwarnings("ignore:Note. conversions to backend graphs:UserWarning")

TIGHT = {"tol": 1e-14, "max_iter": 10_000}


def diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((abs(a[k] - b[k]) for k in a), default=0.0)


def test_the_backend_is_registered():
    assert "linkgraph" in nx.utils.backends.backends
    assert set(nx.utils.backends.backend_info["linkgraph"]["functions"]) == {
        "pagerank", "hits", "harmonic_centrality"}


@needs_graphs
@pytest.mark.parametrize("loader", [hollins, polblogs, ukwa], ids=["hollins", "polblogs", "ukwa"])
def test_pagerank_and_hits_on_the_shared_graphs(loader):
    g = reference_graph(*loader(), self_loops=True)
    # networkx's defaults and stopping rule (L1 change < N * tol): each result is within
    # N * tol * alpha / (1 - alpha) of the fixed point in L1, so within twice that of
    # each other.
    ours, theirs = nx.pagerank(g, backend="linkgraph"), nx.pagerank(g)
    assert sum(abs(ours[k] - theirs[k]) for k in g) <= 2 * len(g) * 1e-6 * 0.85 / 0.15
    # Tight (an L1 change below 1e-13 for both): the same fixed point.
    tight = {"tol": 1e-13 / len(g), "max_iter": 10_000}
    assert diff(nx.pagerank(g, backend="linkgraph", **tight), nx.pagerank(g, **tight)) < 1e-9
    seeds = dict.fromkeys(list(g)[:5], 1.0)
    assert diff(nx.pagerank(g, backend="linkgraph", personalization=seeds, **tight),
                nx.pagerank(g, personalization=seeds, **tight)) < 1e-9
    hubs, authorities = nx.hits(g, backend="linkgraph")
    ref_hubs, ref_authorities = nx.hits(g, tol=1e-12, max_iter=100_000)
    assert diff(hubs, ref_hubs) < 1e-9 and diff(authorities, ref_authorities) < 1e-9


@needs_graphs
def test_harmonic_centrality_on_a_shared_graph():
    g = reference_graph(*polblogs(), self_loops=False)
    assert diff(nx.harmonic_centrality(g, backend="linkgraph"),
                nx.harmonic_centrality(g)) < 1e-9


def multigraph() -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph(nx.gnp_random_graph(150, 0.04, seed=3, directed=True))
    graph.add_edges_from(list(graph.edges())[:60], weight=2.5)  # parallel, weighted
    graph.add_edge(7, 7)                                         # a self-loop
    return graph


@pytest.mark.parametrize("make", [lambda: nx.gnp_random_graph(200, 0.03, seed=2), multigraph],
                         ids=["undirected", "multigraph"])
def test_undirected_and_multigraphs_as_networkx_reads_them(make):
    graph = make()
    assert diff(nx.pagerank(graph, backend="linkgraph", **TIGHT),
                nx.pagerank(graph, **TIGHT)) < 1e-12
    assert diff(nx.harmonic_centrality(graph, backend="linkgraph"),
                nx.harmonic_centrality(graph)) < 1e-9


def test_weights_dangling_and_personalisation():
    g = nx.DiGraph()
    g.add_weighted_edges_from([("a", "b", 3.0), ("a", "c", 1.0), ("b", "c", 2.0),
                               ("c", "a", 1.0), ("d", "a", 0.5)])
    g.add_node("e")  # dangling, and nobody links to it
    for kwargs in ({}, {"weight": None}, {"personalization": {"a": 1, "e": 3}},
                   {"personalization": {"b": 1}, "dangling": {"d": 2, "c": 1}},
                   {"alpha": 0.5}):
        assert diff(nx.pagerank(g, backend="linkgraph", **kwargs, **TIGHT),
                    nx.pagerank(g, **kwargs, **TIGHT)) < 1e-12, kwargs


def test_hits_unnormalised_is_networkx_up_to_its_sign():
    g = nx.gnp_random_graph(120, 0.05, seed=4, directed=True)
    hubs, authorities = nx.hits(g, backend="linkgraph", normalized=False)
    ref_hubs, ref_authorities = nx.hits(g, normalized=False, tol=1e-12, max_iter=100_000)
    sign = 1.0 if sum(ref_authorities.values()) > 0 else -1.0
    assert diff(authorities, {k: sign * v for k, v in ref_authorities.items()}) < 1e-9
    assert diff(hubs, {k: sign * v for k, v in ref_hubs.items()}) < 1e-9


def test_what_networkx_would_raise_and_what_is_not_supported():
    g = nx.gnp_random_graph(100, 0.05, seed=5, directed=True)
    with pytest.raises(nx.PowerIterationFailedConvergence):
        nx.pagerank(g, backend="linkgraph", max_iter=2)
    assert nx.pagerank(nx.DiGraph(), backend="linkgraph") == {}
    assert nx.hits(nx.DiGraph(), backend="linkgraph") == ({}, {})
    with pytest.raises(ZeroDivisionError):
        nx.pagerank(g, backend="linkgraph", personalization={"not a node": 1})
    with pytest.raises(NotImplementedError):
        nx.pagerank(g, backend="linkgraph", nstart=dict.fromkeys(g, 1.0))
    with pytest.raises(NotImplementedError):
        nx.harmonic_centrality(g, backend="linkgraph", sources=[0, 1])


@pytest.mark.parametrize("kind", [nx.Graph, nx.DiGraph, nx.MultiGraph, nx.MultiDiGraph])
@pytest.mark.parametrize("weight", ["weight", None, "cost"])
def test_the_matrix_is_networkx_own(kind, weight):
    from linkgraph.nxbackend import LinkgraphGraph

    g = kind()
    g.add_weighted_edges_from([(0, 1, 2.0), (1, 2, 0.5), (2, 0, 1.0), (3, 3, 4.0), (1, 0, 3.0)])
    g.add_edge(0, 1, cost=7.0)  # a parallel edge in a multigraph, new data otherwise
    g.add_node("isolated")
    ours = LinkgraphGraph(g).adjacency(weight)
    theirs = nx.to_scipy_sparse_array(g, nodelist=list(g), weight=weight, dtype=float)
    assert (ours != theirs).nnz == 0
