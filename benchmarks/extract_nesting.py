"""Extraction time of deeply nested pages, with and without the nesting cap.

Prints, per page shape and size, the seconds to extract the links uncapped and with
``max_nesting=512`` (LINKGRAPH_MAX_NESTING's default) and their ratio, measured in
the same run; and the cost of the cap's check on an ordinary page (ratio to no check).

    python benchmarks/extract_nesting.py [--sizes 2000,4000,8000]
"""

from __future__ import annotations

import argparse
import time

from linkgraph.extract import extract_links

URL = "http://bench.test/"


def deep_divs(n: int) -> str:
    return "<html><body>" + "<div>" * n + '<a href="/x">x</a>' + "</div>" * n + "</body></html>"


def nested_navs(n: int) -> str:
    links = "".join(f'<a href="/l{i}">l</a>' for i in range(n))
    return "<html><body>" + "<nav>" * n + links + "</nav>" * n + "</body></html>"


def ordinary() -> str:
    def section(tag: str, n: int) -> str:
        return f"<{tag}><ul>" + "".join(f'<li><div><a href="/{tag}{i}">Item {i}</a></div></li>'
                                        for i in range(n)) + f"</ul></{tag}>"
    body = "".join(f"<p>text <a href='/a{i}'>a {i}</a> <img src=i{i}.png><br></p>" for i in range(150))
    return ("<html><head><title>t</title></head><body>" + section("header", 20) + section("nav", 40)
            + f"<main>{body}</main>" + section("footer", 40) + "</body></html>")


def best(html: str, cap: int | None, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        extract_links(URL, html, max_nesting=cap)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,4000,8000")
    args = parser.parse_args()
    for name, build in (("nested <div>", deep_divs), ("nested <nav>", nested_navs)):
        for n in map(int, args.sizes.split(",")):
            html = build(n)
            uncapped, capped = best(html, None, 1), best(html, 512, 3)
            print(f"{name:13} {n:>7}: uncapped {uncapped:7.3f} s, capped {capped:6.3f} s, "
                  f"{uncapped / capped:6.1f}x")
    page = ordinary()
    plain, checked = best(page, None, 300), best(page, 512, 300)
    print(f"ordinary page ({len(page)} bytes): {plain * 1e3:.2f} ms, with the check "
          f"{checked * 1e3:.2f} ms ({checked / plain:.2f}x)")


if __name__ == "__main__":
    main()
