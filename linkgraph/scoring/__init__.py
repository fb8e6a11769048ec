"""Authority scores for pages, hosts and domains (``linkgraph score``).

Public API: :func:`score_crawl`, :func:`score_edges`, :class:`ScoreOptions`; the
algorithms (:func:`pagerank`, :func:`hits`, :func:`harmonic_centrality`,
:func:`log_score`) take arrays and CSR matrices and know nothing of crawls. See
README.md in this folder for the model, the defaults and the route to Spark.
"""

from __future__ import annotations

from linkgraph.scoring.harmonic import harmonic_centrality
from linkgraph.scoring.hits import HitsResult, hits
from linkgraph.scoring.options import ScoreOptions
from linkgraph.scoring.pagerank import PageRankResult, pagerank
from linkgraph.scoring.scale import log_score
from linkgraph.scoring.score import ScorePaths, score_crawl, score_edges

__all__ = [
    "HitsResult", "PageRankResult", "ScoreOptions", "ScorePaths", "harmonic_centrality",
    "hits", "log_score", "pagerank", "score_crawl", "score_edges",
]
