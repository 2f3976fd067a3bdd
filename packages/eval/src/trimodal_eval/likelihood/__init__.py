"""Likelihood evaluation: Monte Carlo ELBO per modality and the condition gap, on held-out rows."""

from trimodal_eval.likelihood.condition_gap import ConditionGap, condition_gap, derangement
from trimodal_eval.likelihood.elbo import ElboConfig, Estimate, RowSums, modality_estimates, ratio_estimate, row_sums
from trimodal_eval.likelihood.rows import EvalRows, Example, build_rows, read_examples

__all__ = [
    "ConditionGap",
    "ElboConfig",
    "Estimate",
    "EvalRows",
    "Example",
    "RowSums",
    "build_rows",
    "condition_gap",
    "derangement",
    "modality_estimates",
    "ratio_estimate",
    "read_examples",
    "row_sums",
]
