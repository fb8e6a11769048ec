"""``linkgraph merge``: the folders of one crawl's workers made one crawl folder: one dense
id space, each page once (the earliest fetch) with exactly its own links, sitemaps rows
once, the refusals in one line, and a killed merge that says so and merges again."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import (REPO, FIXTURE_WEB, assert_node_ids, crawl_args, read_rows, run_linkgraph,
                      subprocess_env)
from linkgraph.crawl.items import SitemapItem
from linkgraph.crawl.sitemaps import SitemapEntry
from linkgraph.demo.localweb import LocalWeb
from linkgraph.storage.merge import merge
from linkgraph.storage.part_names import list_parts
from linkgraph.storage.verify import verify
from test_resume import BATCHES, item, open_pipeline

DATASETS = ("nodes", "links", "pages", "sitemaps")
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)
A = "http://a.example"


def at(page, minutes: int):
    """``page`` fetched ``minutes`` after T0."""
    return replace(page, fetched_at=T0 + timedelta(minutes=minutes))


def sitemap(name: str, minutes: int, *paths: str) -> SitemapItem:
    return SitemapItem(f"{A}/{name}", T0 + timedelta(minutes=minutes),
                       [SitemapEntry(f"{A}{p}", None) for p in paths])


def worker_folder(path: Path, batches: list[list], crawl_id: str = "w",
                  status: str = "finished") -> Path:
    """A crawl folder written by the crawl's own pipeline, one batch per list of items."""
    pipeline = open_pipeline(path)
    pipeline.crawl_dir.manifest.crawl_id = crawl_id
    for items in batches:
        for one in items:
            pipeline.process_item(one)
        pipeline.flush()
    pipeline.close_spider()
    pipeline.crawl_dir.finish(status)
    return path


def rows(folder: Path, dataset: str) -> list[dict]:
    """Every row of a dataset, in part (commit) order."""
    return [row for name in list_parts(str(folder / dataset))
            for row in pq.read_table(folder / dataset / name).to_pylist()]


def without_ids(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("src_id", "dst_id", "node_id")}


def as_key(row: dict) -> str:
    """A row without its ids, as a hashable value."""
    return json.dumps(without_ids(row), sort_keys=True, default=str)


# -- small folders written by the pipeline -----------------------------------------------
def test_one_folder_merges_to_itself(tmp_path):
    source = worker_folder(tmp_path / "w1", BATCHES)
    report = merge([str(source)], str(tmp_path / "out"))
    out = tmp_path / "out"
    for dataset in ("nodes", "links", "pages"):
        assert rows(out, dataset) == rows(source, dataset), dataset
    assert report.dropped == {"pages": 0, "links": 0, "sitemaps": 0}
    assert report.status == "finished"
    assert list_parts(str(out / "pages")) == [f"part-001-0000{i}.parquet" for i in range(3)]
    assert_node_ids(out)


@pytest.fixture
def two_workers(tmp_path) -> tuple[Path, Path]:
    """Two workers of crawl w that both fetched a.example/1 and a.example/2.

    a/1: both at minute 0, so input order decides (w1's copy). a/2: w2's copy is earlier.
    w1's second batch then keeps only its sitemap s2.xml; w2's second batch nothing.
    s1.xml was read by both, by w2 first.
    """
    w1 = worker_folder(tmp_path / "w1", [
        [at(item(f"{A}/", [f"{A}/1", "http://b.example/", "mailto:x@a.example"]), 0),
         at(item(f"{A}/1", [f"{A}/", f"{A}/2"]), 0), sitemap("s1.xml", 1, "/", "/9")],
        [at(item(f"{A}/2", [f"{A}/3", "http://x.example/only-in-w1s-copy"]), 5),
         sitemap("s2.xml", 5, "/7")],
    ])
    w2 = worker_folder(tmp_path / "w2", [
        [at(item(f"{A}/2", [f"{A}/3", f"{A}/4"]), 2), at(item(f"{A}/3", []), 3),
         sitemap("s1.xml", 0, "/", "/9", "/8")],
        [at(item(f"{A}/1", [f"{A}/2"]), 0)],
    ])
    return w1, w2


