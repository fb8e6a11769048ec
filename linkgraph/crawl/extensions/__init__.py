"""Scrapy extensions of a crawl (named in ``EXTENSIONS`` in ``linkgraph/settings.py``)."""
