"""Exact dedupe: group elements by a content hash and keep the one with the smallest id.

Generic over the element type: the caller gives ``key_fn`` (content -> bytes/str hash key), ``id_fn`` and
``source_fn``. Every removed element becomes a ``Reject(reason="duplicate_exact", detail=<keeper id>)``. The
keeper is the smallest ``(id, source, tiebreak_fn(x))``, so copies that share an id (the same record in two
inputs) still give a keeper that does not depend on arrival order.
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
    def __init__(self, id_fn: Callable[[Any], str], source_fn: Callable[[Any], str], reason: str,
                 tiebreak_fn: Callable[[Any], str] | None) -> None:
        self.id_fn = id_fn
        self.source_fn = source_fn
        self.reason = reason
        self.tiebreak_fn = tiebreak_fn

    def _order(self, x: Any) -> tuple[str, str, str]:
        return self.id_fn(x), self.source_fn(x), self.tiebreak_fn(x) if self.tiebreak_fn else ""

    def process(self, element: tuple[Any, Iterable[Any]]) -> Iterator[Any]:
        _, group = element
        members = list(group)
        if len(members) == 1:
            yield members[0]
            return
        members.sort(key=self._order)
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
        tiebreak_fn: Callable[[Any], str] | None = None,
    ) -> None:
        super().__init__()
        self.key_fn = key_fn
        self.id_fn = id_fn
        self.source_fn = source_fn
        self.reason = reason
        self.tiebreak_fn = tiebreak_fn

    def expand(self, pcoll: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        key_fn = self.key_fn
        return (
            pcoll
            | "KeyByContent" >> beam.Map(lambda x: (key_fn(x), x))
            | "GroupByContent" >> beam.GroupByKey()
            | "KeepSmallestId"
            >> beam.ParDo(_KeepSmallestId(self.id_fn, self.source_fn, self.reason, self.tiebreak_fn)).with_outputs(
                REJECTS, main=KEPT
            )
        )
