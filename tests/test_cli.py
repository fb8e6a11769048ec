"""The CLI's face: one-line errors with exit code 2, and the offline demo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import REPO, crawl_args, read_rows, run_linkgraph, scrapy_argv, subprocess_env


def one_line_error(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("linkgraph: error: "), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("args, expected", [
    (["crawl", "www.example.com", "-o", "x"], "did you mean https://www.example.com/"),
    (["crawl", "ftp://example.com/", "-o", "x"], "not an http(s) URL"),
    (["crawl", "http://example.com:99999/", "-o", "x"], "bad seed"),
    (["crawl", "no-such-seeds.txt", "-o", "x"], "cannot read seed file no-such-seeds.txt"),
    (["crawl", "http://example.com/", "-o", "x", "--resolve", "example.com"], "--resolve takes HOST=IP"),
    (["crawl", "http://example.com/", "-o", "x", "--resolve", "example.com=not-an-ip"], "is not an IP address"),
    (["crawl", "http://example.com/", "-o", "x", "--max-depth", "-1"], "expected a whole number"),
    (["crawl", "http://example.com/", "-o", "x", "-s", "NOEQUALS"], "-s takes NAME=VALUE"),
    (["crawl", "http://example.com/", "-o", "x", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["crawl", "http://example.com/"], "the following arguments are required: -o/--output"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["crawl", "http://example.com/", "-o", "x", "-s", "LINKGRAPH_FLUSH_PAGES=abc"],
     "LINKGRAPH_FLUSH_PAGES must be a whole number >= 1, got 'abc'"),
    (["crawl", "http://example.com/", "-o", "x", "-s", "LINKGRAPH_MAX_DEPTH=-3"],
     "LINKGRAPH_MAX_DEPTH must be a whole number >= 0, got '-3'"),
    (["crawl", "http://example.com/", "-o", "x", "-s", "LINKGRAPH_COMPACT=maybe"],
     "LINKGRAPH_COMPACT must be True or False, got 'maybe'"),
    (["crawl", "http://example.com/", "-o", "x", "-s", "LINKGRAPH_COMPACT_ROWS=0"],
     "LINKGRAPH_COMPACT_ROWS must be a whole number >= 1, got '0'"),
])
def test_user_mistakes_are_one_line_errors(args, expected, tmp_path):
    assert expected in one_line_error(run_linkgraph(*args, cwd=tmp_path))


@pytest.mark.parametrize("args, expected", [
    (["frobnicate"], "linkgraph: error: argument command: invalid choice: 'frobnicate'"),
    (["crawl", "http://example.com/"],
     "linkgraph: error: crawl: the following arguments are required: -o/--output"),
])
def test_argument_errors_have_one_prefix(args, expected):
    import contextlib
    import io

    from linkgraph.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(args) == 2
    assert err.getvalue().startswith(expected), err.getvalue()
    assert err.getvalue().count("linkgraph") == 1


@pytest.mark.parametrize("setting, expected", [
    ("CONCURRENT_REQUESTS=many", "CONCURRENT_REQUESTS must be a whole number >= 1, got 'many'"),
    ("ROBOTSTXT_OBEY=maybe", "ROBOTSTXT_OBEY must be True or False, got 'maybe'"),
    ("DOWNLOAD_DELAY=soon", "DOWNLOAD_DELAY must be a number >= 0, got 'soon'"),
    ("DOWNLOAD_TIMEOUT=-3", "DOWNLOAD_TIMEOUT must be a number > 0, got '-3'"),
    ("LOG_LEVEL=loud", "LOG_LEVEL must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG"),
    ("LINKGRAPH_MAXPAGES=5", "unknown setting LINKGRAPH_MAXPAGES: did you mean LINKGRAPH_MAX_PAGES?"),
    ("LINKGRAPH_FLUSH_SECONDS=nan", "LINKGRAPH_FLUSH_SECONDS must be a number >= 0, got 'nan'"),
    ("LINKGRAPH_MAX_RETRY_AFTER=inf", "LINKGRAPH_MAX_RETRY_AFTER must be a number >= 0, got 'inf'"),
    ("LINKGRAPH_WARC_ROTATE_MB=0", "LINKGRAPH_WARC_ROTATE_MB must be a number > 0, got '0'"),
])
def test_setting_mistakes_fail_before_anything_is_written(setting, expected, tmp_path):
    out = tmp_path / "out"
    line = one_line_error(run_linkgraph("crawl", "http://www.example.com/", "-o", str(out),
                                        "-s", setting, cwd=tmp_path))
    assert expected in line
    assert not out.exists()


def test_bad_lines_in_seed_file(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# my seeds\n\nhttp://ok.example.com/\nmailto:someone@example.com\n")
    assert "seeds.txt line 4" in one_line_error(run_linkgraph("crawl", str(seeds), "-o", "x", cwd=tmp_path))
    seeds.write_text("# only comments\n\n")
    assert "holds no URL" in one_line_error(run_linkgraph("crawl", str(seeds), "-o", "x", cwd=tmp_path))
    seeds.write_bytes(b"\xff\xfe\x00garbage")
    assert "not UTF-8" in one_line_error(run_linkgraph("crawl", str(seeds), "-o", "x", cwd=tmp_path))


@pytest.mark.e2e
def test_output_folder_guards(fixture_web, tmp_path):
    other = tmp_path / "not-a-crawl"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert "holds no linkgraph crawl" in one_line_error(
        run_linkgraph("crawl", "http://www.beta-news.org/", "-o", str(other)))
    out = tmp_path / "out"
    args = crawl_args(fixture_web, "-s", "ROBOTSTXT_OBEY=False")
    first = run_linkgraph("crawl", "http://www.beta-news.org/", "-o", str(out), *args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "holds another crawl" in one_line_error(
        run_linkgraph("crawl", "http://www.alpha-shop.com/", "-o", str(out), *args))
    again = run_linkgraph("crawl", "http://www.beta-news.org/", "-o", str(out), *args)
    assert again.returncode == 0 and "finished crawl" in again.stderr
    fresh = run_linkgraph("crawl", "http://www.alpha-shop.com/", "-o", str(out), "--fresh",
                          "--max-pages", "3", *args)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert {r["url"] for r in read_rows(out, "pages")} >= {"http://www.alpha-shop.com/"}
    assert len(read_rows(out, "pages")) == 3


def scrapy_crawl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(scrapy_argv("crawl", "links", *args), cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=subprocess_env())


def scrapy_error(result) -> str:
    """The one ``linkgraph: error:`` line of a ``scrapy crawl`` that must not start."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("linkgraph: error: "), result.stderr[-2000:]
    return errors[0]


