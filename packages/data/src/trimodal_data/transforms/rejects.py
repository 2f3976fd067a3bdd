"""Write rejects (id, source, reason, detail) as Parquet or JSONL files, deterministically.

Rejects are routed to ``num_buckets`` buckets by a hash of their id, sorted inside each bucket and written
atomically as ``rejects-bNNNNN.parquet`` (or ``.jsonl``, see :mod:`trimodal_data.writers.rejects_file`); the
transform outputs the written file names.
Rerunning on the same input writes the same bytes, whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import apache_beam as beam

from trimodal_core.atomic import atomic_write_bytes
from trimodal_data.metrics import ReasonCounters
from trimodal_data.records import Reject
from trimodal_data.transforms.buckets import bucket_of
from trimodal_data.writers.rejects_file import RejectsFormat, rejects_to_bytes

REJECTS_DIR = "rejects"


class _WriteBucket(beam.DoFn):
    def __init__(self, out_dir: str, fmt: RejectsFormat) -> None:
        self.out_dir = out_dir
        self.fmt = fmt

    def setup(self) -> None:
        self.counters = ReasonCounters()

    def process(self, element: tuple[int, Iterable[Reject]]) -> Iterator[str]:
        bucket, rejects = element
        ordered = sorted(rejects, key=lambda r: (r.id, r.reason, r.source, r.detail))
        for reject in ordered:  # the one place every reject is counted, once
            self.counters.reject(reject.reason)
        name = f"rejects-b{bucket:05d}.{self.fmt}"
        atomic_write_bytes(Path(self.out_dir) / name, rejects_to_bytes(ordered, self.fmt))
        yield f"{REJECTS_DIR}/{name}"


class WriteRejects(beam.PTransform):
    """``PCollection[Reject]`` -> ``PCollection[str]`` of written files (relative to the corpus folder)."""

    def __init__(self, corpus_dir: str, *, fmt: RejectsFormat = "parquet", num_buckets: int = 16) -> None:
        super().__init__()
        if fmt not in ("parquet", "jsonl"):
            raise ValueError(f"rejects format must be 'parquet' or 'jsonl', got {fmt!r}")
        self.out_dir = str(Path(corpus_dir) / REJECTS_DIR)
        self.fmt = fmt
        self.num_buckets = num_buckets

    def expand(self, rejects: beam.PCollection) -> beam.PCollection:
        n = self.num_buckets
        return (
            rejects
            | "KeyByBucket" >> beam.Map(lambda r: (bucket_of(r.id, n), r))
            | "GroupByBucket" >> beam.GroupByKey()
            | "WriteBucket" >> beam.ParDo(_WriteBucket(self.out_dir, self.fmt))
        )
