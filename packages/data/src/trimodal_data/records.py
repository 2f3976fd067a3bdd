"""The element types that flow through every trimodal data pipeline: documents, media samples, rejects.

* :class:`Document`: one text document (text pipeline).
* :class:`MediaSample`: one image-text or audio-text pair as a reader found it, media still encoded;
  :class:`ImageItem` / :class:`AudioItem`: the same pair decoded and filtered, on its way to dedupe and the
  tokenizer.
* :class:`Reject`: what a pipeline emits instead of an element it drops, whatever the modality: the
  element's id and source, a short machine-readable ``reason`` (``gopher_short_doc``, ``read_error``,
  ``duplicate_near`` ...) and a free-text ``detail``. Dedupe stages name their reasons ``duplicate_*`` and put
  the keeper's id in ``detail``, so the summary can tell "rejected" from "removed as duplicate" and the
  statistics can rebuild duplicate clusters.

All are frozen dataclasses so they pickle between workers.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

DUPLICATE_PREFIX = "duplicate_"


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Document:
    """One text document after reading (and, later, normalization)."""

    id: str
    """Stable id, unique within a corpus (the record's id field, or ``file:line``)."""
    source: str
    """Where it came from (the record's source field, or the input file relative to its root)."""
    text: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class MediaSample:
    """One image-text or audio-text pair as read, still encoded.

    A reader yields exactly one sample per thing it finds in its input (a WebDataset key, a Parquet row, a
    media file with its sidecar, a line of a transcript list, an unsafe tar member, an orphan caption), so
    that ``kept + rejected + duplicates == read`` can be checked downstream. A sample that the reader already
    knows is unusable carries ``reason`` (and no media bytes); the pipeline turns it into a reject. Media
    bytes stay encoded here: decoding happens later, under the decode guards.
    """

    example_id: str
    """Stable id, unique within a corpus: ``<source>/<key>``."""
    source: str
    """The input it came from (a file name relative to its input root)."""
    media: bytes = b""
    """Encoded image or audio bytes (empty when ``reason`` is set)."""
    media_ext: str = ""
    """Extension of the media member/file (``jpg``, ``flac`` ...), lower case."""
    text: str | None = None
    """Caption or transcript (``None`` when missing)."""
    speaker: str | None = None
    """Speaker label for audio, when the input provides one."""
    reason: str | None = None
    """Set by the reader when the sample is unusable (``tar_unsafe_path``, ``missing_caption`` ...)."""
    detail: str = ""
    """Free-text detail for the reject output (never used for counting)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view without the media bytes (for rejects and logs)."""
        return {
            "example_id": self.example_id,
            "source": self.source,
            "media_ext": self.media_ext,
            "media_bytes": len(self.media),
            "text": self.text,
            "speaker": self.speaker,
            "reason": self.reason,
            "detail": self.detail,
        }

    def to_reject(self) -> Reject:
        """The reject of a sample the reader marked unusable."""
        assert self.reason is not None
        return Reject(id=self.example_id, source=self.source, reason=self.reason, detail=self.detail)


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ImageItem:
    """A decoded, filtered image-text pair on its way to dedupe and the tokenizer."""

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
        from PIL import Image

        return Image.fromarray(self.pixels)


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class AudioItem:
    """A decoded, filtered audio-text pair on its way to dedupe and the codec."""

    example_id: str
    source: str
    transcript: str
    samples: np.ndarray
    """Mono float32 at ``sample_rate`` (the codec's)."""
    sample_rate: int
    digest: str
    """Hash of the decoded PCM (exact dedupe)."""
    fingerprint: bytes = b""
    """Acoustic fingerprint (:mod:`trimodal_data.dedup.acoustic`; empty when acoustic dedupe is off)."""
    speaker: str | None = None
    """Speaker label from the input, when it has one (transcript dedupe within one speaker)."""


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Reject:
    """An input element that did not make it into the corpus, and why."""

    id: str
    source: str
    reason: str
    """Short snake_case reason; ``duplicate_*`` for dedupe stages."""
    detail: str = ""
    """Human-readable context; for duplicates, the id of the element that was kept."""

    @property
    def is_duplicate(self) -> bool:
        return is_duplicate_reason(self.reason)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "reason": self.reason, "detail": self.detail}


def is_duplicate_reason(reason: str) -> bool:
    """True for reasons emitted by dedupe stages (counted as "removed as duplicate", not "rejected")."""
    return reason.startswith(DUPLICATE_PREFIX)


REJECT_FIELDS: tuple[str, ...] = ("id", "source", "reason", "detail")
