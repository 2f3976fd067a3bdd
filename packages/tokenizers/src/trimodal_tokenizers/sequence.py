"""The sequence layout: the one place that says how examples become token sequences and back.

Every example starts with its task token; each modality span is wrapped in its begin/end tokens::

    text   [text] [bot] text [eot]
    t2i    [t2i] [bot] caption [eot] [boi] image codes [eoi]
    i2t    [i2t] [boi] image codes [eoi] [bot] caption [eot]
    t2s    [t2s] [bot] transcript [eot] [boa] audio codes [eoa]
    s2t    [s2t] [boa] audio codes [eoa] [bot] transcript [eot]

Image codes are flattened row-major. Audio codes ``[K, T]`` are flattened frame-major by default
(``f0c0 f0c1 .. f0cK-1 f1c0 ..``; ``codebook_major`` gives ``c0 of all frames, then c1 ..``), each code in its
codebook's id range of the :class:`~trimodal_core.TokenSpace`. Tokens are *global* ids; the modality of
task and boundary tokens is ``SPECIAL``. Packing several text examples into one row and padding pairs to a
fixed length are the trainer's job; :meth:`SequenceLayout.parse` ignores trailing ``pad`` tokens and
:meth:`SequenceLayout.parse_packed` splits a packed row at its task tokens. An empty text span (an empty
document, caption or transcript) or an empty media span is a ValueError: pipelines reject such examples.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Literal

import numpy as np

from trimodal_core.shard_writer import ShardRecord
from trimodal_core.token_space import Modality, TokenSpace

AudioInterleave = Literal["frame_major", "codebook_major"]

# Spans of each task, in order.
TASK_SPANS: dict[str, tuple[Modality, ...]] = {
    "text": (Modality.TEXT,),
    "t2i": (Modality.TEXT, Modality.IMAGE),
    "i2t": (Modality.IMAGE, Modality.TEXT),
    "t2s": (Modality.TEXT, Modality.AUDIO),
    "s2t": (Modality.AUDIO, Modality.TEXT),
}
_BOUNDARY = {Modality.TEXT: ("bot", "eot"), Modality.IMAGE: ("boi", "eoi"), Modality.AUDIO: ("boa", "eoa")}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SequenceLayoutConfig:
    """Choices in the layout that are not part of the token space."""

    audio_interleave: AudioInterleave = "frame_major"
    """Order of residual audio codes: frame by frame (all codebooks of a frame together) or codebook by codebook."""

    def __post_init__(self) -> None:
        if self.audio_interleave not in ("frame_major", "codebook_major"):
            raise ValueError(f"SequenceLayoutConfig.audio_interleave: unknown value {self.audio_interleave!r}")


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class FormattedSequence:
    """One example as the model sees it."""

    task: str
    tokens: np.ndarray
    """Global ids, ``int64``."""
    modality: np.ndarray
    """:class:`~trimodal_core.Modality` per token, ``uint8``."""

    def __len__(self) -> int:
        return len(self.tokens)

    def to_record(self, example_id: str, source: str) -> ShardRecord:
        return ShardRecord(
            example_id=example_id, source=source, task=self.task, tokens=self.tokens, modality=self.modality
        )


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ParsedSequence:
    """The parts of one example, as *local* ids of each tokenizer."""

    task: str
    text_ids: np.ndarray | None = None
    image_codes: np.ndarray | None = None
    """Flat ``[tokens_per_image]``."""
    audio_codes: np.ndarray | None = None
    """``[K, T]``."""


class SequenceLayout:
    """Format examples into global-id sequences and parse them back."""

    def __init__(self, token_space: TokenSpace, config: SequenceLayoutConfig | None = None) -> None:
        self.token_space = token_space
        self.config = config or SequenceLayoutConfig()
        self._task_of_id = {token_space.task_id(t): t for t in token_space.config.tasks if t in TASK_SPANS}

    # ------------------------------------------------------------------ formatting
    def text(self, text_ids: np.ndarray) -> FormattedSequence:
        return self._format("text", {Modality.TEXT: self._text_span(text_ids, "text_ids")})

    def image_text(self, caption_ids: np.ndarray, image_codes: np.ndarray, *, task: str = "t2i") -> FormattedSequence:
        """A caption and its image codes (any shape, flattened row-major); ``task`` is ``t2i`` or ``i2t``."""
        self._check_task(task, {Modality.TEXT, Modality.IMAGE})
        codes = np.asarray(image_codes)
        if codes.size == 0:
            raise ValueError("image_codes is empty")
        spans = {
            Modality.TEXT: self._text_span(caption_ids, "caption_ids"),
            Modality.IMAGE: self.token_space.to_global(Modality.IMAGE, codes.ravel()),
        }
        return self._format(task, spans)

    def audio_text(
        self, transcript_ids: np.ndarray, audio_codes: np.ndarray, *, task: str = "t2s"
    ) -> FormattedSequence:
        """A transcript and its audio codes ``[K, T]``; ``task`` is ``t2s`` or ``s2t``."""
        self._check_task(task, {Modality.TEXT, Modality.AUDIO})
        spans = {
            Modality.TEXT: self._text_span(transcript_ids, "transcript_ids"),
            Modality.AUDIO: self.flatten_audio(audio_codes),
        }
        return self._format(task, spans)

    def flatten_audio(self, audio_codes: np.ndarray) -> np.ndarray:
        """Global ids of audio codes ``[K, T]`` in the configured interleave order."""
        codes = np.asarray(audio_codes)
        k = self.token_space.config.audio_num_codebooks
        if codes.ndim != 2 or codes.shape[0] != k or codes.shape[1] == 0:
            raise ValueError(f"audio_codes must have shape [{k}, T>0] for this token space, got {codes.shape}")
        books = np.broadcast_to(np.arange(k)[:, None], codes.shape)
        if self.config.audio_interleave == "frame_major":
            codes, books = codes.T, books.T
        return self.token_space.to_global(Modality.AUDIO, codes.ravel(), books.ravel())

    def unflatten_audio(self, global_ids: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`flatten_audio`: local codes ``[K, T]``; checks each id is in its codebook's range."""
        ids = np.asarray(global_ids, dtype=np.int64)
        k = self.token_space.config.audio_num_codebooks
        if ids.size == 0 or ids.size % k:
            raise ValueError(f"audio span of {ids.size} tokens is not a positive multiple of {k} codebooks")
        local = self.token_space.to_local(Modality.AUDIO, ids)
        books = self.token_space.audio_codebook_of(ids)
        if self.config.audio_interleave == "frame_major":
            local, books = local.reshape(-1, k).T, books.reshape(-1, k).T
        else:
            local, books = local.reshape(k, -1), books.reshape(k, -1)
        if not self.token_space.config.audio_shared_codebooks and np.any(books != np.arange(k)[:, None]):
            raise ValueError("audio span: a code sits at a position of a different codebook")
        return np.ascontiguousarray(local)

    # ------------------------------------------------------------------ parsing
    def parse(self, tokens: np.ndarray) -> ParsedSequence:
        """Split one formatted example (trailing ``pad`` allowed) into local ids; ValueError if malformed."""
        ids = np.asarray(tokens, dtype=np.int64).ravel()
        space = self.token_space
        end = len(ids)
        while end and ids[end - 1] == space.pad_id:
            end -= 1
        ids = ids[:end]
        if ids.size == 0:
            raise ValueError("empty sequence")
        task = self._task_of_id.get(int(ids[0]))
        if task is None:
            raise ValueError(f"sequence does not start with a known task token (got {space.id_name(int(ids[0]))})")
        pos, parts = 1, {}
        for modality in TASK_SPANS[task]:
            begin, finish = (space.special_id(n) for n in _BOUNDARY[modality])
            if pos >= len(ids) or ids[pos] != begin:
                raise ValueError(f"{task} sequence: expected <{_BOUNDARY[modality][0]}> at position {pos}")
            hits = np.flatnonzero(ids[pos + 1 :] == finish)
            if hits.size == 0:
                raise ValueError(f"{task} sequence: missing <{_BOUNDARY[modality][1]}>")
            stop = pos + 1 + int(hits[0])
            parts[modality] = ids[pos + 1 : stop]
            pos = stop + 1
        if pos != len(ids):
            raise ValueError(f"{task} sequence: {len(ids) - pos} unexpected tokens after the last span")
        text = parts[Modality.TEXT]
        return ParsedSequence(
            task=task,
            text_ids=space.to_local(Modality.TEXT, text),
            image_codes=space.to_local(Modality.IMAGE, parts[Modality.IMAGE]) if Modality.IMAGE in parts else None,
            audio_codes=self.unflatten_audio(parts[Modality.AUDIO]) if Modality.AUDIO in parts else None,
        )

    def parse_packed(self, tokens: np.ndarray) -> list[ParsedSequence]:
        """Parse a row holding several examples back to back (split at task tokens; trailing pad allowed)."""
        ids = np.asarray(tokens, dtype=np.int64).ravel()
        starts = np.flatnonzero(np.isin(ids, np.fromiter(self._task_of_id, dtype=np.int64)))
        if ids.size and (starts.size == 0 or starts[0] != 0):
            raise ValueError("packed sequence does not start with a task token")
        bounds = [*starts.tolist(), len(ids)]
        return [self.parse(ids[a:b]) for a, b in itertools.pairwise(bounds)]

    # ------------------------------------------------------------------ helpers
    def _check_task(self, task: str, modalities: set[Modality]) -> None:
        if task not in TASK_SPANS or set(TASK_SPANS[task]) != modalities:
            names = [t for t, spans in TASK_SPANS.items() if set(spans) == modalities]
            raise ValueError(f"task {task!r} does not fit this pair; expected one of {names}")

    def _text_span(self, text_ids: np.ndarray, name: str) -> np.ndarray:
        ids = np.asarray(text_ids)
        if ids.ndim != 1 or ids.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D array of local text ids, got shape {ids.shape}")
        return self.token_space.to_global(Modality.TEXT, ids)

    def _format(self, task: str, spans: dict[Modality, np.ndarray]) -> FormattedSequence:
        space = self.token_space
        pieces = [np.array([space.task_id(task)], dtype=np.int64)]
        for modality in TASK_SPANS[task]:
            begin, finish = (space.special_id(n) for n in _BOUNDARY[modality])
            pieces += [np.array([begin], np.int64), spans[modality], np.array([finish], np.int64)]
        tokens = np.concatenate(pieces)
        return FormattedSequence(task=task, tokens=tokens, modality=space.modality_of(tokens))
