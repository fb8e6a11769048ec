"""Errors that are the user's to fix: the CLI prints them as one line, exit code 2."""

from __future__ import annotations


class UsageError(Exception):
    """A bad argument, seed, file or folder: the message says what and how to fix it."""
