"""Fit the scaling law ``L(N, D) = E + A * N**-alpha + B * D**-beta`` with bootstrap intervals.

``N`` is the model size (non-embedding parameters by default; the caller chooses), ``D`` the training tokens
and ``L`` a per-token loss (validation NELBO per token, one fit per modality). The paper studied scaling but
its functional form is not known to us; this form (Chinchilla's "approach 3") is our choice [ours].

Fitting follows Hoffmann et al.: parameters in log space (``E = exp(e)``, ``A = exp(a)``, ``B = exp(b)``),
a Huber loss (``delta`` configurable) on ``log L_pred - log L``, minimized with scipy's trust-region
``least_squares``. Starting points come from variable projection (for fixed exponents the law is linear in
``E, A, B``: non-negative least squares on a grid of exponents); the best of a few starts wins.
Intervals come from a nonparametric bootstrap over the runs (resampled with replacement, refitted, percentiles).

Compute-optimal allocation (:func:`compute_optimal_tokens`): minimizing ``L`` at fixed ``N * D`` gives
``alpha * A * N**-alpha = beta * B * D**-beta``, so ``D*(N) = (beta * B / (alpha * A)) ** (1 / beta) *
N ** (alpha / beta)``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence

import numpy as np

PARAMETER_NAMES = ("E", "A", "alpha", "B", "beta")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScalingFitConfig:
    """How :func:`fit_scaling_law` fits and bootstraps."""

    huber_delta: float = 1e-3
    """Huber threshold on log-residuals (Hoffmann et al. use 1e-3)."""
    num_bootstrap: int = 200
    """Bootstrap refits for the intervals (0: no intervals)."""
    confidence: float = 0.95
    """Coverage of the percentile intervals."""
    seed: int = 0
    """Seed of the bootstrap resampling."""
    exponent_bounds: tuple[float, float] = (0.0, 2.5)
    """Bounds on alpha and beta during the fit."""

    def __post_init__(self) -> None:
        if not self.huber_delta > 0:
            raise ValueError(f"ScalingFitConfig.huber_delta must be positive, got {self.huber_delta!r}")
        if self.num_bootstrap < 0:
            raise ValueError(f"ScalingFitConfig.num_bootstrap must be >= 0, got {self.num_bootstrap!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"ScalingFitConfig.confidence must be in (0, 1), got {self.confidence!r}")
        lo, hi = self.exponent_bounds
        if not 0 <= lo < hi:
            raise ValueError(f"ScalingFitConfig.exponent_bounds must satisfy 0 <= lo < hi, got {self.exponent_bounds}")


@dataclasses.dataclass(frozen=True)
class ScalingLaw:
    """``L(N, D) = E + A N^-alpha + B D^-beta``."""

    E: float
    A: float
    alpha: float
    B: float
    beta: float

    def predict(self, n: np.ndarray | float, d: np.ndarray | float) -> np.ndarray:
        n_arr, d_arr = np.asarray(n, dtype=np.float64), np.asarray(d, dtype=np.float64)
        return self.E + self.A * n_arr ** -self.alpha + self.B * d_arr ** -self.beta

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in PARAMETER_NAMES}


@dataclasses.dataclass(frozen=True)
class ScalingFit:
    """A fitted law, its residual, and bootstrap intervals per parameter."""

    law: ScalingLaw
    num_points: int
    rmse_log: float
    """Root mean square of ``log L_pred - log L`` over the fitted points."""
    intervals: dict[str, tuple[float, float]]
    """Percentile interval per parameter name (empty without bootstrap)."""
    bootstrap: tuple[ScalingLaw, ...]
    """The bootstrap refits (for intervals of derived quantities such as ``D*(N)``)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "law": self.law.as_dict(),
            "num_points": self.num_points,
            "rmse_log": self.rmse_log,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
        }


def _log_residuals(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray, log_l: np.ndarray) -> np.ndarray:
    e, a, alpha, b, beta = theta
    # log-sum-exp of the three terms: stable for any magnitude of the fitted constants.
    terms = np.stack([np.full_like(log_n, e), a - alpha * log_n, b - beta * log_d])
    peak = terms.max(axis=0)
    return peak + np.log(np.exp(terms - peak).sum(axis=0)) - log_l


def _starts(n: np.ndarray, d: np.ndarray, loss: np.ndarray, config: ScalingFitConfig, keep: int) -> list[np.ndarray]:
    """Starting points by variable projection: for each (alpha, beta) on a grid, ``L`` is linear in
    ``(E, A, B)``, solved by non-negative least squares; the ``keep`` best grid points start the fit."""
    from scipy.optimize import nnls

    lo, hi = config.exponent_bounds
    grid = np.linspace(max(lo, 0.05), min(hi, 1.5), 12)
    scored = []
    for alpha, beta in itertools.product(grid, grid):
        design = np.stack([np.ones_like(n), n**-alpha, d**-beta], axis=1) / loss[:, None]
        coef, _ = nnls(design, np.ones_like(loss))
        coef = np.maximum(coef, 1e-12)
        theta = np.array([math.log(coef[0]), math.log(coef[1]), alpha, math.log(coef[2]), beta])
        resid = _log_residuals(theta, np.log(n), np.log(d), np.log(loss))
        scored.append((float(np.sum(resid**2)), theta))
    scored.sort(key=lambda item: item[0])
    return [theta for _, theta in scored[:keep]]


