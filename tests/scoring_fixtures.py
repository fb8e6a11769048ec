"""Tiny crawl folders for the scoring tests, written straight to the crawl schemas.

The crawler is not needed: rows are cast to LINKS_SCHEMA / PAGES_SCHEMA exactly as the
crawl pipeline writes them, so the scorer sees what a real crawl gives it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkgraph.scoring import ScoreOptions, score_crawl
from linkgraph.scoring.graph import build_graph, encode_nodes
from linkgraph.urls import registered_domain
from linkgraph.storage.node_index import NodeIndex
from linkgraph.storage.schemas import LINKS_SCHEMA, NODES_SCHEMA, PAGES_SCHEMA
from linkgraph.storage.url_key import url_key

_ZERO = {"bool": False, "int32": 0, "int64": 0, "string": "", "list<element: string>": []}
WHEN = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _host(url: str) -> str | None:
    return urlsplit(url).hostname if url.startswith("http") else None


def link_row(src: str, dst: str, *, link_type: str = "anchor", rel: tuple[str, ...] = (),
             anchor: str | None = "link", ordinal: int = 0) -> dict:
    """A LINKS_SCHEMA row from ``src`` to ``dst``."""
    sh, dh = _host(src), _host(dst)
    sd, dd = registered_domain(sh), registered_domain(dh)
    return {
        "crawl_id": "test", "src_url": src, "src_key": url_key(src), "src_host": sh,
        "src_domain": sd, "dst_url": dst, "dst_key": url_key(dst), "dst_host": dh,
        "dst_domain": dd, "internal": sd == dd, "anchor_text": anchor, "rel": list(rel),
        "nofollow": "nofollow" in rel, "sponsored": "sponsored" in rel, "ugc": "ugc" in rel,
        "tag": {"redirect": "http", "meta-refresh": "meta", "canonical": "link"}.get(link_type, "a"),
        "link_type": link_type, "hreflang": None, "position": None, "ordinal": ordinal,
        "depth": 0, "found_in": "raw", "fetched_at": WHEN,
    }


def page_row(url: str, *, status: int = 200, canonical: str | None = None,
             redirect_to: str | None = None, links_count: int = 0) -> dict:
    """A PAGES_SCHEMA row for ``url``."""
    host = _host(url)
    return {
        "crawl_id": "test", "url": url, "url_key": url_key(url), "host": host,
        "domain": registered_domain(host), "status": status, "content_type": "text/html",
        "content_length": 100, "title": url, "canonical_url": canonical, "meta_robots": None,
        "x_robots_tag": None, "redirect_to": redirect_to, "depth": 0,
        "links_count": links_count, "rendered": False, "render_time": None,
        "fetched_at": WHEN, "elapsed": 0.01, "error": None,
    }


def write_crawl(root: Path, links: list[dict], pages: list[dict], parts: int = 2,
                node_ids: bool = True) -> Path:
    """Write ``links`` and ``pages`` as Parquet part files under ``root``; return ``root``.

    ``node_ids`` (the current schema): ids are given as the crawl pipeline gives them
    (:class:`NodeIndex`, page URLs then link targets, in order) and a ``nodes`` dataset
    is written; False writes a folder as linkgraph wrote it before node ids (schema 1:
    no nodes/, the id columns zero).
    """
    if node_ids:
        index = NodeIndex()
        urls = [p["url"] for p in pages] + [r["dst_url"] for r in links] \
            + [r["src_url"] for r in links]
        hosts = [(p["host"], p["domain"]) for p in pages] \
            + [(r["dst_host"], r["dst_domain"]) for r in links] \
            + [(r["src_host"], r["src_domain"]) for r in links]
        ids, new = index.ids_for(np.array([url_key(u) for u in urls], dtype=np.int64))
        id_of = dict(zip(urls, ids.tolist()))
        pages = [{**p, "node_id": id_of[p["url"]]} for p in pages]
        links = [{**r, "src_id": id_of[r["src_url"]], "dst_id": id_of[r["dst_url"]]}
                 for r in links]
        nodes = [{"node_id": int(ids[i]), "url_key": url_key(urls[i]), "url": urls[i],
                  "host": hosts[i][0], "domain": hosts[i][1]} for i in np.flatnonzero(new)]
        pq.write_table(pa.Table.from_pylist(nodes, schema=NODES_SCHEMA),
                       _mkdir(root / "nodes") / "part-00000.parquet")
    for name, rows, schema in (("links", links, LINKS_SCHEMA), ("pages", pages, PAGES_SCHEMA)):
        folder = _mkdir(root / name)
        size = max(1, -(-len(rows) // parts))
        for i in range(0, max(len(rows), 1), size):
            # Columns this helper does not model (the crawl schema grows) are null/zero.
            chunk = [{f.name: row[f.name] if f.name in row else
                      (None if f.nullable else _ZERO[str(f.type)])
                      for f in schema} for row in rows[i:i + size]]
            table = pa.Table.from_pylist(chunk, schema=schema)
            pq.write_table(table, folder / f"part-{i // size:05d}.parquet")
    # An unfinished part a writer left behind must be ignored.
    (root / "links" / ".part-99999.parquet").write_bytes(b"not yet")
    return root


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fixture_web(root: Path, node_ids: bool = True) -> Path:
    """A small web with the cases the scorer must handle.

    - ``news.example``: a trusted hub linking to ``shop.example`` and ``blog.example``.
    - ``shop.example``: home, products; ``/old`` redirects to ``/new``; ``/dup``
      has ``rel=canonical`` to ``/``.
    - ``blog.example``: posts; a comment link (ugc) and a nofollow link to the farm.
    - ``farm*.spam``: a link farm of 8 pages linking to each other and to
      ``target.spam``; nobody trusted links into it.
    - a mailto: link, a self-link, a repeated link and a never-fetched target.
    """
    N, S, B = "https://news.example", "https://shop.example", "https://blog.example"
    links: list[dict] = []
    pages: list[dict] = []

    def page(url: str, targets: list[tuple[str, dict]], **kw: object) -> None:
        for i, (dst, opts) in enumerate(targets):
            links.append(link_row(url, dst, ordinal=i, **opts))
        pages.append(page_row(url, links_count=len(targets), **kw))

    a: dict = {}
    page(f"{N}/", [(f"{N}/story", a), (f"{S}/", {"anchor": "Best shop"}), (f"{B}/", a),
                   (f"{N}/", a), ("mailto:desk@news.example", a)])
    page(f"{N}/story", [(f"{S}/old", {"anchor": "great products"}), (f"{B}/post1", a),
                        (f"{N}/", a)])
    page(f"{S}/", [(f"{S}/product", a), (f"{S}/product", a), (f"{S}/new", a),
                   (f"{S}/dup", a), ("https://cdn.example/x.css", {"link_type": "stylesheet"})])
    page(f"{S}/product", [(f"{S}/", a)])
    page(f"{S}/old", [(f"{S}/new", {"link_type": "redirect", "anchor": None})], status=301,
         redirect_to=f"{S}/new")
    page(f"{S}/new", [(f"{S}/", a)])
    page(f"{S}/dup", [(f"{S}/", {"link_type": "canonical", "anchor": None}),
                      (f"{S}/product", a)], canonical=f"{S}/")
    page(f"{B}/", [(f"{B}/post1", a), (f"{S}/", {"anchor": "shop"})])
    page(f"{B}/post1", [(f"{B}/", a), ("https://farm0.spam/", {"rel": ("ugc", "nofollow")}),
                        ("https://target.spam/", {"rel": ("nofollow",)}),
                        ("https://unfetched.example/", a)])
    farm = [f"https://farm{i}.spam/" for i in range(8)]
    for i, url in enumerate(farm):
        page(url, [(u, {"anchor": "cheap"}) for u in farm if u != url]
             + [("https://target.spam/", {"anchor": "cheap pills"})])
    page("https://target.spam/", [(farm[0], a)])
    return write_crawl(root, links, pages, node_ids=node_ids)


TRUSTED = ("https://news.example/",)


def graph_of(edges: list[tuple[str, str]], **kw):
    """The scorer's graph of ``edges`` (string pairs) and its nodes in id order."""
    (s, d), nodes = encode_nodes(pa.array([a for a, _ in edges]), pa.array([b for _, b in edges]))
    return build_graph(s, d, len(nodes), **kw), nodes.to_pylist()


def rows_by_key(path) -> dict[str, dict]:
    """A score table's rows keyed by its url, host or domain column."""
    table = pq.read_table(path).to_pylist()
    key = "url" if "url" in table[0] else ("host" if "host" in table[0] else "domain")
    return {r[key]: r for r in table}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    """The fixture web written as a crawl folder and scored with TrustRank seeds."""
    root = fixture_web(tmp_path_factory.mktemp("crawl"))
    paths = score_crawl(root, ScoreOptions(trusted=TRUSTED))
    return root, paths
