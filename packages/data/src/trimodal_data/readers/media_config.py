"""What every image-text and audio-text reader shares: size limits, field names, file extensions, safe ids.

The readers (:mod:`media_tar`, :mod:`media_parquet`, :mod:`media_folder`, :mod:`audio_list`) yield one
:class:`~trimodal_data.records.MediaSample` per thing they find; this module holds their common settings
(:class:`MediaReaderConfig`), the extensions they pick up, and :func:`safe_id`, which turns untrusted names
into id parts.
"""

from __future__ import annotations

import dataclasses
import re

from trimodal_data.readers.fields import InvalidUtf8

IMAGE_EXTENSIONS: tuple[str, ...] = ("jpg", "jpeg", "png", "webp")
"""Image file extensions the readers pick up (lower case, no dot), in order of preference."""
AUDIO_EXTENSIONS: tuple[str, ...] = ("flac", "wav", "ogg", "mp3")
"""Audio file extensions the readers pick up (lower case, no dot), in order of preference."""
TEXT_EXTENSIONS: tuple[str, ...] = ("txt", "json")
"""Sidecar extensions holding the caption or transcript (``.json``: a ``text``-like field)."""

_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._/@+=:,-]")


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
    invalid_utf8: InvalidUtf8 = "reject"
    """Captions, transcripts, speakers and list paths that are not valid Unicode (lone surrogates from JSON,
    bytes that are not UTF-8): reject the sample, or replace the bad characters."""
    max_members_per_key: int = 8
    """A WebDataset key with more tar members than this is one ``tar_too_many_members`` reject; the members
    past the cap are skipped unread, so one key cannot hold a worker's memory."""

    def __post_init__(self) -> None:
        if self.max_media_bytes < 1:
            raise ValueError(f"MediaReaderConfig.max_media_bytes must be positive, got {self.max_media_bytes}")
        if self.max_text_bytes < 1:
            raise ValueError(f"MediaReaderConfig.max_text_bytes must be positive, got {self.max_text_bytes}")
        if not self.text_fields:
            raise ValueError("MediaReaderConfig.text_fields must name at least one field")
        if self.invalid_utf8 not in ("reject", "replace"):
            raise ValueError(f"MediaReaderConfig.invalid_utf8 must be 'reject' or 'replace', got {self.invalid_utf8!r}")
        if self.max_members_per_key < 2:
            raise ValueError(
                f"MediaReaderConfig.max_members_per_key must be at least 2, got {self.max_members_per_key}"
            )
