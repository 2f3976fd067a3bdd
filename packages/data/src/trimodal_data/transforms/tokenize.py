"""``Tokenize``: elements -> ``ShardRecord`` in the global token space; one step for text, image-text and audio-text.

A :class:`TokenizeFn` loads the :class:`trimodal_tokenizers.TokenizerBundle` once per worker in ``DoFn.setup``
from its directory (which every worker must be able to read), checks that it holds the modality's tokenizer,
and turns one batch of elements into records through the bundle's ``SequenceLayout`` (the only place the
layout lives); :class:`Tokenize` is a batching transform followed by that ``DoFn``. The three modalities
differ only in how a batch is encoded and how it is formed:

* text (:func:`tokenize_text`): ``beam.BatchElements`` by arrival; HF BPE encodes every document on its own,
  so batch membership cannot change a token.
* image-text and audio-text (:func:`tokenize_image_text`, :func:`tokenize_audio_text`): batched float kernels
  could depend on which elements share a batch, so batches are fixed by id
  (:class:`~trimodal_data.transforms.batches.FixedBatches`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np

from trimodal_core import ShardRecord
from trimodal_data.metrics import ReasonCounters
from trimodal_data.records import AudioItem, Document, ImageItem
from trimodal_data.transforms.batches import FixedBatches


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenizeConfig:
    """How documents are batched for the text tokenizer."""

    min_batch_size: int = 16
    """Smallest batch handed to the tokenizer."""
    max_batch_size: int = 512
    """Largest batch handed to the tokenizer."""


class TokenizeFn(beam.DoFn):
    """One batch of elements -> shard records; subclasses implement :meth:`format_batch` for a modality."""

    modality: str = "text"
    """The bundle attribute that must hold a tokenizer (``text``, ``image``, ``audio``)."""

    def __init__(self, bundle_dir: str) -> None:
        self.bundle_dir = bundle_dir

    def setup(self) -> None:
        from trimodal_tokenizers.bundle import TokenizerBundle

        self.bundle = TokenizerBundle.load(self.bundle_dir)
        if getattr(self.bundle, self.modality, None) is None:
            raise ValueError(f"tokenizer bundle {self.bundle_dir} has no {self.modality} tokenizer")
        self.counters = ReasonCounters()

    def format_batch(self, batch: list[Any]) -> Iterable[ShardRecord]:
        raise NotImplementedError

    def process(self, batch: list[Any]) -> Iterator[ShardRecord]:
        tokens = 0
        for record in self.format_batch(batch):
            tokens += len(record.tokens)
            yield record
        self.counters.inc("tokens", tokens)


class TextTokenizeFn(TokenizeFn):
    """Documents -> ``text`` sequences."""

    def format_batch(self, batch: list[Document]) -> Iterator[ShardRecord]:
        encoded = self.bundle.text.encode_batch([doc.text for doc in batch])
        layout = self.bundle.layout
        for doc, ids in zip(batch, encoded, strict=True):
            yield layout.text(ids).to_record(doc.id, doc.source)


class ImageTextTokenizeFn(TokenizeFn):
    """Image items -> ``t2i`` sequences (caption BPE + image codes)."""

    modality = "image"

    def format_batch(self, batch: list[ImageItem]) -> Iterator[ShardRecord]:
        assert self.bundle.image is not None
        codes = self.bundle.image.encode_batch([item.image() for item in batch])
        captions = self.bundle.text.encode_batch([item.caption for item in batch])
        for item, caption_ids, image_codes in zip(batch, captions, codes, strict=True):
            yield self.bundle.layout.image_text(caption_ids, image_codes).to_record(item.example_id, item.source)


class AudioTextTokenizeFn(TokenizeFn):
    """Audio items -> ``t2s`` sequences (transcript BPE + codec codes)."""

    modality = "audio"

    def __init__(self, bundle_dir: str, pad_to_seconds: float) -> None:
        super().__init__(bundle_dir)
        self.pad_to_seconds = pad_to_seconds

    def format_batch(self, batch: list[AudioItem]) -> Iterator[ShardRecord]:
        codec = self.bundle.audio
        assert codec is not None
        grid = max(codec.hop_length, round(self.pad_to_seconds * codec.sample_rate))
        padded = [np.pad(item.samples, (0, -len(item.samples) % grid)) for item in batch]
        full = _encode_flushing_denormals(codec, padded)
        codes = [c[:, : -(-len(item.samples) // codec.hop_length)] for c, item in zip(full, batch, strict=True)]
        transcripts = self.bundle.text.encode_batch([item.transcript for item in batch])
        for item, text_ids, audio_codes in zip(batch, transcripts, codes, strict=True):
            yield self.bundle.layout.audio_text(text_ids, audio_codes).to_record(item.example_id, item.source)


def _encode_flushing_denormals(codec: Any, padded: list[np.ndarray]) -> list[np.ndarray]:
    """Encode with denormals flushed to zero, only for this call.

    Denormal floats in conv activations near silence made CPU encoding ~3x slower (measured here). The flag
    is process-wide and the direct runner runs DoFns in the caller's process, so it is switched off again
    afterwards (torch has no getter to restore a previous value): left on, it turned a later ``clamp_min(1e-38)``
    elsewhere into ``log(0)``.
    """
    import torch

    torch.set_flush_denormal(True)
    try:
        return codec.encode_batch(padded, codec.sample_rate)
    finally:
        torch.set_flush_denormal(False)


class Tokenize(beam.PTransform):
    """``PCollection[T]`` -> ``PCollection[ShardRecord]``: ``batching`` (elements -> lists), then ``fn``."""

    def __init__(self, fn: TokenizeFn, *, batching: beam.PTransform) -> None:
        super().__init__()
        self.fn = fn
        self.batching = batching

    def expand(self, items: beam.PCollection) -> beam.PCollection:
        return items | "Batch" >> self.batching | "Encode" >> beam.ParDo(self.fn)


def _example_id(item: ImageItem | AudioItem) -> str:
    return item.example_id


def tokenize_text(bundle_dir: str, config: TokenizeConfig = TokenizeConfig()) -> Tokenize:
    """Documents -> text records, batched by arrival."""
    batching = beam.BatchElements(min_batch_size=config.min_batch_size, max_batch_size=config.max_batch_size)
    return Tokenize(TextTokenizeFn(bundle_dir), batching=batching)


def tokenize_image_text(bundle_dir: str, *, batch_size: int, items_per_bucket: int) -> Tokenize:
    """Image items -> ``t2i`` records, in batches fixed by id."""
    batching = FixedBatches(id_fn=_example_id, batch_size=batch_size, items_per_bucket=items_per_bucket)
    return Tokenize(ImageTextTokenizeFn(bundle_dir), batching=batching)


def tokenize_audio_text(bundle_dir: str, *, batch_size: int, items_per_bucket: int, pad_to_seconds: float
                        ) -> Tokenize:
    """Audio items -> ``t2s`` records, in batches fixed by id."""
    batching = FixedBatches(id_fn=_example_id, batch_size=batch_size, items_per_bucket=items_per_bucket)
    return Tokenize(AudioTextTokenizeFn(bundle_dir, pad_to_seconds), batching=batching)
