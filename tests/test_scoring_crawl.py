"""Scoring a crawl folder: the link rules, TrustRank on the farm, site tables, what the outputs hold."""

from __future__ import annotations

import duckdb
import networkx as nx
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkgraph.errors import UsageError
from linkgraph.scoring import ScoreOptions, score_crawl
from scoring_fixtures import TRUSTED, fixture_web, rows_by_key


def test_crawl_rules(crawl):
    _, paths = crawl
    pages = rows_by_key(paths.pages)
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
    # Referring domains are other registered domains: news and blog, not shop's own pages.
    assert pages[f"{S}/"]["referring_domains"] == 2
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
    pages = rows_by_key(paths.pages)
    farm = [r for u, r in pages.items() if u.endswith(".spam/")]
    honest = [r for u, r in pages.items() if ".example" in u and r["status"] == 200]
    assert max(r["pagerank"] for r in farm) > max(r["pagerank"] for r in honest) / 2
    assert min(r["pagerank"] for r in farm) > np.median([r["pagerank"] for r in honest])
    assert all(r["trust"] == 0.0 and r["trust_score"] == 0.0 for r in farm)
    assert all(r["trust"] > 0 for r in honest)


def test_site_tables(crawl):
    _, paths = crawl
    hosts, domains = rows_by_key(paths.hosts), rows_by_key(paths.domains)
    assert hosts["shop.example"]["pages"] == 5
    # One vote per referring host: news and blog link to shop many times -> in_degree 2.
    assert hosts["shop.example"]["in_degree"] == 2
    assert hosts["shop.example"]["referring_domains"] == 2
    assert hosts["shop.example"]["harmonic"] == pytest.approx(2.0)  # news 1 hop, blog 1 hop
    assert hosts["unfetched.example"]["harmonic"] == pytest.approx(1 + 1 / 2)
    assert set(domains) == set(hosts)
    # Followed referring domains are counted apart, never more than all of them.
    for row in [*hosts.values(), *domains.values(), *rows_by_key(paths.pages).values()]:
        assert 0 <= row["followed_referring_domains"] <= row["referring_domains"]
    assert pq.read_schema(paths.hosts).metadata[b"linkgraph.harmonic"] == b"exact"


def test_outputs_open_in_duckdb_and_polars(crawl):
    _, paths = crawl
    for path in (paths.pages, paths.hosts, paths.domains):
        n_duck = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
        assert n_duck == pl.read_parquet(path).height > 0
    top = duckdb.sql(f"SELECT url FROM read_parquet('{paths.pages}') "
                     "ORDER BY authority_score DESC LIMIT 1").fetchall()[0][0]
    assert top == "https://shop.example/"


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
    want = rows_by_key(paths.pages)
    for folder in (shuffled, no_pages, legacy):
        got = rows_by_key(score_crawl(folder, ScoreOptions(trusted=TRUSTED)).pages)
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
    want = rows_by_key(paths.pages)
    assert {u: r["pagerank"] for u, r in rows_by_key(got.pages).items()} == pytest.approx(
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
            got = rows_by_key(score_crawl(folder, ScoreOptions(trusted=TRUSTED)).pages)
            want = rows_by_key(crawl[1].pages)
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
    got = rows_by_key(score_crawl(folder, ScoreOptions(trusted=TRUSTED), out_dir=tmp_path / "s").pages)
    want = rows_by_key(paths.pages)
    assert set(got) == set(want)
    for url, row in want.items():
        assert got[url]["in_links"] == row["in_links"], url
        assert got[url]["pagerank"] == pytest.approx(row["pagerank"], abs=1e-12), url
