"""The policy's reward: correctness times a speed bonus (arXiv 2512.09106).

With ``L`` the answer length and ``n`` the cost of the episode (``cost = "steps"``: steps taken, the
companion's NFE with one forward per step; ``"nfe"``: the sampler's model calls, which skip steps that
unmask nothing)::

    multiplicative:  r = 1[correct] * s ** alpha                 s = max(0, (L - n + 1) / L)
    additive:        r = 1[correct] + s ** alpha   (shown to collapse to "unmask everything at once":
                                                    the speed term pays even when the answer is wrong)

``s = 1`` at one step, ``1 / L`` at ``L`` steps; ``alpha = 0`` rewards correctness only (``0 ** 0 = 1``),
a large ``alpha`` rewards speed. The clamp at 0 (episodes longer than ``L + 1`` steps, possible when the
policy selects nothing) is [ours]. Default ``alpha = 0.3`` (``shared/paper.md``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch


@dataclasses.dataclass(frozen=True, kw_only=True)
class RewardConfig:
    """How an episode is scored."""

    alpha: float = 0.3
    """Speed exponent (the companion sweeps 10, 3, 1, 0.3, 0)."""
    form: Literal["multiplicative", "additive"] = "multiplicative"
    """``additive`` exists to show its collapse."""
    cost: Literal["steps", "nfe"] = "steps"
    """What ``n`` counts (see the module docstring) [ours: steps, as the companion's forward per step]."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"RewardConfig.alpha must be >= 0, got {self.alpha!r}")
        if self.form not in ("multiplicative", "additive"):
            raise ValueError(f"RewardConfig.form must be multiplicative|additive, got {self.form!r}")
        if self.cost not in ("steps", "nfe"):
            raise ValueError(f"RewardConfig.cost must be steps|nfe, got {self.cost!r}")


def speed(cost_B: torch.Tensor, length_B: torch.Tensor) -> torch.Tensor:
    """``max(0, (L - n + 1) / L)`` (float64)."""
    return ((length_B - cost_B + 1).to(torch.float64) / length_B.to(torch.float64)).clamp_min(0.0)


def reward(correct_B: torch.Tensor, cost_B: torch.Tensor, length_B: torch.Tensor, config: RewardConfig) -> torch.Tensor:
    """Per-episode reward (float64 ``[B]``)."""
    bonus_B = speed(cost_B, length_B) ** config.alpha
    if config.alpha == 0:
        bonus_B = torch.ones_like(bonus_B)
    hit_B = correct_B.to(torch.float64)
    return hit_B * bonus_B if config.form == "multiplicative" else hit_B + bonus_B
