"""Rendering with a real headless Chromium against the JS fixture web (tests/fixtures/jsweb).

Each crawl runs in a subprocess, like the other crawl tests; its process tree is
sampled with psutil to see which browsers it started.
"""

from __future__ import annotations

import ast
import re
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from conftest import REPO, crawl_args, linkgraph_argv, read_rows
from linkgraph.errors import UsageError
from linkgraph.extract import extract_links
from linkgraph.extract.records import Link
from linkgraph.demo.localweb import LocalWeb
from linkgraph.render import merge_links, parse_render_settings, render_reason
from linkgraph.render._playwright import chromium_args, proxy_args

pytestmark = pytest.mark.e2e

JS_WEB = REPO / "tests" / "fixtures" / "jsweb"
J = "http://www.js-site.com"
#: Short deadlines: the never-loading and hanging pages must not slow the suite. Not
#: shorter: the deadline includes opening the first tabs, which on a loaded 2-core
#: machine took ~2 s of the 4 s there were, and index.html needs ~2 s (a 1.5 s timer).
FAST = ["-s", "LINKGRAPH_RENDER_TIMEOUT=6", "-s", "LINKGRAPH_RENDER_JS_HEAP_MB=32"]
BROWSER_NAMES = ("chromium", "chrome", "node")


class Crawl:
    def __init__(self, out: Path, proc: subprocess.CompletedProcess[str], hits: list,
                 seen: set[str], leftover: list[int], seconds: float, hit_times: list):
        self.out, self.proc, self.hits, self.seen = out, proc, hits, seen
        self.hit_times = hit_times
        self.leftover, self.seconds = leftover, seconds
        self.pages = {r["url"]: r for r in read_rows(out, "pages")}
        self.links = read_rows(out, "links")

    def links_of(self, url: str) -> list[tuple[str, str, int]]:
        rows = sorted((r for r in self.links if r["src_url"] == url), key=lambda r: r["ordinal"])
        return [(r["dst_url"].removeprefix(J), r["found_in"], r["ordinal"]) for r in rows]

    def stats(self) -> dict:
        """The final Scrapy stats dump of the crawl's log."""
        text = self.proc.stderr
        start = text.index("Dumping Scrapy stats:") + len("Dumping Scrapy stats:")
        body = text[start:text.index("}", start) + 1]
        body = re.sub(r"datetime\.datetime\([^)]*\)", "None", body)
        return ast.literal_eval(body.strip())


