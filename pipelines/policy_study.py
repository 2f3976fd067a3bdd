"""Recipe: the learned-unmasking-policy study in one command (wiring only).

Trains a tiny base model on a verifiable task with the real trainer (``trimodal_eval.policy.base_model``),
trains one GRPO policy per reward exponent alpha (``trimodal_eval.policy.train_policy``, full diffusion at
length ``L``), and runs the comparison (``trimodal_eval.policy.compare``: policies at ``L`` and ``2 L``
against confidence threshold, top-k confidence, margin and random, full diffusion and semi-AR blocks),
writing ``comparison.json``, the ``accuracy_vs_nfe_*.png`` plots and ``report.html`` under ``--out-dir``::

    uv run python -m pipelines.policy_study --out-dir runs/policy_study            # ~10 min on 2 busy cores

The tiny settings below are [ours]: the companion's lr 3e-5 and 100 warmup steps are for an 8B model and
hundreds of iterations; on a 5-letter task a few dozen iterations at 3e-3 suffice.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from trimodal_eval.policy import (
    BaseModelConfig,
    PolicyTrainConfig,
    RewardConfig,
    TaskConfig,
    train_base_model,
    train_policy,
)
from trimodal_eval.policy.compare import CompareConfig, run_compare


@dataclasses.dataclass(frozen=True, kw_only=True)
class PolicyStudyConfig:
    """The study's knobs (defaults: the tiny CPU study)."""

    out_dir: Path = Path("runs/policy_study")
    """Base model in ``base/``, policies in ``policy_a<alpha>/``, comparison in ``compare/``."""
    task: TaskConfig = dataclasses.field(default_factory=lambda: TaskConfig(task="word", length=5, lexicon_size=12))
    """Task and its training length ``L``."""
    base_steps: int = 1200
    """Base-model optimizer steps (it learns ``L`` and ``2 L``)."""
    base_d_model: int = 32
    """Base-model width."""
    alphas: tuple[float, ...] = (1.0, 0.3, 0.1)
    """One policy per reward exponent [ours: at L = 5 a step costs 20% of ``s``, so the companion's
    {10, 3, 1, 0.3, 0} is shifted down; alpha = 1 already collapses to one-step decoding here]."""
    additive_alpha: float | None = 0.3
    """Also train one policy on the additive reward ``1[correct] + s^alpha`` (None: skip), to show its
    collapse to one-step decoding."""
    iterations: int = 40
    """GRPO iterations per policy."""
    prompts_per_iteration: int = 8
    """Prompts per rollout batch (8 rollouts each)."""
    lr: float = 3e-3
    """Policy learning rate [ours for the tiny study]."""
    num_examples: int = 200
    """Test prompts of the comparison."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Comparison seeds."""
    block_length: int = 3
    """Semi-AR block length of the comparison."""
    betas: tuple[float, ...] = (0.5, 1.0, 2.0)
    """Test-time speed knob values (each policy becomes a curve)."""
    seed: int = 0
    """Base-model and policy seed."""


def run(config: PolicyStudyConfig) -> dict:
    base = train_base_model(BaseModelConfig(out_dir=config.out_dir / "base", task=config.task,
                                            length_multipliers=(1, 2), num_examples=2000, steps=config.base_steps,
                                            batch_size=16, seq_len=48, lr=1e-2, d_model=config.base_d_model,
                                            seed=config.seed))
    policies = []
    rewards = [RewardConfig(alpha=a) for a in config.alphas]
    if config.additive_alpha is not None:
        rewards.append(RewardConfig(alpha=config.additive_alpha, form="additive"))
    for reward in rewards:
        name = f"policy_{'additive_' if reward.form == 'additive' else ''}a{reward.alpha:g}"
        trained = train_policy(PolicyTrainConfig(
            model=base, task=config.task, out_dir=config.out_dir / name, iterations=config.iterations,
            prompts_per_iteration=config.prompts_per_iteration, num_train_examples=400, lr=config.lr, warmup_steps=2,
            reward=reward, checkpoint_interval=10, seed=config.seed))
        policies.append(trained.policy_dir)
    result = run_compare(CompareConfig(model=base, policies=tuple(policies), task=config.task,
                                       out_dir=config.out_dir / "compare", num_examples=config.num_examples,
                                       seeds=config.seeds, block_length=config.block_length, betas=config.betas))
    for v in result["versus_random"]:
        print(f"{v['mode']} L={v['length']} {v['label']}: NFE {v['policy_nfe']:.2f} acc {v['policy_accuracy']:.3f}"
              f" | random {v['random_steps']} steps acc {v['random_accuracy']:.3f} | diff {v['difference']:+.3f}"
              f" [{v['ci_low']:+.3f}, {v['ci_high']:+.3f}]")
    print(f"report: {config.out_dir / 'compare' / 'report.html'}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    import tyro

    run(tyro.cli(PolicyStudyConfig, args=list(sys.argv[1:] if argv is None else argv),
                 prog="python -m pipelines.policy_study"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
