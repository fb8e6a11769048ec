"""``linkgraph verify DIR`` on a real crawl folder, then on broken copies of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import crawl_args, run_linkgraph
from linkgraph.verify import verify

B = "http://www.beta-news.org/"


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    from conftest import FIXTURE_WEB
    from linkgraph.localweb import LocalWeb

    out = tmp_path_factory.mktemp("verify") / "out"
    with LocalWeb(str(FIXTURE_WEB)) as server:
        result = run_linkgraph("crawl", B, "-o", str(out), "-s", "ROBOTSTXT_OBEY=False",
                               "-s", "LINKGRAPH_FLUSH_PAGES=1", *crawl_args(server))
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
    # www.beta-news.org has 3 pages and 3 links, committed one page per part.
    assert result.stdout.splitlines() == [
        f"{good}: OK (3 links rows in 3 parts, 3 pages rows in 3 parts; status finished)"]


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
        "pages/part-009-00000.parquet: holds dataset 'links', not 'pages'"]


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
    assert len(problems) == 1 and problems[0].startswith("pages: 1 URL(s) have more than one row")


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
