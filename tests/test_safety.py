"""A crawl cannot be turned against the machine's own network, nor write outside DIR.

Every crawl here runs with tests/loopback_only/sitecustomize.py loaded: a connect()
to anything but loopback fails inside the process before the syscall and is logged, so
these tests can show that nothing was even attempted, and a bug cannot send a packet.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

import pytest

from conftest import REPO, read_rows, run_linkgraph
from guard_servers import Canary, ForwardProxy, PageServer
from linkgraph.crawl.fetch_errors import error_code
from linkgraph.demo.localweb import LocalWeb
from linkgraph.crawl.netguard import AddressGuard, PrivateAddressError, address_class, parse_networks
from linkgraph.errors import UsageError

pytestmark = pytest.mark.e2e

SEED = "http://seed.test/"
#: link target -> --resolve entry that makes it private (None: an IP literal).
PRIVATE_TARGETS = {
    "http://evil.example.com/": "evil.example.com=169.254.169.254",  # via the resolver
    "http://ten.example.com/x": "ten.example.com=10.0.0.1",
    "http://meta.example.com/latest": "meta.example.com=169.254.169.254:80",  # via a proxy
    "http://169.254.169.254/latest/meta-data/": None,
    "http://10.0.0.2:8080/admin": None,
    "http://[::ffff:192.168.0.9]/": None,
    "http://224.0.0.1/": None,
}
ALLOW = ["example.com", "169.254.169.254", "10.0.0.2", "::ffff:192.168.0.9", "224.0.0.1",
         "192.168.1.1", "seed.test"]


@pytest.fixture
def site(tmp_path: Path):
    root = tmp_path / "web" / "seed.test"
    root.mkdir(parents=True)
    links = [*PRIVATE_TARGETS, "/go-private", "http://loop.example.com/",
             # Hostile hrefs that must neither write a file nor read one.
             "../../../../../../tmp/linkgraph-escape", "file:///etc/passwd",
             "file://seed.test/etc/passwd", "javascript:alert(1)"]
    (root / "index.html").write_text("<html><title>seed</title>" + "".join(
        f'<a href="{href}">x</a>' for href in links) + "</html>")
    (root / "_site.json").write_text(json.dumps(
        {"redirects": {"/go-private": [302, "http://192.168.1.1/router"]}}))
    with LocalWeb(str(tmp_path / "web")) as server:
        yield server


def crawl(site, out: Path, log: Path, *extra: str):
    args = ["crawl", SEED, "-o", str(out), "-s", "LINKGRAPH_RESOLVE_ONLY=True",
            "-s", "DOWNLOAD_TIMEOUT=2", "-s", "RETRY_TIMES=0",
            "--resolve", f"seed.test=127.0.0.1:{site.port}",
            "--resolve", f"loop.example.com=127.0.0.1:{site.port}"]
    for entry in PRIVATE_TARGETS.values():
        if entry:
            args += ["--resolve", entry]
    for host in ALLOW:
        args += ["--allow", host]
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [
        str(REPO / "tests" / "loopback_only"), os.environ.get("PYTHONPATH")])),
        "LINKGRAPH_TEST_CONNECT_LOG": str(log)}
    result = run_linkgraph(*args, *extra, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_private_targets_are_refused_before_any_connect(site, tmp_path):
    out, log = tmp_path / "out", tmp_path / "connects.log"
    result = crawl(site, out, log)
    pages = {r["url"]: r for r in read_rows(out, "pages")}
    blocked = [*PRIVATE_TARGETS, "http://192.168.1.1/router"]  # the last one by redirect
    for url in blocked:
        assert pages[url]["status"] is None, url
        assert pages[url]["error"].startswith("private_address: "), (url, pages[url]["error"])
    assert "169.254.169.254, a link-local address" in pages["http://evil.example.com/"]["error"]
    assert "ten.example.com resolves to 10.0.0.1, a private address" in \
        pages["http://ten.example.com/x"]["error"]
    assert "a multicast address" in pages["http://224.0.0.1/"]["error"]
    # The seed is on loopback, so loopback links are fetched (the server has no such site).
    assert pages[SEED]["status"] == 200
    assert (pages["http://loop.example.com/"]["status"], pages["http://loop.example.com/"]["error"]) \
        == (404, None)
    assert pages["http://seed.test/go-private"]["redirect_to"] == "http://192.168.1.1/router"
    # Refused at resolution: never a connect attempt (the guard logs every one).
    assert not log.exists(), log.read_text()
    assert f"'linkgraph/errors/private_address': {len(blocked)}" in result.stderr
    # Logged once per class, not once per link.
    assert len(re.findall(r"Not fetching link-local addresses", result.stderr)) == 1


def test_allow_private_lets_the_crawl_connect(site, tmp_path):
    """With --allow-private the crawler does try: the guard above would have seen it."""
    out, log = tmp_path / "out", tmp_path / "connects.log"
    crawl(site, out, log, "--allow-private")
    pages = {r["url"]: r for r in read_rows(out, "pages")}
    assert not pages["http://evil.example.com/"]["error"].startswith("private_address")
    attempted = set(log.read_text().split())
    assert {"169.254.169.254", "10.0.0.1", "10.0.0.2", "224.0.0.1"} <= attempted


def test_pages_cannot_write_or_read_files(site, tmp_path):
    out, log = tmp_path / "out", tmp_path / "connects.log"
    before = {p for p in tmp_path.rglob("*") if "out" not in p.parts}
    crawl(site, out, log)
    after = {p for p in tmp_path.rglob("*") if "out" not in p.parts}
    assert after - before == set()
    assert not Path("/tmp/linkgraph-escape").exists()
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert names == {"crawl.json", ".lock", "links/part-000-00000.parquet",
                     "pages/part-000-00000.parquet", "nodes/part-000-00000.parquet"}
    pages = {r["url"] for r in read_rows(out, "pages")}
    assert not [u for u in pages if not u.startswith("http")]  # file:, javascript: not fetched
    dst = {r["dst_url"] for r in read_rows(out, "links")}
    assert {"file:///etc/passwd", "javascript:alert(1)", "http://seed.test/tmp/linkgraph-escape"} <= dst


@pytest.mark.parametrize(("ip", "expected"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"),
    ("172.16.0.1", "private"), ("192.168.0.1", "private"), ("fd00::1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("224.0.0.251", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("100.64.0.1", "reserved"),
    ("240.0.0.1", "reserved"), ("::ffff:10.0.0.1", "private"), ("93.184.216.34", None),
    ("2606:4700::1", None),
    # IPv6 that carries an IPv4 address is judged by the IPv4 address it reaches.
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("64:ff9b::7f00:1", "loopback"), ("64:ff9b::808:808", None),
    ("2002:c0a8:1::", "private"),  # 6to4 of 192.168.0.1
    ("2002:5db8:d822::1", None),  # 6to4 of 93.184.216.34
    ("::127.0.0.1", "loopback"), ("::10.0.0.1", "private"),  # IPv4-compatible
    ("::ffff:0:a00:1", "private"),  # IPv4-translated (SIIT)
    ("::ffff:7f00:2", "loopback"), ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo
])
def test_address_classes(ip, expected):
    assert address_class(ip) == expected


def test_a_seed_unlocks_its_own_address_only():
    guard = AddressGuard()
    guard.reset(allow_private=False)
    guard.add_seed("seed.test", "127.0.0.2")
    guard.check("other.test", "127.0.0.2")  # the seed's own address, any name
    guard.check("mapped.test", "::ffff:127.0.0.2")  # ... however it is written
    for ip in ("127.0.0.3", "127.0.0.1", "::1", "64:ff9b::7f00:3", "10.0.0.1"):
        with pytest.raises(PrivateAddressError):
            guard.check("other.test", ip)
    with pytest.raises(PrivateAddressError) as info:
        guard.check("evil.test", "10.0.0.1")
    assert error_code(info.value) == (
        "private_address: evil.test resolves to 10.0.0.1, a private address "
        "(pass --allow-address or --allow-private to fetch it)")
    with pytest.raises(PrivateAddressError) as info:
        guard.check("0.0.0.0", "0.0.0.0")
    assert "0.0.0.0, an unspecified address (" in str(info.value)
    guard.add_seed("lan.test", "192.168.1.5")  # a 192.168 seed does not open 10/8 ...
    with pytest.raises(PrivateAddressError):
        guard.check("ten.test", "10.0.0.1")
    with pytest.raises(PrivateAddressError):  # ... nor the rest of 192.168/16
        guard.check("router.test", "192.168.1.1")
    guard.check("x.test", "93.184.216.34")  # public: always


def test_allow_address_and_allow_private():
    guard = AddressGuard()
    guard.reset(allow_private=False, networks=parse_networks(["10.0.0.0/8", "fd00::1"]))
    guard.check("a.test", "10.200.0.1")
    guard.check("a.test", "64:ff9b::a00:1")  # NAT64 of 10.0.0.1
    guard.check("b.test", "fd00::1")
    with pytest.raises(PrivateAddressError):
        guard.check("c.test", "fd00::2")
    with pytest.raises(UsageError, match="--allow-address takes"):
        parse_networks(["10.0.0.0/33"])
    guard.reset(allow_private=True)
    guard.check("metadata.test", "169.254.169.254")


def test_a_seed_name_that_rebinds_is_checked_again():
    guard = AddressGuard()
    guard.reset(allow_private=False)
    guard.add_seed("dns-seed.test", None)  # a seed known only by name
    guard.check("dns-seed.test", "10.9.9.9")  # its first answer is what was asked for
    guard.check("dns-seed.test", "10.9.9.9")
    guard.check("other.test", "10.9.9.9")
    with pytest.raises(PrivateAddressError) as info:
        guard.check("dns-seed.test", "169.254.169.254")
    assert "the seed first resolved to 10.9.9.9" in str(info.value)
    guard.add_seed("public-seed.test", None)
    guard.check("public-seed.test", "93.184.216.34")
    with pytest.raises(PrivateAddressError):  # public first, then internal: rebinding
        guard.check("public-seed.test", "127.0.0.1")


def test_a_proxy_host_is_trusted_only_as_the_proxy():
    guard = AddressGuard()
    guard.reset(allow_private=False, proxy_hosts=("proxy.internal",))
    guard.check("proxy.internal", "10.0.0.8")  # connecting to the configured proxy
    with pytest.raises(PrivateAddressError):  # a page's link to it
        guard.check("proxy.internal", "10.0.0.8", proxy_ok=False)


# --- Nothing reaches a canary: a seed on 127.0.0.2, an internal server on 127.0.0.3 ----

def guarded_env(log: Path, **extra: str) -> dict[str, str]:
    """The crawl subprocess's environment: loopback-only connects, logged; no proxies."""
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [
        str(REPO / "tests" / "loopback_only"), os.environ.get("PYTHONPATH")])),
        "LINKGRAPH_TEST_CONNECT_LOG": str(log)}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        env[name] = ""
    return {**env, **extra}