def test_duplicates_keep_the_earliest_fetch_with_its_own_links(tmp_path, two_workers):
    w1, w2 = two_workers
    out = tmp_path / "out"
    report = merge([str(w1), str(w2)], str(out))
    assert report.rows == {"pages": 4, "links": 7, "nodes": 7, "sitemaps": 4}
    assert report.dropped == {"pages": 2, "links": 3, "sitemaps": 2}
    assert report.summary().startswith(
        f"{out}: merged 2 folder(s) into 4 pages, 7 links, 7 nodes, 4 sitemaps rows; 2 "
        "duplicate pages rows dropped with 3 links rows, 2 duplicate sitemaps rows; status "
        "finished in ")
    # Ids by the pipeline's rule over the kept rows: w1's first batch (pages, then link
    # ends), w1's second batch has no page left, then w2's first; w2's second is dropped.
    nodes = assert_node_ids(out)
    assert [n["url"] for n in nodes] == [f"{A}/", f"{A}/1", "http://b.example/",
                                         "mailto:x@a.example", f"{A}/2", f"{A}/3", f"{A}/4"]
    assert list_parts(str(out / "pages")) == [f"part-002-0000{i}.parquet" for i in range(3)]
    assert list_parts(str(out / "sitemaps")) == ["part-002-00001.parquet",
                                                 "part-002-00002.parquet"]
    pages = {p["url"]: p for p in rows(out, "pages")}
    assert len(pages) == 4 and len(rows(out, "pages")) == 4
    source_of = {f"{A}/": w1, f"{A}/1": w1, f"{A}/2": w2, f"{A}/3": w2}
    for url, source in source_of.items():
        (kept,) = [p for p in rows(source, "pages") if p["url"] == url]
        assert without_ids(pages[url]) == without_ids(kept)
        # The page's links are those of the copy kept, in their order, nothing else.
        assert ([without_ids(r) for r in rows(out, "links") if r["src_url"] == url]
                == [without_ids(r) for r in rows(source, "links") if r["src_url"] == url])
    assert [(r["sitemap_url"][len(A) + 1:], r["url"][len(A):], r["fetched_at"].minute)
            for r in rows(out, "sitemaps")] == [("s2.xml", "/7", 5), ("s1.xml", "/", 0),
                                                ("s1.xml", "/9", 0), ("s1.xml", "/8", 0)]
    manifest = json.loads((out / "crawl.json").read_text())
    assert (manifest["crawl_id"], manifest["status"]) == ("w", "finished")
    assert [s.get("input") for s in manifest["sessions"]] == [str(w1), str(w2), None]
    assert manifest["sessions"][-1]["merged_from"] == [str(w1), str(w2)]
    assert manifest["sessions"][-1]["merge"]["dropped"] == report.dropped
    # Merging the other way round keeps the same copies but a/1 (the tie goes to w2).
    other = merge([str(w2), str(w1)], str(tmp_path / "other"))
    assert other.dropped == {"pages": 2, "links": 4, "sitemaps": 2}
    kept_a1 = [r["dst_url"] for r in rows(tmp_path / "other", "links") if r["src_url"] == f"{A}/1"]
    assert kept_a1 == [f"{A}/2"]
    assert_node_ids(tmp_path / "other")


@pytest.mark.parametrize("target, parts", [(100, 1), (3, 3)])
def test_merged_born_compacted_is_the_merge_then_compacted(tmp_path, two_workers, target,
                                                           parts):
    """``batch_rows`` packs runs of input batches into one output batch by compaction's
    rule: the rows, ids and order of a merge compacted afterwards, in one pass."""
    from linkgraph.storage.crawl_dir import CrawlDir

    w1, w2 = two_workers
    then = tmp_path / "then"
    merge([str(w1), str(w2)], str(then))
    crawl_dir = CrawlDir.attach(str(then))
    try:
        crawl_dir.compact(target)
    finally:
        crawl_dir.close()
    once = tmp_path / "once"
    report = merge([str(w1), str(w2)], str(once), batch_rows=target)
    assert report.rows == {"pages": 4, "links": 7, "nodes": 7, "sitemaps": 4}
    assert report.dropped == {"pages": 2, "links": 3, "sitemaps": 2}
    for dataset in DATASETS:
        assert rows(once, dataset) == rows(then, dataset), dataset
    assert len(list_parts(str(once / "pages"))) == parts
    assert_node_ids(once)
    assert verify(str(once)).ok


def test_an_unfinished_input_makes_an_interrupted_merge(tmp_path):
    w1 = worker_folder(tmp_path / "w1", BATCHES[:2])
    w2 = worker_folder(tmp_path / "w2", BATCHES[1:], status="interrupted")
    report = merge([str(w1), str(w2)], str(tmp_path / "out"))
    assert report.status == "interrupted" and report.unfinished == [str(w2)]
    assert f"(1 input(s) not finished, first {w2}: resume them" in report.summary()
    assert json.loads((tmp_path / "out" / "crawl.json").read_text())["status"] == "interrupted"
    # BATCHES[1] is in both, fetched at the same time: w1's copy stays.
    assert report.dropped["pages"] == 2
    assert_node_ids(tmp_path / "out")


