"""``FixedBatches``: group elements into batches whose membership depends only on the element ids.

Model-based stages (CLIP scoring, image and audio tokenization) run batched. ``beam.BatchElements``
batches by arrival, so a batch's members (and, through batched floating-point kernels, possibly the
last bits of a model's output) would depend on the runner and worker count. Here every element goes to
bucket ``xxh64(id) % num_buckets`` (the writer's bucketing), a bucket is sorted by id and cut into
``batch_size`` chunks: the same input gives the same batches on every runner, which is what byte-identical
reruns need. A bucket must fit in one worker's memory (elements carry only shrunken pixels or one clip).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam

from trimodal_data.transforms.buckets import bucket_of


class FixedBatches(beam.PTransform):
    """``PCollection[T]`` -> ``PCollection[list[T]]``, batches fixed by id."""

    def __init__(self, *, id_fn: Callable[[Any], str], batch_size: int, num_buckets: int) -> None:
        super().__init__()
        if batch_size < 1 or num_buckets < 1:
            raise ValueError(f"FixedBatches: batch_size and num_buckets must be positive, got {batch_size}, "
                             f"{num_buckets}")
        self.id_fn = id_fn
        self.batch_size = batch_size
        self.num_buckets = num_buckets

    def expand(self, items: beam.PCollection) -> beam.PCollection:
        id_fn, size, n = self.id_fn, self.batch_size, self.num_buckets

        def chunks(element: tuple[int, Iterable[Any]]) -> Iterator[list[Any]]:
            ordered = sorted(element[1], key=id_fn)
            for start in range(0, len(ordered), size):
                yield ordered[start : start + size]

        return (
            items
            | "KeyByBucket" >> beam.Map(lambda x: (bucket_of(id_fn(x), n), x))
            | "GroupByBucket" >> beam.GroupByKey()
            | "Chunk" >> beam.FlatMap(chunks)
        )
