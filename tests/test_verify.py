"""``linkgraph verify DIR`` on a real crawl folder, then on broken copies of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import crawl_args, run_linkgraph
from linkgraph.storage.verify import verify

B = "http://www.beta-news.org/"


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    from conftest import FIXTURE_WEB
    from linkgraph.demo.localweb import LocalWeb

    out = tmp_path_factory.mktemp("verify") / "out"
    with LocalWeb(str(FIXTURE_WEB)) as server:
        result = run_linkgraph("crawl", B, "-o", str(out), "-s", "ROBOTSTXT_OBEY=False",
                               "-s", "LINKGRAPH_FLUSH_PAGES=1", "-s", "LINKGRAPH_COMPACT=False",
                               *crawl_args(server))
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.fixture
def copy(good, tmp_path) -> Path:
    target = tmp_path / "crawl"
    shutil.copytree(good, target)
    return target


def first_part(folder: Path, dataset: str) -> Path:
    return sorted((folder / dataset).glob("*.parquet"))[0]


def test_good_folder(good):
    result = run_linkgraph("verify", str(good))
    assert result.returncode == 0, result.stdout + result.stderr
    # www.beta-news.org has 3 pages and 3 links, committed one page per part; its 4 URLs
    # (story.html links to www.alpha-shop.com) are nodes, the third batch adds none.
    assert result.stdout.splitlines() == [
        f"{good}: OK (3 links rows in 3 parts, 3 pages rows in 3 parts, 4 nodes rows in "
        "3 parts; status finished)"]


def test_truncated_part(copy):
    part = first_part(copy, "pages")
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2])
    report = verify(str(copy))
    assert len(report.problems) == 1
    assert report.problems[0].startswith(f"pages/{part.name}: unreadable (")
    result = run_linkgraph("verify", str(copy))
    assert result.returncode == 1
    assert f"problem: pages/{part.name}: unreadable" in result.stdout


def test_wrong_schema_part(copy):
    part = first_part(copy, "links")
    table = pq.read_table(part).drop_columns(["anchor_text"])
    pq.write_table(table, part)
    assert verify(str(copy)).problems == [
        f"links/{part.name}: columns differ from the links schema (missing anchor_text)"]


def test_part_without_a_late_column_is_valid_and_compacts(copy):
    """A pages part written before pages.blocked_requests existed (same schema version)."""
    from linkgraph.storage.schemas import LATE_COLUMNS

    part = first_part(copy, "pages")
    old = pq.read_table(part).drop_columns(list(LATE_COLUMNS["pages"]))
    pq.write_table(old, part)
    assert verify(str(copy)).problems == []
    result = run_linkgraph("compact", str(copy))
    assert result.returncode == 0, result.stderr[-2000:]
    assert verify(str(copy)).problems == []
    merged = pq.read_table(copy / "pages")
    assert merged.column("blocked_requests").null_count == merged.num_rows == 3


def test_unknown_schema_version(copy):
    part = first_part(copy, "pages")
    table = pq.read_table(part)
    meta = {**table.schema.metadata, b"linkgraph.schema_version": b"99"}
    pq.write_table(table.replace_schema_metadata(meta), part)
    assert verify(str(copy)).problems == [f"pages/{part.name}: unknown schema version '99'"]


def test_part_of_another_dataset(copy):
    links_part = first_part(copy, "links")
    shutil.copy(links_part, copy / "pages" / "part-009-00000.parquet")
    shutil.copy(links_part, copy / "links" / "part-009-00000.parquet")
    assert verify(str(copy)).problems == [
        "pages/part-009-00000.parquet: holds dataset 'links', not 'pages'",
        "pages/part-009-00000.parquet has no nodes partner (every committed batch has one)"]


def test_orphan_links_part_and_leftovers(copy):
    shutil.copy(first_part(copy, "links"), copy / "links" / "part-001-00000.parquet")
    (copy / "pages" / ".tmp-part-001-00000.parquet").write_bytes(b"PAR1")
    problems = verify(str(copy)).problems
    assert problems == [
        "pages/: 1 leftover temporary file(s) (.tmp-part-001-00000.parquet); resuming the crawl removes them",
        "links/part-001-00000.parquet has no pages partner (an interrupted commit; resuming the crawl removes it)",
    ]


def test_duplicate_page_rows(copy):
    shutil.copy(first_part(copy, "pages"), copy / "pages" / "part-001-00000.parquet")
    problems = verify(str(copy)).problems
    assert problems[:2] == [
        f"pages/part-001-00000.parquet has no {dataset} partner (every committed batch has one)"
        for dataset in ("links", "nodes")]
    assert len(problems) == 3 and problems[2].startswith("pages: 1 URL(s) have more than one row")


def test_missing_and_bad_manifest(copy):
    (copy / "crawl.json").unlink()
    result = run_linkgraph("verify", str(copy))
    assert result.returncode == 1
    assert "problem: crawl.json is missing" in result.stdout
    (copy / "crawl.json").write_text("{not json")
    assert "unreadable or not a linkgraph manifest" in verify(str(copy)).problems[0]


def test_interrupted_is_a_note(copy):
    manifest = json.loads((copy / "crawl.json").read_text())
    manifest["status"] = "interrupted"
    (copy / "crawl.json").write_text(json.dumps(manifest))
    report = verify(str(copy))
    assert report.ok and report.notes == [
        "the crawl is interrupted: run the same crawl command again to resume it"]


def test_bad_argument(tmp_path):
    result = run_linkgraph("verify", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"linkgraph: error: {tmp_path / 'nope'} does not exist"


def test_schema_type_change_is_named(copy):
    part = first_part(copy, "pages")
    table = pq.read_table(part)
    index = table.schema.get_field_index("status")
    table = table.set_column(index, pa.field("status", pa.int64()), table.column("status").cast(pa.int64()))
    pq.write_table(table, part)
    assert verify(str(copy)).problems == [
        f"pages/{part.name}: columns differ from the pages schema (wrong type status)"]


def rewrite(part: Path, change) -> None:
    """Rewrite a part with ``change(table)``, keeping its schema and metadata."""
    table = pq.read_table(part)
    pq.write_table(change(table).cast(table.schema), part)


def set_column(table: pa.Table, name: str, values: list) -> pa.Table:
    index = table.schema.get_field_index(name)
    return table.set_column(index, table.schema.field(name), pa.array(values, table.schema.field(name).type))


def test_link_id_of_another_node(copy):
    part = first_part(copy, "links")
    # Node 0 is the home page, which links to its two stories.
    rewrite(part, lambda t: set_column(t, "dst_id", [0] * t.num_rows))
    key = pq.read_table(part).column("dst_key")[0].as_py()
    assert verify(str(copy)).problems == [
        f"links: 2 id(s) that are not the node of their key (first: links/{part.name} row 0: "
        f"dst_id 0 for dst_key {key})"]


def test_page_id_beyond_the_nodes(copy):
    part = first_part(copy, "pages")
    rewrite(part, lambda t: set_column(t, "node_id", [99] * t.num_rows))
    problems = verify(str(copy)).problems
    assert len(problems) == 1
    assert problems[0].startswith(f"pages: 1 id(s) that are not the node of their key "
                                  f"(first: pages/{part.name} row 0: node_id 99 for url_key ")


def test_node_ids_not_dense(copy):
    part = first_part(copy, "nodes")
    rewrite(part, lambda t: set_column(t, "node_id", [i + 1 for i in range(t.num_rows)]))
    problems = verify(str(copy)).problems
    assert problems[0] == (f"nodes: ids are not 0..N-1 in part order (nodes/{part.name} row 0 "
                           "has id 1, expected 0)")
    assert "nodes: 1 url_key(s) have more than one node" not in " ".join(problems)


def test_two_nodes_for_one_key_and_an_orphan_node(copy):
    part = sorted((copy / "nodes").glob("*.parquet"))[-1]
    first = pq.read_table(first_part(copy, "nodes")).slice(0, 1)
    n = sum(pq.read_metadata(p).num_rows for p in (copy / "nodes").glob("*.parquet"))
    rewrite(part, lambda t: pa.concat_tables([t, set_column(first, "node_id", [n])]))
    key = first.column("url_key")[0].as_py()
    assert verify(str(copy)).problems == [
        f"nodes: 1 url_key(s) have more than one node (first: {key})",
        f"nodes: 1 node(s) that no links or pages row refers to (first: node_id {n})"]


def downgrade_to_version_1(folder: Path) -> None:
    """Make ``folder`` what linkgraph wrote before node ids (schema version 1)."""
    for dataset, dropped in (("links", ["src_id", "dst_id"]), ("pages", ["node_id"])):
        for part in (folder / dataset).glob("*.parquet"):
            table = pq.read_table(part).drop_columns(dropped)
            meta = {**table.schema.metadata, b"linkgraph.schema_version": b"1"}
            pq.write_table(table.replace_schema_metadata(meta), part)
    shutil.rmtree(folder / "nodes")
    manifest = json.loads((folder / "crawl.json").read_text())
    (folder / "crawl.json").write_text(json.dumps({**manifest, "schema_version": 1}))


def test_schema_version_1_folder(copy):
    downgrade_to_version_1(copy)
    report = verify(str(copy))
    assert report.ok, report.problems
    assert report.notes == ["written with schema version 1 (this linkgraph writes 2): it can "
                            "be scored, not resumed"]
    assert report.summary() == (f"{copy}: OK (3 links rows in 3 parts, 3 pages rows in 3 parts; "
                                "status finished)")
    # A version-2 part in it is named as such.
    part = first_part(copy, "pages")
    table = pq.read_table(part)
    pq.write_table(table.replace_schema_metadata(
        {**table.schema.metadata, b"linkgraph.schema_version": b"2"}), part)
    assert verify(str(copy)).problems == [f"pages/{part.name}: schema version 2, the folder's is 1"]


def test_a_damaged_chunk_of_any_column_is_found(copy):
    part = max((copy / "links").glob("part-*.parquet"), key=lambda p: p.stat().st_size)
    meta = pq.read_metadata(part)
    column = meta.schema.to_arrow_schema().get_field_index("dst_url")
    chunk = meta.row_group(0).column(column)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(part.read_bytes())
    # Garbage over the chunk's pages, headers included: the footer still parses.
    data[start:start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    part.write_bytes(bytes(data))
    assert pq.read_table(part, columns=["src_id", "dst_id"]).num_rows == meta.num_rows
    problems = verify(str(copy)).problems
    assert len(problems) == 1 and problems[0].startswith(f"links/{part.name}: unreadable ("), problems


def test_score_refuses_a_finished_crawl_missing_its_last_pages_part(copy):
    last = sorted((copy / "pages").glob("part-*.parquet"))[-1]
    last.unlink()
    result = run_linkgraph("score", str(copy), "-q")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith(f"linkgraph: error: {copy} is damaged: ")
    assert "pass --partial" in result.stderr
    result = run_linkgraph("score", str(copy), "-q", "--partial")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (copy / "scores" / "pages.parquet").exists()


def test_pages_whose_links_were_cut_are_a_loud_warning(copy):
    # Not a problem (the crawl did what LINKGRAPH_MAX_LINKS_PER_PAGE says), but a reader
    # must not miss that part of the graph is not there.
    part = first_part(copy, "pages")
    rewrite(part, lambda t: set_column(t, "links_truncated", [1234] + [None] * (t.num_rows - 1)))
    result = run_linkgraph("verify", str(copy))
    assert result.returncode == 0, result.stdout
    assert ("  WARNING: 1 page(s) had more links than LINKGRAPH_MAX_LINKS_PER_PAGE: 1234 "
            "link(s) were not recorded") in result.stdout
    from linkgraph.analysis.summary import crawl_report

    assert "WARNING: 1 page(s) had more links" in crawl_report(str(copy)).splitlines()[1]
