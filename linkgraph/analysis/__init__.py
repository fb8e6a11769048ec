"""Answers over a crawl folder, one module per command, each reading through
:mod:`linkgraph.storage.reader`."""
