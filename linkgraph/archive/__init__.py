"""Web archives in and out: WARC response records read into a crawl folder
(``linkgraph warc``), and a crawl's own responses written as WARC (``crawl --warc``).

The reader only feeds records: each archived response goes through the crawl's own
:func:`linkgraph.crawl.responses.read_response` and is committed by the same batch
writer, so ``score``, ``verify`` and the analysis commands read an archive's folder as
they read a crawl's.
"""
