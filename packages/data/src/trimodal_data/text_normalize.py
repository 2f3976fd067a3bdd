"""Text normalization applied to every document before filtering and dedupe.

Unicode normalization (NFC by default), control characters removed (tab and newline kept), line endings
unified, runs of horizontal whitespace collapsed, trailing spaces and runs of blank lines trimmed. Pure
functions, no Beam: the Beam stage in ``transforms/filter.py`` calls :func:`normalize_text`.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Literal

# C0 and C1 control characters except \t and \n, plus DEL; zero-width and BOM characters.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u2060\ufeff]")
# Runs of 2+ horizontal whitespace characters, or one that is not a plain space (no work on single spaces).
_HSPACE = re.compile(r"[^\S\n]{2,}|[^\S \n]")
_BLANK_RUNS = re.compile(r"\n{3,}")
# Fast paths for ASCII text (most documents): the control characters _CONTROL removes there, as bytes for
# bytes.translate (a C loop ~30x faster than the regex scan); the ASCII whitespace other than space and
# newline; runs of spaces, what _HSPACE reduces to when the text holds no other horizontal whitespace.
_ASCII_CONTROL = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_ASCII_OTHER_SPACE = ("\t", "\x0b", "\x0c", "\r", "\x1c", "\x1d", "\x1e", "\x1f")
_SPACE_RUNS = re.compile(" {2,}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class NormalizeConfig:
    """How documents are normalized before the rules see them."""

    unicode_form: Literal["NFC", "NFKC", "none"] = "NFC"
    """Unicode normalization form (``none`` keeps the text as read)."""
    strip_control_chars: bool = True
    """Remove C0/C1 control characters (except tab and newline) and zero-width characters."""
    normalize_whitespace: bool = True
    """Unify line endings, collapse runs of spaces/tabs to one space, trim spaces at line ends, keep at most one
    blank line between paragraphs, strip the ends."""


def normalize_text(text: str, config: NormalizeConfig) -> str:
    """Return the normalized text (may be empty; the caller rejects empty documents)."""
    if config.unicode_form != "none":
        text = unicodedata.normalize(config.unicode_form, text)
    if config.strip_control_chars:
        # \r is a control character: unify line endings first so that lines are not glued together.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text.isascii() or len(text.encode("ascii").translate(None, _ASCII_CONTROL)) != len(text):
            text = _CONTROL.sub("", text)
    if config.normalize_whitespace:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        # The substring checks skip regex passes that would change nothing (most texts need none).
        if not text.isascii() or any(c in text for c in _ASCII_OTHER_SPACE):
            text = _HSPACE.sub(" ", text)
        elif "  " in text:  # only spaces: the same result as _HSPACE, much faster
            text = _SPACE_RUNS.sub(" ", text)
        # Spaces now come one at a time, so removing the one before and the one after each newline is
        # the regex " *\n *" -> "\n"'s result (which matched and rebuilt every newline, even bare ones).
        if " \n" in text:
            text = text.replace(" \n", "\n")
        if "\n " in text:
            text = text.replace("\n ", "\n")
        if "\n\n\n" in text:
            text = _BLANK_RUNS.sub("\n\n", text)
        text = text.strip()
    return text
