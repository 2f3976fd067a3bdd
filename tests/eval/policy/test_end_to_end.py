"""The tests that need the trained base model (one file, so ``--dist loadfile`` trains it once per run).

Done-when of issue 14 at tiny scale on CPU: a GRPO-trained policy beats random unmasking at equal NFE on a
verifiable task (paired bootstrap interval excluding 0), through the sampler library like any rule, and
the comparison's plot, table and JSON come from one call. Policy training is resumable bit for bit: 2
iterations + stop + resume for 2 more equal 4 straight iterations (metrics and weights); a resume with a
changed setting is refused, naming the field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from trimodal_eval.policy import PolicyModelConfig, PolicyTrainConfig, RewardConfig, train_policy
from trimodal_eval.policy.compare import CompareConfig, run_compare

from .conftest import BASE_TASK


@pytest.mark.slow
def test_policy_beats_random_at_equal_nfe(base_model: Path, tmp_path: Path) -> None:
    config = PolicyTrainConfig(model=base_model, task=BASE_TASK, out_dir=tmp_path / "policy", iterations=30,
                               prompts_per_iteration=8, num_train_examples=200, lr=3e-3, warmup_steps=2,
                               reward=RewardConfig(alpha=0.3), checkpoint_interval=100, progress=False)
    trained = train_policy(config)
    records = [json.loads(line) for line in trained.metrics_path.read_text().splitlines()]
    assert len(records) == 30 and trained.policy_dir is not None
    first, last = records[:5], records[-5:]
    assert sum(r["reward"] for r in last) > sum(r["reward"] for r in first)  # it learned something
    result = run_compare(CompareConfig(model=base_model, policies=(trained.policy_dir,), task=BASE_TASK,
                                       out_dir=tmp_path / "compare", num_examples=120, seeds=(0, 1),
                                       length_multipliers=(1,), block_length=None, thresholds=(0.9,),
                                       step_fractions=(0.4, 1.0), num_bootstrap=500))
    versus = result["versus_random"][0]
    assert versus["random_steps"] >= versus["policy_nfe"]
    assert versus["ci_low"] > 0, versus  # the interval excludes 0
    out = tmp_path / "compare"
    assert (out / "comparison.json").exists() and (out / "report.html").exists()
    png = out / "accuracy_vs_nfe_full_L5.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    html = (out / "report.html").read_text()
    assert "accuracy vs NFE" in html and "random" in html
    methods = {c["method"] for c in result["cells"]}
    assert methods == {"policy", "threshold", "confidence", "margin", "random"}


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
