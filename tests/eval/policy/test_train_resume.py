"""Policy training's schedule and config checks (the bit-for-bit resume test is in ``test_end_to_end.py``,
next to the other test that needs the trained base model: one file, one xdist worker, one base model)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from trimodal_eval.policy import PolicyTrainConfig, learning_rate


def test_learning_rate_schedule() -> None:
    config = PolicyTrainConfig(model=Path("unused"), iterations=10, warmup_steps=4, lr=1.0)
    values = [learning_rate(k, config) for k in range(20)]
    assert values[:4] == [0.25, 0.5, 0.75, 1.0]
    assert values[4] == 1.0 and 0 < values[-1] < 0.01
    assert learning_rate(20, config) == pytest.approx(0.0, abs=1e-12)  # cosine reaches the floor at K
    assert all(a >= b for a, b in itertools.pairwise(values[3:]))


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="PolicyTrainConfig.iterations"):
        PolicyTrainConfig(model=Path("m"), iterations=0)
    with pytest.raises(ValueError, match="PolicyTrainConfig.tau"):
        PolicyTrainConfig(model=Path("m"), tau=0.0)
