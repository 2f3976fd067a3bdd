"""Near-duplicate *edges* for media, to be handed to :class:`~trimodal_data.transforms.dedup_by_edges.DedupByEdges`.

* :class:`HammingEdges` is fully distributed: every element's hash is cut into LSH band keys (the caller's
  ``band_keys_fn``: pigeonhole bands of a 64-bit pHash, :func:`trimodal_data.dedup.perceptual.band_keys`, which
  find every pair within the distance; sampled-bit bands of a 512-bit acoustic fingerprint,
  :func:`trimodal_data.dedup.acoustic.band_keys`), elements are grouped by band key, and pairs inside a group
  are verified by their Hamming distance. A worker holds one band bucket; a bucket larger than
  ``max_pairwise`` is compared against one representative per local cluster instead of all pairs.
* :class:`EmbeddingEdges` gathers ``(id, embedding)`` of the surviving elements into ONE worker and runs
  the faiss range search there (flat index, IVF from ``ivf_min_rows`` rows). That is the one step of the
  media pipelines whose memory grows with the corpus: 4 bytes x dim per element (100M x 768 would need
  ~300 GB: shard the corpus first, or use the perceptual stage alone).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np

from trimodal_data.dedup import acoustic, embedding, perceptual
from trimodal_data.metrics import ReasonCounters


class _VerifyBucket(beam.DoFn):
    def __init__(self, distance_fn: Callable[[Any, Any], int], max_distance: int, max_pairwise: int) -> None:
        self.distance_fn = distance_fn
        self.max_distance = max_distance
        self.max_pairwise = max_pairwise

    def setup(self) -> None:
        self.counters = ReasonCounters()

    def process(self, element: tuple[Any, Iterable[tuple[str, Any]]]) -> Iterator[tuple[str, str]]:
        members = sorted(element[1], key=lambda m: m[0])
        if len(members) < 2:
            return
        self.counters.inc("hamming_candidate_buckets")
        distance, limit = self.distance_fn, self.max_distance
        if len(members) <= self.max_pairwise:
            for pos, (id_a, hash_a) in enumerate(members):
                for id_b, hash_b in members[pos + 1 :]:
                    if distance(hash_a, hash_b) <= limit:
                        yield id_a, id_b
            return
        # A huge bucket (many near-identical items): compare each member with one representative per cluster.
        self.counters.inc("hamming_large_buckets")
        reps: list[tuple[str, Any]] = []
        for id_b, hash_b in members:
            rep = next((id_a for id_a, hash_a in reps if distance(hash_a, hash_b) <= limit), None)
            if rep is None:
                reps.append((id_b, hash_b))
            else:
                yield rep, id_b


class HammingEdges(beam.PTransform):
    """``PCollection[T]`` -> ``PCollection[(id, id)]`` of pairs whose hashes are within ``max_distance`` bits.

    ``band_keys_fn(hash)`` gives an element's LSH keys (elements sharing one are compared); ``distance_fn``
    the bits two hashes differ in. Both must be picklable (module-level functions or ``functools.partial``).
    """

    def __init__(self, *, id_fn: Callable[[Any], str], hash_fn: Callable[[Any], Any],
                 band_keys_fn: Callable[[Any], Iterable[Any]], distance_fn: Callable[[Any, Any], int],
                 max_distance: int, max_pairwise: int = 1000) -> None:
        super().__init__()
        self.id_fn = id_fn
        self.hash_fn = hash_fn
        self.band_keys_fn = band_keys_fn
        self.verify = _VerifyBucket(distance_fn, max_distance, max_pairwise)

    def expand(self, items: beam.PCollection) -> beam.PCollection:
        id_fn, hash_fn, band_keys_fn = self.id_fn, self.hash_fn, self.band_keys_fn

        def band_keys(item: Any) -> Iterator[tuple[Any, tuple[str, Any]]]:
            value = hash_fn(item)
            for key in band_keys_fn(value):
                yield key, (id_fn(item), value)

        return (
            items
            | "BandKeys" >> beam.FlatMap(band_keys)
            | "GroupByBand" >> beam.GroupByKey()
            | "VerifyBand" >> beam.ParDo(self.verify)
            | "DistinctEdges" >> beam.Distinct()
        )


def phash_edges(config: perceptual.PerceptualDedupConfig, *, id_fn: Callable[[Any], str],
                hash_fn: Callable[[Any], int]) -> HammingEdges:
    """Edges between 64-bit pHashes within ``config.max_distance`` bits (pigeonhole bands: no pair missed)."""
    return HammingEdges(id_fn=id_fn, hash_fn=hash_fn,
                        band_keys_fn=functools.partial(perceptual.band_keys, max_distance=config.max_distance),
                        distance_fn=perceptual.hamming, max_distance=config.max_distance)


def acoustic_edges(config: acoustic.AcousticDedupConfig, *, id_fn: Callable[[Any], str],
                   fingerprint_fn: Callable[[Any], bytes]) -> HammingEdges:
    """Edges between acoustic fingerprints within ``config.max_distance`` of their bits (sampled-bit bands)."""
    return HammingEdges(id_fn=id_fn, hash_fn=fingerprint_fn,
                        band_keys_fn=functools.partial(acoustic.band_keys, config=config),
                        distance_fn=acoustic.hamming, max_distance=config.max_bits)


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
