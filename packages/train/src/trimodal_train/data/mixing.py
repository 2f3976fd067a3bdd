"""Mixing weights over training steps, and how many rows of each component a global batch gets.

:class:`WeightSchedule` turns the manifest's weights (or a piecewise-linear schedule of them) into
per-step *row* probabilities. Weights given in tokens are converted to rows by dividing by each
component's expected real (non-padding) tokens per row, so a component of short image-text pairs gets
more rows than a packed text component for the same token share.

:func:`exact_counts` is largest-remainder rounding with carried remainders: the remainder each component
did not get in one batch is carried into the next, so per batch every count is within one row of its
target and cumulative counts never drift more than one row from the ideal. :func:`stochastic_counts`
draws each row's component independently from a generator seeded by the step, so it needs no state.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trimodal_core import numpy_rng
from trimodal_train.data.config import WeightPoint


class WeightSchedule:
    """Row probabilities per global step for components ``names`` (in mixture order)."""

    def __init__(
        self,
        names: Sequence[str],
        base_weights: Sequence[float],
        tokens_per_row: Sequence[float] | None,
        points: Sequence[WeightPoint] = (),
    ) -> None:
        self.names = tuple(names)
        self._tokens_per_row = None if tokens_per_row is None else np.asarray(tokens_per_row, dtype=np.float64)
        if not points:
            points = (WeightPoint(step=0, weights=dict(zip(self.names, base_weights, strict=True))),)
        self._steps = np.array([p.step for p in points], dtype=np.int64)
        rows = []
        for point in points:
            missing = set(self.names) - set(point.weights)
            unknown = set(point.weights) - set(self.names)
            if missing or unknown:
                raise ValueError(
                    f"weight_schedule point at step {point.step}: components must be exactly {list(self.names)} "
                    f"(missing {sorted(missing)}, unknown {sorted(unknown)})"
                )
            w = np.array([float(point.weights[n]) for n in self.names], dtype=np.float64)
            rows.append(w / w.sum())
        self._weights = np.stack(rows)

    def weights(self, step: int) -> np.ndarray:
        """Normalized weights (in the manifest's unit) at ``step``: linear between schedule points."""
        if step <= self._steps[0]:
            return self._weights[0].copy()
        if step >= self._steps[-1]:
            return self._weights[-1].copy()
        hi = int(np.searchsorted(self._steps, step, side="right"))
        lo = hi - 1
        frac = (step - self._steps[lo]) / (self._steps[hi] - self._steps[lo])
        w = (1.0 - frac) * self._weights[lo] + frac * self._weights[hi]
        return w / w.sum()

    def row_probs(self, step: int) -> np.ndarray:
        """Probability that a row of the batch at ``step`` comes from each component."""
        w = self.weights(step)
        if self._tokens_per_row is not None:
            w = w / self._tokens_per_row
        return w / w.sum()


def exact_counts(probs: np.ndarray, num_rows: int, carry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows per component for one batch, and the carry for the next batch.

    ``carry + num_rows * probs`` is each component's owed (fractional) rows; every component gets its
    floor, the rows left over go to the largest fractional parts (ties: mixture order), and what was
    owed but not given is carried. The carry stays within (-1, 1) per component.
    """
    # A component whose weight is (scheduled to) zero gets no rows and forgets what it was owed.
    active = probs > 0
    owed = np.where(active, carry + num_rows * probs, 0.0)
    counts = np.maximum(np.floor(owed).astype(np.int64), 0)
    left = num_rows - int(counts.sum())
    remainder = np.where(active, owed - counts, -np.inf)
    if left > 0:
        order = np.argsort(-remainder, kind="stable")
        counts[order[:left]] += 1
    elif left < 0:  # only through floating-point round-off; take rows back from the smallest remainders
        order = np.argsort(remainder, kind="stable")
        for i in order:
            if left == 0:
                break
            if counts[i] > 0 and active[i]:
                counts[i] -= 1
                left += 1
    return counts, owed - counts


def stochastic_counts(probs: np.ndarray, num_rows: int, seed: int, step: int) -> np.ndarray:
    """Rows per component when each row's component is drawn independently (seeded by ``seed``, ``step``)."""
    rng = numpy_rng(seed, "loader", "mix", step)
    return rng.multinomial(num_rows, probs).astype(np.int64)
