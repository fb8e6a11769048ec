"""The ``linkgraph`` command: a thin face over the library.

Each subcommand lives in ``linkgraph/commands/<name>.py`` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``. User mistakes are raised as
:class:`linkgraph.errors.UsageError` and printed here as one line with exit code 2;
nothing a user can type should end in a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from linkgraph import __version__, _imports
from linkgraph.errors import UsageError

# Commands whose module is not there yet are skipped, so this can name them ahead.
COMMANDS = (
    "crawl", "score", "demo", "verify", "compact", "merge", "warc",
    "backlinks", "diff", "explain", "export", "audit", "report",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage + message and exits 2; keep it to one line. main() adds
        # the "linkgraph: error:" prefix, so only a subcommand's name is added here.
        command = self.prog.partition(" ")[2]
        raise UsageError(f"{command}: {message}" if command else message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="linkgraph", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"linkgraph {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"linkgraph.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"linkgraph.commands.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


#: Set by a command (``set_defaults(fast_exit=True)``, or ``args.fast_exit = True`` in
#: its run) whose process may end without the interpreter's teardown; read by :func:`run`.
_fast_exit = False
#: True when :func:`run` (the console command) called :func:`main`: the process is
#: ours alone, not a test's or a notebook's.
_console = False


def main(argv: Sequence[str] | None = None) -> int:
    global _fast_exit
    try:
        args = build_parser().parse_args(argv)
        if _console and getattr(args, "lean_imports", False):
            _imports.turn_on()
        code = int(args.run(args) or 0)
        # Read after the run: a command may decide it then (the --workers launcher).
        _fast_exit = bool(getattr(args, "fast_exit", False))
        return code
    except UsageError as exc:
        print(f"linkgraph: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("linkgraph: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """The ``linkgraph`` console command: :func:`main`, then exit.

    ``linkgraph score`` ends holding half a gigabyte of arrays and modules, which the
    interpreter's teardown would free one by one (0.36 s here when the scorer still
    loaded numba's LLVM): once everything is written and flushed, such a command exits
    at once and lets the system reclaim it. ``main()`` called from Python (tests, the
    notebook) never does this.
    """
    global _console
    _console = True
    _imports.run_console()
    code = main()
    if _fast_exit:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
