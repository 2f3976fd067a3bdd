"""Statistics of the batch-size study: spread of final losses, the batch that leaves the common curve, and a
paired bootstrap of the spreads over held-out rows.

* ``spread = max_B L(B) - min_B L(B)``, ``relative spread = spread / median_B L(B)``;
* leave batch [ours]: scanning batches upwards, the first ``B`` with ``L(B) > (1 + tolerance) * median`` of the
  final losses of all smaller batches (None: no batch leaves);
* paired bootstrap: every replicate resamples the held-out rows once (the same rows for every run) and
  recomputes each run's ``L = sum nll / sum n``, each rule's spread and ``spread(sde) - spread(naive)``.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np

from trimodal_core import derive_seed


def leave_batch(finals: dict[int, float], tolerance: float) -> int | None:
    """The first batch (ascending) whose final loss exceeds ``(1 + tolerance) * median`` of the smaller ones."""
    ordered = sorted(finals)
    for i, batch in enumerate(ordered[1:], start=1):
        reference = statistics.median(finals[b] for b in ordered[:i])
        if finals[batch] > (1 + tolerance) * reference:
            return batch
    return None


def spread(values: list[float]) -> dict[str, float]:
    """``max - min`` and ``(max - min) / median`` (NaN for fewer than two values)."""
    if len(values) < 2:
        return {"spread": math.nan, "relative_spread": math.nan}
    width = max(values) - min(values)
    return {"spread": width, "relative_spread": width / statistics.median(values)}


def paired_spread_bootstrap(sums: dict[str, dict[int, Any]], *, replicates: int, seed: int,
                            confidence: float = 0.95) -> dict[str, Any]:
    """Percentile intervals of each rule's spread and of ``spread(sde) - spread(naive)`` when the held-out rows
    are resampled (the same rows for every run: a paired comparison; training seeds are not resampled)."""
    rules = list(sums)
    num_rows = next(iter(sums[rules[0]].values())).nll_RM.shape[0]
    rng = np.random.default_rng(derive_seed(seed, "experiments/batch_size/bootstrap"))
    draws: dict[str, list[float]] = {rule: [] for rule in rules}
    for _ in range(replicates):
        idx = rng.integers(0, num_rows, num_rows)
        for rule in rules:
            finals = [float(v.nll_RM[idx].sum() / v.n_RM[idx].sum()) for v in sums[rule].values()]
            draws[rule].append(max(finals) - min(finals))
    tail = (1 - confidence) / 2 * 100

    def interval(values: Any) -> list[float]:
        return [float(v) for v in np.percentile(values, [tail, 100 - tail])] if replicates else [math.nan] * 2

    diff = np.array(draws["sde"]) - np.array(draws["naive"])
    return {"replicates": replicates, "confidence": confidence,
            "spread_ci": {rule: interval(draws[rule]) for rule in rules}, "sde_minus_naive_ci": interval(diff),
            "fraction_sde_tighter": float(np.mean(diff < 0)) if replicates else math.nan}
