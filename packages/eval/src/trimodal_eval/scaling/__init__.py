"""Scaling-law fits, compute-optimal frontiers and sweep collection."""

from trimodal_eval.scaling.collect import RunPoint, collect_run, collect_runs, read_metrics
from trimodal_eval.scaling.fit import (
    ScalingFit,
    ScalingFitConfig,
    ScalingLaw,
    compute_optimal_tokens,
    fit_scaling_law,
    log_compute_optimal_tokens,
)

__all__ = [
    "RunPoint",
    "ScalingFit",
    "ScalingFitConfig",
    "ScalingLaw",
    "collect_run",
    "collect_runs",
    "compute_optimal_tokens",
    "fit_scaling_law",
    "log_compute_optimal_tokens",
    "read_metrics",
]
