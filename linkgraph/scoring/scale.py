"""The 0-100 authority score: PageRank on a log scale a reader can use unexplained.

PageRank values span orders of magnitude and sum to 1, so raw values mean nothing to a
reader and shrink as the graph grows. Like Screaming Frog's Link Score and Ahrefs'
UR/DR, the score puts them on a logarithmic 0-100 scale::

    score = 100 * ln(v / v_min) / ln(v_max / v_min)

where ``v_min`` is the smallest positive value (for PageRank: a page nobody links to,
which only gets the teleport share ``(1 - alpha) / N``) and ``v_max`` the largest.
So 0 = no links in, 100 = the strongest node of this graph, and each equal step is
the same *factor* of PageRank: on a graph whose values span 1000x, +10 points is 2x.
Scores compare nodes within one graph, not across graphs. A value of 0 (e.g. trust
of a page no trusted page reaches) scores 0; when all values are equal, all score 100.
"""

from __future__ import annotations

import numpy as np


def log_score(values: np.ndarray, decimals: int = 1) -> np.ndarray:
    """Map non-negative values to the 0-100 log scale described above.

    Parameters
    ----------
    values : ndarray
        Non-negative scores (PageRank, trust, ...).
    decimals : int
        Rounding of the result.

    Returns
    -------
    ndarray of float64 in [0, 100]
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros(values.shape)
    positive = values > 0
    if not positive.any():
        return out
    lo = values[positive].min()
    hi = values.max()
    if hi <= lo:
        out[positive] = 100.0
        return out
    out[positive] = 100.0 * np.log(values[positive] / lo) / np.log(hi / lo)
    return np.clip(np.round(out, decimals), 0.0, 100.0)
