"""Read audio-text pairs from a TSV or JSONL list: ``path``, transcript and optional speaker per line.

TSV: ``path<TAB>transcript[<TAB>speaker]``, with an optional header line whose first field is ``path``.
JSONL: one object per line with ``path``, a transcript field (``MediaReaderConfig.text_fields``) and an
optional speaker field. Paths are relative to the list's folder and must stay inside it after resolving
symlinks (``path_outside_root`` otherwise), so a list cannot make the pipeline read arbitrary files. Lines are
decoded one by one and every field is checked like a caption (:mod:`trimodal_data.readers.fields`): a line that
is not UTF-8, not JSON, nested too deeply, or holds a lone surrogate is one ``bad_list_line`` reject.
Listing (:func:`plan_audio_list`) and reading (:func:`read_list_entry`) are separate so a pipeline can
read the files in parallel; every line becomes exactly one entry or one reject.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from trimodal_data.readers.fields import display_name, utf8_text
from trimodal_data.readers.media_config import AUDIO_EXTENSIONS, MediaReaderConfig, safe_id
from trimodal_data.records import MediaSample


@dataclasses.dataclass(frozen=True)
class ListEntry:
    """One line of a list, validated but not yet read."""

    root: str
    relpath: str
    transcript: str
    speaker: str | None
    source: str


def _parse_line(line: str, *, is_jsonl: bool, config: MediaReaderConfig) -> tuple[str, str, str | None]:
    if is_jsonl:
        try:
            data = json.loads(line)
        except RecursionError:
            raise ValueError("line is JSON nested too deeply") from None
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            raise ValueError("line is not a JSON object with a string 'path'")
        text = next((data[f] for f in config.text_fields if isinstance(data.get(f), str)), None)
        if text is None:
            raise ValueError(f"line has none of the transcript fields {list(config.text_fields)}")
        speaker = data.get(config.speaker_field)
        path, speaker = data["path"], speaker if isinstance(speaker, str) else None
    else:
        fields = line.split("\t")
        if len(fields) not in (2, 3):
            raise ValueError(f"expected 2 or 3 tab-separated fields, got {len(fields)}")
        path, text, speaker = fields[0], fields[1], (fields[2] or None) if len(fields) == 3 else None
    checked = [utf8_text(value, config.invalid_utf8) if value is not None else None for value in (path, text, speaker)]
    if any(c is None for c, value in zip(checked, (path, text, speaker), strict=True) if value is not None):
        raise ValueError("line holds text that is not valid Unicode (lone surrogate)")
    if "\x00" in checked[0]:
        raise ValueError("path holds a NUL character")
    return checked[0], checked[1], checked[2]  # type: ignore[return-value]


def plan_audio_list(path: str | Path, *, config: MediaReaderConfig) -> list[ListEntry | MediaSample]:
    """Parse the list at ``path``: a :class:`ListEntry` per good line, a reject :class:`MediaSample` per bad one."""
    list_path = Path(path)
    try:
        raw_lines = list_path.read_bytes().splitlines()
    except OSError as exc:
        raise ValueError(f"{list_path}: cannot read transcript list ({exc})") from None
    is_jsonl = list_path.suffix.lower() in (".jsonl", ".json")
    source = display_name(list_path.name)
    root = list_path.parent.resolve()
    out: list[ListEntry | MediaSample] = []
    for number, raw in enumerate(raw_lines, start=1):
        where = f"{source}/line-{number:07d}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.append(MediaSample(example_id=where, source=source, reason="bad_list_line",
                                   detail=f"not UTF-8 ({exc})"))
            continue
        if not line.strip() or (number == 1 and not is_jsonl and line.split("\t")[0] == "path"):
            continue
        try:
            relpath, text, speaker = _parse_line(line, is_jsonl=is_jsonl, config=config)
            resolved = (root / relpath).resolve()
        except Exception as exc:  # one bad line is one reject, never a failed launch
            out.append(MediaSample(example_id=where, source=source, reason="bad_list_line",
                                   detail=f"{type(exc).__name__}: {exc}"[:300]))
            continue
        ext = relpath.rpartition(".")[2].lower()
        example_id = f"{source}/{safe_id(relpath)}"
        if not resolved.is_relative_to(root):
            out.append(MediaSample(example_id=example_id, source=source, reason="path_outside_root", detail=relpath))
        elif ext not in AUDIO_EXTENSIONS:
            out.append(MediaSample(example_id=example_id, source=source, reason="unsupported_file", detail=relpath))
        else:
            out.append(ListEntry(str(root), relpath, text.strip(), speaker, source))
    return out


def read_list_entry(entry: ListEntry, *, config: MediaReaderConfig) -> MediaSample:
    """Read one listed file under the size limit."""
    example_id = f"{entry.source}/{safe_id(entry.relpath)}"
    path = Path(entry.root) / entry.relpath
    base = {"example_id": example_id, "source": entry.source, "text": entry.transcript, "speaker": entry.speaker}
    try:
        size = path.stat().st_size
        if size > config.max_media_bytes:
            return MediaSample(**base, reason="media_too_large", detail=f"{size} bytes")
        data = path.read_bytes()
    except FileNotFoundError:
        return MediaSample(**base, reason="file_not_found", detail=entry.relpath)
    except OSError as exc:
        return MediaSample(**base, reason="read_error", detail=str(exc))
    if len(entry.transcript.encode("utf-8")) > config.max_text_bytes:
        return MediaSample(**base, reason="text_too_large")
    return MediaSample(**base, media=data, media_ext=entry.relpath.rpartition(".")[2].lower())
