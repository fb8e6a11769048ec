"""The scoring stage on small graphs: known values, crawl rules, TrustRank, bad input."""

from __future__ import annotations

import duckdb
import networkx as nx
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkgraph.cli import main
from linkgraph.errors import UsageError
from linkgraph.scoring import (ScoreOptions, harmonic_centrality, hits, log_score, pagerank,
                               score_crawl, score_edges)
from linkgraph.scoring.graph import build_graph, encode_nodes, in_edge_graph
from scoring_fixtures import TRUSTED, fixture_web


def graph_of(edges: list[tuple[str, str]], **kw):
    (s, d), nodes = encode_nodes(pa.array([a for a, _ in edges]), pa.array([b for _, b in edges]))
    return build_graph(s, d, len(nodes), **kw), nodes.to_pylist()


@pytest.mark.parametrize("kind", ["int", "str"])
def test_encode_nodes_numbers_in_order_of_first_appearance(kind):
    """Dense ids in order of first appearance over the columns, whether the source
    column comes in runs of one key (hashed once per run) or not."""
    rng = np.random.default_rng(4)
    src = np.repeat(rng.integers(0, 300, 400), rng.integers(1, 12, 400))  # runs
    dst = rng.integers(0, 500, len(src))
    for columns in ((src, dst), (rng.permutation(src), dst)):
        arrays = [pa.array(c) if kind == "int" else pa.array([f"u{v}" for v in c])
                  for c in columns]
        ids, nodes = encode_nodes(*arrays)
        want: dict = {}
        for array in arrays:
            for value in array.to_pylist():
                want.setdefault(value, len(want))
        assert nodes.to_pylist() == list(want)
        for array, got in zip(arrays, ids):
            assert got.dtype == np.int32
            assert got.tolist() == [want[v] for v in array.to_pylist()]


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


def test_multiplicity_and_self_loops():
    edges = [("a", "b"), ("a", "b"), ("a", "c"), ("a", "a")]
    once, _ = graph_of(edges)
    assert once.m == 2 and once.adj.data.tolist() == [1.0, 1.0]
    multi, names = graph_of(edges, multiplicity=True)
    assert dict(zip(zip(*[[names[i] for i in x] for x in multi.adj.nonzero()]),
                    multi.adj.data)) == {("a", "b"): 2.0, ("a", "c"): 1.0}
    kept, _ = graph_of(edges, drop_self_loops=False)
    assert kept.m == 3


@pytest.mark.parametrize("seed", range(6))
def test_in_edge_graph_matches_a_plain_python_count(seed):
    """The in-edge builder against dictionaries: edges (voting rows, self-loops per
    option, repeats once / by count / by summed weight) and every link count, the
    same arrays on 1 to 3 threads."""
    rng = np.random.default_rng(seed)
    n, m = 30, 400
    src = rng.integers(0, n, m).astype(np.int32)
    dst = np.where(rng.random(m) < 0.1, src, rng.integers(0, n, m)).astype(np.int32)
    votes = rng.random(m) < 0.7
    weight = rng.random(m)
    groups = rng.integers(0, 5, n).astype(np.int32)
    for kw in ({}, {"multiplicity": True}, {"weight": weight}, {"drop_self_loops": False}):
        got = in_edge_graph(src, dst, n, votes=votes, groups=groups, threads=1, **kw)
        for threads in (2, 3):
            again = in_edge_graph(src, dst, n, votes=votes, groups=groups, threads=threads,
                                  **kw)
            for name in ("ptr", "ind", "data", "out_weight", "in_links", "out_links",
                         "referring_pages", "referring_groups"):
                assert np.array_equal(getattr(again, name), getattr(got, name)), name
        want: dict[tuple[int, int], float] = {}
        for i in range(m):
            if votes[i] and (src[i] != dst[i] or kw.get("drop_self_loops") is False):
                add = weight[i] if "weight" in kw else 1.0
                pair = (int(src[i]), int(dst[i]))
                want[pair] = want.get(pair, 0.0) + add if (kw.keys() & {"weight",
                                                                          "multiplicity"}) else 1.0
        data = np.ones(got.m) if got.data is None else got.data
        have = {(int(got.ind[k]), v): float(data[k]) for v in range(n)
                for k in range(got.ptr[v], got.ptr[v + 1])}
        assert len(have) == got.m and have.keys() == want.keys()
        assert all(abs(have[p] - want[p]) < 1e-12 for p in want)
        out_weight = np.zeros(n)
        for (u, _v), w in want.items():
            out_weight[u] += w
        assert np.allclose(got.out_weight, out_weight)
        links = src != dst
        assert got.in_links.tolist() == np.bincount(dst[links], minlength=n).tolist()
        assert got.out_links.tolist() == np.bincount(src[links], minlength=n).tolist()
        pairs = {(int(u), int(v)) for u, v in zip(src[links], dst[links])}
        assert got.referring_pages.tolist() == [sum(1 for _u, v in pairs if v == t)
                                                for t in range(n)]
        assert got.referring_groups.tolist() == [len({groups[u] for u, v in pairs if v == t})
                                                 for t in range(n)]
    # The matrix and its reverse hold the same edges.
    graph = in_edge_graph(src, dst, n)
    assert (graph.forward().toarray() == graph.reversed().toarray().T).all()


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


