"""Near-duplicate *edges* for media, to be handed to :class:`~trimodal_data.transforms.dedup_by_edges.DedupByEdges`.

* :class:`PhashEdges` is fully distributed: 64-bit pHashes are banded (pigeonhole, see
  :mod:`trimodal_data.dedup.perceptual`), grouped by band value, and pairs inside a group are verified
  by Hamming distance. A worker holds one band bucket.
* :class:`EmbeddingEdges` gathers ``(id, embedding)`` of the surviving elements into ONE worker and runs
  the faiss range search there (flat index, IVF from ``ivf_min_rows`` rows). That is the one step of the
  media pipelines whose memory grows with the corpus: 4 bytes x dim per element (100M x 768 would need
  ~300 GB: shard the corpus first, or use the perceptual stage alone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np

from trimodal_data.dedup import embedding, perceptual


class PhashEdges(beam.PTransform):
    """``PCollection[T]`` -> ``PCollection[(id, id)]`` of pairs within ``config.max_distance`` bits."""

    def __init__(self, config: perceptual.PerceptualDedupConfig, *, id_fn: Callable[[Any], str],
                 hash_fn: Callable[[Any], int]) -> None:
        super().__init__()
        self.config = config
        self.id_fn = id_fn
        self.hash_fn = hash_fn

    def expand(self, items: beam.PCollection) -> beam.PCollection:
        id_fn, hash_fn, config = self.id_fn, self.hash_fn, self.config
        bands = perceptual.bands(config.max_distance)

        def band_keys(item: Any) -> Iterator[tuple[tuple[int, int], tuple[str, int]]]:
            value = hash_fn(item)
            for index, (lo, hi) in enumerate(bands):
                yield (index, (value >> lo) & ((1 << (hi - lo)) - 1)), (id_fn(item), value)

        def verify(element: tuple[Any, Iterable[tuple[str, int]]]) -> Iterator[tuple[str, str]]:
            members = sorted(element[1])
            for pos, (id_a, hash_a) in enumerate(members):
                for id_b, hash_b in members[pos + 1 :]:
                    if (hash_a ^ hash_b).bit_count() <= config.max_distance:
                        yield id_a, id_b

        return (
            items
            | "BandKeys" >> beam.FlatMap(band_keys)
            | "GroupByBand" >> beam.GroupByKey()
            | "VerifyBand" >> beam.FlatMap(verify)
            | "DistinctEdges" >> beam.Distinct()
        )


class EmbeddingEdges(beam.PTransform):
    """``PCollection[T]`` -> ``PCollection[(id, id)]`` of pairs with cosine >= ``config.threshold``."""

    def __init__(self, config: embedding.EmbeddingDedupConfig, *, id_fn: Callable[[Any], str],
                 vector_fn: Callable[[Any], np.ndarray]) -> None:
        super().__init__()
        self.config = config
        self.id_fn = id_fn
        self.vector_fn = vector_fn

    def expand(self, items: beam.PCollection) -> beam.PCollection:
        id_fn, vector_fn, config = self.id_fn, self.vector_fn, self.config

        def search(rows: list[tuple[str, np.ndarray]]) -> Iterator[tuple[str, str]]:
            if len(rows) < 2:
                return
            rows = sorted(rows, key=lambda r: r[0])  # the index order must not depend on arrival order
            ids = [r[0] for r in rows]
            for a, b in embedding.near_duplicate_pairs(np.stack([r[1] for r in rows]), config):
                yield ids[a], ids[b]

        return (
            items
            | "IdVector" >> beam.Map(lambda x: (id_fn(x), np.asarray(vector_fn(x), dtype=np.float32)))
            | "Gather" >> beam.combiners.ToList()
            | "Search" >> beam.FlatMap(search)
        )
