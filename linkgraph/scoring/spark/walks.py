"""PageRank (and TrustRank) and HITS as Spark DataFrame iterations: the local engine's
model, step for step (:mod:`linkgraph.scoring.pagerank`, :mod:`linkgraph.scoring.hits`).

A step is one join of the edge table with the rank table and one group-by by target.
The edge table is hash-partitioned by source once and cached; the rank table is
hash-partitioned by node with the same number of partitions, and the group-by's
output keeps that partitioning, so each step shuffles only the contributions, never
the edges. Each step's rank table is a local checkpoint (or, when the context has a
checkpoint directory, persisted and reliably checkpointed every
:data:`CHECKPOINT_EVERY` steps), and the edge tables are checkpoints too: the plan a
step is built from stays a few nodes long however many steps run (a plan that grew
with the steps, matched against every cached table, cost seconds per step to plan). The driver holds only scalars (the L1 change, the rank
on dangling nodes, the extrapolation's sums): nothing in it grows with the graph.

Same model as the local engine: dangling rank redistributed by the personalisation
vector (uniform by default) every step (not normalised at the end, as GraphX's and
GraphFrames' PageRank do: SPARK-18847), start at the teleport vector, the same
quadratic extrapolation every :data:`~linkgraph.scoring.pagerank.EXTRAPOLATE_EVERY`
steps, and the same stopping rule: stop when the L1 change of a plain step is below
``tol``. The local engine's first steps round shares to float32 (a memory-bandwidth
saving); here every step is float64, so both stop within ``tol * alpha / (1 - alpha)``
(L1) of the same fixed point.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkgraph.scoring.pagerank import EXTRAPOLATE_EVERY, PROGRESS_EVERY

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

log = logging.getLogger(__name__)

#: Steps between two checkpoints of the rank table (the lineage cut).
CHECKPOINT_EVERY = 4


@dataclass(frozen=True)
class Walk:
    """A converged (or capped) iteration: ``scores`` has columns ``id`` and ``value``."""

    scores: DataFrame
    iterations: int
    delta: float
    converged: bool


class _Steps:
    """Materialises each step's table once and keeps its plan short.

    Without a checkpoint directory every step's table is a lazy local checkpoint: the
    step's sums compute it once, and the next step's plan starts from it (a leaf that
    keeps its hash partitioning), so planning a step costs the same at step 50 as at
    step 1. With one (a cluster that wants steps recomputable after losing an
    executor), steps are persisted and reliably checkpointed every
    :data:`CHECKPOINT_EVERY` steps. A persisted table is only computed by the first
    query over it, after :meth:`keep` returns; unpersisting the table it was built from
    before that makes Spark re-plan it from the lineage (every step would recompute the
    steps back to the last checkpoint), so a table is released two steps later."""

    def __init__(self) -> None:
        self.count = 0
        self.kept: list[DataFrame] = []

    def keep(self, table: DataFrame) -> DataFrame:
        self.count += 1
        sc = table.sparkSession.sparkContext
        if not sc.getCheckpointDir():
            table = table.localCheckpoint(eager=False)
        elif self.count % CHECKPOINT_EVERY == 0:
            table = table.checkpoint(eager=True)
        else:
            table = table.persist()
        while len(self.kept) >= 2:
            _drop(self.kept.pop(0))
        self.kept.append(table)
        return table

    def release(self) -> None:
        """Drop every kept table but the last (computed by then)."""
        while len(self.kept) > 1:
            _drop(self.kept.pop(0))


def _drop(table: DataFrame) -> None:
    """Unpersist ``table``; a local checkpoint's blocks too (the context cleaner would
    free them only once the JVM collects the RDD, which on a long run is many steps
    later)."""
    table.unpersist()
    try:
        plan = table._jdf.logicalPlan()
        if plan.getClass().getSimpleName() == "LogicalRDD":
            plan.rdd().unpersist(False)
    except Exception:  # noqa: BLE001 - a Spark without these internals: the cleaner frees it
        log.debug("local checkpoint left to the context cleaner", exc_info=True)


def cut(table: DataFrame) -> DataFrame:
    """``table`` computed now and its plan cut to a leaf (its partitioning kept): a
    reliable checkpoint when the context has a checkpoint directory, a local one
    otherwise. For tables every later step's plan includes: planning a query costs
    with the depth of its plan and the number of cached tables it is matched against."""
    sc = table.sparkSession.sparkContext
    return table.checkpoint(eager=True) if sc.getCheckpointDir() \
        else table.localCheckpoint(eager=True)


def _f():
    from pyspark.sql import functions as F

    return F


def normalised_edges(edges: DataFrame, partitions: int) -> tuple[DataFrame, DataFrame]:
    """Edges ``(src, dst, w)`` with ``w`` divided by the source's out-weight, hash-
    partitioned by source and cached; and each source's out-weight ``(id, out_w)``."""
    F = _f()
    out_w = edges.groupBy("src").agg(F.sum("w").alias("out_w"))
    shared = (edges.join(out_w, "src").select("src", "dst", (F.col("w") / F.col("out_w"))
                                              .alias("w"))
              .repartition(partitions, "src"))
    return cut(shared), out_w.withColumnRenamed("src", "id")