def test_log_score():
    s = log_score(np.array([0.0, 1e-4, 1e-3, 1e-2]))
    assert s.tolist() == [0.0, 0.0, 50.0, 100.0]
    assert log_score(np.array([0.5, 0.5])).tolist() == [100.0, 100.0]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    root = fixture_web(tmp_path_factory.mktemp("crawl"))
    paths = score_crawl(root, ScoreOptions(trusted=TRUSTED))
    return root, paths


def _rows(path) -> dict[str, dict]:
    table = pq.read_table(path).to_pylist()
    key = "url" if "url" in table[0] else ("host" if "host" in table[0] else "domain")
    return {r[key]: r for r in table}


def test_crawl_rules(crawl):
    _, paths = crawl
    pages = _rows(paths.pages)
    S = "https://shop.example"
    # Every http(s) URL of the graph is a row, fetched or not; mailto: is not.
    assert "https://unfetched.example/" in pages and pages["https://unfetched.example/"]["status"] is None
    assert not any(u.startswith("mailto:") for u in pages)
    # The redirect's only out-edge is to its target; the canonical page keeps only its
    # canonical edge (its link to /product passes nothing).
    assert pages[f"{S}/old"]["status"] == 301
    g = nx.DiGraph()
    for u, v in [("N", "S"), ("N", "NS"), ("N", "B"), ("NS", "OLD"), ("NS", "P1"), ("NS", "N"),
                 ("S", "P"), ("S", "NEW"), ("S", "DUP"), ("P", "S"), ("OLD", "NEW"),
                 ("NEW", "S"), ("DUP", "S"), ("B", "P1"), ("B", "S"), ("P1", "B"),
                 ("P1", "U")]:
        g.add_edge(u, v)
    farm = [f"F{i}" for i in range(8)]
    for f in farm:
        g.add_edges_from([(f, x) for x in farm if x != f] + [(f, "T")])
    g.add_edge("T", "F0")
    g.add_node("CSS")
    ref = nx.pagerank(g, tol=1e-14, max_iter=1000)
    names = {"N": "https://news.example/", "NS": "https://news.example/story", "S": f"{S}/",
             "P": f"{S}/product", "OLD": f"{S}/old", "NEW": f"{S}/new", "DUP": f"{S}/dup",
             "B": "https://blog.example/", "P1": "https://blog.example/post1",
             "U": "https://unfetched.example/", "T": "https://target.spam/",
             "CSS": "https://cdn.example/x.css",
             **{f: f"https://farm{f[1:]}.spam/" for f in farm}}
    assert set(names.values()) == set(pages)
    for short, url in names.items():
        assert pages[url]["pagerank"] == pytest.approx(ref[short], abs=1e-8), url
    # Counts see every http(s) link (nofollow too), repeats in in_links, once in referring_*.
    assert pages[f"{S}/product"]["in_links"] == 3 and pages[f"{S}/product"]["referring_pages"] == 2
    assert pages["https://target.spam/"]["referring_domains"] == 9
    assert pages[f"{S}/"]["referring_domains"] == 3
    assert max(r["authority_score"] for r in pages.values()) == 100.0


