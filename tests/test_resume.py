"""Kill -9 a crawl at random moments, resume it, and compare with an uninterrupted crawl;
kill a batch between its renames and check that node ids stay dense."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest
from scrapy.exceptions import CloseSpider
from scrapy.settings import Settings
from scrapy.statscollectors import StatsCollector

from conftest import REPO, assert_node_ids, crawl_args, linkgraph_argv, read_rows, run_linkgraph
from linkgraph.crawl.config import parse_settings
from linkgraph.crawl.items import PageItem
from linkgraph.crawl.resume import load_progress
from linkgraph.demo.localweb import LocalWeb
from linkgraph.extract.records import Link
from linkgraph.storage.crawl_dir import CrawlDir
from linkgraph.storage.part_names import part_name
from linkgraph.storage.verify import verify
from pipelines.parquet_pipeline import ParquetPipeline, build_batch

pytestmark = pytest.mark.e2e

HOST = "www.resume-site.com"
N_PAGES = 400


def make_site(root: Path) -> None:
    """A site of N_PAGES pages, each linking 12 others, a few twice, some off-site."""
    rng = random.Random(7)
    site = root / HOST
    site.mkdir(parents=True)
    for i in range(N_PAGES):
        targets = [(i + 1) % N_PAGES] + rng.sample(range(N_PAGES), 11)
        anchors = "".join(f'<a href="/p{t}.html">page {t}</a>\n' for t in targets)
        anchors += f'<a href="/p{targets[1]}.html">again</a><a href="http://other.example.org/{i}">out</a>'
        (site / f"p{i}.html").write_text(
            f"<html><head><title>Page {i}</title></head><body>{anchors}</body></html>")
    (site / "index.html").write_text('<html><body><a href="/p0.html">start</a></body></html>')


def crawl_cmd(server, out: Path) -> list[str]:
    return linkgraph_argv("crawl", f"http://{HOST}/", "-o", str(out),
            # ~20 ms between requests: a whole crawl takes ~8 s however fast the machine,
            # so the kills below land mid-crawl.
            *crawl_args(server, "-s", "LINKGRAPH_FLUSH_PAGES=7", "-s", "CONCURRENT_REQUESTS=4",
                        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.02",
                        "-s", "LOG_LEVEL=WARNING"))


def snapshot(out: Path) -> tuple[Counter, Counter]:
    links = Counter((r["src_url"], r["dst_url"], r["ordinal"], r["link_type"], r["anchor_text"])
                    for r in read_rows(out, "links"))
    pages = Counter((r["url"], r["status"]) for r in read_rows(out, "pages"))
    return links, pages


@pytest.mark.slow
def test_kill_and_resume_equals_uninterrupted(tmp_path):
    make_site(tmp_path / "web")
    with LocalWeb(str(tmp_path / "web")) as server:
        reference = tmp_path / "reference"
        result = subprocess.run(crawl_cmd(server, reference), cwd=REPO, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        ref_links, ref_pages = snapshot(reference)
        assert len(ref_pages) == N_PAGES + 1 and max(ref_pages.values()) == 1

        out = tmp_path / "killed"
        rng = random.Random(int(os.environ.get("LINKGRAPH_KILL_SEED", "11")))
        kills = 0
        for _ in range(4):
            proc = subprocess.Popen(crawl_cmd(server, out), cwd=REPO, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(1.5, 3.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
        assert kills >= 2, "the crawl finished before it could be killed: make the site bigger"
        final = subprocess.run(crawl_cmd(server, out), cwd=REPO, capture_output=True,
                               text=True, timeout=300)
        assert final.returncode == 0, final.stderr[-2000:]

    links, pages = snapshot(out)
    # Same pages, same link instances, each exactly once.
    assert pages == ref_pages
    assert links == ref_links
    # Node ids stayed dense and consistent across the kills: one node per URL, the
    # same URLs as the uninterrupted crawl (ids may differ: they follow commit order).
    nodes = assert_node_ids(out)
    assert sorted(n["url"] for n in nodes) == sorted(n["url"] for n in assert_node_ids(reference))
    assert not list(out.rglob(".tmp-*"))
    again = run_linkgraph("crawl", f"http://{HOST}/", "-o", str(out), *crawl_args(server))
    assert again.returncode == 0 and "finished crawl" in again.stderr


# -- node ids across interrupted commits, without a live crawl ---------------------------
SEEDS, ALLOW = ["http://a.example/"], ["a.example"]


def item(url: str, targets: list[str]) -> PageItem:
    links = [Link(t, urlsplit(t).hostname, "text", [], False, False, False, "a", "anchor",
                  None, None, i) for i, t in enumerate(targets)]
    return PageItem(url=url, depth=0, fetched_at=datetime(2026, 11, 1, tzinfo=timezone.utc),
                    status=200, links=links)


BATCHES = [
    [item("http://a.example/", ["http://a.example/1", "http://b.example/", "mailto:x@a.example"]),
     item("http://a.example/1", ["http://a.example/", "http://a.example/2"])],
    [item("http://a.example/2", ["http://a.example/3", "http://b.example/", "http://a.example/2"]),
     item("http://a.example/3", [])],
    [item("http://a.example/4", ["http://c.example/", "http://a.example/3"])],
]


def pipeline_settings(out: Path) -> Settings:
    settings = Settings()
    settings.setmodule("linkgraph.settings")
    settings.set("LINKGRAPH_OUTPUT", str(out))
    return settings


def open_pipeline(out: Path) -> ParquetPipeline:
    """A crawl session on ``out`` (new or resumed) with its pipeline opened."""
    settings = pipeline_settings(out)
    # The pipeline reads only settings and stats from its crawler: no engine, no reactor.
    crawler = SimpleNamespace(settings=settings, spider=None)
    crawler.stats = StatsCollector(crawler)
    pipeline = ParquetPipeline(crawler)
    crawl_dir = CrawlDir.open(str(out), SEEDS, ALLOW)
    try:
        pipeline.open_spider(SimpleNamespace(crawl_dir=crawl_dir))
    except CloseSpider:
        # A crawl that cannot start ends its session, releasing the folder's lock.
        crawl_dir.finish("interrupted")
        raise
    return pipeline


def commit(pipeline: ParquetPipeline, items: list[PageItem]) -> None:
    for page in items:
        pipeline.process_item(page)
    pipeline.flush()


@pytest.mark.parametrize("committed", [(), ("nodes",), ("nodes", "links")])
def test_kill_between_the_renames_of_a_batch(tmp_path, committed):
    out = tmp_path / "out"
    pipeline = open_pipeline(out)
    commit(pipeline, BATCHES[0])
    # What flush() had renamed into place when the kill came.
    tables = dict(zip(("nodes", "links", "pages"),
                      build_batch(BATCHES[1], "x", pipeline.nodes)))
    for dataset in committed:
        getattr(pipeline.crawl_dir, dataset).write(part_name(0, 1), tables[dataset])
    assert pipeline.nodes.size == 6  # the killed process had given a/3 an id

    resumed = open_pipeline(out)
    assert resumed.nodes.size == len(read_rows(out, "nodes")) == 5
    assert not list((out / "nodes").glob("part-000-00001*"))
    commit(resumed, BATCHES[1])
    commit(resumed, BATCHES[2])
    nodes = assert_node_ids(out)
    assert [n["url"] for n in nodes] == [
        "http://a.example/", "http://a.example/1", "http://b.example/", "mailto:x@a.example",
        "http://a.example/2", "http://a.example/3", "http://a.example/4", "http://c.example/"]


def test_a_failed_write_stops_writing_and_gives_its_ids_again(tmp_path, monkeypatch):
    out = tmp_path / "out"
    pipeline = open_pipeline(out)
    commit(pipeline, BATCHES[0])

    def disk_full(name: str, table: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline.crawl_dir.links, "write", disk_full)
    commit(pipeline, BATCHES[1])
    assert pipeline.nodes.size == 5 and not list((out / "nodes").glob("part-000-00001*"))
    assert "No space left on device" in pipeline.crawler.stats.get_value("linkgraph/write_error")
    monkeypatch.undo()
    # Nothing after a lost batch is written: the folder has no gap, only an end.
    commit(pipeline, BATCHES[2])
    assert len(list((out / "pages").glob("*.parquet"))) == 1
    pipeline.crawl_dir.finish("interrupted")
    resumed = open_pipeline(out)
    commit(resumed, BATCHES[2])
    nodes = assert_node_ids(out)
    assert [n["url"] for n in nodes][5:] == ["http://a.example/4", "http://c.example/",
                                             "http://a.example/3"]


def test_a_batch_without_new_urls_has_an_empty_nodes_part(tmp_path):
    out = tmp_path / "out"
    pipeline = open_pipeline(out)
    commit(pipeline, BATCHES[0])
    # A page first seen as a link target, linking to known URLs only.
    commit(pipeline, [item("http://b.example/", ["http://a.example/"])])
    assert [pq.read_metadata(p).num_rows for p in sorted((out / "nodes").glob("*.parquet"))] == [5, 0]
    assert_node_ids(out)


def test_damaged_nodes_are_refused_in_one_line(tmp_path):
    out = tmp_path / "out"
    pipeline = open_pipeline(out)
    commit(pipeline, BATCHES[0])
    commit(pipeline, BATCHES[1])
    pipeline.crawl_dir.finish("interrupted")
    (out / "nodes" / part_name(0, 0)).unlink()
    with pytest.raises(CloseSpider):
        open_pipeline(out)
    # Through the CLI: one error line at the end, no traceback, exit 2.
    result = run_linkgraph("crawl", *SEEDS, "-o", str(out), "--allow", *ALLOW,
                           "-s", "LINKGRAPH_RESOLVE_ONLY=True")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"linkgraph: error: {out}: nodes/part-000-00000.parquet is missing (1 batch(es) "
        "without nodes); check it with linkgraph verify, or pass --fresh to crawl again")


def test_a_schema_version_1_folder_is_not_resumed(tmp_path):
    out = tmp_path / "out"
    pipeline = open_pipeline(out)
    commit(pipeline, BATCHES[0])
    pipeline.crawl_dir.finish("interrupted")
    manifest = json.loads((out / "crawl.json").read_text())
    (out / "crawl.json").write_text(json.dumps({**manifest, "schema_version": 1}))
    result = run_linkgraph("crawl", *SEEDS, "-o", str(out), "--allow", *ALLOW)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"linkgraph: error: {out} holds a crawl written with schema version 1 (this "
        "linkgraph writes 2), which cannot be resumed; pass --fresh to crawl it again")


def test_a_lost_pages_part_is_quarantined_not_deleted(tmp_path):
    out = tmp_path / "out"
    pipeline = open_pipeline(out)
    for batch in BATCHES:
        commit(pipeline, batch)
    pipeline.crawl_dir.finish("interrupted")
    (out / "pages" / part_name(0, 1)).unlink()  # damage: not what a kill leaves
    kept = {d: (out / d / part_name(0, 1)).read_bytes() for d in ("nodes", "links")}
    assert any("pages/part-000-00001.parquet was lost" in p for p in verify(str(out)).problems)
    with pytest.raises(CloseSpider):
        open_pipeline(out)  # the node ids after the lost batch cannot be continued
    [moved] = (out / "quarantine").iterdir()
    assert {d: (moved / d / part_name(0, 1)).read_bytes() for d in kept} == kept
    assert not (out / "links" / part_name(0, 1)).exists()


@pytest.mark.parametrize("name", ["gx[1]", "it's", "a*b"])
def test_folder_names_are_not_patterns(tmp_path, name):
    # A sibling whose name the pattern would match holds more pages.
    sibling = open_pipeline(tmp_path / name.replace("[1]", "1").replace("*", "X").replace("'", ""))
    for batch in BATCHES:
        commit(sibling, batch)
    sibling.crawl_dir.finish("interrupted")
    out = tmp_path / name
    pipeline = open_pipeline(out)
    commit(pipeline, BATCHES[0])
    pipeline.crawl_dir.finish("interrupted")
    config = parse_settings(pipeline_settings(out))
    progress = load_progress(str(out), config)
    assert sorted(progress.done) == ["http://a.example/", "http://a.example/1"]
    assert "http://a.example/2" in [url for url, _, _ in progress.frontier]


def test_fresh_replaces_a_crawl_with_a_corrupt_manifest(tmp_path):
    out = tmp_path / "out"
    pipeline = open_pipeline(out)
    commit(pipeline, BATCHES[0])
    pipeline.crawl_dir.finish("interrupted")
    (out / "crawl.json").write_text("{not json")
    assert run_linkgraph("crawl", *SEEDS, "-o", str(out), "--allow", *ALLOW,
                         "-s", "LINKGRAPH_RESOLVE_ONLY=True").returncode == 2
    result = run_linkgraph("crawl", *SEEDS, "-o", str(out), "--allow", *ALLOW, "--fresh",
                           "-s", "LINKGRAPH_RESOLVE_ONLY=True")
    assert "unreadable" not in result.stderr, result.stderr[-2000:]
    manifest = json.loads((out / "crawl.json").read_text())
    assert manifest["seeds"] == SEEDS and len(manifest["sessions"]) == 1
