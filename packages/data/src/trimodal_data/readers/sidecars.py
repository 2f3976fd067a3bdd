"""Caption and transcript sidecars: the ``.txt`` or ``.json`` file next to a media file or tar member.

A ``.txt`` sidecar is the text itself (UTF-8, stripped); a ``.json`` sidecar is an object whose first present
string field of ``MediaReaderConfig.text_fields`` is the text, with an optional speaker field. Anything else
raises ``ValueError`` naming the sidecar, which the readers turn into a ``bad_text_sidecar`` reject.
"""

from __future__ import annotations

from trimodal_data.readers.media_config import MediaReaderConfig


def sidecar_text(raw: bytes, ext: str, config: MediaReaderConfig, *, where: str) -> tuple[str, str | None]:
    """(text, speaker) from a ``.txt`` or ``.json`` sidecar; raises ``ValueError`` naming ``where``."""
    if ext == "json":
        return caption_from_json(raw, config.text_fields, where=where), speaker_from_json(raw, config.speaker_field)
    try:
        return raw.decode("utf-8").strip(), None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: sidecar is not UTF-8 ({exc})") from None


def caption_from_json(raw: bytes, fields: tuple[str, ...], *, where: str) -> str:
    """The first present string field of a JSON sidecar; raises ``ValueError`` naming ``where``."""
    import json

    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: sidecar is not UTF-8 JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where}: sidecar JSON must be an object")
    for field in fields:
        value = data.get(field)
        if isinstance(value, str):
            return value
    raise ValueError(f"{where}: sidecar JSON has none of the fields {list(fields)}")


def speaker_from_json(raw: bytes, field: str = "speaker") -> str | None:
    """The speaker field of a JSON sidecar when present (the caller already validated the JSON)."""
    import json

    value = json.loads(raw.decode("utf-8")).get(field)
    return value if isinstance(value, str) else None
