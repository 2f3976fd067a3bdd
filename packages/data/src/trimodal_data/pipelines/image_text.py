"""The image-text pipeline's stages: read -> decode + filter -> [CLIP score] -> dedupe -> tokenize -> write.

Stages (each a Beam transform from ``transforms/``; the Beam-free logic lives in ``readers/``, ``decode/``,
``rules/``, ``dedup/``; :mod:`trimodal_data.pipelines.media` wires read and write around them):

1. ``ReadInputs`` (shared with the text pipeline) over the read units of :mod:`readers.media_inputs`.
2. ``DecodeImages``: guarded decode, image rules, caption rules; computes the pixel hash, the pHash and
   the cheap thumbnail embedding on the full image, then keeps a copy shrunk to the tokenizer's resolution.
3. ``ClipScore`` (only with a CLIP checkpoint): caption/image cosine below the threshold is a reject,
   and the CLIP image embedding replaces the thumbnail embedding for dedupe.
4. Exact dedupe on the pixel hash (``duplicate_exact``, the text pipeline's ``ExactDedup``), perceptual-hash
   near duplicates (``duplicate_phash``), embedding near duplicates (``duplicate_embedding``).
5. ``Tokenize``: the bundle's image tokenizer and caption BPE through its ``SequenceLayout``
   (task ``t2i``), in batches fixed by id, on the GPU when the worker has one.
6. ``WriteCorpus`` (shared): shards, rejects, manifest with the summary.
"""

from __future__ import annotations

import dataclasses
import operator

import apache_beam as beam
import numpy as np

from trimodal_data.dedup.embedding import EmbeddingDedupConfig
from trimodal_data.dedup.perceptual import PerceptualDedupConfig
from trimodal_data.readers.media_config import MediaReaderConfig
from trimodal_data.records import ImageItem
from trimodal_data.rules.image import ImageRulesConfig
from trimodal_data.rules.media_text import MediaTextRulesConfig
from trimodal_data.transforms.clip_score import ClipScore
from trimodal_data.transforms.dedup_by_edges import DedupByEdges
from trimodal_data.transforms.exact_dedup import ExactDedup
from trimodal_data.transforms.media_decode import DecodeImages
from trimodal_data.transforms.media_edges import EmbeddingEdges, phash_edges
from trimodal_data.transforms.tokenize import tokenize_image_text
from trimodal_data.transforms.write import WriteConfig
from trimodal_tokenizers.image_decode import ImageDecodeConfig

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
    batch_bucket_items: int = 1024
    """About this many images per bucket that fixes the batches; the number of buckets is sized from the data
    (``transforms/batches.py``). An image item carries at most ``resolution^2 x 3`` bytes of pixels (192 KB at
    256 px), so a bucket holds about 200 MB at the default."""
    write: WriteConfig = dataclasses.field(default_factory=WriteConfig)
    """Shards and rejects."""


_item_id = operator.attrgetter("example_id")
_item_source = operator.attrgetter("source")
_item_caption = operator.attrgetter("caption")


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
    decoded = samples | "DecodeImages" >> DecodeImages(
        decode=config.decode, image_rules=config.image_rules, caption_rules=config.caption_rules, carry_side=carry_side
    )
    items, rejects = decoded.kept, [decoded.rejects]
    if clip_checkpoint:
        scored = items | "ClipScore" >> ClipScore(
            clip_checkpoint,
            rules=config.image_rules,
            batch_size=config.batch_size,
            items_per_bucket=config.batch_bucket_items,
        )
        items = scored.kept
        rejects.append(scored.rejects)
    if config.exact_dedup:
        exact = items | "ExactDedup" >> ExactDedup(
            key_fn=_item_digest, id_fn=_item_id, source_fn=_item_source, tiebreak_fn=_item_caption
        )
        items = exact.kept
        rejects.append(exact.rejects)
    if config.phash_dedup:
        near = items | "PhashDedup" >> DedupByEdges(
            phash_edges(config.phash, id_fn=_item_id, hash_fn=_item_phash),
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


def tokenize_images(bundle_dir: str, config: ImageTextConfig) -> beam.PTransform:
    """Stage 5: ``PCollection[ImageItem]`` -> ``PCollection[ShardRecord]`` (task ``t2i``)."""
    return tokenize_image_text(bundle_dir, batch_size=config.batch_size, items_per_bucket=config.batch_bucket_items)
