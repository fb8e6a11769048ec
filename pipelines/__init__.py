"""Item pipelines and the Parquet schemas of linkgraph's datasets."""

from __future__ import annotations
