"""The Spark engine end to end: the local engine's :func:`~linkgraph.scoring.score.
score_crawl` and :func:`~linkgraph.scoring.score.score_edges`, same options, same
tables, computed with Spark DataFrames.

What the driver holds: the options, a few scalars per step, and for a sampled
harmonic estimate the ``k`` source ids; for exact harmonic centrality of a site graph
(at most ``harmonic_exact_max`` sites, 2,000 by default) the ids of its sites. The
tables, edge- and node-sized alike, live in Spark; the final Parquet files are joined
on the driver a row group at a time (:mod:`.tables`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linkgraph.errors import UsageError
from linkgraph.scoring.options import ScoreOptions
from linkgraph.scoring.spark import graph as spark_graph
from linkgraph.scoring.spark.harmonic import harmonic
from linkgraph.scoring.spark.session import SparkSettings, spark_errors, start
from linkgraph.scoring.spark.tables import arrow_type, write_scores
from linkgraph.scoring.spark.walks import hits, normalised_edges, walks

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SparkScorePaths:
    """Where :func:`score_crawl` wrote its tables (paths or cluster URLs)."""

    pages: str
    hosts: str | None
    domains: str | None


def _release(session: object) -> None:
    """Drop the run's cached tables: a later run in the same session (a notebook, a
    test module) must read its input again, not a cached table of the same plan over
    files that have since changed."""
    session.catalog.clearCache()


def log_score(table: DataFrame, column: str, name: str) -> DataFrame:
    """``table`` with ``name`` = the 0-100 log scale of ``column``:
    :func:`linkgraph.scoring.scale.log_score` (same arithmetic, half-even rounding)."""
    from pyspark.sql import functions as F

    v = F.col(column)
    bounds = table.agg(F.min(F.when(v > 0, v)).alias("lo"), F.max(v).alias("hi")).first()
    lo, hi = bounds["lo"], bounds["hi"]
    if lo is None:
        score = F.lit(0.0)
    elif hi <= lo:
        score = F.when(v > 0, F.lit(100.0)).otherwise(0.0)
    else:
        raw = F.lit(100.0) * F.log(v / F.lit(lo)) / F.lit(math.log(hi / lo))
        score = F.when(v > 0, F.least(F.greatest(F.bround(raw, 1), F.lit(0.0)), F.lit(100.0))) \
            .otherwise(0.0)
    return table.withColumn(name, score)


def _spam_mass(table: DataFrame, out_w: DataFrame, options: ScoreOptions) -> DataFrame:
    """``spam_mass = 1 - p'/p`` beside ``pagerank`` and ``trust``, as
    :func:`linkgraph.scoring.spam_mass.relative_spam_mass` computes it: ``p'`` is the
    trust vector times ``gamma * J / J_t``, the two walks' jump masses (teleport plus
    what the dangling nodes, those without out-edges, send on)."""
    from pyspark.sql import functions as F

    sums = table.join(out_w.select("id"), "id", "left_anti").agg(
        F.sum("pagerank").alias("p"), F.sum("trust").alias("t")).first()
    alpha = options.alpha
    jump = (1.0 - alpha) + alpha * float(sums["p"] or 0.0)
    jump_trust = (1.0 - alpha) + alpha * float(sums["t"] or 0.0)
    scale = options.good_fraction * jump / jump_trust
    core = F.col("trust") * F.lit(scale) / F.col("pagerank")
    return table.withColumn("spam_mass", F.when(F.col("pagerank") > 0, F.lit(1.0) - core)
                            .otherwise(F.lit(0.0)))


def _walks(g: spark_graph.SparkGraph, options: ScoreOptions, seed: Column | None,
           started: float) -> tuple[DataFrame, object]:
    """PageRank, TrustRank (and spam mass) and HITS of ``g`` joined onto its nodes and
    counts; and PageRank's walk (its iterations and last change)."""
    edges, out_w = normalised_edges(g.edges, g.partitions)
    # PageRank and TrustRank in the same steps: one pass over the edges for both.
    runs = walks(g.nodes, edges, out_w, g.n, alpha=options.alpha, tol=options.tol,
                 max_iter=options.max_iter, partitions=g.partitions,
                 seeds={"pagerank": None, **({} if seed is None else {"trustrank": seed})})
    pr = runs["pagerank"]
    log.info("score: pagerank %s iterations (%.1f s)", pr.iterations,
             time.perf_counter() - started)
    table = g.nodes.join(pr.scores.withColumnRenamed("value", "pagerank"), "id")
    table = log_score(table.persist(), "pagerank", "authority_score")
    if seed is not None:
        trust = runs["trustrank"]
        log.info("score: trustrank %s iterations", trust.iterations)
        table = log_score(table.join(trust.scores.withColumnRenamed("value", "trust"), "id")
                          .persist(), "trust", "trust_score")
        table = _spam_mass(table, out_w, options)
    if options.hits:
        scores, iterations, _ = hits(g.nodes, g.edges, g.n, tol=options.tol,
                                     max_iter=options.max_iter, partitions=g.partitions)
        log.info("score: hits %s iterations (%.1f s)", iterations,
                 time.perf_counter() - started)
        table = table.join(scores, "id")
    edges.unpersist()
    return table.join(g.counts, "id"), pr


