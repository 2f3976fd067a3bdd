"""Beam transforms of MinHash-LSH near-duplicate removal (the logic is in :mod:`trimodal_data.dedup.minhash`).

:class:`MinHashEdges` turns elements into verified near-duplicate edges: signatures and band keys per element,
a group per LSH bucket (:func:`~trimodal_data.dedup.minhash.bucket_edges`), then, with ``verify="exact"``, two
joins on id that bring each candidate edge together with both shingle sets for the exact Jaccard check.
:class:`MinHashDedup` hands those edges to the shared
:class:`~trimodal_data.transforms.dedup_by_edges.DedupByEdges` (connected components, keeper = smallest id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np

from trimodal_data.dedup.minhash import NEAR_REASON, MinHashConfig, MinHasher, bucket_edges, exact_jaccard
from trimodal_data.metrics import ReasonCounters
from trimodal_data.transforms.dedup_by_edges import DedupByEdges

_SHINGLES = "shingles"


class _Signatures(beam.DoFn):
    def __init__(self, config: MinHashConfig, text_fn: Callable[[Any], str], id_fn: Callable[[Any], str],
                 group_fn: Callable[[Any], str] | None) -> None:
        self.config = config
        self.text_fn = text_fn
        self.id_fn = id_fn
        self.group_fn = group_fn

    def setup(self) -> None:
        self.hasher = MinHasher(self.config)

    def process(self, element: Any) -> Iterator[Any]:
        element_id = self.id_fn(element)
        hashes = self.hasher.shingle_hashes(self.text_fn(element))
        sig = self.hasher.signature_of_hashes(hashes)
        # Arrays travel as bytes: Beam's coders encode bytes natively but pickle numpy arrays.
        sig_bytes = sig.tobytes()
        group = self.group_fn(element).encode("utf-8", errors="surrogatepass") + b"\x00" if self.group_fn else b""
        for key in self.hasher.band_keys(sig):
            yield group + key, (element_id, sig_bytes)
        if self.config.verify == "exact":
            yield beam.pvalue.TaggedOutput(_SHINGLES, (element_id, hashes.tobytes()))


def _emit_half_edges(element: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, tuple[str, bytes]]]:
    a, joined = element
    for hashes in joined["shingles"]:
        for b in joined["edge"]:
            yield b, (a, hashes)


class _ExactCheck(beam.DoFn):
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def setup(self) -> None:
        self.counters = ReasonCounters()

    def process(self, element: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, str]]:
        b, joined = element
        for bytes_b in joined["shingles"]:
            hashes_b = np.frombuffer(bytes_b, dtype=np.uint64)
            for a, bytes_a in set_of_halves(joined["half"]):
                if exact_jaccard(np.frombuffer(bytes_a, dtype=np.uint64), hashes_b) >= self.threshold:
                    yield a, b
                else:
                    self.counters.inc("lsh_edges_rejected_exact")


def set_of_halves(halves: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Distinct (id, hashes) half-edges (the same pair can come from several buckets)."""
    unique: dict[str, Any] = {}
    for a, hashes in halves:
        unique.setdefault(a, hashes)
    return sorted(unique.items(), key=lambda item: item[0])


class _BucketEdges(beam.DoFn):
    def __init__(self, config: MinHashConfig) -> None:
        self.config = config

    def setup(self) -> None:
        self.counters = ReasonCounters()

    def process(self, element: tuple[bytes, Iterable[tuple[str, bytes]]]) -> Iterator[tuple[str, str]]:
        group = list(element[1])
        if len(group) > 1:  # most buckets hold one element: nothing to decode
            members = [(element_id, np.frombuffer(sig, dtype=np.uint32)) for element_id, sig in group]
            self.counters.inc("lsh_candidate_buckets")
            cfg = self.config
            threshold = cfg.threshold - cfg.candidate_margin if cfg.verify == "exact" else cfg.threshold
            yield from bucket_edges(
                members, threshold=threshold, verify=cfg.verify, max_pairwise=cfg.max_bucket_pairwise
            )


class MinHashEdges(beam.PTransform):
    """``PCollection[T]`` -> ``PCollection[(id, id)]`` of near-duplicate edges (verified per ``config.verify``).

    With ``group_fn``, LSH band keys are prefixed by the element's group, so only elements of one group (one
    speaker, say) can become candidates.
    """

    def __init__(self, config: MinHashConfig, *, text_fn: Callable[[Any], str], id_fn: Callable[[Any], str],
                 group_fn: Callable[[Any], str] | None = None) -> None:
        super().__init__()
        self.config = config
        self.text_fn = text_fn
        self.id_fn = id_fn
        self.group_fn = group_fn

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        signatures = pcoll | "Signatures" >> beam.ParDo(
            _Signatures(self.config, self.text_fn, self.id_fn, self.group_fn)
        ).with_outputs(_SHINGLES, main="bands")
        edges = (
            signatures.bands
            | "GroupByBand" >> beam.GroupByKey()
            | "BucketEdges" >> beam.ParDo(_BucketEdges(self.config))
        )
        if self.config.verify == "exact":
            shingles = signatures[_SHINGLES]
            half = {"shingles": shingles, "edge": edges} | "JoinFirst" >> beam.CoGroupByKey() | "HalfEdges" >> (
                beam.FlatMap(_emit_half_edges)
            )
            edges = {"shingles": shingles, "half": half} | "JoinSecond" >> beam.CoGroupByKey() | "ExactCheck" >> (
                beam.ParDo(_ExactCheck(self.config.threshold))
            )
        return edges


class MinHashDedup(DedupByEdges):
    """``PCollection[T]`` -> tagged outputs ``kept`` (``T``) and ``rejects`` (``Reject``)."""

    def __init__(
        self,
        config: MinHashConfig,
        *,
        text_fn: Callable[[Any], str],
        id_fn: Callable[[Any], str],
        source_fn: Callable[[Any], str],
        reason: str = NEAR_REASON,
        group_fn: Callable[[Any], str] | None = None,
    ) -> None:
        super().__init__(
            MinHashEdges(config, text_fn=text_fn, id_fn=id_fn, group_fn=group_fn),
            reason=reason,
            id_fn=id_fn,
            source_fn=source_fn,
            num_rounds=config.num_cc_rounds,
        )
        self.config = config
