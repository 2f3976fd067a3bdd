"""GRPO for the unmasking policy: group-relative advantages, clipped per-step ratios, no KL.

``G`` episodes of each prompt form a group; with rewards ``r_g`` of group ``P``::

    A_g = r_g - mean_{h in P} r_h                                  (no division by the std)

Every step ``k`` of episode ``g`` (a state ``s_k`` and its Bernoulli action ``a_k``) has the ratio
``rho_k = exp(log pi_theta(a_k | s_k) - log pi_old(a_k | s_k))`` and the clipped surrogate::

    ell_k = min(rho_k A_g, clip(rho_k, 1 - eps, 1 + eps) A_g)          (eps = 0.5)
    loss  = - mean_g [ (1 / K_g) sum_{k active in g} ell_k ]           (K_g = active steps of episode g)

so each episode weighs the same whatever its length (the loss per time step averaged over a trajectory's
active steps). Each rollout batch is used for ``updates_per_batch = 2`` optimizer steps (``pi_old`` = the
acting parameters); a batch whose advantages are all below ``skip_tolerance`` in magnitude is skipped (no
update: every gradient would be 0). No KL term, no reference model.
"""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass(frozen=True, kw_only=True)
class GRPOConfig:
    """The GRPO objective (defaults: the companion's)."""

    group_size: int = 8
    """Episodes per prompt ``G``."""
    clip: float = 0.5
    """Ratio clip ``eps``."""
    updates_per_batch: int = 2
    """Optimizer steps per rollout batch."""
    skip_tolerance: float = 1e-8
    """Skip a batch whose ``max |A|`` is below this."""

    def __post_init__(self) -> None:
        if self.group_size < 2:
            raise ValueError(f"GRPOConfig.group_size must be >= 2, got {self.group_size!r}")
        if not 0 < self.clip < 1:
            raise ValueError(f"GRPOConfig.clip must be in (0, 1), got {self.clip!r}")
        if self.updates_per_batch < 1:
            raise ValueError(f"GRPOConfig.updates_per_batch must be >= 1, got {self.updates_per_batch!r}")


def group_advantages(reward_B: torch.Tensor, group_B: torch.Tensor) -> torch.Tensor:
    """``r - mean(r over the row's group)`` (float64 ``[B]``; groups are integer labels)."""
    groups = int(group_B.max()) + 1
    total = torch.zeros(groups, dtype=torch.float64).index_add_(0, group_B, reward_B.to(torch.float64))
    ones_B = torch.ones_like(reward_B, dtype=torch.float64)
    count = torch.zeros(groups, dtype=torch.float64).index_add_(0, group_B, ones_B)
    return reward_B.to(torch.float64) - (total / count.clamp_min(1))[group_B]


def should_skip(advantage_B: torch.Tensor, config: GRPOConfig) -> bool:
    return bool(advantage_B.abs().max() < config.skip_tolerance)


def clipped_ratio(new_log_prob_N: torch.Tensor, old_log_prob_N: torch.Tensor, clip: float) -> torch.Tensor:
    """``clip(rho, 1 - eps, 1 + eps)`` with ``rho = exp(new - old)``."""
    return torch.exp(new_log_prob_N - old_log_prob_N).clamp(1 - clip, 1 + clip)


def grpo_loss(new_log_prob_N: torch.Tensor, old_log_prob_N: torch.Tensor, advantage_B: torch.Tensor,
              row_N: torch.Tensor, *, clip: float) -> torch.Tensor:
    """The loss of the module docstring over steps ``N`` belonging to episodes ``row_N`` (``[B]`` advantages)."""
    adv_N = advantage_B.to(new_log_prob_N.dtype)[row_N]
    ratio_N = torch.exp(new_log_prob_N - old_log_prob_N)
    surrogate_N = torch.minimum(ratio_N * adv_N, clipped_ratio(new_log_prob_N, old_log_prob_N, clip) * adv_N)
    b = advantage_B.shape[0]
    per_row = torch.zeros(b, dtype=surrogate_N.dtype).index_add(0, row_N, surrogate_N)
    steps = torch.zeros(b, dtype=surrogate_N.dtype).index_add(0, row_N, torch.ones_like(surrogate_N))
    active = steps > 0
    return -(per_row[active] / steps[active]).sum() / b
