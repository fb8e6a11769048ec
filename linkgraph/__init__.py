"""linkgraph: crawl a web with Scrapy, keep every link as typed Parquet rows, score authority."""

from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str):
    # linkgraph.to_networkx without importing networkx and pyarrow for every `linkgraph`
    # command (PEP 562).
    if name == "to_networkx":
        from linkgraph.analysis.export import to_networkx

        return to_networkx
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
