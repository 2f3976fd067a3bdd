"""Generation requests and the JSONL prompts file.

One JSON object per line (blank lines and lines starting with ``#`` are skipped)::

    {"id": "story", "task": "text", "text": "Once upon a time", "max_new_tokens": 64}
    {"id": "fill", "task": "infill", "text": "The cat sat", "suffix": "the mat.", "infill_tokens": 6}
    {"id": "cat", "task": "t2i", "text": "a photo of a cat"}
    {"id": "hello", "task": "t2s", "text": "hello world", "seconds": 2.0}
    {"id": "cap", "task": "i2t", "image": "images/cat.png"}
    {"id": "asr", "task": "s2t", "audio": "clips/hello.wav"}

Optional on every line: ``seed`` (the row seed; default derived from the command's seed and the ``id``) and
``sampler`` (overrides of the task's :class:`~trimodal_eval.sampling.SamplerConfig`, e.g. ``{"steps": 16}``).
Relative ``image``/``audio`` paths are relative to the prompts file. ``id`` names the output files, so it
must be unique and made of letters, digits, ``-``, ``_`` and ``.``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

TASKS: tuple[str, ...] = ("text", "infill", "t2i", "t2s", "i2t", "s2t")
TARGET_MODALITY: dict[str, str] = {"text": "text", "infill": "text", "t2i": "image", "t2s": "audio", "i2t": "text",
                                   "s2t": "text"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationRequest:
    """One prompt (see the module docstring for the file format)."""

    id: str
    """Unique name; the output files are ``<id>.json`` and ``<id>.png`` / ``<id>.wav``."""
    task: str
    """One of :data:`TASKS`."""
    text: str | None = None
    """Prompt text (``text``), prefix (``infill``), caption (``t2i``) or transcript (``t2s``)."""
    suffix: str | None = None
    """Text after the infilled middle (``infill``)."""
    image: Path | None = None
    """Image to caption (``i2t``)."""
    audio: Path | None = None
    """WAV clip to transcribe (``s2t``)."""
    max_new_tokens: int | None = None
    """Generated text length for text targets (default: the command's)."""
    min_new_tokens: int = 0
    """Positions at the start of a text target that may not be ``eot``."""
    infill_tokens: int | None = None
    """Length of the infilled middle (default: the command's ``max_new_tokens``)."""
    seconds: float | None = None
    """Duration of generated speech (``t2s``; default: the command's)."""
    seed: int | None = None
    """Row seed (default: derived from the command seed and ``id``)."""
    sampler: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Overrides of the task's sampler config."""

    @property
    def target_modality(self) -> str:
        return TARGET_MODALITY[self.task]

    @property
    def prompt_text(self) -> str:
        """A one-line description of the prompt for sidecars and reports."""
        if self.task == "infill":
            return f"{self.text or ''} [...] {self.suffix or ''}"
        if self.task == "i2t":
            return str(self.image)
        if self.task == "s2t":
            return str(self.audio)
        return self.text or ""


_FIELDS = {f.name for f in dataclasses.fields(GenerationRequest)}
_NEEDS = {"t2i": "text", "t2s": "text", "i2t": "image", "s2t": "audio", "infill": "text"}


def parse_request(data: Any, *, where: str, base: Path, max_new_tokens: int, seconds: float) -> GenerationRequest:
    """A validated request from one JSON object (``where`` names it in errors)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object")
    unknown = set(data) - _FIELDS
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}; known: {sorted(_FIELDS)}")
    rid, task = data.get("id"), data.get("task")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise ValueError(f"{where}: 'id' must be a name of letters, digits, '-', '_', '.' (got {rid!r})")
    if task not in TASKS:
        raise ValueError(f"{where}: 'task' must be one of {', '.join(TASKS)} (got {task!r})")
    need = _NEEDS.get(task)
    if need and not data.get(need):
        raise ValueError(f"{where}: task {task!r} needs {need!r}")
    values = dict(data)
    for key in ("image", "audio"):
        if values.get(key) is not None:
            path = Path(values[key])
            values[key] = path if path.is_absolute() else base / path
            if not values[key].is_file():
                raise ValueError(f"{where}: {key} file not found: {values[key]}")
    values.setdefault("max_new_tokens", max_new_tokens)
    if task == "infill":
        values.setdefault("infill_tokens", values["max_new_tokens"])
    if task == "t2s":
        values.setdefault("seconds", seconds)
    for key in ("max_new_tokens", "infill_tokens"):
        v = values.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{where}: {key!r} must be a positive integer (got {v!r})")
    if not isinstance(values.get("min_new_tokens", 0), int) or values.get("min_new_tokens", 0) < 0:
        raise ValueError(f"{where}: 'min_new_tokens' must be a non-negative integer")
    if values.get("seconds") is not None and not (isinstance(values["seconds"], int | float) and values["seconds"] > 0):
        raise ValueError(f"{where}: 'seconds' must be positive (got {values['seconds']!r})")
    if not isinstance(values.get("sampler", {}), dict):
        raise ValueError(f"{where}: 'sampler' must be an object of SamplerConfig overrides")
    return GenerationRequest(**values)


def read_requests(path: str | Path, *, max_new_tokens: int = 64, seconds: float = 2.0) -> list[GenerationRequest]:
    """All requests of a JSONL prompts file (ValueError naming the file and line on a bad one)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ValueError(f"prompts file not found: {p}") from None
    requests, seen = [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{p}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not valid JSON ({exc.msg})") from None
        request = parse_request(data, where=where, base=p.parent, max_new_tokens=max_new_tokens, seconds=seconds)
        if request.id in seen:
            raise ValueError(f"{where}: duplicate id {request.id!r}")
        seen.add(request.id)
        requests.append(request)
    if not requests:
        raise ValueError(f"{p}: no prompts")
    return requests
