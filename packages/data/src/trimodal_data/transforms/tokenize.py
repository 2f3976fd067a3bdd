"""``TokenizeText``: documents -> ``ShardRecord`` in the global token space, batched.

The :class:`trimodal_tokenizers.TokenizerBundle` is loaded once per worker in ``DoFn.setup`` from its
directory (which every worker must be able to read); documents are encoded in batches with the HF
tokenizers backend and laid out by the bundle's ``SequenceLayout`` (the only place the layout lives).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import apache_beam as beam

from trimodal_core import ShardRecord
from trimodal_data.metrics import ReasonCounters
from trimodal_data.records import Document


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenizeConfig:
    """How documents are tokenized."""

    min_batch_size: int = 16
    """Smallest batch handed to the tokenizer."""
    max_batch_size: int = 512
    """Largest batch handed to the tokenizer."""


class _Tokenize(beam.DoFn):
    def __init__(self, bundle_dir: str) -> None:
        self.bundle_dir = bundle_dir

    def setup(self) -> None:
        from trimodal_tokenizers.bundle import TokenizerBundle

        self.bundle = TokenizerBundle.load(self.bundle_dir)
        self.counters = ReasonCounters()

    def process(self, batch: list[Document]) -> Iterator[ShardRecord]:
        encoded = self.bundle.text.encode_batch([doc.text for doc in batch])
        layout = self.bundle.layout
        tokens = 0
        for doc, ids in zip(batch, encoded, strict=True):
            record = layout.text(ids).to_record(doc.id, doc.source)
            tokens += len(record.tokens)
            yield record
        self.counters.inc("tokens", tokens)


class TokenizeText(beam.PTransform):
    """``PCollection[Document]`` -> ``PCollection[ShardRecord]``."""

    def __init__(self, bundle_dir: str, config: TokenizeConfig = TokenizeConfig()) -> None:
        super().__init__()
        self.bundle_dir = bundle_dir
        self.config = config

    def expand(self, docs: beam.PCollection) -> beam.PCollection:
        return (
            docs
            | "Batch"
            >> beam.BatchElements(min_batch_size=self.config.min_batch_size, max_batch_size=self.config.max_batch_size)
            | "Encode" >> beam.ParDo(_Tokenize(self.bundle_dir))
        )
