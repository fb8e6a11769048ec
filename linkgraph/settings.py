"""Scrapy settings of the linkgraph project.

Two groups: Scrapy's own settings with the values a careful crawler wants, then the
``LINKGRAPH_*`` settings, each documented where it is defined. Every one can be
overridden with ``-s NAME=VALUE`` (``scrapy crawl`` or ``linkgraph crawl``). They are
parsed once per crawl into :class:`linkgraph.crawl.config.CrawlConfig`.
"""

from __future__ import annotations

from linkgraph import __version__

BOT_NAME = "linkgraph"
SPIDER_MODULES = ["linkgraph.spiders"]
NEWSPIDER_MODULE = "linkgraph.spiders"
# `scrapy crawl links` checks seeds and settings before anything is written, as
# `linkgraph crawl` does (linkgraph/crawl/scrapy_commands/crawl.py).
COMMANDS_MODULE = "linkgraph.crawl.scrapy_commands"

# --- Politeness -------------------------------------------------------------------
# An identifiable agent with a URL where a site owner can read what it does.
USER_AGENT = f"linkgraph/{__version__} (+https://github.com/linkgraph/linkgraph; link-graph research crawler)"
ROBOTSTXT_OBEY = True
# Matched against robots.txt groups; "linkgraph" lines apply, then "*".
ROBOTSTXT_USER_AGENT = "linkgraph"
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.0
# Scrapy starts this many asyncio tasks for every callback's output (100 by default):
# at ~2 outputs per page that was a third of the crawl's CPU. The pipeline is
# synchronous, so parallel item processing buys nothing.
CONCURRENT_ITEMS = 2
# Prefer hosts with the fewest requests in flight, so that one slow or Crawl-delayed
# host does not hold every concurrency slot of a multi-site crawl.
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
# Breadth-first: page requests have priority -depth, first in first out within a depth
# (Scrapy's default is last in first out: depth-first). The spider's frontier
# (linkgraph/crawl/frontier.py) makes `depth` the shortest click distance.
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"

# --- Limits -------------------------------------------------------------------------
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
RETRY_TIMES = 2
# Redirects of page requests are followed by the spider itself, one recorded hop at a
# time (``dont_redirect``); Scrapy's middleware still follows robots.txt redirects.
REDIRECT_MAX_TIMES = 20

# --- Components ---------------------------------------------------------------------
ITEM_PIPELINES = {"pipelines.parquet_pipeline.ParquetPipeline": 300}
DOWNLOADER_MIDDLEWARES = {
    # RFC 9309 robots.txt errors, and every request waiting for a robots.txt gets its
    # rules (Scrapy's own let all but one through unchecked): see the module.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "linkgraph.crawl.middlewares.robots.RobotsTxtPolicy": 100,
    # Before HttpProxyMiddleware (750): --resolve HOST=IP:PORT is applied as a proxy.
    "linkgraph.crawl.middlewares.resolve.ConnectToMiddleware": 740,
    # After ConnectToMiddleware and HttpProxyMiddleware (750): checks the IP literal
    # (or --resolve proxy) actually connected to, and the target sent through an
    # http_proxy; names are checked by the resolver (linkgraph/crawl/netguard.py).
    "linkgraph.crawl.middlewares.private.PrivateAddressMiddleware": 755,
    # Before RetryMiddleware (550) sees the response: waits out Retry-After first.
    "linkgraph.crawl.middlewares.retry_after.RetryAfterMiddleware": 560,
    # After RobotsTxtPolicy (100): needs the parsed robots.txt.
    "linkgraph.crawl.middlewares.crawl_delay.CrawlDelayMiddleware": 110,
    # A distributed crawl's Crawl-delay and per-host cap, for all workers together
    # (instead of CrawlDelayMiddleware): last, so a granted request goes out at once.
    "linkgraph.crawl.distributed.politeness.GlobalPoliteness": 950,
    # <meta http-equiv=refresh> is recorded as a meta-refresh link and followed as one.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    # The spider keeps its own scope (linkgraph/crawl/scope.py).
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
}
SPIDER_MIDDLEWARES = {
    # The spider tracks depth and scope itself (cheaper, and redirects keep depth).
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
}
EXTENSIONS = {
    # DOWNLOAD_MAXSIZE on a body with no Content-Length ends as a clear too_large error.
    "linkgraph.crawl.extensions.body_limit.BodySizeLimit": 0,
    "linkgraph.crawl.extensions.progress.CrawlProgress": 500,
    # --warc DIR: every page response also as WARC request/response records.
    "linkgraph.crawl.extensions.warc_writer.WarcWriter": 510,
    # CrawlProgress reports pages/s, links and errors instead.
    "scrapy.extensions.logstats.LogStats": None,
    # AutoThrottle whose delay also falls on 404s (Scrapy's only falls on 200s).
    "scrapy.extensions.throttle.AutoThrottle": None,
    "linkgraph.crawl.extensions.throttle.LinkThrottle": 0,
}
TWISTED_DNS_RESOLVER = "linkgraph.crawl.middlewares.resolve.MappedResolver"
# Only http(s) is crawled: a page's file:// link must never read a local file, and
# ftp/s3/data are not web pages (the spider refuses them too: linkgraph/crawl/limits.py).
DOWNLOAD_HANDLERS = {"file": None, "ftp": None, "s3": None, "data": None}

