"""The scaling-law fit recovers known coefficients; intervals cover them; bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from trimodal_eval.scaling import (
    ScalingFitConfig,
    ScalingLaw,
    compute_optimal_tokens,
    fit_scaling_law,
    log_compute_optimal_tokens,
)

TRUE = ScalingLaw(E=1.7, A=400.0, alpha=0.34, B=410.0, beta=0.28)


def _grid(noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = np.repeat([1e6, 3e6, 1e7, 3e7, 1e8], 4)
    d = np.tile([1e8, 3e8, 1e9, 3e9], 5)
    loss = TRUE.predict(n, d) * np.exp(np.random.default_rng(seed).normal(0, noise, n.size))
    return n, d, loss


def test_noise_free_points_recover_the_law() -> None:
    fit = fit_scaling_law(*_grid(0.0), ScalingFitConfig(num_bootstrap=0))
    for name, value in TRUE.as_dict().items():
        assert fit.law.as_dict()[name] == pytest.approx(value, rel=0.02), name
    assert fit.rmse_log < 1e-4


def test_noisy_points_give_intervals_that_cover_the_truth() -> None:
    fit = fit_scaling_law(*_grid(0.003), ScalingFitConfig(num_bootstrap=30, seed=1))
    assert set(fit.intervals) == {"E", "A", "alpha", "B", "beta"}
    for name in ("alpha", "beta", "E"):
        lo, hi = fit.intervals[name]
        assert lo <= TRUE.as_dict()[name] <= hi, (name, lo, hi)
    assert fit.law.alpha == pytest.approx(TRUE.alpha, rel=0.15)
    assert fit.law.beta == pytest.approx(TRUE.beta, rel=0.15)


def test_compute_optimal_tokens_minimizes_loss_at_fixed_compute() -> None:
    n_opt = 3e7
    d_opt = float(compute_optimal_tokens(TRUE, n_opt))
    budget = n_opt * d_opt
    sizes = n_opt * np.geomspace(0.2, 5.0, 101)
    losses = TRUE.predict(sizes, budget / sizes)
    assert sizes[np.argmin(losses)] == pytest.approx(n_opt, rel=0.04)


def test_degenerate_refit_gives_inf_not_overflow_and_a_finite_log() -> None:
    """A bootstrap refit with a near-zero beta puts D* beyond 1e308: inf (no OverflowError), the log finite."""
    law = ScalingLaw(E=1.0, A=1.0, alpha=0.5, B=50.0, beta=1e-3)
    log_d = log_compute_optimal_tokens(law, np.array([1e5, 1e6]))
    expected = (np.log(law.beta * law.B) - np.log(law.alpha * law.A)) / law.beta + law.alpha / law.beta * np.log(
        [1e5, 1e6])
    np.testing.assert_allclose(log_d, expected)
    assert np.isfinite(log_d).all() and (log_d > 710).all()
    assert np.isinf(compute_optimal_tokens(law, np.array([1e5, 1e6]))).all()
    assert float(log_compute_optimal_tokens(ScalingLaw(E=1.0, A=0.0, alpha=0.5, B=1.0, beta=0.3), 1e6)) == np.inf
    assert float(np.log(compute_optimal_tokens(TRUE, 3e7))) == pytest.approx(
        float(log_compute_optimal_tokens(TRUE, 3e7)))


@pytest.mark.parametrize(
    ("n", "d", "loss", "message"),
    [
        ([1e6] * 6, [1e8, 2e8, 3e8, 4e8, 5e8, 6e8], [3.0] * 6, "two distinct model sizes"),
        ([1e6, 2e6, 3e6], [1e8, 2e8, 3e8], [3.0, 2.9, 2.8], "at least 5 runs"),
        ([1e6, 2e6, 3e6, 4e6, 5e6], [1e8, 2e8, 3e8, 4e8, 5e8], [3.0, 2.9, float("nan"), 2.7, 2.6], "loss must"),
        ([1e6, 2e6, 3e6, 4e6, 5e6], [1e8, 2e8, 3e8, 4e8], [3.0, 2.9, 2.8, 2.7, 2.6], "equal length"),
    ],
)
def test_bad_points_are_refused(n: list[float], d: list[float], loss: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_scaling_law(n, d, loss)