def crawl(tmp: Path, urls: list[str], *extra: str, web: Path = JS_WEB) -> Crawl:
    """Crawl ``urls`` of the JS web (or another web of www.js-site.com) in a subprocess,
    sampling its process tree."""
    out = tmp / "out"
    with LocalWeb(str(web)) as server:
        args = linkgraph_argv("crawl", *[J + u for u in urls], "-o", str(out),
                *crawl_args(server), *extra)
        started = time.monotonic()
        popen = subprocess.Popen(args, cwd=REPO, text=True, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        parent = psutil.Process(popen.pid)
        seen: dict[int, str] = {}
        while popen.poll() is None:
            try:
                for child in parent.children(recursive=True):
                    seen[child.pid] = child.name()
            except psutil.Error:
                pass
            time.sleep(0.05)
        stdout, stderr = popen.communicate(timeout=120)
        seconds = time.monotonic() - started
        hits = list(server.hits)
        hit_times = list(server.hit_times)
    proc = subprocess.CompletedProcess(args, popen.returncode, stdout, stderr)
    assert proc.returncode == 0, stderr[-4000:]
    leftover = []
    for pid, name in seen.items():
        try:
            process = psutil.Process(pid)
            if process.name() == name and process.status() != psutil.STATUS_ZOMBIE:
                leftover.append(f"{pid} {name} {process.cmdline()[:3]}")
        except psutil.Error:
            pass
    names = {name for name in seen.values()}
    return Crawl(out, proc, hits, names, leftover, seconds, hit_times)


def browsers(names: set[str]) -> set[str]:
    return {n for n in names if any(b in n.lower() for b in BROWSER_NAMES)}


# --- always -------------------------------------------------------------------------
ALWAYS_SEEDS = ["/index.html", "/router.html", "/popup.html", "/never.html", "/crash.html",
                "/hang.html", "/static.html"]


@pytest.fixture(scope="module")
def always(tmp_path_factory) -> Crawl:
    return crawl(tmp_path_factory.mktemp("always"), ALWAYS_SEEDS, "--render", "always",
                 "--max-depth", "1", *FAST)


def test_links_inserted_at_once_late_and_by_fetch(always):
    assert always.links_of(f"{J}/index.html") == [
        ("/static.html", "both", 0),
        ("/at-once.html", "rendered", 1),
        ("/from-json.html", "rendered", 2),
        ("/static.html", "rendered", 3),  # the second "Static" (from the JSON)
        ("/late.html", "rendered", 4),  # setTimeout 1.5 s after load
        ("/removed.html", "raw", 5),  # removed by the page's script: appended last
    ]
    page = always.pages[f"{J}/index.html"]
    assert page["rendered"] is True and page["error"] is None
    assert 1.5 <= page["render_time"] < 4


def test_client_side_router_links(always):
    assert always.links_of(f"{J}/router.html") == [
        ("/app/home", "rendered", 0), ("/app/about", "rendered", 1), ("/app/contact", "rendered", 2)]


def test_popup_and_dialogs_do_not_block(always):
    # confirm() was dismissed (false): the page took the "after-dialogs" branch.
    assert always.links_of(f"{J}/popup.html") == [
        ("/popup-raw.html", "both", 0), ("/after-dialogs.html", "rendered", 1)]
    stats = always.stats()
    assert stats["linkgraph/render/dialogs"] == 3  # alert, confirm, prompt
    assert stats["linkgraph/render/popups"] == 1
    assert f"{J}/from-popup.html" not in always.pages


@pytest.mark.parametrize(("path", "raw_link", "error"), [
    ("/never.html", "/never-raw.html", "render_timeout: no result within 6s"),
    ("/hang.html", "/hang-raw.html", "render_timeout: no result within 6s"),
    ("/crash.html", "/crash-raw.html", "render_failed: Page.goto: Page crashed"),
])
def test_failed_render_keeps_raw_links(always, path, raw_link, error):
    page = always.pages[J + path]
    assert page["error"] == error
    assert page["rendered"] is False and page["render_time"] is None and page["status"] == 200
    assert always.links_of(J + path) == [(raw_link, "raw", 0)]
    # ... and the raw links are still followed.
    assert J + raw_link in always.pages


def test_failures_counted_and_crawl_finishes_fast(always):
    stats = always.stats()
    # index, router, popup, static, and / (index.html again, linked from static.html)
    assert stats["linkgraph/render/pages"] == 5
    assert stats["linkgraph/render/errors"] == 3
    assert stats["linkgraph/render/errors/render_timeout"] == 2
    assert stats["linkgraph/render/errors/render_failed"] == 1
    assert "linkgraph/render/auto_fired" not in stats
    # The never-loading page's script takes 30 s; the per-page deadline is 6 s.
    assert always.seconds < 30
    assert always.stats()["finish_reason"] == "finished"


def test_static_page_rendered_all_both(always):
    page = always.pages[f"{J}/static.html"]
    assert page["rendered"] is True and page["render_time"] > 0
    assert always.links_of(f"{J}/static.html") == [("/", "both", 0)]


def test_images_blocked_and_browser_gone(always):
    paths = {path for _host, path in always.hits}
    assert "/links.json" in paths and "/routes.json" in paths
    assert "/pic.png" not in paths
    assert browsers(always.seen), always.seen  # a browser did run ...
    assert not always.leftover  # ... and nothing it started outlived the crawl


def test_only_html_200_pages_rendered(always):
    # Links of depth 1 answer 404: recorded, never rendered.
    page = always.pages[f"{J}/late.html"]
    assert page["status"] == 404 and page["rendered"] is False


# --- bounded work per rendered page ------------------------------------------------
def deep_dom_web(tmp: Path, levels: int, step: int, pages: dict[str, str] | None = None) -> Path:
    """A web whose /deep.html is small as served but whose script nests ``levels``
    <div>s, with a link every ``step`` levels: no HTML parser builds a DOM that deep
    (Chromium's stops at 512), a script can."""
    site = tmp / "web" / "www.js-site.com"
    site.mkdir(parents=True)
    # Hidden: laying out a DOM this deep crashes Chromium's tab; a hidden one is not laid out.
    script = f"""
const root = document.createElement('div'); root.style.display = 'none';
document.body.appendChild(root);
let node = root;
for (let i = 1; i <= {levels}; i++) {{
  const div = document.createElement('div'); node.appendChild(div); node = div;
  if (i % {step} === 0) {{
    const a = document.createElement('a'); a.href = '/level-' + i + '.html';
    a.textContent = 'level ' + i; node.appendChild(a);
  }}
}}"""
    (site / "deep.html").write_text(
        f'<html><body><a href="/static.html">Static</a><script>{script}</script></body></html>')
    for path, html in (pages or {}).items():
        (site / path.lstrip("/")).write_text(html)
    return tmp / "web"


def test_rendered_deep_nesting_is_capped_and_keeps_every_link(tmp_path):
    levels, step = 2000, 100
    web = deep_dom_web(tmp_path, levels, step)
    result = crawl(tmp_path, ["/deep.html"], "--render", "always", "--max-depth", "0",
                   *FAST, web=web)
    page = result.pages[f"{J}/deep.html"]
    assert page["rendered"] is True and page["error"] is None
    assert result.links_of(f"{J}/deep.html") == [("/static.html", "both", 0)] + [
        (f"/level-{i}.html", "rendered", k) for k, i in enumerate(range(step, levels + 1, step), 1)]
    # The HTML as served is shallow: the count is the rendered DOM's.
    assert levels - 512 < page["nesting_capped"] <= levels
    stats = result.stats()
    assert stats["linkgraph/pages_nesting_capped"] == 1
    assert stats["linkgraph/nesting_capped_tags"] == page["nesting_capped"]


def test_requests_go_out_while_a_rendered_page_is_extracted(tmp_path):
    """The rendered DOM is extracted in a worker thread, as raw HTML is: a DOM that
    takes seconds to parse (deep nesting, uncapped here) does not stop other requests."""
    import json

    levels, step = 30_000, 1000
    pages = [f"/p{i}.html" for i in range(200)]
    web = deep_dom_web(tmp_path, levels, step, {
        "/index.html": "<html><body>" + "".join(f'<a href="{p}">{p}</a>' for p in pages)
                       + "</body></html>",
        **{p: "<html><body>a page</body></html>" for p in pages},
        "/_site.json": json.dumps({"delay": {p: 0.4 for p in pages}})})
    # What the browser hands back, near enough: measured here, uncapped.
    dom = "<html><body><div>" + "".join(
        "<div>" + (f'<a href="/level-{i}.html">level {i}</a>' if i % step == 0 else "")
        for i in range(1, levels + 1)) + "</div>" * (levels + 1) + "</body></html>"
    started = time.perf_counter()
    extract_links(f"{J}/deep.html", dom)
    parse = time.perf_counter() - started
    assert parse > 1.0  # else the page does not test anything
    # The log's own clock says when the rendered response reached the spider (in a
    # file: a debug log would fill the stderr pipe that crawl() reads only at the end).
    log_file = tmp_path / "crawl.log"
    offset = time.time() - time.monotonic()
    result = crawl(tmp_path, ["/deep.html", "/index.html"], "--render", "always",
                   "--render-pattern", r"/deep\.html$", "--max-depth", "1",
                   "-s", "LINKGRAPH_MAX_NESTING=None", "-s", "LINKGRAPH_RENDER_TIMEOUT=30",
                   "-s", "LOG_LEVEL=DEBUG", "-s", "LOG_FORMAT=%(created)f %(message)s",
                   "-s", f"LOG_FILE={log_file}", web=web)
    page = result.pages[f"{J}/deep.html"]
    assert page["rendered"] is True and page["error"] is None, page
    assert len(result.links_of(f"{J}/deep.html")) == 1 + levels // step
    log = log_file.read_text()
    crawled = re.search(r"^(\d+\.\d+) Crawled \(200\) <GET " + re.escape(J)
                        + r"/deep\.html> .*\['playwright'\]", log, re.M)
    assert crawled, log[-3000:]
    extracting = float(crawled.group(1)) - offset
    during = [path for t, _host, path in result.hit_times
              if extracting + parse / 4 < t < extracting + parse * 3 / 4]
    assert during, (parse, extracting, result.hit_times)


# --- auto, pattern, never -----------------------------------------------------------
def test_auto_renders_only_script_built_pages(tmp_path):
    result = crawl(tmp_path, ["/static.html", "/app.html", "/noscript.html", "/index.html",
                              "/router.html"], "--render", "auto", "--max-depth", "1", *FAST)
    rendered = {url.removeprefix(J) for url, p in result.pages.items() if p["rendered"]}
    # / is index.html again, linked from static.html.
    assert rendered == {"/app.html", "/noscript.html", "/index.html", "/", "/router.html"}
    stats = result.stats()
    assert stats["linkgraph/render/auto_fired"] == 5
    assert stats["linkgraph/render/auto_fired/app-root"] == 2  # app.html, router.html
    assert stats["linkgraph/render/auto_fired/noscript"] == 1
    assert stats["linkgraph/render/auto_fired/empty-body"] == 2  # index.html, /
    assert result.links_of(f"{J}/app.html") == [("/app-link.html", "rendered", 0)]
    assert result.links_of(f"{J}/noscript.html") == [
        ("/static.html", "both", 0), ("/noscript-js.html", "rendered", 1)]
    assert result.links_of(f"{J}/static.html") == [("/", "raw", 0)]


def test_render_pattern_limits_rendering(tmp_path):
    result = crawl(tmp_path, ["/index.html", "/router.html"], "--render", "always",
                   "--render-pattern", r"/router\.html$", "--max-depth", "0", *FAST)
    assert result.pages[f"{J}/router.html"]["rendered"] is True
    assert result.pages[f"{J}/index.html"]["rendered"] is False
    assert {r["found_in"] for r in result.links if r["src_url"] == f"{J}/index.html"} == {"raw"}


def test_wait_selector(tmp_path):
    # With a 1 s idle cap the 1.5 s timer is not waited for: the selector wait catches
    # the late link.
    result = crawl(tmp_path, ["/index.html"], "--render", "always", "--render-pattern", "index",
                   "--render-wait-selector", "a[href='/late.html']",
                   "-s", "LINKGRAPH_RENDER_IDLE_CAP=1", "-s", "LINKGRAPH_RENDER_TIMEOUT=10")
    assert ("/late.html", "rendered", 4) in result.links_of(f"{J}/index.html")


def test_never_starts_no_browser(tmp_path):
    result = crawl(tmp_path, ["/index.html", "/router.html"], "--max-pages", "2")
    assert not browsers(result.seen), result.seen
    assert "scrapy-playwright" not in result.proc.stderr
    assert "playwright/" not in result.stats()
    assert all(not p["rendered"] and p["render_time"] is None for p in result.pages.values())
    assert {r["found_in"] for r in result.links} == {"raw"}


def test_auto_without_candidates_starts_no_browser(tmp_path):
    result = crawl(tmp_path, ["/static.html"], "--render", "auto", "--max-pages", "1")
    assert not browsers(result.seen), result.seen
    assert "linkgraph/render/auto_fired" not in result.stats()


def test_bad_render_options_are_one_line_errors(tmp_path):
    for extra, message in (
            (["-s", "LINKGRAPH_RENDER=sometimes"], "LINKGRAPH_RENDER (--render) must be never, auto or always"),
            (["--render", "always", "--render-pattern", "("], "--render-pattern '(' is not a valid regex"),
            (["--render", "always", "-s", "LINKGRAPH_RENDER_TIMEOUT=soon"], "LINKGRAPH_RENDER_TIMEOUT must be a number"),
            (["--render", "always", "-s", "LINKGRAPH_CHROMIUM=/nonexistent/chromium"], "rendering needs Chromium at /nonexistent/chromium")):
        proc = subprocess.run(linkgraph_argv("crawl", f"{J}/", "-o",
                               str(tmp_path / "o"), *extra), cwd=REPO, text=True,
                              capture_output=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr


# --- pure parts ---------------------------------------------------------------------
def _link(url: str, text: str | None = None, ordinal: int = 0, tag: str = "a") -> Link:
    return Link(url, "x.com", text, (), False, False, False, tag, "anchor", None, None, ordinal)


def test_merge_multiset_and_order():
    raw = [_link("/a", "A", 0), _link("/home", "Home", 1), _link("/home", "Home", 2),
           _link("/gone", "Gone", 3)]
    rendered = [_link("/new", "New", 0), _link("/home", "Home", 1), _link("/a", "A", 2),
                _link("/home", "Home", 3), _link("/home", "Home", 4), _link("/a", "other text", 5)]
    links, found_in = merge_links(raw, rendered)
    assert [(link.dst_url, link.anchor_text, link.ordinal) for link in links] == [
        ("/new", "New", 0), ("/home", "Home", 1), ("/a", "A", 2), ("/home", "Home", 3),
        ("/home", "Home", 4), ("/a", "other text", 5), ("/gone", "Gone", 6)]
    assert found_in == ["rendered", "both", "both", "both", "rendered", "rendered", "raw"]


def test_merge_tag_matters_and_empty_sides():
    links, found_in = merge_links([_link("/a", "A", tag="a")], [_link("/a", "A", tag="area")])
    assert found_in == ["rendered", "raw"] and [link.ordinal for link in links] == [0, 1]
    assert merge_links([], []) == ([], [])
    links, found_in = merge_links([_link("/a"), _link("/b", ordinal=1)], [])
    assert found_in == ["raw", "raw"] and [link.ordinal for link in links] == [0, 1]


def _reason(html: str) -> str | None:
    return render_reason(html, extract_links("http://x.com/", html))


def test_detect_rule():
    text = "<p>" + "Plenty of words on this page. " * 20 + "</p>"
    assert _reason(f"<html><body>{text}<a href=/a>a</a></body></html>") is None  # no script
    assert _reason('<body><div id="root"></div><script src=app.js></script></body>') == "app-root"
    assert _reason('<body><div id="__next">  </div><script></script>' + text) == "app-root"
    assert _reason("<body><app-root></app-root><script></script>" + text) == "app-root"
    assert _reason('<body><div ng-app="x">' + text + "</div><script></script></body>") == "app-root"
    assert _reason("<body><noscript>You need to enable JavaScript to run this app.</noscript>"
                   f"{text}<a href=/a>a</a><script></script></body>") == "noscript"
    # A noscript tracking pixel is not a warning.
    assert _reason('<body><noscript><img src="/px.gif"></noscript>' + text
                   + "<a href=/a>a</a><script></script></body>") is None
    assert _reason("<body><h1>Loading...</h1><script>boot()</script></body>") == "empty-body"
    big_script = "<script>" + "var x = 1;" * 3000 + "</script>"
    assert _reason(f"<body>{text}<a href=/a>a</a>{big_script}</body>") == "few-links"
    many = "".join(f"<a href=/p{i}>p{i}</a>" for i in range(10))
    assert _reason(f"<body>{text}{many}{big_script}</body>") is None


def test_render_settings_and_resolver_rules():
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("linkgraph.settings")
    config = parse_render_settings(settings)
    assert config.mode == "never" and not config.enabled and not config.wants("http://x.com/")
    settings.set("LINKGRAPH_RENDER", "Always")
    settings.set("LINKGRAPH_RENDER_PATTERN", r"\.html$")
    config = parse_render_settings(settings)
    assert config.wants("http://x.com/a.html") and not config.wants("http://x.com/a.pdf")
    settings.set("LINKGRAPH_RENDER_CONCURRENCY", "0")
    with pytest.raises(UsageError, match="LINKGRAPH_RENDER_CONCURRENCY must be a whole number >= 1"):
        parse_render_settings(settings)
    # Chromium resolves nothing itself: the guard proxy (127.0.0.1) is all it can reach.
    assert "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" in chromium_args(config)
    assert proxy_args("http://127.0.0.1:9")[:2] == [
        "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
