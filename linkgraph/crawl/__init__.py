"""The crawl's plumbing around the spider: settings parsed into a config, seeds and
scope, limits and trap detection, the private-address guard, resume, fetch errors, the
downloader middlewares and the Scrapy extensions, and :func:`run.run_crawl`."""
