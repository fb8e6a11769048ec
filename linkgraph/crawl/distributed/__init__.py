"""A crawl shared by many workers: one frontier on Redis, each worker's rows in Parquet.

``linkgraph crawl SEEDS -o DIR --frontier redis://HOST:PORT/DB`` runs one worker;
``--workers N`` runs N on this machine (with a private ``redis-server`` when no
``--frontier`` is given). The pieces:

* :mod:`.redis_frontier` -- what Redis holds: the seen-set (48 bits of each URL's 64-bit
  key in an integer set per 16-bit bucket), the frontier (a stream per click depth,
  read through a consumer group: a URL handed to a worker stays pending until the
  worker acknowledges it *after* its page row is committed), the breadth-first rule of
  the single-process frontier applied across all workers, and the reclaiming of a dead
  worker's pending URLs when its heartbeat expires.
* :mod:`.politeness` -- robots.txt Crawl-delay and the per-host concurrency cap held
  for all workers together (a host's request slots and its next allowed time in Redis).
* :mod:`.folders` -- where the rows go: each worker writes an ordinary crawl folder,
  ``DIR/workers/NNN``; when the crawl ends the last worker on the machine merges them
  (:func:`linkgraph.storage.merge.merge`: node ids given again densely, a page fetched
  twice kept once) into DIR, which is then a crawl folder like a single process's.
* :mod:`.workers` -- ``--workers N``: the private Redis and the N processes.

Redis is not the only copy: when it comes back empty, the first worker to notice
rebuilds the seen-set and the frontier from the committed parts of the worker folders,
with the rule a single-process resume uses (:mod:`linkgraph.crawl.resume`).
"""
