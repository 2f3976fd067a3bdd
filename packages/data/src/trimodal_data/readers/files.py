"""Expand the ``--input`` arguments (files, folders, globs) into a sorted, de-duplicated list of files.

Modality-agnostic: the caller passes the suffixes it can read. Each file gets a *name* relative to the
root it was found under (a folder or the fixed prefix of a glob), used in document ids, so ids do not
depend on where the corpus is mounted; a name that is not UTF-8 gets U+FFFD for its undecodable bytes
(:func:`~trimodal_data.readers.fields.display_name`), so ids and rejects can always be written. Done once at
pipeline-construction time, on the launching machine.
"""

from __future__ import annotations

import dataclasses
import glob
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
