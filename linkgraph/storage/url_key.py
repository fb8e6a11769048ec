"""The 64-bit key of a URL, computed once when a row is written.

Scoring joins tens of millions of edges; hashing URL strings into integer ids is most
of its cost. Writing ``src_key``/``dst_key``/``url_key`` at crawl time moves that cost
to where it is spread over the crawl, and lets every engine (DuckDB, Spark, pandas) join
on integers. The key is the first 8 bytes of BLAKE2b of the UTF-8 URL, read as a
little-endian signed int64: stable across processes, machines and Python versions
(unlike ``hash()``). With 64 bits, the chance of any collision among 100M URLs is
about 3e-4.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import blake2b


def url_key(url: str) -> int:
    """Return the signed 64-bit key of ``url``."""
    return int.from_bytes(
        blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
        "little",
        signed=True,
    )


def url_keys(urls: Iterable[str | None]) -> list[int | None]:
    """Return :func:`url_key` of each URL (``None`` stays ``None``)."""
    return [None if u is None else url_key(u) for u in urls]