# Scrapy 2.19 starts these on 127.0.0.1 by default; nobody asked for them.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# The spider keeps its own seen-set of URLs (cheaper than a Request fingerprint per
# link) and marks requests dont_filter; this filter only sees robots.txt requests.
DUPEFILTER_CLASS = "scrapy.dupefilters.BaseDupeFilter"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
# The asyncio reactor is Scrapy's default and what scrapy-playwright needs.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# --- linkgraph ----------------------------------------------------------------------
#: Output folder of the crawl: DIR/links/ and DIR/pages/ Parquet datasets. Required.
LINKGRAPH_OUTPUT = None
#: Maximum crawl depth (seeds are 0). None: unlimited.
LINKGRAPH_MAX_DEPTH = None
#: Maximum number of page requests scheduled (redirect hops count). None: unlimited.
LINKGRAPH_MAX_PAGES = None
#: Hosts or registered domains whose pages are fetched (a domain covers its
#: subdomains). Empty: the registered domains of the seeds. Links to anything else are
#: recorded, not followed.
LINKGRAPH_ALLOW = []
#: HOST=IP or HOST=IP:PORT entries (list, or a comma-separated string): reach HOST at
#: IP without DNS, like curl's --resolve. With a port, http:// requests to HOST are
#: sent to IP:PORT with the original Host (as curl's --connect-to).
LINKGRAPH_RESOLVE = []
#: With LINKGRAPH_RESOLVE: never look up a host that is not mapped (fail it as a DNS
#: error instead). The demo and the tests set it so no query leaves the machine.
LINKGRAPH_RESOLVE_ONLY = False
#: Follow the links of a page whose meta robots / X-Robots-Tag says nofollow.
LINKGRAPH_FOLLOW_PAGE_NOFOLLOW = False
#: Follow rel=nofollow/sponsored/ugc links (they are always recorded).
LINKGRAPH_FOLLOW_REL_NOFOLLOW = True
#: Link types whose targets are fetched (when in scope).
LINKGRAPH_FOLLOW_TYPES = ["anchor", "canonical", "alternate", "iframe", "meta-refresh", "redirect"]
#: Crawl-delay from robots.txt is honoured per host, capped at this many seconds.
LINKGRAPH_MAX_CRAWL_DELAY = 60.0
#: After a 5xx or unreachable robots.txt (RFC 9309: disallow all) the host's pages are
#: refused, each with a pages row saying so, and its robots.txt is fetched again by the
#: first request this many seconds later.
LINKGRAPH_ROBOTS_RETRY = 60.0
#: A part file pair (links + pages) is committed every this many pages ...
LINKGRAPH_FLUSH_PAGES = 2000
#: ... or this many seconds, whichever comes first: a kill loses at most this much.
LINKGRAPH_FLUSH_SECONDS = 30.0

