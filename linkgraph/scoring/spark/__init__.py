"""The Spark engine of ``linkgraph score`` (``--engine spark``): the local engine's
scores, options and tables, computed with Spark DataFrames, for graphs past one
machine. Needs the ``spark`` extra (pyspark) and a Java runtime; nothing outside this
package imports it. See README.md ("Scoring on Spark").
"""

from __future__ import annotations

from linkgraph.scoring.spark.score import SparkScorePaths, score_crawl, score_edges
from linkgraph.scoring.spark.session import SparkSettings

__all__ = ["SparkScorePaths", "SparkSettings", "score_crawl", "score_edges"]