def test_a_killed_merge_says_so_and_merging_again_gives_the_same_folder(tmp_path, two_workers):
    w1, w2 = two_workers
    killed = tmp_path / "killed"
    # A real SIGKILL right after the second output batch is committed.
    code = ("import os, signal; from linkgraph.storage.merge import merge; calls = []\n"
            "def kill():\n    calls.append(1)\n"
            "    if len(calls) == 2: os.kill(os.getpid(), signal.SIGKILL)\n"
            f"merge([{str(w1)!r}, {str(w2)!r}], {str(killed)!r}, on_batch=kill)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=subprocess_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == -9, result.stderr
    assert json.loads((killed / "crawl.json").read_text())["status"] == "merging"
    assert len(list_parts(str(killed / "pages"))) == 2
    report = verify(str(killed))
    assert report.ok and any("merge was stopped" in n for n in report.notes), report.notes
    # Neither a crawl nor another merge takes it for a crawl to continue.
    crawl = run_linkgraph("crawl", f"{A}/", "-o", str(killed), "--allow", "a.example")
    assert crawl.returncode == 2 and crawl.stderr.splitlines() == [
        f"linkgraph: error: {killed} holds a linkgraph merge that was stopped before it "
        "finished; delete it and merge again, or pass --fresh to crawl"]
    again = run_linkgraph("merge", str(killed), "-o", str(tmp_path / "x"))
    assert again.returncode == 2 and again.stderr.splitlines() == [
        f"linkgraph: error: {killed} holds a merge that was stopped before it finished; "
        "merge its inputs again instead"]
    # The inputs were not changed: merging them again into a new folder is whole.
    fresh, reference = tmp_path / "fresh", tmp_path / "reference"
    assert run_linkgraph("merge", str(w1), str(w2), "-o", str(fresh), "-q").returncode == 0
    merge([str(w1), str(w2)], str(reference))
    for dataset in DATASETS:
        assert rows(fresh, dataset) == rows(reference, dataset)
    assert_node_ids(fresh)


def test_refusals_are_one_line_and_write_nothing(tmp_path, two_workers):
    w1, w2 = two_workers
    out = tmp_path / "out"

    def error(*args: str) -> str:
        result = run_linkgraph("merge", *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert not out.exists()
        (line,) = result.stderr.splitlines()
        return line

    assert error("-o", str(out)) == ("linkgraph: error: merge: the following arguments are "
                                     "required: DIR")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert error(str(w1), str(other), "-o", str(out)) == (
        f"linkgraph: error: {other} holds no linkgraph crawl (no crawl.json)")
    assert error(str(w1), str(tmp_path / "nope"), "-o", str(out)) == (
        f"linkgraph: error: {tmp_path / 'nope'} is not a folder")
    assert error(str(w1), str(w1), "-o", str(out)) == (
        f"linkgraph: error: {w1} is given twice (as {w1} too)")
    # Not empty: even an earlier merge's folder is not written over.
    assert error(str(w1), "-o", str(other)) == (
        f"linkgraph: error: {other} exists and is not an empty folder; merge into a new or "
        "empty folder")
    stranger = worker_folder(tmp_path / "stranger", BATCHES[:1], crawl_id="v")
    assert error(str(w1), str(stranger), "-o", str(out)) == (
        f"linkgraph: error: {stranger} holds crawl v, {w1} holds crawl w: only the folders "
        "of one crawl can be merged")
    manifest = json.loads((w2 / "crawl.json").read_text())
    (w2 / "crawl.json").write_text(json.dumps({**manifest, "allow": ["b.example"]}))
    assert error(str(w1), str(w2), "-o", str(out)) == (
        f"linkgraph: error: {w2} and {w1} hold crawl w with other seeds or scope (--allow): "
        "they are not one crawl")
    (w2 / "crawl.json").write_text(json.dumps({**manifest, "schema_version": 1}))
    assert error(str(w1), str(w2), "-o", str(out)) == (
        f"linkgraph: error: {w2} holds a crawl written with schema version 1 (this linkgraph "
        "writes 2), which it cannot merge")
    (w2 / "crawl.json").write_text(json.dumps(manifest))
    # An input a live process writes (its lock held) is refused.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from linkgraph.storage.crawl_dir import CrawlDir; "
        f"CrawlDir.attach({str(w2)!r}); print('held', flush=True); time.sleep(60)")],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert holder.stdout.readline().strip() == "held"
        assert error(str(w1), str(w2), "-o", str(out)) == (
            f"linkgraph: error: {w2} is being written by another linkgraph process (pid "
            f"{holder.pid}: a crawl or a compaction); wait until it ends")
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    result = run_linkgraph("merge", str(w1), str(w2), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{out}: merged 2 folder(s) into 4 pages")


# -- real crawls of the fixture web ------------------------------------------------------
def _crawl(out: Path, *extra: str) -> Path:
    with LocalWeb(str(FIXTURE_WEB)) as server:
        result = run_linkgraph("crawl", "http://www.alpha-shop.com/", "http://www.beta-news.org/",
                               "-o", str(out), "-q", "--allow", "alpha-shop.com",
                               "--allow", "www.beta-news.org",
                               *crawl_args(server, "-s", "LINKGRAPH_CRAWL_ID=fixture-crawl",
                                           "-s", "LINKGRAPH_SITEMAPS=False", *extra))
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> tuple[Path, Path]:
    """Two workers' folders of one crawl that overlap and each have pages the other lacks:
    one stopped one click from the seeds, the other at URLs of 42 characters (so it lacks
    meta-nofollow.html, 44, but has beta-news.org/archive/old.html, two clicks away)."""
    root = tmp_path_factory.mktemp("workers")
    wide = _crawl(root / "wide", "--max-depth", "1")
    deep = _crawl(root / "deep", "-s", "LINKGRAPH_MAX_URL_LENGTH=42")
    return wide, deep


@pytest.mark.e2e
def test_merged_crawls_read_as_one_crawl(crawled, tmp_path):
    wide, deep = crawled
    wide_pages = {p["url"]: p for p in read_rows(wide, "pages")}
    deep_pages = {p["url"]: p for p in read_rows(deep, "pages")}
    both = wide_pages.keys() & deep_pages.keys()
    assert both and wide_pages.keys() - both and deep_pages.keys() - both, "no overlap to merge"
    out = tmp_path / "out"
    # deep first: wide's copies, fetched earlier, win against the input order.
    result = run_linkgraph("merge", str(deep), str(wide), "-o", str(out))
    assert result.returncode == 0, result.stderr
    (summary,) = result.stdout.splitlines()

    # Each URL's earliest fetch is kept (a tie: the first input's).
    kept = {url: (deep if url not in wide_pages or (url in deep_pages and
                  deep_pages[url]["fetched_at"] <= wide_pages[url]["fetched_at"]) else wide)
            for url in wide_pages.keys() | deep_pages.keys()}
    assert wide in kept.values() and deep in kept.values()
    pages = read_rows(out, "pages")
    assert Counter(p["url"] for p in pages) == Counter(list(kept))
    expected_links = Counter()
    for url, source in kept.items():
        for link in read_rows(source, "links"):
            if link["src_url"] == url:
                expected_links[as_key(link)] += 1
    links = read_rows(out, "links")
    assert Counter(as_key(r) for r in links) == expected_links
    dropped_links = len(read_rows(wide, "links")) + len(read_rows(deep, "links")) - len(links)
    nodes = assert_node_ids(out)
    assert summary.startswith(
        f"{out}: merged 2 folder(s) into {len(pages)} pages, {len(links)} links, "
        f"{len(nodes)} nodes, 0 sitemaps rows; {len(both)} duplicate pages rows dropped with "
        f"{dropped_links} links rows, 0 duplicate sitemaps rows; status finished in ")
    verified = run_linkgraph("verify", str(out))
    assert verified.returncode == 0 and ": OK (" in verified.stdout, verified.stdout
    scored = run_linkgraph("score", str(out), "-q")
    assert scored.returncode == 0, scored.stderr
    scores = pq.read_table(out / "scores" / "pages.parquet").column("url").to_pylist()
    assert set(kept) <= set(scores)
    backlinks = run_linkgraph("backlinks", str(out), "www.alpha-shop.com", "--format", "csv")
    assert backlinks.returncode == 0, backlinks.stderr
    compacted = run_linkgraph("compact", str(out), "-q")
    assert compacted.returncode == 0 and verify(str(out)).ok
    assert Counter(p["url"] for p in read_rows(out, "pages")) == Counter(list(kept))