def test_crawl_votes_only_when_a_rule_applies():
    """Plain followed anchors need no vote pass (None: every row votes); one nofollow
    row, or a redirect, and the rules run row by row."""
    from linkgraph.scoring.crawl_input import LinkRules
    from linkgraph.scoring.score import crawl_votes

    src = np.array([0, 1, 2], np.int32)
    dst = np.array([1, 2, 0], np.int32)

    def rules(types, nofollow):
        return LinkRules.of(pa.table({
            "link_type": pa.array(types).dictionary_encode(), "nofollow": nofollow,
            "sponsored": [False] * 3, "ugc": [False] * 3}))

    plain = rules(["anchor"] * 3, [False] * 3)
    assert crawl_votes(plain, src, dst, 3, ScoreOptions()) is None
    assert crawl_votes(rules(["anchor"] * 3, [False, True, False]), src, dst, 3,
                       ScoreOptions()).tolist() == [True, False, True]
    assert crawl_votes(rules(["anchor"] * 3, [False, True, False]), src, dst, 3,
                       ScoreOptions(follow_nofollow=True)) is None
    assert crawl_votes(rules(["anchor", "redirect", "anchor"], [False] * 3), src, dst, 3,
                       ScoreOptions()).tolist() == [True, True, True]
    assert crawl_votes(rules(["anchor", "stylesheet", None], [False] * 3), src, dst, 3,
                       ScoreOptions()).tolist() == [True, False, False]


