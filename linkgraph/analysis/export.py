"""A crawl's graph for other tools: GraphML, GEXF, CSV, Common Crawl's webgraph, networkx.

Every format carries the graph ``score`` scores (:mod:`linkgraph.scoring.crawl_graph`:
its link rules applied, self-loops dropped) at page, host or domain level, each edge
weighted by the link rows that make it, and, when the folder is scored, the score
table's columns as node attributes. Files are written a slice of edges at a time, to a
temporary name renamed at the end, so a large export neither holds its text in memory
nor leaves half a file behind.

Formats:

- ``graphml`` and ``gexf``: one file, read back by networkx, Gephi and graph-tool.
  Gephi struggles beyond a few hundred thousand nodes, so a graph larger than
  :data:`GEPHI_MAX_NODES` nodes or :data:`GEPHI_MAX_EDGES` edges is refused unless
  forced.
- ``csv``: a folder with ``nodes.csv`` (``Id``, ``Label``, attributes) and
  ``edges.csv`` (``Source``, ``Target``, ``Weight``): the column names Gephi's
  spreadsheet import, igraph and Cosmograph expect.
- ``cc-webgraph``: a folder with ``vertices.txt.gz`` (``id<TAB>reversed name``, for
  example ``com.example.www``, sorted by that name, ids in that order) and
  ``edges.txt.gz`` (``from<TAB>to`` in numeric order), the text form of Common
  Crawl's host and domain graphs that the LAW/WebGraph tools and cc-webgraph's
  ranking scripts read; host and domain level only, as Common Crawl publishes them.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from linkgraph.errors import UsageError
from linkgraph.scoring.crawl_graph import LEVELS, CrawlGraph, crawl_graph

log = logging.getLogger(__name__)

FORMATS = ("graphml", "gexf", "csv", "cc-webgraph")
#: Above these sizes a GraphML/GEXF export is refused unless forced (Gephi's limits
#: on a desktop machine).
GEPHI_MAX_NODES = 200_000
GEPHI_MAX_EDGES = 2_000_000
#: Above this many edges ``to_networkx`` refuses (networkx keeps ~0.5 KB per edge).
NETWORKX_MAX_EDGES = 10_000_000
#: Edges written per slice.
_SLICE = 1 << 18
#: The score table of each level and its name column.
_SCORES = {"page": ("pages.parquet", "url"), "host": ("hosts.parquet", "host"),
           "domain": ("domains.parquet", "domain")}
#: Score-table columns that repeat the node's identity, not attributes of it.
_IDENTITY = {"url", "url_key", "host", "domain"}


def node_attributes(crawl_dir: Path | str, graph: CrawlGraph) -> dict[str, pa.Array]:
    """The node attributes of ``graph``: its score table's columns aligned with its
    node ids (null where the table has no row), and a page's HTTP ``status``.

    Parameters
    ----------
    crawl_dir : Path
        The crawl folder; scores are read from ``DIR/scores`` when it is scored.
    graph : CrawlGraph

    Returns
    -------
    dict of str to pyarrow.Array
    """
    attrs: dict[str, pa.Array] = {}
    if graph.status is not None:
        attrs["status"] = graph.status
    file, key = _SCORES[graph.level]
    path = Path(crawl_dir) / "scores" / file
    if not path.exists():
        return attrs
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    row = pc.index_in(graph.names, value_set=table[key])
    for name in table.column_names:
        if name in _IDENTITY or (name == "status" and "status" in attrs):
            continue
        attrs[name] = table[name].combine_chunks().take(row)
    if int(pc.sum(pc.is_valid(row)).as_py() or 0) < min(graph.n, table.num_rows):
        log.warning("export: %s does not match the crawl's %s graph (scored before the "
                    "crawl went on?): attributes are missing for some nodes", path,
                    graph.level)
    return attrs


def to_networkx(crawl_dir: Path | str, level: str = "page", *,
                max_edges: int | None = NETWORKX_MAX_EDGES, partial: bool = False):
    """The crawl's graph as a :class:`networkx.DiGraph`.

    Parameters
    ----------
    crawl_dir : Path
        A crawl folder, scored or not.
    level : {"page", "host", "domain"}
        Nodes are URLs, host names or registered domains.
    max_edges : int or None
        Refuse a larger graph (networkx keeps about half a kilobyte per edge); None
        for no limit.
    partial : bool
        Read a damaged folder's whole batches instead of refusing it.

    Returns
    -------
    networkx.DiGraph
        Edges carry ``weight`` (the link rows behind them, under the scoring rules);
        nodes carry the score table's columns (``pagerank``, ``authority_score``, ...)
        when the folder is scored, and pages their HTTP ``status``.

    Examples
    --------
    >>> G = linkgraph.to_networkx("linkgraph-demo", level="domain")  # doctest: +SKIP
    >>> max(G.nodes, key=lambda d: G.nodes[d]["pagerank"])  # doctest: +SKIP
    """
    import networkx as nx

    graph = crawl_graph(crawl_dir, level, partial=partial)
    if max_edges is not None and graph.m > max_edges:
        raise UsageError(f"the {level} graph of {crawl_dir} has {graph.m:,} edges, more "
                         f"than networkx holds well ({max_edges:,}): use a host or domain "
                         "level, or pass max_edges=None")
    names = graph.names.to_pylist()
    attrs = {k: v.to_pylist() for k, v in node_attributes(crawl_dir, graph).items()}
    G = nx.DiGraph()
    G.add_nodes_from((name, {k: v[i] for k, v in attrs.items() if v[i] is not None})
                     for i, name in enumerate(names))
    adj = graph.adj.tocoo()
    G.add_weighted_edges_from(zip([names[i] for i in adj.row.tolist()],
                                  [names[j] for j in adj.col.tolist()],
                                  adj.data.tolist()))
    return G


def export_graph(crawl_dir: Path | str, fmt: str, output: Path | str, level: str = "page",
                 *, force: bool = False, partial: bool = False) -> CrawlGraph:
    """Write a crawl's graph in one of :data:`FORMATS`.

    Parameters
    ----------
    crawl_dir : Path
        A crawl folder, scored or not.
    fmt : {"graphml", "gexf", "csv", "cc-webgraph"}
    output : Path
        A file (graphml, gexf) or a folder (csv, cc-webgraph).
    level : {"page", "host", "domain"}
    force : bool
        Write GraphML/GEXF beyond Gephi's size limits.
    partial : bool
        Read a damaged folder's whole batches instead of refusing it.

    Returns
    -------
    CrawlGraph
        The graph written.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if level not in LEVELS:
        raise UsageError(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}")
    if fmt == "cc-webgraph" and level == "page":
        raise UsageError("cc-webgraph is a host or domain graph: use --level host or "
                         "--level domain")
    graph = crawl_graph(crawl_dir, level, partial=partial)
    if fmt in ("graphml", "gexf") and not force and (
            graph.n > GEPHI_MAX_NODES or graph.m > GEPHI_MAX_EDGES):
        raise UsageError(f"the {level} graph has {graph.n:,} nodes and {graph.m:,} edges, "
                         f"more than Gephi opens well ({GEPHI_MAX_NODES:,} nodes, "
                         f"{GEPHI_MAX_EDGES:,} edges): use --level host or domain, "
                         "--format csv, or --force")
    attrs = node_attributes(crawl_dir, graph) if fmt != "cc-webgraph" else {}
    log.info("export: %s graph of %s nodes, %s edges as %s to %s", level, graph.n, graph.m,
             fmt, output)
    output = Path(output)
    if fmt == "graphml":
        _atomic_file(output, lambda f: _write_graphml(graph, attrs, f))
    elif fmt == "gexf":
        _atomic_file(output, lambda f: _write_gexf(graph, attrs, f))
    elif fmt == "csv":
        _atomic_folder(output, lambda d: _write_csv(graph, attrs, d))
    else:
        _atomic_folder(output, lambda d: _write_cc_webgraph(graph, d))
    return graph


