"""Validation of every string a reader takes from untrusted input: ids, sources, texts, sidecars, list fields.

Two kinds of strings can pass ``isinstance(x, str)`` and still crash a later stage (hashing an id, writing an
Arrow column, BPE encoding, a reject file):

* JSON may carry lone surrogates (``"\\ud800"``), which no UTF-8 encoder accepts;
* file and member names that are not UTF-8 reach Python as surrogate escapes (``os.fsdecode``, ``tarfile``).

So every string field a reader yields goes through one check: :func:`utf8_text` applies the configured policy
(``reject``: the record becomes an ``invalid_utf8`` reject; ``replace``: the unencodable characters become
``?``, as for any other invalid input), :func:`string_field` does the same for the optional id/source fields
of a record and rejects values of the wrong type, and :func:`display_name` turns a file or member name into
text that can always be written (undecodable bytes become U+FFFD).
"""

from __future__ import annotations

import os
from typing import Any, Literal

InvalidUtf8 = Literal["reject", "replace"]
"""What to do with text that is not valid Unicode: reject the record, or replace the bad characters."""


def utf8_text(text: str, policy: InvalidUtf8) -> str | None:
    """``text`` when it encodes as UTF-8; else ``None`` (``reject``) or a repaired copy (``replace``)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None if policy == "reject" else text.encode("utf-8", errors="replace").decode("utf-8")
    return text


def string_field(
    record: dict[str, Any], field: str | None, policy: InvalidUtf8, *, allow_int: bool = False
) -> tuple[str | None, str | None]:
    """``(value, reject reason)`` of an optional string field of a record (an id or source field).

    Absent, ``null`` and ``""`` give ``(None, None)`` (the caller falls back to a default). A string must pass
    :func:`utf8_text` (else reason ``invalid_utf8``); with ``allow_int`` an integer (not a bool) is turned
    into its decimal string; any other type is reason ``bad_<field>_field``.
    """
    if not field or field not in record:
        return None, None
    value = record[field]
    if value is None or value == "":
        return None, None
    if isinstance(value, str):
        cleaned = utf8_text(value, policy)
        return (cleaned, None) if cleaned is not None else (None, "invalid_utf8")
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        return str(value), None
    return None, f"bad_{field}_field"


def display_name(name: str) -> str:
    """A file or member name as writable text: undecodable bytes (surrogate escapes) become U+FFFD."""
    if name.isascii():
        return name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", errors="replace") if _escapes_only(name) else (
            name.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace")
        )
    return name


def _escapes_only(name: str) -> bool:
    """True when every surrogate in ``name`` is a surrogate escape (U+DC80..U+DCFF, from undecodable bytes)."""
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in name)
