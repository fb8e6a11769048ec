"""The one reader of a crawl folder: classification of a listing, and exact file lists."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from linkgraph.storage.reader import CrawlFolder, classify, sql_files, sql_path
from linkgraph.storage.schemas import PAGES_SCHEMA


def _listing(**datasets: str) -> dict[str, list[str]]:
    return {d: names.split() for d, names in datasets.items()}


def test_a_committed_folder_is_kept_whole_in_commit_order():
    names = "part-000-00001.parquet part-000-00000.parquet part-001-00000.parquet"
    listing = classify(_listing(nodes=names, links=names, pages=names))
    assert listing.kept["pages"] == ["part-000-00000.parquet", "part-000-00001.parquet",
                                     "part-001-00000.parquet"]
    assert all(not listing.stale(d) for d in ("nodes", "links", "pages"))


def test_the_trace_of_a_kill_between_renames_is_uncommitted():
    committed = "part-000-00000.parquet part-000-00001.parquet"
    listing = classify(_listing(nodes=committed + " part-000-00002.parquet .tmp-part-000-00003.parquet",
                                links=committed + " part-000-00002.parquet",
                                pages=committed + " .tmp-part-000-00002.parquet"))
    assert listing.uncommitted == {"nodes": ["part-000-00002.parquet"],
                                   "links": ["part-000-00002.parquet"], "sitemaps": [],
                                   "pages": []}
    assert listing.orphaned == {"nodes": [], "links": [], "sitemaps": [], "pages": []}
    assert listing.temporary["nodes"] == [".tmp-part-000-00003.parquet"]
    assert listing.temporary["pages"] == [".tmp-part-000-00002.parquet"]
    assert listing.kept["links"] == committed.split()


def test_a_missing_pages_part_before_later_batches_is_damage_not_a_kill():
    listing = classify(_listing(
        nodes="part-000-00000.parquet part-000-00001.parquet part-000-00002.parquet",
        links="part-000-00000.parquet part-000-00001.parquet part-000-00002.parquet",
        pages="part-000-00000.parquet part-000-00002.parquet"))
    assert listing.orphaned["links"] == listing.orphaned["nodes"] == ["part-000-00001.parquet"]
    assert not listing.uncommitted["links"]
    assert listing.kept["links"] == ["part-000-00000.parquet", "part-000-00002.parquet"]


def test_inputs_of_a_committed_merge_are_not_read_twice():
    inputs = "part-000-00000.parquet part-000-00001.parquet"
    merged = "part-000-00000-to-000-00001.parquet"
    # Killed after the merged pages part committed, before its inputs were deleted.
    listing = classify(_listing(nodes=f"{inputs} {merged}", links=f"{inputs} {merged}",
                                pages=f"{inputs} {merged} part-001-00000.parquet"))
    for dataset in ("nodes", "links"):
        assert listing.merged_inputs[dataset] == inputs.split()
        assert listing.kept[dataset] == [merged]
    assert listing.kept["pages"] == [merged, "part-001-00000.parquet"]
    # part-001-00000 has no links/nodes partner: a pages part without partners is damage.
    assert listing.unpaired["pages"] == ["part-001-00000.parquet"]
    # Before the merged pages part is there, the merge is not committed: inputs are read.
    listing = classify(_listing(nodes=f"{inputs} {merged}", links=f"{inputs} {merged}",
                                pages=inputs))
    assert listing.kept["links"] == inputs.split()
    assert listing.uncommitted["links"] == [merged]


def test_sitemaps_parts_are_optional_and_never_a_required_partner():
    batches = "part-000-00000.parquet part-000-00001.parquet part-000-00002.parquet"
    # Only batch 1 read a sitemap; batch 3 was killed after its sitemaps part was renamed.
    listing = classify(_listing(nodes=batches, links=batches,
                                sitemaps="part-000-00001.parquet part-000-00003.parquet",
                                pages=batches))
    assert listing.kept["sitemaps"] == ["part-000-00001.parquet"]
    assert listing.kept["pages"] == batches.split()
    assert listing.unpaired["pages"] == []
    assert listing.uncommitted["sitemaps"] == ["part-000-00003.parquet"]
    # A folder written before sitemaps existed has no such folder at all.
    old = classify(_listing(nodes=batches, links=batches, pages=batches))
    assert old.kept["sitemaps"] == [] and old.unpaired["pages"] == []
    # A sitemaps part whose pages part is gone with later batches committed is damage.
    damaged = classify(_listing(nodes=batches, links=batches, sitemaps="part-000-00001.parquet",
                                pages="part-000-00000.parquet part-000-00002.parquet"))
    assert damaged.orphaned["sitemaps"] == ["part-000-00001.parquet"]
    assert damaged.kept["sitemaps"] == []
    # Compaction merged batches 0-2 (the merged sitemaps part is there): inputs go.
    merged = "part-000-00000-to-000-00002.parquet"
    compacted = classify(_listing(nodes=merged, links=merged, pages=merged,
                                  sitemaps=f"part-000-00001.parquet {merged}"))
    assert compacted.merged_inputs["sitemaps"] == ["part-000-00001.parquet"]
    assert compacted.kept["sitemaps"] == [merged]


def test_names_that_are_not_parts_are_ignored():
    listing = classify(_listing(pages="notes.txt _SUCCESS part-000-00000.parquet",
                                links="part-000-00000.parquet", nodes="part-000-00000.parquet"))
    assert listing.kept["pages"] == ["part-000-00000.parquet"]


def test_paths_with_glob_and_quote_characters_name_exactly_one_file(tmp_path):
    con = duckdb.connect()
    for name, value in (("gx[1]", 1), ("gx1", 2), ("it's", 3), ("a*b", 4), ("aXb", 5)):
        (tmp_path / name).mkdir()
        pq.write_table(pa.table({"v": [value]}), tmp_path / name / "p.parquet")
    for name, value in (("gx[1]", 1), ("gx1", 2), ("it's", 3), ("a*b", 4)):
        path = tmp_path / name / "p.parquet"
        assert con.execute(f"SELECT v FROM read_parquet({sql_path(path)})").fetchall() == [(value,)]
    both = sql_files([tmp_path / "gx[1]" / "p.parquet", tmp_path / "it's" / "p.parquet"])
    assert con.execute(f"SELECT sum(v) FROM read_parquet({both})").fetchone() == (4,)


def test_views_over_a_folder_without_parts_are_empty_with_the_schema(tmp_path):
    (tmp_path / "crawl.json").write_text("{}")
    con = CrawlFolder(tmp_path).duckdb()
    assert con.execute("SELECT count(*), count(dst_url) FROM links").fetchone() == (0, 0)
    assert "node_id" in [r[0] for r in con.execute("DESCRIBE pages").fetchall()]


def test_two_folders_in_one_connection_get_views_in_their_own_schemas(tmp_path):
    # diff reads two crawls side by side: each folder's views must stay its own.
    con = duckdb.connect()
    for name, rows in (("old", 0), ("new", 2)):
        folder = tmp_path / name
        (folder / "pages").mkdir(parents=True)
        (folder / "crawl.json").write_text("{}")
        if rows:
            pq.write_table(pa.Table.from_pylist(
                [{"crawl_id": "c", "url": f"http://a.com/{i}", "url_key": i,
                          "node_id": i, "links_count": 0, "rendered": False,
                          "fetched_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}
                         for i in range(rows)], schema=PAGES_SCHEMA),
                folder / "pages" / "part-000-00000.parquet")
        CrawlFolder(folder).duckdb(con, datasets=("pages", "links"), schema=name)
    assert con.execute("SELECT count(*) FROM old.pages").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM new.pages").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM old.links").fetchone() == (0,)
