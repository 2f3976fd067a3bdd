"""Write rejects (id, source, reason, detail) as Parquet or JSONL files, deterministically.

Rejects are routed to ``num_buckets`` buckets by a hash of their id, sorted inside each bucket and written
atomically as ``rejects-bNNNNN.parquet`` (or ``.jsonl``); the transform outputs the written file names.
Rerunning on the same input writes the same bytes, whatever the number of workers.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from trimodal_core.atomic import atomic_write_bytes
from trimodal_data.metrics import ReasonCounters
from trimodal_data.records import REJECT_FIELDS, Reject
from trimodal_data.transforms.buckets import bucket_of

RejectsFormat = Literal["parquet", "jsonl"]
REJECTS_DIR = "rejects"
_SCHEMA = pa.schema([pa.field(name, pa.string(), nullable=False) for name in REJECT_FIELDS])


def rejects_to_bytes(rejects: list[Reject], fmt: RejectsFormat) -> bytes:
    if fmt == "jsonl":
        lines = (json.dumps(r.to_dict(), ensure_ascii=False, sort_keys=True) for r in rejects)
        return ("\n".join(lines) + "\n").encode("utf-8")
    table = pa.table({name: [getattr(r, name) for r in rejects] for name in REJECT_FIELDS}, schema=_SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


class _WriteBucket(beam.DoFn):
    def __init__(self, out_dir: str, fmt: RejectsFormat) -> None:
        self.out_dir = out_dir
        self.fmt = fmt

    def setup(self) -> None:
        self.counters = ReasonCounters()

    def process(self, element: tuple[int, Iterable[Reject]]) -> Iterator[str]:
        bucket, rejects = element
        ordered = sorted(rejects, key=lambda r: (r.id, r.reason, r.source, r.detail))
        for reject in ordered:
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


def read_rejects(corpus_dir: str | Path, files: Iterable[str]) -> list[Reject]:
    """Load reject files written by :class:`WriteRejects` (for tests and small corpora)."""
    out: list[Reject] = []
    for rel in files:
        path = Path(corpus_dir) / rel
        if path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                if line:
                    out.append(Reject(**json.loads(line)))
        else:
            for row in pq.read_table(path).to_pylist():
                out.append(Reject(**row))
    return out
