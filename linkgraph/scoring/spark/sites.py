"""Host and registered-domain tables on Spark: :mod:`linkgraph.scoring.sitegraph`'s
model (one vote per referring site) as group-bys over the page graph; the referring
domains counted over every link row between sites (followed ones over the site
graphs' voting edges), and with trusted entries the sites' spam mass from TrustRank on
the same site graph, its core the sites holding a seed page.

Sites are numbered ``0..N-1`` in the order of their first node id, the local
engine's numbering, so a sampled harmonic estimate draws the same sources. The
numbering is a distributed sort: each sorted partition's row count comes to the
driver (one number per partition), not the sites.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from linkgraph.scoring.options import ScoreOptions
from linkgraph.scoring.spark.harmonic import harmonic
from linkgraph.scoring.spark.tables import write_scores
from linkgraph.scoring.spark.walks import cut, normalised_edges, walks

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from linkgraph.scoring.spark.graph import SparkGraph

log = logging.getLogger(__name__)


def dense_ids(table: DataFrame, order: str) -> DataFrame:
    """``table`` with ``sid`` = the row's rank by ``order`` (0-based, distinct values):
    a range-partitioned sort, then each partition's offset from the counts before it."""
    from pyspark.sql import functions as F

    ranked = table.orderBy(order).select(
        "*", F.spark_partition_id().alias("_part"),
        F.monotonically_increasing_id().alias("_mono")).localCheckpoint(eager=True)
    counts = {r["_part"]: r["n"] for r in ranked.groupBy("_part").agg(
        F.count("*").alias("n")).collect()}
    offsets, at = {}, 0
    for part in sorted(counts):
        offsets[part] = at
        at += counts[part]
    offset = F.create_map(*[x for part, off in offsets.items()
                            for x in (F.lit(part), F.lit(off))])
    # monotonically_increasing_id = partition << 33 | row within the partition.
    within = F.col("_mono") - F.shiftleft(F.col("_part").cast("long"), 33)
    return ranked.select(*[c for c in table.columns],
                         (offset[F.col("_part")] + within).cast("long").alias("sid"))


def _site_table(session: SparkSession, sites: DataFrame, edges: DataFrame, n: int,
                options: ScoreOptions, partitions: int, core: bool) -> tuple[DataFrame, bool]:
    """PageRank, harmonic, degrees and 0-100 score of a site graph (``sid`` ids, edges
    ``src``/``dst`` distinct, no self-loops); with ``core`` (``sites`` has a 0/1
    column ``core``, some 1) TrustRank from the core and ``spam_mass``."""
    from pyspark.sql import functions as F

    from linkgraph.scoring.spark.score import _spam_mass, log_score

    unit = edges.select("src", "dst", F.lit(1.0).alias("w"))
    normalised, out_w = normalised_edges(unit, partitions)
    nodes = sites.select(F.col("sid").alias("id"))
    # PageRank and (with a core) TrustRank in the same steps.
    runs = walks(sites.select(F.col("sid").alias("id"), *(["core"] if core else [])),
                 normalised, out_w, n, alpha=options.alpha, tol=options.tol,
                 max_iter=options.max_iter, partitions=partitions,
                 seeds={"site pagerank": None,
                        **({"site trustrank": F.col("core")} if core else {})})
    pr = runs["site pagerank"]
    centrality, exact = harmonic(nodes, edges, n, exact_max=options.harmonic_exact_max,
                                 samples=options.harmonic_samples, seed=options.seed,
                                 partitions=partitions)
    in_degree = edges.groupBy(F.col("dst").alias("id")).agg(F.count("*").alias("in_degree"))
    out_degree = edges.groupBy(F.col("src").alias("id")).agg(F.count("*").alias("out_degree"))
    table = (sites.withColumnRenamed("sid", "id")
             .join(pr.scores.withColumnRenamed("value", "pagerank"), "id")
             .join(centrality, "id").join(in_degree, "id", "left")
             .join(out_degree, "id", "left"))
    table = table.fillna(0, subset=["in_degree", "out_degree"])
    table = log_score(table.persist(), "pagerank", "authority_score")
    if core:
        trust = runs["site trustrank"]
        table = _spam_mass(table.join(trust.scores.withColumnRenamed("value", "trust"), "id"),
                           out_w, options)
    normalised.unpersist()
    return table, exact


