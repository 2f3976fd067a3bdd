"""Done-when of issue 14 at tiny scale on CPU: a GRPO-trained policy beats random unmasking at equal NFE on a
verifiable task (paired bootstrap interval excluding 0), through the sampler library like any rule, and
the comparison's plot, table and JSON come from one call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trimodal_eval.policy import PolicyTrainConfig, RewardConfig, train_policy
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