def _crawl_seed(entries: tuple[str, ...]) -> Column:
    """1.0 on the nodes a ``--trusted`` list names (URLs by key, hosts, domains), as
    :func:`linkgraph.scoring.trust.crawl_seed_vector`."""
    from pyspark.sql import functions as F

    from linkgraph.storage.url_key import url_key

    keys = [url_key(e) for e in entries if "://" in e]
    names = [e.lower().rstrip(".") for e in entries if "://" not in e]
    hit = F.col("url_key").isin(keys) if keys else F.lit(False)
    if names:
        hit = hit | F.coalesce(F.col("host").isin(names), F.lit(False)) \
            | F.coalesce(F.col("domain").isin(names), F.lit(False))
    return F.when(hit, 1.0).otherwise(0.0)


def _edge_seed(entries: tuple[str, ...], integral: bool) -> Column:
    """1.0 on the nodes whose id is an entry (:func:`~linkgraph.scoring.trust.
    node_seed_vector`)."""
    from pyspark.sql import functions as F

    if integral:
        try:
            values: list = [int(e) for e in entries]
        except ValueError:
            raise UsageError("trusted entries must be integer ids for this edge list") from None
    else:
        values = list(entries)
    return F.when(F.col("id").isin(values), 1.0).otherwise(0.0)


def _require_seeds(nodes: DataFrame, seed: Column, entries: tuple[str, ...]) -> None:
    from pyspark.sql import functions as F

    if not nodes.where(seed > F.lit(0.0)).limit(1).count():
        raise UsageError(f"none of the {len(entries)} trusted entries is a node of the graph "
                         f"(first: {entries[0]})")


def score_crawl(crawl_dir: Path | str, options: ScoreOptions | None = None,
                out_dir: Path | str | None = None, *, partial: bool = False,
                spark: SparkSettings | None = None) -> SparkScorePaths:
    """Score a crawl folder on Spark; write its page, host and domain tables.

    Parameters are those of :func:`linkgraph.scoring.score.score_crawl`, and
    ``spark``: where to run (default: local mode on every core).

    Returns
    -------
    SparkScorePaths
    """
    options = options or ScoreOptions()
    started = time.perf_counter()
    session = start(spark or SparkSettings())  # first: pyspark may be missing
    with spark_errors(session):
        return _score_crawl(session, str(crawl_dir), options, out_dir, partial, started)


