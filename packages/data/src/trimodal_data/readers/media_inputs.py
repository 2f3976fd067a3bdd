"""Turn ``--input`` arguments into read units for the image-text and audio-text pipelines, and read a unit.

A *unit* is what one worker reads in one go: a WebDataset tar, a Parquet file (images), one line of a
transcript list (audio), or one file group of a media folder. Units are planned once on the launching
machine (:func:`plan_media_units`) and read anywhere (:func:`read_media_unit`), which yields accepted
:class:`~trimodal_data.records.MediaSample` objects and :class:`~trimodal_data.records.Reject` objects
for everything else, so the shared ``ReadFiles`` transform counts each of them as one element read.

How an input is interpreted:

* a file or glob: by suffix: ``.tar``, ``.tar.gz``, ``.tgz`` (WebDataset), ``.parquet`` (image-text only),
  ``.tsv``, ``.jsonl`` (transcript lists, audio-text only);
* a folder that holds any of those files: the files with those suffixes inside it (via the text
  pipeline's ``list_input_files``);
* any other folder: a media folder, every file grouped by stem (``cat.jpg`` + ``cat.txt``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from trimodal_data.readers.audio_list import ListEntry, plan_audio_list, read_list_entry
from trimodal_data.readers.fields import display_name
from trimodal_data.readers.files import list_input_files
from trimodal_data.readers.media_config import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, MediaReaderConfig
from trimodal_data.readers.media_folder import MediaGroup, plan_media_folder, read_media_group
from trimodal_data.readers.media_parquet import read_media_parquet
from trimodal_data.readers.media_tar import read_media_tar
from trimodal_data.records import MediaSample, Reject

MediaKind = Literal["image", "audio"]
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


def container_suffixes(kind: MediaKind) -> tuple[str, ...]:
    return TAR_SUFFIXES + ((".parquet",) if kind == "image" else LIST_SUFFIXES)


def _has_containers(folder: str, suffixes: tuple[str, ...]) -> bool:
    return any(name.endswith(suffixes) for _, _, names in os.walk(folder) for name in names)


def plan_media_units(inputs: Sequence[str], kind: MediaKind, config: MediaReaderConfig) -> list[MediaUnit]:
    """The sorted read units for ``inputs``; ``ValueError`` naming the input that matches nothing."""
    if not inputs:
        raise ValueError("--input: give at least one file, folder or glob")
    suffixes = container_suffixes(kind)
    units: list[MediaUnit] = []
    container_specs: list[str] = []
    for spec in inputs:
        if os.path.isdir(spec) and not _has_containers(spec, suffixes):
            name = display_name(Path(spec).resolve().name)
            units.extend(MediaUnit(kind="group", name=name, group=g) for g in plan_media_folder(spec))
        else:
            container_specs.append(spec)
    if container_specs:
        for file in list_input_files(container_specs, suffixes):
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