def pagerank(nodes: DataFrame, edges: DataFrame, out_w: DataFrame, n: int, *, alpha: float,
             tol: float, max_iter: int, partitions: int, seed: Column | None = None,
             what: str = "pagerank") -> Walk:
    """PageRank of the graph ``edges`` (normalised, see :func:`normalised_edges`) on
    ``nodes`` (column ``id``, ``n`` rows).

    Parameters
    ----------
    nodes : DataFrame
        Every node once (column ``id``; more columns are ignored).
    edges, out_w : DataFrame
        From :func:`normalised_edges`.
    n : int
        Number of nodes.
    alpha, tol, max_iter
        As :func:`linkgraph.scoring.pagerank.pagerank`.
    partitions : int
        Partitions of the rank table (those of ``edges``).
    seed : Column, optional
        A 0/1 (or weight) column of ``nodes``: the personalisation vector (TrustRank).
        Its sum must be positive. None: uniform.
    what : str
        Name in the progress lines.

    Returns
    -------
    Walk
    """
    F = _f()
    base = nodes.select("id") if seed is None else \
        nodes.select("id", seed.cast("double").alias("p"))
    state = base.join(out_w, "id", "left").select(
        *base.columns, F.col("out_w").isNull().alias("dang"))
    if seed is not None:
        total = state.agg(F.sum("p")).first()[0] or 0.0
        state = state.withColumn("p", F.col("p") / F.lit(total))
        start = F.col("p")
    else:
        start = F.lit(1.0 / n)
    zero = F.lit(0.0)
    state = state.repartition(partitions, "id").select(
        "*", start.alias("x"), zero.alias("x_1"), zero.alias("x_2"), zero.alias("x_3"))
    steps = _Steps()
    state = steps.keep(state)
    lost = state.agg(F.sum(F.when(F.col("dang"), F.col("x")).otherwise(0.0))).first()[0] \
        or 0.0
    delta = float("inf")
    plain_steps = 0
    extrapolating = True
    before_extrapolation = float("inf")
    started = last_log = time.monotonic()
    keep = ["id", "dang"] + ([] if seed is None else ["p"])
    for it in range(1, max_iter + 1):
        contrib = edges.join(state.select(F.col("id").alias("src"), F.col("x").alias("xs")),
                             "src").groupBy("dst").agg(F.sum(F.col("xs") * F.col("w"))
                                                       .alias("c"))
        c = F.coalesce(F.col("c"), zero)
        if seed is None:
            y = F.lit(alpha) * c + F.lit((1.0 - alpha) / n + alpha * lost / n)
        else:
            y = F.lit(alpha) * c + (F.col("p") * F.lit(alpha * lost)
                                    + F.lit(1.0 - alpha) * F.col("p"))
        state = steps.keep(state.join(contrib, state.id == contrib.dst, "left").select(
            *[state[k] for k in keep], y.alias("x"), state.x.alias("x_1"),
            state.x_1.alias("x_2"), state.x_2.alias("x_3")))
        plain_steps += 1
        fit = extrapolating and plain_steps >= EXTRAPOLATE_EVERY
        sums = _step_sums(state, fit)
        delta, lost = sums["delta"], sums["lost"]
        if delta < tol:
            log.info("%s: converged in %s iterations, L1 change %.3g", what, it, delta)
            steps.release()
            return Walk(_result(state, "x"), it, delta, True)
        if plain_steps == 1 and delta > before_extrapolation:
            extrapolating = False
            fit = False
        if fit:
            plain_steps = 0
            coefficients = _fit(sums)
            if coefficients is not None:
                c1, c2, c3 = coefficients
                ext = (F.lit(c1) * F.col("x_2") + F.lit(c2) * F.col("x_1")
                       + F.lit(c3) * F.col("x"))
                state = state.select(*keep, ext.alias("x"), F.col("x").alias("x_1"),
                                     F.col("x_1").alias("x_2"), F.col("x_2").alias("x_3"))
                lost = c1 * sums["d2"] + c2 * sums["d1"] + c3 * sums["d0"]
                before_extrapolation = delta
            else:
                before_extrapolation = float("inf")
        now = time.monotonic()
        if now - last_log >= PROGRESS_EVERY:
            log.info("%s: iteration %s, L1 change %.3g (%.1f s)", what, it, delta,
                     now - started)
            last_log = now
    log.warning("%s did not converge in %s iterations (L1 change %.3g > tol %.3g)",
                what, max_iter, delta, tol)
    steps.release()
    return Walk(_result(state, "x"), max_iter, delta, False)


