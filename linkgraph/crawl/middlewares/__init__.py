"""Crawl plumbing: where requests go (--resolve) and how fast (Crawl-delay)."""