def canary_links(canary: Canary) -> list[str]:
    """Every way a page here tries to reach the canary (by link; the rest by page)."""
    port = canary.port
    return [f"http://127.0.0.3:{port}/raw", f"http://canary.test:{port}/named",
            "http://canary-mapped.test/connect-to", f"http://[::ffff:127.0.0.3]:{port}/v4-mapped",
            f"http://[64:ff9b::7f00:3]:{port}/nat64", f"http://2130706435:{port}/decimal",
            f"http://0x7f000003:{port}/hex"]


@pytest.fixture
def canary():
    with Canary("127.0.0.3") as server:
        yield server


@pytest.fixture
def seed_site(canary):
    base = f"http://127.0.0.3:{canary.port}"
    index = "<html><title>seed</title>" + "".join(
        f'<a href="{href}">x</a>' for href in [*canary_links(canary), "/redirect", "/refresh",
                                               "/canonical"]) + "</html>"
    pages = {
        "/": (200, {}, index),
        "/redirect": (302, {"Location": f"{base}/redirected"}, ""),
        "/refresh": (200, {}, f'<meta http-equiv="refresh" content="0; url={base}/refreshed">'),
        "/canonical": (200, {}, f'<link rel="canonical" href="{base}/canonical"><p>c</p>'),
        "/robots.txt": (302, {"Location": f"{base}/robots.txt"}, ""),
    }
    with PageServer("127.0.0.2", pages) as server:
        yield server


