"""Read a folder of media files with caption/transcript sidecars (``cat.jpg`` + ``cat.txt`` or ``cat.json``).

Listing and reading are separate so a pipeline can list once at construction time and read the groups in
parallel: :func:`plan_media_folder` walks the folder (sorted, symlinked folders not followed) and groups
files by their path without extension; :func:`read_media_group` reads one group under the size limits.
Every file lands in exactly one group, so every file is accounted for: a symlink is a ``symlink`` reject
(never followed), a caption without media is ``missing_media``, a file of another kind is
``unsupported_file``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

from trimodal_data.readers.fields import display_name
from trimodal_data.readers.media_config import TEXT_EXTENSIONS, MediaReaderConfig, safe_id
from trimodal_data.readers.sidecars import sidecar_text
from trimodal_data.records import MediaSample


@dataclasses.dataclass(frozen=True)
class MediaGroup:
    """The files of one sample: a stem relative to the root and the extensions present."""

    root: str
    stem: str
    """Path relative to ``root`` without the extension, ``/``-separated."""
    exts: tuple[str, ...]
    """Extensions as found on disk (original case), sorted."""


def plan_media_folder(root: str | Path) -> list[MediaGroup]:
    """Group every file under ``root`` by its stem; sorted, deterministic, symlinked folders not entered."""
    base = Path(root)
    if not base.is_dir():
        raise ValueError(f"media folder not found: {base}")
    groups: dict[str, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(base).as_posix()
        # os.walk lists symlinked folders but does not enter them: account for them as files.
        filenames = filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]
        for name in filenames:
            stem, dot, ext = name.rpartition(".")
            if not dot or not stem:
                stem, ext = name, ""
            key = stem if rel_dir == "." else f"{rel_dir}/{stem}"
            groups.setdefault(key, []).append(ext)
    return [MediaGroup(str(base), stem, tuple(sorted(exts))) for stem, exts in sorted(groups.items())]


def _read_limited(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or ``None`` when it is larger than ``limit`` (checked before and while reading)."""
    if path.stat().st_size > limit:
        return None
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    return None if len(data) > limit else data


def read_media_group(
    group: MediaGroup, *, media_exts: tuple[str, ...], config: MediaReaderConfig, source: str = ""
) -> Iterator[MediaSample]:
    """One sample for the group's media file, plus one reject per file that cannot be part of it."""
    base = Path(group.root)
    source = source or display_name(base.name)
    by_ext = {ext.lower(): ext for ext in group.exts}
    example_id = f"{source}/{safe_id(group.stem)}"
    media_ext = next((e for e in media_exts if e in by_ext), None)
    text_ext = next((e for e in TEXT_EXTENSIONS if e in by_ext), None)
    # A caption sidecar without media is one missing_media reject, not also an unsupported file.
    used = {media_ext, text_ext}
    for lower, original in sorted(by_ext.items()):
        if lower not in used:
            name = f"{group.stem}.{original}" if original else group.stem
            yield MediaSample(example_id=f"{source}/{safe_id(name)}", source=source, reason="unsupported_file",
                              detail=name)
    if media_ext is None:
        if text_ext is not None:
            yield MediaSample(example_id=example_id, source=source, reason="missing_media",
                              detail=f"{group.stem}.{by_ext[text_ext]}")
        return
    media_path = base / f"{group.stem}.{by_ext[media_ext]}"
    text_path = base / f"{group.stem}.{by_ext[text_ext]}" if text_ext else None
    for path in (media_path, text_path):
        if path is not None and path.is_symlink():
            yield MediaSample(example_id=example_id, source=source, reason="symlink", detail=str(path.name))
            return
    if text_path is None:
        yield MediaSample(example_id=example_id, source=source, media_ext=media_ext, reason="missing_text")
        return
    try:
        media = _read_limited(media_path, config.max_media_bytes)
        raw_text = _read_limited(text_path, config.max_text_bytes)
    except OSError as exc:
        yield MediaSample(example_id=example_id, source=source, reason="read_error", detail=str(exc))
        return
    if media is None:
        yield MediaSample(example_id=example_id, source=source, reason="media_too_large", detail=media_path.name)
        return
    if raw_text is None:
        yield MediaSample(example_id=example_id, source=source, reason="text_too_large", detail=text_path.name)
        return
    try:
        text, speaker = sidecar_text(raw_text, text_ext or "txt", config, where=str(text_path))
    except ValueError as exc:
        yield MediaSample(example_id=example_id, source=source, reason="bad_text_sidecar", detail=str(exc))
        return
    yield MediaSample(example_id=example_id, source=source, media=media, media_ext=media_ext, text=text,
                      speaker=speaker)
