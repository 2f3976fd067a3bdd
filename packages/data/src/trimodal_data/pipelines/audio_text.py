"""The audio-text pipeline: read -> decode + filter -> dedupe -> tokenize -> write.

Stages (each a Beam transform from ``transforms/``; the Beam-free logic lives in ``readers/``, ``decode/``,
``rules/``, ``dedup/``; :mod:`trimodal_data.pipelines.media` wires read and write around them):

1. ``ReadInputs`` (shared with the text pipeline) over the read units of :mod:`readers.media_inputs`
   (folders with transcript sidecars, TSV/JSONL lists, WebDataset tars).
2. ``DecodeAudio``: guarded decode to mono float32 resampled to the codec's rate, transcript rules,
   audio rules (duration, source sample rate, clipping, silence), and the hash of the decoded PCM.
3. Dedupe by the audio itself: exact copies by the hash of the decoded PCM (``duplicate_exact``, the text
   pipeline's ``ExactDedup``; byte-identical files and lossless re-encodings such as WAV -> FLAC decode to the
   same PCM), then copies of one recording (lossy re-encoding, resampling, another gain, added silence) by
   their acoustic fingerprints (``duplicate_acoustic``, :mod:`trimodal_data.dedup.acoustic`). Two
   recordings of one sentence (another speaker, another take) are *not* duplicates: speech corpora read the
   same sentence many times on purpose, and that is what text-to-speech learns from. Transcript near
   duplicates (MinHash, ``duplicate_transcript``) are off by default; switched on they are only compared
   within one speaker unless ``transcript_scope`` is ``all``.
4. ``Tokenize``: the bundle's DAC codec and transcript BPE through its ``SequenceLayout``
   (task ``t2s``), in batches fixed by id, on the GPU when the worker has one.
5. ``WriteCorpus`` (shared): shards, rejects, manifest with the summary.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Literal

import apache_beam as beam

from trimodal_data.decode.audio import AudioDecodeConfig
from trimodal_data.dedup.acoustic import AcousticDedupConfig
from trimodal_data.dedup.minhash import MinHashConfig
from trimodal_data.readers.media_config import MediaReaderConfig
from trimodal_data.records import AudioItem
from trimodal_data.rules.audio import AudioRulesConfig
from trimodal_data.rules.media_text import MediaTextRulesConfig
from trimodal_data.transforms.dedup_by_edges import DedupByEdges
from trimodal_data.transforms.exact_dedup import ExactDedup
from trimodal_data.transforms.media_decode import DecodeAudio
from trimodal_data.transforms.media_edges import acoustic_edges
from trimodal_data.transforms.minhash_dedup import MinHashDedup
from trimodal_data.transforms.tokenize import tokenize_audio_text
from trimodal_data.transforms.write import WriteConfig

PIPELINE_NAME = "trimodal_data.audio_text"
ACOUSTIC_REASON = "duplicate_acoustic"
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
    acoustic_dedup: bool = True
    """Remove copies of one recording by their acoustic fingerprints (keeps the smallest id)."""
    acoustic: AcousticDedupConfig = dataclasses.field(default_factory=AcousticDedupConfig)
    """Acoustic-fingerprint settings."""
    transcript_minhash: MinHashConfig = dataclasses.field(
        default_factory=lambda: MinHashConfig(enabled=False, ngram=3)
    )
    """Transcript near-duplicate removal (3-word shingles: transcripts are short). Off by default: different
    recordings of one sentence are different examples [ours]."""
    transcript_scope: Literal["speaker", "all"] = "speaker"
    """With transcript dedupe on: compare transcripts only within one speaker (clips without a speaker label are
    compared with nothing), or across ``all`` clips."""
    batch_size: int = 16
    """Clips per codec batch (clips of equal padded length are encoded together)."""
    pad_to_seconds: float = 1.0
    """Clips are zero-padded to a multiple of this before encoding and the codes cut back to the clip's own
    frames: batches then share shapes (the codec encodes equal lengths together, and CPU conv kernels are
    set up once per shape). Only the last 1-3 frames can differ from unpadded encoding (their receptive field
    sees appended silence instead of the conv's own zero padding): 31 of 13,516 codes on 12 demo clips."""
    batch_bucket_items: int = 256
    """About this many clips per bucket that fixes the batches; the number of buckets is sized from the data
    (``transforms/batches.py``). A clip carries ``4 x rate x seconds`` bytes (30 s at 44.1 kHz: 5.3 MB), so a
    bucket holds at most about 1.4 GB at the default, typically far less."""
    write: WriteConfig = dataclasses.field(default_factory=WriteConfig)
    """Shards and rejects."""


_item_id = operator.attrgetter("example_id")
_item_source = operator.attrgetter("source")
_item_transcript = operator.attrgetter("transcript")


def _item_digest(item: AudioItem) -> str:
    return item.digest


def _item_fingerprint(item: AudioItem) -> bytes:
    return item.fingerprint


def _item_speaker(item: AudioItem) -> str:
    """The transcript-dedupe group: the speaker, or the clip itself when it has no speaker label."""
    return f"speaker:{item.speaker}" if item.speaker else f"clip:{item.example_id}"


def filter_and_dedupe_audio(
    samples: beam.PCollection, *, config: AudioTextConfig, target_rate: int
) -> tuple[beam.PCollection, list[beam.PCollection]]:
    """Stages 2-3 on accepted samples: (kept ``AudioItem``s, list of reject ``PCollection``s)."""
    decoded = samples | "DecodeAudio" >> DecodeAudio(
        decode=config.decode,
        audio_rules=config.audio_rules,
        transcript_rules=config.transcript_rules,
        target_rate=target_rate,
        acoustic=config.acoustic if config.acoustic_dedup else None,
    )
    items, rejects = decoded.kept, [decoded.rejects]
    if config.exact_dedup:
        exact = items | "ExactDedup" >> ExactDedup(
            key_fn=_item_digest, id_fn=_item_id, source_fn=_item_source, tiebreak_fn=_item_transcript
        )
        items = exact.kept
        rejects.append(exact.rejects)
    if config.acoustic_dedup:
        acoustic = items | "AcousticDedup" >> DedupByEdges(
            acoustic_edges(config.acoustic, id_fn=_item_id, fingerprint_fn=_item_fingerprint),
            reason=ACOUSTIC_REASON, id_fn=_item_id, source_fn=_item_source,
        )
        items = acoustic.kept
        rejects.append(acoustic.rejects)
    if config.transcript_minhash.enabled:
        near = items | "TranscriptDedup" >> MinHashDedup(
            config.transcript_minhash,
            text_fn=_item_transcript,
            id_fn=_item_id,
            source_fn=_item_source,
            reason=TRANSCRIPT_REASON,
            group_fn=_item_speaker if config.transcript_scope == "speaker" else None,
        )
        items = near.kept
        rejects.append(near.rejects)
    return items, rejects


def tokenize_audio(bundle_dir: str, config: AudioTextConfig) -> beam.PTransform:
    """Stage 4: ``PCollection[AudioItem]`` -> ``PCollection[ShardRecord]`` (task ``t2s``)."""
    return tokenize_audio_text(
        bundle_dir, batch_size=config.batch_size, items_per_bucket=config.batch_bucket_items,
        pad_to_seconds=config.pad_to_seconds,
    )