def test_link_rows_read_a_row_group_at_a_time(tmp_path):
    """Parts read a row group at a time into preallocated arrays give the rows of the
    whole table: link types numbered once across row groups whose dictionaries differ,
    null types and flags handled; a null id or one too large for int32 is a one-line
    error naming the file."""
    from linkgraph.scoring.crawl_input import LinkRules, _read_links

    rng = np.random.default_rng(3)
    m = 5000
    types = np.array(["anchor", "redirect", "canonical", "img", None], dtype=object)
    table = pa.table({
        "src_id": rng.integers(0, 100, m).astype(np.int32),
        "dst_id": rng.integers(0, 100, m).astype(np.int64),  # wider type: cast checked
        "link_type": pa.array(types[rng.integers(0, 5, m)].tolist()),
        "nofollow": pa.array([None if i % 97 == 0 else bool(i % 3 == 0) for i in range(m)]),
        "sponsored": rng.random(m) < 0.1, "ugc": rng.random(m) < 0.1})
    parts = tmp_path / "links"
    parts.mkdir()
    # Two parts, small row groups; the second part's rows sorted so its dictionaries
    # list the types in another order.
    pq.write_table(table.slice(0, 2000), parts / "a.parquet", row_group_size=300)
    pq.write_table(table.slice(2000).sort_by([("link_type", "descending")]),
                   parts / "b.parquet", row_group_size=700)
    files = sorted(parts.glob("*.parquet"))
    whole = pa.concat_tables([pq.read_table(f) for f in files])
    want = LinkRules.of(whole)
    rules, src, dst, bounds = _read_links(files)
    assert bounds == {"src_id": (src.min(), src.max()), "dst_id": (dst.min(), dst.max())}
    assert src.dtype == dst.dtype == np.int32 and rules.type_code.dtype == np.int16
    assert src.tolist() == whole.column("src_id").to_pylist()
    assert dst.tolist() == whole.column("dst_id").to_pylist()

    def names(r):
        return [r.types[c].as_py() if c >= 0 else None for c in r.type_code]

    assert names(rules) == names(want) == whole.column("link_type").to_pylist()
    assert rules.unfollowed.tolist() == want.unfollowed.tolist()
    assert rules.unfollowed.sum() > 0

    bad = tmp_path / "bad"
    bad.mkdir()
    pq.write_table(table.set_column(1, "dst_id", pa.array([2**40] * m)), bad / "big.parquet")
    with pytest.raises(UsageError, match=r"big.parquet: column dst_id has values outside int32"):
        _read_links([bad / "big.parquet"])
    pq.write_table(table.set_column(0, "src_id", pa.array([1, None] * (m // 2), pa.int32())),
                   bad / "null.parquet")
    with pytest.raises(UsageError, match=r"null.parquet: column src_id has null values"):
        _read_links([bad / "null.parquet"])


def test_trustrank_farm(crawl):
    """The farm pumps its own PageRank, but gets no trust: no trusted page links into it."""
    _, paths = crawl
    pages = _rows(paths.pages)
    farm = [r for u, r in pages.items() if u.endswith(".spam/")]
    honest = [r for u, r in pages.items() if ".example" in u and r["status"] == 200]
    assert max(r["pagerank"] for r in farm) > max(r["pagerank"] for r in honest) / 2
    assert min(r["pagerank"] for r in farm) > np.median([r["pagerank"] for r in honest])
    assert all(r["trust"] == 0.0 and r["trust_score"] == 0.0 for r in farm)
    assert all(r["trust"] > 0 for r in honest)


def test_site_tables(crawl):
    _, paths = crawl
    hosts, domains = _rows(paths.hosts), _rows(paths.domains)
    assert hosts["shop.example"]["pages"] == 5
    # One vote per referring host: news and blog link to shop many times -> in_degree 2.
    assert hosts["shop.example"]["in_degree"] == 2
    assert hosts["shop.example"]["referring_domains"] == 2
    assert hosts["shop.example"]["harmonic"] == pytest.approx(2.0)  # news 1 hop, blog 1 hop
    assert hosts["unfetched.example"]["harmonic"] == pytest.approx(1 + 1 / 2)
    assert set(domains) == set(hosts)
    assert pq.read_schema(paths.hosts).metadata[b"linkgraph.harmonic"] == b"exact"


def test_outputs_open_in_duckdb_and_polars(crawl):
    _, paths = crawl
    for path in (paths.pages, paths.hosts, paths.domains):
        n_duck = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
        assert n_duck == pl.read_parquet(path).height > 0
    top = duckdb.sql(f"SELECT url FROM read_parquet('{paths.pages}') "
                     "ORDER BY authority_score DESC LIMIT 1").fetchall()[0][0]
    assert top == "https://shop.example/"


def test_cli_crawl_and_edges(crawl, tmp_path, capsys):
    root, _ = crawl
    assert main(["score", str(root), "-q", "-o", str(tmp_path / "s"), "--no-hits"]) == 0
    assert (tmp_path / "s" / "pages.parquet").exists()
    edges = tmp_path / "e.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3, 3], "b": [2, 3, 1, 1], "w": [1.0, 2.0, 0.5, 0.5]}),
                   edges)
    trusted = tmp_path / "t.txt"
    trusted.write_text("# seeds\n1\n")
    out = tmp_path / "o.parquet"
    assert main(["score", "--edges", str(edges), "--src", "a", "--dst", "b", "--weight", "w",
                 "--trusted", str(trusted), "-o", str(out), "-q"]) == 0
    table = pl.read_parquet(out)
    assert table["node"].dtype == pl.Int64 and sorted(table["node"].to_list()) == [1, 2, 3]
    assert {"pagerank", "authority_score", "trust", "hub", "authority", "in_links",
            "out_links", "referring_pages"} <= set(table.columns)
    g = nx.DiGraph()
    g.add_weighted_edges_from([(1, 2, 1.0), (2, 3, 2.0), (3, 1, 1.0)])
    ref = nx.pagerank(g, tol=1e-14, max_iter=1000)
    got = dict(zip(table["node"], table["pagerank"]))
    assert all(abs(got[k] - ref[k]) < 1e-8 for k in ref)


def _error(capsys, *argv: str) -> str:
    assert main(["score", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("linkgraph: error: ")
    return err


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    good = tmp_path / "g.parquet"
    pq.write_table(pa.table({"s": ["x", "y"], "d": ["y", "x"], "f": [1.5, 2.5]}), good)
    assert "missing column(s) nope" in _error(capsys, "--edges", str(good), "--src", "nope",
                                              "--dst", "d", "-o", str(tmp_path / "o.parquet"))
    assert "column f is double, expected an integer or string" in _error(
        capsys, "--edges", str(good), "--src", "f", "--dst", "d", "-o", str(tmp_path / "o.parquet"))
    assert "column s is string, expected a number" in _error(
        capsys, "--edges", str(good), "--src", "s", "--dst", "d", "--weight", "s",
        "-o", str(tmp_path / "o.parquet"))
    text = tmp_path / "edges.csv"
    text.write_text("s,d\nx,y\n")
    assert "is not a Parquet file" in _error(capsys, "--edges", str(text), "--src", "s",
                                             "--dst", "d", "-o", str(tmp_path / "o.parquet"))
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"s": pa.array([], pa.string()), "d": pa.array([], pa.string())}), empty)
    assert "empty graph" in _error(capsys, "--edges", str(empty), "--src", "s", "--dst", "d",
                                   "-o", str(tmp_path / "o.parquet"))
    assert "has no links/ folder" in _error(capsys, str(tmp_path))
    assert "does not exist" in _error(capsys, "--edges", str(tmp_path / "nope"), "--src", "s",
                                      "--dst", "d", "-o", str(tmp_path / "o.parquet"))
    assert "needs --src" in _error(capsys, "--edges", str(good))
    assert "unknown link type" in _error(capsys, str(tmp_path), "--link-types", "anchor,bogus")
    trusted = tmp_path / "t.txt"
    trusted.write_text("nobody.example\n")
    assert "none of the 1 trusted entries" in _error(
        capsys, "--edges", str(good), "--src", "s", "--dst", "d", "--trusted", str(trusted),
        "-o", str(tmp_path / "o.parquet"))


def test_crawl_with_wrong_link_schema(tmp_path):
    (tmp_path / "links").mkdir()
    pq.write_table(pa.table({"src_key": [1], "dst_key": ["2"]}), tmp_path / "links" / "p.parquet")
    with pytest.raises(UsageError, match="missing column"):
        score_crawl(tmp_path)


def test_score_edges_string_ids_kept_as_given(tmp_path):
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"s": ["b", "c", "c"], "d": ["a", "a", None]}), path)
    out = score_edges(path, "s", "d", tmp_path / "o.parquet", options=ScoreOptions(hits=False))
    table = pq.read_table(out)
    assert table.column("node").to_pylist()[0] == "a"
    assert table.schema.field("node").type == pa.string()


