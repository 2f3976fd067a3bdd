"""Caption and transcript sidecars: the ``.txt`` or ``.json`` file next to a media file or tar member.

A ``.txt`` sidecar is the text itself (UTF-8, stripped); a ``.json`` sidecar is an object whose first present
string field of ``MediaReaderConfig.text_fields`` is the text, with an optional speaker field. Both strings
are checked like every other field (:func:`~trimodal_data.readers.fields.utf8_text`). Anything else (not
UTF-8, not JSON, nested too deeply, no text field, lone surrogates under the ``reject`` policy) raises
``ValueError`` naming the sidecar, which the readers turn into a ``bad_text_sidecar`` reject.
"""

from __future__ import annotations

import json
from typing import Any

from trimodal_data.readers.fields import utf8_text
from trimodal_data.readers.media_config import MediaReaderConfig


def sidecar_text(raw: bytes, ext: str, config: MediaReaderConfig, *, where: str) -> tuple[str, str | None]:
    """(text, speaker) from a ``.txt`` or ``.json`` sidecar; raises ``ValueError`` naming ``where``."""
    if ext == "json":
        data = _json_object(raw, where=where)
        text = next((data[f] for f in config.text_fields if isinstance(data.get(f), str)), None)
        if text is None:
            raise ValueError(f"{where}: sidecar JSON has none of the fields {list(config.text_fields)}")
        speaker = data.get(config.speaker_field)
        return _checked(text, config, where), _checked(speaker, config, where) if isinstance(speaker, str) else None
    try:
        return raw.decode("utf-8").strip(), None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: sidecar is not UTF-8 ({exc})") from None


def _json_object(raw: bytes, *, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{where}: sidecar JSON is nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, integers over Python's digit limit
        raise ValueError(f"{where}: sidecar is not UTF-8 JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where}: sidecar JSON must be an object")
    return data


def _checked(text: str, config: MediaReaderConfig, where: str) -> str:
    cleaned = utf8_text(text, config.invalid_utf8)
    if cleaned is None:
        raise ValueError(f"{where}: sidecar text is not valid Unicode (lone surrogate)")
    return cleaned
