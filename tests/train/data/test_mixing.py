"""Exact and stochastic row allocation, and the piecewise-linear weight schedule."""

from __future__ import annotations

import numpy as np
import pytest

from trimodal_train.data.config import WeightPoint
from trimodal_train.data.mixing import WeightSchedule, exact_counts, stochastic_counts


def test_exact_counts_integral_shares_every_batch() -> None:
    carry = np.zeros(3)
    probs = np.array([0.5, 0.25, 0.25])
    for _ in range(20):
        counts, carry = exact_counts(probs, 8, carry)
        assert counts.tolist() == [4, 2, 2]


def test_exact_counts_fractional_shares_carry_remainders() -> None:
    probs = np.array([1 / 3, 1 / 3, 1 / 3])
    carry = np.zeros(3)
    total = np.zeros(3, dtype=np.int64)
    for step in range(1, 31):
        counts, carry = exact_counts(probs, 8, carry)
        assert counts.sum() == 8
        assert set(counts.tolist()) <= {2, 3}
        total += counts
        # Cumulative counts never drift a row from the ideal, and are exact every 3 batches.
        assert np.all(np.abs(total - step * 8 / 3) < 1)
        if step % 3 == 0:
            assert total.tolist() == [step * 8 // 3] * 3


def test_exact_counts_small_share_gets_its_rows_over_time() -> None:
    probs = np.array([0.97, 0.03])
    carry = np.zeros(2)
    got = []
    for _ in range(100):
        counts, carry = exact_counts(probs, 4, carry)
        got.append(int(counts[1]))
    assert sum(got) == 12  # 100 batches * 4 rows * 0.03
    assert max(got) == 1


def test_exact_counts_zero_weight_gets_nothing() -> None:
    counts, carry = exact_counts(np.array([0.55, 0.45]), 4, np.zeros(2))
    assert counts.tolist() == [2, 2] and carry[1] == pytest.approx(-0.2)
    counts, carry = exact_counts(np.array([0.3, 0.7]), 4, carry)  # owed 1.4 and 2.6 -> [1, 3]
    assert counts.tolist() == [1, 3]
    counts, carry = exact_counts(np.array([1.0, 0.0]), 4, np.array([-0.4, 0.6]))
    assert counts.tolist() == [4, 0] and carry.tolist() == pytest.approx([-0.4, 0.0])


def test_exact_counts_quota_and_bounded_drift_random_mixtures() -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(2, 7))
        rows = int(rng.integers(n, 64))
        probs = rng.dirichlet(np.ones(n) * rng.uniform(0.2, 3.0))
        carry, total = np.zeros(n), np.zeros(n)
        for step in range(1, 500):
            counts, carry = exact_counts(probs, rows, carry)
            share = rows * probs
            assert counts.sum() == rows
            assert np.all((counts == np.floor(share)) | (counts == np.ceil(share)))  # quota every batch
            total += counts
            assert np.all(np.abs(total - step * share) < 1)  # no cumulative drift


def test_stochastic_counts_seeded_and_unbiased() -> None:
    probs = np.array([0.7, 0.2, 0.1])
    a = [stochastic_counts(probs, 16, seed=5, step=s).tolist() for s in range(50)]
    b = [stochastic_counts(probs, 16, seed=5, step=s).tolist() for s in range(50)]
    c = [stochastic_counts(probs, 16, seed=6, step=s).tolist() for s in range(50)]
    assert a == b and a != c
    total = np.sum([stochastic_counts(probs, 16, seed=1, step=s) for s in range(2000)], axis=0)
    assert np.allclose(total / total.sum(), probs, atol=0.01)


def test_schedule_interpolates_and_converts_tokens_to_rows() -> None:
    points = (WeightPoint(step=0, weights={"a": 1, "b": 1}), WeightPoint(step=10, weights={"a": 0, "b": 1}))
    schedule = WeightSchedule(["a", "b"], [9.0, 9.0], None, points)
    assert schedule.weights(0).tolist() == [0.5, 0.5]
    assert schedule.weights(5).tolist() == [0.25, 0.75]
    assert schedule.weights(10).tolist() == [0.0, 1.0]
    assert schedule.weights(1000).tolist() == [0.0, 1.0]
    by_tokens = WeightSchedule(["text", "pairs"], [1.0, 1.0], [100.0, 25.0])
    # Equal token shares: a row of pairs holds 4x fewer tokens, so pairs get 4x the rows.
    assert np.allclose(by_tokens.row_probs(0), [0.2, 0.8])


def test_schedule_requires_every_component() -> None:
    with pytest.raises(ValueError, match="missing"):
        WeightSchedule(["a", "b"], [1, 1], None, (WeightPoint(step=0, weights={"a": 1}),))
    with pytest.raises(ValueError, match="weights"):
        WeightPoint(step=0, weights={"a": 0.0})


def _exact_counts_reference(probs: np.ndarray, num_rows: int, carry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The original vectorized numpy formulation (the loader now uses plain floats for speed)."""
    active = probs > 0
    target = num_rows * probs
    counts = np.where(active, np.floor(target), 0).astype(np.int64)
    carry = np.where(active, carry + (target - counts), 0.0)
    left = num_rows - int(counts.sum())
    chosen = np.argsort(-np.where(active, carry, -np.inf), kind="stable")[:left]
    counts[chosen] += 1
    carry[chosen] -= 1.0
    return counts, carry


def test_exact_counts_bitwise_equals_vectorized_reference() -> None:
    rng = np.random.default_rng(5)
    for trial in range(40):
        k = int(rng.integers(1, 6))
        weights = rng.random(k) * (rng.random(k) > 0.2)
        if weights.sum() == 0:
            weights[0] = 1.0
        if trial % 5 == 0:
            weights = np.ones(k)  # ties everywhere
        probs = weights / weights.sum()
        rows = int(rng.integers(1, 300))
        ours = theirs = np.zeros(k)
        for _ in range(60):
            got, ours = exact_counts(probs, rows, ours)
            want, theirs = _exact_counts_reference(probs, rows, theirs)
            assert np.array_equal(got, want) and got.dtype == want.dtype
            assert ours.tobytes() == theirs.tobytes()