# -- writing safely -------------------------------------------------------------------

def _atomic_file(path: Path, write: Callable[[IO[str]], None]) -> None:
    if path.is_dir():
        raise UsageError(f"{path} is a folder: give a file name for this format")
    if not path.parent.is_dir():
        raise UsageError(f"no folder {path.parent} to write {path.name} in")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _atomic_folder(path: Path, write: Callable[[Path], None]) -> None:
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} is a file: this format writes a folder")
    if not path.parent.is_dir():
        raise UsageError(f"no folder {path.parent} to write {path.name} in")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        write(tmp)
        path.mkdir(exist_ok=True)
        for item in tmp.iterdir():
            os.replace(item, path / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _edge_slices(graph: CrawlGraph) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(src, dst, weight) a slice of rows of the adjacency at a time, in (src, dst) order."""
    adj = graph.adj
    src_of = np.repeat(np.arange(graph.n, dtype=np.int64), np.diff(adj.indptr))
    for lo in range(0, graph.m, _SLICE):
        hi = min(lo + _SLICE, graph.m)
        yield src_of[lo:hi], adj.indices[lo:hi], adj.data[lo:hi]


def _weight_text(weights: np.ndarray) -> list[str]:
    # Weights are link counts: print them as integers when they are.
    return [f"{w:.0f}" if w == int(w) else repr(float(w)) for w in weights.tolist()]


# -- GraphML and GEXF -----------------------------------------------------------------

_XML_TYPES = {pa.types.is_integer: ("long", "integer"), pa.types.is_floating: ("double", "double"),
              pa.types.is_boolean: ("boolean", "boolean")}


def _xml_type(arrow_type: pa.DataType) -> tuple[str, str]:
    """(GraphML type, GEXF type) of a column."""
    for test, names in _XML_TYPES.items():
        if test(arrow_type):
            return names
    return "string", "string"


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return escape(str(value))


def _write_graphml(graph: CrawlGraph, attrs: dict[str, pa.Array], out: IO[str]) -> None:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n'
              '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
              'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
              'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
              'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n')
    out.write('  <key id="label" for="node" attr.name="label" attr.type="string"/>\n')
    keys = {}
    for i, (name, column) in enumerate(attrs.items()):
        keys[name] = f"d{i}"
        out.write(f'  <key id="d{i}" for="node" attr.name={quoteattr(name)} '
                  f'attr.type="{_xml_type(column.type)[0]}"/>\n')
    out.write('  <key id="weight" for="edge" attr.name="weight" attr.type="double"/>\n')
    out.write(f'  <graph id="{graph.level}s" edgedefault="directed">\n')
    columns = {name: column.to_pylist() for name, column in attrs.items()}
    for i, name in enumerate(graph.names.to_pylist()):
        data = "".join(f'<data key="{keys[k]}">{_xml_value(v[i])}</data>'
                       for k, v in columns.items() if v[i] is not None)
        out.write(f'    <node id="n{i}"><data key="label">{escape(name)}</data>{data}</node>\n')
    for src, dst, weight in _edge_slices(graph):
        out.write("".join(
            f'    <edge source="n{s}" target="n{d}"><data key="weight">{w}</data></edge>\n'
            for s, d, w in zip(src.tolist(), dst.tolist(), _weight_text(weight))))
    out.write("  </graph>\n</graphml>\n")


def _write_gexf(graph: CrawlGraph, attrs: dict[str, pa.Array], out: IO[str]) -> None:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n'
              '<gexf xmlns="http://gexf.net/1.3" version="1.3">\n'
              '  <graph defaultedgetype="directed" mode="static">\n'
              '    <attributes class="node" mode="static">\n')
    for i, (name, column) in enumerate(attrs.items()):
        out.write(f'      <attribute id="{i}" title={quoteattr(name)} '
                  f'type="{_xml_type(column.type)[1]}"/>\n')
    out.write("    </attributes>\n    <nodes>\n")
    columns = list(enumerate(column.to_pylist() for column in attrs.values()))
    for i, name in enumerate(graph.names.to_pylist()):
        values = "".join(f'<attvalue for="{k}" value="{_xml_value(v[i])}"/>'
                         for k, v in columns if v[i] is not None)
        out.write(f'      <node id="{i}" label={quoteattr(name)}>'
                  f'<attvalues>{values}</attvalues></node>\n')
    out.write("    </nodes>\n    <edges>\n")
    edge_id = 0
    for src, dst, weight in _edge_slices(graph):
        lines = []
        for s, d, w in zip(src.tolist(), dst.tolist(), _weight_text(weight)):
            lines.append(f'      <edge id="{edge_id}" source="{s}" target="{d}" weight="{w}"/>\n')
            edge_id += 1
        out.write("".join(lines))
    out.write("    </edges>\n  </graph>\n</gexf>\n")


# -- CSV ------------------------------------------------------------------------------

def _write_csv(graph: CrawlGraph, attrs: dict[str, pa.Array], folder: Path) -> None:
    nodes = pa.table({"Id": pa.array(np.arange(graph.n, dtype=np.int64)),
                      "Label": graph.names, **attrs})
    pacsv.write_csv(nodes, folder / "nodes.csv")
    schema = pa.schema([("Source", pa.int64()), ("Target", pa.int64()), ("Weight", pa.float64())])
    with pacsv.CSVWriter(folder / "edges.csv", schema) as writer:
        for src, dst, weight in _edge_slices(graph):
            writer.write_table(pa.table([src, dst.astype(np.int64), weight], schema=schema))


# -- Common Crawl's webgraph ----------------------------------------------------------

def reversed_name(name: str) -> str:
    """A host or domain name with its labels reversed (``www.example.com`` ->
    ``com.example.www``), as Common Crawl's webgraph names its vertices."""
    return ".".join(reversed(name.split(".")))


def _write_cc_webgraph(graph: CrawlGraph, folder: Path) -> None:
    rev = pa.array([reversed_name(name) for name in graph.names.to_pylist()], pa.string())
    order = pc.sort_indices(rev).to_numpy()  # new id i is old node order[i]
    new_id = np.empty(graph.n, dtype=np.int64)
    new_id[order] = np.arange(graph.n)
    with gzip.open(folder / "vertices.txt.gz", "wt", encoding="utf-8", newline="\n") as f:
        names = rev.take(pa.array(order)).to_pylist()
        for lo in range(0, graph.n, _SLICE):
            f.write("".join(f"{i}\t{names[i]}\n" for i in range(lo, min(lo + _SLICE, graph.n))))
    # Edges renumbered and sorted by (from, to).
    adj = graph.adj.tocoo()
    src, dst = new_id[adj.row], new_id[adj.col]
    edge_order = np.lexsort((dst, src))
    src, dst = src[edge_order], dst[edge_order]
    with gzip.open(folder / "edges.txt.gz", "wb") as f:
        for lo in range(0, len(src), _SLICE):
            buf = io.StringIO()
            np.savetxt(buf, np.column_stack((src[lo:lo + _SLICE], dst[lo:lo + _SLICE])),
                       fmt="%d", delimiter="\t")
            f.write(buf.getvalue().encode())
