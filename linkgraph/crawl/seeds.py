"""Seed URLs: from the command line or from a text file of URLs."""

from __future__ import annotations

import os
from collections.abc import Iterable
from urllib.parse import urlsplit

from w3lib.url import safe_url_string

from linkgraph.errors import UsageError


def check_seed_url(url: str, where: str = "") -> str:
    """Return ``url`` made safe (percent-encoded, fragment dropped) or raise UsageError."""
    text = url.strip()
    suffix = f" ({where})" if where else ""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"bad seed {text!r}{suffix}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        hint = f"; did you mean https://{text}/ ?" if not parts.scheme and "." in text else ""
        raise UsageError(f"bad seed {text!r}{suffix}: not an http(s) URL{hint}")
    return safe_url_string(text.split("#", 1)[0] or text)


def read_seed_file(path: str) -> list[str]:
    """Read URLs from ``path``: one a line, ``#`` comments and blank lines allowed."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError:
        raise UsageError(f"seed file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read seed file {path}: {exc.strerror}") from None
    seeds = []
    for number, line in enumerate(lines, 1):
        # "#" starts a comment at the start of a line or after white space; inside a
        # URL it is a fragment.
        line = line.strip()
        if line.startswith("#"):
            continue
        line = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if line:
            seeds.append(check_seed_url(line, f"{path} line {number}"))
    if not seeds:
        raise UsageError(f"seed file {path} holds no URL")
    return seeds


def load_seeds(specs: Iterable[str]) -> list[str]:
    """Expand seed specs (URLs, or paths of seed files) to a de-duplicated URL list.

    A spec that looks like a URL (has ``://``) is a URL; anything else must be a
    readable file. A comma-free string is one spec; ``scrapy crawl -a seeds=`` may pass
    several separated by commas or whitespace.
    """
    seeds: list[str] = []
    for spec in specs:
        spec = spec.strip()
        if not spec:
            continue
        if "://" in spec:
            seeds.append(check_seed_url(spec))
        elif os.path.exists(spec) or os.sep in spec or spec.endswith(".txt"):
            seeds.extend(read_seed_file(spec))
        else:
            check_seed_url(spec)  # raises with a hint
    if not seeds:
        raise UsageError("no seeds: give a URL or a file of URLs")
    return list(dict.fromkeys(seeds))


def split_seed_arg(value: str | None) -> list[str]:
    """Split the ``-a seeds=...`` spider argument on commas and whitespace."""
    return (value or "").replace(",", " ").split()
