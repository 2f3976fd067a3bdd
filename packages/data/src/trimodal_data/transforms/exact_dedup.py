"""Exact dedupe: group elements by a content hash and keep the one with the smallest id.

Generic over the element type: the caller gives ``key_fn`` (content -> bytes/str hash key), ``id_fn`` and
``source_fn``. Every removed element becomes a ``Reject(reason="duplicate_exact", detail=<keeper id>)``.
Only elements with the same key meet in one worker, so no step holds the corpus. The keys are content hashes
from :mod:`trimodal_data.hashing` (:func:`~trimodal_data.hashing.text_key` for text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam

from trimodal_data.records import Reject

EXACT_REASON = "duplicate_exact"
KEPT = "kept"
REJECTS = "rejects"


class _KeepSmallestId(beam.DoFn):
    def __init__(self, id_fn: Callable[[Any], str], source_fn: Callable[[Any], str], reason: str) -> None:
        self.id_fn = id_fn
        self.source_fn = source_fn
        self.reason = reason

    def process(self, element: tuple[Any, Iterable[Any]]) -> Iterator[Any]:
        _, group = element
        members = sorted(group, key=self.id_fn)
        keeper = members[0]
        keeper_id = self.id_fn(keeper)
        yield keeper
        for other in members[1:]:
            yield beam.pvalue.TaggedOutput(
                REJECTS,
                Reject(id=self.id_fn(other), source=self.source_fn(other), reason=self.reason, detail=keeper_id),
            )


class ExactDedup(beam.PTransform):
    """``PCollection[T]`` -> tagged outputs ``kept`` (``T``) and ``rejects`` (``Reject``)."""

    def __init__(
        self,
        *,
        key_fn: Callable[[Any], bytes | str],
        id_fn: Callable[[Any], str],
        source_fn: Callable[[Any], str],
        reason: str = EXACT_REASON,
    ) -> None:
        super().__init__()
        self.key_fn = key_fn
        self.id_fn = id_fn
        self.source_fn = source_fn
        self.reason = reason

    def expand(self, pcoll: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        key_fn = self.key_fn
        return (
            pcoll
            | "KeyByContent" >> beam.Map(lambda x: (key_fn(x), x))
            | "GroupByContent" >> beam.GroupByKey()
            | "KeepSmallestId"
            >> beam.ParDo(_KeepSmallestId(self.id_fn, self.source_fn, self.reason)).with_outputs(REJECTS, main=KEPT)
        )
