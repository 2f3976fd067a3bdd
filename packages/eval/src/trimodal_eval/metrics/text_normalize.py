"""Transcript normalization for WER/CER: numbers spelled out, case folded, punctuation removed.

``"It's 12 o'clock, Dr. Smith!"`` becomes ``"it's twelve o'clock dr smith"``: digits become words with
``num2words`` (so a recognizer that writes "twelve" is not penalized against "12"), apostrophes inside words
stay (they change words), every other punctuation mark becomes a space, whitespace is collapsed.
"""

from __future__ import annotations

import re
import unicodedata

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_NOT_WORD = re.compile(r"[^\w' ]+")
_LOOSE_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")
_SPACES = re.compile(r"\s+")


def _spell(match: re.Match[str]) -> str:
    from num2words import num2words

    text = match.group(0).replace(",", "")
    try:
        words = num2words(float(text)) if "." in text else num2words(int(text))
    except (OverflowError, ValueError):
        return text
    return f" {words} "


def normalize_transcript(text: str) -> str:
    """The normalized form compared by :func:`trimodal_eval.metrics.speech.error_rates`."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'")
    text = _NUMBER.sub(_spell, text)
    text = text.lower().replace("-", " ")
    text = _NOT_WORD.sub(" ", text)
    text = _LOOSE_APOSTROPHE.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
