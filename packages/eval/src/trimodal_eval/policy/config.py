"""``PolicyTrainConfig``: one GRPO training run of the unmasking policy (defaults: ``shared/paper.md``).

The companion's settings are the defaults (lr 3e-5 with 100 warmup steps, 8 rollouts of 16 prompts, clip
0.5, two updates per batch, gradient clip 0.2, alpha 0.3, tau 1.0 in full diffusion and 0.5 for blocks of
32); a tiny CPU study needs a larger learning rate and fewer iterations (``pipelines/policy_study.py``
passes them explicitly).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from trimodal_eval.json_values import json_value
from trimodal_eval.policy.grpo import GRPOConfig
from trimodal_eval.policy.model import PolicyModelConfig
from trimodal_eval.policy.reward import RewardConfig
from trimodal_eval.policy.tasks import TaskConfig
from trimodal_eval.sampling import SamplerConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class PolicyTrainConfig:
    """Everything one policy training run needs."""

    model: Path
    """The frozen base model: a run folder or its ``model/`` folder (``trimodal_train.model_export``)."""
    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    """The verifiable task (``tasks.py``); its ``length`` is the generation length ``L``."""
    out_dir: Path = Path("runs/policy")
    """Run folder (config, metrics, checkpoints, exported policy)."""
    policy: PolicyModelConfig = dataclasses.field(default_factory=PolicyModelConfig)
    """Policy network shape."""
    reward: RewardConfig = dataclasses.field(default_factory=RewardConfig)
    """Reward (alpha, form, cost)."""
    grpo: GRPOConfig = dataclasses.field(default_factory=GRPOConfig)
    """GRPO objective (group size, clip, updates per batch)."""
    iterations: int = 200
    """Rollout batches."""
    prompts_per_iteration: int = 16
    """Prompts per rollout batch (each run ``grpo.group_size`` times)."""
    num_train_examples: int = 2000
    """Train-split prompts drawn from."""
    lr: float = 3e-5
    """Peak AdamW learning rate."""
    warmup_steps: int = 100
    """Linear warmup in optimizer steps."""
    min_lr_ratio: float = 0.0
    """Cosine floor as a fraction of ``lr`` [ours]."""
    beta1: float = 0.9
    """AdamW beta1."""
    beta2: float = 0.99
    """AdamW beta2."""
    weight_decay: float = 0.1
    """AdamW (decoupled) weight decay."""
    grad_clip: float = 0.2
    """Gradient-norm clip."""
    tau: float = 1.0
    """Policy temperature ``tau`` (1.0 for full diffusion, 0.5 for blocks of 32 in the companion)."""
    force_one: bool = True
    """In training, unmask the top-logit candidate when the policy selects none, as evaluation does [ours;
    see ``rule.py``]."""
    block_length: int | None = None
    """Semi-autoregressive block length (None: full diffusion)."""
    max_steps: int | None = None
    """Step bound per episode (None: the sampler's ``2 L``; a token is forced at the bound)."""
    checkpoint_interval: int = 50
    """Checkpoint every this many iterations (and at the end)."""
    keep_last: int = 2
    """Checkpoints kept."""
    resume: bool = True
    """Continue from the latest checkpoint in ``out_dir``."""
    stop_after: int | None = None
    """Stop (with a checkpoint) after this many iterations, keeping the schedule of ``iterations``."""
    seed: int = 0
    """Seed of the initialization, the prompt draws and the rollouts."""
    threads: int | None = 1
    """torch CPU threads during the run (None: leave as is)."""
    progress: bool = True
    """Progress bar (also off with ``TRIMODAL_NO_PROGRESS=1``)."""

    def __post_init__(self) -> None:
        for name in ("iterations", "prompts_per_iteration", "num_train_examples", "checkpoint_interval", "keep_last"):
            if getattr(self, name) < 1:
                raise ValueError(f"PolicyTrainConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.prompts_per_iteration > self.num_train_examples:
            raise ValueError("PolicyTrainConfig.prompts_per_iteration exceeds num_train_examples")
        for name in ("lr", "tau", "grad_clip"):
            if not getattr(self, name) > 0:
                raise ValueError(f"PolicyTrainConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if self.warmup_steps < 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError("PolicyTrainConfig.warmup_steps must be >= 0 and min_lr_ratio in [0, 1]")
        for name in ("block_length", "max_steps", "stop_after"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"PolicyTrainConfig.{name} must be >= 1 or None, got {value!r}")

    def sampler_config(self) -> SamplerConfig:
        """The environment: greedy decoding, the run's blocks and step bound."""
        return SamplerConfig(temperature=0.0, block_length=self.block_length, max_steps=self.max_steps,
                             seed=self.seed)

    def to_dict(self) -> dict[str, Any]:
        return json_value(self)
