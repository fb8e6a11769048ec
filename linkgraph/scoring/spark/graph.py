"""The scoring graph on Spark: the local engine's rules (:func:`linkgraph.scoring.score.
crawl_votes`, :func:`linkgraph.scoring.graph.in_edge_graph`) as joins over the Parquet.

Node ids are the crawl's own ``node_id`` (or, for an edge list, the values of its
columns as given): nothing is numbered on the driver. Which link rows vote is decided
per row and per source page (the pages that redirect or name a canonical, found by
one group-by and joined back); repeated pairs merge in a group-by by pair; the link
counts are group-bys by target and by source. Every table here is a Spark plan: the
driver holds none of their rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from linkgraph.errors import UsageError
from linkgraph.scoring.options import ScoreOptions

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

_REDIRECT_TYPES = ("redirect", "meta-refresh")
#: Link columns the engine reads from a crawl's links/ (schema 2: with node ids).
LINK_COLUMNS = ("src_id", "dst_id", "link_type", "nofollow", "sponsored", "ugc")
NODE_COLUMNS = ("node_id", "url_key", "url", "host", "domain")


@dataclass(frozen=True)
class SparkGraph:
    """A graph as Spark tables.

    Attributes
    ----------
    nodes : DataFrame
        One row per node: ``id`` and, for a crawl, ``url``, ``url_key``, ``host``,
        ``domain``, ``status``.
    edges : DataFrame
        The scoring graph: ``src``, ``dst``, ``w`` (distinct pairs).
    counts : DataFrame
        ``id`` and the link counts (``in_links``, ``out_links``, ``referring_pages``
        and, for a crawl, ``referring_domains``), every node once.
    n : int
        Number of nodes.
    partitions : int
        Partitions of the tables that are joined each step.
    rows : DataFrame or None
        A crawl's link rows between web pages, voting or not (``src``, ``dst``,
        ``src_domain``, ``dst_domain``, ``vote``): what the sites' referring domains
        count. None for an edge list.
    """

    nodes: DataFrame
    edges: DataFrame
    counts: DataFrame
    n: int
    partitions: int
    rows: DataFrame | None = None


def read_parquet(spark: SparkSession, paths: list[str], what: str) -> DataFrame:
    """``spark.read.parquet`` of an explicit file list, a bad file as one line."""
    try:
        return spark.read.parquet(*paths)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{what}: cannot read as Parquet ({reason})") from None


def require_columns(df: DataFrame, columns: tuple[str, ...] | list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise UsageError(f"{what}: missing column(s) {', '.join(missing)} "
                         f"(has {', '.join(df.columns)})")


def partitions_for(spark: SparkSession, table: DataFrame) -> int:
    """Partitions of the joined tables: ``spark.sql.shuffle.partitions`` when the user
    set it, otherwise as many as Spark cut the input into (its split size follows the
    input's bytes), at least the default parallelism; then made the session's shuffle
    partitions too. A step's group-by shuffles into that many partitions: with Spark's
    default of 200 against a rank table of 2, every step re-shuffled both sides of its
    join, and a step on 200K edges took 16 s in local mode instead of 0.4 s."""
    conf = spark.sparkContext.getConf()
    if conf.contains("spark.sql.shuffle.partitions"):
        return int(conf.get("spark.sql.shuffle.partitions"))
    partitions = max(spark.sparkContext.defaultParallelism, table.rdd.getNumPartitions())
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    return partitions


def _unfollowed():
    """nofollow, sponsored or ugc; a row with any of them null is followed (the local
    engine's non-Kleene ``or`` makes such a row's flag null, then False)."""
    from pyspark.sql import functions as F

    flags = [F.col(c) for c in ("nofollow", "sponsored", "ugc")]
    any_null = flags[0].isNull() | flags[1].isNull() | flags[2].isNull()
    return F.when(any_null, F.lit(False)).otherwise(flags[0] | flags[1] | flags[2])


def vote_rows(rows: DataFrame, options: ScoreOptions) -> DataFrame:
    """``rows`` (``src``, ``dst``, ``link_type``, ``unfollowed``) with a boolean ``vote``:
    the rules of :func:`linkgraph.scoring.score.crawl_votes` (``_kernels.vote_rows``).

    A row votes if its type does and it is followed (redirects have no rel); a
    non-self canonical row votes whatever its rel. A page with a non-self redirect row
    keeps only those rows; else a page with a non-self canonical row keeps only those.
    """
    from pyspark.sql import functions as F

    types = [t for t in options.link_types
             if options.redirects or t not in _REDIRECT_TYPES]
    t = F.col("link_type")
    known = t.isNotNull()
    is_redirect = known & t.isin(list(_REDIRECT_TYPES))
    is_canonical = known & (t == F.lit("canonical"))
    non_self = F.col("src") != F.col("dst")
    vote = known & t.isin(types)
    if not options.follow_nofollow:
        vote = vote & ~(F.col("unfollowed") & ~is_redirect)
    redirect_take = non_self & is_redirect if options.redirects else F.lit(False)
    canonical_take = non_self & is_canonical if options.canonical else F.lit(False)
    vote = vote | canonical_take
    take = redirect_take | canonical_take
    rows = rows.select("*", vote.alias("_vote"), take.alias("_take"),
                       redirect_take.alias("_redirect"))
    owners = rows.where(F.col("_take")).groupBy("src").agg(
        F.max("_redirect").alias("_redirecting"))
    rows = rows.join(owners, "src", "left")
    owned = F.col("_redirecting").isNotNull()
    kept = (F.col("_take") & ~F.col("_redirecting")) | (F.col("_take") & F.col("_redirect"))
    return rows.select(*[c for c in rows.columns if not c.startswith("_")],
                       F.when(owned, kept).otherwise(F.col("_vote")).alias("vote"))


def scoring_edges(rows: DataFrame, options: ScoreOptions, weight: str | None = None
                  ) -> DataFrame:
    """Distinct ``(src, dst, w)`` of the voting ``rows``: weight 1, the number of rows
    (``multiplicity``) or the summed ``weight`` column; self-links dropped unless kept."""
    from pyspark.sql import functions as F

    if "vote" in rows.columns:
        rows = rows.where(F.col("vote"))
    if options.drop_self_loops:
        rows = rows.where(F.col("src") != F.col("dst"))
    pairs = rows.groupBy("src", "dst")
    if weight is not None:
        return pairs.agg(F.sum(F.col(weight).cast("double")).alias("w"))
    if options.multiplicity:
        return pairs.agg(F.count("*").cast("double").alias("w"))
    return pairs.agg(F.lit(1.0).alias("w"))


def link_counts(nodes: DataFrame, rows: DataFrame, with_domains: bool) -> DataFrame:
    """Per node: rows into it and out of it (self-links never count), distinct
    referring sources and (``with_domains``) their distinct other domains, all and
    voting (``src_domain`` against ``dst_domain``; a null domain is a domain of its own,
    as in the local engine)."""
    from pyspark.sql import functions as F

    rows = rows.where(F.col("src") != F.col("dst"))
    into = [F.count("*").alias("in_links"), F.count_distinct("src").alias("referring_pages")]
    if with_domains:
        # Another registered domain than the target's, followed or not; the followed
        # (voting) ones apart: the one meaning of linkgraph/analysis/crawl_views.py.
        other = ~F.col("src_domain").eqNullSafe(F.col("dst_domain"))
        domain = F.struct("src_domain")
        into.append(F.count_distinct(F.when(other, domain)).alias("referring_domains"))
        into.append(F.count_distinct(F.when(other & F.col("vote"), domain))
                    .alias("followed_referring_domains"))
    incoming = rows.groupBy("dst").agg(*into)
    outgoing = rows.groupBy("src").agg(F.count("*").alias("out_links"))
    names = ["in_links", "out_links", "referring_pages"] + \
        (["referring_domains", "followed_referring_domains"] if with_domains else [])
    joined = nodes.select("id").join(incoming, nodes.id == incoming.dst, "left") \
        .join(outgoing, F.col("id") == outgoing.src, "left")
    return joined.select("id", *[F.coalesce(F.col(c), F.lit(0)).cast("long").alias(c)
                                 for c in names])


def crawl_graph(spark: SparkSession, crawl_dir: str, options: ScoreOptions, *,
                partial: bool = False) -> SparkGraph:
    """The scoring graph of a crawl folder (schema 2: node ids on the link rows).

    A local folder is listed through :mod:`linkgraph.storage.reader` (its committed
    parts, what the local engine scores); a cluster URL (``hdfs://``, ``s3a://``) is
    read as the folders ``links/``, ``nodes/``, ``pages/`` whole: point it at a
    finished crawl.
    """
    from pyspark.sql import functions as F

    if "://" in crawl_dir:
        parts = {name: [f"{crawl_dir.rstrip('/')}/{name}"] for name in ("links", "nodes",
                                                                          "pages")}
    else:
        path = Path(crawl_dir)
        if not path.is_dir():
            raise UsageError(f"{crawl_dir} is not a folder (expected a crawl folder with "
                             "links/)")
        if not (path / "links").is_dir():
            raise UsageError(f"{crawl_dir} has no links/ folder: is it a crawl folder?")
        from linkgraph.scoring.crawl_input import committed_parts

        files = committed_parts(path, partial=partial)
        if not files["nodes"]:
            raise UsageError(f"{crawl_dir} has no nodes/ (written before node ids): "
                             "score it with the local engine")
        parts = {name: [str(f) for f in found] for name, found in files.items()}
    links = read_parquet(spark, parts["links"], f"{crawl_dir}/links")
    if "src_id" not in links.columns:
        raise UsageError(f"{crawl_dir}/links has no node ids (written before schema 2): "
                         "score it with the local engine")
    require_columns(links, LINK_COLUMNS, f"{crawl_dir}/links")
    nodes = read_parquet(spark, parts["nodes"], f"{crawl_dir}/nodes")
    require_columns(nodes, NODE_COLUMNS, f"{crawl_dir}/nodes")
    partitions = partitions_for(spark, links)

    checks = nodes.agg(F.count("*").alias("n"), F.min("node_id").alias("lo"),
                       F.max("node_id").alias("hi"),
                       F.count_distinct("node_id").alias("distinct")).first()
    total = int(checks["n"])
    if total and (checks["lo"] != 0 or checks["hi"] != total - 1
                  or checks["distinct"] != total):
        raise UsageError(f"{crawl_dir}/nodes: node ids are not 0..{total - 1}, each once; "
                         f"run `linkgraph verify {crawl_dir}`")
    bounds = links.agg(F.least(F.min("src_id"), F.min("dst_id")).alias("lo"),
                       F.greatest(F.max("src_id"), F.max("dst_id")).alias("hi")).first()
    if bounds["lo"] is not None and (bounds["lo"] < 0 or bounds["hi"] >= total):
        raise UsageError(f"{crawl_dir}/links: src_id or dst_id outside 0..{total - 1} (the "
                         f"nodes table has {total} rows); run `linkgraph verify {crawl_dir}`")

    # mailto:, tel:, javascript: targets have no host: not web pages, not nodes.
    web = nodes.where(F.col("host").isNotNull()).select(
        F.col("node_id").cast("long").alias("id"), F.col("url_key").cast("long"),
        F.col("url").cast("string"), F.col("host").cast("string"),
        F.col("domain").cast("string"))
    if parts["pages"]:
        pages = read_parquet(spark, parts["pages"], f"{crawl_dir}/pages")
        require_columns(pages, ("node_id", "status"), f"{crawl_dir}/pages")
        # A URL fetched twice (merged folders) takes its last row, as the local engine.
        order = F.struct(F.col("_metadata.file_path"), F.col("_metadata.row_index"))
        status = pages.groupBy(F.col("node_id").cast("long").alias("id")).agg(
            F.max_by(F.col("status").cast("int"), order).alias("status"))
        web = web.join(status, "id", "left")
    else:
        web = web.withColumn("status", F.lit(None).cast("int"))
    web = web.repartition(partitions, "id").persist()
    n = web.count()
    if n == 0:
        raise UsageError(f"{crawl_dir}: empty graph (no links to web pages and no pages)")

    ends = web.select(F.col("id").alias("src"), F.col("domain").alias("src_domain"))
    rows = links.select(F.col("src_id").cast("long").alias("src"),
                        F.col("dst_id").cast("long").alias("dst"),
                        F.col("link_type").cast("string").alias("link_type"),
                        _unfollowed().alias("unfollowed")) \
        .join(ends, "src").join(web.select(F.col("id").alias("dst"),
                                           F.col("domain").alias("dst_domain")), "dst")
    rows = vote_rows(rows, options).persist()
    edges = scoring_edges(rows, options)
    counts = link_counts(web, rows, with_domains=True)
    return SparkGraph(web, edges, counts, n, partitions, rows)


def edge_list_graph(spark: SparkSession, path: str, src: str, dst: str,
                    weight: str | None, options: ScoreOptions) -> tuple[SparkGraph, object]:
    """The graph of a Parquet edge list (a file or a folder of them, local or a cluster
    URL); node ids are the column values as given. Returns the graph and the Spark
    type of the node column."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if "://" in path:
        files = [path]
    else:
        from linkgraph.scoring._read import parquet_files

        files = [str(f) for f in parquet_files(path)]
    table = read_parquet(spark, files, path)
    wanted = [src, dst] + ([weight] if weight else [])
    require_columns(table, wanted, path)
    kinds = {f.name: f.dataType for f in table.schema.fields}
    integral = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
    for column in (src, dst):
        if not isinstance(kinds[column], (*integral, T.StringType)):
            raise UsageError(f"{path}: column {column} is {kinds[column].simpleString()}, "
                             "expected an integer or string")
    both_ints = isinstance(kinds[src], integral) and isinstance(kinds[dst], integral)
    if not both_ints and type(kinds[src]) is not type(kinds[dst]):
        raise UsageError(f"{path}: columns {src} and {dst} have different types "
                         f"({kinds[src].simpleString()} and {kinds[dst].simpleString()})")
    if weight and not isinstance(kinds[weight], (*integral, T.FloatType, T.DoubleType)):
        raise UsageError(f"{path}: column {weight} is {kinds[weight].simpleString()}, "
                         "expected a number")
    node_type = kinds[src] if type(kinds[src]) is type(kinds[dst]) else T.LongType()
    key = "long" if both_ints else "string"
    rows = table.select(F.col(src).cast(key).alias("src"), F.col(dst).cast(key).alias("dst"),
                        *([F.col(weight).cast("double").alias("weight")] if weight else []))
    valid = F.col("src").isNotNull() & F.col("dst").isNotNull()
    if weight:
        valid = valid & F.col("weight").isNotNull()
    partitions = partitions_for(spark, table)
    rows = rows.where(valid).persist()
    stats = rows.agg(F.count("*").alias("m"),
                     *([F.sum(((F.col("weight") < 0) | F.isnan("weight")
                               | (F.abs("weight") == float("inf"))).cast("int")).alias("bad")]
                       if weight else [])).first()
    total = table.count()
    if total - stats["m"]:
        log.warning("score: %s edge rows with a null end or weight skipped", total - stats["m"])
    if stats["m"] == 0:
        raise UsageError(f"{path}: empty graph (no edges)")
    if weight and stats["bad"]:
        raise UsageError(f"{path}: column {weight} has negative or non-finite weights")
    nodes = rows.select(F.col("src").alias("id")).union(rows.select(F.col("dst").alias("id"))) \
        .distinct().repartition(partitions, "id").persist()
    n = nodes.count()
    edges = scoring_edges(rows, options, "weight" if weight else None)
    counts = link_counts(nodes, rows, with_domains=False)
    return SparkGraph(nodes, edges, counts, n, partitions), node_type