@pytest.mark.parametrize("args, expected", [
    (["-a", "seeds=not a url", "-s", "LINKGRAPH_OUTPUT={out}"], "bad seed 'not'"),
    (["-a", "seeds=http://example.com/", "-s", "LINKGRAPH_RESOLVE_ONLY=True"],
     "no output folder: pass -s LINKGRAPH_OUTPUT=DIR"),
    (["-a", "seeds={tmp}/no-such-seeds.txt", "-s", "LINKGRAPH_OUTPUT={out}"], "cannot read seed file"),
    (["-a", "seeds=http://example.com/", "-s", "LINKGRAPH_OUTPUT={out}", "-s", "CONCURRENT_REQUESTS=many"],
     "CONCURRENT_REQUESTS must be a whole number >= 1, got 'many'"),
    (["-a", "seeds=http://example.com/", "-s", "LINKGRAPH_OUTPUT={out}", "-s", "LINKGRAPH_MAXPAGES=5"],
     "unknown setting LINKGRAPH_MAXPAGES: did you mean LINKGRAPH_MAX_PAGES?"),
])
def test_scrapy_crawl_setup_error_is_one_line_and_exit_2(args, expected, tmp_path):
    out = tmp_path / "o"
    args = [a.format(out=out, tmp=tmp_path) for a in args]
    assert expected in scrapy_error(scrapy_crawl(*args))
    assert not out.exists()


