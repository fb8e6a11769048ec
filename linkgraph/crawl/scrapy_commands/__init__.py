"""Scrapy commands of the project (``COMMANDS_MODULE``): ``scrapy crawl`` with linkgraph's
setup check, so that ``scrapy crawl links`` fails as ``linkgraph crawl`` does."""
