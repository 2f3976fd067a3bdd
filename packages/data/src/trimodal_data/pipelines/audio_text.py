"""The audio-text pipeline: read -> decode + filter -> dedupe -> tokenize -> write.

Stages (each a Beam transform; the Beam-free logic lives in ``readers/``, ``decode/``, ``rules/``, ``dedup/``):

1. ``ReadFiles`` (shared with the text pipeline) over the read units of :mod:`readers.media_inputs`
   (folders with transcript sidecars, TSV/JSONL lists, WebDataset tars).
2. :class:`DecodeAudio`: guarded decode to mono float32 resampled to the codec's rate, transcript rules,
   audio rules (duration, source sample rate, clipping, silence), and the hash of the decoded PCM.
3. Exact dedupe on the PCM hash (``duplicate_exact``, the text pipeline's ``ExactDedup``), then transcript
   near duplicates with the text pipeline's ``MinHashDedup`` (``duplicate_transcript``): the same words
   read twice, at another gain or with padding, are one example. No audio-embedding stage: see
   :mod:`trimodal_data.dedup.embedding`.
4. :class:`TokenizeAudioText`: the bundle's DAC codec and transcript BPE through its ``SequenceLayout``
   (task ``t2s``), in batches fixed by id, on the GPU when the worker has one.
5. ``WriteCorpus`` (shared): shards, rejects, manifest with the summary.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np

from trimodal_core import ShardRecord
from trimodal_data.decode.audio import AudioDecodeConfig, decode_audio, pcm_digest
from trimodal_data.decode.errors import DecodeError
from trimodal_data.dedup.exact import ExactDedup
from trimodal_data.dedup.minhash import MinHashConfig, MinHashDedup
from trimodal_data.media_batches import TokenizeBatches, TokenizeBatchFn
from trimodal_data.media_sample import MediaReaderConfig, MediaSample
from trimodal_data.metrics import ReasonCounters
from trimodal_data.records import Reject
from trimodal_data.rules.audio import AudioRulesConfig, audio_reason
from trimodal_data.rules.media_text import MediaTextRulesConfig, media_text_reason
from trimodal_data.transforms.write import WriteConfig

PIPELINE_NAME = "trimodal_data.audio_text"
TRANSCRIPT_REASON = "duplicate_transcript"


@dataclasses.dataclass(frozen=True, kw_only=True)
class AudioTextConfig:
    """Every stage of the audio-text pipeline (what ``--config FILE`` holds)."""

    read: MediaReaderConfig = dataclasses.field(default_factory=MediaReaderConfig)
    """Readers: size limits, sidecar and list fields."""
    decode: AudioDecodeConfig = dataclasses.field(default_factory=AudioDecodeConfig)
    """Decoding guards (``target_rate`` is set from the codec; a value here is ignored)."""
    audio_rules: AudioRulesConfig = dataclasses.field(default_factory=AudioRulesConfig)
    """Duration, sample rate, clipping and silence thresholds."""
    transcript_rules: MediaTextRulesConfig = dataclasses.field(default_factory=MediaTextRulesConfig)
    """Transcript rules and language ID."""
    exact_dedup: bool = True
    """Remove clips whose decoded PCM is identical (keeps the smallest id)."""
    transcript_minhash: MinHashConfig = dataclasses.field(default_factory=lambda: MinHashConfig(ngram=3))
    """Transcript near-duplicate removal (3-word shingles: transcripts are short)."""
    batch_size: int = 16
    """Clips per codec batch (clips of equal padded length are encoded together)."""
    pad_to_seconds: float = 1.0
    """Clips are zero-padded to a multiple of this before encoding and the codes cut back to the clip's own
    frames: batches then share shapes (the codec encodes equal lengths together, and CPU conv kernels are
    set up once per shape). Only the last 1-3 frames can differ from unpadded encoding (their receptive field
    sees appended silence instead of the conv's own zero padding): 31 of 13,516 codes on 12 demo clips."""
    num_batch_buckets: int = 16
    """Buckets that fix the batches (see ``media_batches``)."""
    write: WriteConfig = dataclasses.field(default_factory=WriteConfig)
    """Shards and rejects."""


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class AudioItem:
    """A decoded, filtered audio-text pair on its way to the codec."""

    example_id: str
    source: str
    transcript: str
    samples: np.ndarray
    """Mono float32 at ``sample_rate`` (the codec's)."""
    sample_rate: int
    digest: str
    """Hash of the decoded PCM (exact dedupe)."""


class _DecodeAudio(beam.DoFn):
    def __init__(self, config: AudioTextConfig, target_rate: int) -> None:
        self.config = config
        self.decode_config = dataclasses.replace(config.decode, target_rate=target_rate)

    def setup(self) -> None:
        self.counters = ReasonCounters()

    def _reject(self, sample: MediaSample, reason: str, detail: str = "") -> beam.pvalue.TaggedOutput:
        self.counters.reject(reason)
        return beam.pvalue.TaggedOutput(
            "rejects", Reject(id=sample.example_id, source=sample.source, reason=reason, detail=detail)
        )

    def process(self, sample: MediaSample) -> Iterator[Any]:
        reason = media_text_reason(sample.text, self.config.transcript_rules)
        if reason is not None:
            yield self._reject(sample, reason)
            return
        try:
            audio = decode_audio(sample.media, self.decode_config)
        except DecodeError as exc:
            yield self._reject(sample, exc.reason, exc.detail)
            return
        reason = audio_reason(audio.samples, audio.sample_rate, audio.source_rate, self.config.audio_rules)
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
        )


