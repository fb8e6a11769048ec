"""Authority scores for pages, hosts and domains (``linkgraph score``).

Public API: :func:`score_crawl`, :func:`score_edges`, :class:`ScoreOptions`; the
algorithms (:func:`pagerank`, :func:`hits`, :func:`harmonic_centrality`,
:func:`log_score`) take arrays and CSR matrices and know nothing of crawls. See
README.md in this folder for the model, the defaults and the route to Spark.

Names are imported on first use (PEP 562): ``linkgraph --help`` or a crawl that
only needs :mod:`linkgraph.scoring.options` does not pay for scipy and the compiled loops.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "harmonic_centrality": "harmonic", "HitsResult": "hits", "hits": "hits",
    "ScoreOptions": "options", "PageRankResult": "pagerank", "pagerank": "pagerank",
    "log_score": "scale", "ScorePaths": "score", "score_crawl": "score",
    "score_edges": "score",
}

__all__ = sorted(_EXPORTS)

# Two functions share their module's name: bound now, or the submodule (set on the
# package once imported) would shadow them. Both modules are light (numpy only).
from linkgraph.scoring.hits import HitsResult, hits  # noqa: E402
from linkgraph.scoring.pagerank import PageRankResult, pagerank  # noqa: E402

if TYPE_CHECKING:
    from linkgraph.scoring.harmonic import harmonic_centrality
    from linkgraph.scoring.options import ScoreOptions
    from linkgraph.scoring.scale import log_score
    from linkgraph.scoring.score import ScorePaths, score_crawl, score_edges


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