def _score_crawl(session: Any, crawl_dir: str, options: ScoreOptions,
                 out_dir: Path | str | None, partial: bool, started: float) -> SparkScorePaths:
    from pyspark.sql import functions as F

    out = str(out_dir) if out_dir else f"{crawl_dir.rstrip('/')}/scores"
    g = spark_graph.crawl_graph(session, crawl_dir, options, partial=partial)
    log.info("score: %s nodes (%.1f s)", g.n, time.perf_counter() - started)
    seed = None
    if options.trusted:
        seed = _crawl_seed(options.trusted)
        _require_seeds(g.nodes, seed, options.trusted)
    table, pr = _walks(g, options, seed, started)
    columns = ["url", "url_key", "host", "domain", "status", "pagerank", "authority_score"]
    columns += ["trust", "trust_score", "spam_mass"] if seed is not None else []
    columns += ["hub", "authority"] if options.hits else []
    columns += ["in_links", "out_links", "referring_pages", "referring_domains",
                "followed_referring_domains"]
    metadata = None
    if "://" not in crawl_dir:
        from linkgraph.scoring.crawl_input import committed_parts
        from linkgraph.scoring.score import scored_metadata

        # What `linkgraph explain` needs to rebuild the graph, as the local engine writes.
        metadata = scored_metadata(options, committed_parts(Path(crawl_dir), partial=partial),
                                   pr, partial)
    pages = write_scores(table.orderBy(F.col("pagerank").desc(), F.col("id")).select(columns),
                         f"{out}/pages.parquet", metadata=metadata)
    log.info("score: %s written (%.1f s)", pages, time.perf_counter() - started)
    if not options.sites:
        if "://" not in out:
            for stale in (Path(out) / "hosts.parquet", Path(out) / "domains.parquet"):
                stale.unlink(missing_ok=True)
        _release(session)
        return SparkScorePaths(pages, None, None)
    from linkgraph.scoring.spark.sites import site_tables

    hosts, domains = site_tables(session, g, options, out, seed)
    log.info("score: %s and %s written (%.1f s)", hosts, domains, time.perf_counter() - started)
    _release(session)
    return SparkScorePaths(pages, hosts, domains)


def score_edges(path: Path | str, src: str, dst: str, out: Path | str,
                weight: str | None = None, options: ScoreOptions | None = None, *,
                delimiter: str | None = None, header: bool = True,
                spark: SparkSettings | None = None) -> str:
    """Score a Parquet edge list on Spark: :func:`linkgraph.scoring.score.score_edges`'s
    table (columns node, pagerank, authority_score, [trust, trust_score], [hub,
    authority], in_links, out_links, referring_pages). CSV/TSV edge lists
    (``delimiter``, ``header``) are the local engine's only: one-line error here."""
    from linkgraph.scoring._text_edges import is_text_edges

    if delimiter is not None or not header or is_text_edges(path):
        raise UsageError("--engine spark reads Parquet edge lists; score a CSV/TSV edge "
                         "list with the local engine (or convert it to Parquet)")
    options = options or ScoreOptions()
    started = time.perf_counter()
    session = start(spark or SparkSettings())  # first: pyspark may be missing
    with spark_errors(session):
        return _score_edges(session, str(path), src, dst, out, weight, options, started)


def _score_edges(session: Any, path: str, src: str, dst: str, out: Path | str,
                 weight: str | None, options: ScoreOptions, started: float) -> str:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    g, node_type = spark_graph.edge_list_graph(session, str(path), src, dst, weight, options)
    log.info("score: %s nodes (%.1f s)", g.n, time.perf_counter() - started)
    seed = None
    if options.trusted:
        seed = _edge_seed(options.trusted, not isinstance(node_type, T.StringType))
        _require_seeds(g.nodes, seed, options.trusted)
    table, _ = _walks(g, options, seed, started)
    columns = ["pagerank", "authority_score"]
    columns += ["trust", "trust_score", "spam_mass"] if seed is not None else []
    columns += ["hub", "authority"] if options.hits else []
    columns += ["in_links", "out_links", "referring_pages"]
    node = F.col("id").cast(node_type).alias("node")
    written = write_scores(table.orderBy(F.col("pagerank").desc(), F.col("id"))
                           .select(node, *columns), str(out), node_type=arrow_type(node_type))
    log.info("score: %s written (%.1f s)", written, time.perf_counter() - started)
    _release(session)
    return written
