"""Read WebDataset-style tar shards of image-text or audio-text pairs, never trusting the archive.

A WebDataset shard stores one sample as consecutive members sharing a key: ``dir/abc.jpg`` and
``dir/abc.txt`` form sample ``dir/abc``. The tar is read as a stream (``r|*``: no seeking, any
compression tarfile knows) and nothing is ever extracted to disk. Member names are untrusted: absolute
paths, ``..`` components, backslashes and control characters make a member a ``tar_unsafe_path`` reject;
symlinks, hard links, devices and FIFOs are ``tar_link_member`` rejects and are never followed; a member
larger than the configured limit is skipped unread (``media_too_large`` / ``text_too_large``), and a key with more
than ``max_members_per_key`` members is one ``tar_too_many_members`` reject whose extra members are never read, so
one key cannot hold a worker's memory. A tar that breaks mid-stream (any error of the archive stream) keeps the
samples read so far and adds one ``tar_read_error`` reject for the rest. The tar is opened through Beam's
``FileSystems``, so ``gs://`` and ``s3://`` shards are read where they are (the launcher checks the filesystem
exists before any worker starts).
"""

from __future__ import annotations

import logging
import posixpath
import tarfile
from collections.abc import Iterator
from pathlib import Path

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from trimodal_data.readers.media_config import MediaReaderConfig, safe_id
from trimodal_data.readers.sidecars import sidecar_text
from trimodal_data.records import MediaSample

log = logging.getLogger(__name__)


def split_key(name: str) -> tuple[str, str]:
    """WebDataset key and extension: the extension starts at the first dot of the base name."""
    directory, base = posixpath.split(name)
    stem, dot, ext = base.partition(".")
    return (posixpath.join(directory, stem) if directory else stem), (ext.lower() if dot else "")


def unsafe_name_reason(name: str) -> str | None:
    """Why a member name cannot be trusted, or ``None`` when it is a plain relative path."""
    if not name or name.startswith("/") or "\\" in name or any(ord(c) < 32 for c in name):
        return "tar_unsafe_path"
    if any(part == ".." for part in name.split("/")):
        return "tar_unsafe_path"
    return None


class _Group:
    """The members of one WebDataset key seen so far."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.files: dict[str, bytes] = {}
        self.num_members = 0
        self.reason: str | None = None
        self.detail = ""


def _finish(group: _Group, source: str, media_exts: tuple[str, ...], config: MediaReaderConfig) -> MediaSample:
    example_id = f"{source}/{safe_id(group.key)}"
    if group.reason is not None:
        return MediaSample(example_id=example_id, source=source, reason=group.reason, detail=group.detail)
    media_ext = next((ext for ext in media_exts if ext in group.files), None)
    text_ext = next((ext for ext in ("txt", "json") if ext in group.files), None)
    if media_ext is None:
        return MediaSample(
            example_id=example_id, source=source, reason="missing_media", detail=f"members: {sorted(group.files)}"
        )
    if text_ext is None:
        return MediaSample(example_id=example_id, source=source, media_ext=media_ext, reason="missing_text")
    try:
        text, speaker = sidecar_text(group.files[text_ext], text_ext, config, where=f"{example_id}.{text_ext}")
    except ValueError as exc:
        return MediaSample(example_id=example_id, source=source, reason="bad_text_sidecar", detail=str(exc))
    return MediaSample(
        example_id=example_id,
        source=source,
        media=group.files[media_ext],
        media_ext=media_ext,
        text=text,
        speaker=speaker,
    )


def read_media_tar(
    path: str | Path, *, source: str, media_exts: tuple[str, ...], config: MediaReaderConfig
) -> Iterator[MediaSample]:
    """Yield one :class:`MediaSample` per WebDataset key (and per unsafe member) of the tar at ``path``.

    Args:
        path: the tar file (plain or compressed).
        source: the name recorded in ids and rejects (usually the path relative to the input root).
        media_exts: accepted media extensions in order of preference (e.g. ``IMAGE_EXTENSIONS``).
        config: size limits and sidecar field names.
    """
    group: _Group | None = None
    num_unsafe = 0
    try:
        with FileSystems.open(str(path), compression_type=CompressionTypes.UNCOMPRESSED) as raw, tarfile.open(
            fileobj=raw, mode="r|*"
        ) as tar:
            for member in tar:
                reason = unsafe_name_reason(member.name)
                if reason is None and not member.isfile():
                    reason = None if member.isdir() else "tar_link_member"
                    if member.isdir():
                        continue
                if reason is not None:
                    num_unsafe += 1
                    yield MediaSample(
                        example_id=f"{source}/{safe_id(member.name)}#{num_unsafe}",
                        source=source,
                        reason=reason,
                        detail=f"member {member.name!r} (type {member.type!r})",
                    )
                    continue
                key, ext = split_key(member.name)
                if group is not None and key != group.key:
                    yield _finish(group, source, media_exts, config)
                    group = None
                if group is None:
                    group = _Group(key)
                group.num_members += 1
                if group.num_members > config.max_members_per_key:
                    group.reason = "tar_too_many_members"
                    group.detail = f"more than {config.max_members_per_key} members"
                    group.files.clear()
                if group.reason is not None:
                    continue  # the key is a reject already: its other members are not read
                limit = config.max_text_bytes if ext in ("txt", "json") else config.max_media_bytes
                if member.size > limit:
                    group.reason = "text_too_large" if ext in ("txt", "json") else "media_too_large"
                    group.detail = f"member {member.name!r}: {member.size} bytes > {limit}"
                    continue
                if ext in group.files:
                    group.reason, group.detail = "duplicate_member", f"member {member.name!r} appears twice"
                    continue
                handle = tar.extractfile(member)
                assert handle is not None  # regular files always have a payload
                group.files[ext] = handle.read()
    except Exception as exc:  # any broken archive stream: keep what was read, one reject for the rest
        if group is not None:
            yield _finish(group, source, media_exts, config)
            group = None
        log.warning("%s: tar read error, rest of the archive skipped: %s", source, exc)
        yield MediaSample(example_id=f"{source}/#tar_read_error", source=source, reason="tar_read_error",
                          detail=f"{type(exc).__name__}: {exc}"[:300])
    if group is not None:
        yield _finish(group, source, media_exts, config)