def _step_sums(state: DataFrame, fit: bool) -> dict[str, float]:
    """One aggregate over a step's table: the L1 change, the rank on dangling nodes and,
    before an extrapolation, its normal equations' sums (names as in
    :func:`linkgraph.scoring._kernels.extrapolate`, whose x0..x3 are x_3..x here)."""
    F = _f()
    on_dangling = lambda c: F.sum(F.when(F.col("dang"), F.col(c)).otherwise(0.0))  # noqa: E731
    aggs = [F.sum(F.abs(F.col("x") - F.col("x_1"))).alias("delta"),
            on_dangling("x").alias("lost")]
    if fit:
        d1, d2, d3 = (F.col(c) - F.col("x_3") for c in ("x_2", "x_1", "x"))
        aggs += [F.sum(d1 * d1).alias("a11"), F.sum(d1 * d2).alias("a12"),
                 F.sum(d2 * d2).alias("a22"), F.sum(d1 * d3).alias("b1"),
                 F.sum(d2 * d3).alias("b2"), F.sum("x_2").alias("s1"),
                 F.sum("x_1").alias("s2"), F.sum("x").alias("s3"),
                 on_dangling("x").alias("d0"), on_dangling("x_1").alias("d1"),
                 on_dangling("x_2").alias("d2")]
    row = state.agg(*aggs).first()
    return {k: float(v or 0.0) for k, v in row.asDict().items()}


def _fit(s: dict[str, float]) -> tuple[float, float, float] | None:
    """The extrapolation's coefficients of x_2, x_1, x (None: no fit), the arithmetic
    of :func:`linkgraph.scoring._kernels.extrapolate`."""
    import math

    det = s["a11"] * s["a22"] - s["a12"] * s["a12"]
    if not det > 1e-10 * s["a11"] * s["a22"]:
        return None
    g1 = (s["a12"] * s["b2"] - s["a22"] * s["b1"]) / det
    g2 = (s["a12"] * s["b1"] - s["a11"] * s["b2"]) / det
    c1, c2 = g1 + g2 + 1.0, g2 + 1.0
    total = c1 * s["s1"] + c2 * s["s2"] + s["s3"]
    if not (total > 0.0 and math.isfinite(total)):
        return None
    return c1 / total, c2 / total, 1.0 / total


