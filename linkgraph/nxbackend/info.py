"""What networkx shows of the linkgraph backend (the ``networkx.backend_info`` entry
point). networkx calls :func:`get_info` while it is imported: this module imports
nothing."""

from __future__ import annotations


def get_info() -> dict:
    return {
        "backend_name": "linkgraph",
        "project": "linkgraph",
        "package": "linkgraph",
        "short_summary": "PageRank, HITS and harmonic centrality on linkgraph's compiled "
                         "kernels",
        "functions": {
            "pagerank": {"additional_docs": "Stops at networkx's rule (L1 change < N*tol); "
                                            "nstart is not supported."},
            "hits": {"additional_docs": "Power iteration to an L1 change < min(tol, 1e-10) "
                                        "instead of ARPACK; nstart is not supported."},
            "harmonic_centrality": {"additional_docs": "Exact, whole graph, hop distances "
                                                       "(nbunch, sources, distance not "
                                                       "supported)."},
        },
    }
