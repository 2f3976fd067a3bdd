"""The one exception media decoders raise: a stable reject reason for counting plus a detail for the rejects file.

Raised by the image decoder (:mod:`trimodal_tokenizers.image_decode`) and the data pipelines' audio decoder;
a ``ValueError``, so callers that only want a clear message can catch that.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """Media bytes that cannot be decoded safely; ``reason`` is a short stable reject reason."""

    def __init__(self, reason: str, detail: str = "", *, message: str | None = None) -> None:
        super().__init__(message or (f"{reason}: {detail}" if detail else reason))
        self.reason = reason
        self.detail = detail
