"""``ClipScore``: the CLIP image-text alignment filter; its image embeddings replace the thumbnail embeddings.

Runs only with a local CLIP checkpoint (:mod:`trimodal_data.clip_embedder`, loaded once per worker in
``setup``). Items are scored in batches fixed by id (:class:`~trimodal_data.transforms.batches.FixedBatches`);
a caption/image cosine below ``ImageRulesConfig.min_clip_score`` is a ``clip_score_low`` reject, and a kept
item carries the CLIP image embedding on to embedding dedupe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import apache_beam as beam

from trimodal_data.records import ImageItem, Reject
from trimodal_data.rules.image import ImageRulesConfig, clip_score_reason
from trimodal_data.transforms.batches import FixedBatches


class _ClipScore(beam.DoFn):
    def __init__(self, checkpoint: str, rules: ImageRulesConfig, batch_size: int) -> None:
        self.checkpoint = checkpoint
        self.rules = rules
        self.batch_size = batch_size

    def setup(self) -> None:
        from trimodal_data.clip_embedder import ClipEmbedder

        self.clip = ClipEmbedder(self.checkpoint, batch_size=self.batch_size)

    def process(self, batch: list[ImageItem]) -> Iterator[Any]:
        image_emb = self.clip.embed_images([item.image() for item in batch])
        text_emb = self.clip.embed_texts([item.caption for item in batch])
        for item, score, vector in zip(batch, self.clip.scores(image_emb, text_emb), image_emb, strict=True):
            reason = clip_score_reason(float(score), self.rules)
            if reason is None:
                yield dataclasses.replace(item, embedding=vector)
            else:
                yield beam.pvalue.TaggedOutput(
                    "rejects",
                    Reject(id=item.example_id, source=item.source, reason=reason, detail=f"score {score:.4f}"),
                )


def _example_id(item: ImageItem) -> str:
    return item.example_id


class ClipScore(beam.PTransform):
    """``PCollection[ImageItem]`` -> tagged ``kept`` (with CLIP embeddings) and ``rejects``."""

    def __init__(self, checkpoint: str, *, rules: ImageRulesConfig, batch_size: int, items_per_bucket: int) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.rules = rules
        self.batch_size = batch_size
        self.items_per_bucket = items_per_bucket

    def expand(self, items: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            items
            | "Batch"
            >> FixedBatches(id_fn=_example_id, batch_size=self.batch_size, items_per_bucket=self.items_per_bucket)
            | "Score" >> beam.ParDo(_ClipScore(self.checkpoint, self.rules, self.batch_size)).with_outputs(
                "rejects", main="kept"
            )
        )
