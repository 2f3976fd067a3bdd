"""Turn ``--input`` arguments into read units for the image-text and audio-text pipelines, and read a unit.

A *unit* is what one worker reads in one go: a WebDataset tar, a Parquet file (images), one line of a
transcript list (audio), or one file group of a media folder. :func:`check_media_inputs` runs at launch and
fails before any worker starts on an input that cannot be read (cheap: it does not list the inputs);
:func:`media_units` turns one input into its units *inside* the pipeline (one input per work item, so a folder
of millions of files is never listed by the launcher nor sent in one ``beam.Create``); :func:`read_media_unit`
reads one unit anywhere, yielding accepted :class:`~trimodal_data.records.MediaSample` objects and
:class:`~trimodal_data.records.Reject` objects for everything else, so the shared ``ReadInputs`` transform
counts each of them as one element read.

How an input is interpreted:

* a file or glob: by suffix: ``.tar``, ``.tar.gz``, ``.tgz`` (WebDataset), ``.parquet`` (image-text only),
  ``.tsv``, ``.jsonl`` (transcript lists, audio-text only);
* a folder that holds any of those files: the files with those suffixes inside it (via
  :func:`~trimodal_data.readers.files.input_files`);
* any other folder: a media folder, every file grouped by stem (``cat.jpg`` + ``cat.txt``).

Tars and Parquet files may be on any filesystem Beam has (``gs://``, ``s3://``; opened through
``FileSystems``). Media folders and transcript lists are local (or mounted) paths: a remote one is refused at
launch, never read as an empty or broken input.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from trimodal_data.readers.audio_list import ListEntry, plan_audio_list, read_list_entry
from trimodal_data.readers.fields import display_name
from trimodal_data.readers.files import check_inputs, input_files
from trimodal_data.readers.media_config import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, MediaReaderConfig
from trimodal_data.readers.media_folder import MediaGroup, plan_media_folder, read_media_group
from trimodal_data.readers.media_parquet import read_media_parquet
from trimodal_data.readers.media_tar import read_media_tar
from trimodal_data.records import MediaSample, Reject

MediaKind = Literal["image", "audio"]
_GLOB_CHARS = set("*?[")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
LIST_SUFFIXES = (".tsv", ".jsonl")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MediaUnit:
    """One unit of reading work."""

    kind: Literal["tar", "parquet", "group", "list_entry", "reject"]
    name: str
    """The source name recorded in ids (file name relative to its input root, or the folder's name)."""
    path: str = ""
    group: MediaGroup | None = None
    entry: ListEntry | None = None
    reject: MediaSample | None = None

    @property
    def key(self) -> str:
        """What no two units of one corpus may share (their samples would get the same ids)."""
        if self.group is not None:
            return f"{self.name}/{self.group.stem}"
        if self.entry is not None:
            return f"{self.name}/{self.entry.relpath}"
        if self.reject is not None:
            return self.reject.example_id
        return self.name

    @property
    def location(self) -> str:
        """Where the unit is read from (the tie-break when two inputs give the same key)."""
        if self.group is not None:
            return f"{self.group.root}/{self.group.stem}"
        if self.entry is not None:
            return f"{self.entry.root}/{self.entry.relpath}"
        return self.path


def container_suffixes(kind: MediaKind) -> tuple[str, ...]:
    return TAR_SUFFIXES + ((".parquet",) if kind == "image" else LIST_SUFFIXES)


def check_media_inputs(inputs: Sequence[str], kind: MediaKind) -> None:
    """``ValueError`` at launch for an input that cannot be read (see the module docstring)."""
    if not inputs:
        raise ValueError("--input: give at least one file, folder or glob")
    suffixes = container_suffixes(kind)
    for spec in inputs:
        if "://" in spec:
            if spec.endswith(LIST_SUFFIXES):
                raise ValueError(f"--input {spec!r}: transcript lists must be local (or mounted) files; the audio "
                                 f"they list is read from the local filesystem")
            if not _GLOB_CHARS & set(spec) and not spec.endswith(suffixes):
                raise ValueError(f"--input {spec!r}: a remote folder of media files is not read; give tar or "
                                 f"Parquet files or a glob of them (gs://bucket/shards/*.tar)")
            check_inputs([spec], suffixes)
        elif os.path.isdir(spec):
            if not any(names for _, _, names in os.walk(spec)):
                raise ValueError(f"--input {spec!r}: the folder holds no files")
        else:
            check_inputs([spec], suffixes)


def media_units(spec: str, *, kind: MediaKind, config: MediaReaderConfig) -> list[MediaUnit]:
    """The read units of one ``--input``, sorted (runs inside the pipeline, one input per work item)."""
    suffixes = container_suffixes(kind)
    if "://" not in spec and os.path.isdir(spec):
        files = [name for _, _, names in os.walk(spec) for name in names]
        if not any(name.endswith(suffixes) for name in files):
            name = display_name(Path(spec).resolve().name)
            return [MediaUnit(kind="group", name=name, group=g) for g in plan_media_folder(spec)]
    units: list[MediaUnit] = []
    for file in input_files(spec, suffixes):
        if file.name.endswith(TAR_SUFFIXES):
            units.append(MediaUnit(kind="tar", name=file.name, path=file.path))
        elif file.name.endswith(".parquet"):
            units.append(MediaUnit(kind="parquet", name=file.name, path=file.path))
        else:
            for item in plan_audio_list(file.path, config=config):
                if isinstance(item, ListEntry):
                    units.append(MediaUnit(kind="list_entry", name=file.name, entry=item))
                else:
                    units.append(MediaUnit(kind="reject", name=file.name, reject=item))
    return units


def _samples(unit: MediaUnit, kind: MediaKind, config: MediaReaderConfig) -> Iterator[MediaSample]:
    exts = IMAGE_EXTENSIONS if kind == "image" else AUDIO_EXTENSIONS
    if unit.kind == "tar":
        yield from read_media_tar(unit.path, source=unit.name, media_exts=exts, config=config)
    elif unit.kind == "parquet":
        try:
            yield from read_media_parquet(unit.path, source=unit.name, config=config)
        except (ValueError, OSError) as exc:  # pyarrow errors are ArrowInvalid (ValueError) or OSError
            yield MediaSample(example_id=f"{unit.name}/#parquet_error", source=unit.name, reason="parquet_error",
                              detail=str(exc))
    elif unit.kind == "group":
        assert unit.group is not None
        yield from read_media_group(unit.group, media_exts=exts, config=config, source=unit.name)
    elif unit.kind == "list_entry":
        assert unit.entry is not None
        yield read_list_entry(unit.entry, config=config)
    else:
        assert unit.reject is not None
        yield unit.reject


def read_media_unit(unit: MediaUnit, *, kind: MediaKind, config: MediaReaderConfig) -> Iterator[MediaSample | Reject]:
    """Accepted samples and rejects of one unit (the ``read_fn`` of the shared ``ReadFiles`` transform)."""
    for sample in _samples(unit, kind, config):
        yield sample if sample.reason is None else sample.to_reject()