def test_crawl_scores_do_not_depend_on_row_order_or_pages_table(crawl, tmp_path):
    """The fast paths (a page's links in one run, node strings from the pages table)
    give the same scores as the general ones (shuffled rows, strings from link rows)."""
    root, paths = crawl
    links = pq.read_table(root / "links")
    shuffled = tmp_path / "shuffled"
    (shuffled / "links").mkdir(parents=True)
    order = np.random.default_rng(0).permutation(links.num_rows)
    pq.write_table(links.take(order), shuffled / "links" / "part-0.parquet")
    (shuffled / "pages").mkdir()
    for part in (root / "pages").glob("*.parquet"):
        (shuffled / "pages" / part.name).write_bytes(part.read_bytes())
    no_pages = tmp_path / "no_pages"
    (no_pages / "links").mkdir(parents=True)
    for part in (root / "links").glob("*.parquet"):
        (no_pages / "links" / part.name).write_bytes(part.read_bytes())
    # Written before node ids (schema 1): the scorer hashes the URL keys instead.
    legacy = fixture_web(tmp_path / "legacy", node_ids=False)
    assert not (legacy / "nodes").exists() and (root / "nodes").is_dir()
    want = _rows(paths.pages)
    for folder in (shuffled, no_pages, legacy):
        got = _rows(score_crawl(folder, ScoreOptions(trusted=TRUSTED)).pages)
        assert set(got) == set(want)
        for url, row in want.items():
            for column in ("pagerank", "trust", "hub", "authority"):
                assert got[url][column] == pytest.approx(row[column], abs=1e-12), (folder, url)
            for column in ("host", "domain", "in_links", "out_links", "referring_pages",
                           "referring_domains"):
                assert got[url][column] == row[column], (folder, url, column)
        if folder is no_pages:
            assert all(r["status"] is None for r in got.values())
        else:
            assert all(got[u]["status"] == want[u]["status"] for u in want)


def test_no_sites_writes_only_the_pages_table(crawl, tmp_path):
    root, paths = crawl
    out = tmp_path / "scores"
    out.mkdir()
    (out / "hosts.parquet").write_bytes(b"stale")
    got = score_crawl(root, ScoreOptions(trusted=TRUSTED, sites=False), out_dir=out)
    assert got.hosts is None and got.domains is None
    assert sorted(p.name for p in out.iterdir()) == ["pages.parquet"]
    want = _rows(paths.pages)
    assert {u: r["pagerank"] for u, r in _rows(got.pages).items()} == pytest.approx(
        {u: r["pagerank"] for u, r in want.items()}, abs=1e-15)


