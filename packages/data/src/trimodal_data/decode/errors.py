"""The one exception decoders raise: a reject reason for counting plus a detail for the rejects file."""

from __future__ import annotations


class DecodeError(ValueError):
    """Media bytes that cannot be decoded safely; ``reason`` is a short stable reject reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