def canary_crawl(seed_site, canary, out: Path, env: dict[str, str], *extra: str):
    args = ["crawl", f"http://127.0.0.2:{seed_site.port}/", "-o", str(out),
            "-s", "LINKGRAPH_RESOLVE_ONLY=True", "-s", "DOWNLOAD_TIMEOUT=3", "-s", "RETRY_TIMES=0",
            "--resolve", "canary.test=127.0.0.3",
            "--resolve", f"canary-mapped.test=127.0.0.3:{canary.port}"]
    for host in ("127.0.0.2", "127.0.0.3", "canary.test", "canary-mapped.test", "::ffff:127.0.0.3",
                 "64:ff9b::7f00:3", "2130706435", "0x7f000003"):
        args += ["--allow", host]
    return run_linkgraph(*args, *extra, env=env, timeout=120)


def assert_canary_untouched(seed_site, canary, out: Path) -> dict[str, dict]:
    pages = {r["url"]: r for r in read_rows(out, "pages")}
    assert canary.connections == 0, canary.paths
    # Every trap was offered to the crawler (the seed server saw each page asked for) ...
    assert {"/", "/redirect", "/refresh", "/canonical", "/robots.txt"} <= set(seed_site.paths)
    base = f"http://127.0.0.3:{canary.port}"
    # ... and each way in was refused by the guard (the numeric spellings are names
    # that the resolve-only resolver fails; a real resolver would give 127.0.0.3).
    refused = [*canary_links(canary)[:5], f"{base}/redirected", f"{base}/refreshed",
               f"{base}/canonical"]
    for url in refused:
        assert pages[url]["error"].startswith("private_address: "), (url, pages[url]["error"])
    for url in canary_links(canary)[5:]:
        assert pages[url]["status"] is None and pages[url]["error"], url
    return pages