# -- Distributed crawl (linkgraph/crawl/distributed/) ------------------------------------
#: ``redis://HOST:PORT/DB`` (or ``unix:///PATH``) of the shared frontier: this process is
#: then one worker of a distributed crawl (``linkgraph crawl --frontier``). None: alone.
LINKGRAPH_FRONTIER = None
#: Seconds a worker's heartbeat lives: a worker silent this long is taken for dead and
#: the URLs it held are queued again. Longer than any page takes to fetch and commit.
LINKGRAPH_WORKER_LEASE = 30.0
#: Seconds a worker keeps retrying an unreachable Redis before it stops (interrupted).
LINKGRAPH_REDIS_WAIT = 60.0
#: When a crawl finishes, merge its many small part triples (one per batch) into a few
#: large ones (linkgraph/storage/compaction.py): readers pay per file. Crash-safe; an
#: interrupted crawl is left as it is (``linkgraph compact DIR`` compacts it).
LINKGRAPH_COMPACT = True
#: Rows of a merged part (of its largest dataset, links in a crawl that finds links):
#: ~10 merged triples for 20M links rows, big enough that per-file costs vanish, small
#: enough that readers still read several files in parallel.
LINKGRAPH_COMPACT_ROWS = 2_000_000
#: Read the sitemaps of every in-scope host (linkgraph/crawl/sitemaps.py): the Sitemap:
#: lines of its robots.txt, or /sitemap.xml when there are none, indexes and gzipped
#: sitemaps included. Every URL they list is a row of DIR/sitemaps/. Needs
#: ROBOTSTXT_OBEY (the robots.txt the crawl reads anyway is where they are found).
LINKGRAPH_SITEMAPS = True
#: Fetch the in-scope URLs the sitemaps list, like links of the host's home page
#: (depth 1). False: record them only.
LINKGRAPH_SITEMAP_FOLLOW = True
#: Seconds between progress lines.
LINKGRAPH_PROGRESS_INTERVAL = 10.0
#: Replace whatever crawl LINKGRAPH_OUTPUT holds instead of resuming it.
LINKGRAPH_FRESH = False
#: Id of the crawl, written in every row. None: derived from the start time.
LINKGRAPH_CRAWL_ID = None
#: Fetch loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
#: (169.254/16, e.g. cloud metadata), multicast and reserved addresses. Off: such an
#: address is fetched only when it is exactly a seed's address (a seed on 127.0.0.2
#: allows 127.0.0.2, not 127.0.0.3 nor 10/8) or in LINKGRAPH_ALLOW_ADDRESS; decided on
#: the resolved address before any connection (linkgraph/crawl/netguard.py).
LINKGRAPH_ALLOW_PRIVATE = False
#: Non-public networks (CIDR, or single addresses) that may be fetched as if a seed
#: were there, like --allow-address (list or comma-separated).
LINKGRAPH_ALLOW_ADDRESS: list[str] = []

