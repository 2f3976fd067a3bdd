"""exact_counts_steps (many steps in one compiled call) equals exact_counts applied step by step, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from trimodal_train.data.config import WeightPoint
from trimodal_train.data.mixing import WeightSchedule, exact_counts, exact_counts_steps


def test_exact_counts_steps_bitwise_equals_step_by_step() -> None:
    rng = np.random.default_rng(11)
    for trial in range(60):
        k = int(rng.integers(1, 6))
        steps = int(rng.integers(1, 70))
        weights = rng.random((steps, k)) * (rng.random((steps, k)) > 0.25)
        weights[weights.sum(1) == 0, 0] = 1.0
        if trial % 4 == 0:
            weights = np.ones((steps, k))  # ties everywhere
        elif trial % 4 == 1:
            weights = np.tile(weights[0], (steps, 1))  # constant weights, as most runs
        probs = weights / weights.sum(1, keepdims=True)
        rows = int(rng.integers(1, 300))
        carry = rng.uniform(-0.9, 0.9, k) if trial % 3 == 0 else np.zeros(k)
        counts, carries = exact_counts_steps(probs, rows, carry)
        assert counts.dtype == np.int64 and counts.shape == (steps, k)
        for s in range(steps):
            want, carry = exact_counts(probs[s], rows, carry)
            assert np.array_equal(counts[s], want), (trial, s)
            assert carries[s].tobytes() == carry.tobytes(), (trial, s)


def test_exact_counts_steps_rejects_probs_not_summing_to_one() -> None:
    with pytest.raises(ValueError, match="do not add up"):
        exact_counts_steps(np.array([[0.9, 0.9]]), 10, np.zeros(2))


def test_row_probs_steps_equals_row_probs() -> None:
    points = (WeightPoint(step=2, weights={"a": 1.0, "b": 0.0}), WeightPoint(step=9, weights={"a": 0.2, "b": 3.0}))
    for schedule in (WeightSchedule(["a", "b"], [1.0, 3.0], [10.0, 40.0]),
                     WeightSchedule(["a", "b"], [1.0, 1.0], None, points)):
        got = schedule.row_probs_steps(0, 14)
        for s in range(14):
            assert got[s].tobytes() == schedule.row_probs(s).tobytes()
