"""The image-text pipeline: read -> decode + filter -> [CLIP score] -> dedupe -> tokenize -> write.

Stages (each a Beam transform; the Beam-free logic lives in ``readers/``, ``decode/``, ``rules/``, ``dedup/``):

1. ``ReadFiles`` (shared with the text pipeline) over the read units of :mod:`readers.media_inputs`.
2. :class:`DecodeImages`: guarded decode, image rules, caption rules; computes the pixel hash, the pHash and
   the cheap thumbnail embedding on the full image, then keeps a copy shrunk to the tokenizer's resolution.
3. :class:`ClipScore` (only with a CLIP checkpoint): caption/image cosine below the threshold is a reject,
   and the CLIP image embedding replaces the thumbnail embedding for dedupe.
4. Exact dedupe on the pixel hash (``duplicate_exact``, the text pipeline's ``ExactDedup``), perceptual-hash
   near duplicates (``duplicate_phash``), embedding near duplicates (``duplicate_embedding``).
5. :class:`TokenizeImageText`: the bundle's image tokenizer and caption BPE through its ``SequenceLayout``
   (task ``t2i``), in batches fixed by id, on the GPU when the worker has one.
6. ``WriteCorpus`` (shared): shards, rejects, manifest with the summary.
"""

from __future__ import annotations

import dataclasses
import logging
import operator
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np
from PIL import Image

from trimodal_core import ShardRecord
from trimodal_data.decode.errors import DecodeError
from trimodal_data.decode.image import ImageDecodeConfig, decode_image, pixel_digest
from trimodal_data.dedup.embedding import EmbeddingDedupConfig, thumbnail_embedding
from trimodal_data.dedup.exact import ExactDedup
from trimodal_data.dedup.perceptual import PerceptualDedupConfig, phash64
from trimodal_data.media_batches import FixedBatches, TokenizeBatches, TokenizeBatchFn
from trimodal_data.media_dedup import DedupByEdges, EmbeddingEdges, PhashEdges
from trimodal_data.media_sample import MediaReaderConfig, MediaSample
from trimodal_data.metrics import ReasonCounters
from trimodal_data.records import Reject
from trimodal_data.rules.image import ImageRulesConfig, clip_score_reason, image_reason
from trimodal_data.rules.media_text import MediaTextRulesConfig, media_text_reason
from trimodal_data.transforms.write import WriteConfig

log = logging.getLogger(__name__)
PIPELINE_NAME = "trimodal_data.image_text"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageTextConfig:
    """Every stage of the image-text pipeline (what ``--config FILE`` holds)."""

    read: MediaReaderConfig = dataclasses.field(default_factory=MediaReaderConfig)
    """Readers: size limits and sidecar fields."""
    decode: ImageDecodeConfig = dataclasses.field(default_factory=ImageDecodeConfig)
    """Decoding guards and conversions."""
    image_rules: ImageRulesConfig = dataclasses.field(default_factory=ImageRulesConfig)
    """Size, aspect ratio and CLIP-score thresholds."""
    caption_rules: MediaTextRulesConfig = dataclasses.field(default_factory=MediaTextRulesConfig)
    """Caption rules and language ID."""
    exact_dedup: bool = True
    """Remove images whose decoded pixels are identical (keeps the smallest id)."""
    phash_dedup: bool = True
    """Remove perceptual-hash near duplicates."""
    phash: PerceptualDedupConfig = dataclasses.field(default_factory=PerceptualDedupConfig)
    """Perceptual-hash settings."""
    embedding_dedup: bool = True
    """Remove embedding near duplicates (CLIP image embeddings with a checkpoint, else thumbnails)."""
    embedding: EmbeddingDedupConfig = dataclasses.field(default_factory=EmbeddingDedupConfig)
    """Embedding near-duplicate settings (tune ``threshold`` per embedding: 0.98 suits the thumbnails)."""
    batch_size: int = 64
    """Images per CLIP / tokenizer batch."""
    num_batch_buckets: int = 16
    """Buckets that fix the batches (see ``media_batches``)."""
    write: WriteConfig = dataclasses.field(default_factory=WriteConfig)
    """Shards and rejects."""


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ImageItem:
    """A decoded, filtered image-text pair on its way to the tokenizer."""

    example_id: str
    source: str
    caption: str
    pixels: np.ndarray
    """``uint8 [H, W, 3]``, shrunk so the shorter side is at most the tokenizer's resolution."""
    digest: str
    """Hash of the full decoded pixels (exact dedupe)."""
    phash: int
    embedding: np.ndarray
    """Dedupe embedding (float32, L2-normalized)."""

    def image(self) -> Image.Image:
        return Image.fromarray(self.pixels)


def shrink(image: Image.Image, side: int) -> Image.Image:
    """Downscale (never upscale) so the shorter side is ``side``, keeping the aspect ratio."""
    width, height = image.size
    if min(width, height) <= side:
        return image
    scale = side / min(width, height)
    return image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS)


class _DecodeImages(beam.DoFn):
    def __init__(self, config: ImageTextConfig, carry_side: int) -> None:
        self.config = config
        self.carry_side = carry_side

    def setup(self) -> None:
        self.counters = ReasonCounters()

    def _reject(self, sample: MediaSample, reason: str, detail: str = "") -> beam.pvalue.TaggedOutput:
        self.counters.reject(reason)
        return beam.pvalue.TaggedOutput(
            "rejects", Reject(id=sample.example_id, source=sample.source, reason=reason, detail=detail)
        )

    def process(self, sample: MediaSample) -> Iterator[Any]:
        config = self.config
        reason = media_text_reason(sample.text, config.caption_rules)
        if reason is not None:
            yield self._reject(sample, reason)
            return
        try:
            image = decode_image(sample.media, config.decode)
        except DecodeError as exc:
            yield self._reject(sample, exc.reason, exc.detail)
            return
        reason = image_reason(image.width, image.height, config.image_rules)
        if reason is not None:
            yield self._reject(sample, reason, f"{image.width}x{image.height}")
            return
        yield ImageItem(
            example_id=sample.example_id,
            source=sample.source,
            caption=sample.text or "",
            pixels=np.asarray(shrink(image, self.carry_side), dtype=np.uint8),
            digest=pixel_digest(image),
            phash=phash64(image),
            embedding=thumbnail_embedding(image),
        )


