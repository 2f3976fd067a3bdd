"""Expand the ``--input`` arguments (files, folders, globs) into sorted, de-duplicated lists of files.

Modality-agnostic: the caller passes the suffixes it can read. Each file gets a *name* relative to the
root it was found under (a folder or the fixed prefix of a glob), used in document ids, so ids do not
depend on where the corpus is mounted; a name that is not UTF-8 gets U+FFFD for its undecodable bytes
(:func:`~trimodal_data.readers.fields.display_name`), so ids and rejects can always be written.

Two steps, so that a huge input list never has to be held by the launcher: :func:`check_inputs` runs at launch
and fails before any worker starts on an input that matches nothing or whose filesystem Beam does not have
(it stops at the first matching file of each input); :func:`input_files` lists one input completely and runs
inside the pipeline, one input per work item (``transforms/read.py``). Remote inputs (``gs://``, ``s3://``...)
are files or globs, listed and opened through Beam's ``FileSystems``.
"""

from __future__ import annotations

import dataclasses
import glob
import itertools
import os
from collections.abc import Sequence
from pathlib import Path

from apache_beam.io.filesystems import FileSystems

from trimodal_data.readers.fields import display_name

_GLOB_CHARS = set("*?[")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class InputFile:
    """One file to read: its full path and the name used in ids (relative to the input root)."""

    path: str
    name: str


def _glob_root(pattern: str) -> str:
    parts = pattern.split("/")
    fixed = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        fixed.append(part)
    return "/".join(fixed)


def list_input_files(inputs: Sequence[str], suffixes: Sequence[str]) -> list[InputFile]:
    """Files under ``inputs`` ending in one of ``suffixes``, sorted by name; ``ValueError`` when an input
    matches nothing or two inputs produce the same name."""
    if not inputs:
        raise ValueError("--input: give at least one file, folder or glob")
    found: dict[str, str] = {}
    suffix_tuple = tuple(suffixes)
    for spec in inputs:
        matches: list[tuple[str, str]] = []
        if "://" not in spec and os.path.isdir(spec):
            root = Path(spec)
            for dirpath, _, filenames in os.walk(root):
                for filename in filenames:
                    path = Path(dirpath) / filename
                    if filename.endswith(suffix_tuple) and not filename.startswith("."):
                        matches.append((str(path), path.relative_to(root).as_posix()))
        elif _GLOB_CHARS & set(spec):
            root = _glob_root(spec)
            if "://" in spec:
                paths = [m.path for r in FileSystems.match([spec]) for m in r.metadata_list]
            else:
                paths = glob.glob(spec, recursive=True)
            for path in paths:
                if path.endswith(suffix_tuple) and not os.path.isdir(path):
                    name = path[len(root) :].lstrip("/") if root and path.startswith(root) else os.path.basename(path)
                    matches.append((path, name))
        else:
            if "://" not in spec and not os.path.isfile(spec):
                raise ValueError(f"--input {spec!r}: no such file or folder")
            matches.append((spec, os.path.basename(spec.rstrip("/"))))
        if not matches:
            raise ValueError(f"--input {spec!r}: no files ending in {', '.join(suffixes)}")
        for path, raw_name in matches:
            name = display_name(raw_name)
            if name in found and found[name] != path:
                raise ValueError(f"--input: two files get the same name {name!r}: {found[name]} and {path}")
            found[name] = path
    return [InputFile(path=found[name], name=name) for name in sorted(found)]


def input_files(spec: str, suffixes: Sequence[str]) -> list[InputFile]:
    """The files of one ``--input`` (see :func:`list_input_files`)."""
    return list_input_files([spec], suffixes)


def _has_file(folder: str, suffixes: tuple[str, ...]) -> bool:
    return any(name.endswith(suffixes) and not name.startswith(".") for _, _, names in os.walk(folder)
               for name in names)


def check_remote_filesystem(spec: str) -> None:
    """``ValueError`` naming the input when Beam has no filesystem for its scheme (``gs://`` without the extra)."""
    try:
        FileSystems.get_filesystem(spec)
    except ValueError as exc:
        raise ValueError(f"--input {spec!r}: Beam has no filesystem for this scheme ({exc}); install the matching "
                         f"Beam extra (apache-beam[gcp] for gs://, apache-beam[aws] for s3://)") from None


def check_inputs(inputs: Sequence[str], suffixes: Sequence[str]) -> None:
    """Fail at launch on an input that cannot be read; cheap (stops at the first matching file of each input)."""
    if not inputs:
        raise ValueError("--input: give at least one file, folder or glob")
    suffix_tuple = tuple(suffixes)
    for spec in inputs:
        if "://" in spec:
            check_remote_filesystem(spec)
            if _GLOB_CHARS & set(spec):
                found = FileSystems.match([spec], limits=[1])[0].metadata_list
            else:
                found = [spec] if FileSystems.exists(spec) else []
            if not found:
                raise ValueError(f"--input {spec!r}: matches no file")
        elif os.path.isdir(spec):
            if not _has_file(spec, suffix_tuple):
                raise ValueError(f"--input {spec!r}: no files ending in {', '.join(suffixes)}")
        elif _GLOB_CHARS & set(spec):
            matches = (p for p in glob.iglob(spec, recursive=True) if p.endswith(suffix_tuple))
            if next(itertools.islice(matches, 1), None) is None:
                raise ValueError(f"--input {spec!r}: no files ending in {', '.join(suffixes)}")
        elif not os.path.isfile(spec):
            raise ValueError(f"--input {spec!r}: no such file or folder")
