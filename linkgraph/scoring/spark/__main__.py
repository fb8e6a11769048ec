"""``spark-submit linkgraph/scoring/spark/__main__.py score DIR ...``: the scorer as a
Spark application (the session and master are spark-submit's; ``--engine spark`` is
implied)."""

from __future__ import annotations

import sys

from linkgraph.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--engine" not in args:
        args += ["--engine", "spark"]
    sys.exit(main(args))
