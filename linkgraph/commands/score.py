"""``linkgraph score``: authority scores of a crawl, or of any Parquet edge list."""

from __future__ import annotations

import argparse

from linkgraph.commands import progress_logging
from linkgraph.errors import UsageError
from linkgraph.scoring.options import ALL_LINK_TYPES, DEFAULT_LINK_TYPES, ScoreOptions

#: The options' defaults, written once (in ScoreOptions).
_D = ScoreOptions()


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score", help="PageRank, HITS, TrustRank and 0-100 authority scores",
        description="Score a crawl folder (writes DIR/scores/{pages,hosts,domains}.parquet) "
                    "or, with --edges, any Parquet edge list (writes -o OUT.parquet).")
    parser.add_argument("dir", nargs="?", metavar="DIR", help="crawl folder with links/ and pages/")
    parser.add_argument("--edges", metavar="FILE_OR_DIR",
                        help="score an edge list instead: Parquet (a file or folder), or "
                             "CSV/TSV text (.csv, .tsv, .txt, gzipped too)")
    parser.add_argument("--src", help="--edges: source column (without a header: its position, 1, 2, ...)")
    parser.add_argument("--dst", help="--edges: target column")
    parser.add_argument("--delimiter", metavar="CHARS",
                        help="--edges: read it as delimited text with these field separators "
                             "(each character separates fields; default tab for .tsv, comma "
                             "for .csv/.txt)")
    parser.add_argument("--no-header", action="store_true",
                        help="--edges text: the first line is an edge; name columns by "
                             "position (--src 2 --dst 3)")
    parser.add_argument("--weight", help="--edges: numeric edge weight column (optional)")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="--edges: output .parquet file; crawl: output folder "
                             "(default DIR/scores)")
    parser.add_argument("--trusted", metavar="FILE",
                        help="TrustRank seeds: URLs, hosts or domains, one per line; adds "
                             "trust and spam_mass (share of PageRank not from the seeds)")
    parser.add_argument("--good-fraction", type=float, default=_D.good_fraction, metavar="G",
                        help="--trusted: share of the random jumps the trusted core stands "
                             f"for in the spam mass estimate (default {_D.good_fraction})")
    parser.add_argument("--alpha", type=float, default=_D.alpha,
                        help=f"damping factor (default {_D.alpha})")
    parser.add_argument("--tol", type=float, default=_D.tol,
                        help=f"stop when the L1 change of the vector < TOL (default {_D.tol:g})")
    parser.add_argument("--max-iter", type=int, default=_D.max_iter,
                        help=f"iteration cap (default {_D.max_iter})")
    parser.add_argument("--multiplicity", action="store_true",
                        help="count repeated links between a pair by multiplicity (default: once)")
    parser.add_argument("--follow-nofollow", action="store_true",
                        help="let nofollow/sponsored/ugc links pass authority (default: not)")
    parser.add_argument("--no-redirects", action="store_true",
                        help="redirects pass nothing (default: they pass to their target)")
    parser.add_argument("--no-canonical", action="store_true",
                        help="ignore rel=canonical (default: a page passes to its canonical)")
    parser.add_argument("--keep-self-links", action="store_true",
                        help="keep self-links (default: dropped)")
    parser.add_argument("--link-types", default=",".join(_D.link_types),
                        help=f"comma-separated link types that vote (default "
                             f"{','.join(DEFAULT_LINK_TYPES)}; any of {','.join(ALL_LINK_TYPES)})")
    parser.add_argument("--no-hits", action="store_true", help="skip HITS hub/authority")
    parser.add_argument("--no-sites", action="store_true",
                        help="crawl: write only scores/pages.parquet (no host and domain "
                             "tables)")
    parser.add_argument("--harmonic-exact-max", type=int, default=_D.harmonic_exact_max,
                        help="exact harmonic centrality up to this many hosts/domains "
                             f"(default {_D.harmonic_exact_max}), sampled above")
    parser.add_argument("--harmonic-samples", type=int, default=_D.harmonic_samples,
                        help="BFS sources of the sampled harmonic estimate (default "
                             f"{_D.harmonic_samples})")
    parser.add_argument("--partial", action="store_true",
                        help="crawl: score the whole batches of a damaged folder instead of "
                             "refusing it")
    parser.add_argument("--engine", choices=("local", "spark"), default="local",
                        help="local (default): this machine; spark: Apache Spark DataFrames, "
                             "the same scores and tables (needs linkgraph[spark] and Java)")
    parser.add_argument("--spark-master", metavar="URL",
                        help="--engine spark: master URL (default local[*], or the one "
                             "spark-submit was given)")
    parser.add_argument("--spark-conf", metavar="KEY=VALUE", action="append",
                        help="--engine spark: a Spark setting (repeatable)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    # Ends without the interpreter teardown once written, and without importing pandas
    # (see linkgraph.cli).
    parser.set_defaults(run=run, fast_exit=True, lean_imports=True)


def options_from_args(args: argparse.Namespace) -> ScoreOptions:
    """The ScoreOptions an argument namespace asks for (checked)."""
    from linkgraph.scoring.trust import read_trusted

    types = tuple(t.strip() for t in args.link_types.split(",") if t.strip())
    unknown = [t for t in types if t not in ALL_LINK_TYPES]
    if unknown:
        raise UsageError(f"unknown link type(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(ALL_LINK_TYPES)}")
    if not 0 < args.alpha < 1:
        raise UsageError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if not 0 < args.good_fraction <= 1:
        raise UsageError(f"--good-fraction must be in (0, 1], got {args.good_fraction}")
    if args.tol <= 0 or args.max_iter < 1:
        raise UsageError("--tol must be > 0 and --max-iter >= 1")
    return ScoreOptions(
        alpha=args.alpha, tol=args.tol, max_iter=args.max_iter,
        follow_nofollow=args.follow_nofollow, link_types=types,
        redirects=not args.no_redirects, canonical=not args.no_canonical,
        multiplicity=args.multiplicity, drop_self_loops=not args.keep_self_links,
        hits=not args.no_hits, sites=not args.no_sites,
        trusted=read_trusted(args.trusted) if args.trusted else (),
        good_fraction=args.good_fraction,
        harmonic_exact_max=args.harmonic_exact_max, harmonic_samples=args.harmonic_samples)


def run(args: argparse.Namespace) -> int:
    progress_logging(args.quiet)
    options = options_from_args(args)
    if args.engine == "spark":
        from functools import partial

        from linkgraph.scoring import spark

        settings = spark.SparkSettings.parse(args.spark_master, args.spark_conf)
        score_crawl = partial(spark.score_crawl, spark=settings)
        score_edges = partial(spark.score_edges, spark=settings)
    elif args.spark_master or args.spark_conf:
        raise UsageError("--spark-master and --spark-conf need --engine spark")
    else:
        # Imported here: the scorer's numeric stack (pyarrow, scipy) is a cost
        # that `linkgraph crawl` and `--help` should not pay.
        from linkgraph.scoring.score import score_crawl, score_edges

    if args.edges:
        if args.dir:
            raise UsageError("give either DIR or --edges, not both")
        if not (args.src and args.dst and args.output):
            raise UsageError("--edges needs --src COL --dst COL -o OUT.parquet")
        out = score_edges(args.edges, args.src, args.dst, args.output, weight=args.weight,
                          options=options, delimiter=args.delimiter, header=not args.no_header)
        print(f"wrote {out}")
        return 0
    if not args.dir:
        raise UsageError("give a crawl folder DIR, or --edges FILE --src COL --dst COL -o OUT")
    paths = score_crawl(args.dir, options, out_dir=args.output, partial=args.partial)
    print("wrote " + ", ".join(str(p) for p in (paths.pages, paths.hosts, paths.domains) if p))
    return 0
