"""``ReadInputs``: the ``--input`` arguments -> elements and rejects, one read unit per work item.

Modality-agnostic: the caller passes Beam-free functions. The input arguments (a few strings) enter the
pipeline as they are; ``expand_fn(spec)`` lists one of them *on a worker* (files of a folder or glob, groups of
a media folder, lines of a transcript list), so a huge input list is never built by the launcher nor sent in
one ``beam.Create``; the units are then grouped by ``key_fn`` (which also spreads them over workers) and each
is streamed by ``read_fn(unit) -> Iterator[element | Reject]`` (e.g.
:func:`trimodal_data.readers.text.read_text_file` bound to its config), never loaded whole.

Two inputs that give units with the same key (two files with the same relative name under two folders) would
give examples with the same ids: the unit with the smallest ``location_fn`` is read and every other becomes one
``duplicate_input`` reject, whatever order the inputs were given in.

Outputs are tagged ``elements`` (main), ``rejects``, ``read`` (one count per unit, to be summed by
``WriteCorpus``: every output of a reader, and every refused unit, is one element read) and ``names`` (the
source name of every unit read, for the manifest's provenance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam

from trimodal_data.metrics import ReasonCounters
from trimodal_data.records import Reject

ELEMENTS = "elements"
REJECTS = "rejects"
READ = "read"
NAMES = "names"
DUPLICATE_INPUT_REASON = "duplicate_input"


class _ReadUnits(beam.DoFn):
    def __init__(self, read_fn: Callable[[Any], Iterator[Any]], location_fn: Callable[[Any], str],
                 name_fn: Callable[[Any], str]) -> None:
        self.read_fn = read_fn
        self.location_fn = location_fn
        self.name_fn = name_fn

    def setup(self) -> None:
        self.counters = ReasonCounters()

    def process(self, element: tuple[str, Iterable[Any]]) -> Iterator[Any]:
        key, units = element
        first, *others = sorted(units, key=self.location_fn)
        for other in others:
            yield beam.pvalue.TaggedOutput(REJECTS, Reject(
                id=key, source=self.name_fn(other), reason=DUPLICATE_INPUT_REASON,
                detail=f"{self.location_fn(other)} gives the same ids as {self.location_fn(first)}, which is read",
            ))
        count = len(others)
        for item in self.read_fn(first):
            count += 1
            if isinstance(item, Reject):
                yield beam.pvalue.TaggedOutput(REJECTS, item)
            else:
                yield item
        self.counters.inc("read", count)
        self.counters.inc("units_read")
        yield beam.pvalue.TaggedOutput(READ, count)
        yield beam.pvalue.TaggedOutput(NAMES, self.name_fn(first))


class ReadInputs(beam.PTransform):
    """``PBegin`` -> tagged ``elements``, ``rejects``, ``read`` (per-unit counts) and ``names``."""

    def __init__(
        self,
        specs: Sequence[str],
        *,
        expand_fn: Callable[[str], Iterable[Any]],
        read_fn: Callable[[Any], Iterator[Any]],
        key_fn: Callable[[Any], str],
        location_fn: Callable[[Any], str],
        name_fn: Callable[[Any], str],
    ) -> None:
        super().__init__()
        if not specs:
            raise ValueError("ReadInputs needs at least one input")
        self.specs = list(specs)
        self.expand_fn = expand_fn
        self.key_fn = key_fn
        self.read = _ReadUnits(read_fn, location_fn, name_fn)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        key_fn = self.key_fn
        return (
            pbegin
            | "Inputs" >> beam.Create(self.specs, reshuffle=False)
            | "ListInputs" >> beam.FlatMap(self.expand_fn)
            | "KeyByUnit" >> beam.Map(lambda unit: (key_fn(unit), unit))
            | "GroupByUnit" >> beam.GroupByKey()
            | "Read" >> beam.ParDo(self.read).with_outputs(REJECTS, READ, NAMES, main=ELEMENTS)
        )
