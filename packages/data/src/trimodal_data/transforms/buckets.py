"""Deterministic output buckets: an element goes to ``xxh64(id) % num_buckets``, whatever the runner.

Writers group by bucket and sort inside it, so every output file is a pure function of the set of elements
(not of worker count, bundle sizes or arrival order). One bucket must fit in one worker's memory: pick
``num_buckets`` of about corpus bytes / 256 MB or more.
"""

from __future__ import annotations

import xxhash


def bucket_of(element_id: str, num_buckets: int) -> int:
    # surrogatepass: an id that is not valid Unicode still gets a bucket (the writer then rejects it).
    return xxhash.xxh64_intdigest(element_id.encode("utf-8", errors="surrogatepass")) % num_buckets
