"""``linkgraph report``: the HTML page of a crawled fixture web, opened in real Chromium.

The page must render with no script error and no network request (it is opened from a
file:// URL, as from an e-mail attachment), draw every chart, show the crawl's own
numbers, and sort a table on a click. The test leaves a screenshot beside the report
(pytest's tmp folder, printed with -s) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import REPO, crawl_web, run_linkgraph
from linkgraph.render._config import default_chromium

pytestmark = pytest.mark.e2e

WEB = REPO / "tests" / "fixtures" / "audit"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, Path]:
    out = crawl_web(WEB, tmp_path_factory.mktemp("report") / "out")
    assert run_linkgraph("score", str(out), "-q").returncode == 0
    result = run_linkgraph("report", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{out / 'report.html'}: ")
    return out, out / "report.html"


@pytest.fixture(scope="module")
def opened(report):
    from playwright.sync_api import sync_playwright

    out, html = report
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=default_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html.as_uri())
        charts = page.evaluate("document.querySelectorAll('.chart').length")
        page.wait_for_function(f"document.querySelectorAll('.chart svg').length >= {charts}",
                               timeout=60_000)
        page.screenshot(path=str(out / "report.png"), full_page=True)
        print(f"\nscreenshot of the report: {out / 'report.png'}")
        yield out, page, charts, errors, requests
        browser.close()


def test_renders_offline_without_errors(opened):
    out, page, charts, errors, requests = opened
    assert errors == []
    assert requests and all(url.startswith(("file:", "data:", "blob:")) for url in requests)
    assert charts >= 8
    # Each chart is a real chart: axes with labels, marks.
    assert page.evaluate("document.querySelectorAll('.chart svg .role-axis-label').length") > 0
    assert page.evaluate("document.querySelectorAll('.chart svg .mark-rect path, .chart svg .mark-symbol path').length") > 20
    assert (out / "report.png").stat().st_size > 20_000


def test_shows_the_crawls_own_numbers(opened):
    out, page, *_ = opened
    text = page.inner_text("body")
    pages = pq.read_table(out / "pages").num_rows
    assert f"{pages:,}\npages fetched" in text or f"{pages:,} pages fetched" in text
    top = pq.read_table(out / "scores" / "pages.parquet").column("url")[0].as_py()
    assert top in text
    for check in ("broken_link", "redirect_chain", "canonical_chain", "deep_page"):
        assert check in text
    assert "http://www.audit-site.com/broken.html" in text


def test_tables_sort_on_a_click(opened):
    _, page, *_ = opened
    table = page.locator("#authority table").first
    column = table.locator("th", has_text="authority_score")
    index = table.locator("th").all_inner_texts().index("authority_score")

    def values() -> list[float]:
        cells = table.locator(f"tbody tr td:nth-child({index + 1})").all()
        return [float(c.get_attribute("data-sort")) for c in cells]

    column.click()
    assert values() == sorted(values())
    column.click()
    assert values() == sorted(values(), reverse=True)


def test_not_a_crawl_is_one_line(tmp_path):
    result = run_linkgraph("report", str(tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
