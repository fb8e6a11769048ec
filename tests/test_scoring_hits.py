"""HITS and harmonic centrality on small graphs with known values."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from linkgraph.scoring import harmonic_centrality, hits
from linkgraph.scoring.graph import in_edge_graph
from scoring_fixtures import graph_of


def test_hits_float32_start_changes_nothing(monkeypatch):
    """HITS runs its first steps on float32 vectors too: same steps, results as close
    to a tight solution as the all-float64 run's, float64 out."""
    import importlib

    from linkgraph.scoring._spmv import TransposeProduct

    module = importlib.import_module("linkgraph.scoring.hits")
    rng = np.random.default_rng(8)
    n, m = 20_000, 200_000
    src = rng.integers(0, n, m).astype(np.int32)
    dst = ((rng.pareto(1.2, m) * 50).astype(np.int64) % n).astype(np.int32)
    dtypes: list[np.dtype] = []
    forward = TransposeProduct.forward

    def spy(self, v, out=None):
        dtypes.append(np.asarray(v).dtype)
        return forward(self, v, out=out)

    with TransposeProduct.from_in_edges(in_edge_graph(src, dst, n)) as product:
        monkeypatch.setattr(TransposeProduct, "forward", spy)
        mixed = hits(product)
        assert dtypes[0] == np.float32 and dtypes[-1] == np.float64
        monkeypatch.setattr(module, "FLOAT32_UNTIL", 0.0)
        dtypes.clear()
        plain = hits(product)
        assert set(dtypes) == {np.dtype(np.float64)}
        exact = hits(product, tol=1e-15, max_iter=5000)
    assert mixed.converged and abs(mixed.iterations - plain.iterations) <= 1
    assert mixed.hubs.dtype == mixed.authorities.dtype == np.float64
    for result in (mixed, plain):
        assert np.abs(result.authorities - exact.authorities).sum() < 1e-8
        assert np.abs(result.hubs - exact.hubs).sum() < 1e-8


def test_hits_textbook():
    """Authority = principal eigenvector of A^T A, hubs = A @ authority, each sums to 1."""
    edges = [("h1", "a1"), ("h1", "a2"), ("h2", "a1"), ("h2", "a2"), ("h3", "a1")]
    g, names = graph_of(edges)
    res = hits(g.adj, tol=1e-14)
    a = g.adj.toarray()
    vals, vecs = np.linalg.eigh(a.T @ a)
    auth = np.abs(vecs[:, -1]) / np.abs(vecs[:, -1]).sum()
    assert np.allclose(res.authorities, auth, atol=1e-10)
    got = dict(zip(names, res.hubs))
    assert got["h1"] == pytest.approx(got["h2"]) and got["h1"] > got["h3"] > 0
    assert got["a1"] == 0.0


def test_harmonic_exact_and_sampled():
    g_nx = nx.gnp_random_graph(300, 0.02, seed=1, directed=True)
    edges = [(str(u), str(v)) for u, v in g_nx.edges]
    g, names = graph_of(edges)
    ref = nx.harmonic_centrality(nx.DiGraph(edges))
    exact, is_exact = harmonic_centrality(g.adj)
    assert is_exact and np.allclose(exact, [ref[n] for n in names])
    est, is_exact = harmonic_centrality(g.adj, exact_max=10, samples=150, seed=3)
    assert not is_exact
    assert abs(est.sum() / exact.sum() - 1) < 0.1
