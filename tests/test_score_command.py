"""`linkgraph score` from the command line: crawl folders, edge lists, one-line errors."""

from __future__ import annotations

import networkx as nx
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkgraph.cli import main
from linkgraph.errors import UsageError
from linkgraph.scoring import ScoreOptions, score_crawl, score_edges
from scoring_fixtures import rows_by_key
from shared_graphs import needs_graphs


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
    text = tmp_path / "edges.dat"
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
        rows = rows_by_key(out / "pages.parquet")
        assert {u: r["pagerank"] for u, r in rows.items()} == pytest.approx(
            {u: r["pagerank"] for u, r in rows_by_key(paths.pages).items()}, abs=1e-15)


def _scores(path) -> dict:
    table = pq.read_table(path)
    return dict(zip(table.column("node").to_pylist(), table.column("pagerank").to_pylist()))


@pytest.mark.parametrize("name, text, extra", [
    ("e.csv", "s,d,w\nx,y,1\ny,z,2\nz,x,0.5\n", []),
    ("e.tsv.gz", "s\td\tw\nx\ty\t1\ny\tz\t2\nz\tx\t0.5\n", []),
    ("e.txt", "s;d;w\nx;y;1\ny;z;2\nz;x;0.5\n", ["--delimiter", ";"]),
])
def test_text_edge_lists_score_as_their_parquet(name, text, extra, tmp_path, capsys):
    import gzip

    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    parquet = tmp_path / "e.parquet"
    pq.write_table(pa.table({"s": ["x", "y", "z"], "d": ["y", "z", "x"], "w": [1.0, 2.0, 0.5]}),
                   parquet)
    for source, out in ((path, "t.parquet"), (parquet, "p.parquet")):
        args = ["score", "--edges", str(source), "--src", "s", "--dst", "d", "--weight", "w",
                "-o", str(tmp_path / out), "-q"]
        assert main(args + (extra if source == path else [])) == 0, capsys.readouterr().err
    assert _scores(tmp_path / "t.parquet") == _scores(tmp_path / "p.parquet")


def test_text_edge_list_errors_are_one_line(tmp_path, capsys):
    csv = tmp_path / "e.csv"
    csv.write_text("s,d,w\nx,y,1\ny,x,heavy\n")
    out = str(tmp_path / "o.parquet")
    assert "e.csv: missing column(s) nope (columns: s, d, w)" in _error(
        capsys, "--edges", str(csv), "--src", "nope", "--dst", "d", "-o", out)
    assert "column w is string, expected a number" in _error(
        capsys, "--edges", str(csv), "--src", "s", "--dst", "d", "--weight", "w", "-o", out)
    assert "missing column(s) 5 (columns: 1, 2, 3)" in _error(
        capsys, "--edges", str(csv), "--no-header", "--src", "1", "--dst", "5", "-o", out)
    assert "--no-header: name columns by position" in _error(
        capsys, "--edges", str(csv), "--no-header", "--src", "s", "--dst", "d", "-o", out)
    assert "--delimiter takes single-byte characters" in _error(
        capsys, "--edges", str(csv), "--delimiter", "\u00e9", "--src", "s", "--dst", "d", "-o", out)
    parquet = tmp_path / "e.parquet"
    pq.write_table(pa.table({"s": ["x"], "d": ["y"]}), parquet)
    assert "--no-header is for a CSV/TSV edge list" in _error(
        capsys, "--edges", str(parquet), "--no-header", "--src", "1", "--dst", "2", "-o", out)


@needs_graphs
def test_uk_host_graph_as_gzipped_text(tmp_path, capsys):
    """The shared UK host graph, as the README shows it: lines 1996|src|dst<TAB>count."""
    from shared_graphs import GRAPHS, ukwa

    text = tmp_path / "uk-text.parquet"
    assert main(["score", "--edges", str(GRAPHS / "ukwa-1996-host-links.tsv.gz"),
                 "--delimiter", "|\t", "--no-header", "--src", "2", "--dst", "3",
                 "--weight", "4", "-o", str(text), "-q", "--no-hits"]) == 0
    src, dst, weight = ukwa()
    parquet = tmp_path / "uk.parquet"
    pq.write_table(pa.table({"s": src, "d": dst, "w": weight}), parquet)
    via_parquet = tmp_path / "uk-parquet.parquet"
    assert main(["score", "--edges", str(parquet), "--src", "s", "--dst", "d", "--weight", "w",
                 "-o", str(via_parquet), "-q", "--no-hits"]) == 0
    scores = _scores(text)
    assert len(scores) == len(set(src) | set(dst)) > 50_000
    assert scores == _scores(via_parquet)
