"""PageRank on small graphs: textbook values, dangling nodes, the stopping rule, extrapolation, order."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from linkgraph.scoring import log_score, pagerank
from linkgraph.scoring.graph import in_edge_graph
from scoring_fixtures import graph_of


def test_pagerank_textbook_values():
    """Brin & Page's three-page example (A->B, A->C, B->C, C->A, d=0.85): the original
    formula gives PR(A)=1.1634, PR(B)=0.6444, PR(C)=1.1922, i.e. N times ours."""
    g, names = graph_of([("A", "B"), ("A", "C"), ("B", "C"), ("C", "A")])
    pr = dict(zip(names, pagerank(g.adj, tol=1e-14).scores * 3))
    assert pr["A"] == pytest.approx(1.16337, abs=1e-5)
    assert pr["B"] == pytest.approx(0.64443, abs=1e-5)
    assert pr["C"] == pytest.approx(1.19220, abs=1e-5)


def test_pagerank_dangling_and_stopping_rule():
    g, names = graph_of([("a", "b"), ("b", "c"), ("a", "c")])  # c is dangling
    res = pagerank(g.adj, tol=1e-12)
    ref = nx.pagerank(nx.DiGraph([("a", "b"), ("b", "c"), ("a", "c")]), tol=1e-14,
                      max_iter=1000)
    assert res.converged and abs(res.scores.sum() - 1) < 1e-12
    assert np.allclose(res.scores, [ref[n] for n in names], atol=1e-11)
    # The L1 rule: the last change is below tol whatever the size.
    assert res.delta < 1e-12
    few = pagerank(g.adj, tol=1e-12, max_iter=2)
    assert not few.converged and few.iterations == 2


def test_pagerank_float32_start_changes_nothing(monkeypatch):
    """The first steps gather float32 shares, the later float64 ones, and the stopping
    rule applies to those: the result is within the all-float64 run's bound of it, in
    as many steps, with or without personalisation."""
    import importlib

    from linkgraph.scoring._spmv import TransposeProduct

    module = importlib.import_module("linkgraph.scoring.pagerank")
    rng = np.random.default_rng(7)
    n, m = 20_000, 200_000
    # Web-like: a few hubs get most links; a tenth of the nodes link nowhere.
    src = rng.integers(0, int(n * 0.9), m).astype(np.int32)
    dst = (rng.pareto(1.2, m) * 50).astype(np.int64) % n
    edges = in_edge_graph(src, dst.astype(np.int32), n)
    seeds = (rng.random(n) < 0.01).astype(float)
    dtypes: list[np.dtype] = []
    sweep = TransposeProduct.pagerank_sweep

    def spy(self, share, *args):
        dtypes.append(share.dtype)
        return sweep(self, share, *args)

    monkeypatch.setattr(TransposeProduct, "pagerank_sweep", spy)
    for personalization in (None, seeds):
        with TransposeProduct.from_in_edges(edges) as product:
            dtypes.clear()
            mixed = pagerank(product, personalization=personalization)
            assert dtypes[0] == np.float32 and dtypes[-1] == np.float64
            monkeypatch.setattr(module, "FLOAT32_UNTIL", 0.0)
            dtypes.clear()
            plain = pagerank(product, personalization=personalization)
            assert set(dtypes) == {np.dtype(np.float64)}
            exact = pagerank(product, personalization=personalization, tol=1e-15).scores
            monkeypatch.setattr(module, "FLOAT32_UNTIL", 1e-5)
        assert mixed.converged and abs(mixed.iterations - plain.iterations) <= 1
        # The stopping rule's bound on the distance to the fixed point holds for both.
        bound = 1e-9 * 0.85 / 0.15
        assert np.abs(mixed.scores - exact).sum() < bound
        assert np.abs(plain.scores - exact).sum() < bound


def test_extrapolation_removes_two_geometric_error_components():
    """Iterates ``x* + a l^k u + b m^k w`` (u, w summing to 0, as a PageRank step's
    error does) are annihilated by ``(z - 1)(z - l)(z - m)``: the extrapolation
    of four of them is ``x*`` itself. Four equal iterates determine nothing."""
    from linkgraph.scoring import _kernels
    from linkgraph.scoring.score import warm_up

    warm_up()
    rng = np.random.default_rng(3)
    n = 1000
    fixed = rng.random(n)
    fixed /= fixed.sum()
    u, w = rng.standard_normal(n), rng.standard_normal(n)
    u -= u.mean()
    w -= w.mean()
    iterates = [fixed + 0.3 * 0.7**k * u / n - 0.2 * (-0.4)**k * w / n for k in range(4)]
    inv_out = np.where(np.arange(n) % 10 == 0, 0.0, 1.0)
    out = np.full(n, np.nan)
    lost = _kernels.extrapolate(*iterates, inv_out, out)
    assert np.abs(out - fixed).max() < 1e-15
    assert lost == pytest.approx(fixed[inv_out == 0].sum(), abs=1e-15)
    # In place over the oldest iterate, as pagerank() calls it.
    oldest = iterates[0].copy()
    _kernels.extrapolate(oldest, *iterates[1:], inv_out, oldest)
    np.testing.assert_array_equal(oldest, out)
    same = [fixed.copy() for _ in range(4)]
    assert _kernels.extrapolate(*same, inv_out, out) == -1.0
    np.testing.assert_array_equal(out, oldest)  # left as it was


def test_pagerank_order_is_a_stable_descending_sort():
    """The radix sort that orders the pages table: as numpy's stable sort, ties in id
    order, on scores spanning many magnitudes (and zeros, as trust has)."""
    from linkgraph.scoring._kernels import order_descending

    rng = np.random.default_rng(3)
    values = rng.random(5000) ** 12
    values[::7] = values[5]
    values[::11] = 0.0
    assert np.array_equal(order_descending(values), np.argsort(-values, kind="stable"))
    assert order_descending(np.zeros(0)).tolist() == []


def test_log_score():
    s = log_score(np.array([0.0, 1e-4, 1e-3, 1e-2]))
    assert s.tolist() == [0.0, 0.0, 50.0, 100.0]
    assert log_score(np.array([0.5, 0.5])).tolist() == [100.0, 100.0]


@pytest.mark.parametrize("good_fraction", [0.85, 0.3])
def test_spam_mass_is_one_minus_the_core_share(good_fraction):
    """relative_spam_mass from PageRank and TrustRank equals 1 - p'/p with p' the
    core-based PageRank solved as a linear system (jumps: gamma of the jump mass J on
    the core), on a random graph with dangling nodes and a farm nothing trusted
    reaches (Gyöngyi et al. 2006)."""
    from linkgraph.scoring.spam_mass import relative_spam_mass

    rng = np.random.default_rng(7)
    n = 40
    # Pages 25-29 have links in and none out (dangling).
    edges = {(int(u), int(v)) for u, v in zip(rng.integers(0, 25, 120), rng.integers(0, 30, 120))
             if u != v}
    edges |= {(u, v) for u in range(30, 40) for v in range(30, 40) if u != v}  # the farm
    g, names = graph_of(sorted(edges))
    order = np.array(names)
    core = np.isin(order, [0, 1, 2]).astype(float)
    alpha = 0.85
    p = pagerank(g.adj, alpha=alpha, tol=1e-14).scores
    t = pagerank(g.adj, alpha=alpha, personalization=core, tol=1e-14).scores
    out = g.out_weight()
    dangling = out == 0
    assert dangling.any()
    transition = g.adj.toarray()
    transition[~dangling] /= out[~dangling, None]
    jump = (1 - alpha) + alpha * p[dangling].sum()
    core_based = np.linalg.solve(np.eye(len(order)) - alpha * transition.T,
                                 good_fraction * jump * core / core.sum())
    got = relative_spam_mass(p, t, dangling, alpha, good_fraction)
    assert np.allclose(got, 1 - core_based / p, atol=1e-10)
    farm = order >= 30
    assert (got[farm] == 1.0).all() and (got[~farm] < 1.0).any()
