"""Read training text for the BPE trainer from plain-text or JSON-lines files (optionally gzip-compressed).

``.txt`` (and any other suffix) files yield one text per line; ``.jsonl`` files yield the ``text_field`` of
each JSON object (the format of ``pipelines/demo_data/text/docs-*.jsonl.gz``). A ``.gz`` suffix is
decompressed on the fly. Directories are searched recursively for ``*.txt``, ``*.jsonl`` and their ``.gz``.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

TEXT_SUFFIXES = (".txt", ".txt.gz", ".jsonl", ".jsonl.gz")


def expand_text_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Files as given, directories expanded to their text files (sorted); ValueError when nothing is found."""
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(TEXT_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"text input not found: {path}")
    if not files:
        raise ValueError(f"no text files ({', '.join(TEXT_SUFFIXES)}) under {[str(p) for p in inputs]}")
    return files


def _open_text(path: Path) -> TextIO:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def iter_texts(files: Sequence[Path], *, text_field: str = "text") -> Iterator[str]:
    """Texts from every file in order (see the module docstring for the formats)."""
    for path in files:
        is_jsonl = path.name.endswith((".jsonl", ".jsonl.gz"))
        with _open_text(path) as handle:
            for line_no, line in enumerate(handle, start=1):
                if not is_jsonl:
                    yield line.rstrip("\n")
                    continue
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from None
                text = record.get(text_field) if isinstance(record, dict) else None
                if not isinstance(text, str):
                    raise ValueError(f"{path}:{line_no}: no string field {text_field!r}")
                yield text