def test_nothing_reaches_the_canary(seed_site, canary, tmp_path):
    out, log = tmp_path / "out", tmp_path / "connects.log"
    result = canary_crawl(seed_site, canary, out, guarded_env(log))
    assert result.returncode == 0, result.stderr[-3000:]
    pages = assert_canary_untouched(seed_site, canary, out)
    assert "127.0.0.3, a loopback address" in pages[f"http://127.0.0.3:{canary.port}/raw"]["error"]
    assert "canary.test resolves to 127.0.0.3" in pages[f"http://canary.test:{canary.port}/named"]["error"]


def test_allow_address_opens_exactly_that_network(seed_site, canary, tmp_path):
    out, log = tmp_path / "out", tmp_path / "connects.log"
    result = canary_crawl(seed_site, canary, out, guarded_env(log), "--allow-address", "127.0.0.3/32")
    assert result.returncode == 0, result.stderr[-3000:]
    pages = {r["url"]: r for r in read_rows(out, "pages")}
    assert pages[f"http://127.0.0.3:{canary.port}/raw"]["status"] == 200
    assert canary.connections > 0


def test_an_env_proxy_does_not_bypass_the_guard(seed_site, canary, tmp_path):
    out, log = tmp_path / "out", tmp_path / "connects.log"
    # The proxy knows the internal name, as a corporate proxy's DNS would.
    with ForwardProxy(hosts={"canary.test": "127.0.0.3"}) as proxy:
        env = guarded_env(log, http_proxy=f"http://127.0.0.1:{proxy.port}")
        result = canary_crawl(seed_site, canary, out, env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"http://127.0.0.2:{seed_site.port}/" in proxy.targets  # the proxy was used
    assert not [t for t in proxy.targets if str(canary.port) in t or "canary" in t], proxy.targets
    assert_canary_untouched(seed_site, canary, out)


def test_an_unreachable_proxy_is_one_line_and_exit_2(seed_site, canary, tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    port = closed.getsockname()[1]
    try:
        env = guarded_env(tmp_path / "connects.log", http_proxy=f"http://127.0.0.1:{port}")
        result = canary_crawl(seed_site, canary, tmp_path / "out", env)
    finally:
        closed.close()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"linkgraph: error: the proxy http://127.0.0.1:{port} (http_proxy) cannot be reached: "
        "Connection refused"], result.stderr


RENDER_PAGE = """<html><title>render</title><body><a href="/replace.html">r</a>
<img src="{c}/img.png"><iframe src="{c}/frame"></iframe><script src="{c}/script.js"></script>
<script>
  // What the issue saw: a script reads an internal server and puts it in a link.
  const grab = (u) => fetch(u).then(r => r.text()).then(t => {{
    const a = document.createElement("a");
    a.href = "/exfil?d=" + encodeURIComponent(t); a.textContent = "x";
    document.body.appendChild(a);
  }}).catch(() => {{}});
  grab("{c}/fetch"); grab("http://canary-mapped.test/fetch-by-name");
  const x = new XMLHttpRequest(); x.open("GET", "{c}/xhr"); x.send();
  try {{ new WebSocket("ws://127.0.0.3:{port}/ws"); }} catch (e) {{}}
</script></body></html>"""


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Chromium")
def test_the_rendering_browser_cannot_reach_the_canary(canary, tmp_path):
    c = f"http://127.0.0.3:{canary.port}"
    pages = {
        "/render.html": (200, {}, RENDER_PAGE.format(c=c, port=canary.port)),
        "/replace.html": (200, {}, f'<script>location.replace("{c}/replaced")</script><p>r</p>'),
    }
    out, log = tmp_path / "out", tmp_path / "connects.log"
    with PageServer("127.0.0.2", pages) as site:
        result = run_linkgraph(
            "crawl", "http://seed.test/render.html", "-o", str(out), "--render", "always",
            "--max-depth", "1", "-s", "LINKGRAPH_RESOLVE_ONLY=True", "-s", "RETRY_TIMES=0",
            "-s", "LINKGRAPH_RENDER_TIMEOUT=15",
            "--resolve", f"seed.test=127.0.0.2:{site.port}",
            "--resolve", f"canary-mapped.test=127.0.0.3:{canary.port}",
            "--allow", "seed.test", "--allow", "127.0.0.3", "--allow", "canary-mapped.test",
            env=guarded_env(log), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert canary.connections == 0, canary.paths
    rows = {r["url"]: r for r in read_rows(out, "pages")}
    render, replace = rows["http://seed.test/render.html"], rows["http://seed.test/replace.html"]
    assert render["rendered"] and replace["rendered"], (render["error"], replace["error"])
    # fetch x2, XHR, iframe and script were refused and counted on the row (the image is
    # never requested at all; a WebSocket is refused too, but has no page event).
    assert render["blocked_requests"] == 5
    assert replace["blocked_requests"] == 1  # the location.replace() navigation
    dst = [r["dst_url"] for r in read_rows(out, "links")]
    assert not [u for u in dst if "SECRET" in u], dst
    assert "'linkgraph/render/blocked_requests': 7" in result.stderr  # with the WebSocket
