"""What one page's links cost the crawler: time and memory of extraction per link.

    python benchmarks/links_per_page.py [--links 10000 100000 400000]

Builds pages of N anchor links each (the shape of a table of contents), extracts them
with the crawl's own extractor, and prints the seconds, the bytes held per link
afterwards and the peak memory during extraction (tracemalloc). The default of
LINKGRAPH_MAX_LINKS_PER_PAGE (linkgraph/settings.py) is set from these figures.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from linkgraph.extract import extract_links


def page(n: int) -> bytes:
    links = "".join(f'<a href="/docs/{i}/section-{i}.html">Section {i} of the guide</a>\n'
                    for i in range(n))
    return f"<html><body><main>{links}</main></body></html>".encode()


def measure(n: int) -> tuple[float, float, float, float]:
    body = page(n)
    started = time.perf_counter()
    extract_links("http://www.example.com/", body)
    seconds = time.perf_counter() - started  # untraced: tracemalloc slows Python down
    tracemalloc.start()
    result = extract_links("http://www.example.com/", body)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(result.links) == n
    return len(body) / 1e6, seconds, held / n, peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, nargs="+", default=[10_000, 100_000, 400_000])
    args = parser.parse_args()
    print(f"{'links':>8}  {'body MB':>8}  {'seconds':>8}  {'us/link':>8}  {'B/link held':>11}  "
          f"{'peak MB':>8}")
    for n in args.links:
        mb, seconds, per_link, peak = measure(n)
        print(f"{n:>8}  {mb:>8.1f}  {seconds:>8.2f}  {seconds / n * 1e6:>8.1f}  "
              f"{per_link:>11.0f}  {peak:>8.0f}")


if __name__ == "__main__":
    main()
