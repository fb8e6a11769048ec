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
with the steps, matched against every cached table, cost seconds per step to plan).
The driver holds only scalars (the L1 change, the rank on dangling nodes, the
extrapolation's sums): nothing in it grows with the graph. PageRank and TrustRank run
in the same steps (:func:`walks`): one join and one group-by carry both vectors, each
walk keeping its own schedule and stopping rule, so a trusted run reads the edges once
per step, not twice.

Same model as the local engine: dangling rank redistributed by the personalisation
vector (uniform by default) every step (not normalised at the end, as GraphX's and
GraphFrames' PageRank do: SPARK-18847), start at the teleport vector, the same
quadratic extrapolation every :data:`~linkgraph.scoring.pagerank.EXTRAPOLATE_EVERY`
steps, and the same stopping rule: stop when the L1 change of a plain step is below
``tol``. The local engine's first steps round shares to float32 (a memory-bandwidth
saving); here every step is float64, so both stop within ``tol * alpha / (1 - alpha)``
(L1) of the same fixed point. HITS follows :mod:`linkgraph.scoring.hits` the same way:
its extrapolation every five plain steps, ended after two fits that made the next
step change more, and its stopping rule (without them the UK host graph took 95 steps
where the local engine takes 27, and stopped 1.5e-9 away from it).
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


class _Walking:
    """One walk's state on the driver: the local engine's loop variables."""

    def __init__(self, index: int, name: str, seeded: bool) -> None:
        self.name = name
        self.seeded = seeded
        self.x, self.x_1, self.x_2, self.x_3 = (f"x{index}{s}" for s in ("", "_1", "_2", "_3"))
        self.p = f"p{index}"
        self.lost = 0.0
        self.delta = float("inf")
        self.plain_steps = 0
        self.extrapolating = True
        self.before_extrapolation = float("inf")
        self.result: tuple[int, float, bool] | None = None  # iterations, delta, converged

    @property
    def ring(self) -> list[str]:
        return [self.x, self.x_1, self.x_2, self.x_3]


def walks(nodes: DataFrame, edges: DataFrame, out_w: DataFrame, n: int, *, alpha: float,
          tol: float, max_iter: int, partitions: int, seeds: dict[str, Column | None]
          ) -> dict[str, Walk]:
    """Several walks on the same graph in the same steps (PageRank and TrustRank: one
    uniform walk, one per seed column), each by its own schedule and stopping rule, as
    if run alone: a step joins the edge table once with every running walk's vector
    and sums all of them in one group-by, so the edges are read once per step for all
    of them. A walk that has stopped keeps its vector and leaves the join.

    Parameters
    ----------
    nodes : DataFrame
        Every node once (column ``id``, and the columns the seeds read).
    edges, out_w : DataFrame
        From :func:`normalised_edges`.
    n : int
        Number of nodes.
    alpha, tol, max_iter
        As :func:`linkgraph.scoring.pagerank.pagerank`.
    partitions : int
        Partitions of the rank table (those of ``edges``).
    seeds : dict of str to Column or None
        Each walk's name (in the progress lines) and its personalisation vector: a 0/1
        (or weight) column of ``nodes`` with a positive sum (TrustRank), or None
        (uniform: PageRank).

    Returns
    -------
    dict of str to Walk
        Each walk by name.
    """
    F = _f()
    runs = [_Walking(i, name, seed is not None) for i, (name, seed) in enumerate(seeds.items())]
    base = nodes.select("id", *[seed.cast("double").alias(w.p)
                                for w, seed in zip(runs, seeds.values()) if seed is not None])
    state = base.join(out_w, "id", "left").select(
        *base.columns, F.col("out_w").isNull().alias("dang"))
    seeded = [w for w in runs if w.seeded]
    if seeded:
        totals = state.agg(*[F.sum(w.p).alias(w.p) for w in seeded]).first()
        state = state.select("id", "dang", *[(F.col(w.p) / F.lit(totals[w.p] or 0.0)).alias(w.p)
                                             for w in seeded])
    zero = F.lit(0.0)
    fixed = ["id", "dang"] + [w.p for w in seeded]
    state = state.repartition(partitions, "id").select(*fixed, *[
        c for w in runs for c in ((F.col(w.p) if w.seeded else F.lit(1.0 / n)).alias(w.x),
                                  zero.alias(w.x_1), zero.alias(w.x_2), zero.alias(w.x_3))])
    steps = _Steps()
    state = steps.keep(state)
    lost = state.agg(*[F.sum(F.when(F.col("dang"), F.col(w.x)).otherwise(0.0)).alias(w.x)
                       for w in runs]).first()
    for w in runs:
        w.lost = float(lost[w.x] or 0.0)
    started = last_log = time.monotonic()
    for it in range(1, max_iter + 1):
        running = [w for w in runs if w.result is None]
        if not running:
            break
        contrib = edges.join(state.select(F.col("id").alias("src"),
                                          *[F.col(w.x).alias(f"s_{w.x}") for w in running]),
                             "src").groupBy("dst").agg(
            *[F.sum(F.col(f"s_{w.x}") * F.col("w")).alias(f"c_{w.x}") for w in running])
        columns = [state[k] for k in fixed]
        for w in runs:
            if w.result is not None:
                columns.append(state[w.x])  # stopped: its vector stays
                continue
            c = F.coalesce(contrib[f"c_{w.x}"], zero)
            if w.seeded:
                y = F.lit(alpha) * c + (F.col(w.p) * F.lit(alpha * w.lost)
                                        + F.lit(1.0 - alpha) * F.col(w.p))
            else:
                y = F.lit(alpha) * c + F.lit((1.0 - alpha) / n + alpha * w.lost / n)
            columns += [y.alias(w.x), state[w.x].alias(w.x_1), state[w.x_1].alias(w.x_2),
                        state[w.x_2].alias(w.x_3)]
        state = steps.keep(state.join(contrib, state.id == contrib.dst, "left")
                           .select(*columns))
        aggs = []
        for w in running:
            w.plain_steps += 1
            aggs += _step_sums(w, w.extrapolating and w.plain_steps >= EXTRAPOLATE_EVERY)
        sums = {k: float(v or 0.0) for k, v in state.agg(*aggs).first().asDict().items()}
        fits = []
        for w in running:
            mine = {k[len(w.x) + 2:]: v for k, v in sums.items() if k.startswith(w.x + "__")}
            fit = w.extrapolating and w.plain_steps >= EXTRAPOLATE_EVERY
            w.delta, w.lost = mine["delta"], mine["lost"]
            if w.delta < tol:
                log.info("%s: converged in %s iterations, L1 change %.3g", w.name, it, w.delta)
                w.result = (it, w.delta, True)
                continue
            if w.plain_steps == 1 and w.delta > w.before_extrapolation:
                w.extrapolating = False
                fit = False
            if fit:
                w.plain_steps = 0
                coefficients = _fit(mine)
                if coefficients is not None:
                    fits.append((w, coefficients))
                    w.lost = coefficients[0] * mine["d2"] + coefficients[1] * mine["d1"] \
                        + coefficients[2] * mine["d0"]
                    w.before_extrapolation = w.delta
                else:
                    w.before_extrapolation = float("inf")
        if fits:
            fitted = {w.x: w for w, _ in fits}
            columns = [F.col(k) for k in fixed]
            for w in runs:
                if w.x not in fitted:
                    columns += [F.col(c) for c in (w.ring if w.result is None else [w.x])]
                    continue
                c1, c2, c3 = dict(fits)[w]
                ext = F.lit(c1) * F.col(w.x_2) + F.lit(c2) * F.col(w.x_1) + F.lit(c3) * F.col(w.x)
                columns += [ext.alias(w.x), F.col(w.x).alias(w.x_1), F.col(w.x_1).alias(w.x_2),
                            F.col(w.x_2).alias(w.x_3)]
            state = state.select(*columns)
        now = time.monotonic()
        if now - last_log >= PROGRESS_EVERY:
            for w in running:
                if w.result is None:
                    log.info("%s: iteration %s, L1 change %.3g (%.1f s)", w.name, it, w.delta,
                             now - started)
            last_log = now
    for w in runs:
        if w.result is None:
            log.warning("%s did not converge in %s iterations (L1 change %.3g > tol %.3g)",
                        w.name, max_iter, w.delta, tol)
            w.result = (max_iter, w.delta, False)
    steps.release()
    return {w.name: Walk(_result(state, w.x), *w.result) for w in runs}


def _step_sums(w: _Walking, fit: bool) -> list[Column]:
    """The aggregates of walk ``w`` over a step's table, named ``{w.x}__{name}``: the
    L1 change, the rank on dangling nodes and, before an extrapolation, its normal
    equations' sums (names as in :func:`linkgraph.scoring._kernels.extrapolate`, whose
    x0..x3 are x_3..x here)."""
    F = _f()
    on_dangling = lambda c: F.sum(F.when(F.col("dang"), F.col(c)).otherwise(0.0))  # noqa: E731
    named = {"delta": F.sum(F.abs(F.col(w.x) - F.col(w.x_1))), "lost": on_dangling(w.x)}
    if fit:
        named.update(_fit_sums(*(F.col(c) for c in w.ring)))
        named.update(d0=on_dangling(w.x), d1=on_dangling(w.x_1), d2=on_dangling(w.x_2))
    return [column.alias(f"{w.x}__{name}") for name, column in named.items()]


def _fit_sums(x: Column, x_1: Column, x_2: Column, x_3: Column) -> dict[str, Column]:
    """The extrapolation's normal equations' sums over the iterates ``x_3`` (oldest)
    to ``x``, by the names :func:`_fit` reads."""
    F = _f()
    d1, d2, d3 = (c - x_3 for c in (x_2, x_1, x))
    return {"a11": F.sum(d1 * d1), "a12": F.sum(d1 * d2), "a22": F.sum(d2 * d2),
            "b1": F.sum(d1 * d3), "b2": F.sum(d2 * d3), "s1": F.sum(x_2), "s2": F.sum(x_1),
            "s3": F.sum(x)}


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
    normalised to sum 1: :func:`linkgraph.scoring.hits.hits` on Spark, with its
    schedule: the quadratic extrapolation of the last four iterates every
    :data:`~linkgraph.scoring.hits.EXTRAPOLATE_EVERY` plain steps, extrapolation ended
    after :data:`~linkgraph.scoring.hits.MAX_BAD_FITS` fits that made the next step
    change more, the stopping rule applied to plain steps only, and the plain-step
    count restarted where the local engine leaves float32 (every step is float64 here).

    ``edges`` are ``(src, dst, w)`` with the adjacency's weights. Each step is two
    joins and two group-bys, then two aggregates over the step's table: its sum, then
    the L1 change of the normalised vector (and, before an extrapolation, the fit's
    sums), which need that sum.

    Returns
    -------
    scores : DataFrame
        Columns ``id``, ``hub``, ``authority``.
    iterations : int
    converged : bool
    """
    from linkgraph.scoring.hits import HitsSchedule

    F = _f()
    by_dst = cut(edges.select("src", "dst", "w").repartition(partitions, "dst"))
    by_src = cut(edges.select("src", "dst", "w").repartition(partitions, "src"))
    if by_src.limit(1).count() == 0:
        zeros = nodes.select("id", F.lit(0.0).alias("hub"), F.lit(0.0).alias("authority"))
        return zeros, 0, True
    steps = _Steps()
    zero = F.lit(0.0)
    # a: the iterate the next step multiplies; a_1..a_3: the ones before it (a fit's).
    state = steps.keep(nodes.select("id").repartition(partitions, "id").select(
        "id", F.lit(1.0 / n).alias("a"), zero.alias("a_1"), zero.alias("a_2"),
        zero.alias("a_3")))
    # The local engine's schedule (its float32 end restarts the plain-step count).
    schedule = HitsSchedule(tol)
    delta = float("inf")
    converged = False
    it = 0
    started = last_log = time.monotonic()
    for it in range(1, max_iter + 1):
        hub = by_dst.join(state.select(F.col("id").alias("dst"), "a"), "dst") \
            .groupBy("src").agg(F.sum(F.col("w") * F.col("a")).alias("h"))
        raw = by_src.join(hub, "src").groupBy("dst").agg(
            F.sum(F.col("w") * F.col("h")).alias("r"))
        step = steps.keep(state.join(raw, state.id == raw.dst, "left").select(
            state.id, F.coalesce(raw.r, zero).alias("r"), state.a.alias("a_1"),
            state.a_1.alias("a_2"), state.a_2.alias("a_3")))
        total = float(step.agg(F.sum("r")).first()[0] or 0.0)
        x = F.col("r") / F.lit(total) if total > 0 else F.col("r")
        fit = schedule.step()
        aggs = [F.sum(F.abs(x - F.col("a_1"))).alias("delta")]
        if fit:
            aggs += [column.alias(name) for name, column in
                     _fit_sums(x, F.col("a_1"), F.col("a_2"), F.col("a_3")).items()]
        sums = {k: float(v or 0.0) for k, v in step.agg(*aggs).first().asDict().items()}
        delta = sums["delta"]
        state = step.select("id", x.alias("a"), "a_1", "a_2", "a_3")
        action = schedule.after(delta, it)
        if action == schedule.SWITCH:
            continue
        if action == schedule.STOP:
            converged = True
            break
        if action == schedule.EXTRAPOLATE:
            coefficients = _fit(sums)
            if coefficients is not None:
                c1, c2, c3 = coefficients
                ext = F.lit(c1) * F.col("a_2") + F.lit(c2) * F.col("a_1") + F.lit(c3) * x
                state = step.select("id", ext.alias("a"), x.alias("a_1"),
                                    F.col("a_1").alias("a_2"), F.col("a_2").alias("a_3"))
            schedule.fitted(delta, coefficients is not None)
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
