"""Beam counters per reason and the corpus summary stored in the manifest and printed at the end.

Counters (namespace ``trimodal_data``) are for watching a run live in a runner's UI: ``read``,
``kept``, ``rejected/<reason>``, ``duplicate/<reason>``. The *summary* is computed as data inside the
pipeline (see ``transforms/write.py``), not from counters, so it is exact and identical on every runner;
:func:`build_summary` defines its shape for every modality.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

from trimodal_data.records import is_duplicate_reason

NAMESPACE = "trimodal_data"


class ReasonCounters:
    """Lazily created Beam counters, one per name (create inside a DoFn, e.g. in ``setup``)."""

    def __init__(self) -> None:
        self._counters: dict[str, Any] = {}

    def inc(self, name: str, n: int = 1) -> None:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Metrics.counter(NAMESPACE, name)
        counter.inc(n)

    def reject(self, reason: str) -> None:
        self.inc(f"duplicate/{reason}" if is_duplicate_reason(reason) else f"rejected/{reason}")


def build_summary(
    *, num_read: int, num_kept: int, reasons: Mapping[str, int], tokens: Mapping[str, int]
) -> dict[str, Any]:
    """The summary dict: documents in, kept, rejected per reason, duplicates removed, tokens written.

    ``balanced`` says whether kept + rejected + duplicates equals the number read.
    """
    rejected = {r: int(n) for r, n in sorted(reasons.items()) if not is_duplicate_reason(r)}
    duplicates = {r: int(n) for r, n in sorted(reasons.items()) if is_duplicate_reason(r)}
    total_rejected = sum(rejected.values())
    total_duplicates = sum(duplicates.values())
    return {
        "read": int(num_read),
        "kept": int(num_kept),
        "rejected": total_rejected,
        "rejected_by_reason": rejected,
        "duplicates_removed": total_duplicates,
        "duplicates_by_reason": duplicates,
        "tokens_written": {k: int(v) for k, v in sorted(tokens.items())},
        "balanced": int(num_kept) + total_rejected + total_duplicates == int(num_read),
    }


def format_summary(summary: Mapping[str, Any]) -> str:
    """A few human-readable lines for the end of a run."""
    lines = [
        f"documents read      {summary['read']:>12,}",
        f"kept                {summary['kept']:>12,}",
        f"rejected            {summary['rejected']:>12,}",
        *(f"  {reason:<26}{n:>10,}" for reason, n in summary["rejected_by_reason"].items()),
        f"duplicates removed  {summary['duplicates_removed']:>12,}",
        *(f"  {reason:<26}{n:>10,}" for reason, n in summary["duplicates_by_reason"].items()),
        "tokens written      " + ", ".join(f"{m}={n:,}" for m, n in summary["tokens_written"].items()),
    ]
    if not summary.get("balanced", True):
        lines.append("WARNING: kept + rejected + duplicates != documents read")
    return "\n".join(lines)


def query_counters(result: Any) -> dict[str, int]:
    """Committed counter values of a finished pipeline result, by counter name (empty if unsupported)."""
    try:
        metrics = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    except (NotImplementedError, AttributeError):
        return {}
    totals: dict[str, int] = {}
    for counter in metrics.get("counters", []):
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + int(value or 0)
    return dict(sorted(totals.items()))
