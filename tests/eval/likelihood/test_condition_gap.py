"""The condition gap: exactly 0 for a model that ignores its condition, positive when it uses it."""

from __future__ import annotations

import numpy as np
import pytest

from trimodal_eval.likelihood import ElboConfig, condition_gap, derangement
from trimodal_train.diffusion import DiffusionConfig


def test_derangement_has_no_fixed_point() -> None:
    for n in (2, 3, 10, 101):
        perm = derangement(n, seed=n)
        assert sorted(perm.tolist()) == list(range(n))
        assert not np.any(perm == np.arange(n))
    with pytest.raises(ValueError):
        derangement(1, seed=0)


def test_a_model_that_ignores_the_condition_has_zero_gap(space, copy_model, t2i_rows) -> None:
    gap = condition_gap(copy_model(False), t2i_rows, "t2i", diffusion=DiffusionConfig(), token_space=space,
                        config=ElboConfig(num_t_samples=4, num_bootstrap=300))
    assert gap.gap.value == pytest.approx(0.0, abs=1e-9)
    assert gap.gap.low <= 0.0 <= gap.gap.high
    assert gap.matched.value == pytest.approx(np.log(24), rel=0.1)


def test_a_model_that_uses_the_condition_has_a_positive_gap(space, copy_model, t2i_rows) -> None:
    gap = condition_gap(copy_model(True), t2i_rows, "t2i", diffusion=DiffusionConfig(), token_space=space,
                        config=ElboConfig(num_t_samples=4, num_bootstrap=300))
    assert gap.gap.low > 0.2, gap
    assert gap.matched.value < gap.shuffled.value
    assert gap.skipped == 0


def test_too_few_rows_is_an_error(space, copy_model, t2i_rows) -> None:
    with pytest.raises(ValueError, match="at least 2 rows"):
        condition_gap(copy_model(True), t2i_rows, "t2s", diffusion=DiffusionConfig(), token_space=space,
                      config=ElboConfig())
