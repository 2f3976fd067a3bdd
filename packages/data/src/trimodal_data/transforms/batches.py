"""``FixedBatches``: group elements into batches whose membership depends only on the element ids.

Model-based stages (CLIP scoring, image and audio tokenization) run batched. ``beam.BatchElements``
batches by arrival, so a batch's members (and, through batched floating-point kernels, possibly the
last bits of a model's output) would depend on the runner and worker count. Here every element goes to
bucket ``xxh64(id) % num_buckets`` (the writer's bucketing), a bucket is sorted by id and cut into
``batch_size`` chunks: the same input gives the same batches on every runner, which is what byte-identical
reruns need.

The number of buckets is sized from the data, never fixed: the elements are counted first and
``num_buckets = max(1, ceil(count / items_per_bucket))``, so a bucket holds about ``items_per_bucket``
elements whatever the corpus size (it must fit in one worker's memory: elements carry only shrunken pixels or
one clip), and the count, like the batches, depends only on the input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam

from trimodal_data.transforms.buckets import bucket_of


def num_buckets_for(count: int, items_per_bucket: int) -> int:
    """``max(1, ceil(count / items_per_bucket))``."""
    return max(1, -(-count // items_per_bucket))


class FixedBatches(beam.PTransform):
    """``PCollection[T]`` -> ``PCollection[list[T]]``, batches fixed by id, buckets sized from the data."""

    def __init__(self, *, id_fn: Callable[[Any], str], batch_size: int, items_per_bucket: int) -> None:
        super().__init__()
        if batch_size < 1 or items_per_bucket < 1:
            raise ValueError(f"FixedBatches: batch_size and items_per_bucket must be positive, got {batch_size}, "
                             f"{items_per_bucket}")
        self.id_fn = id_fn
        self.batch_size = batch_size
        self.items_per_bucket = items_per_bucket

    def expand(self, items: beam.PCollection) -> beam.PCollection:
        id_fn, size, per_bucket = self.id_fn, self.batch_size, self.items_per_bucket

        def chunks(element: tuple[int, Iterable[Any]]) -> Iterator[list[Any]]:
            ordered = sorted(element[1], key=id_fn)
            for start in range(0, len(ordered), size):
                yield ordered[start : start + size]

        num_buckets = (
            items
            | "Count" >> beam.combiners.Count.Globally()
            | "NumBuckets" >> beam.Map(num_buckets_for, per_bucket)
        )
        return (
            items
            | "KeyByBucket"
            >> beam.Map(lambda x, n: (bucket_of(id_fn(x), n), x), n=beam.pvalue.AsSingleton(num_buckets))
            | "GroupByBucket" >> beam.GroupByKey()
            | "Chunk" >> beam.FlatMap(chunks)
        )
