"""The element types that flow through every trimodal data pipeline: documents and rejects.

A :class:`Reject` is what a pipeline emits instead of an element it drops, whatever the modality: the
element's id and source, a short machine-readable ``reason`` (``gopher_short_doc``, ``read_error``,
``duplicate_near`` ...) and a free-text ``detail``. Dedupe stages name their reasons ``duplicate_*`` and put
the keeper's id in ``detail``, so the summary can tell "rejected" from "removed as duplicate" and the
statistics can rebuild duplicate clusters. Both types are frozen dataclasses so they pickle between workers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

DUPLICATE_PREFIX = "duplicate_"


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Document:
    """One text document after reading (and, later, normalization)."""

    id: str
    """Stable id, unique within a corpus (the record's id field, or ``file:line``)."""
    source: str
    """Where it came from (the record's source field, or the input file relative to its root)."""
    text: str


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Reject:
    """An input element that did not make it into the corpus, and why."""

    id: str
    source: str
    reason: str
    """Short snake_case reason; ``duplicate_*`` for dedupe stages."""
    detail: str = ""
    """Human-readable context; for duplicates, the id of the element that was kept."""

    @property
    def is_duplicate(self) -> bool:
        return is_duplicate_reason(self.reason)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "reason": self.reason, "detail": self.detail}


def is_duplicate_reason(reason: str) -> bool:
    """True for reasons emitted by dedupe stages (counted as "removed as duplicate", not "rejected")."""
    return reason.startswith(DUPLICATE_PREFIX)


REJECT_FIELDS: tuple[str, ...] = ("id", "source", "reason", "detail")
