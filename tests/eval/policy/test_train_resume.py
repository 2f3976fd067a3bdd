"""Policy training is resumable bit for bit: 2 iterations + stop + resume for 2 more equal 4 straight
iterations (metrics and weights); a resume with a changed setting is refused, naming the field."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from trimodal_eval.policy import PolicyModelConfig, PolicyTrainConfig, learning_rate, train_policy

from .conftest import BASE_TASK


def _config(base_model: Path, out: Path, **changes: object) -> PolicyTrainConfig:
    return PolicyTrainConfig(model=base_model, task=BASE_TASK, out_dir=out, iterations=4, prompts_per_iteration=4,
                             num_train_examples=50, lr=1e-3, warmup_steps=2, checkpoint_interval=1,
                             policy=PolicyModelConfig(width=32, ffn_hidden=64, time_frequencies=16),
                             progress=False, **changes)  # type: ignore[arg-type]


@pytest.mark.slow
def test_resumed_training_equals_uninterrupted(base_model: Path, tmp_path: Path) -> None:
    straight = train_policy(_config(base_model, tmp_path / "a"))
    first = train_policy(_config(base_model, tmp_path / "b", stop_after=2))
    assert first.policy_dir is None and first.iterations == 2
    resumed = train_policy(_config(base_model, tmp_path / "b"))
    assert resumed.resumed_from == 2
    lines_a = straight.metrics_path.read_text().splitlines()
    lines_b = resumed.metrics_path.read_text().splitlines()
    assert lines_a == lines_b and len(lines_a) == 4
    assert sum(not json.loads(line)["skipped"] for line in lines_a) >= 2  # updates happened
    wa = load_file(str(straight.policy_dir / "policy.safetensors"))
    wb = load_file(str(resumed.policy_dir / "policy.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    with pytest.raises(ValueError, match="lr"):
        train_policy(dataclasses.replace(_config(base_model, tmp_path / "b"), lr=2e-3))


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