def _fit_once(
    n: np.ndarray, d: np.ndarray, loss: np.ndarray, config: ScalingFitConfig, starts: Sequence[np.ndarray]
) -> ScalingLaw:
    from scipy.optimize import least_squares

    log_n, log_d, log_l = np.log(n), np.log(d), np.log(loss)
    lo, hi = config.exponent_bounds
    lower = np.array([-np.inf, -np.inf, lo, -np.inf, lo])
    upper = np.array([np.inf, np.inf, hi, np.inf, hi])
    best = None
    for start in starts:
        result = least_squares(
            _log_residuals, np.clip(start, lower + 1e-9, upper - 1e-9), args=(log_n, log_d, log_l),
            bounds=(lower, upper), loss="huber", f_scale=config.huber_delta,
        )
        if best is None or result.cost < best.cost:
            best = result
    assert best is not None
    e, a, alpha, b, beta = best.x
    return ScalingLaw(E=math.exp(e), A=math.exp(a), alpha=float(alpha), B=math.exp(b), beta=float(beta))


def _check_points(n: Sequence[float], d: Sequence[float], loss: Sequence[float]) -> tuple[np.ndarray, ...]:
    arrays = tuple(np.asarray(x, dtype=np.float64) for x in (n, d, loss))
    if not (arrays[0].shape == arrays[1].shape == arrays[2].shape) or arrays[0].ndim != 1:
        raise ValueError(f"n, d and loss must be 1-D of equal length, got shapes {[a.shape for a in arrays]}")
    for name, values in zip(("n", "d", "loss"), arrays, strict=True):
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise ValueError(f"{name} must be finite and positive for a scaling fit, got {values.tolist()}")
    if arrays[0].size < len(PARAMETER_NAMES):
        raise ValueError(f"a scaling fit needs at least {len(PARAMETER_NAMES)} runs, got {arrays[0].size}")
    if np.unique(arrays[0]).size < 2 or np.unique(arrays[1]).size < 2:
        raise ValueError("a scaling fit needs at least two distinct model sizes and two distinct token horizons")
    return arrays


def fit_scaling_law(
    n: Sequence[float], d: Sequence[float], loss: Sequence[float], config: ScalingFitConfig | None = None
) -> ScalingFit:
    """Fit ``L(N, D)`` to runs of size ``n`` trained on ``d`` tokens reaching ``loss``."""
    config = config or ScalingFitConfig()
    n_arr, d_arr, l_arr = _check_points(n, d, loss)
    law = _fit_once(n_arr, d_arr, l_arr, config, _starts(n_arr, d_arr, l_arr, config, keep=4))
    full_theta = np.array([math.log(law.E), math.log(law.A), law.alpha, math.log(law.B), law.beta])
    rmse = float(np.sqrt(np.mean((np.log(law.predict(n_arr, d_arr)) - np.log(l_arr)) ** 2)))
    rng = np.random.default_rng(config.seed)
    refits: list[ScalingLaw] = []
    for _ in range(config.num_bootstrap):
        idx = rng.integers(0, n_arr.size, n_arr.size)
        if np.unique(n_arr[idx]).size < 2 or np.unique(d_arr[idx]).size < 2:
            continue  # a degenerate resample cannot identify both exponents
        starts = [full_theta, *_starts(n_arr[idx], d_arr[idx], l_arr[idx], config, keep=1)]
        refits.append(_fit_once(n_arr[idx], d_arr[idx], l_arr[idx], config, starts))
    intervals: dict[str, tuple[float, float]] = {}
    if refits:
        tail = (1 - config.confidence) / 2 * 100
        for name in PARAMETER_NAMES:
            values = np.array([getattr(r, name) for r in refits])
            intervals[name] = (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))
    return ScalingFit(law=law, num_points=int(n_arr.size), rmse_log=rmse, intervals=intervals,
                      bootstrap=tuple(refits))


def log_compute_optimal_tokens(law: ScalingLaw, n: np.ndarray | float) -> np.ndarray:
    """``ln D*(N) = ln(beta B / (alpha A)) / beta + (alpha / beta) ln N``, in log space so a degenerate refit
    (a near-zero ``beta``) gives a finite log, or ``+inf`` (``A = 0``: no ``N`` term) / ``-inf`` (``B = 0``)."""
    if law.alpha <= 0 or law.beta <= 0:
        raise ValueError(f"compute-optimal tokens need positive exponents, got alpha={law.alpha}, beta={law.beta}")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_k = (np.log(law.beta * law.B) - np.log(law.alpha * law.A)) / law.beta
        return log_k + law.alpha / law.beta * np.log(np.asarray(n, dtype=np.float64))


def compute_optimal_tokens(law: ScalingLaw, n: np.ndarray | float) -> np.ndarray:
    """``D*(N)``: the token horizon that minimizes ``L`` at fixed ``N * D`` (see the module docstring);
    ``inf`` where it exceeds the float range (never an ``OverflowError``)."""
    log_d = log_compute_optimal_tokens(law, n)
    with np.errstate(over="ignore"):
        return np.exp(log_d)
