"""``DedupByEdges``: the one near-duplicate removal transform; every near-dedupe stage only supplies edges.

A stage's edges transform turns elements into *edges* ``(id, id)`` between element ids judged near duplicates
(MinHash over text shingles, perceptual hashes, acoustic fingerprints, embeddings); this transform runs
:class:`~trimodal_data.transforms.components.ConnectedComponents` on them (keeper = smallest id of a component,
so chains collapse and the result does not depend on order or worker count) and a join on id then splits the
elements into kept ones and ``Reject(reason, detail=<keeper id>)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam

from trimodal_data.records import Reject
from trimodal_data.transforms.components import ConnectedComponents


class _Split(beam.DoFn):
    def __init__(self, source_fn: Callable[[Any], str], reason: str) -> None:
        self.source_fn = source_fn
        self.reason = reason

    def process(self, element: tuple[str, dict[str, list[Any]]]) -> Iterator[Any]:
        element_id, joined = element
        roots = list(joined["root"])
        for item in joined["item"]:
            if roots:
                yield beam.pvalue.TaggedOutput(
                    "rejects", Reject(id=element_id, source=self.source_fn(item), reason=self.reason, detail=min(roots))
                )
            else:
                yield item


class DedupByEdges(beam.PTransform):
    """Remove every element that is not the smallest id of its connected component of ``edges_transform``.

    ``PCollection[T]`` -> tagged ``kept`` (``T``) and ``rejects`` (``Reject(reason)``).
    """

    def __init__(self, edges_transform: beam.PTransform, *, reason: str, id_fn: Callable[[Any], str],
                 source_fn: Callable[[Any], str], num_rounds: int = 6) -> None:
        super().__init__()
        self.edges_transform = edges_transform
        self.reason = reason
        self.id_fn = id_fn
        self.source_fn = source_fn
        self.num_rounds = num_rounds

    def expand(self, items: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        id_fn = self.id_fn
        edges = items | "Edges" >> self.edges_transform
        roots = edges | "Components" >> ConnectedComponents(self.num_rounds)
        keyed = items | "KeyById" >> beam.Map(lambda x: (id_fn(x), x))
        return (
            {"item": keyed, "root": roots}
            | "JoinRoots" >> beam.CoGroupByKey()
            | "Split" >> beam.ParDo(_Split(self.source_fn, self.reason)).with_outputs("rejects", main="kept")
        )
