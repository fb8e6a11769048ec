"""A crawl cannot be turned against the machine's own network, nor write outside DIR.

Every crawl here runs with tests/loopback_only/sitecustomize.py loaded: a connect()
to anything but loopback fails inside the process before the syscall and is logged, so
these tests can show that nothing was even attempted, and a bug cannot send a packet.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from conftest import REPO, read_rows, run_linkgraph
from linkgraph.crawl.fetch_errors import error_code
from linkgraph.demo.localweb import LocalWeb
from linkgraph.crawl.netguard import AddressGuard, PrivateAddressError, address_class

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
    ("0.0.0.0", "unspecified"), ("100.64.0.1", "reserved"), ("240.0.0.1", "reserved"),
    ("::ffff:10.0.0.1", "private"), ("93.184.216.34", None), ("2606:4700::1", None),
])
def test_address_classes(ip, expected):
    assert address_class(ip) == expected


def test_guard_policy_follows_the_seeds():
    guard = AddressGuard()
    guard.reset(allow_private=False)
    guard.add_seed("seed.test", "127.0.0.1")
    guard.check("other.test", "127.0.0.5")  # loopback like the seed: allowed
    with pytest.raises(PrivateAddressError) as info:
        guard.check("evil.test", "10.0.0.1")
    assert error_code(info.value) == (
        "private_address: evil.test resolves to 10.0.0.1, a private address "
        "(pass --allow-private to fetch it)")
    guard.add_seed("dns-seed.test", None)  # a seed known only by name
    guard.check("dns-seed.test", "10.9.9.9")  # ... allows its own class once resolved
    guard.check("evil.test", "10.0.0.1")
    with pytest.raises(PrivateAddressError):
        guard.check("metadata.test", "169.254.169.254")
    guard.reset(allow_private=True)
    guard.check("metadata.test", "169.254.169.254")
