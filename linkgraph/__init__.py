"""linkgraph: crawl a web with Scrapy, keep every link as typed Parquet rows, score authority."""

from __future__ import annotations

__version__ = "0.1.0"
