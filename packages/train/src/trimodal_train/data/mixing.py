"""Mixing weights over training steps, and how many rows of each component a global batch gets.

:class:`WeightSchedule` turns the manifest's weights (or a piecewise-linear schedule of them) into
per-step *row* probabilities. Weights given in tokens are converted to rows by dividing by each
component's expected real (non-padding) tokens per row, so a component of short image-text pairs gets
more rows than a packed text component for the same token share.

:func:`exact_counts` is largest-remainder rounding with carried remainders: every batch holds the floor
or the ceiling of each component's exact share, the fractional rows a component did not get are carried
into the next batches, and cumulative counts never drift a whole row from the ideal; :func:`exact_counts_steps`
is the same for many consecutive steps in one compiled call (the loader plans steps in chunks, and per-step
Python calls were a visible share of its cost). :func:`stochastic_counts` draws each row's component
independently from a generator seeded by the step, so it needs no state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
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
        self._constant: np.ndarray | None = None

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
        if len(self._steps) == 1:  # constant weights: computed once
            if self._constant is None:
                self._constant = self._row_probs(0)
            return self._constant.copy()
        return self._row_probs(step)

    def row_probs_steps(self, step: int, num_steps: int) -> np.ndarray:
        """``row_probs`` of steps ``step .. step + num_steps - 1``, one row per step."""
        if len(self._steps) == 1:
            return np.tile(self.row_probs(step), (num_steps, 1))
        return np.stack([self._row_probs(step + s) for s in range(num_steps)])

    def _row_probs(self, step: int) -> np.ndarray:
        w = self.weights(step)
        if self._tokens_per_row is not None:
            w = w / self._tokens_per_row
        return w / w.sum()


def exact_counts(probs: np.ndarray, num_rows: int, carry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows per component for one batch, and the carry for the next batch.

    Every component gets ``floor(num_rows * p)`` rows; the rows left over (the fractional parts sum to a
    whole number) go to the components with the largest *carried* fractional remainder, whose carry then
    drops by one (ties: mixture order). So each batch holds ``floor`` or ``ceil`` of its exact share, and
    ``carry`` is the running difference between owed and given rows, which stays within (-1, 1): cumulative
    counts never drift a row from the ideal. A component whose weight is (scheduled to) zero gets nothing
    and forgets its carry.
    """
    # Plain floats: K is a handful of components, and numpy's per-call overhead dominated the loader's plan.
    # The arithmetic is the same IEEE float64 arithmetic numpy does elementwise.
    p_list, c_list = probs.tolist(), np.asarray(carry, dtype=np.float64).tolist()
    counts_l, carry_l = [0] * len(p_list), [0.0] * len(p_list)
    for i, (p, c) in enumerate(zip(p_list, c_list, strict=True)):
        if p > 0:
            target = num_rows * p
            counts_l[i] = math.floor(target)
            carry_l[i] = c + (target - counts_l[i])
    left = num_rows - sum(counts_l)
    active = [i for i, p in enumerate(p_list) if p > 0]
    assert 0 <= left <= len(active), (left, probs)
    for i in sorted(active, key=lambda j: -carry_l[j])[:left]:  # sorted is stable: ties keep mixture order
        counts_l[i] += 1
        carry_l[i] -= 1.0
    return np.array(counts_l, dtype=np.int64), np.array(carry_l, dtype=np.float64)


@numba.njit(cache=True, nogil=True)
def _exact_counts_steps(probs_SK: np.ndarray, num_rows: int, carry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    num_steps, K = probs_SK.shape
    counts_SK = np.zeros((num_steps, K), dtype=np.int64)
    carries_SK = np.zeros((num_steps, K), dtype=np.float64)
    chosen = np.zeros(K, dtype=np.bool_)
    c = carry.copy()
    for s in range(num_steps):
        left = num_rows
        num_active = 0
        for i in range(K):
            p = probs_SK[s, i]
            if p > 0:
                target = num_rows * p
                whole = math.floor(target)
                counts_SK[s, i] = whole
                c[i] = c[i] + (target - whole)
                left -= whole
                num_active += 1
            else:
                c[i] = 0.0
        if left < 0 or left > num_active:
            raise ValueError("exact_counts: row shares do not add up to the batch")
        # The ``left`` active components with the largest carry, ties in mixture order (as a stable sort).
        chosen[:] = False
        for _ in range(left):
            best = -1
            for i in range(K):
                if probs_SK[s, i] > 0 and not chosen[i] and (best < 0 or c[i] > c[best]):
                    best = i
            chosen[best] = True
            counts_SK[s, best] += 1
            c[best] -= 1.0
        carries_SK[s] = c
    return counts_SK, carries_SK


def exact_counts_steps(probs_SK: np.ndarray, num_rows: int, carry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`exact_counts` for consecutive steps (row ``s`` of ``probs_SK`` holds step ``s``'s probabilities):
    the counts ``[S, K]`` and the carry after each step ``[S, K]``, bit-identical to calling it step by step."""
    return _exact_counts_steps(np.ascontiguousarray(probs_SK, dtype=np.float64), int(num_rows),
                               np.ascontiguousarray(carry, dtype=np.float64))


def stochastic_counts(probs: np.ndarray, num_rows: int, seed: int, step: int) -> np.ndarray:
    """Rows per component when each row's component is drawn independently (seeded by ``seed``, ``step``)."""
    rng = numpy_rng(seed, "loader", "mix", step)
    return rng.multinomial(num_rows, probs).astype(np.int64)