def test_broken_node_ids_are_one_line_errors_and_order_is_restored(crawl, tmp_path):
    root, _ = crawl
    for case in ("gap", "out_of_range", "shuffled"):
        folder = tmp_path / case
        for name in ("links", "pages", "nodes"):
            (folder / name).mkdir(parents=True)
            for part in (root / name).glob("*.parquet"):
                (folder / name / part.name).write_bytes(part.read_bytes())
        nodes_file = next((folder / "nodes").glob("*.parquet"))
        nodes = pq.read_table(nodes_file)
        if case == "gap":
            pq.write_table(nodes.slice(1), nodes_file)
            match = "node ids are not 0..*each once"
        elif case == "out_of_range":
            pq.write_table(nodes.slice(0, nodes.num_rows - 1), nodes_file)
            match = "outside"
        else:
            # Rows out of id order (a hand-merged folder) are put back in order.
            order = np.random.default_rng(1).permutation(nodes.num_rows)
            pq.write_table(nodes.take(order), nodes_file)
            got = _rows(score_crawl(folder, ScoreOptions(trusted=TRUSTED)).pages)
            want = _rows(crawl[1].pages)
            assert set(got) == set(want)
            for url, row in want.items():
                assert (got[url]["host"], got[url]["in_links"]) == (row["host"], row["in_links"])
                assert got[url]["pagerank"] == pytest.approx(row["pagerank"], abs=1e-12), url
            continue
        with pytest.raises(UsageError, match=match):
            score_crawl(folder)


def test_crawl_folder_read_as_resume_would_keep_it(crawl, tmp_path):
    """A crawl folder (crawl.json) read mid-crawl or after a kill: a batch without its
    pages part (not committed) and the inputs a killed compaction left beside its
    committed merged part are skipped, so no row counts twice."""
    root, paths = crawl
    folder = tmp_path / "crawl"
    for name in ("links", "pages", "nodes"):
        tables = [pq.read_table(p) for p in sorted((root / name).glob("part-*.parquet"))]
        (folder / name).mkdir(parents=True)
        for i, table in enumerate(tables):
            pq.write_table(table, folder / name / f"part-000-{i:05d}.parquet")
        if len(tables) > 1:
            # The merged part a compaction committed before it was killed.
            merged = pa.concat_tables(tables)
            pq.write_table(merged, folder / name / f"part-000-00000-to-000-{len(tables) - 1:05d}"
                                                   ".parquet")
    # A batch killed between its renames: links part, no pages part.
    extra = pq.read_table(next((root / "links").glob("part-*.parquet")))
    pq.write_table(extra, folder / "links" / "part-001-00000.parquet")
    (folder / "crawl.json").write_text("{}")
    got = _rows(score_crawl(folder, ScoreOptions(trusted=TRUSTED), out_dir=tmp_path / "s").pages)
    want = _rows(paths.pages)
    assert set(got) == set(want)
    for url, row in want.items():
        assert got[url]["in_links"] == row["in_links"], url
        assert got[url]["pagerank"] == pytest.approx(row["pagerank"], abs=1e-12), url


def test_console_score_runs_without_importing_pandas(crawl, tmp_path):
    """`linkgraph score` as a console command keeps pyarrow from importing pandas (it
    never uses it); the page table alone needs no scipy at all, the site tables import
    it. No JIT compiler is loaded (the compiled loops are a C++ library). The scores
    are the same."""
    import subprocess
    import sys

    root, paths = crawl
    edges = tmp_path / "edges.parquet"
    cases = [([str(root), "-o", str(tmp_path / "all")], True),
             ([str(root), "-o", str(tmp_path / "pr"), "--no-hits", "--no-sites"], False),
             (["--edges", str(root / "links"), "--src", "src_key", "--dst", "dst_key",
               "--no-hits", "-o", str(edges)], False)]
    for argv, sites in cases:
        code = ("import sys, linkgraph.cli as cli\n"
                "cli._console = True\n"
                f"code = cli.main(['score', '-q', *{argv!r}])\n"
                "print(code, 'pandas' in sys.modules, 'scipy.sparse' in sys.modules,\n"
                "      'numba' in sys.modules, 'llvmlite' in sys.modules)\n")
        got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120)
        assert got.stdout.split()[-5:] == ["0", "False", str(sites), "False", "False"], \
            got.stderr
        if argv[0] == "--edges":
            links = pq.read_table(root / "links", columns=["src_key", "dst_key"])
            keys = set(links.column("src_key").to_pylist() + links.column("dst_key").to_pylist())
            assert set(pq.read_table(edges).column("node").to_pylist()) == keys
            continue
        out = tmp_path / argv[2]
        rows = _rows(out / "pages.parquet")
        assert {u: r["pagerank"] for u, r in rows.items()} == pytest.approx(
            {u: r["pagerank"] for u, r in _rows(paths.pages).items()}, abs=1e-15)