def site_tables(session: SparkSession, g: SparkGraph, options: ScoreOptions, out: str,
                seed: Column | None = None) -> tuple[str, str]:
    """Write ``out/hosts.parquet`` and ``out/domains.parquet``; return their paths.
    ``seed``: the pages' trusted-seed column (:func:`~linkgraph.scoring.spark.score.
    _crawl_seed`), for the sites' spam mass."""
    from pyspark.sql import functions as F

    nodes = g.nodes
    hosts = dense_ids(nodes.groupBy("host").agg(
        F.min("id").alias("first"), F.count("*").alias("pages"),
        F.max("domain").alias("domain")), "first").persist()
    domains = dense_ids(nodes.groupBy("domain").agg(
        F.min("id").alias("first"), F.count("*").alias("pages")), "first").persist()
    n_hosts, n_domains = hosts.count(), domains.count()
    host_of = nodes.join(hosts.select("host", "sid"), "host").select("id", "sid")
    page_edges = g.edges.select("src", "dst")
    host_edges = cut(page_edges.join(host_of.select(F.col("id").alias("src"),
                                                 F.col("sid").alias("hs")), "src")
                  .join(host_of.select(F.col("id").alias("dst"), F.col("sid").alias("hd")),
                        "dst")
                  .where(F.col("hs") != F.col("hd"))
                  .select(F.col("hs").alias("src"), F.col("hd").alias("dst")).distinct())
    dom_of_host = hosts.join(domains.select(F.col("domain").alias("d"),
                                            F.col("sid").alias("dom")),
                             hosts.domain.eqNullSafe(F.col("d"))).select("sid", "dom")
    dom_edges = (host_edges.join(dom_of_host.select(F.col("sid").alias("src"),
                                                    F.col("dom").alias("ds")), "src")
                 .join(dom_of_host.select(F.col("sid").alias("dst"), F.col("dom").alias("dd")),
                       "dst"))
    dom_edges = cut(dom_edges.where(F.col("ds") != F.col("dd")).select(
        F.col("ds").alias("src"), F.col("dd").alias("dst")).distinct())

    # Referring domains over every link row (followed or not): another registered
    # domain than the site's with a row into it (a null domain is a domain of its own).
    rows = g.rows.where(~F.col("src_domain").eqNullSafe(F.col("dst_domain")))
    by_host = rows.join(host_of.select(F.col("id").alias("dst"), "sid"), "dst") \
        .groupBy("sid").agg(F.count_distinct(F.struct("src_domain")).alias("referring_domains"))
    by_domain = rows.groupBy(F.col("dst_domain").alias("d")).agg(
        F.count_distinct(F.struct("src_domain")).alias("referring_domains"))
    by_domain = domains.join(by_domain, domains.domain.eqNullSafe(by_domain.d)).select(
        "sid", "referring_domains")
    # Followed: over the host graph's (voting) edges, the distinct other domains of the
    # source hosts; a domain's is its in-degree in the domain graph.
    followed = (host_edges.join(dom_of_host.select(F.col("sid").alias("src"),
                                                   F.col("dom").alias("ds")), "src")
                .join(dom_of_host.select(F.col("sid").alias("dst"), F.col("dom").alias("dd")),
                      "dst").where(F.col("ds") != F.col("dd")).groupBy(F.col("dst").alias("sid"))
                .agg(F.count_distinct("ds").alias("followed_referring_domains")))
    host_counts = by_host.join(followed, "sid", "full")
    dom_counts = by_domain
    core = seed is not None
    if core:
        # A site holding a seed page is in its site graph's trusted core.
        seeded = nodes.where(seed > F.lit(0.0))
        host_core = seeded.select("host").distinct().join(hosts, "host").select("sid")
        seeded_domains = seeded.select(F.col("domain").alias("d")).distinct()
        dom_core = seeded_domains.join(domains, domains.domain.eqNullSafe(F.col("d"))) \
            .select("sid")
        hosts = hosts.join(host_core.select("sid", F.lit(1.0).alias("core")), "sid", "left")
        domains = domains.join(dom_core.select("sid", F.lit(1.0).alias("core")), "sid", "left")
        hosts, domains = (t.fillna(0.0, subset=["core"]) for t in (hosts, domains))

    written = []
    for name, sites, edges, n, columns, counts in (
            ("hosts", hosts, host_edges, n_hosts, ["host", "domain", "pages"], host_counts),
            ("domains", domains, dom_edges, n_domains, ["domain", "pages"], dom_counts)):
        table, exact = _site_table(session, sites, edges, n, options, g.partitions, core)
        table = table.join(counts.withColumnRenamed("sid", "id"), "id", "left")
        if name == "domains":
            table = table.withColumn("followed_referring_domains", F.col("in_degree"))
        table = table.fillna(0, subset=["referring_domains", "followed_referring_domains"])
        meta = {b"linkgraph.harmonic": b"exact" if exact
                else f"sampled:{options.harmonic_samples}".encode()}
        ordered = table.orderBy(F.col("pagerank").desc(), F.col("id")).select(
            *columns, "pagerank", "authority_score", "harmonic", "in_degree",
            "out_degree", F.col("referring_domains").cast("long"),
            F.col("followed_referring_domains").cast("long"),
            *(["spam_mass"] if core else []))
        written.append(write_scores(ordered, f"{out}/{name}.parquet", metadata=meta))
    return written[0], written[1]
