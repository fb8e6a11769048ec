"""A crawl folder on disk: row schemas, part names, writers, compaction, node ids, URL
keys, the one reader of a folder's committed parts, and ``verify``.

Nothing here imports the crawler (spiders, middlewares) or the CLI: the scorer, the
analysis commands, the item pipeline and the crawl all read and write through it.
"""