# --- linkgraph limits (linkgraph/crawl/limits.py) --------------------------------------
# Each is enforced in the spider, counted in the stats (linkgraph/skipped/<name>),
# logged once per crawl, and noted on the page row whose links it held back.
#: Links kept per page; the rest are dropped (pages.links_truncated says how many, and
#: `linkgraph verify` and the crawl's report warn). A guard against hostile pages, set
#: from the measured cost (benchmarks/links_per_page.py): a link holds ~360 bytes
#: and extraction peaks at ~1.6 kB per link, so 100,000 links cost ~160 MB and ~2.5 s
#: at most, while real pages stay well below (the Python docs' contents page: 13,972).
#: The 32 MB body limit alone would allow ~2M minimal links (~3 GB).
LINKGRAPH_MAX_LINKS_PER_PAGE = 100_000
#: Elements nested deeper than this are not opened: their tags are left out before
#: parsing, their content (links included) kept one level up, which keeps a page's
#: parse time linear in its size (100,000 nested <div>s: 0.7 s, not a minute).
#: Chromium caps its DOM at the same depth. None: no cap.
LINKGRAPH_MAX_NESTING = 512
#: URLs longer than this (characters) are recorded as links but never fetched.
#: 2083 is the old Internet Explorer limit that most servers honour too.
LINKGRAPH_MAX_URL_LENGTH = 2083
#: Pages fetched per host (redirect hops count). None: unlimited. The default ends a
#: site that makes up new URLs forever (8,580 unique pages in 45 s with no other limit
#: firing) after a few hours on that host, far beyond what a documentation site, a
#: shop or a blog holds; raise it for a crawl of one very large site.
LINKGRAPH_MAX_PAGES_PER_HOST = 100_000
#: Trap: a URL whose path has one segment more than this many times
#: (/a/a/a/a/..., /x/y/x/y/x/y/x/...) is not fetched. None: no check.
LINKGRAPH_MAX_PATH_REPEAT = 3
#: Trap: distinct query strings fetched per host and path (/cal?month=N forever,
#: /list?page=N&sort=...). None: no limit.
LINKGRAPH_MAX_QUERY_VARIANTS = 1000
#: Query (and ;path) parameters that carry a session id. URLs that differ only in
#: these are fetched once: they are removed for the seen-set, not from the URL
#: fetched or recorded (a server may need them).
LINKGRAPH_SESSION_PARAMS = ["jsessionid", "phpsessid", "aspsessionid", "sid", "sessionid",
                            "session_id", "sessid", "cfid", "cftoken", "zenid", "oscsid"]
#: A 429 or 503 response's Retry-After is waited out before its retry, capped at this
#: many seconds (a longer one is capped and logged).
LINKGRAPH_MAX_RETRY_AFTER = 60.0

# --- linkgraph rendering (linkgraph/render/) -------------------------------------------
# linkgraph.render.RenderAddon installs scrapy-playwright's download handler only when
# LINKGRAPH_RENDER is auto or always: with never no browser (nor Playwright) starts.
ADDONS = {"linkgraph.render.RenderAddon": 0}
#: never | auto | always. auto renders a page when its raw HTML looks script-built
#: (linkgraph/render/_detect.py has the rule).
LINKGRAPH_RENDER = "never"
#: Render only URLs this regex matches (re.search). None: any URL.
LINKGRAPH_RENDER_PATTERN = None
#: After the page settles, also wait for this CSS selector (at most half of
#: LINKGRAPH_RENDER_TIMEOUT; a page without it is still read).
LINKGRAPH_RENDER_WAIT_SELECTOR = None
#: Seconds a page may take to render in all; then it keeps its raw links and the row
#: gets error render_timeout.
LINKGRAPH_RENDER_TIMEOUT = 20.0
#: Seconds at most spent after the load event waiting for late links (pending
#: fetch/XHR, requests, timers up to this long, DOM changes).
LINKGRAPH_RENDER_IDLE_CAP = 4.0
#: Seconds of quiet (no DOM change, request or short timer) that count as settled.
LINKGRAPH_RENDER_QUIET = 0.2
#: Browser tabs open at once.
LINKGRAPH_RENDER_CONCURRENCY = 4
#: A browser context (cookies, cache) is closed and replaced after this many pages.
LINKGRAPH_RENDER_CONTEXT_PAGES = 100
#: V8 heap limit of a tab in MB: a page that allocates without end crashes only its tab.
LINKGRAPH_RENDER_JS_HEAP_MB = 512
#: The Chromium binary. None: Debian's /usr/lib/chromium/chromium (or /usr/bin/chromium).
LINKGRAPH_CHROMIUM = None
#: Extra Chromium command-line flags (list, or a space-separated string).
LINKGRAPH_CHROMIUM_ARGS = []

# --- linkgraph web archive (linkgraph/crawl/extensions/warc_writer.py) -----------------
#: Folder to write every page response to as WARC (``--warc DIR``). None: no archive.
LINKGRAPH_WARC_DIR = None
#: Start a new WARC file once the current one reaches this many MB (gzipped).
LINKGRAPH_WARC_ROTATE_MB = 1024