class DecodeAudio(beam.PTransform):
    """``PCollection[MediaSample]`` -> tagged ``kept`` (:class:`AudioItem`) and ``rejects``."""

    def __init__(self, config: AudioTextConfig, *, target_rate: int) -> None:
        super().__init__()
        self.config = config
        self.target_rate = target_rate

    def expand(self, samples: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return samples | "Decode" >> beam.ParDo(_DecodeAudio(self.config, self.target_rate)).with_outputs(
            "rejects", main="kept"
        )


class _TokenizeAudioText(TokenizeBatchFn):
    modality = "audio"

    def __init__(self, bundle_dir: str, pad_to_seconds: float) -> None:
        super().__init__(bundle_dir)
        self.pad_to_seconds = pad_to_seconds

    def setup(self) -> None:
        import torch

        # Denormal floats in conv activations near silence made CPU encoding ~3x slower (measured here).
        torch.set_flush_denormal(True)
        super().setup()

    def format_batch(self, batch: list[AudioItem]) -> Iterator[ShardRecord]:
        codec = self.bundle.audio
        assert codec is not None
        grid = max(codec.hop_length, round(self.pad_to_seconds * codec.sample_rate))
        padded = [np.pad(item.samples, (0, -len(item.samples) % grid)) for item in batch]
        full = codec.encode_batch(padded, codec.sample_rate)
        codes = [c[:, : -(-len(item.samples) // codec.hop_length)] for c, item in zip(full, batch, strict=True)]
        transcripts = self.bundle.text.encode_batch([item.transcript for item in batch])
        for item, text_ids, audio_codes in zip(batch, transcripts, codes, strict=True):
            yield self.bundle.layout.audio_text(text_ids, audio_codes).to_record(item.example_id, item.source)


class TokenizeAudioText(TokenizeBatches):
    """``PCollection[AudioItem]`` -> ``PCollection[ShardRecord]`` (task ``t2s``)."""

    def __init__(self, bundle_dir: str, config: AudioTextConfig) -> None:
        super().__init__(_TokenizeAudioText(bundle_dir, config.pad_to_seconds), id_fn=_item_id,
                         batch_size=config.batch_size, num_buckets=config.num_batch_buckets)


_item_id = operator.attrgetter("example_id")
_item_source = operator.attrgetter("source")
_item_transcript = operator.attrgetter("transcript")


def _item_digest(item: AudioItem) -> str:
    return item.digest


def filter_and_dedupe_audio(
    samples: beam.PCollection, *, config: AudioTextConfig, target_rate: int
) -> tuple[beam.PCollection, list[beam.PCollection]]:
    """Stages 2-3 on accepted samples: (kept ``AudioItem``s, list of reject ``PCollection``s)."""
    decoded = samples | "DecodeAudio" >> DecodeAudio(config, target_rate=target_rate)
    items, rejects = decoded.kept, [decoded.rejects]
    if config.exact_dedup:
        exact = items | "ExactDedup" >> ExactDedup(key_fn=_item_digest, id_fn=_item_id, source_fn=_item_source)
        items = exact.kept
        rejects.append(exact.rejects)
    if config.transcript_minhash.enabled:
        near = items | "TranscriptDedup" >> MinHashDedup(
            config.transcript_minhash,
            text_fn=_item_transcript,
            id_fn=_item_id,
            source_fn=_item_source,
            reason=TRANSCRIPT_REASON,
        )
        items = near.kept
        rejects.append(near.rejects)
    return items, rejects