class DecodeImages(beam.PTransform):
    """``PCollection[MediaSample]`` -> tagged ``kept`` (:class:`ImageItem`) and ``rejects``."""

    def __init__(self, config: ImageTextConfig, *, carry_side: int) -> None:
        super().__init__()
        self.config = config
        self.carry_side = carry_side

    def expand(self, samples: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return samples | "Decode" >> beam.ParDo(_DecodeImages(self.config, self.carry_side)).with_outputs(
            "rejects", main="kept"
        )


class _ClipScore(beam.DoFn):
    def __init__(self, checkpoint: str, rules: ImageRulesConfig, batch_size: int) -> None:
        self.checkpoint = checkpoint
        self.rules = rules
        self.batch_size = batch_size

    def setup(self) -> None:
        from trimodal_data.clip_embedder import ClipEmbedder

        self.clip = ClipEmbedder(self.checkpoint, batch_size=self.batch_size)
        self.counters = ReasonCounters()

    def process(self, batch: list[ImageItem]) -> Iterator[Any]:
        image_emb = self.clip.embed_images([item.image() for item in batch])
        text_emb = self.clip.embed_texts([item.caption for item in batch])
        for item, score, vector in zip(batch, self.clip.scores(image_emb, text_emb), image_emb, strict=True):
            reason = clip_score_reason(float(score), self.rules)
            if reason is None:
                yield dataclasses.replace(item, embedding=vector)
            else:
                self.counters.reject(reason)
                yield beam.pvalue.TaggedOutput(
                    "rejects",
                    Reject(id=item.example_id, source=item.source, reason=reason, detail=f"score {score:.4f}"),
                )


class ClipScore(beam.PTransform):
    """``PCollection[ImageItem]`` -> tagged ``kept`` (with CLIP embeddings) and ``rejects``."""

    def __init__(self, checkpoint: str, config: ImageTextConfig) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.config = config

    def expand(self, items: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        c = self.config
        return (
            items
            | "Batch" >> FixedBatches(id_fn=_item_id, batch_size=c.batch_size, num_buckets=c.num_batch_buckets)
            | "Score" >> beam.ParDo(_ClipScore(self.checkpoint, c.image_rules, c.batch_size)).with_outputs(
                "rejects", main="kept"
            )
        )


class _TokenizeImageText(TokenizeBatchFn):
    modality = "image"

    def format_batch(self, batch: list[ImageItem]) -> Iterator[ShardRecord]:
        assert self.bundle.image is not None
        codes = self.bundle.image.encode_batch([item.image() for item in batch])
        captions = self.bundle.text.encode_batch([item.caption for item in batch])
        for item, caption_ids, image_codes in zip(batch, captions, codes, strict=True):
            yield self.bundle.layout.image_text(caption_ids, image_codes).to_record(item.example_id, item.source)


class TokenizeImageText(TokenizeBatches):
    """``PCollection[ImageItem]`` -> ``PCollection[ShardRecord]`` (task ``t2i``)."""

    def __init__(self, bundle_dir: str, config: ImageTextConfig) -> None:
        super().__init__(_TokenizeImageText(bundle_dir), id_fn=_item_id, batch_size=config.batch_size,
                         num_buckets=config.num_batch_buckets)


_item_id = operator.attrgetter("example_id")
_item_source = operator.attrgetter("source")


def _item_digest(item: ImageItem) -> str:
    return item.digest


def _item_phash(item: ImageItem) -> int:
    return item.phash


def _item_embedding(item: ImageItem) -> np.ndarray:
    return item.embedding


def filter_and_dedupe_images(
    samples: beam.PCollection, *, config: ImageTextConfig, carry_side: int, clip_checkpoint: str | None
) -> tuple[beam.PCollection, list[beam.PCollection]]:
    """Stages 2-4 on accepted samples: (kept ``ImageItem``s, list of reject ``PCollection``s)."""
    decoded = samples | "DecodeImages" >> DecodeImages(config, carry_side=carry_side)
    items, rejects = decoded.kept, [decoded.rejects]
    if clip_checkpoint:
        scored = items | "ClipScore" >> ClipScore(clip_checkpoint, config)
        items = scored.kept
        rejects.append(scored.rejects)
    if config.exact_dedup:
        exact = items | "ExactDedup" >> ExactDedup(key_fn=_item_digest, id_fn=_item_id, source_fn=_item_source)
        items = exact.kept
        rejects.append(exact.rejects)
    if config.phash_dedup:
        near = items | "PhashDedup" >> DedupByEdges(
            PhashEdges(config.phash, id_fn=_item_id, hash_fn=_item_phash),
            reason="duplicate_phash", id_fn=_item_id, source_fn=_item_source,
        )
        items = near.kept
        rejects.append(near.rejects)
    if config.embedding_dedup:
        near = items | "EmbeddingDedup" >> DedupByEdges(
            EmbeddingEdges(config.embedding, id_fn=_item_id, vector_fn=_item_embedding),
            reason="duplicate_embedding", id_fn=_item_id, source_fn=_item_source,
        )
        items = near.kept
        rejects.append(near.rejects)
    return items, rejects
