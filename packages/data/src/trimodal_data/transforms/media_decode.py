"""``DecodeImages`` and ``DecodeAudio``: raw media samples -> decoded, filtered items, failures as rejects.

Both run the caption/transcript rules first (cheap), then the guarded decoder (the one image decoder,
:mod:`trimodal_tokenizers.image_decode`; :mod:`trimodal_data.decode.audio`),
then the modality's rules (:mod:`trimodal_data.rules.image`, :mod:`trimodal_data.rules.audio`), and compute
what the dedupe stages need from the full decoded media:

* images: the pixel hash, the pHash and the cheap thumbnail embedding, then a copy shrunk to the tokenizer's
  resolution is carried on (:func:`shrink`);
* audio: mono float32 resampled to the codec's rate, the hash of that PCM and, when acoustic dedupe is on, the
  acoustic fingerprint (:mod:`trimodal_data.dedup.acoustic`).

Outputs are tagged ``kept`` (:class:`~trimodal_data.records.ImageItem` / :class:`~trimodal_data.records.AudioItem`)
and ``rejects``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np
from PIL import Image

from trimodal_data.decode.audio import AudioDecodeConfig, decode_audio
from trimodal_data.dedup.acoustic import AcousticDedupConfig, fingerprint
from trimodal_data.dedup.embedding import thumbnail_embedding
from trimodal_data.dedup.perceptual import phash64
from trimodal_data.hashing import pcm_digest, pixel_digest
from trimodal_data.metrics import ReasonCounters
from trimodal_data.records import AudioItem, ImageItem, MediaSample, Reject
from trimodal_data.rules.audio import AudioRulesConfig, audio_reason
from trimodal_data.rules.image import ImageRulesConfig, image_reason
from trimodal_data.rules.media_text import MediaTextRulesConfig, media_text_reason
from trimodal_tokenizers.decode_error import DecodeError
from trimodal_tokenizers.image_decode import ImageDecodeConfig, decode_image


def shrink(image: Image.Image, side: int) -> Image.Image:
    """Downscale (never upscale) so the shorter side is ``side``, keeping the aspect ratio."""
    width, height = image.size
    if min(width, height) <= side:
        return image
    scale = side / min(width, height)
    return image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS)


class _DecodeMedia(beam.DoFn):
    def setup(self) -> None:
        self.counters = ReasonCounters()

    def _reject(self, sample: MediaSample, reason: str, detail: str = "") -> beam.pvalue.TaggedOutput:
        return beam.pvalue.TaggedOutput(
            "rejects", Reject(id=sample.example_id, source=sample.source, reason=reason, detail=detail)
        )


class _DecodeImages(_DecodeMedia):
    def __init__(self, decode: ImageDecodeConfig, image_rules: ImageRulesConfig, caption_rules: MediaTextRulesConfig,
                 carry_side: int) -> None:
        self.decode = decode
        self.image_rules = image_rules
        self.caption_rules = caption_rules
        self.carry_side = carry_side

    def process(self, sample: MediaSample) -> Iterator[Any]:
        reason = media_text_reason(sample.text, self.caption_rules)
        if reason is not None:
            yield self._reject(sample, reason)
            return
        try:
            image = decode_image(sample.media, self.decode)
        except DecodeError as exc:
            yield self._reject(sample, exc.reason, exc.detail)
            return
        reason = image_reason(image.width, image.height, self.image_rules)
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

    def __init__(self, *, decode: ImageDecodeConfig, image_rules: ImageRulesConfig,
                 caption_rules: MediaTextRulesConfig, carry_side: int) -> None:
        super().__init__()
        self.fn = _DecodeImages(decode, image_rules, caption_rules, carry_side)

    def expand(self, samples: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return samples | "Decode" >> beam.ParDo(self.fn).with_outputs("rejects", main="kept")


class _DecodeAudio(_DecodeMedia):
    def __init__(self, decode: AudioDecodeConfig, audio_rules: AudioRulesConfig,
                 transcript_rules: MediaTextRulesConfig, acoustic: AcousticDedupConfig | None) -> None:
        self.decode = decode
        self.audio_rules = audio_rules
        self.transcript_rules = transcript_rules
        self.acoustic = acoustic

    def process(self, sample: MediaSample) -> Iterator[Any]:
        reason = media_text_reason(sample.text, self.transcript_rules)
        if reason is not None:
            yield self._reject(sample, reason)
            return
        try:
            audio = decode_audio(sample.media, self.decode)
        except DecodeError as exc:
            yield self._reject(sample, exc.reason, exc.detail)
            return
        reason = audio_reason(audio.samples, audio.sample_rate, audio.source_rate, self.audio_rules)
        if reason is not None:
            yield self._reject(sample, reason, f"{audio.seconds:.3f} s at {audio.source_rate} Hz")
            return
        self.counters.inc("audio_seconds_kept_after_filters", round(audio.seconds))
        yield AudioItem(
            example_id=sample.example_id,
            source=sample.source,
            transcript=sample.text or "",
            samples=audio.samples,
            sample_rate=audio.sample_rate,
            digest=pcm_digest(audio),
            fingerprint=fingerprint(audio.samples, audio.sample_rate, self.acoustic) if self.acoustic else b"",
            speaker=sample.speaker,
        )


class DecodeAudio(beam.PTransform):
    """``PCollection[MediaSample]`` -> tagged ``kept`` (:class:`AudioItem`) and ``rejects``.

    ``target_rate`` (the codec's) replaces ``decode.target_rate``; with ``acoustic`` every item carries its
    acoustic fingerprint.
    """

    def __init__(self, *, decode: AudioDecodeConfig, audio_rules: AudioRulesConfig,
                 transcript_rules: MediaTextRulesConfig, target_rate: int,
                 acoustic: AcousticDedupConfig | None = None) -> None:
        super().__init__()
        self.fn = _DecodeAudio(dataclasses.replace(decode, target_rate=target_rate), audio_rules, transcript_rules,
                               acoustic)

    def expand(self, samples: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return samples | "Decode" >> beam.ParDo(self.fn).with_outputs("rejects", main="kept")