def _result(state: DataFrame, column: str) -> DataFrame:
    F = _f()
    return state.select("id", F.col(column).alias("value"))


def hits(nodes: DataFrame, edges: DataFrame, n: int, *, tol: float, max_iter: int,
         partitions: int) -> tuple[DataFrame, int, bool]:
    """HITS hubs and authorities by the power iteration ``a <- A.T (A a)``, each
    normalised to sum 1: :func:`linkgraph.scoring.hits.hits` on Spark.

    ``edges`` are ``(src, dst, w)`` with the adjacency's weights. Each step is two
    joins and two group-bys. The L1 change of a step's normalised vector needs that
    step's sum, known only once it is computed: each aggregate returns the sum of
    this step and the change of the step before, so the loop stops one step late and
    returns the iterate the rule stopped at (what the local engine returns).

    Returns
    -------
    scores : DataFrame
        Columns ``id``, ``hub``, ``authority``.
    iterations : int
    converged : bool
    """
    F = _f()
    by_dst = cut(edges.select("src", "dst", "w").repartition(partitions, "dst"))
    by_src = cut(edges.select("src", "dst", "w").repartition(partitions, "src"))
    if by_src.limit(1).count() == 0:
        zeros = nodes.select("id", F.lit(0.0).alias("hub"), F.lit(0.0).alias("authority"))
        return zeros, 0, True
    steps = _Steps()
    # r: this step's unnormalised vector; a: the last one normalised; a_prev: the one before.
    state = steps.keep(nodes.select("id").repartition(partitions, "id").select(
        "id", F.lit(1.0 / n).alias("r"), F.lit(1.0 / n).alias("a"),
        F.lit(1.0 / n).alias("a_prev")))
    total = 1.0
    delta = float("inf")
    converged = False
    it = 0
    started = last_log = time.monotonic()
    for job in range(1, max_iter + 2):
        a = F.col("r") / F.lit(total) if total > 0 else F.col("r")
        current = state.select("id", a.alias("a"), F.col("a").alias("a_prev"))
        hub = by_dst.join(current.select(F.col("id").alias("dst"), "a"), "dst") \
            .groupBy("src").agg(F.sum(F.col("w") * F.col("a")).alias("h"))
        raw = by_src.join(hub, "src").groupBy("dst").agg(
            F.sum(F.col("w") * F.col("h")).alias("r"))
        state = steps.keep(current.join(raw, current.id == raw.dst, "left").select(
            current.id, F.coalesce(raw.r, F.lit(0.0)).alias("r"), current.a, current.a_prev))
        row = state.agg(F.sum("r").alias("total"),
                        F.sum(F.abs(F.col("a") - F.col("a_prev"))).alias("delta")).first()
        total = float(row["total"] or 0.0)
        if job >= 2:
            # The change of step job-1, whose vector is this table's `a`.
            it = job - 1
            delta = float(row["delta"] or 0.0)
            if delta < tol:
                converged = True
                break
            if it == max_iter:
                break
        now = time.monotonic()
        if now - last_log >= PROGRESS_EVERY:
            log.info("hits: iteration %s, L1 change %.3g (%.1f s)", it, delta, now - started)
            last_log = now
    if not converged:
        log.warning("hits did not converge in %s iterations (L1 change %.3g > tol %.3g)",
                    max_iter, delta, tol)
    steps.release()
    authority = state.select("id", "a")
    hub = by_dst.join(authority.select(F.col("id").alias("dst"), "a"), "dst") \
        .groupBy("src").agg(F.sum(F.col("w") * F.col("a")).alias("h"))
    hub_total = hub.agg(F.sum("h")).first()[0] or 0.0
    h = F.coalesce(F.col("h"), F.lit(0.0))
    scores = authority.join(hub, authority.id == hub.src, "left").select(
        authority.id, (h / F.lit(hub_total) if hub_total > 0 else h).alias("hub"),
        F.col("a").alias("authority"))
    log.info("hits: %s iterations", it)
    return scores, it, converged
