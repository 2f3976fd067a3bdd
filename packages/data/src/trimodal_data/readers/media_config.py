"""The unit the image-text and audio-text readers produce: one raw media sample before decoding.

A reader yields exactly one :class:`MediaSample` per thing it finds in its input (a WebDataset key, a
Parquet row, a media file with its sidecar, a line of a transcript list, an unsafe tar member, an orphan
caption), so that ``kept + rejected + duplicates == read`` can be checked downstream. A sample that the
reader already knows is unusable carries ``reason`` (and no media bytes); the pipeline turns it into a
reject. Media bytes stay encoded here: decoding happens later, under the decode guards.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

IMAGE_EXTENSIONS: tuple[str, ...] = ("jpg", "jpeg", "png", "webp")
"""Image file extensions the readers pick up (lower case, no dot), in order of preference."""
AUDIO_EXTENSIONS: tuple[str, ...] = ("flac", "wav", "ogg", "mp3")
"""Audio file extensions the readers pick up (lower case, no dot), in order of preference."""
TEXT_EXTENSIONS: tuple[str, ...] = ("txt", "json")
"""Sidecar extensions holding the caption or transcript (``.json``: a ``text``-like field)."""

_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._/@+=:,-]")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MediaSample:
    """One image-text or audio-text pair as read, still encoded."""

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


def safe_id(text: str) -> str:
    """Make a name from untrusted input safe to use in an id (no control characters, spaces or ``..``)."""
    return _UNSAFE_ID_CHARS.sub("_", text).replace("..", "__")[:512]


@dataclasses.dataclass(frozen=True, kw_only=True)
class MediaReaderConfig:
    """Limits and field names shared by every image-text and audio-text reader."""

    max_media_bytes: int = 64 * 2**20
    """Larger media files/members are rejected unread (``media_too_large``)."""
    max_text_bytes: int = 64 * 2**10
    """Larger caption/transcript sidecars are rejected unread (``text_too_large``)."""
    text_fields: tuple[str, ...] = ("caption", "text", "transcript")
    """Fields tried, in order, in JSON sidecars, JSONL lists and Parquet files."""
    speaker_field: str = "speaker"
    """Optional speaker field in JSON sidecars, JSONL and TSV lists."""

    def __post_init__(self) -> None:
        if self.max_media_bytes < 1:
            raise ValueError(f"MediaReaderConfig.max_media_bytes must be positive, got {self.max_media_bytes}")
        if self.max_text_bytes < 1:
            raise ValueError(f"MediaReaderConfig.max_text_bytes must be positive, got {self.max_text_bytes}")
        if not self.text_fields:
            raise ValueError("MediaReaderConfig.text_fields must name at least one field")


def sidecar_text(raw: bytes, ext: str, config: MediaReaderConfig, *, where: str) -> tuple[str, str | None]:
    """(text, speaker) from a ``.txt`` or ``.json`` sidecar; raises ``ValueError`` naming ``where``."""
    if ext == "json":
        return caption_from_json(raw, config.text_fields, where=where), speaker_from_json(raw, config.speaker_field)
    try:
        return raw.decode("utf-8").strip(), None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: sidecar is not UTF-8 ({exc})") from None


def caption_from_json(raw: bytes, fields: tuple[str, ...], *, where: str) -> str:
    """The first present string field of a JSON sidecar; raises ``ValueError`` naming ``where``."""
    import json

    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: sidecar is not UTF-8 JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where}: sidecar JSON must be an object")
    for field in fields:
        value = data.get(field)
        if isinstance(value, str):
            return value
    raise ValueError(f"{where}: sidecar JSON has none of the fields {list(fields)}")


def speaker_from_json(raw: bytes, field: str = "speaker") -> str | None:
    """The speaker field of a JSON sidecar when present (the caller already validated the JSON)."""
    import json

    value = json.loads(raw.decode("utf-8")).get(field)
    return value if isinstance(value, str) else None
