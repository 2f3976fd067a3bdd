"""``ReadFiles``: a list of input files -> elements and rejects, one file per work item.

Modality-agnostic: the caller passes a Beam-free ``read_fn(file) -> Iterator[element | Reject]`` (e.g.
:func:`trimodal_data.readers.text.read_text_file` bound to its config). The file list is made on the
launching machine and reshuffled so that files spread over workers; a file is streamed by one worker,
never loaded whole. Outputs are tagged ``elements`` (main) and ``rejects``; every output of the reader is
also counted as one element *read* (the ``read`` output, ones to be summed by ``WriteCorpus``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import apache_beam as beam

from trimodal_data.metrics import ReasonCounters
from trimodal_data.readers.files import InputFile
from trimodal_data.records import Reject

ELEMENTS = "elements"
REJECTS = "rejects"
READ = "read"


class _ReadFile(beam.DoFn):
    def __init__(self, read_fn: Callable[[InputFile], Iterator[Any]]) -> None:
        self.read_fn = read_fn

    def setup(self) -> None:
        self.counters = ReasonCounters()

    def process(self, file: InputFile) -> Iterator[Any]:
        count = 0
        for item in self.read_fn(file):
            count += 1
            if isinstance(item, Reject):
                yield beam.pvalue.TaggedOutput(REJECTS, item)
            else:
                yield item
        self.counters.inc("read", count)
        self.counters.inc("files_read")
        yield beam.pvalue.TaggedOutput(READ, count)


class ReadFiles(beam.PTransform):
    """``PBegin`` -> tagged ``elements``, ``rejects`` and ``read`` (per-file element counts)."""

    def __init__(self, files: Sequence[InputFile], read_fn: Callable[[InputFile], Iterator[Any]]) -> None:
        super().__init__()
        if not files:
            raise ValueError("ReadFiles needs at least one input file")
        self.files = list(files)
        self.read_fn = read_fn

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (
            pbegin
            | "Files" >> beam.Create(self.files, reshuffle=False)
            | "SpreadFiles" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(_ReadFile(self.read_fn)).with_outputs(REJECTS, READ, main=ELEMENTS)
        )
