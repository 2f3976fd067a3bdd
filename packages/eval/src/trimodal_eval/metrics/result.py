"""One metric's outcome: a value (with an interval when it has one) or a skip with the reason.

A metric whose model or checkpoint is absent is *skipped* with a message that says what to provide; it is
never replaced by a made-up number.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class MetricResult:
    name: str
    value: float | None
    """None when skipped."""
    status: str = "ok"
    """``ok`` or ``skipped``."""
    reason: str = ""
    """Why it was skipped (what to provide), or a note on how it was measured."""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def skipped(cls, name: str, reason: str) -> MetricResult:
        return cls(name=name, value=None, status="skipped", reason=reason)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
