"""Compaction: merged parts hold the same rows in the same order, node ids stay dense, a
resumed crawl carries on after them, and a kill at any moment loses or doubles nothing."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import REPO, assert_node_ids, crawl_args, linkgraph_argv, run_linkgraph
from linkgraph.demo.localweb import LocalWeb
from linkgraph.storage.verify import verify
from linkgraph.storage import compaction
from linkgraph.storage.compaction import plan
from linkgraph.storage.crawl_dir import CrawlDir
from linkgraph.storage.part_names import covered, list_parts, merged_name, part_name, part_range
from test_resume import BATCHES, HOST, commit, item, make_site, open_pipeline, snapshot

DATASETS = ("nodes", "links", "pages")


# -- names and plans --------------------------------------------------------------------
def test_merged_names_sort_and_cover(tmp_path):
    merged = merged_name((0, 0), (0, 449))
    assert merged == "part-000-00000-to-000-00449.parquet"
    assert part_range(merged) == ((0, 0), (0, 449))
    assert part_range(part_name(2, 7)) == ((2, 7), (2, 7))
    assert part_range("notes.parquet") is None
    assert part_range("part-000-00009-to-000-00001.parquet") is None
    with pytest.raises(ValueError):
        merged_name((0, 3), (0, 3))
    # Sorted by first batch, numbers as numbers (batch 100,000 has six digits).
    order = [merged_name((0, 0), (0, 449)), merged_name((0, 450), (0, 100_000)),
             part_name(0, 100_001), part_name(1, 0), part_name(1, 1)]
    for name in [*order, ".tmp-" + part_name(1, 2)]:
        (tmp_path / name).write_bytes(b"")
    assert list_parts(str(tmp_path)) == order
    assert covered([part_name(0, 5), part_name(0, 450), part_name(1, 0), order[0], "x.parquet"],
                   by=[order[0]]) == [part_name(0, 5)]
    # A merged part inside a bigger one (a re-merge killed before its deletes) is covered.
    assert covered([order[0]], by=[merged_name((0, 0), (1, 1))]) == [order[0]]


@pytest.mark.parametrize("sizes, target, runs", [
    ([10] * 10, 50, [range(0, 5), range(5, 10)]),
    ([10] * 10, 1000, [range(0, 10)]),
    ([10] * 10, 34, [range(0, 3), range(3, 7), range(7, 10)]),
    # A part of at least half the target stays as it is; the small ones around it merge.
    ([10, 10, 60, 10, 10, 10], 100, [range(0, 2), range(3, 6)]),
    # A compacted folder: nothing to do, however often it is compacted.
    ([100, 100, 30], 100, []),
    ([10], 100, []),
    ([], 100, []),
    ([0, 0, 0], 100, [range(0, 3)]),
])
def test_plan(sizes, target, runs):
    assert plan(sizes, target) == runs


# -- folders written by the pipeline itself ---------------------------------------------
def pipeline_folder(out: Path, batches: int = 12, pages: int = 5, seed: int = 3) -> Path:
    """An interrupted crawl of ``batches`` batches committed by the real pipeline."""
    rng = random.Random(seed)
    pipeline = open_pipeline(out)
    for b in range(batches):
        items = []
        for p in range(pages):
            targets = [f"http://a.example/{rng.randrange(200)}" for _ in range(rng.randrange(8))]
            items.append(item(f"http://a.example/{b}-{p}",
                              targets + [f"http://b{rng.randrange(30)}.example/"]))
        commit(pipeline, items)
    pipeline.crawl_dir.finish("interrupted")
    return out


def tables(folder: Path) -> dict[str, pa.Table]:
    """Every dataset of ``folder`` as one table, its parts read in part order."""
    return {d: pa.concat_tables(pq.read_table(folder / d / n) for n in list_parts(str(folder / d)))
            for d in DATASETS}


def assert_same_rows(folder: Path, reference: dict[str, pa.Table]) -> None:
    got = tables(folder)
    for dataset in DATASETS:
        # Same values, same order, same schema (field docs and file metadata included).
        assert got[dataset].schema.equals(reference[dataset].schema, check_metadata=True)
        assert got[dataset].equals(reference[dataset]), dataset


def compact(folder: Path, rows: int) -> compaction.CompactionReport:
    crawl_dir = CrawlDir.attach(str(folder))
    try:
        return crawl_dir.compact(rows)
    finally:
        crawl_dir.close()


def test_compaction_keeps_every_row_in_order(tmp_path):
    out = pipeline_folder(tmp_path / "out")
    before = tables(out)
    sizes = [pq.read_metadata(out / "links" / n).num_rows for n in list_parts(str(out / "links"))]
    report = compact(out, 100)
    assert report.parts_before == 12 and report.parts_after == len(report.merged) > 1
    for dataset in DATASETS:
        assert list_parts(str(out / dataset)) == report.merged
    assert report.rows["links"] == sum(sizes) == before["links"].num_rows
    assert_same_rows(out, before)
    nodes = assert_node_ids(out)
    assert len(nodes) == before["nodes"].num_rows
    for name in report.merged:
        column = pq.ParquetFile(out / "links" / name).metadata.row_group(0).column(0)
        assert column.compression == "ZSTD"
    # Compacting again changes nothing; a bigger target merges the merged parts.
    assert compact(out, 100).merged == []
    again = compact(out, 10_000)
    assert again.merged == ["part-000-00000-to-000-00011.parquet"]
    assert_same_rows(out, before)
    assert verify(str(out)).ok
    assert not list(out.rglob(".tmp-*"))


def test_row_groups_are_full_size(tmp_path, monkeypatch):
    # Small row groups, so a few hundred rows span several of them.
    monkeypatch.setattr("linkgraph.storage.parquet_writer.ROW_GROUP_SIZE", 16)
    out = pipeline_folder(tmp_path / "out", batches=8, pages=6)
    before = tables(out)
    report = compact(out, 10_000)
    (name,) = report.merged
    meta = pq.read_metadata(out / "links" / name)
    groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert groups[:-1] == [16] * (len(groups) - 1) and 0 < groups[-1] <= 16
    assert_same_rows(out, before)


@pytest.mark.e2e
def test_every_crash_state_recovers(tmp_path):
    """Copy the folder after every step of a compaction (what a kill there leaves), then
    check that recovering each copy gives exactly the committed rows."""
    out = pipeline_folder(tmp_path / "out", batches=7)
    before = tables(out)
    states: list[Path] = []

    def keep_state() -> None:
        state = tmp_path / f"state-{len(states):03d}"
        shutil.copytree(out, state)
        states.append(state)

    crawl_dir = CrawlDir.attach(str(out))
    report = compaction.compact(crawl_dir, 100, on_step=keep_state)
    crawl_dir.close()
    assert len(report.merged) >= 2 and len(states) > 40
    dirty = 0
    for state in states:
        dirty += not verify(str(state)).ok
        compact(state, 10**9)  # recovers, then merges whatever is left
        assert_same_rows(state, before)
        assert_node_ids(state)
    # Most states are mid-way: temporaries, partnerless merged parts, covered inputs.
    assert dirty > len(states) // 2


def test_recover_removes_covered_inputs(tmp_path):
    out = pipeline_folder(tmp_path / "out", batches=4)
    saved = tmp_path / "saved"
    shutil.copytree(out, saved)
    compact(out, 10**9)
    # The merged triple committed, then the kill: every input is still there.
    for dataset in DATASETS:
        for part in (saved / dataset).glob("*.parquet"):
            shutil.copy(part, out / dataset / part.name)
    report = verify(str(out))
    assert [p.split(" (")[0] for p in report.problems] == [
        f"{d}/: 4 part(s) whose batches a merged part holds too" for d in DATASETS]
    # verify sees the folder as recovering leaves it: right counts, no duplicate rows.
    assert report.rows == {"links": tables(saved)["links"].num_rows,
                           "pages": 20, "nodes": tables(saved)["nodes"].num_rows}
    result = run_linkgraph("compact", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == ("removed 12 leftover file(s) of an interrupted "
                                             "crawl or compaction")
    assert_same_rows(out, tables(saved))
    assert verify(str(out)).ok


def test_resume_after_compaction(tmp_path):
    out = tmp_path / "out"
    pipeline = open_pipeline(out)
    commit(pipeline, BATCHES[0])
    commit(pipeline, BATCHES[1])
    pipeline.crawl_dir.finish("interrupted")
    assert compact(out, 1000).merged == ["part-000-00000-to-000-00001.parquet"]
    resumed = open_pipeline(out)
    assert resumed.crawl_dir.session == 1 and resumed.nodes.size == 6
    commit(resumed, BATCHES[2])
    assert list_parts(str(out / "pages")) == ["part-000-00000-to-000-00001.parquet",
                                              "part-001-00000.parquet"]
    nodes = assert_node_ids(out)
    assert [n["url"] for n in nodes][6:] == ["http://a.example/4", "http://c.example/"]
    resumed.crawl_dir.finish("interrupted")
    # The merged part is merged again with the new session's batch.
    assert compact(out, 1000).merged == ["part-000-00000-to-001-00000.parquet"]
    assert [n["url"] for n in assert_node_ids(out)] == [n["url"] for n in nodes]


@pytest.mark.e2e
def test_compact_command_refusals(tmp_path):
    def error(*args: str) -> str:
        result = run_linkgraph("compact", *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        (line,) = result.stderr.splitlines()
        return line

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert error(str(other)) == (f"linkgraph: error: {other} holds no linkgraph crawl "
                                 "(no crawl.json)")
    assert error(str(tmp_path / "nope")) == f"linkgraph: error: {tmp_path / 'nope'} does not exist"
    assert "expected a whole number >= 1, got 'x'" in error(str(other), "--rows", "x")
    out = pipeline_folder(tmp_path / "out", batches=2)
    manifest = json.loads((out / "crawl.json").read_text())
    (out / "crawl.json").write_text(json.dumps({**manifest, "schema_version": 1}))
    assert error(str(out)) == (f"linkgraph: error: {out} holds a crawl written with schema "
                               "version 1 (this linkgraph writes 2), which it cannot compact")
    (out / "crawl.json").write_text(json.dumps(manifest))
    # A folder that another process holds (a crawl writing it) is refused.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from linkgraph.storage.crawl_dir import CrawlDir; "
        f"CrawlDir.attach({str(out)!r}); print('held', flush=True); time.sleep(60)")],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert error(str(out)) == (f"linkgraph: error: {out} is being written by another "
                                   f"linkgraph process (pid {holder.pid}: a crawl or a "
                                   "compaction); wait until it ends")
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    # The kernel dropped the dead holder's lock.
    assert run_linkgraph("compact", str(out), "-q").returncode == 0


@pytest.mark.e2e
@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path):
    original = pipeline_folder(tmp_path / "original", batches=10)
    before = tables(original)
    command = linkgraph_argv("compact", "--rows", "100", "-q")
    # Test-only: sleep after each step, so random kill times land in every phase.
    env = {**os.environ, compaction.PAUSE_ENV: "0.02"}
    whole = tmp_path / "whole"
    shutil.copytree(original, whole)
    started = time.monotonic()
    subprocess.run([*command, str(whole)], cwd=REPO, env=env, check=True, timeout=120)
    duration = time.monotonic() - started
    rng = random.Random(int(os.environ.get("LINKGRAPH_KILL_SEED", "5")))
    kills = dirty = 0
    for attempt in range(6):
        folder = tmp_path / f"killed-{attempt}"
        shutil.copytree(original, folder)
        proc = subprocess.Popen([*command, str(folder)], cwd=REPO, env=env)
        # Python and pyarrow take ~0.5 s to start; the steps fill the rest.
        time.sleep(rng.uniform(0.4, duration))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        dirty += not verify(str(folder)).ok
        attached = CrawlDir.attach(str(folder))
        attached.recover()  # what opening the folder for a crawl or a compaction does
        attached.close()
        assert_same_rows(folder, before)
        assert_node_ids(folder)
        # Compacting again finishes the job: the same parts as an uninterrupted run.
        compact(folder, 100)
        assert_same_rows(folder, before)
        assert list_parts(str(folder / "links")) == list_parts(str(whole / "links"))
    assert kills >= 4, "the compaction ended before it could be killed: slow it down more"
    # Killed mid-way (temporaries, partnerless merged parts, covered inputs), not between
    # two runs only.
    assert dirty >= 3, dirty


# -- real crawls ------------------------------------------------------------------------
def crawl_cmd(server, out: Path, *extra: str) -> list[str]:
    """A crawl of the 400-page site in batches of 7 pages (58 part triples)."""
    return linkgraph_argv("crawl", f"http://{HOST}/", "-o", str(out),
            *crawl_args(server, "-s", "LINKGRAPH_FLUSH_PAGES=7", "-s", "CONCURRENT_REQUESTS=16",
                        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16",
                        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=INFO", *extra))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    make_site(root)
    return root


@pytest.fixture(scope="module")
def reference(site, tmp_path_factory) -> tuple[Path, Counter, Counter]:
    """An uninterrupted crawl of the 400-page site, not compacted (58 part triples)."""
    out = tmp_path_factory.mktemp("reference") / "out"
    with LocalWeb(str(site)) as server:
        result = subprocess.run(crawl_cmd(server, out, "-s", "LINKGRAPH_COMPACT=False"),
                                cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list_parts(str(out / "pages"))) == 58
    return out, *snapshot(out)


@pytest.mark.e2e
def test_a_finished_crawl_ends_compacted(site, reference, tmp_path):
    ref, ref_links, ref_pages = reference
    out = tmp_path / "out"
    with LocalWeb(str(site)) as server:
        result = subprocess.run(crawl_cmd(server, out, "-s", "LINKGRAPH_COMPACT_ROWS=2000"),
                                cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    parts = {d: list_parts(str(out / d)) for d in DATASETS}
    # ~5,300 links rows in 58 batches, 2,000 a merged part: 3 merged triples.
    assert len(parts["pages"]) == 3 and parts["nodes"] == parts["links"] == parts["pages"]
    assert all(part_range(n)[0] < part_range(n)[1] for n in parts["pages"])
    assert "compacted 58 part triples into 3" in result.stderr
    assert "'linkgraph/compaction/parts_after': 3" in result.stderr
    manifest = json.loads((out / "crawl.json").read_text())
    assert manifest["status"] == "finished"
    assert manifest["sessions"][-1]["compaction"]["parts_before"] == 58
    assert snapshot(out) == (ref_links, ref_pages)
    assert len(assert_node_ids(out)) == len(assert_node_ids(ref))
    # The reference, compacted by the command: the same rows in the same order.
    copy = tmp_path / "ref-copy"
    shutil.copytree(ref, copy)
    result = run_linkgraph("compact", str(copy), "--rows", "2000")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(f"{copy}: compacted 58 part triples into 3 (")
    assert_same_rows(copy, tables(ref))


class Killed(Exception):
    """Stands for the kill: raised from a step of the compaction."""


@pytest.mark.e2e
def test_kill_during_the_final_compaction(site, reference, tmp_path):
    """The crawl finished fetching and was killed while compacting: the manifest still
    says running, so the same command resumes, fetches nothing and compacts."""
    ref, ref_links, ref_pages = reference
    out = tmp_path / "out"
    shutil.copytree(ref, out)
    steps = 0

    def kill_at_step_70() -> None:
        nonlocal steps
        steps += 1
        if steps == 70:
            raise Killed

    crawl_dir = CrawlDir.attach(str(out))
    with pytest.raises(Killed):
        compaction.compact(crawl_dir, 2000, on_step=kill_at_step_70)
    crawl_dir.close()
    assert not verify(str(out)).ok  # a merged part and the inputs it covers
    manifest = json.loads((out / "crawl.json").read_text())
    (out / "crawl.json").write_text(json.dumps({**manifest, "status": "running"}))
    with LocalWeb(str(site)) as server:
        result = subprocess.run(crawl_cmd(server, out, "-s", "LINKGRAPH_COMPACT_ROWS=2000"),
                                cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "0 to fetch" in result.stderr and "into 3 (" in result.stderr
    assert len(list_parts(str(out / "pages"))) == 3
    assert snapshot(out) == (ref_links, ref_pages)
    assert_same_rows(out, tables(ref))


@pytest.mark.e2e
@pytest.mark.slow
def test_killed_crawl_compacted_then_resumed(site, reference, tmp_path):
    _, ref_links, ref_pages = reference
    out = tmp_path / "out"
    with LocalWeb(str(site)) as server:
        # ~20 ms between requests, 4 at a time: the crawl lasts ~8 s, long enough to act on.
        cmd = crawl_cmd(server, out, "-s", "LINKGRAPH_COMPACT_ROWS=2000",
                        "-s", "DOWNLOAD_DELAY=0.02", "-s", "CONCURRENT_REQUESTS=4",
                        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4")
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            time.sleep(2.5)
            assert proc.poll() is None, "the crawl ended too soon"
            # The crawl holds its folder: no compaction meanwhile.
            busy = run_linkgraph("compact", str(out))
            assert busy.returncode == 2
            assert f"is being written by another linkgraph process (pid {proc.pid}" in busy.stderr
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        compacted = run_linkgraph("compact", str(out), "--rows", "500")
        assert compacted.returncode == 0, compacted.stderr
        assert verify(str(out)).ok
        assert len(list_parts(str(out / "pages"))) < 10
        final = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    assert snapshot(out) == (ref_links, ref_pages)
    assert_node_ids(out)
    parts = list_parts(str(out / "pages"))
    assert len(parts) <= 4 and all(part_range(n)[0] < part_range(n)[1] for n in parts)