@pytest.mark.e2e
def test_demo_runs_offline(tmp_path):
    result = run_linkgraph("demo", "-o", str(tmp_path / "demo"), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Serving 5 demo sites" in out
    for expected in ("Most linked-to pages", "http://www.northwind-gardens.com/discontinued.html",
                     "robots_txt", "redirect", "canonical"):
        assert expected in out
    pages = {r["url"]: r for r in read_rows(Path(tmp_path / "demo"), "pages")}
    assert pages["http://www.northwind-gardens.com/shop"]["status"] == 302
    links = read_rows(Path(tmp_path / "demo"), "links")
    assert any(r["sponsored"] for r in links) and any(r["ugc"] for r in links)
    # Scored with TrustRank from the trusted journal: the link farm has PageRank, no trust.
    assert "Top pages by authority" in out and "Domains by authority" in out
    import duckdb

    con = duckdb.connect()
    farm = con.execute(f"""SELECT max(pagerank), max(trust) FROM read_parquet('{tmp_path}/demo/scores/pages.parquet')
                          WHERE host = 'www.cheap-seeds-deals.biz'""").fetchone()
    journal = con.execute(f"""SELECT min(trust) FROM read_parquet('{tmp_path}/demo/scores/pages.parquet')
                             WHERE url = 'http://www.soil-science-journal.org/'""").fetchone()
    assert farm[0] > 0 and farm[1] == 0 and journal[0] > 0
    # Backlinks of Northwind by referring domain: three other domains (its own pages do
    # not count), one with followed links; the same count in the top pages' table.
    assert "Referring domains of northwind-gardens.com: 6 backlinks from 3 other domains " \
        "(1 with followed links)" in out
    domains = out[out.index("Referring domains of northwind-gardens.com"):].splitlines()
    assert [line.split()[:3] for line in domains[3:6]] == [
        ["soil-science-journal.org", "4", "4"], ["gardeners-hub.net", "1", "0"],
        ["cheap-seeds-deals.biz", "1", "0"]]
    # Why the farm ranks: its own deal pages' links, beside teleport and dangling, with
    # the farm's spam mass (1: nothing from the trusted journal) and the sum's check.
    why = out[out.index("Why http://www.cheap-seeds-deals.biz/ ranks"):].splitlines()
    assert "estimated relative spam mass of the page: 1.0000" in why[2]
    assert any(line.strip().startswith("check: sum of the terms") for line in why[:6])
    terms = [line.split()[0] for line in why[8:12]]
    assert terms == ["link", "link", "teleport", "dangling"]
    # The diff of the demo web before and after its own change: one row per edit.
    J, N = "http://www.soil-science-journal.org", "http://www.northwind-gardens.com"
    diff = out[out.index("Backlinks of northwind-gardens.com that changed"):].splitlines()
    rows = [line.split() for line in diff if line.startswith(("lost ", "changed ", "new "))]
    assert rows == [["lost", "link_removed", f"{J}/articles/compost.html", f"{N}/blog/composting.html"],
                    ["lost", "page_gone", f"{J}/articles/tomato-trials.html",
                     f"{N}/products/tomato-seeds.html"],
                    ["changed", "became_nofollow", f"{J}/", f"{N}/"]]
    assert f"the changed web's crawl: {tmp_path}/demo-after/" in out


def test_a_locked_folder_is_said_once(tmp_path):
    from linkgraph.storage.crawl_dir import _lock

    out = tmp_path / "out"
    out.mkdir()
    fd = _lock(str(out))  # this process writes the folder
    try:
        result = run_linkgraph("crawl", "http://127.0.0.1:9/", "-o", str(out), "-q")
    finally:
        import os
        os.close(fd)
    assert result.returncode == 2
    said = [line for line in result.stderr.splitlines() if "is being written by" in line]
    assert len(said) == 1 and said[0].startswith("linkgraph: error: "), result.stderr


def test_seeds_that_all_fail_are_one_line_and_exit_1(tmp_path):
    import socket

    ports = []
    for _ in range(2):  # ports nothing listens on: bound, then closed
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    seeds = [f"http://127.0.0.1:{port}/" for port in ports]
    result = run_linkgraph("crawl", *seeds, "-o", str(tmp_path / "out"), "-q",
                           "-s", "RETRY_TIMES=0")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("linkgraph:")]
    assert said == [said[-1]] and said[0].startswith(
        "linkgraph: error: no page could be fetched: 2 request(s) failed ("), result.stderr
    assert len(read_rows(tmp_path / "out", "pages")) == 2
