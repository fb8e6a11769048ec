"""TrustRank seeds: which nodes a ``--trusted`` file names.

TrustRank (Gyöngyi, Garcia-Molina & Pedersen, 2004) is PageRank whose teleport (and
dangling) mass goes only to hand-picked trusted pages. Trust flows along links from
the seeds, so a link farm that only links to itself gains PageRank (its pages vote for
each other) but no trust (no trusted page links into it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.errors import UsageError
from linkgraph.storage.url_key import url_key


def read_trusted(path: Path | str) -> tuple[str, ...]:
    """Entries of a trusted-seeds file: one per line, blank lines and ``#`` comments skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read trusted seeds {path}: {exc}") from None
    entries = tuple(line.strip() for line in text.splitlines()
                    if line.strip() and not line.lstrip().startswith("#"))
    if not entries:
        raise UsageError(f"{path}: no trusted URLs, hosts or domains in it")
    return entries


def crawl_seed_vector(entries: tuple[str, ...], keys: np.ndarray, hosts: pa.Array,
                      domains: pa.Array) -> np.ndarray:
    """Personalisation vector for a crawl graph: 1 on seed pages, 0 elsewhere.

    An entry with ``://`` is a URL (matched by its 64-bit key); any other entry is a
    host (``www.example.org``) or registered domain (``example.org``), matching every
    page on it.
    """
    urls = [e for e in entries if "://" in e]
    names = [e.lower().rstrip(".") for e in entries if "://" not in e]
    seed = np.isin(keys, np.array([url_key(u) for u in urls], dtype=np.int64))
    if names:
        name_set = pa.array(names, type=pa.string())
        for column in (hosts, domains):
            seed |= pc.is_in(column.cast(pa.string()), value_set=name_set).to_numpy(
                zero_copy_only=False)
    return _require(seed, entries)


def node_seed_vector(entries: tuple[str, ...], nodes: pa.Array) -> np.ndarray:
    """Personalisation vector for an edge list: nodes whose id equals an entry."""
    if pa.types.is_integer(nodes.type):
        try:
            values = pa.array([int(e) for e in entries], type=nodes.type)
        except (ValueError, OverflowError):
            raise UsageError("trusted entries must be integer ids for this edge list") from None
    else:
        values = pa.array(list(entries), type=nodes.type)
    seed = pc.is_in(nodes, value_set=values).to_numpy(zero_copy_only=False)
    return _require(seed, entries)


def _require(seed: np.ndarray, entries: tuple[str, ...]) -> np.ndarray:
    if not seed.any():
        raise UsageError(f"none of the {len(entries)} trusted entries is a node of the graph "
                         f"(first: {entries[0]})")
    return seed.astype(np.float64)
